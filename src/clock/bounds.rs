//! The world's calendar has edges: every instant stays within the years 2000–2999 and every
//! duration within ten years, so that adding any accepted duration to any accepted instant
//! can never overflow, and every value from outside is checked against these bounds where it
//! comes in.

use super::{format_duration, ClockError, Instant};
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Earliest instant the world clock may show: 2000-01-01T00:00:00Z. The wire formats
/// sandbank speaks print four-digit years (`time_end` is `yyyyMMddHHmmss`), and no
/// settlement system under test has business before 2000.
pub const MIN_INSTANT_SECS: i64 = 946_684_800;

/// Latest instant the world clock may show: 2999-12-31T23:59:59Z. Four-digit years on the
/// wire, and far enough inside chrono's range (year 262 143) that the instant plus any
/// [`MAX_DURATION_DAYS`] still fits: adding a bounded duration to a bounded instant cannot overflow.
pub const MAX_INSTANT_SECS: i64 = 32_503_679_999;

/// Longest duration sandbank reads anywhere (fault delays, settlement delays, mismatch
/// delays, clock advances): 3,660 days, ten years. Longer than any settlement cycle, retry
/// ladder or test horizon, and small enough that [`MAX_INSTANT_SECS`] plus it stays a
/// four-digit-year date chrono can represent.
pub const MAX_DURATION_DAYS: i64 = 3_660;

/// [`MIN_INSTANT_SECS`] as an instant.
pub fn min_instant() -> Instant {
    DateTime::from_timestamp(MIN_INSTANT_SECS, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// [`MAX_INSTANT_SECS`] as an instant.
pub fn max_instant() -> Instant {
    DateTime::from_timestamp(MAX_INSTANT_SECS, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// [`MAX_DURATION_DAYS`] as a duration.
pub fn max_duration() -> Duration {
    Duration::days(MAX_DURATION_DAYS)
}

/// `t` if it lies within [`min_instant`]`..=`[`max_instant`], the range the world clock
/// may show.
pub fn check_instant(t: Instant) -> Result<Instant, ClockError> {
    if t < min_instant() || t > max_instant() {
        Err(ClockError::OutOfRange { to: t.to_rfc3339() })
    } else {
        Ok(t)
    }
}

/// `day` if it lies within the years of [`min_instant`] and [`max_instant`].
pub fn check_date(day: NaiveDate) -> Result<NaiveDate, ClockError> {
    let (min, max) = (min_instant().date_naive(), max_instant().date_naive());
    if day < min || day > max {
        Err(ClockError::OutOfRange {
            to: day.to_string(),
        })
    } else {
        Ok(day)
    }
}

/// `t + d`, never panicking: an error when the sum leaves chrono's range. (Instants on the
/// world clock are bounded and durations read from input too, so this fails only on a bug;
/// it is checked so that a bug is an error, not a dead task.)
pub fn checked_add(t: Instant, d: Duration) -> Result<Instant, ClockError> {
    t.checked_add_signed(d)
        .ok_or_else(|| ClockError::OutOfRange {
            to: format!("{} + {}", t.to_rfc3339(), format_duration(d)),
        })
}
