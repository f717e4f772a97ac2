//! A WeChat Pay API v2 channel (XML over HTTP POST), per PROTOCOLS.md section A.
//!
//! Endpoints under the channel's mount: `pay/unifiedorder`, `pay/orderquery`,
//! `pay/downloadbill`. Requests are verified with the merchant's key (MD5 or HMAC-SHA256);
//! replies are signed the same way. A paid order's notification is sent to its
//! `notify_url` on the documented retry ladder until a correct acknowledgement.
//!
//! Errors are the channel's own: `return_code=FAIL` for communication-level problems
//! (`SIGNERROR`, `XML_FORMAT_ERROR`, `REQUIRE_POST_METHOD`, …) and `result_code=FAIL` with an
//! `err_code` for business ones (`ORDERNOTEXIST`, `ORDERPAID`, `OUT_TRADE_NO_USED`, …).

pub mod sign;
pub mod xml;

use crate::channels::{AckRule, Callback};
use crate::clock::{Instant, SHANGHAI};
use crate::faults::GateKey;
use crate::http::{InboundRequest, Outcome, Reply};
use crate::journal::{EntryKind, Record};
use crate::ledger::PostingKind;
use crate::money::{Currency, Money};
use crate::scenario::{ChannelSpec, WxMerchant};
use crate::world::{Event, Sandbank, WorldState};
use hyper::{Method, StatusCode};
use rust_decimal::Decimal;
use serde::Serialize;
use sign::SignType;
use std::collections::{BTreeMap, HashMap};

/// The notification retry ladder: waits between successive attempts, in seconds
/// (15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h, 24h4m in all; PROTOCOLS.md A.4).
pub const RETRY_LADDER_SECS: [i64; 15] = [
    15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
];

/// `trade_state` of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TradeState {
    /// Created, not paid.
    NotPay,
    /// Paid.
    Success,
    /// Closed unpaid.
    Closed,
}

impl TradeState {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            TradeState::NotPay => "NOTPAY",
            TradeState::Success => "SUCCESS",
            TradeState::Closed => "CLOSED",
        }
    }
    fn desc(self) -> &'static str {
        match self {
            TradeState::NotPay => "订单未支付",
            TradeState::Success => "支付成功",
            TradeState::Closed => "订单已关闭",
        }
    }
}

/// An order as the channel holds it.
#[derive(Debug, Clone, Serialize)]
pub struct WxOrder {
    /// App id the order was created under.
    pub appid: String,
    /// Merchant id.
    pub mch_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// Product description.
    pub body: String,
    /// Amount in fen.
    pub total_fee: i64,
    /// JSAPI, NATIVE, APP or MWEB.
    pub trade_type: String,
    /// Where the notification goes.
    pub notify_url: String,
    /// Payer openid (JSAPI), or the one assigned at payment.
    pub openid: Option<String>,
    /// NATIVE product id.
    pub product_id: Option<String>,
    /// Merchant data echoed back.
    pub attach: Option<String>,
    /// Device info echoed back.
    pub device_info: Option<String>,
    /// Algorithm the merchant signs with; notifications use it too.
    pub sign_type: SignType,
    /// Prepay id returned at creation.
    pub prepay_id: String,
    /// NATIVE QR code URL.
    pub code_url: Option<String>,
    /// When it was created.
    pub created_at: Instant,
    /// Payment state.
    pub state: TradeState,
    /// WeChat's transaction id, once paid.
    pub transaction_id: Option<String>,
    /// When it was paid.
    pub paid_at: Option<Instant>,
    /// The channel's fee on it, once paid.
    pub fee: Option<Money>,
    /// True once the merchant acknowledged the payment notification.
    pub notified: bool,
}

/// All orders of one channel instance.
#[derive(Debug, Default)]
pub struct WxState {
    /// Orders by (mch_id, out_trade_no).
    pub orders: BTreeMap<(String, String), WxOrder>,
    /// (mch_id, out_trade_no) by transaction id.
    by_transaction: HashMap<String, (String, String)>,
}

impl WxState {
    /// The order with `out_trade_no` (under `mch_id` when given).
    pub fn find(&self, out_trade_no: &str, mch_id: Option<&str>) -> Result<&WxOrder, FindError> {
        let mut hits = self
            .orders
            .values()
            .filter(|o| o.out_trade_no == out_trade_no && mch_id.is_none_or(|m| o.mch_id == m));
        match (hits.next(), hits.next()) {
            (Some(o), None) => Ok(o),
            (None, _) => Err(FindError::NotFound),
            (Some(_), Some(_)) => Err(FindError::Ambiguous),
        }
    }
}

