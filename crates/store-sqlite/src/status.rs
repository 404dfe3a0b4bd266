//! Folding status reports into an outbound message, forward only.
//!
//! (The PostgreSQL backend carries the same fold; the rule itself is
//! `DeliveryState::advances_to` in the domain crate.)

use chrono::{DateTime, Utc};
use switchboard_domain::{DeliveryState, StatusError};

/// A message's delivery columns, before and after applying reports.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Delivery {
    pub state: DeliveryState,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    /// Set when a failure moved the message to `failed`: Meta's first error.
    pub error: Option<StatusError>,
}

impl Delivery {
    /// Applies one report: its own timestamp column is filled if empty (`played` counts
    /// as read), and the state moves only if `advances_to` says so. Returns whether the
    /// state moved.
    pub(crate) fn apply(&mut self, state: DeliveryState, at: DateTime<Utc>, errors: &[StatusError]) -> bool {
        let slot = match state {
            DeliveryState::Sent => &mut self.sent_at,
            DeliveryState::Delivered => &mut self.delivered_at,
            DeliveryState::Read | DeliveryState::Played => &mut self.read_at,
            DeliveryState::Failed => &mut self.failed_at,
            DeliveryState::Received | DeliveryState::Queued => return false,
        };
        if slot.is_none() {
            *slot = Some(at);
        }
        if !self.state.advances_to(state) {
            return false;
        }
        self.state = state;
        if state == DeliveryState::Failed {
            self.error = errors.first().cloned();
        }
        true
    }
}

/// The order in which reports with the same timestamp are applied: along the ladder,
/// with a failure last (a message the customer has is not failed).
pub(crate) const fn ladder(state: DeliveryState) -> u8 {
    match state {
        DeliveryState::Received | DeliveryState::Queued => 0,
        DeliveryState::Sent => 1,
        DeliveryState::Delivered => 2,
        DeliveryState::Read => 3,
        DeliveryState::Played => 4,
        DeliveryState::Failed => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeliveryState::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).single().expect("valid")
    }

    fn fresh(state: DeliveryState) -> Delivery {
        Delivery { state, sent_at: None, delivered_at: None, read_at: None, failed_at: None, error: None }
    }

    #[test]
    fn a_stale_report_fills_its_timestamp_but_keeps_the_state() {
        let mut d = fresh(Read);
        assert!(!d.apply(Delivered, t(5), &[]));
        assert_eq!((d.state, d.delivered_at), (Read, Some(t(5))));
        assert!(!d.apply(Delivered, t(9), &[]));
        assert_eq!(d.delivered_at, Some(t(5)));
    }

    #[test]
    fn played_fills_read_at_and_failure_keeps_the_first_error() {
        let mut d = fresh(Sent);
        assert!(d.apply(Played, t(3), &[]));
        assert_eq!((d.state, d.read_at), (Played, Some(t(3))));

        let mut d = fresh(Sent);
        let e = |c| StatusError { code: c, title: "x".into(), details: None, href: None };
        assert!(d.apply(Failed, t(4), &[e(131_047), e(1)]));
        assert_eq!(d.error.map(|e| e.code), Some(131_047));
    }
}
