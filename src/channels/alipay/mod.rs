//! An Alipay open-platform gateway channel (`gateway.do`, kind `alipay-gateway`); the facts
//! it follows are in `docs/protocols.md`, "B. Alipay".
//!
//! One endpoint under the channel's mount, `gateway.do`, takes every method by its `method`
//! parameter, as `GET` (query string) or `POST` (form body); requests are RSA2-signed with
//! the app's private key and checked with its public key; responses are JSON signed with
//! sandbank's "Alipay" key. Methods: `alipay.trade.precreate`, `alipay.trade.pay`,
//! `alipay.trade.query`, `alipay.trade.close`, `alipay.trade.cancel`, `alipay.trade.refund`,
//! `alipay.trade.fastpay.refund.query` and `alipay.data.dataservice.bill.downloadurl.query`,
//! whose link (`downloadBillFile.resource`) serves the day's bill ZIP for 30 s.
//!
//! Errors are the gateway's own: `40001` (a common parameter missing), `40002` (invalid:
//! `isv.invalid-signature`, `isv.invalid-app-id`, …) and `40004` with an `ACQ.*` sub_code
//! (`ACQ.TRADE_NOT_EXIST`, `ACQ.TRADE_HAS_SUCCESS`, …), all signed.
//!
//! # Layout
//! - [`spec`] — the scenario section: fee rate, order bound, password threshold, apps and
//!   their keys.
//! - [`keys`] — RSA keys in every shape the SDKs use; RSA2 signing and checking.
//! - [`link`] — a bill link: its path, how long it works, what the channel remembers of it.
//! - [`codec`] — the gateway's vocabulary: charsets, methods, the signed string, the ack.
//! - [`request`] — reading a request: its two shapes (and a bill link's), the common
//!   parameters and their checks, `biz_content`, the signature.
//! - [`response`] — writing the answers: signed JSON responses, return codes, times.
//! - [`order`] — trades as the channel holds them.
//! - [`params`] — the business parameters the methods read, checked; the trade a call names.
//! - [`api`] — precreate, pay (barcode), query, close, cancel.
//! - [`pay`] — the buyer pays (a barcode payment, or the control API).
//! - [`refund`] — refund, refund query, and their ledger side.
//! - [`bill`] — the bill link query and the download behind it.
//! - [`notify`] — payment and refund notifications, their signature and the retry ladder.
//! - [`rows`] — how its movements read as bill lines.
//! - [`client`] — the client side, for `sandbank call`: requests filled in and RSA2-signed.

pub mod api;
pub mod bill;
pub mod client;
pub mod codec;
pub mod keys;
pub mod link;
pub mod notify;
pub mod order;
pub mod params;
pub mod pay;
pub mod refund;
pub mod request;
pub mod response;
pub mod rows;
pub mod spec;

pub use codec::is_ack;
pub use notify::RETRY_LADDER_SECS;
pub use order::{AliOrder, AliState, TradeStatus};
pub use request::Call;
pub use spec::{App, Spec, MAX_ORDERS_DEFAULT, MAX_ORDERS_LIMIT};

use crate::core::{
    ActionError, Callback, Core, Forgery, NotificationId, OrderStats, OrderView, Timer,
};
use crate::http::Reply;
use crate::kind::Kind;
use crate::ledger::Posting;
use crate::statements::{Books, Describe, Entry, Phantom, Source};
use codec::Method;
use response::Code;

/// One Alipay gateway channel: its spec and its trades.
#[derive(Debug)]
pub struct Channel {
    /// What the scenario says it is.
    pub spec: Spec,
    /// Its trades and bill links.
    pub state: AliState,
}

impl Channel {
    /// A channel with no trades yet.
    pub fn new(spec: Spec) -> Channel {
        Channel {
            state: AliState::new(spec.max_orders),
            spec,
        }
    }

    /// The buyer pays trade `no` (of merchant `pid` when given).
    pub fn customer_pay(
        &mut self,
        core: &mut Core,
        no: &str,
        pid: Option<&str>,
    ) -> Result<serde_json::Value, ActionError> {
        pay::customer_pay(&self.spec, &mut self.state, core, no, pid)
    }