/// Why an order lookup failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindError {
    /// No such order.
    NotFound,
    /// Several merchants have that order number: say which.
    Ambiguous,
}

/// The key a notification timer refers to an order by.
fn order_ref(mch_id: &str, out_trade_no: &str) -> String {
    format!("{mch_id}/{out_trade_no}")
}

fn split_ref(reference: &str) -> Option<(String, String)> {
    reference
        .split_once('/')
        .map(|(m, o)| (m.to_string(), o.to_string()))
}

/// A request decoded and authenticated, or the reply that refuses it.
enum Decoded {
    Refused(Reply),
    Call {
        merchant: WxMerchant,
        fields: BTreeMap<String, String>,
        sign_type: SignType,
    },
}

/// A communication-level failure: `return_code=FAIL`. When the failure has an error code we
/// also send `result_code=FAIL` and `err_code`, so SDK exceptions name it (wechatpy puts
/// `err_code` into `WeChatPayException.errcode`).
fn comm_fail(return_msg: &str, err_code: &str) -> Reply {
    Reply::xml(xml::write([
        ("return_code", "FAIL"),
        ("return_msg", return_msg),
        ("result_code", "FAIL"),
        ("err_code", err_code),
        ("err_code_des", return_msg),
    ]))
}

fn decode(spec: &ChannelSpec, req: &InboundRequest) -> Decoded {
    if req.method != Method::POST {
        return Decoded::Refused(comm_fail("请使用post方法", "REQUIRE_POST_METHOD"));
    }
    if req.body.is_empty() {
        return Decoded::Refused(comm_fail("post数据为空", "POST_DATA_EMPTY"));
    }
    let Ok(text) = std::str::from_utf8(&req.body) else {
        return Decoded::Refused(comm_fail("编码格式错误", "NOT_UTF8"));
    };
    let fields = match xml::parse(text) {
        Ok(f) => f,
        Err(_) => return Decoded::Refused(comm_fail("XML格式错误", "XML_FORMAT_ERROR")),
    };
    let Some(mch_id) = fields.get("mch_id").filter(|v| !v.is_empty()) else {
        return Decoded::Refused(comm_fail("缺少参数mch_id", "LACK_PARAMS"));
    };
    let Some(merchant) = spec.merchants.iter().find(|m| &m.mch_id == mch_id) else {
        return Decoded::Refused(comm_fail("商户号mch_id不存在", "MCHID_NOT_EXIST"));
    };
    // downloadbill and other tool APIs do not require appid on every call; payment APIs do.
    let appid = fields.get("appid").map(String::as_str).unwrap_or("");
    if req.path != "pay/downloadbill" {
        if appid.is_empty() {
            return Decoded::Refused(comm_fail("缺少参数appid", "LACK_PARAMS"));
        }
        if appid != merchant.appid {
            return Decoded::Refused(comm_fail("appid和mch_id不匹配", "APPID_MCHID_NOT_MATCH"));
        }
    }
    if fields
        .get("nonce_str")
        .is_none_or(|n| n.is_empty() || n.len() > 32)
    {
        return Decoded::Refused(comm_fail("nonce_str参数格式错误", "PARAM_ERROR"));
    }
    let Some(sign_type) = SignType::from_field(fields.get("sign_type").map(String::as_str)) else {
        return Decoded::Refused(comm_fail("sign_type参数格式错误", "PARAM_ERROR"));
    };
    if !sign::verify(&fields, &merchant.key) {
        return Decoded::Refused(comm_fail("签名错误", "SIGNERROR"));
    }
    Decoded::Call {
        merchant: merchant.clone(),
        fields,
        sign_type,
    }
}

/// A signed reply: the common fields, then `extra`, then `sign`.
fn signed(
    st: &mut WorldState,
    m: &WxMerchant,
    sign_type: SignType,
    extra: Vec<(&str, String)>,
) -> Reply {
    let mut fields: Vec<(&str, String)> = vec![
        ("return_code", "SUCCESS".into()),
        ("return_msg", "OK".into()),
        ("appid", m.appid.clone()),
        ("mch_id", m.mch_id.clone()),
        ("nonce_str", st.rng.alnum(16)),
    ];
    fields.extend(extra);
    let map: BTreeMap<String, String> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let s = sign::sign(&map, &m.key, sign_type);
    fields.push(("sign", s));
    Reply::xml(xml::write(fields.iter().map(|(k, v)| (*k, v.as_str()))))
}

