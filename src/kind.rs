//! What the world asks of a kind of channel or bank.
//!
//! A kind is *parse + apply* over the services it is handed ([`Core`]) and its own state.
//! The world owns the order of things — resolve the instance, let the kind decode the
//! request (or refuse it), decide faults on what it decoded, let the kind apply it or answer
//! the protocol's own error, journal the exchange, deliver the reply — so that policy lives
//! in one place (`world::gate`) and a kind cannot get it wrong or call back into the world.
//! Likewise for what happens later: a kind schedules [`Event`]s and the world hands them
//! back to it ([`Kind::on_timer`], [`Kind::notification`]).
//!
//! Reading a request needs only the instance's scenario section (credentials, merchants),
//! never its state: each family's spec enum decodes (`ChannelSpec::decode`,
//! `BankSpec::decode`), so the world decodes and authenticates outside its lock and takes
//! the lock only to decide and apply.
//!
//! Each family (`channels`, `banks`) implements this trait on an enum of its kinds, one
//! line per verb; the world is written once against the trait.
//!
//! [`Event`]: crate::core::Event

use crate::core::{Callback, Core, NotificationId, Timer};
use crate::http::Reply;
use rust_decimal::Decimal;

/// What a request is, for fault matching and the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The operation, e.g. `pay/unifiedorder` or `payout.submit`.
    pub op: &'static str,
    /// The order number the request names, if any.
    pub order: Option<String>,
    /// The amount in major units it carries, if any.
    pub amount: Option<Decimal>,
}

/// How what a request starts is to end, from an `outcome` fault rule: a refund's final
/// status (`SUCCESS`, `CHANGE`, `REFUNDCLOSE`) or a barcode payment's first answer
/// (`USERPAYING`), and how long on the world clock until it happens. A kind ignores an
/// outcome that does not apply to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome<'a> {
    /// The status, as [`crate::faults::OUTCOMES`] spells it.
    pub status: &'a str,
    /// How long until it happens; the kind's own timing when `None`.
    pub after: Option<chrono::Duration>,
}

/// A request as a kind read it.
#[derive(Debug)]
pub enum Decoded<C> {
    /// No such API at this mount: answered as is, not journalled (nothing happened).
    NoSuchApi(Reply),
    /// Refused by the protocol before it could mean anything (unparsable, badly signed,
    /// unknown merchant): journalled under `op`, but not matched against fault rules, so that
    /// rules count and hit only requests the channel or bank would act on.
    Refused {
        /// The operation the path named.
        op: &'static str,
        /// The protocol's own error reply.
        reply: Reply,
    },
    /// A request the kind will act on.
    Call {
        /// The decoded, authenticated call.
        call: C,
        /// What it is, for matching and the journal.
        key: Key,
    },
}

impl<C> Decoded<C> {
    /// The same answer with the call wrapped by `wrap` (a family wraps its kinds' calls).
    pub fn map<F>(self, wrap: impl FnOnce(C) -> F) -> Decoded<F> {
        match self {
            Decoded::NoSuchApi(r) => Decoded::NoSuchApi(r),
            Decoded::Refused { op, reply } => Decoded::Refused { op, reply },
            Decoded::Call { call, key } => Decoded::Call {
                call: wrap(call),
                key,
            },
        }
    }
}

/// A kind of channel or bank. See the module docs.
pub trait Kind {
    /// A decoded, authenticated request.
    type Call;

    /// Perform the call and build its reply.
    fn apply(&mut self, core: &mut Core, call: Self::Call) -> Reply;

    /// Perform the call as [`Kind::apply`] does, but let what it starts end as `outcome`
    /// says (an `outcome` fault rule). Kinds without such outcomes just apply it.
    fn apply_outcome(&mut self, core: &mut Core, call: Self::Call, outcome: &Outcome<'_>) -> Reply {
        let _ = outcome;
        self.apply(core, call)
    }

    /// The protocol's own error reply to `call` for a `protocol_error` fault (`code`, and
    /// `message` or the protocol's usual text when empty). Changes nothing but the nonce.
    fn protocol_error(
        &self,
        core: &mut Core,
        call: &Self::Call,
        code: &str,
        message: &str,
    ) -> Reply;

    /// A timer the kind set is due.
    fn on_timer(&mut self, core: &mut Core, timer: &Timer);

    /// Build attempt `attempt` of notification `id`, or `None` when it is no longer due
    /// (acknowledged, or its subject is gone).
    fn notification(
        &mut self,
        core: &mut Core,
        id: &NotificationId,
        attempt: u32,
    ) -> Option<Callback>;

    /// Notification `id` was acknowledged: no more attempts.
    fn notification_acked(&mut self, id: &NotificationId);
}
