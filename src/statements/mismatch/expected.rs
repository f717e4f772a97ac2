//! The oracle: the discrepancies a correct reconciliation must report for a day, derived
//! from the injected mismatches and the truth they were applied to.
//!
//! Each mismatch yields at most one discrepancy on its own day (and, for an entry moved
//! across the cut-off, one more on the day it lands on). A mismatch whose entry does not
//! exist expects nothing, exactly as the statement then shows nothing different.

use super::{locate, MismatchKind, DEFAULT_DELTA, DEFAULT_PHANTOM_AMOUNT};
use crate::money::Money;
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
