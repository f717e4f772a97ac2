//! Business days: the span of a day cut at local midnight in a time zone, the window a
//! statement covers, and the compact local timestamps the Chinese APIs print.

use super::{Instant, SHANGHAI};
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
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
    let l = t.with_timezone(&SHANGHAI).naive_local();
    let Ok(year) = u32::try_from(l.year()) else {
        return l.format("%Y%m%d%H%M%S").to_string();
    };
    if year > 9999 {
        return l.format("%Y%m%d%H%M%S").to_string();
    }
    // Digit by digit: this is on the request path (orderquery of a paid order), and a
    // format string is parsed on every call.
    let mut s = String::with_capacity(14);
    for (n, width) in [
        (year, 4),
        (l.month(), 2),
        (l.day(), 2),
        (l.hour(), 2),
        (l.minute(), 2),
        (l.second(), 2),
    ] {
        for p in (0..width).rev() {
            let digit = n / 10u32.pow(p) % 10;
            s.push(char::from(b'0' + digit as u8));
        }
    }
    s
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_local_writes_what_chrono_formats() {
        // Across the clock's whole range, both sides of midnight and of a year's end.
        let mut secs = super::super::MIN_INSTANT_SECS;
        while secs < super::super::MAX_INSTANT_SECS {
            let t = Utc.timestamp_opt(secs, 0).unwrap();
            let want = t
                .with_timezone(&SHANGHAI)
                .format("%Y%m%d%H%M%S")
                .to_string();
            assert_eq!(compact_local(t), want, "{t}");
            secs += 86_400 * 97 + 3_607;
        }
        let t = Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).unwrap();
        assert_eq!(compact_local(t), "20270101000000");
    }
}
