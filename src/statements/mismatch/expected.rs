//! The oracle: the discrepancies a correct reconciliation must report for a day, derived
//! from the injected mismatches and the truth they were applied to.
//!
//! Each mismatch yields at most one discrepancy on its own day (and, for an entry moved
//! across the cut-off, one more on the day it lands on). A mismatch whose entry does not
//! exist expects nothing, exactly as the statement then shows nothing different.
//!
//! The oracle asks only what a reconciliation can see on the wire *now* (the world clock's
//! instant, `books.now`), one statement (account and day) at a time:
//!
//! - a statement held back by a `late` mismatch and not available yet shows nothing but its
//!   absence (WeChat `Bill Creating`): `statement_late` alone is expected; once it is
//!   available it is not late any more, and what it contains is expected instead;
//! - a statement that cannot be read (`truncated`, `encoding`) shows no lines: one
//!   `statement_unreadable` alone is expected.

use super::{locate, MismatchKind, DEFAULT_DELTA, DEFAULT_PHANTOM_AMOUNT};
use crate::money::Money;
use crate::statements::render::{self, BillType, Format};
use crate::statements::{day_window, Books, Source};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

/// A difference the harness must find in the SUT's reconciliation report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedDiscrepancy {
    /// Stable id: the mismatch's id (`{id}/moved` for the other day of a moved entry).
    pub id: String,
    /// The discrepancy kind of docs/sut-adapter.md.
    pub kind: String,
    /// The merchant order number (`out_trade_no`) or payout order number; `None` for
    /// file-level discrepancies.
    pub reference: Option<String>,
    /// The channel or bank.
    pub instance: String,
    /// The merchant id or account number.
    pub account: String,
    /// The business day the discrepancy shows on.
    pub date: NaiveDate,
    /// The injected mismatch kind that caused it.
    pub mismatch: MismatchKind,
    /// The true amount (absolute, major units); for `fee_mismatch`, the true fee.
    pub books_amount: Option<String>,
    /// What the statement shows (absolute, major units); for `fee_mismatch`, its fee.
    pub statement_amount: Option<String>,
    /// The real-world cause this stands for.
    pub cause: String,
}

/// Every expected discrepancy of `instance` (a channel or bank) on `day`, over all of its
/// accounts, in the order the mismatches were added. The harness holds the SUT's
/// reconciliation report against this list.
pub fn expected_discrepancies(
    books: &Books<'_>,
    instance: &str,
    day: NaiveDate,
) -> Vec<ExpectedDiscrepancy> {
    observable(books, instance, day, injected(books, instance, day))
}

/// Keep, for each account's statement of `day`, what can be observed at `books.now`: only
/// `statement_late` while the statement is held back (none once it is out), else only one
/// `statement_unreadable` when the file cannot be read, else everything.
fn observable(
    books: &Books<'_>,
    instance: &str,
    day: NaiveDate,
    all: Vec<ExpectedDiscrepancy>,
) -> Vec<ExpectedDiscrepancy> {
    const LATE: &str = "statement_late";
    const UNREADABLE: &str = "statement_unreadable";
    let mut out: Vec<ExpectedDiscrepancy> = Vec::new();
    let accounts: Vec<String> = all.iter().fold(Vec::new(), |mut acc, d| {
        if !acc.contains(&d.account) {
            acc.push(d.account.clone());
        }
        acc
    });
    for account in accounts {
        let mine = all.iter().filter(|d| d.account == account);
        let held_back = Source::resolve(books.directory, instance, Some(&account))
            .map(|source| books.now < available_at(books, &source, day))
            .unwrap_or(false);
        let kinds: Vec<&str> = mine.clone().map(|d| d.kind.as_str()).collect();
        if kinds.contains(&LATE) && held_back {
            out.extend(mine.filter(|d| d.kind == LATE).take(1).cloned());
            continue;
        }
        if kinds.contains(&UNREADABLE) {
            out.extend(mine.filter(|d| d.kind == UNREADABLE).take(1).cloned());
            continue;
        }
        out.extend(mine.filter(|d| d.kind != LATE).cloned());
    }
    out
}

/// When `source`'s statement of `day` is available, its `late` mismatches included: the
/// channels' bills from 09:00 the next day, the banks' statements from 06:00.
fn available_at(books: &Books<'_>, source: &Source, day: NaiveDate) -> crate::clock::Instant {
    let format = match source {
        Source::ChannelMerchant { .. } => Format::Wechat(BillType::All),
        Source::BankAccount { .. } => Format::Camt053(crate::statements::camt053::Version::V02),
    };
    render::available_at(books, source, day, format)
}

