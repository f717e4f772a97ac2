//! The WeChat Pay v2 bill (`pay/downloadbill`), per docs/protocols.md, "A.5 downloadbill and
//! the bill format".
//!
//! Text, comma-separated; the detail header of the bill type, then one row per trade or
//! refund with every field prefixed by a backtick, then the summary header and row.
//! Amounts in yuan with 2 decimals, the fee with 5, the rate as `x.xx%`. Lines end with
//! `\r\n` (the terminator is unconfirmed; CSV readers accept both).
//! Nothing is quoted: a comma, line break or backtick inside a text field is written as a
//! space (docs/statements.md, "Text fields neither bill can carry").
//!
//! - `bill_type`: `ALL` lists payments and refunds ([`ALL_HEADER`], 27 columns), `SUCCESS`
//!   payments only ([`SUCCESS_HEADER`], 20: no refund columns), `REFUND` refunds only
//!   ([`REFUND_HEADER`], 29: 退款申请时间 and 退款成功时间 added). A refund row of the REFUND
//!   bill is dated (交易时间) by its order's payment, of the ALL bill by the refund's success.
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

use super::{DayWindow, Entry, EntryKind, EntryStatus, StatementHead, WRITE_BUFFER_BYTES};
use crate::clock::Instant;
use chrono::{Datelike, Duration, Timelike};
use rust_decimal::Decimal;
use std::io::{self, BufWriter, Write};

/// The header of the ALL bill for merchants on the coupon-free (免充值) settlement: 27
/// columns.
pub const ALL_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";

/// The header of the SUCCESS bill (payments only) of the same settlement: 20 columns, the
/// ALL bill's without its refund columns and 申请退款金额.
pub const SUCCESS_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注";

/// The header of the REFUND bill (refunds only) of the same settlement: 29 columns, the
/// ALL bill's with 退款申请时间 and 退款成功时间 before 微信退款单号.
pub const REFUND_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";

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
    /// The bill's header line (without its line end).
    pub fn header(self) -> &'static str {
        match self {
            BillType::All => ALL_HEADER,
            BillType::Success => SUCCESS_HEADER,
            BillType::Refund => REFUND_HEADER,
        }
    }

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

