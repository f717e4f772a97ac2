//! Payouts as a bank records them, whatever its API: the single-payout JSON API today, a
//! batch file exchange tomorrow. Submitting is the API's business; what happens to a payout
//! afterwards — it settles, it is returned (退票), it shows on the account statement — is
//! the same for every bank kind and lives here.

use crate::clock::Instant;
use crate::core::{ActionError, Core};
use crate::journal::{EntryKind as JournalKind, Record};
use crate::ledger::{accounts, Posting, PostingKind};
use crate::money::Money;
use crate::statements::{Details, Entry, EntryKind, EntryStatus, Phantom};
use serde::Serialize;
use std::collections::HashMap;

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
    pub created_at: Instant,
    /// When it reached SUCCESS.
    pub succeeded_at: Option<Instant>,
    /// The exact first reply, replayed for a repeated order number when the bank replays.
    #[serde(skip)]
    pub first_reply: Option<bytes::Bytes>,
    /// The ledger posting that paid it out, if money moved; statements join on it.
    #[serde(skip)]
    pub posting: Option<u64>,
    /// The ledger posting that brought it back, if it was returned.
    #[serde(skip)]
    pub return_posting: Option<u64>,
}

/// Every payout of one bank instance.
#[derive(Debug, Default)]
pub struct Payouts {
    /// Every payout, in order of submission.
    pub list: Vec<Payout>,
    /// Indexes into `list` by order number, oldest first, whatever the client: a bank that
    /// pays a repeated order number again has several, and clients may share a number.
    by_order: HashMap<String, Vec<usize>>,
    /// Index into `list` by the ledger posting that paid or returned it.
    by_posting: HashMap<u64, usize>,
}

impl Payouts {
    /// Record `payout` and return its index.
    pub fn push(&mut self, payout: Payout) -> usize {
        let index = self.list.len();
        if let Some(p) = payout.posting {
            self.by_posting.insert(p, index);
        }
        self.by_order
            .entry(payout.order_no.clone())
            .or_default()
            .push(index);
        self.list.push(payout);
        index
    }

