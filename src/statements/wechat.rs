//! The WeChat Pay v2 bill (`pay/downloadbill`), per PROTOCOLS.md A.5.
//!
//! Text, comma-separated; the detail header of the current ALL bill, then one row per
//! trade with every field prefixed by a backtick, then the summary header and row. Amounts
//! in yuan with 2 decimals, the fee with 5, the rate as `x.xx%`. Lines end with `\r\n`
//! (the terminator is unconfirmed in PROTOCOLS.md; CSV readers accept both).
//! A day without trades answers the XML `No Bill Exist` (`error_code` 20002); a day's bill
//! exists from 09:00 Beijing time the next day.

use super::{day_window, DayWindow};
use crate::channels::wxpay::{self, xml, WxOrder};
use crate::channels::ChannelState;
use crate::clock::SHANGHAI;
use crate::http::Reply;
use crate::ledger::PostingKind;
use crate::money::{Currency, Money};
use crate::scenario::{ChannelSpec, WxMerchant};
use crate::world::WorldState;
use chrono::{Duration, NaiveDate};
use hyper::StatusCode;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::io::Write;

/// The header of the ALL bill for merchants on the coupon-free (免充值) settlement.
pub const ALL_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";

/// The header of the summary.
pub const SUMMARY_HEADER: &str = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";

/// Hours after the day's cut-off at which the bill exists (09:00 the next day).
pub const BILL_READY_AFTER_HOURS: i64 = 9;

fn no_bill() -> Reply {
    Reply::xml(xml::write([("return_code", "FAIL"), ("return_msg", "No Bill Exist"), ("error_code", "20002")]))
}

fn bill_fail(msg: &str) -> Reply {
    Reply::xml(xml::write([("return_code", "FAIL"), ("return_msg", msg), ("error_code", "20001")]))
}

/// `rate` as WeChat prints it: `0.60%`.
pub fn rate_percent(rate: Decimal) -> String {
    let mut pct = (rate * Decimal::from(100)).round_dp(2);
    pct.rescale(2);
    format!("{pct}%")
}

/// Serve `pay/downloadbill` for `merchant`.
pub fn downloadbill(st: &mut WorldState, spec: &ChannelSpec, merchant: &WxMerchant, f: &BTreeMap<String, String>) -> Reply {
    let Some(date) = f.get("bill_date").and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok()) else {
        return bill_fail("invalid bill_date");
    };
    let bill_type = f.get("bill_type").map(String::as_str).filter(|t| !t.is_empty()).unwrap_or("ALL");
    if !matches!(bill_type, "ALL" | "SUCCESS" | "REFUND") {
        return bill_fail("invalid bill_type");
    }
    let gzip = match f.get("tar_type").map(String::as_str) {
        None | Some("") => false,
        Some("GZIP") => true,
        Some(_) => return bill_fail("invalid tar_type"),
    };
    let window = day_window(date);
    if st.clock.now() < window.end + Duration::hours(BILL_READY_AFTER_HOURS) {
        return no_bill();
    }
    let mut body = Vec::new();
    // Writing into a Vec cannot fail.
    let rows = write_bill(&mut body, st, spec, &merchant.mch_id, window, bill_type).unwrap_or(0);
    if rows == 0 {
        return no_bill();
    }
    if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let _ = enc.write_all(&body);
        let gz = enc.finish().unwrap_or_default();
        return Reply::new(StatusCode::OK, "application/x-gzip", gz);
    }
    Reply::new(StatusCode::OK, "text/plain; charset=utf-8", body)
}

fn orders_of<'a>(st: &'a WorldState, spec: &ChannelSpec) -> Option<&'a BTreeMap<(String, String), WxOrder>> {
    match st.channels.get(&spec.id)? {
        ChannelState::WechatPayV2(ws) => Some(&ws.orders),
    }
}

/// Stream the bill of `mch_id` for `window` into `out`; returns the number of detail rows.
/// Rows come from the ledger's payment postings in the window (the truth), joined with the
/// channel's order records for their descriptive fields.
pub fn write_bill(out: &mut impl Write, st: &WorldState, spec: &ChannelSpec, mch_id: &str, window: DayWindow, bill_type: &str) -> std::io::Result<usize> {
    let account = wxpay::merchant_account(&spec.id, mch_id);
    let Some(orders) = orders_of(st, spec) else { return Ok(0) };
    let mut count = 0usize;
    let zero = Money::zero(Currency::Cny);
    let (mut total, mut fees) = (zero, zero);
    let mut header_written = false;
    if bill_type == "REFUND" {
        // No refunds exist in the world yet; a REFUND bill of a day is therefore empty.
        return Ok(0);
    }
    for p in st.ledger.postings() {
        if p.kind != PostingKind::Payment || p.instance != spec.id || !window.contains(p.at) {
            continue;
        }
        let Some(leg) = p.legs.iter().find(|l| l.account == account) else { continue };
        let Some(o) = orders.get(&(mch_id.to_string(), p.reference.clone())) else { continue };
        if !header_written {
            out.write_all(ALL_HEADER.as_bytes())?;
            out.write_all(b"\r\n")?;
            header_written = true;
        }
        let amount = leg.amount;
        let fee = o.fee.unwrap_or(zero);
        let time = p.at.with_timezone(&SHANGHAI).format("%Y-%m-%d %H:%M:%S").to_string();
        let fields: [&str; 27] = [
            &time,
            &o.appid,
            &o.mch_id,
            "0",
            o.device_info.as_deref().unwrap_or(""),
            o.transaction_id.as_deref().unwrap_or(""),
            &o.out_trade_no,
            o.openid.as_deref().unwrap_or(""),
            &o.trade_type,
            "SUCCESS",
            "OTHERS",
            "CNY",
            &amount.major_string(),
            "0.00",
            "0",
            "0",
            "0.00",
            "0.00",
            "",
            "",
            &o.body,
            o.attach.as_deref().unwrap_or(""),
            &fee.fixed(5),
            &rate_percent(spec.fee_rate),
            &amount.major_string(),
            "0.00",
            "",
        ];
        write_row(out, &fields)?;
        total = total.checked_add(amount).unwrap_or(total);
        fees = fees.checked_add(fee).unwrap_or(fees);
        count += 1;
    }
    if count > 0 {
        out.write_all(SUMMARY_HEADER.as_bytes())?;
        out.write_all(b"\r\n")?;
        let n = count.to_string();
        let summary = [n.as_str(), &total.major_string(), "0.00", "0.00", &fees.fixed(5), &total.major_string(), "0.00"];
        write_row(out, &summary)?;
    }
    Ok(count)
}

/// One backtick-prefixed, comma-separated line. Commas inside a field (a product name)
/// would break the columns; WeChat's bill does not quote, so they are replaced by spaces.
fn write_row(out: &mut impl Write, fields: &[&str]) -> std::io::Result<()> {
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
}
