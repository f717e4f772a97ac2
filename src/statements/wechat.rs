//! The WeChat Pay v2 bill (`pay/downloadbill`), per docs/protocols.md, "A.5 downloadbill and
//! the bill format".
//!
//! Text, comma-separated; the detail header of the current ALL bill, then one row per trade
//! or refund with every field prefixed by a backtick, then the summary header and row.
//! Amounts in yuan with 2 decimals, the fee with 5, the rate as `x.xx%`. Lines end with
//! `\r\n` (the terminator is unconfirmed; CSV readers accept both).
//!
//! - `bill_type`: `ALL` lists payments and refunds, `SUCCESS` payments only, `REFUND` refunds
//!   only. Only the ALL header is confirmed (docs/protocols.md, A.5), so all three use it.
//! - A payment row: 交易状态 `SUCCESS`, 应结订单金额 and 订单金额 the amount, the refund
//!   columns zero or empty. A refund row: 交易状态 `REFUND`, 应结订单金额 and 订单金额
//!   `0.00`, 退款金额 and 申请退款金额 the refund, 退款类型 `ORIGINAL`, 退款状态 `SUCCESS`,
//!   and the fee negative (the fee on the refunded part is given back).
//! - Summary: 总交易单数 counts the detail rows; the sums are of the columns above (the fee
//!   net of refunds).
//! - A day without rows of the asked type answers the XML `No Bill Exist` (`error_code`
//!   20002): no trades, an empty statement. A day's bill exists from 09:00 Beijing time the
//!   next day ([`BILL_READY_AFTER`]); before that (or while a `late` mismatch holds it) the
//!   answer is `Bill Creating` (`error_code` 20003, ours).

use super::{Entry, EntryKind, EntryStatus, StatementHead, WRITE_BUFFER_BYTES};
use chrono::Duration;
use rust_decimal::Decimal;
use std::io::{self, BufWriter, Write};

/// The header of the ALL bill for merchants on the coupon-free (免充值) settlement.
pub const ALL_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";

/// The header of the summary.
pub const SUMMARY_HEADER: &str =
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";

/// When a day's bill exists: 09:00 Beijing time the next day, i.e. this long after the cut-off.
pub const BILL_READY_AFTER: Duration = Duration::hours(9);

/// `rate` as WeChat prints it: `0.60%`.
pub fn rate_percent(rate: Decimal) -> String {
    let mut pct = (rate * Decimal::from(100)).round_dp(2);
    pct.rescale(2);
    format!("{pct}%")
}

fn yuan(d: Decimal, dp: u32) -> String {
    let mut a = d.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    a.rescale(dp);
    // A negated zero would print as `-0.00`.
    a.set_sign_positive(a.is_sign_positive() || a.is_zero());
    a.to_string()
}

/// A WeChat bill type (`bill_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillType {
    /// Payments and refunds.
    All,
    /// Payments only.
    Success,
    /// Refunds only.
    Refund,
}

impl BillType {
    /// Parse `ALL`, `SUCCESS` or `REFUND`.
    pub fn parse(s: &str) -> Option<BillType> {
        match s {
            "ALL" => Some(BillType::All),
            "SUCCESS" => Some(BillType::Success),
            "REFUND" => Some(BillType::Refund),
            _ => None,
        }
    }
}

/// True when `bill_type` lists `e`.
pub fn includes(bill_type: BillType, e: &Entry) -> bool {
    matches!(
        (bill_type, e.kind),
        (BillType::All, EntryKind::Payment | EntryKind::Refund)
            | (BillType::Success, EntryKind::Payment)
            | (BillType::Refund, EntryKind::Refund)
    )
}

