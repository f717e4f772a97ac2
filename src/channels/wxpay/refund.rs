//! Refunds asked for: `secapi/pay/refund` (docs/protocols.md, "A.6 Refunds") — the request
//! read and checked, the refund accepted or refused, its timer set. `pay/refundquery` is
//! [`super::refund_query`]'s, what the timer does [`super::refund_settle`]'s.
//!
//! A refund is accepted PROCESSING. The channel counts its amount (less the fee it gives
//! back) as spent at once, so refunds cannot draw twice on the same balance (`NOTENOUGH`).
//! A timer finishes it `refund_after` later (the scenario's setting, or an `outcome` fault
//! rule's): SUCCESS moves the money in the ledger — the proportional fee back from the
//! channel to the merchant, then the refund from the merchant to the customer, both under
//! the refund's `out_refund_no` — while CHANGE and REFUNDCLOSE move none. A finished refund
//! with a `notify_url` is notified (see [`super::refund_notify`]). The refund itself, as its
//! order holds it, is a [`WxRefund`] (`refund_record`).

use super::codec::Call;
use super::order::{TradeState, WxOrder};
use super::refund_record::{RefundStatus, WxRefund, MAX_REFUNDS};
use super::spec::Spec;
use super::state::WxState;
use crate::clock::{self, Instant, SHANGHAI};
use crate::core::{Core, Event, Timer};
use crate::http::Reply;
use crate::journal::{EntryKind, Record};
use crate::kind::Outcome;
use crate::ledger::accounts;
use crate::money::{Currency, Money};
use chrono::Duration;
use rust_decimal::{Decimal, RoundingStrategy};
use std::borrow::Cow;

/// The least time between two refunds of one order, on the world clock.
pub const MIN_INTERVAL: Duration = Duration::minutes(1);

/// How long after payment an order may be refunded (TRADE_OVERDUE past it).
pub const REFUNDABLE_FOR: Duration = Duration::days(365);

/// The name of the channel's refund timer.
pub const TIMER: &str = "refund.settle";

/// Where the refunded money goes, as the channel reports it (`refund_recv_accout`).
pub const RECEIVED_BY: &str = "支付用户的零钱";

/// `out_refund_no`: 1 to 64 letters, digits and `_ - | * @`.
pub(crate) fn valid_out_refund_no(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-|*@".contains(c))
}

/// The `refund_account` values.
const REFUND_ACCOUNTS: [&str; 2] = [
    "REFUND_SOURCE_UNSETTLED_FUNDS",
    "REFUND_SOURCE_RECHARGE_FUNDS",
];

/// The fields of a refund request, checked.
struct Request<'a> {
    out_refund_no: &'a str,
    total_fee: i64,
    refund_fee: i64,
    refund_account: &'static str,
    refund_desc: Option<&'a str>,
    notify_url: Option<&'a str>,
}

fn positive_fen(s: &str) -> Option<i64> {
    s.parse::<i64>()
        .ok()
        .filter(|v| *v > 0 && *v <= crate::money::MAX_MAJOR.saturating_mul(100))
}

/// Check a refund request's own fields; the error reply for the first that is wrong.
fn read_request<'a>(core: &mut Core, call: &'a Call) -> Result<Request<'a>, Reply> {
    if call.field("transaction_id").is_none() && call.field("out_trade_no").is_none() {
        return Err(call.biz_fail(
            core,
            "PARAM_ERROR",
            "transaction_id和out_trade_no不能同时为空",
        ));
    }
    for name in ["out_refund_no", "total_fee", "refund_fee"] {
        if call.field(name).is_none() {
            return Err(call.biz_fail(core, "PARAM_ERROR", &format!("缺少参数{name}")));
        }
    }
    let given = |name: &str| call.field(name).unwrap_or("");
    let param = |core: &mut Core, field: &str| {
        Err(call.biz_fail(core, "PARAM_ERROR", &format!("{field}参数格式错误")))
    };
    let out_refund_no = given("out_refund_no");
    if !valid_out_refund_no(out_refund_no) {
        return param(core, "out_refund_no");
    }
    let Some(total_fee) = positive_fen(given("total_fee")) else {
        return param(core, "total_fee");
    };
    let Some(refund_fee) = positive_fen(given("refund_fee")) else {
        return param(core, "refund_fee");
    };
    if refund_fee > total_fee {
        // The channel refuses this before anything else, at the communication level.
        return Err(super::codec::comm_fail("invalid refund_fee", "PARAM_ERROR"));
    }
    if call.field("refund_fee_type").is_some_and(|t| t != "CNY") {
        return param(core, "refund_fee_type");
    }
    let refund_account = match call.field("refund_account") {
        None => REFUND_ACCOUNTS[0],
        Some(a) => match REFUND_ACCOUNTS.iter().find(|x| **x == a) {
            Some(x) => x,
            None => return param(core, "refund_account"),
        },
    };
    let refund_desc = call.field("refund_desc");
    if refund_desc.is_some_and(|d| d.chars().count() > 80) {
        return param(core, "refund_desc");
    }
    let notify_url = call.field("notify_url");
    if notify_url.is_some_and(|u| {
        !(u.starts_with("http://") || u.starts_with("https://")) || u.contains('?') || u.len() > 256
    }) {
        return param(core, "notify_url");
    }
    Ok(Request {
        out_refund_no,
        total_fee,
        refund_fee,
        refund_account,
        refund_desc,
        notify_url,
    })
}

