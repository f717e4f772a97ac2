//! Reconciliation (对账): read the channel's bill for a business day and compare it, trade by
//! trade, with the books. Pure functions: the download is in `wxpay.rs`, the books in
//! `store.rs`.
//!
//! The WeChat Pay v2 ALL bill is text: a header line, one detail row per trade with every
//! field prefixed by a backtick, then the `总交易单数,…` summary header and one summary row.
//! Lines end with `\r\n` (we accept `\n` too).
//!
//! Refund rows (`交易状态` `REFUND`) are not payments: they are counted in `statement` (order
//! amount 0) and totalled apart (`refunds.statement`, their `退款金额`), beside the refunds
//! booked that day (`refunds.booked`).
//!
//! A bill is read whole or not at all: one that is not UTF-8, ends mid-line, or lacks its
//! summary is *unreadable*, and reported as such — never reconciled from the part that
//! happened to arrive (that would report the cut-off trades as missing).

use rust_decimal::Decimal;
use sandbank::money::{Currency, Money};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

/// Header of the column holding our order number.
const COL_OUT_TRADE_NO: &str = "商户订单号";
/// Header of the trade status column.
const COL_STATE: &str = "交易状态";
/// Header of the order amount column (what the customer paid: our books' amount).
const COL_ORDER_AMOUNT: &str = "订单金额";
/// Older bills have no `订单金额`; their `应结订单金额` is then the order amount.
const COL_SETTLEMENT_AMOUNT: &str = "应结订单金额";
/// Header of the channel's fee column (yuan, 5 decimals).
const COL_FEE: &str = "手续费";
/// Header of the refunded amount column (yuan; on refund rows).
const COL_REFUND_AMOUNT: &str = "退款金额";
/// The trade status of a refund row.
const STATE_REFUND: &str = "REFUND";
/// First cell of the summary header: the detail rows end here.
const SUMMARY_FIRST_CELL: &str = "总交易单数";
/// Summary column of the total order amount.
const COL_SUMMARY_ORDER_AMOUNT: &str = "订单总金额";
/// Older bills' summary has only the settlement total.
const COL_SUMMARY_SETTLEMENT_AMOUNT: &str = "应结订单总金额";

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

fn cell(raw: &str) -> &str {
    raw.strip_prefix('`').unwrap_or(raw).trim()
}

/// Parse an ALL bill, strictly: the whole file or an error.
pub fn parse_bill(bytes: &[u8]) -> Result<Bill, BillError> {
    let text = std::str::from_utf8(bytes).map_err(|_| BillError::NotUtf8)?;
    parse_bill_text(text, false)
}

/// Parse the text of an ALL bill. `lenient` skips what it cannot read (a mutant's way).
pub fn parse_bill_text(text: &str, lenient: bool) -> Result<Bill, BillError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !lenient && !text.ends_with('\n') {
        return Err(BillError::CutOff("the last line has no line break"));
    }
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(BillError::CutOff("no header"));
    };
    let columns: Vec<&str> = header.split(',').map(cell).collect();
    let find = |name: &'static str| columns.iter().position(|c| *c == name);
    let i_no = find(COL_OUT_TRADE_NO).ok_or(BillError::MissingColumn(COL_OUT_TRADE_NO))?;
    let i_state = find(COL_STATE).ok_or(BillError::MissingColumn(COL_STATE))?;
    let i_amount = find(COL_ORDER_AMOUNT)
        .or_else(|| find(COL_SETTLEMENT_AMOUNT))
        .ok_or(BillError::MissingColumn(COL_ORDER_AMOUNT))?;
    let i_fee = find(COL_FEE);
    let i_refund = find(COL_REFUND_AMOUNT);

    let mut bill = Bill::default();
    while let Some((index, line)) = lines.next() {
        let line_no = index + 1;
        let bad = |reason: String| BillError::BadLine {
            line: line_no,
            reason,
        };
        if cell(line).starts_with(SUMMARY_FIRST_CELL) {
            read_summary(&mut bill, line, lines.next())?;
            break;
        }
        match detail_row(
            line,
            columns.len(),
            i_no,
            i_state,
            i_amount,
            i_fee,
            i_refund,
        ) {
            Ok(row) => bill.rows.push(row),
            Err(_) if lenient => {}
            Err(reason) => return Err(bad(reason)),
        }
    }
    if bill.summary_count.is_none() && !lenient {
        return Err(BillError::CutOff("no summary"));
    }
    Ok(bill)
}

