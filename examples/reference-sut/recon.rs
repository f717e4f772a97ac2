//! Reconciliation (对账): compare a business day's bill, trade by trade, with the books, and
//! build the report. Pure functions: the downloads are in `wxpay.rs` and `alipay_bill.rs`,
//! the reading in `wechat_bill.rs` and `alipay_bill.rs` (both into one [`Bill`]), the books
//! in `store.rs`.
//!
//! Refund rows are not payments: they are counted in `statement` (order amount 0) and
//! totalled apart (`refunds.statement`, what they refunded), beside the refunds booked that
//! day (`refunds.booked`).

use rust_decimal::Decimal;
use sandbank::money::{Currency, Money};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The trade status of a refund row.
pub const STATE_REFUND: &str = "REFUND";

/// One detail row of a bill, as far as reconciliation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillRow {
    /// `商户订单号`.
    pub out_trade_no: String,
    /// `交易状态`: SUCCESS, REFUND, REVOKED, …
    pub trade_state: String,
    /// The order amount, in fen.
    pub amount_minor: i64,
    /// The channel's fee, when the bill has a fee column (it is printed with 5 decimals).
    pub fee: Option<Decimal>,
    /// For a refund row, the amount refunded, in fen (WeChat `退款金额`, Alipay the refund
    /// row's amount without its sign); 0 for a payment.
    pub refund_minor: i64,
}

impl BillRow {
    /// True for a refund row, which is not a payment.
    pub fn is_refund(&self) -> bool {
        self.trade_state == STATE_REFUND
    }
}

/// A parsed bill.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bill {
    /// Detail rows, in file order.
    pub rows: Vec<BillRow>,
    /// The summary row's trade count (`None` for a day without trades: no bill at all).
    pub summary_count: Option<u64>,
    /// The summary row's total order amount, in fen.
    pub summary_amount_minor: Option<i64>,
    /// The summary's total refunded, in fen, when the format states one we check (Alipay's
    /// `#退款合计`).
    pub summary_refund_minor: Option<i64>,
}

impl Bill {
    /// True when the summary states other totals than the detail rows add up to.
    pub fn summary_disagrees(&self) -> bool {
        let rows_total = self
            .rows
            .iter()
            .fold(0i64, |acc, r| acc.saturating_add(r.amount_minor));
        let refunds_total = self
            .rows
            .iter()
            .fold(0i64, |acc, r| acc.saturating_add(r.refund_minor));
        self.summary_count
            .is_some_and(|n| n != self.rows.len() as u64)
            || self.summary_amount_minor.is_some_and(|a| a != rows_total)
            || self
                .summary_refund_minor
                .is_some_and(|a| a != refunds_total)
    }

    /// The refund rows: how many, and what they refunded.
    pub fn refund_totals(&self) -> Totals {
        let refunds = self.rows.iter().filter(|r| r.is_refund());
        Totals {
            count: refunds.clone().count(),
            amount: major(refunds.fold(0i64, |acc, r| acc.saturating_add(r.refund_minor))),
        }
    }
}

/// Why a bill could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillError {
    /// The header lacks a column we need.
    #[error("the bill header has no `{0}` column")]
    MissingColumn(&'static str),
    /// Not UTF-8 (an export in another code page, e.g. GBK).
    #[error("the bill is not UTF-8")]
    NotUtf8,
    /// Not GBK (the Alipay bill's encoding): exported in another code page, e.g. UTF-8.
    #[error("the bill is not GBK")]
    NotGbk,
    /// The file stops before its end: no final line break, or no summary.
    #[error("the bill is cut off: {0}")]
    CutOff(&'static str),
    /// A line is not what the format allows there.
    #[error("bill line {line}: {reason}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// A kind of difference between books and statement (docs/sut-adapter.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// In the books, not in the statement.
    MissingInStatement,
    /// In the statement, not in the books.
    MissingInBooks,
    /// On both sides with different amounts.
    AmountMismatch,
    /// On both sides, the statement's status is not SUCCESS.
    StatusMismatch,
    /// On both sides, the statement's fee is not what the contract rate gives.
    FeeMismatch,
    /// The statement lists the trade more than once.
    DuplicateInStatement,
    /// The statement's summary does not add up to its rows.
    SummaryMismatch,
    /// The statement was not there (WeChat `Bill Creating`).
    StatementLate,
    /// The statement could not be read (cut off, wrong encoding).
    StatementUnreadable,
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discrepancy {
    /// What kind.
    pub kind: Kind,
    /// The merchant order number (`out_trade_no`); `None` for the whole statement.
    pub reference: Option<String>,
    /// Our amount, major units, or null when we have none (for a fee mismatch: our fee).
    pub books_amount: Option<String>,
    /// The statement's amount, major units, or null when it has none (for a fee mismatch:
    /// its fee).
    pub statement_amount: Option<String>,
}

/// A count and a total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Number of entries.
    pub count: usize,
    /// Their total, major units (`123.45`).
    pub amount: String,
}

/// The reconciliation report, exactly in the form docs/sut-adapter.md specifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `YYYY-MM-DD`.
    pub business_date: String,
    /// Channel id.
    pub channel: String,
    /// What we booked for the day.
    pub booked: Totals,
    /// The statement's detail rows; `None` when there was no statement to read.
    pub statement: Option<Totals>,
    /// Every difference, sorted by reference then kind.
    pub discrepancies: Vec<Discrepancy>,
    /// The day's refunds: what we booked as succeeded, and the bill's refund rows.
    pub refunds: RefundReport,
}

