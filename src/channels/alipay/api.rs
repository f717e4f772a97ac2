//! The face-to-face (当面付) trade methods: `alipay.trade.precreate`, `alipay.trade.pay`,
//! `alipay.trade.query`, `alipay.trade.close` and `alipay.trade.cancel`.

use super::order::{AliOrder, AliState, Product, TradeStatus};
use super::params::{
    lookup, read_amount, read_notify_url, read_out_trade_no, read_subject, valid_auth_code,
};
use super::pay;
use super::refund;
use super::request::GatewayCall;
use super::response::{local_time, Code};
use super::spec::Spec;
use crate::channels::shared::{self, Forgotten};
use crate::clock::SHANGHAI;
use crate::core::Core;
use crate::http::Reply;
use crate::journal::{EntryKind, Record};
use crate::money::Money;
use serde_json::{json, Value};

/// What a new trade is made of.
struct NewTrade {
    out_trade_no: String,
    subject: String,
    body: Option<String>,
    total: Money,
    notify_url: Option<String>,
}

fn read_trade(call: &GatewayCall) -> Result<NewTrade, Reply> {
    let out_trade_no = read_out_trade_no(call)?;
    let total = read_amount(call, "total_amount")?;
    let subject = read_subject(call)?;
    let notify_url = read_notify_url(call)?;
    Ok(NewTrade {
        out_trade_no,
        subject,
        body: call.biz_str("body"),
        total,
        notify_url,
    })
}

/// Alipay's trade number for merchant `pid`'s order `no`: the day, `22001` and 15 digits
/// from the order's stream (28 digits, as real trade numbers).
fn draw_trade_no(core: &mut Core, instance: &str, pid: &str, no: &str) -> String {
    let day = core
        .now()
        .with_timezone(&SHANGHAI)
        .format("%Y%m%d")
        .to_string();
    let digits = core
        .rng_for(instance, &format!("trade/{pid}/{no}"))
        .digits(15);
    format!("{day}22001{digits}")
}

/// A new trade, held (journalling the oldest forgotten when the channel is full).
fn create(
    state: &mut AliState,
    core: &mut Core,
    call: &GatewayCall,
    new: NewTrade,
    product: Product,
) -> (String, Option<String>) {
    let pid = call.app.pid.clone();
    let trade_no = draw_trade_no(core, &call.instance, &pid, &new.out_trade_no);
    let qr_code = (product == Product::Precreate).then(|| {
        let code = core
            .rng_for(&call.instance, &format!("qr/{pid}/{}", new.out_trade_no))
            .alnum(22)
            .to_lowercase();
        format!("https://qr.alipay.com/bax0{code}")
    });
    let order = AliOrder {
        app: call.app.clone(),
        out_trade_no: new.out_trade_no,
        trade_no: trade_no.clone(),
        product,
        subject: new.subject,
        body: new.body,
        total: new.total,
        notify_url: new.notify_url.map(Into::into),
        charset: call.charset,
        qr_code: qr_code.clone(),
        created_at: core.now(),
        status: TradeStatus::WaitBuyerPay,
        visible: product != Product::Precreate,
        paid: None,
        closed_at: None,
        refunds: Vec::new(),
        notified: false,
    };
    hold(state, core, &call.instance, order);
    (trade_no, qr_code)
}

/// Hold `order`; when that makes the channel forget its oldest trade, journal it.
pub fn hold(state: &mut AliState, core: &mut Core, instance: &str, order: AliOrder) {
    let Some(gone) = state.insert(order) else {
        return;
    };
    let forgotten = Forgotten {
        noun: "trade",
        number: &gone.out_trade_no,
        merchant: gone.pid(),
        state: gone.status.as_str(),
        max_orders: state.orders().max_orders(),
    };
    shared::record_forgotten(core, instance, forgotten);
}

/// True when a repeated request for `o` asks for the same trade.
fn same_trade(o: &AliOrder, new: &NewTrade, product: Product) -> bool {
    o.product == product && o.total == new.total && o.subject == new.subject
}

