//! The world clock: virtual time, and the timers that fire on it.
//!
//! Two modes. **Real** follows the wall clock plus an offset (advancing adds to the offset).
//! **Manual** stands still until told to move. In both, [`Timers`] holds scheduled work
//! (notification attempts, payouts settling, …) ordered by due time and then by the order it
//! was scheduled, so that two timers due at the same instant always fire in the same order:
//! that tie-break is what makes a run reproducible.
//!
//! The clock itself never sleeps; the world's driver (see `world.rs`) decides when to fire.

mod bounds;
mod day;
mod words;

pub use bounds::*;
pub use day::*;
pub use words::*;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// An instant on the world clock.
pub type Instant = DateTime<Utc>;

/// The time zone the Chinese channels cut their business day in.
pub const SHANGHAI: Tz = chrono_tz::Asia::Shanghai;
/// How the clock moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    /// Wall-clock time plus an offset.
    Real,
    /// Moves only when told to.
    Manual,
}

/// Virtual time.
#[derive(Debug, Clone)]
pub struct Clock {
    /// How the clock moves.
    mode: ClockMode,
    /// Manual mode: the current instant. Real mode: unused.
    manual_now: Instant,
    /// Real mode: what is added to the wall clock. Grows when the clock is advanced.
    offset: Duration,
}

impl Clock {
    /// A manual clock standing at `start`.
    pub fn manual(start: Instant) -> Clock {
        Clock {
            mode: ClockMode::Manual,
            manual_now: start,
            offset: Duration::zero(),
        }
    }

    /// A real clock; `start`, if given, sets the offset so that now is `start`.
    pub fn real(start: Option<Instant>) -> Clock {
        let offset = start.map(|s| s - Utc::now()).unwrap_or_else(Duration::zero);
        Clock {
            mode: ClockMode::Real,
            manual_now: Utc::now(),
            offset,
        }
    }

    /// The mode.
    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    /// The current instant.
    pub fn now(&self) -> Instant {
        match self.mode {
            ClockMode::Manual => self.manual_now,
            ClockMode::Real => Utc::now() + self.offset,
        }
    }

    /// Move the clock to `to`. Time never goes backwards: an earlier instant is refused,
    /// because timers already fired cannot be un-fired.
    pub fn move_to(&mut self, to: Instant) -> Result<(), ClockError> {
        let now = self.now();
        if to < now {
            return Err(ClockError::Backwards { now, to });
        }
        check_instant(to)?;
        match self.mode {
            ClockMode::Manual => self.manual_now = to,
            ClockMode::Real => {
                self.offset =
                    self.offset
                        .checked_add(&(to - now))
                        .ok_or(ClockError::OutOfRange {
                            to: to.to_rfc3339(),
                        })?
            }
        }
        Ok(())
    }
}

/// Why the clock refused to move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// The target is in the past.
    #[error("the clock cannot go backwards (now {now}, asked for {to})")]
    Backwards {
        /// The clock's current instant.
        now: Instant,
        /// The requested instant.
        to: Instant,
    },
    /// The target lies outside the range the world clock may show.
    #[error("{to} is outside the world clock's range (2000-01-01 to 2999-12-31 UTC)")]
    OutOfRange {
        /// The requested instant, as text (it may not be representable).
        to: String,
    },
    /// The timer driver has ended (a bug); a reset starts it again.
    #[error("the timer driver has stopped; POST /_sandbank/reset restarts it")]
    DriverStopped,
    /// The world is shutting down: nothing fires any more.
    #[error("the world is shutting down; the clock no longer moves")]
    Stopped,
}

/// One scheduled piece of work.
#[derive(Debug)]
struct Timer<E> {
    due: Instant,
    /// Scheduling order; the tie-break between timers due at the same instant.
    seq: u64,
    event: E,
}

impl<E> PartialEq for Timer<E> {
    fn eq(&self, other: &Self) -> bool {
        self.due == other.due && self.seq == other.seq
    }
}
impl<E> Eq for Timer<E> {}
impl<E> PartialOrd for Timer<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Timer<E> {
    /// Reversed so that `BinaryHeap` (a max-heap) pops the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// Scheduled work, fired in (due time, scheduling order).
#[derive(Debug)]
pub struct Timers<E> {
    heap: BinaryHeap<Timer<E>>,
    next_seq: u64,
}

impl<E> Default for Timers<E> {
    fn default() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<E> Timers<E> {
    /// Schedule `event` at `due`.
    pub fn schedule(&mut self, due: Instant, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Timer { due, seq, event });
    }

    /// The earliest due time, if any.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|t| t.due)
    }

    /// Pop the earliest timer if it is due at or before `limit`.
    pub fn pop_due(&mut self, limit: Instant) -> Option<(Instant, E)> {
        if self.heap.peek()?.due <= limit {
            self.heap.pop().map(|t| (t.due, t.event))
        } else {
            None
        }
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not written as a duration.
    #[error("`{0}` is not a duration (write e.g. `250ms`, `15s`, `3m`, `2h`, `1d`, `1h30m`)")]
    Syntax(String),
    /// Longer than [`MAX_DURATION_DAYS`].
    #[error("`{0}` is longer than the maximum of {MAX_DURATION_DAYS}d")]
    TooLong(String),
}

/// Parse `250ms`, `15s`, `3m`, `2h`, `1d` or a concatenation such as `1h30m`, at most
/// [`MAX_DURATION_DAYS`] long.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let d = parse_unbounded(text)?;
    if d > max_duration() {
        return Err(DurationError::TooLong(text.trim().to_string()));
    }
    Ok(d)
}

