//! The WeChat Pay v2 payment APIs: `pay/unifiedorder` and `pay/orderquery`.

use super::codec::Call;
use super::order::{TradeState, WxOrder, WxState};
use crate::clock::{compact_local, SHANGHAI};
use crate::core::Core;
use crate::http::Reply;

pub(crate) fn valid_out_trade_no(s: &str) -> bool {
    (6..=32).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-*|".contains(c))
}

/// The fields of a `pay/unifiedorder` request, checked.
struct NewOrder {
    out_trade_no: String,
    body: String,
    total_fee: i64,
    trade_type: String,
    notify_url: String,
    openid: Option<String>,
    product_id: Option<String>,
    attach: Option<String>,
    device_info: Option<String>,
}

/// Check a `pay/unifiedorder` request's fields in the channel's order, or the business
/// error (`err_code`, description) for the first that is wrong.
fn read_order(call: &Call) -> Result<NewOrder, (&'static str, String)> {
    let f = &call.fields;
    for name in [
        "body",
        "out_trade_no",
        "total_fee",
        "spbill_create_ip",
        "notify_url",
        "trade_type",
    ] {
        if call.get(name).is_none() {
            return Err(("LACK_PARAMS", format!("缺少参数{name}")));
        }
    }
    let param = |field: &str| Err(("PARAM_ERROR", format!("{field}参数格式错误")));
    let out_trade_no = f["out_trade_no"].clone();
    if !valid_out_trade_no(&out_trade_no) {
        return param("out_trade_no");
    }
    let Some(total_fee) = f["total_fee"].parse::<i64>().ok().filter(|v| *v > 0) else {
        return param("total_fee");
    };
    let trade_type = f["trade_type"].clone();
    if !matches!(trade_type.as_str(), "JSAPI" | "NATIVE" | "APP" | "MWEB") {
        return param("trade_type");
    }
    if trade_type == "JSAPI" && call.get("openid").is_none() {
        return Err(("LACK_PARAMS", "JSAPI支付必须传openid".into()));
    }
    if trade_type == "NATIVE" && call.get("product_id").is_none() {
        return Err(("LACK_PARAMS", "NATIVE支付必须传product_id".into()));
    }
    if call.get("fee_type").is_some_and(|t| t != "CNY") {
        return param("fee_type");
    }
    let notify_url = f["notify_url"].clone();
    if !(notify_url.starts_with("http://") || notify_url.starts_with("https://"))
        || notify_url.contains('?')
    {
        return param("notify_url");
    }
    Ok(NewOrder {
        out_trade_no,
        body: f["body"].clone(),
        total_fee,
        trade_type,
        notify_url,
        openid: call.get("openid"),
        product_id: call.get("product_id"),
        attach: call.get("attach"),
        device_info: call.get("device_info"),
    })
}

/// The answer to an order number the merchant used before: paid or closed orders refuse,
/// an unpaid one answers its `prepay_id` again only if the request repeats it faithfully.
fn reentry(core: &mut Core, call: &Call, existing: &WxOrder, new: &NewOrder) -> Reply {
    match existing.state {
        TradeState::Success => call.biz_fail(core, "ORDERPAID", "该订单已支付"),
        TradeState::Closed => call.biz_fail(core, "ORDERCLOSED", "该订单已关闭"),
        TradeState::NotPay
            if existing.trade_type != new.trade_type || existing.appid != call.merchant.appid =>
        {
            call.biz_fail(core, "OUT_TRADE_NO_USED", "商户订单号重复")
        }
        TradeState::NotPay
            if existing.total_fee != new.total_fee
                || existing.body != new.body
                || existing.notify_url != new.notify_url
                || existing.openid != new.openid
                || existing.product_id != new.product_id
                || existing.attach != new.attach =>
        {
            call.biz_fail(
                core,
                "INVALID_REQUEST",
                "参数错误:订单重入时，要求参数值与原请求一致，请确认参数问题",
            )
        }
        // A faithful re-entry: the same prepay_id again.
        TradeState::NotPay => prepay_reply(core, call, existing),
    }
}

