//! An order as a WeChat Pay v2 channel holds it: a compact record, read through its
//! methods.
//!
//! An order holds what it was created with and what paying it added, and nothing that can
//! be had elsewhere: the merchant's ids are shared by all its orders, a notify URL by the
//! orders that repeat it, the variable texts sit in one allocation, and the prepay id and
//! QR code URL are derived again from the order's seeded stream when asked (they are the
//! first draws of a fresh stream; see [`Issued`]). Where orders are kept, found and
//! forgotten is [`super::state`].

use super::refund_record::{RefundStatus, WxRefund, MAX_REFUNDS};
use crate::clock::{Instant, SHANGHAI};
use crate::money::Money;
use crate::protocol::sign::SignType;
use crate::rng::WorldRng;
use serde::Serialize;
use std::sync::Arc;

/// `trade_state` of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TradeState {
    /// Created, not paid.
    NotPay,
    /// Paid.
    Success,
    /// Paid, and a refund was accepted since (`REFUND`, 转入退款).
    Refund,
    /// Closed unpaid (`pay/closeorder`).
    Closed,
    /// A barcode (MICROPAY) order cancelled by `secapi/pay/reverse`.
    Revoked,
    /// A barcode order waiting for the customer to enter a password.
    UserPaying,
}

impl TradeState {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            TradeState::NotPay => "NOTPAY",
            TradeState::Success => "SUCCESS",
            TradeState::Refund => "REFUND",
            TradeState::Closed => "CLOSED",
            TradeState::Revoked => "REVOKED",
            TradeState::UserPaying => "USERPAYING",
        }
    }

    /// `trade_state_desc`, as the channel words it.
    pub fn desc(self) -> &'static str {
        match self {
            TradeState::NotPay => "订单未支付",
            TradeState::Success => "支付成功",
            TradeState::Refund => "订单发生过退款",
            TradeState::Closed => "订单已关闭",
            TradeState::Revoked => "订单已撤销",
            TradeState::UserPaying => "需要用户输入支付密码",
        }
    }
}

/// `trade_type` of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeType {
    /// In-app browser / official account payment.
    Jsapi,
    /// QR code payment.
    Native,
    /// Mobile app payment.
    App,
    /// Mobile web (H5) payment.
    Mweb,
    /// Barcode payment (付款码支付, `pay/micropay`): the merchant scans the customer's code.
    Micropay,
}

impl TradeType {
    /// Read the wire value.
    pub fn parse(s: &str) -> Option<TradeType> {
        match s {
            "JSAPI" => Some(TradeType::Jsapi),
            "NATIVE" => Some(TradeType::Native),
            "APP" => Some(TradeType::App),
            "MWEB" => Some(TradeType::Mweb),
            // MICROPAY orders are made by `pay/micropay`, never by `pay/unifiedorder`.
            _ => None,
        }
    }

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            TradeType::Jsapi => "JSAPI",
            TradeType::Native => "NATIVE",
            TradeType::App => "APP",
            TradeType::Mweb => "MWEB",
            TradeType::Micropay => "MICROPAY",
        }
    }
}

/// A merchant's ids, shared by all its orders.
#[derive(Debug, PartialEq, Eq)]
pub struct MerchantIds {
    /// App id its orders are created under.
    pub appid: Box<str>,
    /// Merchant id.
    pub mch_id: Box<str>,
}

/// What paying adds to an order.
#[derive(Debug, Clone)]
struct Paid {
    transaction_id: Box<str>,
    paid_at: Instant,
    fee: Money,
    /// The payer's openid when the order was created without one.
    assigned_openid: Option<Box<str>>,
    /// Its refunds, in the order they were accepted (at most [`MAX_REFUNDS`]).
    refunds: Vec<WxRefund>,
}

/// The texts a new order is created with; empty optional fields are `None`.
#[derive(Debug, Clone, Copy)]
pub struct OrderText<'a> {
    /// The merchant's order number.
    pub out_trade_no: &'a str,
    /// Product description.
    pub body: &'a str,
    /// Payer openid (JSAPI).
    pub openid: Option<&'a str>,
    /// NATIVE product id.
    pub product_id: Option<&'a str>,
    /// Merchant data.
    pub attach: Option<&'a str>,
    /// Device info.
    pub device_info: Option<&'a str>,
}

// Positions of the texts in `WxOrder::text`.
const OUT_TRADE_NO: usize = 0;
const BODY: usize = 1;
const OPENID: usize = 2;
const PRODUCT_ID: usize = 3;
const ATTACH: usize = 4;
const DEVICE_INFO: usize = 5;

/// An order as the channel holds it. Read it through its methods; [`WxOrder::detail`] is
/// the whole of it as the control API shows it.
#[derive(Debug, Clone)]
pub struct WxOrder {
    merchant: Arc<MerchantIds>,
    /// out_trade_no, body, openid, product_id, attach, device_info, one after the other
    /// (an absent optional text is empty: the channel treats an empty field as absent).
    text: Box<str>,
    /// Where each text but the last ends in `text`.
    ends: [u32; 5],
    total_fee: i64,
    created_at: Instant,
    notify_url: Arc<str>,
    paid: Option<Box<Paid>>,
    trade_type: TradeType,
    sign_type: SignType,
    state: TradeState,
    notified: bool,
}

