//! Trades as an Alipay gateway channel holds them (an [`OrderStore`], as every channel kind
//! keeps them), found by the merchant's order number or by Alipay's trade number through
//! hash indexes, at most `max_orders` of them (creating one more forgets the oldest,
//! journalled as `order.forget`, as the WeChat channel does).
//!
//! A trade's life (docs/protocols.md, "B.5"): `WAIT_BUYER_PAY` → `TRADE_SUCCESS` (paid) or
//! `TRADE_CLOSED` (closed or cancelled unpaid, or refunded in full). A face-to-face trade
//! made by `alipay.trade.precreate` exists at Alipay only once the buyer scans its QR code:
//! until then `alipay.trade.query` and `alipay.trade.close` answer `ACQ.TRADE_NOT_EXIST`
//! ([`AliOrder::visible`]). The control API's pay is the scan and the payment together.

use super::codec::Charset;
use super::link::Download;
use super::spec::App;
use crate::channels::shared::{FindError, OrderStore};
use crate::clock::Instant;
use crate::money::Money;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// `trade_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TradeStatus {
    /// Created, waiting for the buyer.
    #[serde(rename = "WAIT_BUYER_PAY")]
    WaitBuyerPay,
    /// Paid (and refundable).
    #[serde(rename = "TRADE_SUCCESS")]
    Success,
    /// Closed unpaid, or refunded in full.
    #[serde(rename = "TRADE_CLOSED")]
    Closed,
}

impl TradeStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            TradeStatus::WaitBuyerPay => "WAIT_BUYER_PAY",
            TradeStatus::Success => "TRADE_SUCCESS",
            TradeStatus::Closed => "TRADE_CLOSED",
        }
    }
}

/// How the trade was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Product {
    /// `alipay.trade.precreate`: the merchant shows a QR code, the buyer scans it.
    Precreate,
    /// `alipay.trade.pay`: the merchant scans the buyer's payment code.
    Barcode,
}

/// What paying added.
#[derive(Debug, Clone, Serialize)]
pub struct Paid {
    /// When (`gmt_payment`).
    pub at: Instant,
    /// The buyer's user id (`buyer_id`, `2088…`).
    pub buyer_id: String,
    /// The buyer's masked login (`buyer_logon_id`).
    pub buyer_logon_id: String,
    /// The channel's fee on it.
    pub fee: Money,
}

/// One refund of a trade (`alipay.trade.refund`), by its request number.
#[derive(Debug, Clone, Serialize)]
pub struct Refund {
    /// `out_request_no` (the out_trade_no when the merchant gave none).
    pub out_request_no: String,
    /// The amount refunded.
    pub amount: Money,
    /// The fee given back with it.
    pub fee_back: Money,
    /// When (`gmt_refund_pay`).
    pub at: Instant,
    /// The reason given.
    pub reason: Option<String>,
    /// The ledger posting that moved its money (its bill line is found by it).
    pub posting: u64,
    /// True once its notification was acknowledged (or it sends none).
    pub notified: bool,
}

/// A trade as the channel holds it.
#[derive(Debug, Clone, Serialize)]
pub struct AliOrder {
    /// The app that made it.
    #[serde(serialize_with = "app_id_of")]
    pub app: Arc<App>,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// Alipay's trade number.
    pub trade_no: String,
    /// How it was made.
    pub product: Product,
    /// `subject`.
    pub subject: String,
    /// `body`, when given.
    pub body: Option<String>,
    /// `total_amount`.
    pub total: Money,
    /// Where notifications go, when the request named one.
    pub notify_url: Option<Arc<str>>,
    /// The charset of the request that made it: its notifications use it too.
    pub charset: Charset,
    /// The QR code of a precreated trade.
    pub qr_code: Option<String>,
    /// When it was created (`gmt_create`).
    pub created_at: Instant,
    /// `trade_status`.
    pub status: TradeStatus,
    /// False for a precreated trade nobody has scanned yet: Alipay does not know it.
    pub visible: bool,
    /// Set once paid.
    pub paid: Option<Paid>,
    /// When it closed (`gmt_close`).
    pub closed_at: Option<Instant>,
    /// Refunds, in order.
    pub refunds: Vec<Refund>,
    /// True once the payment notification was acknowledged.
    pub notified: bool,
}

fn app_id_of<S: serde::Serializer>(a: &Arc<App>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&a.app_id)
}

impl AliOrder {
    /// The merchant's partner id.
    pub fn pid(&self) -> &str {
        &self.app.pid
    }

