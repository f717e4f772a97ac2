//! Orders as a WeChat Pay v2 channel holds them.

use crate::clock::Instant;
use crate::money::Money;
use crate::protocol::sign::SignType;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

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

    /// `trade_state_desc`, as the channel words it.
    pub fn desc(self) -> &'static str {
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
    /// Product description (`body`), printed in the bill as 商品名称.
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
    /// Merchant data echoed back in queries, notifications and the bill.
    pub attach: Option<String>,
    /// Device info echoed back.
    pub device_info: Option<String>,
    /// Algorithm the merchant signs with; notifications use it too.
    pub sign_type: SignType,
    /// Prepay id returned at creation (and again on a faithful re-entry).
    pub prepay_id: String,
    /// NATIVE QR code URL.
    pub code_url: Option<String>,
    /// When it was created (the Alipay-style 创建时间 of statement lines).
    pub created_at: Instant,
    /// Payment state.
    pub state: TradeState,
    /// WeChat's transaction id, once paid.
    pub transaction_id: Option<String>,
    /// When it was paid (`time_end`).
    pub paid_at: Option<Instant>,
    /// The channel's fee on it, once paid.
    pub fee: Option<Money>,
    /// True once the merchant acknowledged the payment notification: no more attempts.
    pub notified: bool,
}

/// All orders of one channel instance.
#[derive(Debug, Default)]
pub struct WxState {
    /// Orders by (mch_id, out_trade_no): an order number is unique per merchant only.
    pub orders: BTreeMap<(String, String), WxOrder>,
    /// (mch_id, out_trade_no) by transaction id, for queries by `transaction_id`.
    pub by_transaction: HashMap<String, (String, String)>,
}

/// Why an order lookup failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindError {
    /// No such order.
    NotFound,
    /// Several merchants have that order number: say which.
    Ambiguous,
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