/// Stream the bill of `bill_type`: its header, one row per entry, summary (from
/// `head.totals`). The caller filters `entries` with [`includes`]; `head` was totalled over
/// the same stream.
///
/// Each row is put together in one reused buffer (times, amounts and the rate written
/// straight into it, the rate formatted once per distinct rate) and handed to the buffered
/// writer in one piece: a million-row bill allocates nothing per row.
pub fn write_bill<W: Write>(
    out: W,
    bill_type: BillType,
    head: &StatementHead,
    entries: impl Iterator<Item = Entry>,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(WRITE_BUFFER_BYTES, out);
    out.write_all(bill_type.header().as_bytes())?;
    out.write_all(b"\r\n")?;
    let w = &head.window;
    let mut row = Row::default();
    let mut rate: Option<(Decimal, String)> = None;
    for e in entries {
        let rate_s = match &rate {
            Some((r, s)) if *r == e.details.fee_rate => s.as_str(),
            _ => {
                let (_, s) = rate.insert((e.details.fee_rate, rate_percent(e.details.fee_rate)));
                s.as_str()
            }
        };
        row.clear();
        write_detail(&mut row, bill_type, w, &e, rate_s);
        out.write_all(row.end())?;
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

/// The fields of `e`'s detail row in the layout of `bill_type` ([`BillType::header`]).
fn write_detail(row: &mut Row, bill_type: BillType, w: &DayWindow, e: &Entry, rate: &str) {
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
    // The REFUND bill dates a refund by its order's payment; the ALL bill by the refund.
    let traded = match bill_type {
        BillType::Refund => d.paid_at.unwrap_or(e.at),
        BillType::All | BillType::Success => e.at,
    };
    row.time(w, traded);
    row.text(&d.app_id);
    row.text(&d.merchant_id);
    row.text("0");
    row.text(&d.device_info);
    row.text(&e.issuer_ref);
    row.text(&e.reference);
    row.text(&d.payer);
    row.text(&d.trade_type);
    row.text(trade_state);
    row.text("OTHERS");
    row.text(e.amount.currency.code());
    row.yuan(settle, 2);
    row.text("0.00");
    match bill_type {
        BillType::All => {
            let zero_or_empty = if is_refund { "" } else { "0" };
            row.text(e.refund_id.as_deref().unwrap_or(zero_or_empty));
            row.text(e.refund_reference.as_deref().unwrap_or(zero_or_empty));
            row.yuan(refund, 2);
            row.text("0.00");
            row.text(if is_refund { "ORIGINAL" } else { "" });
            row.text(refund_state);
        }
        BillType::Success => {}
        BillType::Refund => {
            row.time(w, d.refund_requested_at.unwrap_or(e.at));
            // Only a refund that succeeded has a success time.
            if e.status == EntryStatus::Booked {
                row.time(w, e.at);
            } else {
                row.text("");
            }
            row.text(e.refund_id.as_deref().unwrap_or(""));
            row.text(e.refund_reference.as_deref().unwrap_or(""));
            row.yuan(refund, 2);
            row.text("0.00");
            row.text("ORIGINAL");
            row.text(refund_state);
        }
    }
    row.text(&d.subject);
    row.text(&d.attach);
    row.yuan(e.fee.amount, 5);
    row.text(rate);
    row.yuan(settle, 2);
    if bill_type != BillType::Success {
        row.yuan(refund, 2);
    }
    row.text("");
}

/// One bill line being put together: backtick-prefixed, comma-separated fields.
#[derive(Debug, Default)]
struct Row {
    buf: Vec<u8>,
}

impl Row {
    fn clear(&mut self) {
        self.buf.clear();
    }

    /// Start the next field: a comma after the previous one, then the backtick.
    fn next_field(&mut self) {
        if !self.buf.is_empty() {
            self.buf.push(b',');
        }
        self.buf.push(b'`');
    }

    /// A text field. A comma, a line break or a backtick inside a field (a product name, an
    /// attach) would break the columns: WeChat's bill does not quote, and readers split a
    /// row on commas or, as WxJava does, on the backtick each field starts with. They are
    /// replaced by spaces.
    fn text(&mut self, f: &str) {
        self.next_field();
        let bytes = f.as_bytes();
        let separator = |b: u8| matches!(b, b',' | b'\r' | b'\n' | b'`');
        if bytes.iter().any(|&b| separator(b)) {
            // ASCII bytes never occur inside a multi-byte UTF-8 sequence.
            self.buf
                .extend(bytes.iter().map(|&b| if separator(b) { b' ' } else { b }));
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// `t` as `YYYY-MM-DD HH:MM:SS` in the window's time zone.
    fn time(&mut self, w: &DayWindow, t: Instant) {
        self.next_field();
        push_local_time(&mut self.buf, w, t);
    }

    /// An amount in yuan with `dp` decimals (see [`yuan`]).
    fn yuan(&mut self, d: Decimal, dp: u32) {
        self.next_field();
        push_yuan(&mut self.buf, d, dp);
    }

    /// The finished line, with its `\r\n`.
    fn end(&mut self) -> &[u8] {
        self.buf.extend_from_slice(b"\r\n");
        &self.buf
    }
}

/// Append `t` as [`DayWindow::local_time`] prints it, without formatting machinery.
fn push_local_time(buf: &mut Vec<u8>, w: &DayWindow, t: Instant) {
    let local = t.with_timezone(&w.tz).naive_local();
    let year = local.year();
    if !(0..=9999).contains(&year) {
        buf.extend_from_slice(w.local_time(t).as_bytes());
        return;
    }
    let digits = |buf: &mut Vec<u8>, v: u32, width: usize| push_digits(buf, v.into(), width);
    digits(buf, year as u32, 4);
    buf.push(b'-');
    digits(buf, local.month(), 2);
    buf.push(b'-');
    digits(buf, local.day(), 2);
    buf.push(b' ');
    digits(buf, local.hour(), 2);
    buf.push(b':');
    digits(buf, local.minute(), 2);
    buf.push(b':');
    // A leap second shows as :60, as chrono prints it.
    digits(buf, local.second() + local.nanosecond() / 1_000_000_000, 2);
}

/// Append `d` as [`yuan`] prints it: rounded half away from zero to `dp` decimals, no sign
/// on zero.
fn push_yuan(buf: &mut Vec<u8>, d: Decimal, dp: u32) {
    let (m, scale) = (d.mantissa(), d.scale());
    // Amounts of a bill (at most `money::MAX_MAJOR`, 2 to 5 decimals) fit 64 bits; the
    // rest take the slow road.
    let small = scale <= 18 && dp <= 18 && i64::try_from(m).is_ok();
    let q = if !small {
        None
    } else if scale <= dp {
        i64::try_from(m)
            .ok()
            .and_then(|m| m.checked_mul(10i64.pow(dp - scale)))
    } else {
        let p = 10i64.pow(scale - dp);
        i64::try_from(m).ok().map(|m| {
            let (q, r) = (m / p, m % p);
            if r.unsigned_abs() * 2 >= p.unsigned_abs() {
                q + m.signum()
            } else {
                q
            }
        })
    };
    let Some(q) = q else {
        buf.extend_from_slice(yuan(d, dp).as_bytes());
        return;
    };
    if q < 0 {
        buf.push(b'-');
    }
    let q = q.unsigned_abs();
    let unit = 10u64.pow(dp);
    push_digits(buf, q / unit, 1);
    if dp > 0 {
        buf.push(b'.');
        push_digits(buf, q % unit, dp as usize);
    }
}

/// Append `v` in decimal, zero-padded to at least `width` digits.
fn push_digits(buf: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    while v > 0 {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = i.min(digits.len().saturating_sub(width.max(1)));
    buf.extend_from_slice(&digits[start..]);
}

/// One backtick-prefixed, comma-separated line (the summary).
fn write_row(out: &mut impl Write, fields: &[&str]) -> io::Result<()> {
    let mut row = Row::default();
    for f in fields {
        row.text(f);
    }
    out.write_all(row.end())
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
    fn headers_have_27_20_and_29_columns() {
        assert_eq!(ALL_HEADER.split(',').count(), 27);
        assert_eq!(SUCCESS_HEADER.split(',').count(), 20);
        assert_eq!(REFUND_HEADER.split(',').count(), 29);
        assert_eq!(SUMMARY_HEADER.split(',').count(), 7);
    }

    #[test]
    fn rows_are_backticked_and_commas_neutralised() {
        let mut out = Vec::new();
        write_row(&mut out, &["a", "b,c", "", "d`e\r\n"]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "`a,`b c,`,`d e  \r\n");
    }

    /// A payment whose product name (`body`) and attach hold every character a bill row
    /// cannot carry, read back as WxJava reads a bill (`WxPayBillResult`): the detail part
    /// (up to the summary header), commas made spaces, split on backticks, so many fields a
    /// row as the header has columns, each trimmed.
    #[test]
    fn a_backtick_in_a_text_field_does_not_shift_the_columns() {
        let (head, e) = crate::statements::one_payment(
            "1900000109",
            crate::statements::Details {
                subject: "tea `green`, 2\r\npcs".into(),
                attach: "a`b".into(),
                fee_rate: Decimal::new(6, 3),
                ..Default::default()
            },
        );
        for bill_type in [BillType::All, BillType::Success] {
            let mut out = Vec::new();
            write_bill(&mut out, bill_type, &head, std::iter::once(e.clone())).unwrap();
            let text = String::from_utf8(out).unwrap();
            let detail = &text[..text.find("总交易单数").unwrap()];
            let detail = detail.replace(',', " ");
            let fields: Vec<&str> = detail.split('`').skip(1).map(str::trim).collect();
            let columns: Vec<&str> = bill_type.header().split(',').collect();
            assert_eq!(fields.len(), columns.len(), "{bill_type:?}: {text}");
            let column = |name: &str| fields[columns.iter().position(|c| *c == name).unwrap()];
            assert_eq!(column("商品名称"), "tea  green   2  pcs", "{bill_type:?}");
            assert_eq!(column("商户数据包"), "a b", "{bill_type:?}");
            assert_eq!(column("手续费"), "0.06000", "{bill_type:?}");
        }
    }

    #[test]
    fn fees_print_with_five_decimals_and_sign() {
        assert_eq!(yuan(Decimal::new(-6, 5), 5), "-0.00006");
        assert_eq!(yuan(Decimal::new(1, 2), 5), "0.01000");
    }

    #[test]
    fn amounts_written_in_place_print_as_formatted() {
        let cases = [
            Decimal::ZERO,
            Decimal::new(-0, 2),
            Decimal::new(5, 3),
            Decimal::new(-5, 3),
            Decimal::new(-4, 3),
            Decimal::new(123_456_789, 4),
            Decimal::new(-123_456_785, 4),
            Decimal::new(1_000_000_000_000, 0),
            Decimal::new(7, 28),
            Decimal::new(-6, 5),
            Decimal::new(149_999, 5),
            Decimal::new(i64::MAX, 0),
            Decimal::MAX,
            Decimal::MIN,
        ];
        for d in cases {
            for dp in [0, 2, 5] {
                let mut buf = Vec::new();
                push_yuan(&mut buf, d, dp);
                assert_eq!(String::from_utf8(buf).unwrap(), yuan(d, dp), "{d} at {dp}");
            }
        }
    }

    #[test]
    fn times_written_in_place_print_as_formatted() {
        let w = crate::clock::day_window(chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        for t in [
            w.start,
            w.end,
            w.start + Duration::seconds(86_399),
            w.start + Duration::milliseconds(1_500),
            w.start - Duration::days(400),
        ] {
            let mut buf = Vec::new();
            push_local_time(&mut buf, &w, t);
            assert_eq!(String::from_utf8(buf).unwrap(), w.local_time(t));
        }
    }
}