/// The refunds of the day, on both sides (docs/sut-adapter.md, "refunds").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundReport {
    /// The refunds we booked as succeeded that business day.
    pub booked: Totals,
    /// The bill's refund rows; `None` when there was no bill to read.
    pub statement: Option<Totals>,
}

impl RefundReport {
    /// Our refunds of the day (`amount_minor` each) beside the bill's refund rows.
    pub fn new(booked: &[i64], bill: Option<&Bill>) -> RefundReport {
        RefundReport {
            booked: Totals {
                count: booked.len(),
                amount: major(booked.iter().fold(0i64, |a, b| a.saturating_add(*b))),
            },
            statement: bill.map(Bill::refund_totals),
        }
    }
}

/// Yuan with two decimals, from fen. Exact: no floats anywhere.
pub fn major(minor: i64) -> String {
    Money::from_minor(minor, Currency::Cny).major_string()
}

/// A fee as text: at least two decimals, no trailing zeros beyond them (`0.60`, `0.605`).
fn fee_text(fee: Decimal) -> String {
    let mut f = fee.normalize();
    if f.scale() < 2 {
        f.rescale(2);
    }
    f.to_string()
}

/// The deliberate reconciliation bugs (`--bug recon-…`), as switches `reconcile` reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mistakes {
    /// BUG: a trade listed twice is read once (rows keyed by order number).
    pub ignore_duplicates: bool,
    /// BUG: fees are never compared.
    pub ignore_fees: bool,
    /// BUG: amounts within one fen are "equal".
    pub amount_tolerance: bool,
    /// BUG: the statement's totals are copied from the books.
    pub statement_total_from_books: bool,
    /// BUG: the summary row is never checked.
    pub ignore_summary: bool,
    /// BUG: a fee mismatch carries the payment's amounts instead of the fees.
    pub fee_mismatch_shows_amounts: bool,
}

/// The day's books: `(out_trade_no, amount_minor)` per booked payment.
fn booked_totals(books: &[(String, i64)]) -> Totals {
    Totals {
        count: books.len(),
        amount: major(
            books
                .iter()
                .fold(0i64, |acc, (_, a)| acc.saturating_add(*a)),
        ),
    }
}

/// The report when there was no statement to compare with: it was not there yet
/// (`StatementLate`) or could not be read (`StatementUnreadable`). Nothing else can be said
/// about the day, so that one difference is all the report lists.
pub fn without_statement(
    business_date: &str,
    channel: &str,
    books: &[(String, i64)],
    kind: Kind,
) -> Report {
    Report {
        business_date: business_date.to_string(),
        channel: channel.to_string(),
        booked: booked_totals(books),
        statement: None,
        discrepancies: vec![Discrepancy {
            kind,
            reference: None,
            books_amount: None,
            statement_amount: None,
        }],
        refunds: RefundReport::new(&[], None),
    }
}

