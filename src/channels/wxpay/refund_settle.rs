//! What becomes of an accepted refund: its timer finishes it as planned, SUCCESS moves the
//! money in the ledger (the fee given back, then the refund), and a finished refund with a
//! `notify_url` is notified (see [`super::refund_notify`]).

use super::refund_record::RefundStatus;
use super::spec::Spec;
use super::state::WxState;
use crate::core::{Core, Event, NotificationId, NotificationKind};
use crate::journal::{EntryKind, Record};
use crate::ledger::{accounts, PostingKind};
use crate::money::{Currency, Money};

/// The refund timer `key` is due: finish the refund as planned (if it is still PROCESSING
/// and this is its current timer), move the money on SUCCESS, and start its notification.
pub fn settle(spec: &Spec, state: &mut WxState, core: &mut Core, key: &str) {
    let Some((mch_id, out_refund_no)) = key.split_once('\0') else {
        return;
    };
    let now = core.now();
    let Some((order, i)) = state.refund_by_no(mch_id, out_refund_no) else {
        return;
    };
    let out_trade_no = order.out_trade_no().to_string();
    let Some(r) = order.refunds().get(i) else {
        return;
    };
    if r.status != RefundStatus::Processing || r.due_at > now {
        // Finished already, or reopened since with a later timer.
        return;
    }
    let (status, fee_back, refund_fee, net) = (r.outcome, r.fee_back, r.refund_fee, r.net_fen);
    let notify = r.notify_url.is_some();
    state.release(mch_id, net);
    if let Some(r) = state.refund_mut(mch_id, &out_trade_no, i) {
        r.status = status;
        r.finished_at = Some(now);
    }
    let amount = Money::from_minor(refund_fee, Currency::Cny);
    core.record(
        EntryKind::World,
        Record {
            instance: spec.id.as_str().into(),
            op: "refund.settle".into(),
            reference: Some(out_refund_no.into()),
            message: format!(
                "refund {out_refund_no} of order {out_trade_no} ({amount}) is {}{}",
                status.as_str(),
                if notify { "; notification due now" } else { "" }
            ),
            ..Default::default()
        },
    );
    if status == RefundStatus::Success {
        post(spec, core, mch_id, out_refund_no, amount, fee_back);
    }
    if notify {
        core.schedule(
            now,
            Event::Notify {
                instance: spec.id.clone(),
                id: NotificationId {
                    kind: NotificationKind::Refund,
                    account: mch_id.into(),
                    reference: out_refund_no.into(),
                },
                attempt: 1,
                gated: true,
            },
        );
    }
}

/// Move a successful refund's money: the fee given back from the channel to the merchant,
/// then the refund from the merchant to the customer, both under `reference`.
pub fn post(
    spec: &Spec,
    core: &mut Core,
    mch_id: &str,
    reference: &str,
    amount: Money,
    fee_back: Money,
) {
    let account = accounts::channel_merchant(&spec.id, mch_id);
    // Two-leg transfers of one amount in one currency always balance, so these cannot fail.
    if !fee_back.amount.is_zero() {
        let _ = core.transfer(
            PostingKind::Fee,
            &spec.id,
            reference,
            &accounts::channel_fees(&spec.id),
            &account,
            fee_back,
            Some("fee given back on a refund"),
        );
    }
    let _ = core.transfer(
        PostingKind::Refund,
        &spec.id,
        reference,
        &account,
        accounts::CUSTOMERS,
        amount,
        None,
    );
}