/// One detail row, or why it is not one.
fn detail_row(
    line: &str,
    width: usize,
    i_no: usize,
    i_state: usize,
    i_amount: usize,
    i_fee: Option<usize>,
    i_refund: Option<usize>,
) -> Result<BillRow, String> {
    if !line.starts_with('`') {
        return Err("neither a backtick-prefixed detail row nor the summary header".into());
    }
    let fields: Vec<&str> = line.split(',').map(cell).collect();
    if fields.len() != width {
        return Err(format!(
            "{} fields where the header has {width}",
            fields.len()
        ));
    }
    let amount_text = fields[i_amount];
    let amount_minor = Money::parse(amount_text, Currency::Cny)
        .and_then(|m| m.to_minor())
        .map_err(|e| format!("amount `{amount_text}`: {e}"))?;
    let fee = match i_fee.map(|i| fields[i]) {
        None => None,
        Some(text) => Some(
            Decimal::from_str(text).map_err(|_| format!("fee `{text}` is not a decimal amount"))?,
        ),
    };
    let trade_state = fields[i_state].to_string();
    let refund_minor = match i_refund.map(|i| fields[i]) {
        Some(text) if trade_state == STATE_REFUND => Money::parse(text, Currency::Cny)
            .and_then(|m| m.to_minor())
            .map_err(|e| format!("refund amount `{text}`: {e}"))?
            .saturating_abs(),
        _ => 0,
    };
    Ok(BillRow {
        out_trade_no: fields[i_no].to_string(),
        trade_state,
        amount_minor,
        fee,
        refund_minor,
    })
}