/// `alipay.trade.precreate`: a QR code for the buyer to scan. Asked again for an unpaid
/// trade with the same content, it answers the same QR code.
pub fn precreate(state: &mut AliState, core: &mut Core, call: &GatewayCall) -> Reply {
    let new = match read_trade(call) {
        Ok(n) => n,
        Err(r) => return r,
    };
    if let Some(o) = state.get(&call.app.pid, &new.out_trade_no) {
        return match o.status {
            TradeStatus::Success => call.business("ACQ.TRADE_HAS_SUCCESS", "交易已被支付"),
            TradeStatus::Closed => call.business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭"),
            TradeStatus::WaitBuyerPay if !same_trade(o, &new, Product::Precreate) => {
                call.business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
            }
            TradeStatus::WaitBuyerPay => call.success(vec![
                ("out_trade_no", o.out_trade_no.clone().into()),
                ("qr_code", o.qr_code.clone().unwrap_or_default().into()),
            ]),
        };
    }
    let out_trade_no = new.out_trade_no.clone();
    let (_, qr_code) = create(state, core, call, new, Product::Precreate);
    call.success(vec![
        ("out_trade_no", out_trade_no.into()),
        ("qr_code", qr_code.unwrap_or_default().into()),
    ])
}

/// The fields a paid or waiting barcode trade answers `alipay.trade.pay` with.
fn pay_fields(o: &AliOrder) -> Vec<(&'static str, Value)> {
    let total = o.total.major_string();
    let paid = o.paid.as_ref();
    let received = if paid.is_some() {
        total.clone()
    } else {
        "0.00".into()
    };
    let mut f: Vec<(&'static str, Value)> = vec![
        ("trade_no", o.trade_no.clone().into()),
        ("out_trade_no", o.out_trade_no.clone().into()),
        (
            "buyer_logon_id",
            paid.map(|p| p.buyer_logon_id.clone())
                .unwrap_or_default()
                .into(),
        ),
        ("total_amount", total.clone().into()),
        ("receipt_amount", received.clone().into()),
        ("buyer_pay_amount", received.clone().into()),
        ("point_amount", "0.00".into()),
        ("invoice_amount", received.into()),
    ];
    if let Some(p) = paid {
        f.push(("gmt_payment", local_time(p.at).into()));
        f.push((
            "fund_bill_list",
            json!([{"fund_channel": "ALIPAYACCOUNT", "amount": total}]),
        ));
        f.push(("buyer_user_id", p.buyer_id.clone().into()));
    }
    f
}

/// `alipay.trade.pay`: charge the buyer's payment code. Up to `barcode_password_above` it
/// succeeds at once (10000, TRADE_SUCCESS); above, the buyer must confirm with a password
/// and the answer is 10003 (WAIT_BUYER_PAY): the merchant queries until the control API's
/// pay confirms it, or cancels.
pub fn barcode(spec: &Spec, state: &mut AliState, core: &mut Core, call: &GatewayCall) -> Reply {
    let new = match read_trade(call) {
        Ok(n) => n,
        Err(r) => return r,
    };
    match call.biz_str("scene").as_deref() {
        Some("bar_code" | "wave_code") => {}
        _ => {
            return call.business(
                "ACQ.INVALID_PARAMETER",
                "参数无效: scene (bar_code or wave_code)",
            )
        }
    }
    let Some(auth_code) = call.biz_str("auth_code") else {
        return call.business("ACQ.INVALID_PARAMETER", "参数无效: auth_code 不能为空");
    };
    if !valid_auth_code(&auth_code) {
        return call.business(
            "ACQ.PAYMENT_AUTH_CODE_INVALID",
            "支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款",
        );
    }
    let pid = call.app.pid.clone();
    if let Some(o) = state.get(&pid, &new.out_trade_no) {
        return match o.status {
            _ if !same_trade(o, &new, Product::Barcode) => {
                call.business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
            }
            TradeStatus::Success => call.success(pay_fields(o)),
            TradeStatus::Closed => call.business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭"),
            TradeStatus::WaitBuyerPay => call.reply(Code::InProcess, pay_fields(o)),
        };
    }
    let out_trade_no = new.out_trade_no.clone();
    let needs_password = new.total.amount > spec.barcode_password_above.amount;
    create(state, core, call, new, Product::Barcode);
    if !needs_password {
        pay::settle(
            spec,
            state,
            core,
            &pid,
            &out_trade_no,
            "the payment code was charged",
        );
    }
    match state.get(&pid, &out_trade_no) {
        Some(o) if o.status == TradeStatus::Success => call.success(pay_fields(o)),
        Some(o) => call.reply(Code::InProcess, pay_fields(o)),
        // Just held: only a channel holding no trade at all could have forgotten it.
        None => call.fail(
            Code::Unavailable,
            "ACQ.SYSTEM_ERROR",
            "系统错误",
            Vec::new(),
        ),
    }
}

