//! Acquiring channels: the kinds sandbank fakes and what the world asks of each.
//!
//! A channel instance is mounted at `/{id}/`. The world's driver asks a channel to build a
//! notification attempt and tells it when one was acknowledged; the server hands it
//! requests. Each kind lives in its own folder.

pub mod wxpay;

use crate::http::{InboundRequest, Outcome};
use crate::scenario::{ChannelKind, ChannelSpec};
use crate::world::{Sandbank, WorldState};
use hyper::StatusCode;
use rust_decimal::Decimal;

/// One channel instance's state.
#[derive(Debug)]
pub enum ChannelState {
    /// A WeChat Pay v2 channel.
    WechatPayV2(wxpay::WxState),
}

impl ChannelState {
    /// Empty state for `spec`.
    pub fn new(spec: &ChannelSpec) -> ChannelState {
        match spec.kind {
            ChannelKind::WechatPayV2 => ChannelState::WechatPayV2(wxpay::WxState::default()),
        }
    }
}

/// How a channel judges a merchant's answer to a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckRule {
    /// WeChat v2: HTTP 200 and XML with `return_code` SUCCESS.
    WechatV2Xml,
}

impl AckRule {
    /// True when the answer acknowledges the callback.
    pub fn accepts(&self, status: StatusCode, body: &[u8]) -> bool {
        match self {
            AckRule::WechatV2Xml => status == StatusCode::OK && wxpay::is_ack(body),
        }
    }
}

/// A callback ready to send.
#[derive(Debug, Clone)]
pub struct Callback {
    /// Where to.
    pub url: String,
    /// Its content type.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
    /// How the answer is judged.
    pub ack: AckRule,
    /// The order number, for fault matching and the journal.
    pub order: String,
    /// The amount in major units, for fault matching.
    pub amount: Option<Decimal>,
}

/// Serve a request to channel `spec`.
pub fn serve(sb: &Sandbank, spec: &ChannelSpec, req: InboundRequest) -> Outcome {
    match spec.kind {
        ChannelKind::WechatPayV2 => wxpay::serve(sb, spec, req),
    }
}

/// Build the next notification attempt, or `None` if none is due any more.
pub fn prepare_notification(
    st: &mut WorldState,
    instance: &str,
    reference: &str,
    attempt: u32,
) -> Option<Callback> {
    let spec = st.spec.clone();
    let channel = spec.channel(instance)?;
    match channel.kind {
        ChannelKind::WechatPayV2 => wxpay::prepare_notification(st, channel, reference, attempt),
    }
}

/// Record that the notification for `reference` was acknowledged.
pub fn notification_acked(st: &mut WorldState, instance: &str, reference: &str) {
    let spec = st.spec.clone();
    if let Some(channel) = spec.channel(instance) {
        match channel.kind {
            ChannelKind::WechatPayV2 => wxpay::notification_acked(st, channel, reference),
        }
    }
}

/// The waits between notification attempts of `instance`'s kind.
pub fn retry_ladder(st: &WorldState, instance: &str) -> Vec<chrono::Duration> {
    match st.spec.channel(instance).map(|c| c.kind) {
        Some(ChannelKind::WechatPayV2) => wxpay::RETRY_LADDER_SECS
            .iter()
            .map(|s| chrono::Duration::seconds(*s))
            .collect(),
        None => Vec::new(),
    }
}