/// A signed business failure: `result_code=FAIL` with `err_code`.
fn biz_fail(
    st: &mut WorldState,
    m: &WxMerchant,
    sign_type: SignType,
    code: &str,
    des: &str,
) -> Reply {
    signed(
        st,
        m,
        sign_type,
        vec![
            ("result_code", "FAIL".into()),
            ("err_code", code.into()),
            ("err_code_des", des.into()),
        ],
    )
}

/// Serve one request to a WeChat Pay v2 channel.
pub fn serve(sb: &Sandbank, spec: &ChannelSpec, req: InboundRequest) -> Outcome {
    let op = req.path.clone();
    if !matches!(
        op.as_str(),
        "pay/unifiedorder" | "pay/orderquery" | "pay/downloadbill"
    ) {
        return Reply::text(
            StatusCode::NOT_FOUND,
            format!("no such WeChat Pay v2 API: /{op}"),
        )
        .into();
    }
    let decoded = decode(spec, &req);
    let (order, amount) = match &decoded {
        Decoded::Call { fields, .. } => (
            fields.get("out_trade_no").cloned(),
            fields
                .get("total_fee")
                .and_then(|t| t.parse::<i64>().ok())
                .map(|f| Decimal::new(f, 2)),
        ),
        Decoded::Refused(_) => (None, None),
    };
    let text = String::from_utf8_lossy(&req.body).into_owned();
    let key = GateKey {
        instance: &spec.id,
        op: &op,
        order: order.as_deref(),
        amount,
    };
    let decoded = match decoded {
        Decoded::Refused(r) => return sb.refuse(key, &text, r),
        call => call,
    };
    let merchant_for_error = match &decoded {
        Decoded::Call {
            merchant,
            sign_type,
            ..
        } => Some((merchant.clone(), *sign_type)),
        Decoded::Refused(_) => None,
    };
    sb.gate(
        key,
        &text,
        |st| match decoded {
            Decoded::Refused(r) => r,
            Decoded::Call {
                merchant,
                fields,
                sign_type,
            } => match op.as_str() {
                "pay/unifiedorder" => unifiedorder(st, spec, &merchant, &fields, sign_type),
                "pay/orderquery" => orderquery(st, spec, &merchant, &fields, sign_type),
                _ => crate::statements::wechat::downloadbill(st, spec, &merchant, &fields),
            },
        },
        |st, code, message| match merchant_for_error {
            Some((m, sign_type)) => {
                let des = if message.is_empty() {
                    "系统错误"
                } else {
                    message
                };
                biz_fail(st, &m, sign_type, code, des)
            }
            None => comm_fail(
                if message.is_empty() {
                    "系统错误"
                } else {
                    message
                },
                code,
            ),
        },
    )
}

fn state_of<'a>(st: &'a mut WorldState, spec: &ChannelSpec) -> &'a mut WxState {
    // Every channel in the spec gets its state when the world is built.
    match st.channels.get_mut(&spec.id) {
        Some(crate::channels::ChannelState::WechatPayV2(s)) => s,
        None => unreachable!("channel `{}` has state from world construction", spec.id),
    }
}

fn valid_out_trade_no(s: &str) -> bool {
    (6..=32).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-*|".contains(c))
}

