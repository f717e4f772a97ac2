//! How a WeChat Pay v2 channel's movements read as bill lines: each payment posting joined
//! with its order (payer, product, trade type, transaction id), with the fee folded into
//! the payment as the bill shows it; each refund posting (under its `out_refund_no`) joined
//! with its refund and order, the fee it gave back shown negative; and the made-up line of
//! a `phantom` mismatch.

use super::spec::Spec;
use super::state::WxState;
use crate::channels::shared;
use crate::ledger::Posting;
use crate::money::Money;
use crate::statements::{Details, Entry, EntryKind, EntryStatus, Phantom, Source};

/// The bill line of posting `p` (`amount` is its leg on the merchant's account), or `None`
/// for a fee posting, which the bill folds into its payment.
pub fn entry(
    spec: &Spec,
    state: &WxState,
    source: &Source,
    p: &Posting,
    amount: Money,
) -> Option<Entry> {
    let kind = shared::entry_kind(p)?;
    let mch_id = source.account();
    // A refund posting is under its refund number (a reversed barcode payment's, under the
    // order number).
    let refund = (kind == EntryKind::Refund)
        .then(|| state.refund_by_no(mch_id, &p.reference))
        .flatten();
    let order = match refund {
        Some((o, _)) => Some(o),
        None => state.get(mch_id, &p.reference),
    };
    let refund = refund.and_then(|(o, i)| o.refunds().get(i));
    let zero = Money::zero(amount.currency);
    let mut details = Details {
        merchant_id: mch_id.to_string(),
        fee_rate: spec.fee_rate,
        ..Details::default()
    };
    let (mut issuer_ref, mut created_at, mut fee) = (String::new(), None, zero);
    if let Some(o) = order {
        details.app_id = o.appid().to_string();
        details.payer = o.openid().unwrap_or_default().to_string();
        details.trade_type = o.trade_type().as_str().to_string();
        details.subject = o.body().to_string();
        details.attach = o.attach().unwrap_or_default().to_string();
        details.device_info = o.device_info().unwrap_or_default().to_string();
        issuer_ref = o.transaction_id().unwrap_or_default().to_string();
        created_at = Some(o.created_at());
        details.paid_at = o.paid_at();
        details.refund_requested_at = refund.map(|r| r.requested_at);
        fee = match (kind, refund) {
            (EntryKind::Payment, _) => o.fee().unwrap_or(zero),
            (EntryKind::Refund, Some(r)) => -r.fee_back,
            // A reversed barcode payment gives back the whole fee.
            (EntryKind::Refund, None) => -o.fee().unwrap_or(zero),
            _ => zero,
        };
    }
    let reference = match (order, refund) {
        (Some(o), Some(_)) => o.out_trade_no().to_string(),
        _ => p.reference.clone(),
    };
    Some(Entry {
        at: p.at,
        created_at,
        kind,
        status: EntryStatus::Booked,
        reference,
        issuer_ref,
        refund_reference: refund.map(|r| r.out_refund_no.to_string()),
        refund_id: refund.map(|r| r.refund_id.to_string()),
        amount,
        fee,
        details,
    })
}

/// A payment the channel never took: a NATIVE payment to the merchant, with the fee the
/// channel's rate gives and the phantom's made-up transaction id.
pub fn phantom(spec: &Spec, source: &Source, ph: &Phantom) -> Entry {
    let merchant = spec.merchant(source.account());
    let details = Details {
        app_id: merchant.map(|x| x.appid.clone()).unwrap_or_default(),
        merchant_id: source.account().to_string(),
        trade_type: "NATIVE".into(),
        subject: "phantom".into(),
        fee_rate: spec.fee_rate,
        ..Details::default()
    };
    shared::phantom_entry(ph, ph.issuer_ref(), details)
}
