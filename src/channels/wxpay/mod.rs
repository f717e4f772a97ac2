//! A WeChat Pay API v2 channel (XML over HTTP POST); the facts it follows are in
//! `docs/protocols.md`, "A. WeChat Pay v2".
//!
//! Endpoints under the channel's mount: `pay/unifiedorder`, `pay/orderquery`,
//! `pay/closeorder`, `pay/downloadbill`, `secapi/pay/refund`, `pay/refundquery`,
//! `pay/micropay` and `secapi/pay/reverse`. Requests are verified with the merchant's key
//! (MD5 or HMAC-SHA256); replies are signed the same way. The real `secapi/` endpoints also
//! demand the merchant's client certificate (mutual TLS); sandbank serves them over plain
//! HTTP and checks the signature only. A paid order's notification, and a finished
//! refund's, is sent to its `notify_url` on the documented retry ladder until a correct
//! acknowledgement.
//!
//! Errors are the channel's own: `return_code=FAIL` for communication-level problems
//! (`SIGNERROR`, `XML_FORMAT_ERROR`, `REQUIRE_POST_METHOD`, …) and `result_code=FAIL` with an
//! `err_code` for business ones (`ORDERNOTEXIST`, `ORDERPAID`, `OUT_TRADE_NO_USED`, …).
//!
//! # Layout
//! - [`spec`] — the scenario section: fee rate, order bound, merchants and their keys.
//! - [`refund_record`] — one refund as its order holds it: status, amounts, times.
//! - [`order`] — one order (and its refunds) as the channel holds it.
//! - [`state`] — all orders: storage (a shared `OrderStore`), indexes, and how many are kept
//!   (its `retention`).
//! - [`codec`] — decode and authenticate a request; signed replies and errors.
//! - [`api`] — `pay/unifiedorder`, `pay/orderquery`, `pay/closeorder`.
//! - [`bill`] — `pay/downloadbill`.
//! - [`pay`] — the customer pays (a control-API action, or a barcode payment).
//! - [`micropay`] — `pay/micropay`, `secapi/pay/reverse`.
//! - [`refund`] — `secapi/pay/refund`: a refund asked for, checked and accepted.
//! - [`refund_query`] — `pay/refundquery`.
//! - [`refund_settle`] — an accepted refund finishing on its timer, and its money.
//! - [`notify`] — payment notifications and the retry ladder.
//! - [`refund_notify`] — refund notifications and their encrypted `req_info`.
//! - [`rows`] — how its movements read as bill lines.
//! - [`xml`] — the flat `<xml>` documents.
//! - [`client`] — the client side, for `sandbank call`: requests filled in and signed.

pub mod api;
pub mod bill;
pub mod client;
pub mod codec;
pub mod micropay;
pub mod notify;
pub mod order;
pub mod pay;
pub mod refund;
pub mod refund_notify;
pub mod refund_query;
pub mod refund_record;
pub mod refund_settle;
pub mod rows;
pub mod spec;
pub mod state;
pub mod xml;

pub use codec::{is_ack, Api, Call};
pub use notify::RETRY_LADDER_SECS;
pub use order::{TradeState, TradeType, WxOrder};
pub use refund_record::{RefundStatus, WxRefund};
pub use spec::{Merchant, Spec, MAX_ORDERS_DEFAULT, MAX_ORDERS_LIMIT};
pub use state::WxState;

use crate::core::{
    ActionError, Callback, Core, Forgery, NotificationId, NotificationKind, OrderStats, OrderView,
    Timer,
};
use crate::http::Reply;
use crate::kind::{Kind, Outcome};
use crate::ledger::Posting;
use crate::money::{Currency, Money};
use crate::statements::{Books, Describe, Entry, Phantom, Source};

/// One WeChat Pay v2 channel: its spec and its orders.
#[derive(Debug)]
pub struct Channel {
    /// What the scenario says it is.
    pub spec: Spec,
    /// Its orders.
    pub state: WxState,
}

impl Channel {
    /// A channel with no orders yet.
    pub fn new(spec: Spec) -> Channel {
        Channel {
            state: WxState::new(spec.max_orders),
            spec,
        }
    }

    /// The customer pays order `out_trade_no`.
    pub fn customer_pay(
        &mut self,
        core: &mut Core,
        out_trade_no: &str,
        mch_id: Option<&str>,
    ) -> Result<serde_json::Value, ActionError> {
        pay::pay(&self.spec, &mut self.state, core, out_trade_no, mch_id)
    }

    /// A forged payment notification about order `out_trade_no` (see [`notify::forge`]).
    pub fn forge_notification(
        &self,
        core: &mut Core,
        out_trade_no: &str,
        how: Forgery,
    ) -> Result<Callback, ActionError> {
        notify::forge(&self.spec, &self.state, core, out_trade_no, how)
    }

