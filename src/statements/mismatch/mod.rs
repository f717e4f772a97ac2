//! Injected mismatches applied to statements: which lines change, and what the SUT must
//! therefore report.
//!
//! The mismatches themselves are data kept in [`crate::mismatches`] (what each kind stands
//! for is documented there and in `docs/statements.md`). Here:
//!
//! - [`plan`] resolves the mismatches that concern one statement (one account, one day)
//!   against the truth and applies them to the entry stream lazily;
//! - [`expected`] turns the same mismatches into the *expected discrepancies* — the oracle
//!   the harness holds a SUT's reconciliation report against. It is kept apart from the
//!   plan so that the oracle can be read, and tested, on its own.
//!
//! Both find a mismatch's entry the same way ([`locate`]), so the line the statement changes
//! and the line the oracle expects to be reported are one and the same.

pub mod expected;
pub mod plan;

pub use crate::mismatches::*;
pub use expected::{
    expected_discrepancies, statement_lines, statement_lines_in, ExpectedDiscrepancy,
    StatementLines,
};
pub use plan::Plan;

use super::{Books, DayWindow, Entry, Source};

/// True when `m` is about `source`'s account (its own, or the instance's default).
fn about(books: &Books<'_>, m: &Mismatch, source: &Source) -> bool {
    m.instance == source.instance()
        && Source::resolve(books.directory, &m.instance, m.account.as_deref())
            .is_ok_and(|s| s.account() == source.account())
}

/// Find `target` among the truth of `window`: its position and the entry.
pub fn locate(
    books: &Books<'_>,
    source: &Source,
    window: DayWindow,
    target: &Target,
) -> Option<(usize, Entry)> {
    let mut entries = super::ledger_entries(books, source, window).enumerate();
    match target {
        Target::Reference(r) => entries.find(|(_, e)| &e.reference == r),
        Target::Nth(n) => entries.nth(*n),
    }
}

/// Why `m` could never change anything, if so: it touches an entry (by `reference` or
/// `nth`) that its day does not have, and the day is over on the world clock, so no entry
/// will come. (Before the day ends, a mismatch may be declared ahead of its trade.) The
/// message names the field and the problem.
pub fn never_applies(books: &Books<'_>, m: &Mismatch) -> Option<String> {
    let target = m.target.as_ref()?;
    let source = Source::resolve(books.directory, &m.instance, m.account.as_deref()).ok()?;
    let window = super::day_window(m.day);
    if books.now < window.end || locate(books, &source, window, target).is_some() {
        return None;
    }
    let count = super::ledger_entries(books, &source, window).count();
    let (field, what) = match target {
        Target::Reference(r) => ("reference", format!("has no entry `{r}`")),
        Target::Nth(n) => (
            "nth",
            format!("has no entry {n} (0-based; it has {count} entries)"),
        ),
    };
    Some(format!(
        "{field}: the statement of {} for {} {what}, and that day is over (it ended {} Beijing time), so the mismatch would change nothing; name an entry the day has, or a day that has not ended (`today`)",
        m.day,
        source.account(),
        window.local_time(window.end),
    ))
}