impl WxOrder {
    /// A new unpaid order.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        merchant: Arc<MerchantIds>,
        text: OrderText<'_>,
        total_fee: i64,
        trade_type: TradeType,
        notify_url: Arc<str>,
        sign_type: SignType,
        created_at: Instant,
    ) -> WxOrder {
        let parts = [
            text.out_trade_no,
            text.body,
            text.openid.unwrap_or(""),
            text.product_id.unwrap_or(""),
            text.attach.unwrap_or(""),
            text.device_info.unwrap_or(""),
        ];
        let mut joined = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0u32; 5];
        for (i, p) in parts.iter().enumerate() {
            joined.push_str(p);
            if let Some(end) = ends.get_mut(i) {
                // Bodies are capped far below 4 GiB (`http::MAX_BODY_BYTES`).
                *end = u32::try_from(joined.len()).unwrap_or(u32::MAX);
            }
        }
        WxOrder {
            merchant,
            text: joined.into_boxed_str(),
            ends,
            total_fee,
            created_at,
            notify_url,
            paid: None,
            trade_type,
            sign_type,
            state: TradeState::NotPay,
            notified: false,
        }
    }

    fn part(&self, i: usize) -> &str {
        let start = match i {
            0 => 0,
            _ => self.ends.get(i - 1).map_or(0, |e| *e as usize),
        };
        let end = self.ends.get(i).map_or(self.text.len(), |e| *e as usize);
        self.text.get(start..end).unwrap_or("")
    }

    fn optional(&self, i: usize) -> Option<&str> {
        Some(self.part(i)).filter(|s| !s.is_empty())
    }

    /// App id the order was created under.
    pub fn appid(&self) -> &str {
        &self.merchant.appid
    }
    /// Merchant id.
    pub fn mch_id(&self) -> &str {
        &self.merchant.mch_id
    }
    /// The merchant's order number.
    pub fn out_trade_no(&self) -> &str {
        self.part(OUT_TRADE_NO)
    }
    /// Product description (`body`), printed in the bill as 商品名称.
    pub fn body(&self) -> &str {
        self.part(BODY)
    }
    /// Amount in fen.
    pub fn total_fee(&self) -> i64 {
        self.total_fee
    }
    /// JSAPI, NATIVE, APP or MWEB.
    pub fn trade_type(&self) -> TradeType {
        self.trade_type
    }
    /// Where the notification goes.
    pub fn notify_url(&self) -> &str {
        &self.notify_url
    }
    /// Payer openid: the one given at creation (JSAPI), or the one assigned at payment.
    pub fn openid(&self) -> Option<&str> {
        self.optional(OPENID).or_else(|| {
            self.paid
                .as_ref()
                .and_then(|p| p.assigned_openid.as_deref())
        })
    }
    /// NATIVE product id.
    pub fn product_id(&self) -> Option<&str> {
        self.optional(PRODUCT_ID)
    }
    /// Merchant data echoed back in queries, notifications and the bill.
    pub fn attach(&self) -> Option<&str> {
        self.optional(ATTACH)
    }
    /// Device info echoed back.
    pub fn device_info(&self) -> Option<&str> {
        self.optional(DEVICE_INFO)
    }
    /// Algorithm the merchant signs with; notifications use it too.
    pub fn sign_type(&self) -> SignType {
        self.sign_type
    }
    /// When it was created.
    pub fn created_at(&self) -> Instant {
        self.created_at
    }
    /// Payment state as `pay/orderquery` reports it: a paid order with a refund is `REFUND`.
    pub fn state(&self) -> TradeState {
        match &self.paid {
            Some(p) if self.state == TradeState::Success && !p.refunds.is_empty() => {
                TradeState::Refund
            }
            _ => self.state,
        }
    }
    /// True when the customer paid it (whatever was refunded or reversed since).
    pub fn is_paid(&self) -> bool {
        self.paid.is_some()
    }
    /// Its refunds, oldest first (none before it is paid).
    pub fn refunds(&self) -> &[WxRefund] {
        self.paid.as_ref().map_or(&[], |p| &p.refunds)
    }
    /// Its refunds, to change.
    pub fn refunds_mut(&mut self) -> &mut [WxRefund] {
        match &mut self.paid {
            Some(p) => &mut p.refunds,
            None => &mut [],
        }
    }
    /// Fen refunded or being refunded (every refund not closed).
    pub fn refunded_fee(&self) -> i64 {
        self.refunds()
            .iter()
            .filter(|r| r.counts())
            .map(|r| r.refund_fee)
            .sum()
    }
    /// The fee returned by its successful refunds so far.
    pub fn fee_returned(&self) -> Money {
        let zero = Money::zero(crate::money::Currency::Cny);
        self.refunds()
            .iter()
            .filter(|r| r.status == RefundStatus::Success)
            .fold(zero, |acc, r| acc.checked_add(r.fee_back).unwrap_or(acc))
    }
    /// Set the payment state (closing, reversing, waiting for the customer's password).
    pub fn set_state(&mut self, state: TradeState) {
        self.state = state;
    }
    /// WeChat's transaction id, once paid.
    pub fn transaction_id(&self) -> Option<&str> {
        self.paid.as_ref().map(|p| &*p.transaction_id)
    }
    /// When it was paid (`time_end`).
    pub fn paid_at(&self) -> Option<Instant> {
        self.paid.as_ref().map(|p| p.paid_at)
    }
    /// The channel's fee on it, once paid.
    pub fn fee(&self) -> Option<Money> {
        self.paid.as_ref().map(|p| p.fee)
    }
    /// True once the merchant acknowledged the payment notification: no more attempts.
    pub fn notified(&self) -> bool {
        self.notified
    }

    /// The seeded stream the order's prepay id and QR code URL are drawn from.
    pub fn stream_key(mch_id: &str, out_trade_no: &str) -> String {
        format!("order/{mch_id}/{out_trade_no}")
    }

    /// The whole order as the control API shows it, with the ids it was issued.
    pub fn detail(&self, issued: Issued) -> OrderDetail {
        OrderDetail {
            appid: self.appid().to_string(),
            mch_id: self.mch_id().to_string(),
            out_trade_no: self.out_trade_no().to_string(),
            body: self.body().to_string(),
            total_fee: self.total_fee,
            trade_type: self.trade_type.as_str(),
            notify_url: self.notify_url().to_string(),
            openid: self.openid().map(str::to_string),
            product_id: self.product_id().map(str::to_string),
            attach: self.attach().map(str::to_string),
            device_info: self.device_info().map(str::to_string),
            sign_type: self.sign_type,
            prepay_id: issued.prepay_id,
            code_url: issued.code_url,
            created_at: self.created_at,
            state: self.state,
            transaction_id: self.transaction_id().map(str::to_string),
            paid_at: self.paid_at(),
            fee: self.fee(),
            notified: self.notified,
            refunds: self.refunds().to_vec(),
        }
    }
}

