//! The services a kind is handed: clock, timers, the seeded generator, the ledger, the
//! journal — and the two records statements need (the mismatch book, the directory).
//!
//! A channel or bank kind works on a `&mut Core` and its own state, nothing more: it never
//! sees the whole world, the lock or the server, so it cannot call back into the world, and
//! it can be exercised without either. What it wants done later it schedules as an
//! [`Event`]; the world's driver hands the event back to it when due.
//!
//! Money moves through [`Core::transfer`], which posts to the ledger **and** journals the
//! posting in one step, so that "the journal shows every posting" holds by construction.

use crate::clock::{Clock, Instant, Timers};
use crate::directory::Directory;
use crate::faults::Fired;
use crate::journal::{EntryKind, Journal, Record};
use crate::ledger::{Ledger, LedgerError, PostingKind};
use crate::mismatches::MismatchBook;
use crate::money::Money;
use crate::rng::{Stream, Streams, WorldRng};
use hyper::StatusCode;
use rust_decimal::Decimal;
use std::sync::Arc;

/// A timer a kind set for itself. `name` says which of the kind's timers it is and `key`
/// which record it concerns; only the kind that set it gives them meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// Which of the kind's timers (e.g. `payout.settle`).
    pub name: &'static str,
    /// The record it concerns, in the kind's own terms (e.g. a payout's index).
    pub key: String,
}

/// What a notification is about. Payments and refunds are told apart so that a fault rule,
/// the journal and the kind can address one without the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A payment succeeded.
    Payment,
    /// A refund completed.
    Refund,
}

impl NotificationKind {
    /// The operation name fault rules and the journal use for it.
    pub fn op(self) -> &'static str {
        match self {
            NotificationKind::Payment => crate::faults::CALLBACK_OP,
            NotificationKind::Refund => crate::faults::REFUND_CALLBACK_OP,
        }
    }
}

/// Which notification: its kind, the merchant it goes to, and the order (or refund) number
/// it is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotificationId {
    /// Payment or refund.
    pub kind: NotificationKind,
    /// The merchant (or client) id at the channel.
    pub account: String,
    /// The merchant's order or refund number; the journal names the exchange by it.
    pub reference: String,
}

/// How a forged payment notification differs from a genuine one (`Channel::forge_notification`):
/// what a settlement system must refuse to book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Forgery {
    /// A "paid" notification for a real order, signed with the wrong key.
    BadSignature,
    /// A "paid" notification for a real order, correctly signed, for another amount.
    WrongAmount,
    /// A "paid" notification, correctly signed, for an order the channel never had.
    UnknownOrder,
}

impl Forgery {
    /// Every forgery, as the control API spells it.
    pub const NAMES: &'static str = "signature, amount, unknown_order";

    /// Read `signature`, `amount` or `unknown_order`.
    pub fn parse(text: &str) -> Option<Forgery> {
        match text {
            "signature" => Some(Forgery::BadSignature),
            "amount" => Some(Forgery::WrongAmount),
            "unknown_order" => Some(Forgery::UnknownOrder),
            _ => None,
        }
    }

    /// How the journal words it.
    pub fn describe(self) -> &'static str {
        match self {
            Forgery::BadSignature => "a bad signature",
            Forgery::WrongAmount => "a wrong amount, correctly signed",
            Forgery::UnknownOrder => "an unknown order, correctly signed",
        }
    }
}

/// Scheduled work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A kind's own timer, handed back to the kind mounted at `instance` when due.
    Kind {
        /// The channel or bank id.
        instance: String,
        /// The kind's timer.
        timer: Timer,
    },
    /// Attempt `attempt` (from 1) of a notification from channel `instance`.
    Notify {
        /// The channel id.
        instance: String,
        /// Which notification.
        id: NotificationId,
        /// Attempt number, from 1.
        attempt: u32,
        /// False for an attempt a `delay` rule already held back: it has been through the
        /// fault gate, so it is sent as it is (otherwise the rule would hold it back again
        /// each time it came due, and it would never be sent).
        gated: bool,
    },
}

/// How a channel judges a merchant's answer to its callback.
pub type AckRule = fn(StatusCode, &[u8]) -> bool;

/// A callback ready to send, with everything the world needs to send it, judge the answer
/// and retry: the kind is asked once per attempt and told once when it was acknowledged.
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
    /// Waits between attempts, in seconds: after attempt `n` fails, attempt `n + 1` comes
    /// `ladder[n - 1]` later; past the end the channel gives up.
    pub ladder: &'static [i64],
    /// The amount in major units, for fault matching.
    pub amount: Option<Decimal>,
}

/// An order as a channel shows it to the control API and the harness.
#[derive(Debug, Clone)]
pub struct OrderView {
    /// The amount the order was created for.
    pub amount: Money,
    /// The order as the kind holds it, as JSON.
    pub detail: serde_json::Value,
}