    /// Order `out_trade_no` as the channel holds it.
    pub fn order(&self, core: &Core, out_trade_no: &str) -> Option<OrderView> {
        let o = self.state.find(out_trade_no, None).ok()?;
        let issued = api::issued(&self.state, core, &self.spec.id, o);
        Some(OrderView {
            amount: Money::from_minor(o.total_fee(), Currency::Cny),
            detail: serde_json::to_value(o.detail(issued)).unwrap_or_default(),
        })
    }

    /// How many orders the channel holds, its bound, and the work of its lookups.
    pub fn order_stats(&self) -> OrderStats {
        self.state.orders().stats()
    }

    /// Hold `n` unpaid NATIVE orders of the first merchant numbered `{prefix}{i:08}`, made
    /// directly (no request; journalled only when they make the channel forget older
    /// orders): for tests that need many orders held without sending as many requests.
    #[cfg(any(test, feature = "testing"))]
    pub fn hold_orders(&mut self, core: &mut Core, prefix: &str, n: usize) {
        let Some(m) = self.spec.merchants.first() else {
            return;
        };
        let now = core.now();
        let merchant = self.state.merchant(&m.appid, &m.mch_id);
        let url = self.state.notify_url("http://127.0.0.1:9/notify");
        for i in 0..n {
            let no = format!("{prefix}{i:08}");
            if self.state.get(&m.mch_id, &no).is_some() {
                continue;
            }
            let order = WxOrder::new(
                merchant.clone(),
                order::OrderText {
                    out_trade_no: &no,
                    body: "held",
                    openid: None,
                    product_id: Some("SKU1"),
                    attach: None,
                    device_info: None,
                },
                100,
                TradeType::Native,
                url.clone(),
                crate::protocol::sign::SignType::Md5,
                now,
            );
            api::hold(&mut self.state, core, &self.spec.id, order);
        }
    }
}

impl Channel {
    /// Perform `call`, with what it starts ending as `outcome` says when given.
    fn apply_with(&mut self, core: &mut Core, call: &Call, outcome: Option<&Outcome<'_>>) -> Reply {
        let (spec, state) = (&self.spec, &mut self.state);
        match call.api {
            Api::UnifiedOrder => api::unifiedorder(state, core, call),
            Api::OrderQuery => api::orderquery(state, core, call),
            Api::CloseOrder => api::closeorder(spec, state, core, call),
            Api::DownloadBill => bill::downloadbill(&Books::of(core, self), &self.spec, call),
            Api::Refund => refund::refund(spec, state, core, call, outcome),
            Api::RefundQuery => refund_query::refundquery(state, core, call),
            Api::Micropay => micropay::micropay(spec, state, core, call, outcome),
            Api::Reverse => micropay::reverse(spec, state, core, call),
        }
    }
}

impl Kind for Channel {
    type Call = Call;

    fn apply(&mut self, core: &mut Core, call: Call) -> Reply {
        self.apply_with(core, &call, None)
    }

    fn apply_outcome(&mut self, core: &mut Core, call: Call, outcome: &Outcome<'_>) -> Reply {
        self.apply_with(core, &call, Some(outcome))
    }

    fn protocol_error(&self, core: &mut Core, call: &Call, code: &str, message: &str) -> Reply {
        let des = if message.is_empty() {
            "系统错误"
        } else {
            message
        };
        call.biz_fail(core, code, des)
    }

    fn on_timer(&mut self, core: &mut Core, timer: &Timer) {
        match timer.name {
            refund::TIMER => refund_settle::settle(&self.spec, &mut self.state, core, &timer.key),
            micropay::TIMER => micropay::on_timer(&self.spec, &mut self.state, core, &timer.key),
            _ => {}
        }
    }

    fn notification(
        &mut self,
        core: &mut Core,
        id: &NotificationId,
        _attempt: u32,
    ) -> Option<Callback> {
        match id.kind {
            NotificationKind::Payment => notify::build(&self.spec, &self.state, core, id),
            NotificationKind::Refund => refund_notify::build(&self.spec, &self.state, core, id),
        }
    }

    fn notification_acked(&mut self, id: &NotificationId) {
        match id.kind {
            NotificationKind::Payment => notify::acked(&mut self.state, id),
            NotificationKind::Refund => refund_notify::acked(&mut self.state, id),
        }
    }
}

impl Describe for Channel {
    fn entry(&self, source: &Source, posting: &Posting, amount: Money) -> Option<Entry> {
        rows::entry(&self.spec, &self.state, source, posting, amount)
    }

    fn phantom(&self, source: &Source, phantom: &Phantom) -> Option<Entry> {
        Some(rows::phantom(&self.spec, source, phantom))
    }
}

#[cfg(test)]
mod tests {
    use super::api::valid_out_trade_no;

    #[test]
    fn order_numbers_follow_the_documented_alphabet() {
        assert!(valid_out_trade_no("ORDER20240102001"));
        assert!(valid_out_trade_no("a_b-c*d|e"));
        assert!(!valid_out_trade_no("short"));
        assert!(!valid_out_trade_no("has space 123"));
        assert!(!valid_out_trade_no(&"x".repeat(33)));
    }
}
