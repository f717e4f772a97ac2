//! Reconciliation (对账): read the channel's bill for a business day and compare it, trade by
//! trade, with the books. Pure functions: the download is in `wxpay.rs`, the books in
//! `store.rs`.
//!
//! The WeChat Pay v2 ALL bill is text: a header line, one detail row per trade with every
//! field prefixed by a backtick, then the `总交易单数,…` summary header and one summary row.
//! Lines end with `\r\n` (we accept `\n` too).
//!
//! Refund rows (`交易状态` `REFUND`) are listed but not reconciled: this system books no
//! refunds (the adapter contract has none), so it has nothing to match them against.

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
/// The trade status of a refund row.
const STATE_REFUND: &str = "REFUND";
/// First cell of the summary header: the detail rows end here.
const SUMMARY_FIRST_CELL: &str = "总交易单数";

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
    /// The summary row's trade count, when there is one.
    pub summary_count: Option<u64>,
}

/// Why a bill could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillError {
    /// The header lacks a column we need.
    #[error("the bill header has no `{0}` column")]
    MissingColumn(&'static str),
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

/// Parse the text of an ALL bill.
pub fn parse_bill(text: &str) -> Result<Bill, BillError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Ok(Bill::default());
    };
    let columns: Vec<&str> = header.split(',').map(cell).collect();
    let find = |name: &'static str| columns.iter().position(|c| *c == name);
    let i_no = find(COL_OUT_TRADE_NO).ok_or(BillError::MissingColumn(COL_OUT_TRADE_NO))?;
    let i_state = find(COL_STATE).ok_or(BillError::MissingColumn(COL_STATE))?;
    let i_amount = find(COL_ORDER_AMOUNT)
        .or_else(|| find(COL_SETTLEMENT_AMOUNT))
        .ok_or(BillError::MissingColumn(COL_ORDER_AMOUNT))?;
    let i_fee = find(COL_FEE);

    let mut bill = Bill::default();
    while let Some((index, line)) = lines.next() {
        let line_no = index + 1;
        let bad = |reason: String| BillError::BadLine {
            line: line_no,
            reason,
        };
        if cell(line).starts_with(SUMMARY_FIRST_CELL) {
            if let Some((index, summary)) = lines.next() {
                let first = summary.split(',').map(cell).next().unwrap_or("");
                let count = first.parse::<u64>().map_err(|_| BillError::BadLine {
                    line: index + 1,
                    reason: format!("summary trade count `{first}` is not a number"),
                })?;
                bill.summary_count = Some(count);
            }
            break;
        }
        if !line.starts_with('`') {
            return Err(bad(
                "neither a backtick-prefixed detail row nor the summary header".into(),
            ));
        }
        let fields: Vec<&str> = line.split(',').map(cell).collect();
        if fields.len() != columns.len() {
            return Err(bad(format!(
                "{} fields where the header has {}",
                fields.len(),
                columns.len()
            )));
        }
        let amount_text = fields[i_amount];
        let amount_minor = Money::parse(amount_text, Currency::Cny)
            .and_then(|m| m.to_minor())
            .map_err(|e| bad(format!("amount `{amount_text}`: {e}")))?;
        let fee = match i_fee.map(|i| fields[i]) {
            None => None,
            Some(text) => Some(
                Decimal::from_str(text)
                    .map_err(|_| bad(format!("fee `{text}` is not a decimal amount")))?,
            ),
        };
        bill.rows.push(BillRow {
            out_trade_no: fields[i_no].to_string(),
            trade_state: fields[i_state].to_string(),
            amount_minor,
            fee,
        });
    }
    Ok(bill)
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
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discrepancy {
    /// What kind.
    pub kind: Kind,
    /// The merchant order number (`out_trade_no`).
    pub reference: String,
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
    /// The statement's detail rows.
    pub statement: Totals,
    /// Every difference, sorted by reference then kind.
    pub discrepancies: Vec<Discrepancy>,
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

/// Compare the day's books (`(out_trade_no, amount_minor)` per booked payment) with a bill.
///
/// Books are summed per order number, so a payment booked twice (a bug) shows as an amount
/// mismatch rather than disappearing. For a trade the statement lists more than once, the
/// first row is compared and one `duplicate_in_statement` reports the repetition. With a
/// `fee_rate` (our contract with the channel), each payment's expected fee is its amount
/// times the rate, rounded half away from zero to the fen, and a different statement fee is
/// a `fee_mismatch`; without one, fees are not compared.
pub fn reconcile(
    business_date: &str,
    channel: &str,
    books: &[(String, i64)],
    bill: &Bill,
    fee_rate: Option<Decimal>,
) -> Report {
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
        theirs
            .entry(row.out_trade_no.as_str())
            .or_default()
            .push(row);
    }
    let references: BTreeSet<&str> = ours.keys().chain(theirs.keys()).copied().collect();
    let mut discrepancies = Vec::new();
    for reference in references {
        let booked = ours.get(reference).copied();
        let rows = theirs.get(reference).map(Vec::as_slice).unwrap_or(&[]);
        let mut push =
            |kind: Kind, books_amount: Option<String>, statement_amount: Option<String>| {
                discrepancies.push(Discrepancy {
                    kind,
                    reference: reference.to_string(),
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
                if row.amount_minor != amount {
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
                        push(
                            Kind::FeeMismatch,
                            Some(fee_text(expected_fee)),
                            Some(fee_text(fee)),
                        );
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
    discrepancies.sort_by(|a, b| (&a.reference, a.kind).cmp(&(&b.reference, b.kind)));
    let booked_total = books
        .iter()
        .fold(0i64, |acc, (_, a)| acc.saturating_add(*a));
    let statement_total = bill
        .rows
        .iter()
        .fold(0i64, |acc, r| acc.saturating_add(r.amount_minor));
    Report {
        business_date: business_date.to_string(),
        channel: channel.to_string(),
        booked: Totals {
            count: books.len(),
            amount: major(booked_total),
        },
        statement: Totals {
            count: bill.rows.len(),
            amount: major(statement_total),
        },
        discrepancies,
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
        text.push_str("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n");
        text.push_str(&format!(
            "`{},`0.00,`0.00,`0.00,`0.00000,`0.00,`0.00\r\n",
            rows.len()
        ));
        text
    }

    #[test]
    fn reads_rows_until_the_summary() {
        let b = parse_bill(&bill(&[
            row("RS01", "SUCCESS", "100.00"),
            row("RS02", "SUCCESS", "0.01"),
        ]))
        .unwrap();
        assert_eq!(b.rows.len(), 2);
        assert_eq!(
            b.rows[0],
            BillRow {
                out_trade_no: "RS01".into(),
                trade_state: "SUCCESS".into(),
                amount_minor: 10000,
                fee: Some(Decimal::new(6, 1))
            }
        );
        assert_eq!(b.rows[1].amount_minor, 1);
        assert_eq!(b.summary_count, Some(2));
    }

    #[test]
    fn accepts_bare_newlines_and_refuses_broken_rows() {
        let text = bill(&[row("RS01", "SUCCESS", "1.00")]).replace("\r\n", "\n");
        assert_eq!(parse_bill(&text).unwrap().rows.len(), 1);
        let short = format!("{HEADER}\n`a,`b\n");
        assert!(matches!(
            parse_bill(&short),
            Err(BillError::BadLine { line: 2, .. })
        ));
        let float = bill(&[row("RS01", "SUCCESS", "1.005")]);
        assert!(parse_bill(&float).is_err());
        assert!(matches!(
            parse_bill("a,b,c\n"),
            Err(BillError::MissingColumn(_))
        ));
    }

    #[test]
    fn an_empty_statement_and_empty_books_agree() {
        let r = reconcile("2026-03-02", "wxpay", &[], &Bill::default(), Some(rate()));
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
        let b = parse_bill(&bill(&[
            row("RS01", "SUCCESS", "100.00"),
            row("RS02", "SUCCESS", "99.00"),
            row("RS03", "REVOKED", "3.00"),
            row("RS04", "SUCCESS", "4.00"),
            row("RS04", "SUCCESS", "4.00"),
            row("RS05", "SUCCESS", "5.00"),
        ]))
        .unwrap();
        let books = vec![
            ("RS01".to_string(), 10000),
            ("RS02".to_string(), 10000),
            ("RS03".to_string(), 300),
            ("RS04".to_string(), 400),
            ("RS06".to_string(), 600),
        ];
        let r = reconcile("2026-03-02", "wxpay", &books, &b, None);
        let kinds: Vec<(Kind, &str)> = r
            .discrepancies
            .iter()
            .map(|d| (d.kind, d.reference.as_str()))
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
            Totals {
                count: 6,
                amount: "215.00".into()
            }
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
        let b = parse_bill(&bill(&[
            row_with_fee("RS01", "SUCCESS", "100.00", "0.60000"),
            row_with_fee("RS02", "SUCCESS", "2.50", "0.02000"),
            row_with_fee("RS03", "SUCCESS", "100.00", "0.61000"),
        ]))
        .unwrap();
        let books = vec![
            ("RS01".to_string(), 10000),
            ("RS02".to_string(), 250),
            ("RS03".to_string(), 10000),
        ];
        let r = reconcile("2026-03-02", "wxpay", &books, &b, Some(rate()));
        assert_eq!(
            r.discrepancies,
            vec![Discrepancy {
                kind: Kind::FeeMismatch,
                reference: "RS03".into(),
                books_amount: Some("0.60".into()),
                statement_amount: Some("0.61".into())
            }]
        );
        assert!(reconcile("2026-03-02", "wxpay", &books, &b, None)
            .discrepancies
            .is_empty());
    }

    #[test]
    fn refund_rows_are_not_payments_and_not_duplicates() {
        let b = parse_bill(&bill(&[
            row("RS01", "SUCCESS", "100.00"),
            row_with_fee("RS01", "REFUND", "0.00", "-0.60000"),
        ]))
        .unwrap();
        let r = reconcile(
            "2026-03-02",
            "wxpay",
            &[("RS01".to_string(), 10000)],
            &b,
            Some(rate()),
        );
        assert!(r.discrepancies.is_empty(), "{:?}", r.discrepancies);
        assert_eq!(r.statement.count, 2);
    }

    #[test]
    fn the_report_serialises_in_the_documented_form() {
        let r = reconcile(
            "2026-03-02",
            "wxpay",
            &[("ORD1".into(), 10000)],
            &Bill::default(),
            None,
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
                ]
            })
        );
    }
}
