//! The instants Switchboard accepts from users and shows: years 1970 to 9999, the span
//! RFC 3339 date-times with four-digit years cover. Times outside it (chrono reaches year
//! ±262,142) are refused at the edge, so arithmetic near chrono's limits cannot overflow
//! and every date-time the API emits has the documented format.

use chrono::{DateTime, Utc};

/// The earliest instant accepted: 1970-01-01T00:00:00Z.
pub const EARLIEST: DateTime<Utc> = DateTime::UNIX_EPOCH;

/// The latest instant accepted: 9999-12-31T23:59:59.999999999Z.
pub const LATEST: DateTime<Utc> = match DateTime::from_timestamp(253_402_300_799, 999_999_999) {
    Some(t) => t,
    None => DateTime::UNIX_EPOCH,
};

/// An instant outside [`EARLIEST`]..=[`LATEST`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z")]
pub struct OutOfRange;

/// `at`, if within [`EARLIEST`]..=[`LATEST`].
pub fn check(at: DateTime<Utc>) -> Result<DateTime<Utc>, OutOfRange> {
    if (EARLIEST..=LATEST).contains(&at) { Ok(at) } else { Err(OutOfRange) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_four_digit_years_from_the_epoch() {
        assert_eq!(LATEST.to_rfc3339(), "9999-12-31T23:59:59.999999999+00:00");
        assert!(check(EARLIEST).is_ok());
        assert!(check(LATEST).is_ok());
        assert_eq!(check(DateTime::<Utc>::MAX_UTC), Err(OutOfRange));
        assert_eq!(check(DateTime::<Utc>::MIN_UTC), Err(OutOfRange));
        assert_eq!(check(EARLIEST - chrono::TimeDelta::seconds(1)), Err(OutOfRange));
    }
}
