//! How an Alipay channel's movements read as bill lines: each payment or refund posting
//! joined with its trade (trade number, subject, the buyer's masked login, creation time),
//! the fee folded into its line; and the made-up line of a `phantom` mismatch.

use super::order::AliState;
use super::spec::Spec;
use crate::channels::shared;
use crate::ledger::Posting;
use crate::money::Money;
use crate::statements::{Details, Entry, EntryKind, EntryStatus, Phantom, Source};

/// The bill line of posting `p` (`amount` is its leg on the merchant's account), or `None`
/// for a fee posting, which the bill folds into its payment or refund line.
pub fn entry(
    spec: &Spec,
    state: &AliState,
    source: &Source,
    p: &Posting,
    amount: Money,
) -> Option<Entry> {
    let kind = shared::entry_kind(p)?;
    let pid = source.account();
    let no = p.reference.as_str();
    let order = state.get(pid, no);
    // A refund posting is found among its trade's refunds by the posting's id.
    let refund = order.and_then(|o| o.refunds.iter().find(|r| r.posting == p.id));
    let zero = Money::zero(amount.currency);
    let mut details = Details {
        merchant_id: pid.to_string(),
        fee_rate: spec.fee_rate,
        ..Details::default()
    };
    let (mut issuer_ref, mut created_at, mut fee) = (String::new(), None, zero);
    if let Some(o) = order {
        details.app_id = o.app.app_id.clone();
        details.subject = o.subject.clone();
        details.attach = o.body.clone().unwrap_or_default();
        details.trade_type = "FACE_TO_FACE_PAYMENT".into();
        details.payer = o
            .paid
            .as_ref()
            .map(|p| p.buyer_logon_id.clone())
            .unwrap_or_default();
        issuer_ref = o.trade_no.clone();
        created_at = Some(o.created_at);
        fee = match kind {
            EntryKind::Payment => o.paid.as_ref().map(|p| p.fee).unwrap_or(zero),
            EntryKind::Refund => refund.map(|r| -r.fee_back).unwrap_or(zero),
            _ => zero,
        };
    }
    Some(Entry {
        at: p.at,
        created_at,
        kind,
        status: EntryStatus::Booked,
        reference: no.to_string(),
        issuer_ref,
        refund_reference: refund.map(|r| r.out_request_no.clone()),
        refund_id: None,
        amount,
        fee,
        details,
    })
}

/// A made-up Alipay trade number for a phantom: the day, `22001` and 15 digits derived from
/// the mismatch id, so the same scenario gives the same line.
fn phantom_trade_no(ph: &Phantom) -> String {
    let digits: String = ph
        .id
        .bytes()
        .map(|b| char::from(b'0' + b % 10))
        .chain(std::iter::repeat('0'))
        .take(15)
        .collect();
    format!("{}22001{digits}", ph.day.format("%Y%m%d"))
}

/// A payment the channel never took, to the merchant, with the fee the channel's rate
/// gives.
pub fn phantom(spec: &Spec, source: &Source, ph: &Phantom) -> Entry {
    let app = spec.app_of_pid(source.account());
    let details = Details {
        app_id: app.map(|a| a.app_id.clone()).unwrap_or_default(),
        merchant_id: source.account().to_string(),
        trade_type: "FACE_TO_FACE_PAYMENT".into(),
        subject: "phantom".into(),
        fee_rate: spec.fee_rate,
        ..Details::default()
    };
    shared::phantom_entry(ph, phantom_trade_no(ph), details)
}
