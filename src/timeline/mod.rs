//! The timeline: journal entries drawn as a sequence diagram, one lane per party — the
//! settlement system (the merchant), each channel, the customer, each bank — so a person sees
//! who said what to whom, in order.
//!
//! [`Timeline::build`] turns entries into [`Step`]s: an inbound exchange is a request arrow
//! and a reply arrow (or a lost reply); a notification attempt is a callback arrow and the
//! merchant's answer, and a failed one a note of when the next attempt is due; a posting, a
//! fault that fired and a clock move are notes. The inspector page (`/_sandbank/ui/`), the
//! `GET /_sandbank/timeline` route and `sandbank conform --report` all draw from this one
//! model; [`mermaid`] writes it as a Mermaid `sequenceDiagram`, and it serialises as JSON.

pub mod mermaid;
mod summary;

use crate::clock::{Instant, SHANGHAI};
use crate::directory::{Directory, Family};
use crate::journal::{Entry, EntryKind};
use serde::Serialize;

pub use summary::reply_summary;

/// The lane of the settlement system under test: the merchant that calls channels and banks
/// and receives their notifications.
pub const MERCHANT_LANE: &str = "merchant";

/// The lane of the paying customer.
pub const CUSTOMER_LANE: &str = "customer";

/// Longest label a step carries (longer ones are cut with `…`); the whole text is in its
/// `detail` and `body`.
pub const LABEL_MAX_CHARS: usize = 120;

/// Who a lane stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The settlement system under test.
    Merchant,
    /// An acquiring channel.
    Channel,
    /// The paying customer.
    Customer,
    /// A payout bank.
    Bank,
}

/// One party of the diagram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lane {
    /// The id steps name it by: [`MERCHANT_LANE`], [`CUSTOMER_LANE`], or the instance id.
    pub id: String,
    /// What the diagram calls it.
    pub label: String,
    /// Who it is.
    pub role: Role,
}

/// What a step shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// A request to a channel or bank.
    Request,
    /// Its reply.
    Reply,
    /// A reply that never came (a hang or a reset).
    LostReply,
    /// A notification attempt sent to the merchant.
    Callback,
    /// The merchant's answer to it.
    Answer,
    /// A failed attempt's next one, and when it is due.
    Retry,
    /// A notification attempt not sent (dropped, refused) or given up.
    CallbackNote,
    /// A customer's action.
    Customer,
    /// Money moved in the ledger.
    Posting,
    /// A fault rule fired.
    Fault,
    /// The world: loaded, reset, the clock moved.
    World,
}

/// One arrow or note of the diagram. An arrow has `from` and `to`; a note has `over`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The journal entry it comes from (an exchange gives two steps of one entry).
    pub seq: u64,
    /// World-clock instant (UTC).
    pub at: Instant,
    /// The same instant in Beijing time, as `2026-03-02 10:00:15`.
    pub local: String,
    /// The journal entry's kind.
    pub kind: EntryKind,
    /// What the step is.
    pub class: Class,
    /// The channel or bank (or `world`).
    pub instance: String,
    /// The operation.
    pub op: String,
    /// The order, payout or refund number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// An arrow's sender lane.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// An arrow's receiver lane.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// A note's lanes (one, or the first and last it spans).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub over: Option<Vec<String>>,
    /// The short text on the arrow or note (at most [`LABEL_MAX_CHARS`]).
    pub label: String,
    /// The journal's one-line message.
    pub detail: String,
    /// HTTP status of a reply or answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// A notification's attempt number (the next one's, for a [`Class::Retry`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// When the next attempt is due (UTC), for a [`Class::Retry`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_at: Option<Instant>,
    /// The same in Beijing time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_local: Option<String>,
    /// Whether the merchant acknowledged a notification, for a [`Class::Answer`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked: Option<bool>,
    /// The body the arrow carried (the request, the reply, the notification, the answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// A diagram: its lanes and steps, in journal order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    /// The reference filter it was built with, if any.
    pub reference: Option<String>,
    /// Every party of the world: the merchant, the channels, the customer, the banks.
    pub lanes: Vec<Lane>,
    /// The arrows and notes.
    pub steps: Vec<Step>,
}

/// An instant in Beijing time, to the second: the one time zone the diagram shows.
pub fn local(at: Instant) -> String {
    at.with_timezone(&SHANGHAI)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `text` cut to [`LABEL_MAX_CHARS`] characters.
fn label(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= LABEL_MAX_CHARS {
        return text.to_string();
    }
    let mut s: String = text.chars().take(LABEL_MAX_CHARS - 1).collect();
    s.push('…');
    s
}

impl Timeline {
    /// The lanes of the world `directory` describes: the merchant, its channels in order,
    /// the customer, its banks in order.
    pub fn lanes(directory: &Directory) -> Vec<Lane> {
        let mut lanes = vec![Lane {
            id: MERCHANT_LANE.into(),
            label: "settlement system".into(),
            role: Role::Merchant,
        }];
        let of = |family: Family, role: Role| {
            directory
                .all()
                .iter()
                .filter(move |i| i.family == family)
                .map(move |i| Lane {
                    id: i.id.clone(),
                    label: format!("{} ({})", i.id, i.kind),
                    role,
                })
        };
        lanes.extend(of(Family::Channel, Role::Channel));
        lanes.push(Lane {
            id: CUSTOMER_LANE.into(),
            label: "customer".into(),
            role: Role::Customer,
        });
        lanes.extend(of(Family::Bank, Role::Bank));
        lanes
    }

    /// The diagram of `entries` (in journal order) in the world `directory` describes.
    pub fn build<'a>(
        directory: &Directory,
        reference: Option<&str>,
        entries: impl IntoIterator<Item = &'a Entry>,
    ) -> Timeline {
        let lanes = Timeline::lanes(directory);
        let mut steps = Vec::new();
        for e in entries {
            steps_of(e, &lanes, &mut steps);
        }
        Timeline {
            reference: reference.map(str::to_string),
            lanes,
            steps,
        }
    }

    /// The references (order, payout and refund numbers) the steps name, each once, in
    /// order of first appearance, with the instance that first named it.
    pub fn references(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for s in &self.steps {
            if let Some(r) = &s.reference {
                if !out.iter().any(|(x, _)| x == r) {
                    out.push((r.clone(), s.instance.clone()));
                }
            }
        }
        out
    }
}