fn unifiedorder(
    st: &mut WorldState,
    spec: &ChannelSpec,
    m: &WxMerchant,
    f: &BTreeMap<String, String>,
    sign_type: SignType,
) -> Reply {
    for name in [
        "body",
        "out_trade_no",
        "total_fee",
        "spbill_create_ip",
        "notify_url",
        "trade_type",
    ] {
        if f.get(name).is_none_or(|v| v.is_empty()) {
            return biz_fail(st, m, sign_type, "LACK_PARAMS", &format!("缺少参数{name}"));
        }
    }
    let get = |k: &str| f.get(k).cloned().filter(|v| !v.is_empty());
    let out_trade_no = f["out_trade_no"].clone();
    if !valid_out_trade_no(&out_trade_no) {
        return biz_fail(st, m, sign_type, "PARAM_ERROR", "out_trade_no参数格式错误");
    }
    let total_fee = match f["total_fee"].parse::<i64>() {
        Ok(v) if v > 0 => v,
        _ => return biz_fail(st, m, sign_type, "PARAM_ERROR", "total_fee参数格式错误"),
    };
    let trade_type = f["trade_type"].clone();
    if !matches!(trade_type.as_str(), "JSAPI" | "NATIVE" | "APP" | "MWEB") {
        return biz_fail(st, m, sign_type, "PARAM_ERROR", "trade_type参数格式错误");
    }
    if trade_type == "JSAPI" && get("openid").is_none() {
        return biz_fail(st, m, sign_type, "LACK_PARAMS", "JSAPI支付必须传openid");
    }
    if trade_type == "NATIVE" && get("product_id").is_none() {
        return biz_fail(
            st,
            m,
            sign_type,
            "LACK_PARAMS",
            "NATIVE支付必须传product_id",
        );
    }
    if get("fee_type").is_some_and(|t| t != "CNY") {
        return biz_fail(st, m, sign_type, "PARAM_ERROR", "fee_type参数格式错误");
    }
    let notify_url = f["notify_url"].clone();
    if !(notify_url.starts_with("http://") || notify_url.starts_with("https://"))
        || notify_url.contains('?')
    {
        return biz_fail(st, m, sign_type, "PARAM_ERROR", "notify_url参数格式错误");
    }
    let key = (m.mch_id.clone(), out_trade_no.clone());
    if let Some(existing) = state_of(st, spec).orders.get(&key).cloned() {
        return match existing.state {
            TradeState::Success => biz_fail(st, m, sign_type, "ORDERPAID", "该订单已支付"),
            TradeState::Closed => biz_fail(st, m, sign_type, "ORDERCLOSED", "该订单已关闭"),
            TradeState::NotPay
                if existing.trade_type != trade_type || existing.appid != m.appid =>
            {
                biz_fail(st, m, sign_type, "OUT_TRADE_NO_USED", "商户订单号重复")
            }
            TradeState::NotPay
                if existing.total_fee != total_fee
                    || existing.body != f["body"]
                    || existing.notify_url != notify_url
                    || existing.openid != get("openid")
                    || existing.product_id != get("product_id")
                    || existing.attach != get("attach") =>
            {
                biz_fail(
                    st,
                    m,
                    sign_type,
                    "INVALID_REQUEST",
                    "参数错误:订单重入时，要求参数值与原请求一致，请确认参数问题",
                )
            }
            // A faithful re-entry: the same prepay_id again.
            TradeState::NotPay => prepay_reply(st, m, sign_type, &existing),
        };
    }
    let now = st.clock.now();
    let prepay_id = format!(
        "wx{}{}",
        now.with_timezone(&SHANGHAI).format("%d%H%M%S"),
        st.rng.alnum(26).to_lowercase()
    );
    let code_url = (trade_type == "NATIVE")
        .then(|| format!("weixin://wxpay/bizpayurl?pr={}", st.rng.alnum(7)));
    let order = WxOrder {
        appid: m.appid.clone(),
        mch_id: m.mch_id.clone(),
        out_trade_no,
        body: f["body"].clone(),
        total_fee,
        trade_type,
        notify_url,
        openid: get("openid"),
        product_id: get("product_id"),
        attach: get("attach"),
        device_info: get("device_info"),
        sign_type,
        prepay_id,
        code_url,
        created_at: now,
        state: TradeState::NotPay,
        transaction_id: None,
        paid_at: None,
        fee: None,
        notified: false,
    };
    state_of(st, spec).orders.insert(key, order.clone());
    prepay_reply(st, m, sign_type, &order)
}

fn prepay_reply(st: &mut WorldState, m: &WxMerchant, sign_type: SignType, o: &WxOrder) -> Reply {
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
    signed(st, m, sign_type, extra)
}

fn orderquery(
    st: &mut WorldState,
    spec: &ChannelSpec,
    m: &WxMerchant,
    f: &BTreeMap<String, String>,
    sign_type: SignType,
) -> Reply {
    let txn = f.get("transaction_id").filter(|v| !v.is_empty());
    let otn = f.get("out_trade_no").filter(|v| !v.is_empty());
    let ws = state_of(st, spec);
    let key = match (txn, otn) {
        (Some(t), _) => ws.by_transaction.get(t).cloned(),
        (None, Some(o)) => Some((m.mch_id.clone(), o.clone())),
        (None, None) => {
            return biz_fail(
                st,
                m,
                sign_type,
                "LACK_PARAMS",
                "缺少参数transaction_id或out_trade_no",
            )
        }
    };
    let Some(order) = key
        .and_then(|k| ws.orders.get(&k))
        .filter(|o| o.mch_id == m.mch_id)
        .cloned()
    else {
        return biz_fail(st, m, sign_type, "ORDERNOTEXIST", "此交易订单号不存在");
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
        extra.push(("time_end", order.paid_at.map(wx_time).unwrap_or_default()));
    } else {
        extra.push(("total_fee", order.total_fee.to_string()));
    }
    extra.push(("out_trade_no", order.out_trade_no.clone()));
    if let Some(a) = &order.attach {
        extra.push(("attach", a.clone()));
    }
    extra.push(("trade_state", order.state.as_str().into()));
    extra.push(("trade_state_desc", order.state.desc().into()));
    signed(st, m, sign_type, extra)
}

