//! Acquiring channels: the kinds sandbank fakes, one folder each, behind one enum.
//!
//! A channel instance is mounted at `/{id}/`. Everything the world asks of a channel goes
//! through [`Channel`], which implements [`Kind`] and [`Describe`] by handing each verb to
//! the concrete kind — one line per kind per verb. Nothing outside this folder names a
//! concrete kind.
//!
//! Adding a channel kind touches: its folder; one variant in [`ChannelSpec`], [`Channel`]
//! and [`Call`] with their match arms here; and the kind's name in [`KINDS`],
//! [`validate`] and [`client`] (its `client.rs`, what `sandbank call` signs with). The world, the scenario, the control API, the statements and the harness do
//! not change.

pub mod alipay;
pub mod shared;
pub mod wxpay;

use crate::config::{ScenarioError, Section};
use crate::core::{
    ActionError, Callback, Core, Forgery, NotificationId, OrderStats, OrderView, Timer,
};
use crate::directory::Instance;
use crate::http::{InboundRequest, Reply};
use crate::kind::{Decoded, Kind, Outcome};
use crate::ledger::Posting;
use crate::money::Money;
use crate::statements::render::{BillType, Format};
use crate::statements::{Describe, Entry, Phantom, Source};
use serde::Serialize;

/// The channel kinds a scenario may name.
pub const KINDS: &str = "wechatpay-v2, alipay-gateway";

/// A validated channel section of a scenario.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind")]
pub enum ChannelSpec {
    /// A WeChat Pay v2 channel.
    #[serde(rename = "wechatpay-v2")]
    WechatPayV2(wxpay::Spec),
    /// An Alipay open-platform gateway channel.
    #[serde(rename = "alipay-gateway")]
    AlipayGateway(alipay::Spec),
}

impl ChannelSpec {
    /// The mount id.
    pub fn id(&self) -> &str {
        match self {
            ChannelSpec::WechatPayV2(s) => &s.id,
            ChannelSpec::AlipayGateway(s) => &s.id,
        }
    }

    /// Read and authenticate a request to this channel. Needs only the spec and changes
    /// nothing, so the world does it outside its lock.
    pub fn decode(&self, req: &InboundRequest) -> Decoded<Call> {
        match self {
            ChannelSpec::WechatPayV2(s) => wxpay::codec::decode(s, req).map(Call::WechatPayV2),
            ChannelSpec::AlipayGateway(s) => {
                alipay::request::decode(s, req).map(Call::AlipayGateway)
            }
        }
    }

    /// What a person needs to call it (`sandbank scenario check` prints it).
    pub fn summary(&self) -> String {
        match self {
            ChannelSpec::WechatPayV2(s) => s.summary(),
            ChannelSpec::AlipayGateway(s) => s.summary(),
        }
    }

    /// What a client needs to call the channel, as JSON (`GET /_sandbank/channels/{id}`):
    /// its kind, where it is mounted and its credentials, in the kind's own terms.
    pub fn credentials(&self) -> serde_json::Value {
        match self {
            ChannelSpec::WechatPayV2(s) => s.credentials(),
            ChannelSpec::AlipayGateway(s) => s.credentials(),
        }
    }

    /// The channel as the directory shows it.
    pub fn instance(&self) -> Instance {
        match self {
            ChannelSpec::WechatPayV2(s) => s.instance(),
            ChannelSpec::AlipayGateway(s) => s.instance(),
        }
    }

    /// The bill a settlement system downloads to reconcile this channel (and the control
    /// API's default statement format for it): the WeChat ALL bill, the Alipay trade bill.
    pub fn bill_format(&self) -> Format {
        match self {
            ChannelSpec::WechatPayV2(_) => Format::Wechat(BillType::All),
            ChannelSpec::AlipayGateway(_) => Format::Alipay,
        }
    }

    /// The operation under which the channel takes refund requests: what a fault rule's
    /// `op` names to act on refunds.
    pub fn refund_op(&self) -> &'static str {
        match self {
            ChannelSpec::WechatPayV2(_) => wxpay::codec::Api::Refund.op(),
            ChannelSpec::AlipayGateway(_) => alipay::codec::Method::Refund.name(),
        }
    }
}