/// The lane of an instance: its own if the world has one by that id, else the merchant's
/// (an entry of an instance the world no longer has, after a scenario was replaced).
fn lane_of(lanes: &[Lane], instance: &str) -> String {
    if lanes.iter().any(|l| l.id == instance) {
        instance.to_string()
    } else {
        MERCHANT_LANE.to_string()
    }
}

fn steps_of(e: &Entry, lanes: &[Lane], out: &mut Vec<Step>) {
    let inst = lane_of(lanes, &e.instance);
    let base = Step {
        seq: e.seq,
        at: e.at,
        local: local(e.at),
        kind: e.kind,
        class: Class::World,
        instance: e.instance.to_string(),
        op: e.op.to_string(),
        reference: e.reference.clone(),
        from: None,
        to: None,
        over: None,
        label: String::new(),
        detail: e.message.clone(),
        status: None,
        attempt: e.attempt,
        next_at: None,
        next_local: None,
        acked: None,
        body: None,
    };
    let arrow = |class: Class, from: &str, to: &str, text: String, body: Option<String>| Step {
        class,
        from: Some(from.to_string()),
        to: Some(to.to_string()),
        label: label(&text),
        body,
        ..base.clone()
    };
    let note = |class: Class, over: Vec<String>, text: String| Step {
        class,
        over: Some(over),
        label: label(&text),
        ..base.clone()
    };
    let reference = e
        .reference
        .as_deref()
        .map(|r| format!(" {r}"))
        .unwrap_or_default();
    let text = |b: &Option<crate::journal::Body>| b.as_ref().map(|b| b.text().into_owned());
    match e.kind {
        EntryKind::Inbound => {
            out.push(arrow(
                Class::Request,
                MERCHANT_LANE,
                &inst,
                format!("{}{reference}", e.op),
                text(&e.request),
            ));
            match e.status {
                Some(status) => {
                    let summary = e
                        .response
                        .as_ref()
                        .map(|b| reply_summary(&b.text()))
                        .unwrap_or_default();
                    out.push(Step {
                        status: Some(status),
                        ..arrow(
                            Class::Reply,
                            &inst,
                            MERCHANT_LANE,
                            format!("{status} {summary}"),
                            text(&e.response),
                        )
                    });
                }
                None => out.push(arrow(
                    Class::LostReply,
                    &inst,
                    MERCHANT_LANE,
                    e.message.clone(),
                    None,
                )),
            }
        }
        EntryKind::Callback if e.response.is_some() => {
            let attempt = e
                .attempt
                .map(|a| format!(" attempt {a}"))
                .unwrap_or_default();
            out.push(arrow(
                Class::Callback,
                &inst,
                MERCHANT_LANE,
                format!("{}{reference}{attempt}", e.op),
                text(&e.request),
            ));
            let verdict = match e.acked {
                Some(true) => "acknowledged",
                Some(false) => "not acknowledged",
                None => "",
            };
            let summary = e
                .response
                .as_ref()
                .map(|b| reply_summary(&b.text()))
                .filter(|s| !s.is_empty())
                .map(|s| format!("{s} · "))
                .unwrap_or_default();
            let answer = match e.status {
                Some(s) => format!("{s} {summary}{verdict}"),
                None => format!("no answer: {verdict}"),
            };
            out.push(Step {
                status: e.status,
                acked: e.acked,
                ..arrow(
                    Class::Answer,
                    MERCHANT_LANE,
                    &inst,
                    answer,
                    text(&e.response),
                )
            });
        }
        EntryKind::Callback => match e.next_at {
            Some(next) => out.push(Step {
                next_at: Some(next),
                next_local: Some(local(next)),
                ..note(
                    Class::Retry,
                    vec![inst.clone()],
                    format!(
                        "{}{reference} attempt {} due {}",
                        e.op,
                        e.attempt.unwrap_or_default(),
                        local(next)
                    ),
                )
            }),
            None => out.push(note(
                Class::CallbackNote,
                vec![inst.clone()],
                format!("{}{reference}: {}", e.op, e.message),
            )),
        },
        EntryKind::Customer => out.push(arrow(
            Class::Customer,
            CUSTOMER_LANE,
            &inst,
            format!("{}{reference}", e.op),
            None,
        )),
        EntryKind::Posting => out.push(note(
            Class::Posting,
            vec![inst.clone()],
            format!("ledger {}: {}", e.op, e.message),
        )),
        EntryKind::Fault => out.push(note(
            Class::Fault,
            vec![inst.clone()],
            format!("fault on {}{reference}: {}", e.op, e.message),
        )),
        // What one channel or bank did on its own (a payout settling): over its lane; what
        // the world did (loaded, the clock moved): across every lane.
        EntryKind::World if lanes.iter().any(|l| *l.id == *e.instance) => {
            out.push(note(Class::World, vec![inst.clone()], e.message.clone()))
        }
        EntryKind::World => {
            let first = lanes.first().map(|l| l.id.clone()).unwrap_or_default();
            let last = lanes.last().map(|l| l.id.clone()).unwrap_or_default();
            out.push(note(Class::World, vec![first, last], e.message.clone()));
        }
    }
}

#[cfg(test)]
mod tests;
