//! Reading the WeChat Pay v2 ALL bill (`pay/downloadbill`), strictly.
//!
//! The bill is text: a header line, one detail row per trade with every field prefixed by a
//! backtick, then the `总交易单数,…` summary header and one summary row. Lines end with `\r\n`
//! (we accept `\n` too).
//!
//! Refund rows (`交易状态` `REFUND`) are read with their `退款金额`; what they mean for the
//! report is `recon.rs`'s business.
//!
//! A bill is read whole or not at all: one that is not UTF-8, ends mid-line, or lacks its
//! summary is *unreadable* — never reconciled from the part that happened to arrive (that
//! would report the cut-off trades as missing).

use crate::recon::{Bill, BillError, BillRow, STATE_REFUND};
use rust_decimal::Decimal;
use sandbank::money::{Currency, Money};
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
/// First cell of the summary header: the detail rows end here.
const SUMMARY_FIRST_CELL: &str = "总交易单数";
/// Summary column of the total order amount.
const COL_SUMMARY_ORDER_AMOUNT: &str = "订单总金额";
/// Older bills' summary has only the settlement total.
const COL_SUMMARY_SETTLEMENT_AMOUNT: &str = "应结订单总金额";

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

/// Bills written the way WeChat writes them, for the tests here and in `recon.rs`.
#[cfg(test)]
pub mod fixtures {
    use rust_decimal::Decimal;
    use std::str::FromStr;

    pub const HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";

    pub fn rate() -> Decimal {
        Decimal::new(6, 3)
    }

    pub fn row_with_fee(no: &str, state: &str, amount: &str, fee: &str) -> String {
        format!("`2026-03-02 10:00:00,`wx2421b1c4370ec43b,`10000100,`0,`,`4200000001,`{no},`oUser,`NATIVE,`{state},`OTHERS,`CNY,`{amount},`0.00,`0,`0,`0.00,`0.00,`,`,`goods,`,`{fee},`0.60%,`{amount},`0.00,`")
    }

    pub fn row(no: &str, state: &str, amount: &str) -> String {
        row_with_fee(no, state, amount, "0.60000")
    }

    pub fn bill(rows: &[String]) -> String {
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

    pub const SUMMARY: &str = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

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
}
