//! Refunds: `alipay.trade.refund`, `alipay.trade.fastpay.refund.query` and the full refund a
//! cancel makes (docs/protocols.md, "B.4", "B.5"). A refund that is notified has its
//! notification scheduled here; `notify` builds it.
//!
//! The ledger side is kept to one function, `post`: a `refund` posting from the merchant's
//! account back to the customers (reference: the `out_trade_no`), and a `fee` posting that
//! gives back the fee on what was refunded. Statement lines find a refund by that posting's
//! id ([`super::order::Refund::posting`]).
//!
//! Rules: a refund is idempotent on `out_request_no` (which defaults to the `out_trade_no`):
//! asked again with the same amount it answers the same refund with `fund_change` N (no
//! money moved this time), with another amount `ACQ.CONTEXT_INCONSISTENT`. A refund succeeds
//! at once (`fund_change` Y); refunds never exceed the trade (`ACQ.REFUND_AMT_NOT_EQUAL_TOTAL`)
//! or the merchant's balance at the channel (`ACQ.SELLER_BALANCE_NOT_ENOUGH`: refunds come
//! out of what the merchant holds there). Refunding the whole trade closes it
//! (TRADE_CLOSED); a partial refund leaves it TRADE_SUCCESS and is notified.

use super::order::{AliState, Refund, TradeStatus};
use super::params::{lookup, read_amount, valid_out_trade_no};
use super::request::GatewayCall;
use super::response::local_time;
use super::spec::Spec;
use crate::core::{Core, Event, NotificationId, NotificationKind};
use crate::http::Reply;
use crate::ledger::{accounts, PostingKind};
use crate::money::{Currency, Money};
use serde_json::Value;

/// The most refunds one trade takes (our bound: Alipay documents none).
pub const MAX_REFUNDS_PER_TRADE: usize = 100;