/// A client of the channel whose credentials (`GET /_sandbank/channels/{id}`) are
/// `credentials`, for `sandbank call`; `None` when their `kind` is no channel kind.
pub fn client(
    credentials: &serde_json::Value,
) -> Option<Result<Box<dyn crate::protocol::client::Client>, String>> {
    fn boxed<C: crate::protocol::client::Client + 'static>(
        c: Result<C, String>,
    ) -> Result<Box<dyn crate::protocol::client::Client>, String> {
        c.map(|c| Box::new(c) as Box<dyn crate::protocol::client::Client>)
    }
    match credentials.get("kind")?.as_str()? {
        wxpay::spec::KIND => Some(boxed(wxpay::client::Client::from_credentials(credentials))),
        alipay::spec::KIND => Some(boxed(alipay::client::Client::from_credentials(credentials))),
        _ => None,
    }
}

/// Validate the section of channel `id` of kind `kind` (its other fields in `table`).
pub fn validate(
    id: &str,
    kind: &str,
    table: toml::Table,
    section: &Section<'_>,
) -> Result<ChannelSpec, ScenarioError> {
    match kind {
        wxpay::spec::KIND => {
            wxpay::spec::validate(id, table, section).map(ChannelSpec::WechatPayV2)
        }
        alipay::spec::KIND => {
            alipay::spec::validate(id, table, section).map(ChannelSpec::AlipayGateway)
        }
        other => Err(section.err("kind", format!("`{other}` is not one of {KINDS}"))),
    }
}

/// One channel instance: its spec and its state.
#[derive(Debug)]
pub enum Channel {
    /// A WeChat Pay v2 channel.
    WechatPayV2(wxpay::Channel),
    /// An Alipay gateway channel.
    AlipayGateway(alipay::Channel),
}

/// A decoded request to a channel.
#[derive(Debug)]
pub enum Call {
    /// To a WeChat Pay v2 channel.
    WechatPayV2(wxpay::Call),
    /// To an Alipay gateway channel.
    AlipayGateway(alipay::Call),
}

impl Channel {
    /// A fresh channel for `spec`, holding nothing yet.
    pub fn new(spec: &ChannelSpec) -> Channel {
        match spec {
            ChannelSpec::WechatPayV2(s) => Channel::WechatPayV2(wxpay::Channel::new(s.clone())),
            ChannelSpec::AlipayGateway(s) => {
                Channel::AlipayGateway(alipay::Channel::new(s.clone()))
            }
        }
    }

    /// The customer pays order `reference` (under merchant `account` when given).
    pub fn customer_pay(
        &mut self,
        core: &mut Core,
        reference: &str,
        account: Option<&str>,
    ) -> Result<serde_json::Value, ActionError> {
        match self {
            Channel::WechatPayV2(c) => c.customer_pay(core, reference, account),
            Channel::AlipayGateway(c) => c.customer_pay(core, reference, account),
        }
    }

    /// A forged payment notification about order `reference`, for the world to send once to
    /// the order's notify URL: what a settlement system must refuse to book.
    pub fn forge_notification(
        &self,
        core: &mut Core,
        reference: &str,
        how: Forgery,
    ) -> Result<Callback, ActionError> {
        match self {
            Channel::WechatPayV2(c) => c.forge_notification(core, reference, how),
            Channel::AlipayGateway(c) => c.forge_notification(core, reference, how),
        }
    }

    /// Order `reference` as the channel holds it.
    pub fn order(&self, core: &Core, reference: &str) -> Option<OrderView> {
        match self {
            Channel::WechatPayV2(c) => c.order(core, reference),
            Channel::AlipayGateway(c) => c.order(core, reference),
        }
    }

    /// How many orders the channel holds, its bound, and the work of its lookups.
    pub fn order_stats(&self) -> OrderStats {
        match self {
            Channel::WechatPayV2(c) => c.order_stats(),
            Channel::AlipayGateway(c) => c.order_stats(),
        }
    }

