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
    /// Paid, then returned by the beneficiary's bank (退票): the money came back.
    Returned,
}

impl PayoutStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::Processing => "PROCESSING",
            PayoutStatus::Success => "SUCCESS",
            PayoutStatus::Failed => "FAILED",
            PayoutStatus::Returned => "RETURNED",
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
    let Some(p) = st
        .banks
        .get_mut(bank)
        .and_then(|b| b.payouts.get_mut(index))
    else {
        return;
    };
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

/// Why a payout could not be returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnError {
    /// No such bank or payout.
    #[error("{0}")]
    NotFound(String),
    /// The payout is not in a state that can be returned.
    #[error("{0}")]
    NotReturnable(String),
}

/// The beneficiary's bank returns (退票) a paid payout: SUCCESS → RETURNED, and a
/// `PayoutReturn` posting moves the money back from the payee to the platform account.
/// `payout_id` picks one payout when several share the order number (a bank that pays a
/// repeated order number again); otherwise the latest successful one is returned.
pub fn return_payout(
    st: &mut WorldState,
    bank: &str,
    order_no: &str,
    payout_id: Option<&str>,
    reason: Option<&str>,
) -> Result<Payout, ReturnError> {
    let now = st.clock.now();
    let Some(bs) = st.banks.get_mut(bank) else {
        return Err(ReturnError::NotFound(format!("no bank `{bank}`")));
    };
    let matching =
        |p: &Payout| p.order_no == order_no && payout_id.is_none_or(|id| p.payout_id == id);
    let Some(index) = bs
        .payouts
        .iter()
        .rposition(|p| matching(p) && p.status == PayoutStatus::Success)
    else {
        return Err(match bs.payouts.iter().rev().find(|p| matching(p)) {
            None => ReturnError::NotFound(format!("no payout `{order_no}` at bank `{bank}`")),
            Some(p) => ReturnError::NotReturnable(format!(
                "payout `{order_no}` is {}: only a SUCCESS payout can be returned",
                p.status.as_str()
            )),
        });
    };
    let p = &mut bs.payouts[index];
    p.status = PayoutStatus::Returned;
    p.reason = Some(reason.unwrap_or("BANK_RETURN").to_string());
    let payout = p.clone();
    let (from, to) = (
        payee_path(bank, &payout.payee_account_no),
        account_path(bank, &payout.from_account),
    );
    // Two legs of one amount and currency: balances by construction.
    let _ = st.ledger.transfer(
        now,
        crate::ledger::PostingKind::PayoutReturn,
        bank,
        order_no,
        &from,
        &to,
        payout.amount,
    );
    st.record(
        EntryKind::Posting,
        Record {
            instance: bank.into(),
            op: "payout.return".into(),
            reference: Some(order_no.into()),
            message: format!(
                "{from} → {to} {} (returned: {})",
                payout.amount,
                payout.reason.as_deref().unwrap_or("")
            ),
            ..Default::default()
        },
    );
    Ok(payout)
}

/// `POST /_sandbank/banks/{bank}/payouts/{order_no}/return` with an optional JSON body
/// `{"reason": "ACCOUNT_FROZEN", "payout_id": "AP…"}`.
pub fn return_route(sb: &Sandbank, bank: &str, order_no: &str, body: &[u8]) -> crate::http::Reply {
    use hyper::StatusCode;
    use serde_json::{json, Value};
    let v: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return crate::http::Reply::json(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "the body must be a JSON object like {\"reason\": \"ACCOUNT_FROZEN\"}"}),
                )
            }
        }
    };
    let mut st = sb.lock();
    match return_payout(
        &mut st,
        bank,
        order_no,
        v.get("payout_id").and_then(Value::as_str),
        v.get("reason").and_then(Value::as_str),
    ) {
        Ok(p) => crate::http::Reply::json(StatusCode::OK, &json!({ "bank": bank, "payout": p })),
        Err(e @ ReturnError::NotFound(_)) => {
            crate::http::Reply::json(StatusCode::NOT_FOUND, &json!({"error": e.to_string()}))
        }
        Err(e) => crate::http::Reply::json(StatusCode::CONFLICT, &json!({"error": e.to_string()})),
    }
}