    /// A forged notification about trade `no` (see [`notify::forge`]).
    pub fn forge_notification(
        &self,
        core: &mut Core,
        no: &str,
        how: Forgery,
    ) -> Result<Callback, ActionError> {
        notify::forge(&self.spec, &self.state, core, no, how)
    }

    /// Trade `no` as the channel holds it.
    pub fn order(&self, _core: &Core, no: &str) -> Option<OrderView> {
        let o = self.state.find(no, None).ok()?;
        Some(OrderView {
            amount: o.total,
            detail: o.detail(),
        })
    }

    /// How many trades the channel holds, its bound, and the work of its lookups.
    pub fn order_stats(&self) -> OrderStats {
        self.state.orders().stats()
    }
}

impl Kind for Channel {
    type Call = Call;

    fn apply(&mut self, core: &mut Core, call: Call) -> Reply {
        let call = match call {
            Call::Download { token } => {
                return bill::download(&Books::of(core, self), &self.spec, &self.state, &token)
            }
            Call::Gateway(c) => c,
        };
        match call.method {
            Method::Precreate => api::precreate(&mut self.state, core, &call),
            Method::Pay => api::barcode(&self.spec, &mut self.state, core, &call),
            Method::Query => api::query(&self.state, &call),
            Method::Close => api::close(&mut self.state, core, &call),
            Method::Cancel => api::cancel(&self.spec, &mut self.state, core, &call),
            Method::Refund => refund::refund(&self.spec, &mut self.state, core, &call),
            Method::RefundQuery => refund::refund_query(&self.state, &call),
            Method::BillUrl => match bill::read_query(&call) {
                Err(reply) => reply,
                Ok(day) => {
                    // Whether the day's bill exists yet is read from the books (the
                    // mismatches may hold it back), before the link is handed out.
                    let ready = bill::ready_at(&Books::of(core, self), &call, day);
                    bill::issue_link(&mut self.state, core, &call, day, ready)
                }
            },
        }
    }

    fn protocol_error(&self, _core: &mut Core, call: &Call, code: &str, message: &str) -> Reply {
        let Call::Gateway(call) = call else {
            return Reply::text(
                hyper::StatusCode::INTERNAL_SERVER_ERROR,
                message.to_string(),
            );
        };
        // A numeric code is a public return code with its usual sub_code; anything else is
        // a sub_code, under the return code its prefix belongs to.
        let (code, sub_code) = match Code::from_number(code) {
            Some(Code::Unavailable) => (Code::Unavailable, "isp.unknow-error"),
            Some(Code::TokenPermissions) => (Code::TokenPermissions, "aop.invalid-auth-token"),
            Some(Code::Missing) => (Code::Missing, "isv.missing-parameter"),
            Some(Code::Invalid) => (Code::Invalid, "isv.invalid-parameter"),
            Some(Code::Permissions) => (Code::Permissions, "isv.insufficient-isv-permissions"),
            Some(c) => (c, "ACQ.SYSTEM_ERROR"),
            None if code.starts_with("isp.")
                || code.starts_with("aop.")
                || code == "ACQ.SYSTEM_ERROR" =>
            {
                (Code::Unavailable, code)
            }
            None if code.starts_with("isv.") => (Code::Invalid, code),
            None => (Code::Business, code),
        };
        let msg = if message.is_empty() {
            "系统繁忙"
        } else {
            message
        };
        call.fail(code, sub_code, msg, Vec::new())
    }

    fn on_timer(&mut self, _core: &mut Core, _timer: &Timer) {
        // The channel sets no timers of its own: notifications are the world's to send.
    }

    fn notification(
        &mut self,
        core: &mut Core,
        id: &NotificationId,
        _attempt: u32,
    ) -> Option<Callback> {
        notify::build(&self.spec, &self.state, core, id)
    }

    fn notification_acked(&mut self, id: &NotificationId) {
        notify::acked(&mut self.state, id)
    }
}

impl Describe for Channel {
    fn entry(
        &self,
        source: &Source,
        posting: &Posting,
        amount: crate::money::Money,
    ) -> Option<Entry> {
        rows::entry(&self.spec, &self.state, source, posting, amount)
    }

    fn phantom(&self, source: &Source, phantom: &Phantom) -> Option<Entry> {
        Some(rows::phantom(&self.spec, source, phantom))
    }
}
