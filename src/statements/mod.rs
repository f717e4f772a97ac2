//! Statements: a business day's movements rendered as the files channels and banks hand out.
//!
//! One model, several writers (ripgrep's searcher/printer split): [`day_window`] fixes the
//! business day and its cut-off, each format's module walks the ledger for that window and
//! streams rows to a `std::io::Write`, never holding the day in memory.

pub mod wechat;

use crate::clock::{business_day, Instant, SHANGHAI};
use chrono::NaiveDate;

/// A business day and the instants that bound it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayWindow {
    /// The day.
    pub day: NaiveDate,
    /// First instant of the day (inclusive).
    pub start: Instant,
    /// First instant of the next day (exclusive): the cut-off.
    pub end: Instant,
}

impl DayWindow {
    /// True when `t` falls in the day.
    pub fn contains(&self, t: Instant) -> bool {
        self.start <= t && t < self.end
    }
}

/// The Chinese channels' business day `day`, cut at 00:00 Asia/Shanghai.
pub fn day_window(day: NaiveDate) -> DayWindow {
    let (start, end) = business_day(day, SHANGHAI);
    DayWindow { day, start, end }
}
