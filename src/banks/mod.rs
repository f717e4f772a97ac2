//! Payout banks: the kinds sandbank fakes, one folder each, behind one enum.
//!
//! A bank instance is mounted at `/{id}/`. It holds platform accounts (funded from the
//! scenario) and pays beneficiaries out of them; every payout is a ledger posting from
//! `bank:{id}:account:{no}` to `bank:{id}:payee:{account_no}`. What happens to a payout
//! after it was accepted (it settles, it is returned) is the same for every bank kind and
//! lives in [`payouts`].
//!
//! Everything the world asks of a bank goes through [`Bank`], which implements [`Kind`] and
//! [`Describe`] by handing each verb to the concrete kind. Nothing outside this folder names
//! a concrete kind. Adding a bank kind touches: its folder; one variant in [`BankSpec`],
//! [`Bank`] and [`Call`] with their match arms here; and its name in [`KINDS`],
//! [`validate`] and [`client`] (its `client.rs`, what `sandbank call` signs with).

pub mod payout_json;
pub mod payouts;

pub use payouts::{Payout, PayoutStatus};

use crate::config::{ScenarioError, Section};
use crate::core::{ActionError, Callback, Core, NotificationId, Timer};
use crate::directory::Instance;
use crate::http::{InboundRequest, Reply};
use crate::kind::{Decoded, Kind};
use crate::ledger::Posting;
use crate::money::Money;
use crate::statements::{Describe, Entry, Phantom, Source};
use serde::Serialize;

/// The bank kinds a scenario may name.
pub const KINDS: &str = "payout-json";

/// A validated bank section of a scenario.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind")]
pub enum BankSpec {
    /// A JSON single-payout API.
    #[serde(rename = "payout-json")]
    PayoutJson(payout_json::Spec),
}

impl BankSpec {
    /// The mount id.
    pub fn id(&self) -> &str {
        match self {
            BankSpec::PayoutJson(s) => &s.id,
        }
    }

    /// Read and authenticate a request to this bank. Needs only the spec and changes
    /// nothing, so the world does it outside its lock.
    pub fn decode(&self, req: &InboundRequest) -> Decoded<Call> {
        match self {
            BankSpec::PayoutJson(s) => payout_json::codec::decode(s, req).map(Call::PayoutJson),
        }
    }

    /// What a person needs to call it (`sandbank scenario check` prints it).
    pub fn summary(&self) -> String {
        match self {
            BankSpec::PayoutJson(s) => s.summary(),
        }
    }

    /// What a client needs to call the bank, as JSON (`GET /_sandbank/banks/{id}`): its
    /// kind, where it is mounted and its credentials, in the kind's own terms.
    pub fn credentials(&self) -> serde_json::Value {
        match self {
            BankSpec::PayoutJson(s) => s.credentials(),
        }
    }

    /// The bank as the directory shows it.
    pub fn instance(&self) -> Instance {
        match self {
            BankSpec::PayoutJson(s) => s.instance(),
        }
    }
}

/// A client of the bank whose credentials (`GET /_sandbank/banks/{id}`) are
/// `credentials`, for `sandbank call`; `None` when their `kind` is no bank kind.
pub fn client(
    credentials: &serde_json::Value,
) -> Option<Result<Box<dyn crate::protocol::client::Client>, String>> {
    match credentials.get("kind")?.as_str()? {
        payout_json::spec::KIND => Some(
            payout_json::client::Client::from_credentials(credentials)
                .map(|c| Box::new(c) as Box<dyn crate::protocol::client::Client>),
        ),
        _ => None,
    }
}

/// Validate the section of bank `id` of kind `kind` (its other fields in `table`).
pub fn validate(
    id: &str,
    kind: &str,
    table: toml::Table,
    section: &Section<'_>,
) -> Result<BankSpec, ScenarioError> {
    match kind {
        payout_json::spec::KIND => {
            payout_json::spec::validate(id, table, section).map(BankSpec::PayoutJson)
        }
        other => Err(section.err("kind", format!("`{other}` is not one of {KINDS}"))),
    }
}

/// One bank instance: its spec and its state.
#[derive(Debug)]
pub enum Bank {
    /// A JSON single-payout API.
    PayoutJson(payout_json::Bank),
}

/// A decoded request to a bank.
#[derive(Debug)]
pub enum Call {
    /// To a payout-json bank.
    PayoutJson(payout_json::Call),
}

impl Bank {
    /// A fresh bank for `spec`, having paid nothing yet.
    pub fn new(spec: &BankSpec) -> Bank {
        match spec {
            BankSpec::PayoutJson(s) => Bank::PayoutJson(payout_json::Bank::new(s.clone())),
        }
    }

    fn payouts_mut(&mut self) -> (&str, &mut payouts::Payouts) {
        match self {
            Bank::PayoutJson(b) => (&b.spec.id, &mut b.payouts),
        }
    }

    /// Every payout, in order of submission.
    pub fn payouts(&self) -> &[Payout] {
        match self {
            Bank::PayoutJson(b) => &b.payouts.list,
        }
    }

    /// The beneficiary's bank returns (退票) the paid payout `order_no`.
    pub fn return_payout(
        &mut self,
        core: &mut Core,
        order_no: &str,
        payout_id: Option<&str>,
        reason: Option<&str>,
    ) -> Result<Payout, ActionError> {
        let (id, payouts) = self.payouts_mut();
        let id = id.to_string();
        payouts.return_payout(core, &id, order_no, payout_id, reason)
    }
}

impl Kind for Bank {
    type Call = Call;

    fn apply(&mut self, core: &mut Core, call: Call) -> Reply {
        match (self, call) {
            (Bank::PayoutJson(b), Call::PayoutJson(call)) => b.apply(core, call),
        }
    }

    fn protocol_error(&self, core: &mut Core, call: &Call, code: &str, message: &str) -> Reply {
        match (self, call) {
            (Bank::PayoutJson(b), Call::PayoutJson(call)) => {
                b.protocol_error(core, call, code, message)
            }
        }
    }

    fn on_timer(&mut self, core: &mut Core, timer: &Timer) {
        match self {
            Bank::PayoutJson(b) => b.on_timer(core, timer),
        }
    }

    fn notification(
        &mut self,
        core: &mut Core,
        id: &NotificationId,
        attempt: u32,
    ) -> Option<Callback> {
        match self {
            Bank::PayoutJson(b) => b.notification(core, id, attempt),
        }
    }

    fn notification_acked(&mut self, id: &NotificationId) {
        match self {
            Bank::PayoutJson(b) => b.notification_acked(id),
        }
    }
}

impl Describe for Bank {
    fn entry(&self, source: &Source, posting: &Posting, amount: Money) -> Option<Entry> {
        match self {
            Bank::PayoutJson(b) => b.entry(source, posting, amount),
        }
    }

    fn phantom(&self, source: &Source, phantom: &Phantom) -> Option<Entry> {
        match self {
            Bank::PayoutJson(b) => b.phantom(source, phantom),
        }
    }
}