    /// The sum refunded so far.
    pub fn refunded(&self) -> Money {
        self.refunds
            .iter()
            .fold(Money::zero(self.total.currency), |acc, r| {
                acc.checked_add(r.amount).unwrap_or(acc)
            })
    }

    /// The whole trade as the control API shows it.
    pub fn detail(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["pid"] = self.pid().into();
        v["total_amount"] = self.total.major_string().into();
        v["refund_fee"] = self.refunded().major_string().into();
        v
    }
}

/// All trades of one channel instance.
#[derive(Debug)]
pub struct AliState {
    /// Trades in order of creation, numbered that way.
    orders: OrderStore<AliOrder>,
    /// Trade numbers (in order of creation) by (partner id, out_trade_no).
    by_number: HashMap<(String, String), u64>,
    /// Trade numbers by order number alone, for the control API (several merchants may
    /// share a number).
    by_number_only: HashMap<String, Vec<u64>>,
    /// Trade numbers by Alipay's trade number.
    by_trade_no: HashMap<String, u64>,
    /// Bill download links handed out, newest last (see `bill`).
    pub downloads: VecDeque<Download>,
}

impl AliState {
    /// No trades yet; at most `max_orders` (at least 1) held.
    pub fn new(max_orders: usize) -> AliState {
        AliState {
            orders: OrderStore::new(max_orders),
            by_number: HashMap::new(),
            by_number_only: HashMap::new(),
            by_trade_no: HashMap::new(),
            downloads: VecDeque::new(),
        }
    }

    /// The trades held: how many, the bound, the counts (see [`OrderStore::stats`]).
    pub fn orders(&self) -> &OrderStore<AliOrder> {
        &self.orders
    }

    /// Merchant `pid`'s trade `out_trade_no`.
    pub fn get(&self, pid: &str, out_trade_no: &str) -> Option<&AliOrder> {
        let seq = *self
            .by_number
            .get(&(pid.to_string(), out_trade_no.to_string()))?;
        self.orders.examine(seq)
    }

    /// Merchant `pid`'s trade `out_trade_no`, to change.
    pub fn get_mut(&mut self, pid: &str, out_trade_no: &str) -> Option<&mut AliOrder> {
        let seq = *self
            .by_number
            .get(&(pid.to_string(), out_trade_no.to_string()))?;
        self.orders.examine_mut(seq)
    }

    /// The trade with Alipay trade number `trade_no`.
    pub fn by_trade_no(&self, trade_no: &str) -> Option<&AliOrder> {
        self.orders.examine(*self.by_trade_no.get(trade_no)?)
    }

    /// The trade `out_trade_no` (of merchant `pid` when given).
    pub fn find(&self, out_trade_no: &str, pid: Option<&str>) -> Result<&AliOrder, FindError> {
        if let Some(pid) = pid {
            return self.get(pid, out_trade_no).ok_or(FindError::NotFound);
        }
        let seqs = self
            .by_number_only
            .get(out_trade_no)
            .ok_or(FindError::NotFound)?;
        match seqs.as_slice() {
            [one] => self.orders.examine(*one).ok_or(FindError::NotFound),
            [] => Err(FindError::NotFound),
            _ => Err(FindError::Ambiguous),
        }
    }

    /// Hold `order` (not held yet: look it up first). When `max_orders` are held, the
    /// oldest is forgotten first and returned.
    pub fn insert(&mut self, order: AliOrder) -> Option<AliOrder> {
        let forgotten = if self.orders.is_full() {
            self.forget_oldest()
        } else {
            None
        };
        let (key, no, trade_no) = (
            (order.pid().to_string(), order.out_trade_no.clone()),
            order.out_trade_no.clone(),
            order.trade_no.clone(),
        );
        let seq = self.orders.push(order);
        self.by_number.insert(key, seq);
        self.by_number_only.entry(no).or_default().push(seq);
        self.by_trade_no.insert(trade_no, seq);
        forgotten
    }

    fn forget_oldest(&mut self) -> Option<AliOrder> {
        let (seq, order) = self.orders.pop_oldest()?;
        self.by_number
            .remove(&(order.pid().to_string(), order.out_trade_no.clone()));
        if let Some(v) = self.by_number_only.get_mut(&order.out_trade_no) {
            v.retain(|s| *s != seq);
            if v.is_empty() {
                self.by_number_only.remove(&order.out_trade_no);
            }
        }
        self.by_trade_no.remove(&order.trade_no);
        Some(order)
    }
}
