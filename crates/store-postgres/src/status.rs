//! Folding status reports into an outbound message, forward only.
//!
//! The fold itself is `switchboard_domain::Delivery`; this module spells it out for SQL.

use chrono::{DateTime, Utc};
use switchboard_domain::{Delivery, DeliveryState};

/// Every delivery state, to spell `advances_to` out for SQL.
pub(crate) const ALL_STATES: [DeliveryState; 7] = [
    DeliveryState::Received,
    DeliveryState::Queued,
    DeliveryState::Sent,
    DeliveryState::Delivered,
    DeliveryState::Read,
    DeliveryState::Played,
    DeliveryState::Failed,
];

/// The states a message can be in for a report of `next` to move it.
pub(crate) fn advancing_from(next: DeliveryState) -> Vec<&'static str> {
    ALL_STATES.iter().filter(|s| s.advances_to(next)).map(|s| s.as_str()).collect()
}

/// The timestamp columns (sent, delivered, read, failed) a report of `state` at `at`
/// fills when they are empty.
pub(crate) fn stamps(state: DeliveryState, at: DateTime<Utc>) -> [Option<DateTime<Utc>>; 4] {
    let mut d = Delivery {
        state: DeliveryState::Failed,
        sent_at: None,
        delivered_at: None,
        read_at: None,
        failed_at: None,
        error: None,
    };
    d.apply(state, at, &[]);
    [d.sent_at, d.delivered_at, d.read_at, d.failed_at]
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeliveryState::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).single().expect("valid")
    }

    #[test]
    fn the_sql_spelling_matches_the_domain_rule() {
        assert_eq!(advancing_from(Sent), vec!["received", "queued"]);
        assert_eq!(advancing_from(Failed), vec!["queued", "sent"]);
        assert_eq!(stamps(Played, t(1)), [None, None, Some(t(1)), None]);
    }
}