/// `yyyyMMddHHmmss` in Beijing time.
pub fn wx_time(t: Instant) -> String {
    t.with_timezone(&SHANGHAI)
        .format("%Y%m%d%H%M%S")
        .to_string()
}

/// Ledger account of what the channel holds for a merchant.
pub fn merchant_account(channel: &str, mch_id: &str) -> String {
    format!("channel:{channel}:merchant:{mch_id}")
}

/// Why the customer could not pay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayError {
    /// No such order.
    #[error("no order `{0}` at this channel")]
    NotFound(String),
    /// Several merchants have that order number.
    #[error("order number `{0}` exists under several merchants: give mch_id")]
    Ambiguous(String),
    /// The order is not payable.
    #[error("order `{0}` is {1}, not payable")]
    NotPayable(String, &'static str),
}

/// The customer pays order `out_trade_no`: money moves into the channel (less its fee), the
/// order turns SUCCESS, and the first notification attempt is scheduled for now.
pub fn pay(
    st: &mut WorldState,
    spec: &ChannelSpec,
    out_trade_no: &str,
    mch_id: Option<&str>,
) -> Result<serde_json::Value, PayError> {
    let order = match state_of(st, spec).find(out_trade_no, mch_id) {
        Ok(o) => o.clone(),
        Err(FindError::NotFound) => return Err(PayError::NotFound(out_trade_no.into())),
        Err(FindError::Ambiguous) => return Err(PayError::Ambiguous(out_trade_no.into())),
    };
    if order.state != TradeState::NotPay {
        return Err(PayError::NotPayable(
            out_trade_no.into(),
            order.state.as_str(),
        ));
    }
    let now = st.clock.now();
    let transaction_id = format!(
        "42000{}{}",
        now.with_timezone(&SHANGHAI).format("%Y%m%d"),
        st.rng.digits(15)
    );
    let openid = order
        .openid
        .clone()
        .unwrap_or_else(|| format!("o{}", st.rng.alnum(27)));
    let amount = Money::from_minor(order.total_fee, Currency::Cny);
    let fee = amount.times_rate_rounded(spec.fee_rate);
    let account = merchant_account(&spec.id, &order.mch_id);
    // Two-leg transfers of one amount in one currency always balance.
    let _ = st.ledger.transfer(
        now,
        PostingKind::Payment,
        &spec.id,
        out_trade_no,
        "world:customers",
        &account,
        amount,
    );
    if !fee.amount.is_zero() {
        let _ = st.ledger.transfer(
            now,
            PostingKind::Fee,
            &spec.id,
            out_trade_no,
            &account,
            &format!("channel:{}:fees", spec.id),
            fee,
        );
    }
    let key = (order.mch_id.clone(), order.out_trade_no.clone());
    let ws = state_of(st, spec);
    ws.by_transaction
        .insert(transaction_id.clone(), key.clone());
    if let Some(o) = ws.orders.get_mut(&key) {
        o.state = TradeState::Success;
        o.transaction_id = Some(transaction_id.clone());
        o.openid = Some(openid.clone());
        o.paid_at = Some(now);
        o.fee = Some(fee);
    }
    st.record(
        EntryKind::Customer,
        Record {
            instance: spec.id.clone(),
            op: "pay".into(),
            reference: Some(out_trade_no.into()),
            message: format!("customer paid {amount} (transaction {transaction_id}, fee {fee}); notification due now"),
            ..Default::default()
        },
    );
    st.record(
        EntryKind::Posting,
        Record {
            instance: spec.id.clone(),
            op: "payment".into(),
            reference: Some(out_trade_no.into()),
            message: format!(
                "world:customers → {account} {amount}; fee {fee} → channel:{}:fees",
                spec.id
            ),
            ..Default::default()
        },
    );
    st.timers.schedule(
        now,
        Event::Notify {
            instance: spec.id.clone(),
            reference: order_ref(&order.mch_id, out_trade_no),
            attempt: 1,
        },
    );
    Ok(serde_json::json!({
        "channel": spec.id,
        "mch_id": order.mch_id,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "amount": amount.major_string(),
        "fee": fee.major_string(),
        "currency": "CNY",
        "trade_state": "SUCCESS",
        "paid_at": now.to_rfc3339(),
    }))
}

