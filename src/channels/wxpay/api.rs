//! The WeChat Pay v2 payment APIs: `pay/unifiedorder`, `pay/orderquery` and
//! `pay/closeorder`.

use super::codec::Call;
use super::order::{Issued, OrderText, TradeState, TradeType, WxOrder};
use super::spec::Spec;
use super::state::WxState;
use crate::channels::shared::{self, Forgotten};
use crate::clock::compact_local;
use crate::core::Core;
use crate::http::Reply;
use crate::journal::{EntryKind, Record};
use std::borrow::Cow;

pub(crate) fn valid_out_trade_no(s: &str) -> bool {
    (6..=32).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-*|".contains(c))
}

/// The fields of a `pay/unifiedorder` request, checked.
struct NewOrder<'a> {
    text: OrderText<'a>,
    total_fee: i64,
    trade_type: TradeType,
    notify_url: &'a str,
}

/// Check a `pay/unifiedorder` request's fields in the channel's order, or the business
/// error (`err_code`, description) for the first that is wrong.
fn read_order(call: &Call) -> Result<NewOrder<'_>, (&'static str, String)> {
    for name in [
        "body",
        "out_trade_no",
        "total_fee",
        "spbill_create_ip",
        "notify_url",
        "trade_type",
    ] {
        if call.field(name).is_none() {
            return Err(("LACK_PARAMS", format!("缺少参数{name}")));
        }
    }
    let param = |field: &str| Err(("PARAM_ERROR", format!("{field}参数格式错误")));
    let given = |name: &str| call.field(name).unwrap_or("");
    let out_trade_no = given("out_trade_no");
    if !valid_out_trade_no(out_trade_no) {
        return param("out_trade_no");
    }
    let Some(total_fee) = given("total_fee").parse::<i64>().ok().filter(|v| *v > 0) else {
        return param("total_fee");
    };
    let Some(trade_type) = TradeType::parse(given("trade_type")) else {
        return param("trade_type");
    };
    if trade_type == TradeType::Jsapi && call.field("openid").is_none() {
        return Err(("LACK_PARAMS", "JSAPI支付必须传openid".into()));
    }
    if trade_type == TradeType::Native && call.field("product_id").is_none() {
        return Err(("LACK_PARAMS", "NATIVE支付必须传product_id".into()));
    }
    if call.field("fee_type").is_some_and(|t| t != "CNY") {
        return param("fee_type");
    }
    let notify_url = given("notify_url");
    if !(notify_url.starts_with("http://") || notify_url.starts_with("https://"))
        || notify_url.contains('?')
    {
        return param("notify_url");
    }
    Ok(NewOrder {
        text: OrderText {
            out_trade_no,
            body: given("body"),
            openid: call.field("openid"),
            product_id: call.field("product_id"),
            attach: call.field("attach"),
            device_info: call.field("device_info"),
        },
        total_fee,
        trade_type,
        notify_url,
    })
}

/// The answer to an order number the merchant used before: paid or closed orders refuse,
/// an unpaid one answers its `prepay_id` again only if the request repeats it faithfully.
fn reentry(
    state: &WxState,
    core: &mut Core,
    call: &Call,
    existing: &WxOrder,
    new: &NewOrder<'_>,
) -> Reply {
    match existing.state() {
        TradeState::Success | TradeState::Refund => {
            call.biz_fail(core, "ORDERPAID", "该订单已支付")
        }
        TradeState::Closed => call.biz_fail(core, "ORDERCLOSED", "该订单已关闭"),
        // Barcode orders: the number is taken by another product.
        TradeState::Revoked | TradeState::UserPaying => {
            call.biz_fail(core, "OUT_TRADE_NO_USED", "商户订单号重复")
        }
        TradeState::NotPay
            if existing.trade_type() != new.trade_type
                || existing.appid() != call.merchant.appid =>
        {
            call.biz_fail(core, "OUT_TRADE_NO_USED", "商户订单号重复")
        }
        TradeState::NotPay
            if existing.total_fee() != new.total_fee
                || existing.body() != new.text.body
                || existing.notify_url() != new.notify_url
                || existing.openid() != new.text.openid
                || existing.product_id() != new.text.product_id
                || existing.attach() != new.text.attach =>
        {
            call.biz_fail(
                core,
                "INVALID_REQUEST",
                "参数错误:订单重入时，要求参数值与原请求一致，请确认参数问题",
            )
        }
        // A faithful re-entry: the same prepay_id again.
        TradeState::NotPay => {
            let issued = issued(state, core, &call.instance, existing);
            prepay_reply(core, call, existing, &issued)
        }
    }
}