/// `pay/unifiedorder`: create an order, or answer a repeated one as the channel does.
pub fn unifiedorder(state: &mut WxState, core: &mut Core, call: &Call) -> Reply {
    let new = match read_order(call) {
        Ok(o) => o,
        Err((code, des)) => return call.biz_fail(core, code, &des),
    };
    let m = &call.merchant;
    let key = (m.mch_id.clone(), new.out_trade_no.clone());
    if let Some(existing) = state.orders.get(&key) {
        return reentry(core, call, existing, &new);
    }
    let now = core.now();
    let prepay_id = format!(
        "wx{}{}",
        now.with_timezone(&SHANGHAI).format("%d%H%M%S"),
        core.rng_for(
            &call.instance,
            &format!("order/{}/{}", m.mch_id, new.out_trade_no)
        )
        .alnum(26)
        .to_lowercase()
    );
    let code_url = (new.trade_type == "NATIVE").then(|| {
        let mut rng = core.rng_for(
            &call.instance,
            &format!("order/{}/{}", m.mch_id, new.out_trade_no),
        );
        format!("weixin://wxpay/bizpayurl?pr={}", rng.alnum(7))
    });
    let order = WxOrder {
        appid: m.appid.clone(),
        mch_id: m.mch_id.clone(),
        out_trade_no: new.out_trade_no,
        body: new.body,
        total_fee: new.total_fee,
        trade_type: new.trade_type,
        notify_url: new.notify_url,
        openid: new.openid,
        product_id: new.product_id,
        attach: new.attach,
        device_info: new.device_info,
        sign_type: call.sign_type,
        prepay_id,
        code_url,
        created_at: now,
        state: TradeState::NotPay,
        transaction_id: None,
        paid_at: None,
        fee: None,
        notified: false,
    };
    let reply = prepay_reply(core, call, &order);
    state.orders.insert(key, order);
    reply
}

fn prepay_reply(core: &mut Core, call: &Call, o: &WxOrder) -> Reply {
    let mut extra = vec![("result_code", "SUCCESS".to_string())];
    if let Some(d) = &o.device_info {
        extra.push(("device_info", d.clone()));
    }
    extra.push(("prepay_id", o.prepay_id.clone()));
    extra.push(("trade_type", o.trade_type.clone()));
    if let Some(c) = &o.code_url {
        extra.push(("code_url", c.clone()));
    }
    if o.trade_type == "MWEB" {
        extra.push((
            "mweb_url",
            format!(
                "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={}",
                o.prepay_id
            ),
        ));
    }
    call.signed(core, extra)
}

/// `pay/orderquery`: an order's state, by `transaction_id` or `out_trade_no`.
pub fn orderquery(state: &WxState, core: &mut Core, call: &Call) -> Reply {
    let (m, f) = (&call.merchant, &call.fields);
    let txn = f.get("transaction_id").filter(|v| !v.is_empty());
    let otn = f.get("out_trade_no").filter(|v| !v.is_empty());
    let ws = state;
    let key = match (txn, otn) {
        (Some(t), _) => ws.by_transaction.get(t).cloned(),
        (None, Some(o)) => Some((m.mch_id.clone(), o.clone())),
        (None, None) => {
            return call.biz_fail(core, "LACK_PARAMS", "缺少参数transaction_id或out_trade_no")
        }
    };
    let Some(order) = key
        .and_then(|k| ws.orders.get(&k))
        .filter(|o| o.mch_id == m.mch_id)
        .cloned()
    else {
        return call.biz_fail(core, "ORDERNOTEXIST", "此交易订单号不存在");
    };
    let mut extra = vec![("result_code", "SUCCESS".to_string())];
    if let Some(d) = &order.device_info {
        extra.push(("device_info", d.clone()));
    }
    if order.state == TradeState::Success {
        extra.push(("openid", order.openid.clone().unwrap_or_default()));
        extra.push(("is_subscribe", "N".into()));
        extra.push(("trade_type", order.trade_type.clone()));
        extra.push(("bank_type", "OTHERS".into()));
        extra.push(("total_fee", order.total_fee.to_string()));
        extra.push(("fee_type", "CNY".into()));
        extra.push(("cash_fee", order.total_fee.to_string()));
        extra.push(("cash_fee_type", "CNY".into()));
        extra.push((
            "transaction_id",
            order.transaction_id.clone().unwrap_or_default(),
        ));
        extra.push((
            "time_end",
            order.paid_at.map(compact_local).unwrap_or_default(),
        ));
    } else {
        extra.push(("total_fee", order.total_fee.to_string()));
    }
    extra.push(("out_trade_no", order.out_trade_no.clone()));
    if let Some(a) = &order.attach {
        extra.push(("attach", a.clone()));
    }
    extra.push(("trade_state", order.state.as_str().into()));
    extra.push(("trade_state_desc", order.state.desc().into()));
    call.signed(core, extra)
}
