//! Payout banks: the kinds sandbank fakes and the state they keep.
//!
//! A bank instance is mounted at `/{id}/`. It holds platform accounts (funded from the
//! scenario) and pays beneficiaries out of them; every payout is a ledger posting from
//! `bank:{id}:account:{no}` to `bank:{id}:payee:{account_no}`.

pub mod payout_json;

use crate::http::{InboundRequest, Outcome};
use crate::journal::{EntryKind, Record};
use crate::money::Money;
use crate::scenario::{BankKind, BankSpec};
use crate::world::{Sandbank, WorldState};
use serde::Serialize;
use std::collections::HashMap;

/// Ledger account of a platform account at a bank.
pub fn account_path(bank: &str, no: &str) -> String {
    format!("bank:{bank}:account:{no}")
}

/// Ledger account of a beneficiary paid by a bank.
pub fn payee_path(bank: &str, account_no: &str) -> String {
    format!("bank:{bank}:payee:{account_no}")
}

/// Where a payout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PayoutStatus {
    /// Accepted; the money has left the platform account; not yet confirmed.
    Processing,
    /// Confirmed paid.
    Success,
    /// Not paid; the money did not move.
    Failed,
}

impl PayoutStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::Processing => "PROCESSING",
            PayoutStatus::Success => "SUCCESS",
            PayoutStatus::Failed => "FAILED",
        }
    }
}

/// One payout as the bank records it.
#[derive(Debug, Clone, Serialize)]
pub struct Payout {
    /// The bank's id for it.
    pub payout_id: String,
    /// The client that asked.
    pub mch_id: String,
    /// The client's order number.
    pub order_no: String,
    /// Amount.
    pub amount: Money,
    /// Debited platform account.
    pub from_account: String,
    /// Beneficiary account number.
    pub payee_account_no: String,
    /// Beneficiary name.
    pub payee_name: String,
    /// Status.
    pub status: PayoutStatus,
    /// Why it failed, if it did.
    pub reason: Option<String>,
    /// When accepted.
    pub created_at: crate::clock::Instant,
    /// When it reached SUCCESS.
    pub succeeded_at: Option<crate::clock::Instant>,
    /// The exact first reply, replayed for a repeated order number when the bank replays.
    #[serde(skip)]
    pub first_reply: Option<bytes::Bytes>,
}

/// One bank instance's state.
#[derive(Debug, Default)]
pub struct BankState {
    /// Every payout, in order.
    pub payouts: Vec<Payout>,
    /// Indexes into `payouts` by (mch_id, order_no), oldest first.
    pub by_order: HashMap<(String, String), Vec<usize>>,
}

/// Serve a request to bank `spec`.
pub fn serve(sb: &Sandbank, spec: &BankSpec, req: InboundRequest) -> Outcome {
    match spec.kind {
        BankKind::PayoutJson => payout_json::serve(sb, spec, req),
    }
}

/// Payout `index` at `bank` stops processing: PROCESSING → SUCCESS.
pub fn settle(st: &mut WorldState, bank: &str, index: usize) {
    let now = st.clock.now();
    let Some(p) = st.banks.get_mut(bank).and_then(|b| b.payouts.get_mut(index)) else { return };
    if p.status != PayoutStatus::Processing {
        return;
    }
    p.status = PayoutStatus::Success;
    p.succeeded_at = Some(now);
    let (order_no, amount, payee) = (p.order_no.clone(), p.amount, p.payee_account_no.clone());
    st.record(
        EntryKind::World,
        Record {
            instance: bank.into(),
            op: "payout.settle".into(),
            reference: Some(order_no),
            message: format!("payout of {amount} to {payee}: PROCESSING → SUCCESS"),
            ..Default::default()
        },
    );
}