/// The summary header `header` and the row after it: the trade count and the order total.
fn read_summary(
    bill: &mut Bill,
    header: &str,
    row: Option<(usize, &str)>,
) -> Result<(), BillError> {
    let Some((index, row)) = row else {
        return Err(BillError::CutOff("a summary header without its row"));
    };
    let names: Vec<&str> = header.split(',').map(cell).collect();
    let values: Vec<&str> = row.split(',').map(cell).collect();
    let bad = |reason: String| BillError::BadLine {
        line: index + 1,
        reason,
    };
    if values.len() != names.len() {
        return Err(bad(format!(
            "summary row has {} fields where its header has {}",
            values.len(),
            names.len()
        )));
    }
    let count = values[0].parse::<u64>().map_err(|_| {
        bad(format!(
            "summary trade count `{}` is not a number",
            values[0]
        ))
    })?;
    let i_total = names
        .iter()
        .position(|n| *n == COL_SUMMARY_ORDER_AMOUNT)
        .or_else(|| {
            names
                .iter()
                .position(|n| *n == COL_SUMMARY_SETTLEMENT_AMOUNT)
        });
    let total = match i_total {
        None => None,
        Some(i) => Some(
            Money::parse(values[i], Currency::Cny)
                .and_then(|m| m.to_minor())
                .map_err(|e| bad(format!("summary total `{}`: {e}", values[i])))?,
        ),
    };
    bill.summary_count = Some(count);
    bill.summary_amount_minor = total;
    Ok(())
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
mod tests {
    use super::*;

    const HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";

    fn rate() -> Decimal {
        Decimal::new(6, 3)
    }

    fn row_with_fee(no: &str, state: &str, amount: &str, fee: &str) -> String {
        format!("`2026-03-02 10:00:00,`wx2421b1c4370ec43b,`10000100,`0,`,`4200000001,`{no},`oUser,`NATIVE,`{state},`OTHERS,`CNY,`{amount},`0.00,`0,`0,`0.00,`0.00,`,`,`goods,`,`{fee},`0.60%,`{amount},`0.00,`")
    }

    fn row(no: &str, state: &str, amount: &str) -> String {
        row_with_fee(no, state, amount, "0.60000")
    }

    fn bill(rows: &[String]) -> String {
        let mut text = format!("{HEADER}\r\n");
        for r in rows {
            text.push_str(r);
            text.push_str("\r\n");
        }
        // The summary adds up: the sum of the rows' 订单金额 (the 25th column).
        let total: Decimal = rows
            .iter()
            .map(|r| Decimal::from_str(&r.split(',').nth(24).unwrap()[1..]).unwrap())
            .sum();
        text.push_str(&format!("{SUMMARY}\r\n"));
        text.push_str(&format!(
            "`{},`{total:.2},`0.00,`0.00,`0.00000,`{total:.2},`0.00\r\n",
            rows.len()
        ));
        text
    }

    const SUMMARY: &str = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";

    #[test]
    fn reads_rows_until_the_summary() {
        let b = parse_bill(
            bill(&[
                row("RS01", "SUCCESS", "100.00"),
                row("RS02", "SUCCESS", "0.01"),
            ])
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(b.rows.len(), 2);
        assert_eq!(
            b.rows[0],
            BillRow {
                out_trade_no: "RS01".into(),
                trade_state: "SUCCESS".into(),
                amount_minor: 10000,
                fee: Some(Decimal::new(6, 1)),
                refund_minor: 0
            }
        );
        assert_eq!(b.rows[1].amount_minor, 1);
        assert_eq!(b.summary_count, Some(2));
    }

    #[test]
    fn accepts_bare_newlines_and_refuses_broken_rows() {
        let text = bill(&[row("RS01", "SUCCESS", "1.00")]).replace("\r\n", "\n");
        assert_eq!(parse_bill(text.as_bytes()).unwrap().rows.len(), 1);
        let short = format!("{HEADER}\n`a,`b\n");
        assert!(matches!(
            parse_bill(short.as_bytes()),
            Err(BillError::BadLine { line: 2, .. })
        ));
        let float = bill(&[row("RS01", "SUCCESS", "1.005")]);
        assert!(parse_bill(float.as_bytes()).is_err());
        assert!(matches!(
            parse_bill(b"a,b,c\n"),
            Err(BillError::MissingColumn(_))
        ));
    }

    #[test]
    fn an_empty_statement_and_empty_books_agree() {
        let r = reconcile(
            "2026-03-02",
            "wxpay",
            &[],
            &Bill::default(),
            Some(rate()),
            Mistakes::default(),
        );
        assert_eq!(
            r.booked,
            Totals {
                count: 0,
                amount: "0.00".into()
            }
        );
        assert!(r.discrepancies.is_empty());
    }

    #[test]
    fn every_kind_of_difference_is_found() {
        let b = parse_bill(
            bill(&[
                row("RS01", "SUCCESS", "100.00"),
                row("RS02", "SUCCESS", "99.00"),
                row("RS03", "REVOKED", "3.00"),
                row("RS04", "SUCCESS", "4.00"),
                row("RS04", "SUCCESS", "4.00"),
                row("RS05", "SUCCESS", "5.00"),
            ])
            .as_bytes(),
        )
        .unwrap();
        let books = vec![
            ("RS01".to_string(), 10000),
            ("RS02".to_string(), 10000),
            ("RS03".to_string(), 300),
            ("RS04".to_string(), 400),
            ("RS06".to_string(), 600),
        ];
        let r = reconcile("2026-03-02", "wxpay", &books, &b, None, Mistakes::default());
        let kinds: Vec<(Kind, &str)> = r
            .discrepancies
            .iter()
            .map(|d| (d.kind, d.reference.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (Kind::AmountMismatch, "RS02"),
                (Kind::StatusMismatch, "RS03"),
                (Kind::DuplicateInStatement, "RS04"),
                (Kind::MissingInBooks, "RS05"),
                (Kind::MissingInStatement, "RS06"),
            ]
        );
        assert_eq!(r.discrepancies[0].books_amount.as_deref(), Some("100.00"));
        assert_eq!(
            r.discrepancies[0].statement_amount.as_deref(),
            Some("99.00")
        );
        assert_eq!(r.discrepancies[4].statement_amount, None);
        assert_eq!(
            r.statement,
            Some(Totals {
                count: 6,
                amount: "215.00".into()
            })
        );
        assert_eq!(
            r.booked,
            Totals {
                count: 5,
                amount: "213.00".into()
            }
        );
    }

    #[test]
    fn fees_are_checked_against_the_contract_rate() {
        // 0.6 % of 100.00 is 0.60; of 2.50 it is 0.015, rounded half away from zero: 0.02.
        let b = parse_bill(
            bill(&[
                row_with_fee("RS01", "SUCCESS", "100.00", "0.60000"),
                row_with_fee("RS02", "SUCCESS", "2.50", "0.02000"),
                row_with_fee("RS03", "SUCCESS", "100.00", "0.61000"),
            ])
            .as_bytes(),
        )
        .unwrap();
        let books = vec![
            ("RS01".to_string(), 10000),
            ("RS02".to_string(), 250),
            ("RS03".to_string(), 10000),
        ];
        let r = reconcile(
            "2026-03-02",
            "wxpay",
            &books,
            &b,
            Some(rate()),
            Mistakes::default(),
        );
        assert_eq!(
            r.discrepancies,
            vec![Discrepancy {
                kind: Kind::FeeMismatch,
                reference: Some("RS03".into()),
                books_amount: Some("0.60".into()),
                statement_amount: Some("0.61".into())
            }]
        );
        assert!(
            reconcile("2026-03-02", "wxpay", &books, &b, None, Mistakes::default())
                .discrepancies
                .is_empty()
        );
    }

    #[test]
    fn refund_rows_are_not_payments_and_not_duplicates() {
        let b = parse_bill(
            bill(&[
                row("RS01", "SUCCESS", "100.00"),
                row_with_fee("RS01", "REFUND", "0.00", "-0.60000").replacen(
                    ",`0,`0,`0.00,",
                    ",`500001,`RF1,`30.00,",
                    1,
                ),
            ])
            .as_bytes(),
        )
        .unwrap();
        let r = reconcile(
            "2026-03-02",
            "wxpay",
            &[("RS01".to_string(), 10000)],
            &b,
            Some(rate()),
            Mistakes::default(),
        );
        assert!(r.discrepancies.is_empty(), "{:?}", r.discrepancies);
        assert_eq!(r.statement.map(|t| t.count), Some(2));
        assert_eq!(
            b.refund_totals(),
            Totals {
                count: 1,
                amount: "30.00".into()
            }
        );
    }

    #[test]
    fn the_report_serialises_in_the_documented_form() {
        let r = reconcile(
            "2026-03-02",
            "wxpay",
            &[("ORD1".into(), 10000)],
            &Bill::default(),
            None,
            Mistakes::default(),
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "business_date": "2026-03-02",
                "channel": "wxpay",
                "booked": {"count": 1, "amount": "100.00"},
                "statement": {"count": 0, "amount": "0.00"},
                "discrepancies": [
                    {"kind": "missing_in_statement", "reference": "ORD1", "books_amount": "100.00", "statement_amount": null}
                ],
                "refunds": {"booked": {"count": 0, "amount": "0.00"}, "statement": {"count": 0, "amount": "0.00"}}
            })
        );
    }
    #[test]
    fn a_bill_is_read_whole_or_not_at_all() {
        let whole = bill(&[
            row("RS01", "SUCCESS", "1.00"),
            row("RS02", "SUCCESS", "2.00"),
        ]);
        assert_eq!(parse_bill(whole.as_bytes()).unwrap().rows.len(), 2);
        for keep in [
            whole.len() / 2,
            whole.len() - 3,
            whole.find("总交易单数").unwrap(),
        ] {
            let cut = &whole.as_bytes()[..keep];
            assert!(
                matches!(
                    parse_bill(cut),
                    Err(BillError::CutOff(_) | BillError::BadLine { .. })
                ),
                "cut at {keep}: {:?}",
                parse_bill(cut)
            );
        }
        let (gbk, _, _) = encoding_rs::GBK.encode(&whole);
        assert_eq!(parse_bill(&gbk), Err(BillError::NotUtf8));
    }

    #[test]
    fn a_summary_that_does_not_add_up_is_one_summary_mismatch() {
        let r1 = row("RS01", "SUCCESS", "1.00");
        let text = format!(
            "{HEADER}\r\n{r1}\r\n{SUMMARY}\r\n`1,`1.01,`0.00,`0.00,`0.00600,`1.01,`0.00\r\n"
        );
        let b = parse_bill(text.as_bytes()).unwrap();
        assert_eq!(
            (b.summary_count, b.summary_amount_minor),
            (Some(1), Some(101))
        );
        let books = [("RS01".to_string(), 100)];
        let r = reconcile("2026-03-02", "wxpay", &books, &b, None, Mistakes::default());
        assert_eq!(r.discrepancies.len(), 1);
        assert_eq!(
            (
                r.discrepancies[0].kind,
                r.discrepancies[0].reference.as_deref()
            ),
            (Kind::SummaryMismatch, None)
        );
        let b = parse_bill(bill(&[r1]).as_bytes()).unwrap();
        let r = reconcile("2026-03-02", "wxpay", &books, &b, None, Mistakes::default());
        assert!(r.discrepancies.is_empty(), "{:?}", r.discrepancies);
    }

    #[test]
    fn without_a_statement_the_report_says_why_and_nothing_else() {
        let r = without_statement(
            "2026-03-02",
            "wxpay",
            &[("ORD1".into(), 10000)],
            Kind::StatementLate,
        );
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({
                "business_date": "2026-03-02",
                "channel": "wxpay",
                "booked": {"count": 1, "amount": "100.00"},
                "statement": null,
                "discrepancies": [
                    {"kind": "statement_late", "reference": null, "books_amount": null, "statement_amount": null}
                ],
                "refunds": {"booked": {"count": 0, "amount": "0.00"}, "statement": null}
            })
        );
    }
}
