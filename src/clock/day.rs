//! Business days: the span of a day cut at local midnight in a time zone, the window a
//! statement covers, and the compact local timestamps the Chinese APIs print.

use super::{Instant, SHANGHAI};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// The half-open span `[start, end)` of business day `day` cut at local midnight in `tz`.
pub fn business_day(day: NaiveDate, tz: Tz) -> (Instant, Instant) {
    let start = day
        .and_hms_opt(0, 0, 0)
        .expect("midnight always exists as a naive time");
    // The day after the last date chrono knows is that date again: a zero-length day
    // rather than a panic (no bounded input reaches it).
    let next = start.checked_add_signed(Duration::days(1)).unwrap_or(start);
    // Asia/Shanghai has no DST, so local midnight is never skipped or doubled; for zones
    // that have DST, `earliest` picks the first instant of an ambiguous midnight.
    let s = tz
        .from_local_datetime(&start)
        .earliest()
        .unwrap_or_else(|| Utc.from_utc_datetime(&start).with_timezone(&tz));
    let e = tz
        .from_local_datetime(&next)
        .earliest()
        .unwrap_or_else(|| Utc.from_utc_datetime(&next).with_timezone(&tz));
    (s.with_timezone(&Utc), e.with_timezone(&Utc))
}

/// The business day (in `tz`) that instant `t` falls in.
pub fn day_of(t: Instant, tz: Tz) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// `t` as `YYYY-MM-DD HH:MM:SS` in Beijing time: how every instant inside a journal
/// message is written, in the zone of the journal line's own time stamp.
pub fn beijing_time(t: Instant) -> String {
    t.with_timezone(&SHANGHAI)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `t` as `yyyyMMddHHmmss` in Beijing time: the compact timestamp of WeChat Pay v2
/// (`time_end`) and of the payout API (`createTime`, and inside its payout ids).
pub fn compact_local(t: Instant) -> String {
    t.with_timezone(&SHANGHAI)
        .format("%Y%m%d%H%M%S")
        .to_string()
}

/// A business day and the instants that bound it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayWindow {
    /// The day.
    pub day: NaiveDate,
    /// First instant of the day (inclusive).
    pub start: Instant,
    /// First instant of the next day (exclusive): the cut-off.
    pub end: Instant,
    /// The time zone the day is cut in; dates and times in files are printed in it.
    pub tz: Tz,
}

impl DayWindow {
    /// Business day `day` cut at local midnight in `tz`.
    pub fn new(day: NaiveDate, tz: Tz) -> DayWindow {
        let (start, end) = business_day(day, tz);
        DayWindow {
            day,
            start,
            end,
            tz,
        }
    }

    /// True when `t` falls in the day.
    pub fn contains(&self, t: Instant) -> bool {
        self.start <= t && t < self.end
    }

    /// The calendar date of `t` in the window's time zone.
    pub fn date_of(&self, t: Instant) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// `t` as `YYYY-MM-DD HH:MM:SS` in the window's time zone (the bills' time format).
    pub fn local_time(&self, t: Instant) -> String {
        t.with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// The window of the next day (the same day again at the end of the calendar, which
    /// no scenario reaches: instants are bounded far inside it).
    pub fn next(&self) -> DayWindow {
        DayWindow::new(self.day.succ_opt().unwrap_or(self.day), self.tz)
    }

    /// The window of the previous day.
    pub fn previous(&self) -> DayWindow {
        DayWindow::new(self.day.pred_opt().unwrap_or(self.day), self.tz)
    }
}

/// The Chinese channels' business day `day`, cut at 00:00 Asia/Shanghai.
pub fn day_window(day: NaiveDate) -> DayWindow {
    DayWindow::new(day, SHANGHAI)
}