/// A business refusal: `sub_code` and `sub_msg`.
pub type Refusal = (&'static str, String);

/// Refund `amount` of merchant `pid`'s paid trade `no` under request number `req`: the
/// checks, the two postings, the trade's new state, and its notification when due.
#[allow(clippy::too_many_arguments)]
fn post(
    spec: &Spec,
    state: &mut AliState,
    core: &mut Core,
    pid: &str,
    no: &str,
    req: &str,
    amount: Money,
    reason: Option<String>,
) -> Result<(), Refusal> {
    let o = state
        .get(pid, no)
        .ok_or(("ACQ.TRADE_NOT_EXIST", "交易不存在".to_string()))?;
    let Some(paid) = o.paid.as_ref() else {
        return Err(("ACQ.TRADE_STATUS_ERROR", "交易状态不合法".into()));
    };
    if o.status != TradeStatus::Success {
        return Err(("ACQ.TRADE_HAS_CLOSE", "交易已经关闭".into()));
    }
    if o.refunds.len() >= MAX_REFUNDS_PER_TRADE {
        return Err((
            "ACQ.TRADE_NOT_ALLOW_REFUND",
            format!("当前交易不允许退款 (at most {MAX_REFUNDS_PER_TRADE} refunds a trade)"),
        ));
    }
    let refunded = o.refunded();
    let remaining = o.total.amount - refunded.amount;
    if amount.amount > remaining {
        return Err(("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限".into()));
    }
    // The fee goes back in proportion; the last refund gives back whatever is left of it.
    let fee_given_back: rust_decimal::Decimal = o.refunds.iter().map(|r| r.fee_back.amount).sum();
    let fee_left = paid.fee.amount - fee_given_back;
    let fee_back = if amount.amount == remaining {
        Money {
            amount: fee_left,
            currency: Currency::Cny,
        }
    } else {
        let f = amount.times_rate_rounded(spec.fee_rate);
        Money {
            amount: f.amount.min(fee_left),
            currency: Currency::Cny,
        }
    };
    // The fee comes back with the refund, so the merchant needs the rest of it.
    let account = accounts::channel_merchant(&spec.id, pid);
    if core.ledger.balance(&account, Currency::Cny).amount + fee_back.amount < amount.amount {
        return Err(("ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足".into()));
    }
    let closes = amount.amount == remaining;
    let notify_url = o.notify_url.is_some();
    let note = format!("refund {req}");
    // Two legs of one amount in one currency always balance: a posting cannot fail here.
    let posting = core
        .transfer(
            PostingKind::Refund,
            &spec.id,
            no,
            &account,
            accounts::CUSTOMERS,
            amount,
            Some(&note),
        )
        .unwrap_or_default();
    if !fee_back.amount.is_zero() {
        let _ = core.transfer(
            PostingKind::Fee,
            &spec.id,
            no,
            &accounts::channel_fees(&spec.id),
            &account,
            fee_back,
            Some(&format!("fee given back with refund {req}")),
        );
    }
    let now = core.now();
    let notifies = notify_url && !closes;
    if let Some(o) = state.get_mut(pid, no) {
        o.refunds.push(Refund {
            out_request_no: req.to_string(),
            amount,
            fee_back,
            at: now,
            reason,
            posting,
            notified: !notifies,
        });
        if closes {
            o.status = TradeStatus::Closed;
            o.closed_at = Some(now);
        }
    }
    if notifies {
        core.schedule(
            now,
            Event::Notify {
                instance: spec.id.clone(),
                id: NotificationId {
                    kind: NotificationKind::Refund,
                    account: pid.to_string(),
                    reference: format!("{no}/{req}"),
                },
                attempt: 1,
                gated: true,
            },
        );
    }
    Ok(())
}

/// Refund what is left of merchant `pid`'s paid trade `no` (`alipay.trade.cancel` of a paid
/// trade), under the request number `no`.
pub fn full_refund(
    spec: &Spec,
    state: &mut AliState,
    core: &mut Core,
    pid: &str,
    no: &str,
    reason: &str,
) -> Result<(), Refusal> {
    let o = state
        .get(pid, no)
        .ok_or(("ACQ.TRADE_NOT_EXIST", "交易不存在".to_string()))?;
    let left = Money {
        amount: o.total.amount - o.refunded().amount,
        currency: Currency::Cny,
    };
    post(
        spec,
        state,
        core,
        pid,
        no,
        no,
        left,
        Some(reason.to_string()),
    )
}

/// `alipay.trade.refund`.
pub fn refund(spec: &Spec, state: &mut AliState, core: &mut Core, call: &GatewayCall) -> Reply {
    let amount = match read_amount(call, "refund_amount") {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (pid, no) = match lookup(state, call) {
        Ok(o) => (o.pid().to_string(), o.out_trade_no.clone()),
        Err(r) => return r,
    };
    let req = call.biz_str("out_request_no").unwrap_or_else(|| no.clone());
    if !valid_out_trade_no(&req) {
        return call.business(
            "ACQ.INVALID_PARAMETER",
            "参数无效: out_request_no (1-64 letters, digits, underscores)",
        );
    }
    let replay = state
        .get(&pid, &no)
        .and_then(|o| o.refunds.iter().find(|r| r.out_request_no == req))
        .map(|r| r.amount);
    let fund_change = match replay {
        Some(a) if a.amount != amount.amount => {
            return call.business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
        }
        Some(_) => "N",
        None => {
            if let Err((code, msg)) = post(
                spec,
                state,
                core,
                &pid,
                &no,
                &req,
                amount,
                call.biz_str("refund_reason"),
            ) {
                return call.business(code, &msg);
            }
            "Y"
        }
    };
    let Some(o) = state.get(&pid, &no) else {
        return call.business("ACQ.TRADE_NOT_EXIST", "交易不存在");
    };
    let r = o.refunds.iter().find(|r| r.out_request_no == req);
    let paid = o.paid.as_ref();
    call.success(vec![
        ("trade_no", o.trade_no.clone().into()),
        ("out_trade_no", o.out_trade_no.clone().into()),
        (
            "buyer_logon_id",
            paid.map(|p| p.buyer_logon_id.clone())
                .unwrap_or_default()
                .into(),
        ),
        ("fund_change", fund_change.into()),
        ("refund_fee", o.refunded().major_string().into()),
        (
            "gmt_refund_pay",
            r.map(|r| local_time(r.at)).unwrap_or_default().into(),
        ),
        (
            "send_back_fee",
            r.map(|r| r.amount.major_string())
                .unwrap_or_default()
                .into(),
        ),
        (
            "buyer_user_id",
            paid.map(|p| p.buyer_id.clone()).unwrap_or_default().into(),
        ),
    ])
}

/// `alipay.trade.fastpay.refund.query`: a refund by its request number (the out_trade_no
/// when none is given). A refund the channel does not have answers 10000 without
/// `refund_status` — how Alipay says "no such refund".
pub fn refund_query(state: &AliState, call: &GatewayCall) -> Reply {
    let o = match lookup(state, call) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let req = call
        .biz_str("out_request_no")
        .unwrap_or_else(|| o.out_trade_no.clone());
    let mut f: Vec<(&str, Value)> = vec![
        ("trade_no", o.trade_no.clone().into()),
        ("out_trade_no", o.out_trade_no.clone().into()),
        ("out_request_no", req.clone().into()),
    ];
    if let Some(r) = o.refunds.iter().find(|r| r.out_request_no == req) {
        f.push(("total_amount", o.total.major_string().into()));
        f.push(("refund_amount", r.amount.major_string().into()));
        f.push(("refund_status", "REFUND_SUCCESS".into()));
        f.push(("gmt_refund_pay", local_time(r.at).into()));
        if let Some(reason) = &r.reason {
            f.push(("refund_reason", reason.clone().into()));
        }
    }
    call.success(f)
}
