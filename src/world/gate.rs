//! The one inbound path: resolve the instance, let its kind decode the request (or refuse
//! it), decide faults on what it decoded, let the kind apply it or answer the protocol's
//! error, journal the exchange.
//!
//! Decoding (parsing, checking the signature) needs only the scenario's spec, so it runs
//! outside the world's lock ([`predecode`]) against the spec of a known generation; the
//! rest runs under the lock ([`WorldState::serve_predecoded`]), and only if the world is
//! still that generation — a world replaced meanwhile decodes again under the lock, so the
//! instance cannot change between routing and applying.

use super::state::WorldState;
use crate::core::Core;
use crate::faults::{Action, FaultPlan, GateKey, LostReply, HANG_MAX_MS};
use crate::http::{Delivery, InboundRequest, Outcome, Reply};
use crate::journal::{Body, EntryKind, Record};
use crate::kind::{Decoded, Kind};
use crate::rng::Chance;
use crate::scenario::WorldSpec;
use crate::{banks, channels};
use bytes::Bytes;
use hyper::StatusCode;
use std::time::Duration;

/// A request decoded by the channel or bank it was sent to.
#[derive(Debug)]
pub enum Predecoded {
    /// Sent to a channel.
    Channel(Decoded<channels::Call>),
    /// Sent to a bank.
    Bank(Decoded<banks::Call>),
}

/// Decode `req` for the instance mounted at `mount` in `spec`; `None` when nothing is.
/// Changes nothing: safe outside the lock.
pub fn predecode(spec: &WorldSpec, mount: &str, req: &InboundRequest) -> Option<Predecoded> {
    if let Some(c) = spec.channels.iter().find(|c| c.id() == mount) {
        return Some(Predecoded::Channel(c.decode(req)));
    }
    spec.banks
        .iter()
        .find(|b| b.id() == mount)
        .map(|b| Predecoded::Bank(b.decode(req)))
}

impl WorldState {
    /// Serve `req` to the channel or bank mounted at `mount`; `None` when nothing is.
    pub fn serve(&mut self, mount: &str, req: &InboundRequest) -> Option<Outcome> {
        let decoded = predecode(&self.spec, mount, req)?;
        self.serve_predecoded(mount, req, decoded)
    }

    /// Serve `req`, already decoded against this world's spec, to the instance at `mount`.
    pub fn serve_predecoded(
        &mut self,
        mount: &str,
        req: &InboundRequest,
        decoded: Predecoded,
    ) -> Option<Outcome> {
        let WorldState {
            core,
            faults,
            channels,
            banks,
            ..
        } = self;
        match decoded {
            Predecoded::Channel(d) => channels
                .get_mut(mount)
                .map(|c| gate(core, faults, mount, c, d, req)),
            Predecoded::Bank(d) => banks
                .get_mut(mount)
                .map(|b| gate(core, faults, mount, b, d, req)),
        }
    }
}

