//! `pay/refundquery`: the refunds of an order, or one refund, as the channel reports them
//! (docs/protocols.md, "A.6 Refunds"): `_$n`-indexed fields, paged with `offset`.

use super::codec::Call;
use super::order::WxOrder;
use super::refund::{named_order, RECEIVED_BY};
use super::refund_record::{RefundStatus, WxRefund};
use super::state::WxState;
use crate::clock::{Instant, SHANGHAI};
use crate::core::Core;
use crate::http::Reply;
use std::borrow::Cow;

/// How many refunds a query by order lists without `offset`; more must be asked for by
/// refund number or page by page.
pub const QUERY_LIST_MAX: usize = 20;

/// How many refunds one page (`offset`) lists.
pub const QUERY_PAGE: usize = 10;

/// `pay/refundquery`: the refunds of an order, or one refund, with `_$n`-indexed fields.
pub fn refundquery(state: &WxState, core: &mut Core, call: &Call) -> Reply {
    let m = &call.merchant;
    // The documented precedence: refund_id > out_refund_no > transaction_id > out_trade_no.
    let (order, only): (Option<&WxOrder>, Option<usize>) = if let Some(id) = call.field("refund_id")
    {
        match state
            .refund_by_id(id)
            .filter(|(o, _)| o.mch_id() == m.mch_id)
        {
            Some((o, i)) => (Some(o), Some(i)),
            None => (None, None),
        }
    } else if let Some(no) = call.field("out_refund_no") {
        match state.refund_by_no(&m.mch_id, no) {
            Some((o, i)) => (Some(o), Some(i)),
            None => (None, None),
        }
    } else if call.field("transaction_id").is_some() || call.field("out_trade_no").is_some() {
        match named_order(state, call) {
            Ok(o) => (Some(o), None),
            Err("INVALID_TRANSACTIONID") => {
                return call.biz_fail(core, "INVALID_TRANSACTIONID", "无效transaction_id")
            }
            Err(_) => (None, None),
        }
    } else {
        return call.biz_fail(
            core,
            "PARAM_ERROR",
            "refund_id、out_refund_no、transaction_id和out_trade_no不能同时为空",
        );
    };
    let Some(order) = order.filter(|o| !o.refunds().is_empty()) else {
        return call.biz_fail(core, "REFUNDNOTEXIST", "not exist");
    };
    let all = order.refunds();
    let offset = match call.field("offset") {
        None => None,
        Some(o) => match o.parse::<usize>() {
            Ok(n) if only.is_none() && n < all.len() => Some(n),
            _ => return call.biz_fail(core, "PARAM_ERROR", "offset参数格式错误"),
        },
    };
    let listed: Vec<&WxRefund> = match (only, offset) {
        (Some(i), _) => all.get(i).into_iter().collect(),
        (None, Some(from)) => all.iter().skip(from).take(QUERY_PAGE).collect(),
        (None, None) if all.len() > QUERY_LIST_MAX => {
            return call.biz_fail(
                core,
                "PARAM_ERROR",
                "部分退款次数超过20次，请使用退款单号或offset查询",
            )
        }
        (None, None) => all.iter().collect(),
    };
    let total = order.total_fee().to_string();
    let sum: i64 = listed.iter().map(|r| r.refund_fee).sum();
    let mut owned: Vec<(String, String)> = Vec::with_capacity(listed.len() * 9);
    for (n, r) in listed.iter().enumerate() {
        let fee = r.refund_fee.to_string();
        owned.push((format!("out_refund_no_{n}"), r.out_refund_no.to_string()));
        owned.push((format!("refund_id_{n}"), r.refund_id.to_string()));
        owned.push((format!("refund_channel_{n}"), "ORIGINAL".into()));
        owned.push((format!("refund_fee_{n}"), fee.clone()));
        owned.push((format!("settlement_refund_fee_{n}"), fee));
        owned.push((format!("refund_status_{n}"), r.status.as_str().into()));
        owned.push((format!("refund_account_{n}"), r.refund_account.into()));
        owned.push((format!("refund_recv_accout_{n}"), RECEIVED_BY.into()));
        if let (RefundStatus::Success, Some(at)) = (r.status, r.finished_at) {
            owned.push((format!("refund_success_time_{n}"), dashed_local(at)));
        }
    }
    let mut extra: Vec<(&str, Cow<'_, str>)> = vec![("result_code", "SUCCESS".into())];
    if let Some(d) = order.device_info() {
        extra.push(("device_info", d.into()));
    }
    if offset.is_some() {
        extra.push(("total_refund_count", all.len().to_string().into()));
    }
    extra.extend([
        (
            "transaction_id",
            Cow::Borrowed(order.transaction_id().unwrap_or_default()),
        ),
        ("out_trade_no", order.out_trade_no().into()),
        ("total_fee", total.clone().into()),
        ("fee_type", "CNY".into()),
        ("cash_fee", total.into()),
        ("refund_fee", sum.to_string().into()),
        ("refund_count", listed.len().to_string().into()),
    ]);
    extra.extend(
        owned
            .iter()
            .map(|(k, v)| (k.as_str(), Cow::Borrowed(v.as_str()))),
    );
    call.signed(core, extra)
}

/// `yyyy-MM-dd HH:mm:ss`, Beijing time (`refund_success_time_$n`, `success_time`).
pub fn dashed_local(at: Instant) -> String {
    at.with_timezone(&SHANGHAI)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}