/// What order `o` of channel `instance` was issued at creation: derived again from its
/// stream, or kept when it could not be.
pub fn issued(state: &WxState, core: &Core, instance: &str, o: &WxOrder) -> Issued {
    if let Some(kept) = state.kept_issued(o) {
        return kept.clone();
    }
    let mut rng =
        core.stream_from_start(instance, &WxOrder::stream_key(o.mch_id(), o.out_trade_no()));
    Issued::draw(&mut rng, o.created_at(), o.trade_type())
}

/// `pay/unifiedorder`: create an order, or answer a repeated one as the channel does.
pub fn unifiedorder(state: &mut WxState, core: &mut Core, call: &Call) -> Reply {
    let new = match read_order(call) {
        Ok(o) => o,
        Err((code, des)) => return call.biz_fail(core, code, &des),
    };
    let m = &call.merchant;
    if let Some(existing) = state.get(&m.mch_id, new.text.out_trade_no) {
        return reentry(state, core, call, existing, &new);
    }
    let now = core.now();
    let (issued, from_start) = {
        let mut rng = core.rng_for(
            &call.instance,
            &WxOrder::stream_key(&m.mch_id, new.text.out_trade_no),
        );
        let from_start = rng.at_start();
        (Issued::draw(&mut rng, now, new.trade_type), from_start)
    };
    if !from_start {
        // The number was used before, by an order since forgotten: these ids cannot be
        // derived again from the stream's start, so the channel keeps them.
        state.keep_issued(&m.mch_id, new.text.out_trade_no, issued.clone());
    }
    let order = WxOrder::new(
        state.merchant(&m.appid, &m.mch_id),
        new.text,
        new.total_fee,
        new.trade_type,
        state.notify_url(new.notify_url),
        call.sign_type,
        now,
    );
    let reply = prepay_reply(core, call, &order, &issued);
    hold(state, core, &call.instance, order);
    reply
}

/// Hold `order` at channel `instance`; when that makes the channel forget its oldest
/// order (`max_orders` were held), journal it (op `order.forget`).
pub fn hold(state: &mut WxState, core: &mut Core, instance: &str, order: WxOrder) {
    let Some(gone) = state.insert(order) else {
        return;
    };
    let forgotten = Forgotten {
        noun: "order",
        number: gone.out_trade_no(),
        merchant: gone.mch_id(),
        state: gone.state().as_str(),
        max_orders: state.orders().max_orders(),
    };
    shared::record_forgotten(core, instance, forgotten);
}

fn prepay_reply(core: &mut Core, call: &Call, o: &WxOrder, issued: &Issued) -> Reply {
    let mut extra = vec![("result_code", Cow::Borrowed("SUCCESS"))];
    if let Some(d) = o.device_info() {
        extra.push(("device_info", d.into()));
    }
    extra.push(("prepay_id", issued.prepay_id.as_str().into()));
    extra.push(("trade_type", o.trade_type().as_str().into()));
    if let Some(c) = &issued.code_url {
        extra.push(("code_url", c.as_str().into()));
    }
    if o.trade_type() == TradeType::Mweb {
        extra.push((
            "mweb_url",
            format!(
                "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={}",
                issued.prepay_id
            )
            .into(),
        ));
    }
    call.signed(core, extra)
}