/// How many orders a channel holds, the most it will, and how many held orders its lookups
/// have examined so far (a lookup by key examines one or two; a count that grows with the
/// number held would mean a scan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct OrderStats {
    /// Orders held now.
    pub held: usize,
    /// The most it holds (`max_orders`); past it the oldest are forgotten.
    pub max_orders: usize,
    /// Orders forgotten so far to stay within `max_orders`.
    pub forgotten: u64,
    /// Held orders looked at by lookups so far.
    pub examined: u64,
}

/// Why a simulated customer or bank action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// No such order or payout.
    #[error("{0}")]
    NotFound(String),
    /// It exists but is not in a state that allows the action.
    #[error("{0}")]
    Conflict(String),
}

/// The services a kind works with. See the module docs.
#[derive(Debug)]
pub struct Core {
    /// Virtual time.
    pub clock: Clock,
    /// Scheduled work, fired by the world's driver in (due, scheduling order).
    pub timers: Timers<Event>,
    /// The world's generator: its seed, and draws that concern no order or payout.
    pub rng: WorldRng,
    /// Keyed streams derived from the seed: what an order or payout draws comes from its
    /// own stream ([`Core::rng_for`]).
    pub streams: Streams,
    /// The truth about money. Write to it through [`Core::transfer`].
    pub ledger: Ledger,
    /// The timeline.
    pub journal: Journal,
    /// Injected statement mismatches (from the scenario and the control API).
    pub mismatches: MismatchBook,
    /// Who is mounted where.
    pub directory: Arc<Directory>,
}

impl Core {
    /// Services for a new world.
    pub fn new(
        clock: Clock,
        seed: u64,
        directory: Arc<Directory>,
        mismatches: MismatchBook,
        journal_bytes: usize,
    ) -> Core {
        Core {
            clock,
            timers: Timers::default(),
            rng: WorldRng::new(seed),
            streams: Streams::default(),
            ledger: Ledger::default(),
            journal: Journal::with_max_bytes(journal_bytes),
            mismatches,
            directory,
        }
    }

    /// The world clock's current instant.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The seeded stream of `key` (an order, a payout, …) at `instance`: ids, nonces and
    /// probabilities about one record draw from it, so they do not depend on the order in
    /// which requests about other records and background notifications reached the world.
    /// Callers namespace `key` by purpose (e.g. `notify/ORDER1`) where two purposes about one
    /// record may interleave.
    pub fn rng_for(&mut self, instance: &str, key: &str) -> Stream<'_> {
        let seed = self.rng.seed();
        self.streams.get(seed, instance, key)
    }

    /// The stream of `key` at `instance` from its beginning, not remembered: what
    /// [`Core::rng_for`] gave first, derived again (a kind that draws an id once, from a
    /// fresh stream, can derive it when asked instead of holding it).
    pub fn stream_from_start(&self, instance: &str, key: &str) -> WorldRng {
        crate::rng::stream_from_start(self.rng.seed(), instance, key)
    }

    /// Journal an entry at the current virtual instant.
    pub fn record(&mut self, kind: EntryKind, r: Record<'_>) -> u64 {
        let now = self.clock.now();
        self.journal.push(now, kind, r)
    }

    /// Journal a fired fault.
    pub fn record_fault(
        &mut self,
        instance: &str,
        op: &'static str,
        reference: Option<&str>,
        fired: &Fired,
    ) {
        self.record(
            EntryKind::Fault,
            Record {
                instance: instance.into(),
                op: op.into(),
                reference: reference.map(str::to_string),
                message: fired.describe(),
                ..Default::default()
            },
        );
    }

    /// Schedule `event` at `at` (a past instant fires at the next chance).
    pub fn schedule(&mut self, at: Instant, event: Event) {
        self.timers.schedule(at, event);
    }

    /// Move `amount` from ledger account `from` to `to` now, as a posting of `kind` by
    /// `instance` about `reference`, and journal it (with `note` appended when given).
    // A transfer is exactly these facts; a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub fn transfer(
        &mut self,
        kind: PostingKind,
        instance: &str,
        reference: &str,
        from: &str,
        to: &str,
        amount: Money,
        note: Option<&str>,
    ) -> Result<u64, LedgerError> {
        let now = self.clock.now();
        let id = self
            .ledger
            .transfer(now, kind, instance, reference, from, to, amount)?;
        let note = note.map(|n| format!(" ({n})")).unwrap_or_default();
        self.record(
            EntryKind::Posting,
            Record {
                instance: instance.into(),
                op: kind.as_str().into(),
                reference: Some(reference.into()),
                message: format!("{from} → {to} {amount}{note}"),
                ..Default::default()
            },
        );
        Ok(id)
    }
}