/// The order a refund or refund query names by `transaction_id` (first) or `out_trade_no`.
pub(super) fn named_order<'s>(
    state: &'s WxState,
    call: &Call,
) -> Result<&'s WxOrder, &'static str> {
    let m = &call.merchant;
    match call.field("transaction_id") {
        Some(t) => state
            .by_transaction(t)
            .filter(|o| o.mch_id() == m.mch_id)
            .ok_or("INVALID_TRANSACTIONID"),
        None => state
            .get(&m.mch_id, call.field("out_trade_no").unwrap_or(""))
            .ok_or("ORDERNOTEXIST"),
    }
}

/// The fee a refund of `refund_fee` gives back: the order's fee in proportion, rounded half
/// away from zero to the fen, never more than what is left of it; the refund that completes
/// the order gives back all that is left.
fn fee_back(order: &WxOrder, refund_fee: i64) -> Money {
    let zero = Money::zero(Currency::Cny);
    let fee = order.fee().unwrap_or(zero);
    let given_back: i64 = order
        .refunds()
        .iter()
        .filter(|r| r.counts())
        .filter_map(|r| r.fee_back.to_minor().ok())
        .sum();
    let fee_fen = fee.to_minor().unwrap_or(0);
    let left = (fee_fen - given_back).max(0);
    let completes = order.refunded_fee() + refund_fee >= order.total_fee();
    let share = if completes {
        left
    } else {
        let exact = Decimal::from(fee_fen) * Decimal::from(refund_fee)
            / Decimal::from(order.total_fee().max(1));
        let rounded = exact.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
        i64::try_from(rounded.mantissa() / 10i128.pow(rounded.scale()))
            .unwrap_or(0)
            .min(left)
    };
    Money::from_minor(share, Currency::Cny)
}

/// The merchant's balance at the channel less what its PROCESSING refunds will take, in fen.
fn available_fen(spec: &Spec, state: &WxState, core: &Core, mch_id: &str) -> i64 {
    let account = accounts::channel_merchant(&spec.id, mch_id);
    let balance = core
        .ledger
        .balance(&account, Currency::Cny)
        .to_minor()
        .unwrap_or(0);
    balance - state.in_flight(mch_id)
}