fn parse_unbounded(text: &str) -> Result<Duration, DurationError> {
    let err = || DurationError::Syntax(text.to_string());
    let s = text.trim();
    if s.is_empty() {
        return Err(err());
    }
    let mut total = Duration::zero();
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(err());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::try_milliseconds(n),
            "s" => Duration::try_seconds(n),
            "m" => Duration::try_minutes(n),
            "h" => Duration::try_hours(n),
            "d" => Duration::try_days(n),
            _ => None,
        }
        .ok_or_else(err)?;
        total = total.checked_add(&part).ok_or_else(err)?;
    }
    Ok(total)
}

/// Render a duration the way [`parse_duration`] reads it, e.g. `3h` or `1m30s`.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.num_milliseconds();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
        ms = -ms;
    }
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{}", ms / size, unit));
            ms %= size;
        }
    }
    out
}

/// Read an instant written as RFC 3339 (`2026-03-02T10:00:00+08:00`) or as a local
/// `YYYY-MM-DD HH:MM[:SS]` in `tz`.
pub fn parse_instant(text: &str, tz: Tz) -> Option<Instant> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text.trim(), fmt) {
            return tz
                .from_local_datetime(&naive)
                .single()
                .map(|t| t.with_timezone(&Utc));
        }
    }
    None
}

/// Serialize a duration as [`format_duration`] text (`30s`), for JSON views of the world.
pub fn serialize_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(s: &str) -> Instant {
        parse_instant(s, SHANGHAI).unwrap()
    }

    #[test]
    fn timers_fire_in_due_then_schedule_order() {
        let mut t = Timers::default();
        let base = at("2026-03-02 10:00");
        t.schedule(base + Duration::seconds(30), "c");
        t.schedule(base + Duration::seconds(15), "a");
        t.schedule(base + Duration::seconds(15), "b");
        let limit = base + Duration::seconds(20);
        assert_eq!(t.pop_due(limit).map(|x| x.1), Some("a"));
        assert_eq!(t.pop_due(limit).map(|x| x.1), Some("b"));
        assert_eq!(t.pop_due(limit), None);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn manual_clock_moves_only_forward() {
        let mut c = Clock::manual(at("2026-03-02 10:00"));
        c.move_to(at("2026-03-02 11:00")).unwrap();
        assert_eq!(c.now(), at("2026-03-02 11:00"));
        assert!(c.move_to(at("2026-03-02 10:30")).is_err());
    }

    #[test]
    fn real_clock_advances_by_offset() {
        let mut c = Clock::real(None);
        let before = c.now();
        c.move_to(before + Duration::hours(3)).unwrap();
        assert!(c.now() >= before + Duration::hours(3));
    }

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("15s").unwrap(), Duration::seconds(15));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::minutes(90));
        assert_eq!(
            parse_duration("250ms").unwrap(),
            Duration::milliseconds(250)
        );
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("3x").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(format_duration(Duration::minutes(90)), "1h30m");
    }

    #[test]
    fn time_is_bounded_and_its_arithmetic_checked() {
        assert_eq!(parse_duration("3660d").unwrap(), max_duration());
        assert!(matches!(
            parse_duration("3661d"),
            Err(DurationError::TooLong(_))
        ));
        assert!(matches!(
            parse_duration("100000000d"),
            Err(DurationError::TooLong(_))
        ));
        assert_eq!(min_instant().to_rfc3339(), "2000-01-01T00:00:00+00:00");
        assert_eq!(max_instant().to_rfc3339(), "2999-12-31T23:59:59+00:00");
        assert!(check_instant(max_instant()).is_ok());
        assert!(check_instant(max_instant() + Duration::seconds(1)).is_err());
        assert!(check_instant(min_instant() - Duration::seconds(1)).is_err());
        let mut c = Clock::manual(at("2026-03-02 10:00"));
        assert!(c.move_to(max_instant() + Duration::seconds(1)).is_err());
        assert!(c.move_to(max_instant()).is_ok());
        // The bounds leave room: the latest instant plus the longest duration fits.
        assert!(checked_add(max_instant(), max_duration()).is_ok());
        assert!(checked_add(DateTime::<Utc>::MAX_UTC, Duration::seconds(1)).is_err());
        // The calendar's last day has a (zero-length) window rather than a panic.
        let _ = business_day(NaiveDate::MAX, SHANGHAI);
    }

    #[test]
    fn shanghai_business_day_starts_at_local_midnight() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let (s, e) = business_day(day, SHANGHAI);
        assert_eq!(s.to_rfc3339(), "2026-03-01T16:00:00+00:00");
        assert_eq!(e - s, Duration::days(1));
        assert_eq!(day_of(at("2026-03-02 23:59:59"), SHANGHAI), day);
        assert_eq!(
            day_of(at("2026-03-03 00:00:00"), SHANGHAI),
            day.succ_opt().unwrap()
        );
    }
}