    /// The kind's name.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Channel::WechatPayV2(_) => wxpay::spec::KIND,
            Channel::AlipayGateway(_) => alipay::spec::KIND,
        }
    }

    /// Hold `n` unpaid orders numbered `{prefix}{i:08}` without requests (tests).
    #[cfg(any(test, feature = "testing"))]
    pub fn hold_orders(&mut self, core: &mut Core, prefix: &str, n: usize) {
        match self {
            Channel::WechatPayV2(c) => c.hold_orders(core, prefix, n),
            // Only the WeChat channel's bounds are exercised this way.
            Channel::AlipayGateway(_) => {}
        }
    }
}

impl Kind for Channel {
    type Call = Call;

    fn apply(&mut self, core: &mut Core, call: Call) -> Reply {
        match (self, call) {
            (Channel::WechatPayV2(c), Call::WechatPayV2(call)) => c.apply(core, call),
            (Channel::AlipayGateway(c), Call::AlipayGateway(call)) => c.apply(core, call),
            // A call is decoded by the spec of the channel it is applied to.
            (c, _) => Reply::text(
                hyper::StatusCode::INTERNAL_SERVER_ERROR,
                format!("a call decoded for another kind reached {}", c.kind_name()),
            ),
        }
    }

    fn apply_outcome(&mut self, core: &mut Core, call: Call, outcome: &Outcome<'_>) -> Reply {
        match (self, call) {
            (Channel::WechatPayV2(c), Call::WechatPayV2(call)) => {
                c.apply_outcome(core, call, outcome)
            }
            (Channel::AlipayGateway(c), Call::AlipayGateway(call)) => {
                c.apply_outcome(core, call, outcome)
            }
            // A call is decoded by the spec of the channel it is applied to.
            (c, _) => Reply::text(
                hyper::StatusCode::INTERNAL_SERVER_ERROR,
                format!("a call decoded for another kind reached {}", c.kind_name()),
            ),
        }
    }

    fn protocol_error(&self, core: &mut Core, call: &Call, code: &str, message: &str) -> Reply {
        match (self, call) {
            (Channel::WechatPayV2(c), Call::WechatPayV2(call)) => {
                c.protocol_error(core, call, code, message)
            }
            (Channel::AlipayGateway(c), Call::AlipayGateway(call)) => {
                c.protocol_error(core, call, code, message)
            }
            (c, _) => Reply::text(
                hyper::StatusCode::INTERNAL_SERVER_ERROR,
                format!("a call decoded for another kind reached {}", c.kind_name()),
            ),
        }
    }

    fn on_timer(&mut self, core: &mut Core, timer: &Timer) {
        match self {
            Channel::WechatPayV2(c) => c.on_timer(core, timer),
            Channel::AlipayGateway(c) => c.on_timer(core, timer),
        }
    }

    fn notification(
        &mut self,
        core: &mut Core,
        id: &NotificationId,
        attempt: u32,
    ) -> Option<Callback> {
        match self {
            Channel::WechatPayV2(c) => c.notification(core, id, attempt),
            Channel::AlipayGateway(c) => c.notification(core, id, attempt),
        }
    }

    fn notification_acked(&mut self, id: &NotificationId) {
        match self {
            Channel::WechatPayV2(c) => c.notification_acked(id),
            Channel::AlipayGateway(c) => c.notification_acked(id),
        }
    }
}

impl Describe for Channel {
    fn entry(&self, source: &Source, posting: &Posting, amount: Money) -> Option<Entry> {
        match self {
            Channel::WechatPayV2(c) => c.entry(source, posting, amount),
            Channel::AlipayGateway(c) => c.entry(source, posting, amount),
        }
    }

    fn phantom(&self, source: &Source, phantom: &Phantom) -> Option<Entry> {
        match self {
            Channel::WechatPayV2(c) => c.phantom(source, phantom),
            Channel::AlipayGateway(c) => c.phantom(source, phantom),
        }
    }
}
