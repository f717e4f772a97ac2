//! Barcode payments (付款码支付): `pay/micropay` and `secapi/pay/reverse`
//! (docs/protocols.md, "A.8 Barcode payments").
//!
//! The merchant scans the customer's payment code and the channel charges it at once: the
//! answer is SUCCESS with the payment, or `USERPAYING` when the customer has to enter a
//! password — then the order turns paid later (the `outcome` rule's delay, or the control
//! API's pay) and the merchant queries it, or reverses it. Barcode payments send no
//! notification.

use super::api::valid_out_trade_no;
use super::codec::Call;
use super::order::{OrderText, TradeState, TradeType, WxOrder};
use super::pay;
use super::refund_settle;
use super::spec::Spec;
use super::state::WxState;
use crate::clock::{self, compact_local};
use crate::core::{Core, Event, Timer};
use crate::http::Reply;
use crate::journal::{EntryKind, Record};
use crate::kind::Outcome;
use crate::money::{Currency, Money};
use chrono::Duration;
use std::borrow::Cow;

/// The name of the timer at which a customer asked for a password pays.
pub const TIMER: &str = "micropay.pay";

/// How long after payment a barcode order may be reversed (REVERSE_EXPIRE past it).
pub const REVERSIBLE_FOR: Duration = Duration::days(7);

/// A WeChat payment code: 18 digits starting with 10 to 15.
pub(crate) fn valid_auth_code(s: &str) -> bool {
    s.len() == 18
        && s.bytes().all(|b| b.is_ascii_digit())
        && matches!(&s[..2], "10" | "11" | "12" | "13" | "14" | "15")
}

/// `pay/micropay`: charge the customer's payment code now.
pub fn micropay(
    spec: &Spec,
    state: &mut WxState,
    core: &mut Core,
    call: &Call,
    outcome: Option<&Outcome<'_>>,
) -> Reply {
    for name in [
        "body",
        "out_trade_no",
        "total_fee",
        "spbill_create_ip",
        "auth_code",
    ] {
        if call.field(name).is_none() {
            return call.biz_fail(core, "LACK_PARAMS", &format!("缺少参数{name}"));
        }
    }
    let given = |name: &str| call.field(name).unwrap_or("");
    let out_trade_no = given("out_trade_no");
    if !valid_out_trade_no(out_trade_no) {
        return call.biz_fail(core, "PARAM_ERROR", "out_trade_no参数格式错误");
    }
    let Some(total_fee) = given("total_fee").parse::<i64>().ok().filter(|v| *v > 0) else {
        return call.biz_fail(core, "PARAM_ERROR", "total_fee参数格式错误");
    };
    if call.field("fee_type").is_some_and(|t| t != "CNY") {
        return call.biz_fail(core, "PARAM_ERROR", "fee_type参数格式错误");
    }
    if !valid_auth_code(given("auth_code")) {
        return call.biz_fail(
            core,
            "AUTH_CODE_INVALID",
            "请扫描微信支付授权码(条码以10、11、12、13、14、15开头)",
        );
    }
    let mch_id = call.merchant.mch_id.clone();
    if let Some(existing) = state.get(&mch_id, out_trade_no) {
        return match existing.state() {
            TradeState::Success | TradeState::Refund => {
                call.biz_fail(core, "ORDERPAID", "该订单已支付")
            }
            TradeState::Closed => call.biz_fail(core, "ORDERCLOSED", "该订单已关闭"),
            TradeState::Revoked => call.biz_fail(core, "ORDERREVERSED", "该订单已撤销"),
            TradeState::UserPaying
                if existing.trade_type() == TradeType::Micropay
                    && existing.total_fee() == total_fee =>
            {
                call.biz_fail(core, "USERPAYING", "需要用户输入支付密码")
            }
            _ => call.biz_fail(core, "OUT_TRADE_NO_USED", "商户订单号重复"),
        };
    }
    let now = core.now();
    let order = WxOrder::new(
        state.merchant(&call.merchant.appid, &mch_id),
        OrderText {
            out_trade_no,
            body: given("body"),
            openid: None,
            product_id: None,
            attach: call.field("attach"),
            device_info: call.field("device_info"),
        },
        total_fee,
        TradeType::Micropay,
        state.notify_url(""),
        call.sign_type,
        now,
    );
    super::api::hold(state, core, &spec.id, order);
    let waits = outcome.is_some_and(|o| o.status == "USERPAYING");
    if !waits {
        pay::complete(spec, state, core, &mch_id, out_trade_no);
        return paid_reply(state, core, call, &mch_id, out_trade_no);
    }
    if let Some(o) = state.get_mut(&mch_id, out_trade_no) {
        o.set_state(TradeState::UserPaying);
    }
    let after = outcome.and_then(|o| o.after);
    let when = after.and_then(|d| clock::checked_add(now, d).ok());
    if let Some(at) = when {
        core.schedule(
            at,
            Event::Kind {
                instance: spec.id.clone(),
                timer: Timer {
                    name: TIMER,
                    key: format!("{mch_id}\0{out_trade_no}"),
                },
            },
        );
    }
    core.record(
        EntryKind::Customer,
        Record {
            instance: spec.id.as_str().into(),
            op: "micropay.userpaying".into(),
            reference: Some(out_trade_no.into()),
            message: match when {
                Some(at) => format!(
                    "the customer is asked for a password: USERPAYING; pays at {}",
                    crate::clock::beijing_time(at)
                ),
                None => "the customer is asked for a password: USERPAYING until paid through the control API or reversed".into(),
            },
            ..Default::default()
        },
    );
    call.biz_fail(core, "USERPAYING", "需要用户输入支付密码")
}

