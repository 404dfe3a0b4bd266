//! The customer-service window: free-form messages are allowed only within 24 hours of
//! the customer's last message (72 hours after a Click-to-WhatsApp ad: a free entry point).

use chrono::{DateTime, Duration, Utc};

pub const SERVICE_WINDOW: Duration = Duration::hours(24);
pub const FREE_ENTRY_POINT_WINDOW: Duration = Duration::hours(72);

/// When the window opened by a customer message at `last_inbound` closes.
#[must_use]
pub fn closes_at(last_inbound: DateTime<Utc>, from_ad: bool) -> DateTime<Utc> {
    last_inbound + if from_ad { FREE_ENTRY_POINT_WINDOW } else { SERVICE_WINDOW }
}

/// Whether a window closing at `closes_at` is still open at `now`.
#[must_use]
pub fn is_open(closes_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    closes_at.is_some_and(|c| now < c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn window_is_24_hours_or_72_after_an_ad() {
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).single().expect("valid");
        assert_eq!(closes_at(t, false), t + Duration::hours(24));
        assert_eq!(closes_at(t, true), t + Duration::hours(72));
        assert!(is_open(Some(closes_at(t, false)), t + Duration::hours(23)));
        assert!(!is_open(Some(closes_at(t, false)), t + Duration::hours(24)));
        assert!(!is_open(None, t));
    }
}