/// `alipay.trade.query`.
pub fn query(state: &AliState, call: &GatewayCall) -> Reply {
    let o = match lookup(state, call) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let total = o.total.major_string();
    let paid = o.paid.as_ref();
    let received = if paid.is_some() {
        total.clone()
    } else {
        "0.00".into()
    };
    let mut f: Vec<(&str, Value)> = vec![
        ("trade_no", o.trade_no.clone().into()),
        ("out_trade_no", o.out_trade_no.clone().into()),
        (
            "buyer_logon_id",
            paid.map(|p| p.buyer_logon_id.clone())
                .unwrap_or_default()
                .into(),
        ),
        ("trade_status", o.status.as_str().into()),
        ("total_amount", total.clone().into()),
        ("buyer_pay_amount", received.clone().into()),
        ("point_amount", "0.00".into()),
        ("invoice_amount", received.clone().into()),
        ("receipt_amount", received.into()),
    ];
    if let Some(p) = paid {
        f.push(("send_pay_date", local_time(p.at).into()));
        f.push(("buyer_user_id", p.buyer_id.clone().into()));
        f.push((
            "fund_bill_list",
            json!([{"fund_channel": "ALIPAYACCOUNT", "amount": total}]),
        ));
    }
    call.success(f)
}

/// Close merchant `pid`'s trade `no` now.
fn close_now(state: &mut AliState, core: &Core, pid: &str, no: &str) {
    let now = core.now();
    if let Some(o) = state.get_mut(pid, no) {
        o.status = TradeStatus::Closed;
        o.closed_at = Some(now);
        // A cancelled precreated trade can no longer be scanned: Alipay knows it as closed.
        o.visible = true;
    }
}

/// `alipay.trade.close`: close an unpaid trade. Face-to-face trades send no notification
/// when they close (docs/protocols.md, "B.5").
pub fn close(state: &mut AliState, core: &mut Core, call: &GatewayCall) -> Reply {
    let (pid, no, trade_no, status) = match lookup(state, call) {
        Ok(o) => (
            o.pid().to_string(),
            o.out_trade_no.clone(),
            o.trade_no.clone(),
            o.status,
        ),
        Err(r) => return r,
    };
    if status != TradeStatus::WaitBuyerPay {
        return call.business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法");
    }
    close_now(state, core, &pid, &no);
    core.record(
        EntryKind::World,
        Record {
            instance: call.instance.as_str().into(),
            op: "trade.close".into(),
            reference: Some(no.clone()),
            message: format!("trade {no} closed unpaid"),
            ..Default::default()
        },
    );
    call.success(vec![
        ("trade_no", trade_no.into()),
        ("out_trade_no", no.into()),
    ])
}

/// `alipay.trade.cancel`: an unpaid trade (scanned or not) is closed (`action` close); a
/// paid one is refunded in full and closed (`action` refund); cancelling again answers the
/// same. `retry_flag` is N: the cancel is final.
pub fn cancel(spec: &Spec, state: &mut AliState, core: &mut Core, call: &GatewayCall) -> Reply {
    // Cancel reaches a precreated trade nobody scanned: it must never be paid afterwards.
    let found = match (call.biz_str("trade_no"), call.biz_str("out_trade_no")) {
        (Some(t), _) => state.by_trade_no(&t),
        (None, Some(o)) => state.get(&call.app.pid, &o),
        (None, None) => {
            return call.business(
                "ACQ.INVALID_PARAMETER",
                "参数无效: out_trade_no 和 trade_no 不能同时为空",
            )
        }
    };
    let Some(o) = found.filter(|o| o.pid() == call.app.pid) else {
        return call.business("ACQ.TRADE_NOT_EXIST", "交易不存在");
    };
    let (pid, no, trade_no) = (
        o.pid().to_string(),
        o.out_trade_no.clone(),
        o.trade_no.clone(),
    );
    let action = match (o.status, o.paid.is_some()) {
        (TradeStatus::WaitBuyerPay, _) => {
            close_now(state, core, &pid, &no);
            core.record(
                EntryKind::World,
                Record {
                    instance: call.instance.as_str().into(),
                    op: "trade.cancel".into(),
                    reference: Some(no.clone()),
                    message: format!("trade {no} cancelled unpaid: closed"),
                    ..Default::default()
                },
            );
            "close"
        }
        (TradeStatus::Success, _) => {
            if !o.refunds.is_empty() {
                return call.business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法");
            }
            let refund = refund::full_refund(spec, state, core, &pid, &no, "cancel");
            if let Err(r) = refund {
                return call.business(r.0, &r.1);
            }
            "refund"
        }
        (TradeStatus::Closed, true) => "refund",
        (TradeStatus::Closed, false) => "close",
    };
    call.success(vec![
        ("trade_no", trade_no.into()),
        ("out_trade_no", no.into()),
        ("retry_flag", "N".into()),
        ("action", action.into()),
    ])
}