/// The gate for one request to `kind`, mounted at `instance`.
fn gate<K: Kind>(
    core: &mut Core,
    faults: &mut FaultPlan,
    instance: &str,
    kind: &mut K,
    decoded: Decoded<K::Call>,
    req: &InboundRequest,
) -> Outcome {
    let (call, key) = match decoded {
        Decoded::NoSuchApi(reply) => return reply.into(),
        Decoded::Refused { op, reply } => {
            // Refused before it meant anything: journalled, but no rule counts or hits it.
            record_inbound(core, instance, op, None, req, &reply, Delivery::Now);
            return reply.into();
        }
        Decoded::Call { call, key } => (call, key),
    };
    let gate_key = GateKey {
        instance,
        op: key.op,
        order: key.order.as_deref(),
        amount: key.amount,
    };
    // Probabilities draw from the stream of the order the request names (or of its
    // operation), so concurrent clients do not shift each other's outcomes.
    // The stream is opened only when a probabilistic rule asks.
    let fired = faults.decide(gate_key, false, &mut |ppm| {
        let stream = format!("faults/{}/{}", key.op, key.order.as_deref().unwrap_or(""));
        core.rng_for(instance, &stream).chance_ppm(ppm)
    });
    if let Some(f) = &fired {
        core.record_fault(instance, key.op, key.order.as_deref(), f);
    }
    let (reply, delivery) = match fired.map(|f| f.action) {
        None => (kind.apply(core, call), Delivery::Now),
        // A reply is held in real time at most as long as a hang holds one: past that
        // every client has given up, and the connection should not be held for years.
        Some(Action::Delay { delay_ms }) => (
            kind.apply(core, call),
            Delivery::After(Duration::from_millis(
                (delay_ms.max(0) as u64).min(HANG_MAX_MS),
            )),
        ),
        Some(Action::Hang) => (Reply::text(StatusCode::GATEWAY_TIMEOUT, ""), Delivery::Hang),
        Some(Action::Reset) => (Reply::text(StatusCode::BAD_GATEWAY, ""), Delivery::Reset),
        Some(Action::HttpError { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (Reply::text(status, body), Delivery::Now)
        }
        Some(Action::ProtocolError { code, message }) => (
            kind.protocol_error(core, &call, &code, &message),
            Delivery::Now,
        ),
        Some(Action::CommitThenFail { then }) => {
            let reply = kind.apply(core, call);
            let delivery = match then {
                LostReply::Hang => Delivery::Hang,
                LostReply::Reset => Delivery::Reset,
            };
            (reply, delivery)
        }
        Some(Action::Outcome { outcome, delay_ms }) => {
            let o = crate::kind::Outcome {
                status: &outcome,
                after: delay_ms.and_then(chrono::Duration::try_milliseconds),
            };
            (kind.apply_outcome(core, call, &o), Delivery::Now)
        }
        // Callback-only actions never match an inbound request (see `FaultPlan::decide`).
        Some(Action::Duplicate { .. } | Action::Drop) => (kind.apply(core, call), Delivery::Now),
    };
    record_inbound(
        core,
        instance,
        key.op,
        key.order.as_deref(),
        req,
        &reply,
        delivery,
    );
    Outcome { reply, delivery }
}

/// Journal an inbound exchange: what came in, what went out (or that nothing did).
fn record_inbound(
    core: &mut Core,
    instance: &str,
    op: &'static str,
    order: Option<&str>,
    req: &InboundRequest,
    reply: &Reply,
    delivery: Delivery,
) {
    let (status, response, message) = match delivery {
        Delivery::Hang => (
            None,
            None,
            "no reply: held until the client gave up".to_string(),
        ),
        Delivery::Reset => (None, None, "no reply: connection closed".to_string()),
        Delivery::After(d) => (
            Some(reply.status.as_u16()),
            Some(journal_body(reply)),
            format!("replied after {d:?}"),
        ),
        Delivery::Now => (
            Some(reply.status.as_u16()),
            Some(journal_body(reply)),
            "replied".to_string(),
        ),
    };
    let message =
        if matches!(delivery, Delivery::Hang | Delivery::Reset) && reply.status.is_success() {
            format!("{message} (the effect was applied)")
        } else {
            message
        };
    core.record(
        EntryKind::Inbound,
        Record {
            instance: instance.into(),
            op: op.into(),
            reference: order.map(str::to_string),
            status,
            message,
            // A copy of its own: the request's bytes may share the connection's read buffer,
            // which the journal should not keep alive.
            request: Some(Bytes::copy_from_slice(&req.body).into()),
            response,
            ..Default::default()
        },
    );
}

/// A reply's body as the journal keeps it: the reply's own bytes, shared (no copy), or a
/// note of the size of one streamed from a spool file.
fn journal_body(reply: &Reply) -> Body {
    match &reply.spooled {
        Some(s) => format!("({} bytes, streamed from a spool file)", s.len).into(),
        None => reply.body.clone().into(),
    }
}