fn paid_reply(
    state: &WxState,
    core: &mut Core,
    call: &Call,
    mch_id: &str,
    out_trade_no: &str,
) -> Reply {
    let Some(order) = state.get(mch_id, out_trade_no) else {
        return call.biz_fail(core, "SYSTEMERROR", "系统错误");
    };
    let total = order.total_fee().to_string();
    let mut extra: Vec<(&str, Cow<'_, str>)> = vec![("result_code", "SUCCESS".into())];
    if let Some(d) = order.device_info() {
        extra.push(("device_info", d.into()));
    }
    extra.extend([
        ("openid", Cow::Borrowed(order.openid().unwrap_or_default())),
        ("is_subscribe", "N".into()),
        ("trade_type", "MICROPAY".into()),
        ("bank_type", "OTHERS".into()),
        ("fee_type", "CNY".into()),
        ("total_fee", total.clone().into()),
        ("cash_fee_type", "CNY".into()),
        ("cash_fee", total.into()),
        (
            "transaction_id",
            order.transaction_id().unwrap_or_default().into(),
        ),
        ("out_trade_no", order.out_trade_no().into()),
        (
            "time_end",
            order
                .paid_at()
                .map(compact_local)
                .unwrap_or_default()
                .into(),
        ),
    ]);
    if let Some(a) = order.attach() {
        extra.push(("attach", a.into()));
    }
    call.signed(core, extra)
}

/// The password timer `key` is due: the customer pays, if the order still waits for it.
pub fn on_timer(spec: &Spec, state: &mut WxState, core: &mut Core, key: &str) {
    let Some((mch_id, out_trade_no)) = key.split_once('\0') else {
        return;
    };
    if state
        .get(mch_id, out_trade_no)
        .is_some_and(|o| o.state() == TradeState::UserPaying)
    {
        pay::complete(spec, state, core, mch_id, out_trade_no);
    }
}

/// `secapi/pay/reverse`: cancel a barcode order. One still waiting for the customer is
/// revoked; a paid one is revoked and its money given back to the customer (the fee back
/// to the merchant first), as a refund under the order number. `recall` is always `N`: the
/// reversal is done.
pub fn reverse(spec: &Spec, state: &mut WxState, core: &mut Core, call: &Call) -> Reply {
    let m = &call.merchant;
    let found = match (call.field("transaction_id"), call.field("out_trade_no")) {
        (Some(t), _) => state.by_transaction(t),
        (None, Some(o)) => state.get(&m.mch_id, o),
        (None, None) => {
            return call.biz_fail(
                core,
                "PARAM_ERROR",
                "transaction_id和out_trade_no不能同时为空",
            )
        }
    };
    let Some(order) = found.filter(|o| o.mch_id() == m.mch_id) else {
        return call.biz_fail(core, "ORDERNOTEXIST", "此交易订单号不存在");
    };
    if order.trade_type() != TradeType::Micropay {
        return call.biz_fail(
            core,
            "TRADE_ERROR",
            "非付款码支付订单不能撤销，请使用关单或退款接口",
        );
    }
    let now = core.now();
    let (mch_id, out_trade_no) = (order.mch_id().to_string(), order.out_trade_no().to_string());
    let recall = |core: &mut Core| {
        call.signed(
            core,
            vec![("result_code", "SUCCESS".into()), ("recall", "N".into())],
        )
    };
    match order.state() {
        TradeState::Revoked => return recall(core),
        TradeState::Refund => {
            return call.biz_fail(core, "TRADE_ERROR", "订单已发生退款，不能撤销")
        }
        TradeState::Success
            if order
                .paid_at()
                .is_some_and(|p| now.signed_duration_since(p) > REVERSIBLE_FOR) =>
        {
            return call.biz_fail(core, "REVERSE_EXPIRE", "订单已经超过撤销时限");
        }
        _ => {}
    }
    let paid = order.is_paid();
    let amount = Money::from_minor(order.total_fee(), Currency::Cny);
    let fee = order.fee().unwrap_or(Money::zero(Currency::Cny));
    if let Some(o) = state.get_mut(&mch_id, &out_trade_no) {
        o.set_state(TradeState::Revoked);
    }
    core.record(
        EntryKind::World,
        Record {
            instance: spec.id.as_str().into(),
            op: "reverse".into(),
            reference: Some(out_trade_no.clone()),
            message: if paid {
                format!("order {out_trade_no} revoked: {amount} back to the customer")
            } else {
                format!("order {out_trade_no} revoked before the customer paid")
            },
            ..Default::default()
        },
    );
    if paid {
        refund_settle::post(spec, core, &mch_id, &out_trade_no, amount, fee);
    }
    recall(core)
}