    /// The payouts under order number `order_no` of any client, oldest first, with their
    /// indexes.
    fn numbered<'a>(
        &'a self,
        order_no: &str,
    ) -> impl DoubleEndedIterator<Item = (usize, &'a Payout)> + 'a {
        self.by_order
            .get(order_no)
            .into_iter()
            .flatten()
            .filter_map(|i| Some((*i, self.list.get(*i)?)))
    }

    /// The payouts under (client, order number), oldest first.
    pub fn under<'a>(
        &'a self,
        mch_id: &'a str,
        order_no: &str,
    ) -> impl DoubleEndedIterator<Item = &'a Payout> + 'a {
        self.numbered(order_no)
            .map(|(_, p)| p)
            .filter(move |p| p.mch_id == mch_id)
    }

    /// Payout `index` of bank `bank` stops processing: PROCESSING → SUCCESS, journalled.
    /// A payout that is no longer processing (or does not exist) is left alone.
    pub fn settle(&mut self, core: &mut Core, bank: &str, index: usize) {
        let now = core.now();
        let Some(p) = self.list.get_mut(index) else {
            return;
        };
        if p.status != PayoutStatus::Processing {
            return;
        }
        p.status = PayoutStatus::Success;
        p.succeeded_at = Some(now);
        let (order_no, amount, payee) = (p.order_no.clone(), p.amount, p.payee_account_no.clone());
        core.record(
            JournalKind::World,
            Record {
                instance: bank.into(),
                op: "payout.settle".into(),
                reference: Some(order_no),
                message: format!("payout of {amount} to {payee}: PROCESSING → SUCCESS"),
                ..Default::default()
            },
        );
    }

    /// The beneficiary's bank returns (退票) a paid payout of bank `bank`: SUCCESS →
    /// RETURNED, and a `PayoutReturn` posting moves the money back from the payee to the
    /// platform account. `payout_id` picks one payout when several share the order number;
    /// otherwise the latest successful one is returned.
    pub fn return_payout(
        &mut self,
        core: &mut Core,
        bank: &str,
        order_no: &str,
        payout_id: Option<&str>,
        reason: Option<&str>,
    ) -> Result<Payout, ActionError> {
        let matching = |p: &Payout| payout_id.is_none_or(|id| p.payout_id == id);
        let Some(index) = self
            .numbered(order_no)
            .rev()
            .find(|(_, p)| matching(p) && p.status == PayoutStatus::Success)
            .map(|(i, _)| i)
        else {
            return Err(
                match self
                    .numbered(order_no)
                    .rev()
                    .map(|(_, p)| p)
                    .find(|p| matching(p))
                {
                    None => {
                        ActionError::NotFound(format!("no payout `{order_no}` at bank `{bank}`"))
                    }
                    Some(p) => ActionError::Conflict(format!(
                        "payout `{order_no}` is {}: only a SUCCESS payout can be returned",
                        p.status.as_str()
                    )),
                },
            );
        };
        let p = &mut self.list[index];
        p.status = PayoutStatus::Returned;
        p.reason = Some(reason.unwrap_or("BANK_RETURN").to_string());
        let (from, to) = (
            accounts::bank_payee(bank, &p.payee_account_no),
            accounts::bank_account(bank, &p.from_account),
        );
        let note = format!("returned: {}", p.reason.as_deref().unwrap_or(""));
        // Two legs of one amount and currency: balances by construction.
        if let Ok(id) = core.transfer(
            PostingKind::PayoutReturn,
            bank,
            order_no,
            &from,
            &to,
            p.amount,
            Some(&note),
        ) {
            p.return_posting = Some(id);
            self.by_posting.insert(id, index);
        }
        Ok(self.list[index].clone())
    }

    /// The statement line of posting `p` on one of bank `instance`'s accounts (`amount` is
    /// its leg there). Payouts and their returns are joined with the payout record for the
    /// beneficiary and the bank's own reference.
    pub fn entry(&self, instance: &str, p: &Posting, amount: Money) -> Entry {
        let kind = match p.kind {
            PostingKind::Payout => EntryKind::Payout,
            PostingKind::PayoutReturn => EntryKind::PayoutReturn,
            _ => EntryKind::Other,
        };
        let payout = self.by_posting.get(&p.id).and_then(|i| self.list.get(*i));
        let mut details = Details::default();
        let mut issuer_ref = format!("{instance}-{}", p.id);
        if let Some(po) = payout {
            details.merchant_id = po.mch_id.clone();
            details.counterparty_account = po.payee_account_no.clone();
            details.counterparty_name = po.payee_name.clone();
            details.subject = match kind {
                EntryKind::PayoutReturn => format!("return of payout {}", po.order_no),
                _ => format!("payout {}", po.order_no),
            };
            issuer_ref = match kind {
                EntryKind::PayoutReturn => format!("{}R", po.payout_id),
                _ => po.payout_id.clone(),
            };
        }
        Entry {
            at: p.at,
            created_at: payout.map(|po| po.created_at),
            kind,
            status: EntryStatus::Booked,
            reference: p.reference.clone(),
            issuer_ref,
            refund_reference: None,
            refund_id: None,
            amount,
            fee: Money::zero(amount.currency),
            details,
        }
    }
}

/// A payout the bank never made (a `phantom` mismatch): a debit to the account.
pub fn phantom(ph: &Phantom) -> Entry {
    Entry {
        at: ph.at,
        created_at: Some(ph.at),
        kind: EntryKind::Payout,
        status: EntryStatus::Booked,
        issuer_ref: ph.issuer_ref(),
        reference: ph.reference.clone(),
        refund_reference: None,
        refund_id: None,
        amount: -ph.amount,
        fee: Money::zero(ph.amount.currency),
        details: Details {
            subject: format!("payout {}", ph.reference),
            ..Details::default()
        },
    }
}