/// `pay/orderquery`: an order's state, by `transaction_id` or `out_trade_no`.
pub fn orderquery(state: &WxState, core: &mut Core, call: &Call) -> Reply {
    let m = &call.merchant;
    let found = match (call.field("transaction_id"), call.field("out_trade_no")) {
        (Some(t), _) => state.by_transaction(t),
        (None, Some(o)) => state.get(&m.mch_id, o),
        (None, None) => {
            return call.biz_fail(core, "LACK_PARAMS", "缺少参数transaction_id或out_trade_no")
        }
    };
    let Some(order) = found.filter(|o| o.mch_id() == m.mch_id) else {
        return call.biz_fail(core, "ORDERNOTEXIST", "此交易订单号不存在");
    };
    let mut extra = Vec::with_capacity(16);
    extra.push(("result_code", Cow::Borrowed("SUCCESS")));
    if let Some(d) = order.device_info() {
        extra.push(("device_info", d.into()));
    }
    if order.is_paid() {
        extra.push(("openid", order.openid().unwrap_or_default().into()));
        extra.push(("is_subscribe", "N".into()));
        extra.push(("trade_type", order.trade_type().as_str().into()));
        extra.push(("bank_type", "OTHERS".into()));
        let fee = order.total_fee().to_string();
        extra.push(("total_fee", fee.clone().into()));
        extra.push(("fee_type", "CNY".into()));
        extra.push(("cash_fee", fee.into()));
        extra.push(("cash_fee_type", "CNY".into()));
        extra.push((
            "transaction_id",
            order.transaction_id().unwrap_or_default().into(),
        ));
        extra.push((
            "time_end",
            order
                .paid_at()
                .map(compact_local)
                .unwrap_or_default()
                .into(),
        ));
    } else {
        extra.push(("total_fee", order.total_fee().to_string().into()));
    }
    extra.push(("out_trade_no", order.out_trade_no().into()));
    if let Some(a) = order.attach() {
        extra.push(("attach", a.into()));
    }
    extra.push(("trade_state", order.state().as_str().into()));
    extra.push(("trade_state_desc", order.state().desc().into()));
    call.signed(core, extra)
}

/// `pay/closeorder`: close an unpaid order, no sooner than `close_after` (5 minutes) after
/// it was created. A paid order answers `ORDERPAID` (the merchant must then treat it as
/// paid), a closed one `ORDERCLOSED`.
pub fn closeorder(spec: &Spec, state: &mut WxState, core: &mut Core, call: &Call) -> Reply {
    let m = &call.merchant;
    let Some(no) = call.field("out_trade_no") else {
        return call.biz_fail(core, "LACK_PARAMS", "缺少参数out_trade_no");
    };
    let Some(order) = state.get(&m.mch_id, no) else {
        return call.biz_fail(core, "ORDERNOTEXIST", "订单不存在");
    };
    match order.state() {
        TradeState::Success | TradeState::Refund => {
            return call.biz_fail(core, "ORDERPAID", "订单已支付，不能发起关单")
        }
        TradeState::Closed => {
            return call.biz_fail(core, "ORDERCLOSED", "订单已关闭，无需继续调用")
        }
        TradeState::Revoked | TradeState::UserPaying => {
            return call.biz_fail(core, "TRADE_STATE_ERROR", "订单状态错误")
        }
        TradeState::NotPay => {}
    }
    let now = core.now();
    let age = now.signed_duration_since(order.created_at());
    if age < spec.close_after {
        return call.biz_fail(
            core,
            "SYSTEMERROR",
            &format!(
                "订单创建后{}内不能关单，请稍后再试",
                crate::clock::format_duration(spec.close_after)
            ),
        );
    }
    let no = no.to_string();
    if let Some(o) = state.get_mut(&m.mch_id, &no) {
        o.set_state(TradeState::Closed);
    }
    core.record(
        EntryKind::World,
        Record {
            instance: call.instance.as_str().into(),
            op: "order.close".into(),
            reference: Some(no.clone()),
            message: format!("order {no} closed unpaid"),
            ..Default::default()
        },
    );
    call.signed(
        core,
        vec![
            ("result_code", "SUCCESS".into()),
            ("result_msg", "OK".into()),
        ],
    )
}
