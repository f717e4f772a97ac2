//! The business parameters the trade and refund methods read from a gateway call, checked
//! in the gateway's words: order and request numbers, amounts, the subject, the notify URL,
//! a payment code, and the trade a call names (docs/protocols.md, "B.4").

use super::order::{AliOrder, AliState};
use super::request::GatewayCall;
use super::response::Code;
use crate::http::Reply;
use crate::money::{Currency, Money};

/// The largest `total_amount` the gateway takes (docs/protocols.md, "B.4").
pub const MAX_TOTAL_YUAN: i64 = 100_000_000;

/// `out_trade_no`: 1–64 letters, digits and underscores.
pub fn valid_out_trade_no(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A payment code (`auth_code`) as Alipay issues them: 16–24 digits starting 25–30.
pub fn valid_auth_code(s: &str) -> bool {
    (16..=24).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_digit())
        && matches!(&s[..2], "25" | "26" | "27" | "28" | "29" | "30")
}

/// An amount field in yuan: at most two decimals, positive, at most [`MAX_TOTAL_YUAN`];
/// the business error for anything else.
pub fn read_amount(call: &GatewayCall, field: &str) -> Result<Money, Reply> {
    let Some(text) = call.biz_str(field) else {
        return Err(call.business(
            "ACQ.INVALID_PARAMETER",
            &format!("参数无效: {field} 不能为空"),
        ));
    };
    let m = Money::parse(&text, Currency::Cny)
        .ok()
        .filter(|m| m.amount.is_sign_positive() && !m.amount.is_zero())
        .ok_or_else(|| {
            call.business(
                "ACQ.INVALID_PARAMETER",
                &format!("参数无效: {field} `{text}` (yuan, two decimals at most, more than 0)"),
            )
        })?;
    if m.amount > rust_decimal::Decimal::from(MAX_TOTAL_YUAN) {
        return Err(call.business("ACQ.TOTAL_FEE_EXCEED", "订单金额超过限额"));
    }
    Ok(m)
}

/// The checked `out_trade_no`, or the business error.
pub fn read_out_trade_no(call: &GatewayCall) -> Result<String, Reply> {
    match call.biz_str("out_trade_no") {
        None => Err(call.business("ACQ.INVALID_PARAMETER", "参数无效: out_trade_no 不能为空")),
        Some(n) if !valid_out_trade_no(&n) => Err(call.business(
            "ACQ.INVALID_PARAMETER",
            "参数无效: out_trade_no (1-64 letters, digits, underscores)",
        )),
        Some(n) => Ok(n),
    }
}

/// The checked `subject`, or the business error.
pub fn read_subject(call: &GatewayCall) -> Result<String, Reply> {
    match call.biz_str("subject") {
        None => Err(call.business("ACQ.INVALID_PARAMETER", "参数无效: subject 不能为空")),
        Some(s) if s.chars().count() > 256 => Err(call.business(
            "ACQ.INVALID_PARAMETER",
            "参数无效: subject is longer than 256 characters",
        )),
        Some(s) => Ok(s),
    }
}

/// The checked `notify_url` (a common parameter), or the business error.
pub fn read_notify_url(call: &GatewayCall) -> Result<Option<String>, Reply> {
    match call.param("notify_url") {
        None => Ok(None),
        Some(u) if (u.starts_with("http://") || u.starts_with("https://")) && u.len() <= 256 => {
            Ok(Some(u.to_string()))
        }
        Some(_) => Err(call.fail(
            Code::Invalid,
            "isv.invalid-parameter",
            "参数无效: notify_url (an http or https URL of 256 characters at most)",
            Vec::new(),
        )),
    }
}

/// The trade a query, close, cancel or refund names: by `trade_no` (which wins) or
/// `out_trade_no`, of the calling merchant; the business error otherwise. A precreated
/// trade nobody scanned does not exist yet.
pub fn lookup<'a>(state: &'a AliState, call: &GatewayCall) -> Result<&'a AliOrder, Reply> {
    let found = match (call.biz_str("trade_no"), call.biz_str("out_trade_no")) {
        (Some(t), _) => state.by_trade_no(&t),
        (None, Some(o)) => state.get(&call.app.pid, &o),
        (None, None) => {
            return Err(call.business(
                "ACQ.INVALID_PARAMETER",
                "参数无效: out_trade_no 和 trade_no 不能同时为空",
            ))
        }
    };
    found
        .filter(|o| o.pid() == call.app.pid && o.visible)
        .ok_or_else(|| call.business("ACQ.TRADE_NOT_EXIST", "交易不存在"))
}