/// Compare the day's books (`(out_trade_no, amount_minor)` per booked payment) with a bill.
///
/// Books are summed per order number, so a payment booked twice (a bug) shows as an amount
/// mismatch rather than disappearing. For a trade the statement lists more than once, the
/// first row is compared and one `duplicate_in_statement` reports the repetition. With a
/// `fee_rate` (our contract with the channel), each payment's expected fee is its amount
/// times the rate, rounded half away from zero to the fen, and a different statement fee is
/// a `fee_mismatch`; without one, fees are not compared. A summary that does not add up to
/// the rows is one `summary_mismatch`.
pub fn reconcile(
    business_date: &str,
    channel: &str,
    books: &[(String, i64)],
    bill: &Bill,
    fee_rate: Option<Decimal>,
    bugs: Mistakes,
) -> Report {
    // BUG (recon-ignores-fees): no rate, no fee comparison.
    let fee_rate = fee_rate.filter(|_| !bugs.ignore_fees);
    let mut ours: BTreeMap<&str, (i64, Decimal)> = BTreeMap::new();
    for (no, amount) in books {
        let fee = fee_rate
            .map(|r| {
                Money::from_minor(*amount, Currency::Cny)
                    .times_rate_rounded(r)
                    .amount
            })
            .unwrap_or_default();
        let (sum, fees) = ours.entry(no.as_str()).or_insert((0, Decimal::ZERO));
        *sum = sum.saturating_add(*amount);
        *fees += fee;
    }
    let mut theirs: BTreeMap<&str, Vec<&BillRow>> = BTreeMap::new();
    for row in bill.rows.iter().filter(|r| !r.is_refund()) {
        let rows = theirs.entry(row.out_trade_no.as_str()).or_default();
        if bugs.ignore_duplicates && !rows.is_empty() {
            // BUG (recon-ignores-duplicates): the repeated row is dropped unseen.
            continue;
        }
        rows.push(row);
    }
    let same_amount = |a: i64, b: i64| {
        if bugs.amount_tolerance {
            // BUG (recon-amount-tolerance): "a fen is rounding".
            (a - b).abs() <= 1
        } else {
            a == b
        }
    };
    let references: BTreeSet<&str> = ours.keys().chain(theirs.keys()).copied().collect();
    let mut discrepancies = Vec::new();
    for reference in references {
        let booked = ours.get(reference).copied();
        let rows = theirs.get(reference).map(Vec::as_slice).unwrap_or(&[]);
        let mut push =
            |kind: Kind, books_amount: Option<String>, statement_amount: Option<String>| {
                discrepancies.push(Discrepancy {
                    kind,
                    reference: Some(reference.to_string()),
                    books_amount,
                    statement_amount,
                })
            };
        let books_amount = booked.map(|(amount, _)| major(amount));
        match (booked, rows.first()) {
            (None, None) => {}
            (Some(_), None) => push(Kind::MissingInStatement, books_amount.clone(), None),
            (None, Some(row)) => push(Kind::MissingInBooks, None, Some(major(row.amount_minor))),
            (Some((amount, expected_fee)), Some(row)) => {
                if !same_amount(row.amount_minor, amount) {
                    push(
                        Kind::AmountMismatch,
                        books_amount.clone(),
                        Some(major(row.amount_minor)),
                    );
                }
                if row.trade_state != "SUCCESS" {
                    push(
                        Kind::StatusMismatch,
                        books_amount.clone(),
                        Some(major(row.amount_minor)),
                    );
                }
                if let (Some(_), Some(fee)) = (fee_rate, row.fee) {
                    if fee != expected_fee {
                        if bugs.fee_mismatch_shows_amounts {
                            // BUG: the payment's amounts where the fees belong.
                            push(
                                Kind::FeeMismatch,
                                books_amount.clone(),
                                Some(major(row.amount_minor)),
                            );
                        } else {
                            push(
                                Kind::FeeMismatch,
                                Some(fee_text(expected_fee)),
                                Some(fee_text(fee)),
                            );
                        }
                    }
                }
            }
        }
        if let Some(extra) = rows.get(1) {
            push(
                Kind::DuplicateInStatement,
                books_amount,
                Some(major(extra.amount_minor)),
            );
        }
    }
    // BUG (recon-ignores-summary) when switched off.
    if bill.summary_disagrees() && !bugs.ignore_summary {
        discrepancies.push(Discrepancy {
            kind: Kind::SummaryMismatch,
            reference: None,
            books_amount: None,
            statement_amount: None,
        });
    }
    discrepancies.sort_by(|a, b| (&a.reference, a.kind).cmp(&(&b.reference, b.kind)));
    let booked = booked_totals(books);
    let statement = if bugs.statement_total_from_books {
        // BUG (recon-statement-total-from-books): the statement "agrees" by construction.
        booked.clone()
    } else {
        Totals {
            count: bill.rows.len(),
            amount: major(
                bill.rows
                    .iter()
                    .fold(0i64, |acc, r| acc.saturating_add(r.amount_minor)),
            ),
        }
    };
    Report {
        business_date: business_date.to_string(),
        channel: channel.to_string(),
        booked,
        statement: Some(statement),
        discrepancies,
        refunds: RefundReport::new(&[], Some(bill)),
    }
}

#[cfg(test)]
#[path = "recon_tests.rs"]
mod tests;