/// `secapi/pay/refund`: accept a refund of a paid order (idempotent on `out_refund_no`), or
/// the channel's error. `outcome` (an `outcome` fault rule) says how it will end and when.
pub fn refund(
    spec: &Spec,
    state: &mut WxState,
    core: &mut Core,
    call: &Call,
    outcome: Option<&Outcome<'_>>,
) -> Reply {
    let req = match read_request(core, call) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let order = match named_order(state, call) {
        Ok(o) => o,
        Err(code) => {
            let des = if code == "ORDERNOTEXIST" {
                "订单不存在"
            } else {
                "无效transaction_id"
            };
            return call.biz_fail(core, code, des);
        }
    };
    if !order.is_paid() || order.state() == TradeState::Revoked {
        return call.biz_fail(core, "ORDERNOTEXIST", "订单不存在或未支付，不能发起退款");
    }
    let mch_id = order.mch_id().to_string();
    let out_trade_no = order.out_trade_no().to_string();
    let now = core.now();
    // The same refund number again: the same refund, if the request is the same one.
    if let Some((held, i)) = state.refund_by_no(&mch_id, req.out_refund_no) {
        let same = held.out_trade_no() == out_trade_no
            && held
                .refunds()
                .get(i)
                .is_some_and(|r| r.refund_fee == req.refund_fee && r.total_fee == req.total_fee);
        if !same {
            return call.biz_fail(
                core,
                "REFUND_FEE_MISMATCH",
                "订单金额或退款金额与之前请求不一致，请核实后再试",
            );
        }
        let reopen = held
            .refunds()
            .get(i)
            .is_some_and(|r| r.status == RefundStatus::RefundClose);
        if !reopen {
            return accepted(state, core, call, &mch_id, &out_trade_no, i);
        }
        // A closed refund sent again under its number starts again (the docs ask merchants
        // to retry a failed refund under the same out_refund_no).
        return reopen_refund(
            spec,
            state,
            core,
            call,
            &req,
            (&mch_id, &out_trade_no, i),
            outcome,
        );
    }
    if let Err(reply) = admissible(spec, state, core, call, order, &req, now) {
        return reply;
    }
    let back = fee_back(order, req.refund_fee);
    let net = req.refund_fee - back.to_minor().unwrap_or(0);
    let refund_id = {
        let day = now.with_timezone(&SHANGHAI).format("%Y%m%d").to_string();
        let mut rng = core.rng_for(&spec.id, &WxRefund::stream_key(&mch_id, req.out_refund_no));
        format!("50{}{day}{}", rng.digits(8), rng.digits(11))
    };
    let (final_status, due_at) = plan(spec, now, outcome);
    let refund = WxRefund {
        out_refund_no: req.out_refund_no.into(),
        refund_id: refund_id.into(),
        refund_fee: req.refund_fee,
        total_fee: req.total_fee,
        fee_back: back,
        net_fen: net,
        status: RefundStatus::Processing,
        outcome: final_status,
        requested_at: now,
        due_at,
        finished_at: None,
        refund_account: req.refund_account,
        refund_desc: req.refund_desc.map(Into::into),
        notify_url: req.notify_url.map(|u| state.notify_url(u)),
        notified: false,
    };
    if !state.add_refund(&mch_id, &out_trade_no, refund) {
        return call.biz_fail(core, "SYSTEMERROR", "系统错误");
    }
    schedule(core, &spec.id, &mch_id, req.out_refund_no, due_at);
    core.record(
        EntryKind::World,
        Record {
            instance: spec.id.as_str().into(),
            op: "refund.accept".into(),
            reference: Some(req.out_refund_no.into()),
            message: format!(
                "refund {} of order {out_trade_no} accepted PROCESSING: {} (fee back {}), ends {} at {}",
                req.out_refund_no,
                Money::from_minor(req.refund_fee, Currency::Cny),
                back,
                final_status.as_str(),
                crate::clock::beijing_time(due_at)
            ),
            ..Default::default()
        },
    );
    let i = state
        .get(&mch_id, &out_trade_no)
        .map_or(0, |o| o.refunds().len().saturating_sub(1));
    accepted(state, core, call, &mch_id, &out_trade_no, i)
}

/// The checks a new refund passes, in the channel's order; the error reply otherwise.
fn admissible(
    spec: &Spec,
    state: &WxState,
    core: &mut Core,
    call: &Call,
    order: &WxOrder,
    req: &Request<'_>,
    now: Instant,
) -> Result<(), Reply> {
    if req.total_fee != order.total_fee() {
        return Err(call.biz_fail(
            core,
            "REFUND_FEE_MISMATCH",
            "订单金额或退款金额与之前请求不一致，请核实后再试",
        ));
    }
    if order
        .paid_at()
        .is_some_and(|p| now.signed_duration_since(p) > REFUNDABLE_FOR)
    {
        return Err(call.biz_fail(core, "TRADE_OVERDUE", "订单已经超过退款期限"));
    }
    let refunded = order.refunded_fee();
    if refunded >= order.total_fee() {
        return Err(call.biz_fail(core, "ERROR", "订单已全额退款"));
    }
    if req.refund_fee > order.total_fee() - refunded {
        return Err(call.biz_fail(core, "INVALID_REQUEST", "refund_fee大于可退金额"));
    }
    if order.refunds().len() >= MAX_REFUNDS {
        return Err(call.biz_fail(core, "ERROR", "该订单的部分退款次数已达上限(50次)"));
    }
    if order
        .refunds()
        .iter()
        .map(|r| r.requested_at)
        .max()
        .is_some_and(|last| now.signed_duration_since(last) < MIN_INTERVAL)
    {
        return Err(call.biz_fail(
            core,
            "FREQUENCY_LIMITED",
            "同一笔订单的两次退款请求需相隔1分钟，请稍后再试",
        ));
    }
    let back = fee_back(order, req.refund_fee).to_minor().unwrap_or(0);
    if available_fen(spec, state, core, order.mch_id()) + back < req.refund_fee {
        return Err(call.biz_fail(core, "NOTENOUGH", "基本账户余额不足，请充值后重新发起"));
    }
    Ok(())
}