/// What the channel issued when it created an order: the prepay id (returned at creation
/// and again on a faithful re-entry) and the NATIVE QR code URL. Both are the first draws of
/// the order's stream ([`WxOrder::stream_key`]), so [`Issued::draw`] on that stream from its
/// start gives them again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// `prepay_id`.
    pub prepay_id: String,
    /// `code_url` of a NATIVE order.
    pub code_url: Option<String>,
}

impl Issued {
    /// Draw the ids of an order of `trade_type` created at `created_at` from `rng`.
    pub fn draw(rng: &mut WorldRng, created_at: Instant, trade_type: TradeType) -> Issued {
        let prepay_id = format!(
            "wx{}{}",
            created_at.with_timezone(&SHANGHAI).format("%d%H%M%S"),
            rng.alnum(26).to_lowercase()
        );
        let code_url = (trade_type == TradeType::Native)
            .then(|| format!("weixin://wxpay/bizpayurl?pr={}", rng.alnum(7)));
        Issued {
            prepay_id,
            code_url,
        }
    }
}

/// An order as the control API shows it (`GET /_sandbank/channels/{id}/orders/{no}`).
#[derive(Debug, Clone, Serialize)]
pub struct OrderDetail {
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
    pub trade_type: &'static str,
    /// Where the notification goes.
    pub notify_url: String,
    /// Payer openid.
    pub openid: Option<String>,
    /// NATIVE product id.
    pub product_id: Option<String>,
    /// Merchant data.
    pub attach: Option<String>,
    /// Device info.
    pub device_info: Option<String>,
    /// Algorithm the merchant signs with.
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
    /// True once the payment notification was acknowledged.
    pub notified: bool,
    /// Its refunds, oldest first.
    pub refunds: Vec<WxRefund>,
}

impl WxOrder {
    /// Record the payment: SUCCESS, with `transaction_id`, the customer's `openid` (kept
    /// only when the order did not name one), when and the fee. The channel's state indexes
    /// the transaction id (`state::WxState::mark_paid`).
    pub(super) fn set_paid(
        &mut self,
        transaction_id: &str,
        openid: &str,
        paid_at: Instant,
        fee: Money,
    ) {
        let assigned_openid = self.optional(OPENID).is_none().then(|| openid.into());
        self.state = TradeState::Success;
        self.paid = Some(Box::new(Paid {
            transaction_id: transaction_id.into(),
            paid_at,
            fee,
            assigned_openid,
            refunds: Vec::new(),
        }));
    }

    /// Add a refund to a paid order; its index among the order's refunds, or `None` when the
    /// order is not paid or has [`MAX_REFUNDS`] refunds already. The channel's state
    /// indexes it (`state::WxState::add_refund`).
    pub(super) fn push_refund(&mut self, refund: WxRefund) -> Option<u8> {
        let paid = self.paid.as_mut()?;
        let index = u8::try_from(paid.refunds.len()).ok()?;
        if usize::from(index) >= MAX_REFUNDS {
            return None;
        }
        paid.refunds.push(refund);
        Some(index)
    }

    /// Mark the payment notification acknowledged: no more attempts.
    pub fn set_notified(&mut self) {
        self.notified = true;
    }
}
