//! A JSON single-payout (代付) API in the style of Chinese PSPs; the facts it follows are in
//! `docs/protocols.md`, "D.1 PSP-style single payout" and "D.4 The sandbank payout API".
//!
//! - `POST /{bank}/agentpay/apply` — submit one payout. Accepted is not paid: the reply says
//!   `PROCESSING`, and the result comes from a query.
//! - `POST /{bank}/agentpay/query` — the payout's status by `mchOrderNo`.
//!
//! Bodies are JSON objects of flat fields, signed with the sorted-fields MD5 signature of
//! [`crate::protocol::sign`] (numbers in their JSON text). Errors answer HTTP 200 with
//! `retCode` ≠ `"0"` and `retMsg`: `PARAM_ERROR`, `SIGN_ERROR`, `MCH_NOT_EXIST`,
//! `DUPLICATE_ORDER`, `ORDER_NOT_EXIST`, `SYSTEM_ERROR`. A repeated `mchOrderNo` is treated
//! as the scenario says (`on_duplicate`).

pub mod api;
pub mod client;
pub mod codec;
pub mod spec;

pub use codec::{sign_request, Api, Call};
pub use spec::{Client, OnDuplicate, Spec};

use super::payouts::{self, Payouts};
use crate::core::{Callback, Core, NotificationId, Timer};
use crate::http::Reply;
use crate::kind::Kind;
use crate::ledger::Posting;
use crate::money::Money;
use crate::statements::{Describe, Entry, Phantom, Source};

/// The timer that moves a payout from PROCESSING to SUCCESS; its key is the payout's index.
pub const SETTLE_TIMER: &str = "payout.settle";

/// One payout-json bank: its spec and its payouts.
#[derive(Debug)]
pub struct Bank {
    /// What the scenario says it is.
    pub spec: Spec,
    /// Its payouts.
    pub payouts: Payouts,
}

impl Bank {
    /// A bank that has paid nothing yet.
    pub fn new(spec: Spec) -> Bank {
        Bank {
            spec,
            payouts: Payouts::default(),
        }
    }
}

impl Kind for Bank {
    type Call = Call;

    fn apply(&mut self, core: &mut Core, call: Call) -> Reply {
        match call.api {
            Api::Submit => api::submit(&self.spec, &mut self.payouts, core, &call),
            Api::Query => api::query(&self.payouts, &call),
        }
    }

    fn protocol_error(&self, _core: &mut Core, _call: &Call, code: &str, message: &str) -> Reply {
        let msg = if message.is_empty() {
            "system busy, query before retrying"
        } else {
            message
        };
        codec::error(code, msg)
    }

    fn on_timer(&mut self, core: &mut Core, timer: &Timer) {
        if timer.name == SETTLE_TIMER {
            if let Ok(index) = timer.key.parse::<usize>() {
                self.payouts.settle(core, &self.spec.id, index);
            }
        }
    }

    fn notification(
        &mut self,
        _core: &mut Core,
        _id: &NotificationId,
        _attempt: u32,
    ) -> Option<Callback> {
        // This API notifies nobody: results are queried.
        None
    }

    fn notification_acked(&mut self, _id: &NotificationId) {}
}

impl Describe for Bank {
    fn entry(&self, source: &Source, posting: &Posting, amount: Money) -> Option<Entry> {
        Some(self.payouts.entry(source.instance(), posting, amount))
    }

    fn phantom(&self, _source: &Source, phantom: &Phantom) -> Option<Entry> {
        Some(payouts::phantom(phantom))
    }
}
