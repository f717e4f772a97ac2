//! The buyer pays a trade: on a barcode payment that needs no password, or through the
//! control API (`POST /_sandbank/channels/{id}/orders/{no}/pay`: the buyer scans a
//! precreated trade's QR code and pays, or confirms a barcode payment with the password).
//! Money moves into the merchant's account less the channel's fee, the trade turns
//! TRADE_SUCCESS, and its notification is due at once when the trade named a notify URL.

use super::order::{AliState, Paid, TradeStatus};
use super::spec::Spec;
use crate::channels::shared;
use crate::core::{ActionError, Core};
use crate::journal::{EntryKind, Record};

/// Mark merchant `pid`'s waiting trade `no` paid now, book it, and schedule its payment
/// notification. `how` says in the journal what happened. Does nothing to a trade that is
/// not waiting.
pub fn settle(spec: &Spec, state: &mut AliState, core: &mut Core, pid: &str, no: &str, how: &str) {
    let Some(o) = state.get(pid, no) else {
        return;
    };
    if o.status != TradeStatus::WaitBuyerPay {
        return;
    }
    let (amount, trade_no, notify) = (o.total, o.trade_no.clone(), o.notify_url.is_some());
    let now = core.now();
    let (buyer_id, buyer_logon_id) = {
        let mut rng = core.rng_for(&spec.id, &format!("buyer/{pid}/{no}"));
        let id = format!("2088{}", rng.digits(12));
        let logon = format!("1{}****{}", rng.digits(2), rng.digits(4));
        (id, logon)
    };
    let fee = amount.times_rate_rounded(spec.fee_rate);
    core.record(
        EntryKind::Customer,
        Record {
            instance: spec.id.as_str().into(),
            op: "pay".into(),
            reference: Some(no.into()),
            message: format!(
                "buyer {buyer_id} paid {amount} ({how}; trade {trade_no}, fee {fee}){}",
                if notify {
                    "; notification due now"
                } else {
                    "; no notify_url, no notification"
                }
            ),
            ..Default::default()
        },
    );
    shared::book_payment(core, &spec.id, pid, no, amount, fee);
    if let Some(o) = state.get_mut(pid, no) {
        o.status = TradeStatus::Success;
        o.visible = true;
        o.paid = Some(Paid {
            at: now,
            buyer_id,
            buyer_logon_id,
            fee,
        });
    }
    if notify {
        shared::payment_notification_due(core, &spec.id, pid, no);
    }
}

/// The buyer pays trade `no` (of merchant `pid` when several merchants use the number).
pub fn customer_pay(
    spec: &Spec,
    state: &mut AliState,
    core: &mut Core,
    no: &str,
    pid: Option<&str>,
) -> Result<serde_json::Value, ActionError> {
    let o = state.find(no, pid).map_err(|e| {
        e.into_action(
            || format!("no trade `{no}` at this channel"),
            || format!("order number `{no}` exists under several merchants: give mch_id (the partner id)"),
        )
    })?;
    if o.status != TradeStatus::WaitBuyerPay {
        return Err(ActionError::Conflict(format!(
            "trade `{no}` is {}, not payable",
            o.status.as_str()
        )));
    }
    let pid = o.pid().to_string();
    let how = match o.product {
        super::order::Product::Precreate => "the buyer scanned the QR code and paid",
        super::order::Product::Barcode => "the buyer confirmed with the password",
    };
    settle(spec, state, core, &pid, no, how);
    let o = state
        .get(&pid, no)
        .ok_or_else(|| ActionError::NotFound(format!("no trade `{no}` at this channel")))?;
    let paid = o.paid.as_ref();
    Ok(serde_json::json!({
        "channel": spec.id,
        "pid": pid,
        "app_id": o.app.app_id,
        "out_trade_no": no,
        "trade_no": o.trade_no,
        "amount": o.total.major_string(),
        "fee": paid.map(|p| p.fee.major_string()),
        "currency": "CNY",
        "trade_status": o.status.as_str(),
        "buyer_id": paid.map(|p| p.buyer_id.clone()),
        "paid_at": paid.map(|p| p.at.to_rfc3339()),
    }))
}
