//! One refund as its order holds it: its status, amounts and times, where its notification
//! goes, and how many refunds one order may have. An order keeps its refunds and the
//! channel's indexes find them (`order`); the operations that accept and finish them are
//! `refund`'s.

use crate::clock::Instant;
use crate::money::Money;
use serde::Serialize;
use std::sync::Arc;

/// The most refunds one order may have ("每个支付订单的部分退款次数不能超过50次").
pub const MAX_REFUNDS: usize = 50;

/// `refund_status` of a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RefundStatus {
    /// Accepted, not finished.
    #[serde(rename = "PROCESSING")]
    Processing,
    /// The customer has the money.
    #[serde(rename = "SUCCESS")]
    Success,
    /// 退款异常: the refund could not reach the customer's card; the merchant settles it by
    /// hand. No money moves in sandbank's ledger and the amount is not refundable again.
    #[serde(rename = "CHANGE")]
    Change,
    /// Closed: no money moved; the amount may be refunded again (the same `out_refund_no`
    /// starts it anew).
    #[serde(rename = "REFUNDCLOSE")]
    RefundClose,
}

impl RefundStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Processing => "PROCESSING",
            RefundStatus::Success => "SUCCESS",
            RefundStatus::Change => "CHANGE",
            RefundStatus::RefundClose => "REFUNDCLOSE",
        }
    }

    /// The final status an `outcome` fault rule names, if it is one a refund can end in.
    pub fn final_from(outcome: &str) -> Option<RefundStatus> {
        match outcome {
            "SUCCESS" => Some(RefundStatus::Success),
            "CHANGE" => Some(RefundStatus::Change),
            "REFUNDCLOSE" => Some(RefundStatus::RefundClose),
            _ => None,
        }
    }
}

/// One refund of an order.
#[derive(Debug, Clone, Serialize)]
pub struct WxRefund {
    /// The merchant's refund number.
    pub out_refund_no: Box<str>,
    /// WeChat's refund id.
    pub refund_id: Box<str>,
    /// Fen refunded.
    pub refund_fee: i64,
    /// The order's amount the request named (`total_fee`).
    pub total_fee: i64,
    /// The channel's fee the refund gives back (its share of the order's fee).
    pub fee_back: Money,
    /// Fen the merchant's balance loses: `refund_fee` less `fee_back`.
    pub net_fen: i64,
    /// Where it stands.
    pub status: RefundStatus,
    /// How it will end.
    pub outcome: RefundStatus,
    /// When it was (last) accepted.
    pub requested_at: Instant,
    /// When it finishes.
    pub due_at: Instant,
    /// When it finished.
    pub finished_at: Option<Instant>,
    /// `refund_account`: which funds it draws on.
    pub refund_account: &'static str,
    /// `refund_desc`, the reason shown to the customer.
    pub refund_desc: Option<Box<str>>,
    /// Where its notification goes (none without a `notify_url`).
    #[serde(serialize_with = "ser_url")]
    pub notify_url: Option<Arc<str>>,
    /// True once its notification was acknowledged.
    pub notified: bool,
}

fn ser_url<S: serde::Serializer>(u: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    match u {
        Some(u) => s.serialize_some(&**u),
        None => s.serialize_none(),
    }
}

impl WxRefund {
    /// True while its amount counts against the order (every status but REFUNDCLOSE).
    pub fn counts(&self) -> bool {
        self.status != RefundStatus::RefundClose
    }

    /// The stream its refund id is drawn from.
    pub fn stream_key(mch_id: &str, out_refund_no: &str) -> String {
        format!("refund/{mch_id}/{out_refund_no}")
    }

    /// The key of its timer.
    pub fn timer_key(mch_id: &str, out_refund_no: &str) -> String {
        format!("{mch_id}\0{out_refund_no}")
    }
}