/// Stream the bill: header, one row per entry, summary (from `head.totals`). The caller
/// filters `entries` with [`includes`]; `head` was totalled over the same stream.
pub fn write_bill<W: Write>(
    out: W,
    head: &StatementHead,
    entries: impl Iterator<Item = Entry>,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(WRITE_BUFFER_BYTES, out);
    out.write_all(ALL_HEADER.as_bytes())?;
    out.write_all(b"\r\n")?;
    let w = &head.window;
    for e in entries {
        let time = w.local_time(e.at);
        let abs = e.amount.amount.abs();
        let is_refund = e.kind == EntryKind::Refund;
        let (settle, refund) = if is_refund {
            (Decimal::ZERO, abs)
        } else {
            (abs, Decimal::ZERO)
        };
        let d = &e.details;
        let trade_state = match (is_refund, e.status) {
            (true, _) => "REFUND",
            (false, EntryStatus::Booked) => "SUCCESS",
            (false, EntryStatus::Pending) => "USERPAYING",
            (false, EntryStatus::Failed) => "PAYERROR",
        };
        let refund_state = match (is_refund, e.status) {
            (false, _) => "",
            (true, EntryStatus::Booked) => "SUCCESS",
            (true, EntryStatus::Pending) => "PROCESSING",
            (true, EntryStatus::Failed) => "REFUNDCLOSE",
        };
        let (settle_s, refund_s, fee_s, rate_s) = (
            yuan(settle, 2),
            yuan(refund, 2),
            yuan(e.fee.amount, 5),
            rate_percent(d.fee_rate),
        );
        let fields: [&str; 27] = [
            &time,
            &d.app_id,
            &d.merchant_id,
            "0",
            &d.device_info,
            &e.issuer_ref,
            &e.reference,
            &d.payer,
            &d.trade_type,
            trade_state,
            "OTHERS",
            e.amount.currency.code(),
            &settle_s,
            "0.00",
            e.refund_id
                .as_deref()
                .unwrap_or(if is_refund { "" } else { "0" }),
            e.refund_reference
                .as_deref()
                .unwrap_or(if is_refund { "" } else { "0" }),
            &refund_s,
            "0.00",
            if is_refund { "ORIGINAL" } else { "" },
            refund_state,
            &d.subject,
            &d.attach,
            &fee_s,
            &rate_s,
            &settle_s,
            &refund_s,
            "",
        ];
        write_row(&mut out, &fields)?;
    }
    out.write_all(SUMMARY_HEADER.as_bytes())?;
    out.write_all(b"\r\n")?;
    let t = &head.totals;
    let n = t.count.to_string();
    let summary = [
        n.as_str(),
        &yuan(t.payment_sum, 2),
        &yuan(t.refund_sum, 2),
        "0.00",
        &yuan(t.fee_sum, 5),
        &yuan(t.payment_sum, 2),
        &yuan(t.refund_sum, 2),
    ];
    write_row(&mut out, &summary)?;
    out.flush()
}

/// One backtick-prefixed, comma-separated line. Commas inside a field (a product name)
/// would break the columns; WeChat's bill does not quote, so they are replaced by spaces.
fn write_row(out: &mut impl Write, fields: &[&str]) -> io::Result<()> {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(b"`")?;
        if f.contains([',', '\r', '\n']) {
            out.write_all(f.replace([',', '\r', '\n'], " ").as_bytes())?;
        } else {
            out.write_all(f.as_bytes())?;
        }
    }
    out.write_all(b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_print_as_percent_with_two_decimals() {
        assert_eq!(rate_percent(Decimal::new(6, 3)), "0.60%");
        assert_eq!(rate_percent(Decimal::new(1, 2)), "1.00%");
        assert_eq!(rate_percent(Decimal::ZERO), "0.00%");
    }

    #[test]
    fn header_has_27_columns() {
        assert_eq!(ALL_HEADER.split(',').count(), 27);
        assert_eq!(SUMMARY_HEADER.split(',').count(), 7);
    }

    #[test]
    fn rows_are_backticked_and_commas_neutralised() {
        let mut out = Vec::new();
        write_row(&mut out, &["a", "b,c", ""]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "`a,`b c,`\r\n");
    }

    #[test]
    fn fees_print_with_five_decimals_and_sign() {
        assert_eq!(yuan(Decimal::new(-6, 5), 5), "-0.00006");
        assert_eq!(yuan(Decimal::new(1, 2), 5), "0.01000");
    }
}
