//! The customer side of a WeChat Pay order: the customer pays (a control-API action, since
//! no real customer can reach a fake; or a barcode payment, `pay/micropay`). Money moves
//! into the channel less its fee, the order turns SUCCESS, and — for every product but
//! barcode payments, which have no notification — the first notification attempt is due at
//! once.

use super::order::{TradeState, TradeType};
use super::spec::Spec;
use super::state::WxState;
use crate::channels::shared;
use crate::clock::SHANGHAI;
use crate::core::{ActionError, Core};
use crate::journal::{EntryKind, Record};
use crate::money::{Currency, Money};

/// The customer pays order `out_trade_no` (under `mch_id` when several merchants use that
/// number). Returns what the payment was, as JSON.
pub fn pay(
    spec: &Spec,
    state: &mut WxState,
    core: &mut Core,
    out_trade_no: &str,
    mch_id: Option<&str>,
) -> Result<serde_json::Value, ActionError> {
    let order = state.find(out_trade_no, mch_id).map_err(|e| {
        e.into_action(
            || format!("no order `{out_trade_no}` at this channel"),
            || format!("order number `{out_trade_no}` exists under several merchants: give mch_id"),
        )
    })?;
    if !matches!(order.state(), TradeState::NotPay | TradeState::UserPaying) {
        return Err(ActionError::Conflict(format!(
            "order `{out_trade_no}` is {}, not payable",
            order.state().as_str()
        )));
    }
    let mch_id = order.mch_id().to_string();
    Ok(complete(spec, state, core, &mch_id, out_trade_no))
}

/// The customer pays merchant `mch_id`'s payable order `out_trade_no` now (the caller
/// checked that it is held and payable). Returns what the payment was, as JSON.
pub fn complete(
    spec: &Spec,
    state: &mut WxState,
    core: &mut Core,
    mch_id: &str,
    out_trade_no: &str,
) -> serde_json::Value {
    let Some(order) = state.get(mch_id, out_trade_no) else {
        return serde_json::Value::Null;
    };
    let (mch_id, total_fee) = (order.mch_id().to_string(), order.total_fee());
    let notifies = order.trade_type() != TradeType::Micropay;
    let given_openid = order.openid().map(str::to_string);
    let now = core.now();
    let transaction_id = format!(
        "42000{}{}",
        now.with_timezone(&SHANGHAI).format("%Y%m%d"),
        core.rng_for(&spec.id, &format!("pay/{mch_id}/{out_trade_no}"))
            .digits(15)
    );
    let openid = given_openid.unwrap_or_else(|| {
        let mut rng = core.rng_for(&spec.id, &format!("pay/{mch_id}/{out_trade_no}"));
        format!("o{}", rng.alnum(27))
    });
    let amount = Money::from_minor(total_fee, Currency::Cny);
    let fee = amount.times_rate_rounded(spec.fee_rate);
    core.record(
        EntryKind::Customer,
        Record {
            instance: spec.id.as_str().into(),
            op: "pay".into(),
            reference: Some(out_trade_no.into()),
            message: format!(
                "customer paid {amount} (transaction {transaction_id}, fee {fee}){}",
                if notifies {
                    "; notification due now"
                } else {
                    ""
                }
            ),
            ..Default::default()
        },
    );
    shared::book_payment(core, &spec.id, &mch_id, out_trade_no, amount, fee);
    state.mark_paid(&mch_id, out_trade_no, &transaction_id, &openid, now, fee);
    if notifies {
        shared::payment_notification_due(core, &spec.id, &mch_id, out_trade_no);
    }
    serde_json::json!({
        "channel": spec.id,
        "mch_id": mch_id,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "amount": amount.major_string(),
        "fee": fee.major_string(),
        "currency": "CNY",
        "trade_state": "SUCCESS",
        "paid_at": now.to_rfc3339(),
    })
}