/// Every discrepancy the mismatches of `instance` put into its statements of `day`, seen or
/// not.
fn injected(books: &Books<'_>, instance: &str, day: NaiveDate) -> Vec<ExpectedDiscrepancy> {
    let mut out = Vec::new();
    for m in books
        .mismatches
        .all()
        .iter()
        .filter(|m| m.instance == instance)
    {
        let Ok(source) = Source::resolve(books.directory, instance, m.account.as_deref()) else {
            continue;
        };
        let own = day_window(m.day);
        let moved_to = match m.kind {
            MismatchKind::NextDay => Some(own.next()),
            MismatchKind::PreviousDay => Some(own.previous()),
            _ => None,
        };
        let base = |kind: &str, id: String, reference: Option<String>, date: NaiveDate| {
            ExpectedDiscrepancy {
                id,
                kind: kind.to_string(),
                reference,
                instance: instance.to_string(),
                account: source.account().to_string(),
                date,
                mismatch: m.kind,
                books_amount: None,
                statement_amount: None,
                cause: m.kind.cause().to_string(),
            }
        };
        if m.day == day {
            let mut d = base(m.kind.discrepancy(), m.id.clone(), None, day);
            if m.kind == MismatchKind::Phantom {
                d.reference = m.phantom_reference.clone();
                d.statement_amount = Some(fmt2(m.amount.unwrap_or(DEFAULT_PHANTOM_AMOUNT)));
            } else if let Some(t) = &m.target {
                let Some((_, e)) = locate(books, &source, own, t) else {
                    continue;
                };
                d.reference = Some(e.reference.clone());
                let abs = e.amount.amount.abs();
                let (books, shown) = match m.kind {
                    MismatchKind::Amount => (abs, Some(abs + m.delta.unwrap_or(DEFAULT_DELTA))),
                    MismatchKind::Fee => (
                        e.fee.amount,
                        Some(e.fee.amount + m.delta.unwrap_or(DEFAULT_DELTA)),
                    ),
                    MismatchKind::Missing | MismatchKind::NextDay | MismatchKind::PreviousDay => {
                        (abs, None)
                    }
                    _ => (abs, Some(abs)),
                };
                d.books_amount = Some(fmt2(books));
                d.statement_amount = shown.map(fmt2);
            }
            out.push(d);
        } else if moved_to.is_some_and(|w| w.day == day) {
            let Some((_, e)) = m
                .target
                .as_ref()
                .and_then(|t| locate(books, &source, own, t))
            else {
                continue;
            };
            let mut d = base(
                "missing_in_books",
                format!("{}/moved", m.id),
                Some(e.reference.clone()),
                day,
            );
            d.statement_amount = Some(fmt2(e.amount.amount.abs()));
            out.push(d);
        }
    }
    out
}

fn fmt2(d: Decimal) -> String {
    Money {
        amount: d,
        currency: crate::money::Currency::Cny,
    }
    .major_string()
}

/// The detail lines of a channel's bill as a reconciliation reads them: how many rows, and
/// the sum of their order amounts (a refund row's order amount is zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StatementLines {
    /// Detail rows (payments and refunds; a duplicated row counts twice).
    pub count: u64,
    /// Sum of the payment rows' amounts, major units.
    pub amount: Decimal,
    /// The refund rows among them.
    pub refund_count: u64,
    /// What the refund rows refunded (absolute), major units.
    pub refund_amount: Decimal,
}

/// What `instance`'s bill of `day` lists for its first (default) merchant, as rendered at
/// `books.now` with the mismatches applied: `Some` with zero lines for a day without rows
/// (WeChat `No Bill Exist`); `None` when there is no bill to read — not available yet
/// (`Bill Creating`), or unreadable (`truncated`, `encoding`). The summary row is not a
/// line: a `summary` mismatch changes nothing here.
pub fn statement_lines(
    books: &Books<'_>,
    instance: &str,
    day: NaiveDate,
) -> Option<StatementLines> {
    statement_lines_in(books, instance, day, Format::Wechat(BillType::All))
}

/// [`statement_lines`] of the bill in `format` (the WeChat ALL bill, or the Alipay bill,
/// which lists the same payments and refunds).
pub fn statement_lines_in(
    books: &Books<'_>,
    instance: &str,
    day: NaiveDate,
    format: Format,
) -> Option<StatementLines> {
    let source = Source::resolve(books.directory, instance, None).ok()?;
    if !matches!(source, Source::ChannelMerchant { .. }) {
        return None;
    }
    if books.now < available_at(books, &source, day) {
        return None;
    }
    let window = day_window(day);
    let plan = super::Plan::build(books, &source, window);
    if plan.truncate.is_some() || plan.wrong_encoding {
        return None;
    }
    let mut lines = StatementLines {
        count: 0,
        amount: Decimal::ZERO,
        refund_count: 0,
        refund_amount: Decimal::ZERO,
    };
    for e in plan
        .apply(crate::statements::ledger_entries(books, &source, window))
        .filter(|e| format.includes(e))
    {
        lines.count += 1;
        match e.kind {
            crate::statements::EntryKind::Payment => lines.amount += e.amount.amount,
            crate::statements::EntryKind::Refund => {
                lines.refund_count += 1;
                lines.refund_amount += e.amount.amount.abs();
            }
            _ => {}
        }
    }
    Some(lines)
}
