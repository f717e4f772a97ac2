//! Step definitions, one file per domain concept. Steps fail by panicking with a message
//! that says what the SUT or the world did; invariant steps use [`super::scene::Scene::fail`].

pub mod customers;
pub mod faults;
pub mod invariants;
pub mod notifications;
pub mod payouts;
pub mod refunds;
pub mod statements;
pub mod sut;
pub mod world;

use crate::clock::{parse_instant, Instant, SHANGHAI};
use crate::money::{Currency, Money};

/// A local time in Beijing, as feature files write it (`2026-03-02 10:00`).
pub fn instant(text: &str) -> Instant {
    parse_instant(text, SHANGHAI).unwrap_or_else(|| {
        panic!("`{text}` is not a time (write `YYYY-MM-DD HH:MM`, Beijing time)")
    })
}

/// An amount as feature files write it (`100.00` with a currency code).
pub fn money(amount: &str, currency: &str) -> Money {
    let c: Currency = currency.parse().unwrap_or_else(|e| panic!("{e}"));
    Money::parse(amount, c).unwrap_or_else(|e| panic!("{e}"))
}

/// A business date (`2026-03-02`).
pub fn date(text: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .unwrap_or_else(|_| panic!("`{text}` is not a date (write YYYY-MM-DD)"))
}