/// Build attempt `attempt` of the notification for `reference`, or `None` when it is no longer due.
pub fn prepare_notification(
    st: &mut WorldState,
    spec: &ChannelSpec,
    reference: &str,
    _attempt: u32,
) -> Option<Callback> {
    let key = split_ref(reference)?;
    let order = state_of(st, spec)
        .orders
        .get(&key)
        .filter(|o| o.state == TradeState::Success && !o.notified)
        .cloned()?;
    let merchant = spec.merchants.iter().find(|m| m.mch_id == order.mch_id)?;
    let mut fields: Vec<(&str, String)> = vec![
        ("appid", order.appid.clone()),
        ("bank_type", "OTHERS".into()),
        ("cash_fee", order.total_fee.to_string()),
        ("fee_type", "CNY".into()),
        ("is_subscribe", "N".into()),
        ("mch_id", order.mch_id.clone()),
        ("nonce_str", st.rng.alnum(32)),
        ("openid", order.openid.clone().unwrap_or_default()),
        ("out_trade_no", order.out_trade_no.clone()),
        ("result_code", "SUCCESS".into()),
        ("return_code", "SUCCESS".into()),
        ("time_end", order.paid_at.map(wx_time).unwrap_or_default()),
        ("total_fee", order.total_fee.to_string()),
        ("trade_type", order.trade_type.clone()),
        (
            "transaction_id",
            order.transaction_id.clone().unwrap_or_default(),
        ),
    ];
    if let Some(a) = &order.attach {
        fields.push(("attach", a.clone()));
    }
    if let Some(d) = &order.device_info {
        fields.push(("device_info", d.clone()));
    }
    // The notification is signed with the order's algorithm and carries no `sign_type`
    // field, as the real channel does: an HMAC-SHA256 order's notification has a 64-hex
    // sign and nothing saying so, which trips SDKs that verify notifications as MD5 by
    // default (WxJava issues #1585 and #1633; wechatpy's parse_payment_result is MD5-only).
    let map: BTreeMap<String, String> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    fields.push(("sign", sign::sign(&map, &merchant.key, order.sign_type)));
    Some(Callback {
        url: order.notify_url.clone(),
        content_type: "text/xml",
        body: xml::write(fields.iter().map(|(k, v)| (*k, v.as_str()))),
        ack: AckRule::WechatV2Xml,
        order: order.out_trade_no.clone(),
        amount: Some(Decimal::new(order.total_fee, 2)),
    })
}

/// Mark the notification for `reference` acknowledged: no more attempts.
pub fn notification_acked(st: &mut WorldState, spec: &ChannelSpec, reference: &str) {
    if let Some(key) = split_ref(reference) {
        if let Some(o) = state_of(st, spec).orders.get_mut(&key) {
            o.notified = true;
        }
    }
}

/// True when `body` is a correct v2 acknowledgement: XML with `return_code` SUCCESS.
pub fn is_ack(body: &[u8]) -> bool {
    std::str::from_utf8(body)
        .ok()
        .and_then(|t| xml::parse(t).ok())
        .is_some_and(|f| f.get("return_code").is_some_and(|c| c == "SUCCESS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_are_recognised() {
        assert!(is_ack(b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"));
        assert!(!is_ack(b"<xml><return_code>FAIL</return_code></xml>"));
        assert!(!is_ack(b"success"));
        assert!(!is_ack(b""));
    }

    #[test]
    fn order_numbers_follow_the_documented_alphabet() {
        assert!(valid_out_trade_no("ORDER20240102001"));
        assert!(valid_out_trade_no("a_b-c*d|e"));
        assert!(!valid_out_trade_no("short"));
        assert!(!valid_out_trade_no("has space 123"));
        assert!(!valid_out_trade_no(&"x".repeat(33)));
    }

    #[test]
    fn the_ladder_totals_24h4m() {
        assert_eq!(RETRY_LADDER_SECS.iter().sum::<i64>(), 24 * 3600 + 4 * 60);
    }
}
