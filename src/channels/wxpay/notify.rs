//! Payment notifications: the signed XML a paid order's `notify_url` receives, on the
//! channel's retry ladder, until the merchant acknowledges it.

use super::codec::is_ack;
use super::order::{FindError, TradeState, WxOrder, WxState};
use super::spec::Spec;
use super::xml;
use crate::clock::{compact_local, SHANGHAI};
use crate::core::{ActionError, Callback, Core, Forgery, NotificationId, NotificationKind};
use crate::protocol::sign;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// The notification retry ladder: waits between successive attempts, in seconds
/// (15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h, 24h4m in all; see
/// docs/protocols.md, "A.4 Notifications and the retry ladder").
pub const RETRY_LADDER_SECS: [i64; 15] = [
    15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
];

/// Build an attempt of payment notification `id`, or `None` when it is no longer due (the
/// order is not paid, or its notification was acknowledged). The channel sends the same
/// content on every attempt; only the nonce changes.
pub fn build(
    spec: &Spec,
    state: &WxState,
    core: &mut Core,
    id: &NotificationId,
) -> Option<Callback> {
    if id.kind != NotificationKind::Payment {
        return None;
    }
    let order = state
        .get(&id.account, &id.reference)
        .filter(|o| o.state() == TradeState::Success && !o.notified())?;
    let merchant = spec.merchant(order.mch_id())?;
    let nonce = core
        .rng_for(
            &spec.id,
            &format!("notify/{}/{}", order.mch_id(), order.out_trade_no()),
        )
        .alnum(32);
    let fields = paid_fields(nonce, order, &Paid::of(order));
    Some(signed_callback(
        order,
        fields,
        &merchant.key,
        Decimal::new(order.total_fee(), 2),
    ))
}

/// What a "paid" notification says about its payment.
struct Paid {
    out_trade_no: String,
    total_fee: i64,
    transaction_id: String,
    time_end: String,
}

impl Paid {
    /// The payment as it really happened.
    fn of(order: &WxOrder) -> Paid {
        Paid {
            out_trade_no: order.out_trade_no().to_string(),
            total_fee: order.total_fee(),
            transaction_id: order.transaction_id().unwrap_or_default().to_string(),
            time_end: order.paid_at().map(compact_local).unwrap_or_default(),
        }
    }
}

/// The fields of a "paid" notification about `order` saying `paid`, unsigned.
fn paid_fields(nonce: String, order: &WxOrder, paid: &Paid) -> Vec<(&'static str, String)> {
    let mut fields: Vec<(&str, String)> = vec![
        ("appid", order.appid().to_string()),
        ("bank_type", "OTHERS".into()),
        ("cash_fee", paid.total_fee.to_string()),
        ("fee_type", "CNY".into()),
        ("is_subscribe", "N".into()),
        ("mch_id", order.mch_id().to_string()),
        ("nonce_str", nonce),
        ("openid", order.openid().unwrap_or_default().to_string()),
        ("out_trade_no", paid.out_trade_no.clone()),
        ("result_code", "SUCCESS".into()),
        ("return_code", "SUCCESS".into()),
        ("time_end", paid.time_end.clone()),
        ("total_fee", paid.total_fee.to_string()),
        ("trade_type", order.trade_type().as_str().to_string()),
        ("transaction_id", paid.transaction_id.clone()),
    ];
    if let Some(a) = order.attach() {
        fields.push(("attach", a.to_string()));
    }
    if let Some(d) = order.device_info() {
        fields.push(("device_info", d.to_string()));
    }
    fields
}

/// Sign `fields` with `key` (the order's algorithm) into a callback to the order's
/// `notify_url`.
fn signed_callback(
    order: &WxOrder,
    mut fields: Vec<(&'static str, String)>,
    key: &str,
    amount: Decimal,
) -> Callback {
    // The notification is signed with the order's algorithm and carries no `sign_type`
    // field, as the real channel does: an HMAC-SHA256 order's notification has a 64-hex
    // sign and nothing saying so, which trips SDKs that verify notifications as MD5 by
    // default (WxJava issues #1585 and #1633; wechatpy's parse_payment_result is MD5-only).
    let map: BTreeMap<String, String> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    fields.push(("sign", sign::sign(&map, key, order.sign_type())));
    Callback {
        url: order.notify_url().to_string(),
        content_type: "text/xml",
        body: xml::write(fields.iter().map(|(k, v)| (*k, v.as_str()))),
        ack: is_ack,
        ladder: &RETRY_LADDER_SECS,
        amount: Some(amount),
    }
}

/// A forged "paid" notification about order `out_trade_no`, to its `notify_url`: signed with
/// the wrong key, or correctly signed but for another amount (1 fen, or 2 for a 1-fen order),
/// or correctly signed for an order number the channel never had. Nothing changes at the
/// channel; the world sends it once.
pub fn forge(
    spec: &Spec,
    state: &WxState,
    core: &mut Core,
    out_trade_no: &str,
    how: Forgery,
) -> Result<Callback, ActionError> {
    let order = match state.find(out_trade_no, None) {
        Ok(o) => o,
        Err(FindError::NotFound) => {
            return Err(ActionError::NotFound(format!(
                "no order `{out_trade_no}` at this channel (a forged notification goes to an order's notify_url)"
            )))
        }
        Err(FindError::Ambiguous) => {
            return Err(ActionError::Conflict(format!(
                "order number `{out_trade_no}` exists under several merchants"
            )))
        }
    };
    let merchant = spec.merchant(order.mch_id()).ok_or_else(|| {
        ActionError::NotFound(format!("merchant `{}` is not in the spec", order.mch_id()))
    })?;
    let mut paid = Paid::of(order);
    let stream = format!("forge/{}/{}", order.mch_id(), order.out_trade_no());
    if paid.transaction_id.is_empty() {
        let now = core.now();
        paid.transaction_id = format!(
            "42000{}{}",
            now.with_timezone(&SHANGHAI).format("%Y%m%d"),
            core.rng_for(&spec.id, &stream).digits(15)
        );
        paid.time_end = compact_local(now);
    }
    let mut key = merchant.key.clone();
    match how {
        // Any other key: the signature cannot verify with the merchant's.
        Forgery::BadSignature => key = key.chars().rev().collect::<String>() + "x",
        Forgery::WrongAmount => paid.total_fee = if order.total_fee() == 1 { 2 } else { 1 },
        Forgery::UnknownOrder => {
            paid.out_trade_no = format!("FORGED{}", core.rng_for(&spec.id, &stream).digits(14))
        }
    }
    let amount = Decimal::new(paid.total_fee, 2);
    let nonce = core.rng_for(&spec.id, &stream).alnum(32);
    let fields = paid_fields(nonce, order, &paid);
    Ok(signed_callback(order, fields, &key, amount))
}

/// Mark notification `id` acknowledged: no more attempts.
pub fn acked(state: &mut WxState, id: &NotificationId) {
    if let Some(o) = state.get_mut(&id.account, &id.reference) {
        o.set_notified();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_totals_24h4m() {
        assert_eq!(RETRY_LADDER_SECS.iter().sum::<i64>(), 24 * 3600 + 4 * 60);
    }
}