/// How a refund accepted now ends, and when: the `outcome` rule's status and delay, else
/// SUCCESS after the channel's `refund_after`.
fn plan(spec: &Spec, now: Instant, outcome: Option<&Outcome<'_>>) -> (RefundStatus, Instant) {
    let status = outcome
        .and_then(|o| RefundStatus::final_from(o.status))
        .unwrap_or(RefundStatus::Success);
    let after = outcome.and_then(|o| o.after).unwrap_or(spec.refund_after);
    // Durations are bounded where they are read; past the calendar the refund ends now.
    let due = clock::checked_add(now, after).unwrap_or(now);
    (status, due)
}

fn schedule(core: &mut Core, instance: &str, mch_id: &str, out_refund_no: &str, at: Instant) {
    core.schedule(
        at,
        Event::Kind {
            instance: instance.into(),
            timer: Timer {
                name: TIMER,
                key: WxRefund::timer_key(mch_id, out_refund_no),
            },
        },
    );
}

/// A closed refund asked for again under its number: PROCESSING again, if the order still
/// has room for it and the merchant the balance.
fn reopen_refund(
    spec: &Spec,
    state: &mut WxState,
    core: &mut Core,
    call: &Call,
    req: &Request<'_>,
    (mch_id, out_trade_no, i): (&str, &str, usize),
    outcome: Option<&Outcome<'_>>,
) -> Reply {
    let now = core.now();
    let Some(order) = state.get(mch_id, out_trade_no) else {
        return call.biz_fail(core, "ORDERNOTEXIST", "订单不存在");
    };
    let refunded = order.refunded_fee();
    if req.refund_fee > order.total_fee() - refunded {
        return call.biz_fail(core, "INVALID_REQUEST", "refund_fee大于可退金额");
    }
    let back = fee_back(order, req.refund_fee);
    let back_fen = back.to_minor().unwrap_or(0);
    if available_fen(spec, state, core, mch_id) + back_fen < req.refund_fee {
        return call.biz_fail(core, "NOTENOUGH", "基本账户余额不足，请充值后重新发起");
    }
    let (final_status, due_at) = plan(spec, now, outcome);
    let net = req.refund_fee - back_fen;
    if let Some(r) = state.refund_mut(mch_id, out_trade_no, i) {
        r.status = RefundStatus::Processing;
        r.outcome = final_status;
        r.fee_back = back;
        r.net_fen = net;
        r.requested_at = now;
        r.due_at = due_at;
        r.finished_at = None;
        r.notified = false;
    }
    state.hold_in_flight(mch_id, net);
    schedule(core, &spec.id, mch_id, req.out_refund_no, due_at);
    core.record(
        EntryKind::World,
        Record {
            instance: spec.id.as_str().into(),
            op: "refund.accept".into(),
            reference: Some(req.out_refund_no.into()),
            message: format!(
                "closed refund {} of order {out_trade_no} asked for again: PROCESSING, ends {} at {}",
                req.out_refund_no,
                final_status.as_str(),
                crate::clock::beijing_time(due_at)
            ),
            ..Default::default()
        },
    );
    accepted(state, core, call, mch_id, out_trade_no, i)
}

/// The reply to an accepted refund (new, or the same one asked for again).
fn accepted(
    state: &WxState,
    core: &mut Core,
    call: &Call,
    mch_id: &str,
    out_trade_no: &str,
    i: usize,
) -> Reply {
    let Some(order) = state.get(mch_id, out_trade_no) else {
        return call.biz_fail(core, "SYSTEMERROR", "系统错误");
    };
    let Some(r) = order.refunds().get(i) else {
        return call.biz_fail(core, "SYSTEMERROR", "系统错误");
    };
    let total = order.total_fee().to_string();
    let refund_fee = r.refund_fee.to_string();
    let mut extra: Vec<(&str, Cow<'_, str>)> = vec![("result_code", "SUCCESS".into())];
    if let Some(d) = order.device_info() {
        extra.push(("device_info", d.into()));
    }
    extra.extend([
        (
            "transaction_id",
            Cow::Borrowed(order.transaction_id().unwrap_or_default()),
        ),
        ("out_trade_no", order.out_trade_no().into()),
        ("out_refund_no", (*r.out_refund_no).into()),
        ("refund_id", (*r.refund_id).into()),
        ("refund_channel", "".into()),
        ("refund_fee", refund_fee.clone().into()),
        ("total_fee", total.clone().into()),
        ("fee_type", "CNY".into()),
        ("cash_fee", total.into()),
        ("cash_refund_fee", refund_fee.into()),
        ("coupon_refund_fee", "0".into()),
        ("coupon_refund_count", "0".into()),
    ]);
    call.signed(core, extra)
}
