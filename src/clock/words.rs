//! Days named relative to the world clock — `today`, `yesterday`, `tomorrow` — so that an
//! example works on a real-clock world on any date: the statement of `yesterday`, a
//! mismatch on `today`, the clock moved `to` `tomorrow 10:00`. Days are business days in
//! Beijing time (the channels' cut-off, [`super::SHANGHAI`]); the word is read when the
//! request arrives, against the world clock's instant then.

use super::{day_of, Instant, SHANGHAI};
use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};

/// The words, for error messages.
pub const DAY_WORDS: &str = "today, yesterday, tomorrow";

/// The business day `word` names at instant `now` (Beijing time), or `None` when `word` is
/// none of [`DAY_WORDS`].
pub fn day_word(word: &str, now: Instant) -> Option<NaiveDate> {
    let today = day_of(now, SHANGHAI);
    match word.trim() {
        "today" => Some(today),
        "yesterday" => today.pred_opt(),
        "tomorrow" => today.succ_opt(),
        _ => None,
    }
}

/// `text` as a date: `YYYY-MM-DD`, `YYYYMMDD` or a day word read at `now`. Not checked
/// against the calendar's bounds (the caller does, as for any date).
pub fn parse_day(text: &str, now: Instant) -> Option<NaiveDate> {
    let text = text.trim();
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%Y%m%d"))
        .ok()
        .or_else(|| day_word(text, now))
}

/// `text` as a day word and a Beijing time of day (`tomorrow 10:00`, `today 23:59:59`), read
/// at `now`; `None` for anything else.
pub fn parse_word_instant(text: &str, now: Instant) -> Option<Instant> {
    let (word, time) = text.trim().split_once(' ')?;
    let day = day_word(word, now)?;
    let time = NaiveTime::parse_from_str(time.trim(), "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(time.trim(), "%H:%M"))
        .ok()?;
    // Beijing time has no DST: every local time exists exactly once.
    SHANGHAI
        .from_local_datetime(&day.and_time(time))
        .single()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_instant;

    fn at(s: &str) -> Instant {
        parse_instant(s, SHANGHAI).unwrap()
    }

    #[test]
    fn words_name_beijing_business_days() {
        // 2026-03-02 00:30 Beijing is still 2026-03-01 in UTC: the day is Beijing's.
        let now = at("2026-03-02 00:30");
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(day_word("today", now), Some(d("2026-03-02")));
        assert_eq!(day_word("yesterday", now), Some(d("2026-03-01")));
        assert_eq!(day_word("tomorrow", now), Some(d("2026-03-03")));
        assert_eq!(day_word("Today", now), None);
        assert_eq!(parse_day("20260305", now), Some(d("2026-03-05")));
        assert_eq!(parse_day("2026-03-05", now), Some(d("2026-03-05")));
        assert_eq!(parse_day("yesterday", now), Some(d("2026-03-01")));
        assert_eq!(parse_day("last week", now), None);
    }

    #[test]
    fn a_word_and_a_time_are_an_instant_in_beijing_time() {
        let now = at("2026-03-02 23:59");
        assert_eq!(
            parse_word_instant("tomorrow 10:00", now),
            Some(at("2026-03-03 10:00"))
        );
        assert_eq!(
            parse_word_instant("today 23:59:30", now),
            Some(at("2026-03-02 23:59:30"))
        );
        assert_eq!(parse_word_instant("tomorrow", now), None);
        assert_eq!(parse_word_instant("tomorrow 25:00", now), None);
        assert_eq!(parse_word_instant("2026-03-03 10:00", now), None);
    }
}
