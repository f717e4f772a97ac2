//! Payment notifications: the signed XML a paid order's `notify_url` receives, on the
//! channel's retry ladder, until the merchant acknowledges it.

use super::codec::is_ack;
use super::order::{TradeType, WxOrder};
use super::spec::Spec;
use super::state::WxState;
use super::xml;
use crate::channels::shared;
use crate::clock::{compact_local, SHANGHAI};
use crate::core::{ActionError, Callback, Core, Forgery, NotificationId, NotificationKind};
use crate::money::{Currency, Money};
use crate::protocol::sign;
use rust_decimal::Decimal;
use std::borrow::Cow;

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
        .filter(|o| o.is_paid() && o.trade_type() != TradeType::Micropay && !o.notified())?;
    let merchant = spec.merchant(order.mch_id())?;
    let nonce = core
        .rng_for(
            &spec.id,
            &format!("notify/{}/{}", order.mch_id(), order.out_trade_no()),
        )
        .alnum(32);
    let paid = Paid::of(order);
    let fields = paid_fields(&nonce, order, &paid);
    Some(signed_callback(
        order,
        &fields,
        &merchant.key,
        Decimal::new(order.total_fee(), 2),
    ))
}

/// What a "paid" notification says about its payment.
struct Paid<'a> {
    out_trade_no: Cow<'a, str>,
    total_fee: String,
    transaction_id: Cow<'a, str>,
    time_end: String,
}

impl<'a> Paid<'a> {
    /// The payment as it really happened.
    fn of(order: &'a WxOrder) -> Paid<'a> {
        Paid {
            out_trade_no: Cow::Borrowed(order.out_trade_no()),
            total_fee: order.total_fee().to_string(),
            transaction_id: Cow::Borrowed(order.transaction_id().unwrap_or_default()),
            time_end: order.paid_at().map(compact_local).unwrap_or_default(),
        }
    }
}

/// The fields of a "paid" notification about `order` saying `paid`, unsigned, in the order
/// they are written.
fn paid_fields<'a>(
    nonce: &'a str,
    order: &'a WxOrder,
    paid: &'a Paid<'a>,
) -> Vec<(&'static str, &'a str)> {
    let mut fields: Vec<(&str, &str)> = vec![
        ("appid", order.appid()),
        ("bank_type", "OTHERS"),
        ("cash_fee", &paid.total_fee),
        ("fee_type", "CNY"),
        ("is_subscribe", "N"),
        ("mch_id", order.mch_id()),
        ("nonce_str", nonce),
        ("openid", order.openid().unwrap_or_default()),
        ("out_trade_no", &paid.out_trade_no),
        ("result_code", "SUCCESS"),
        ("return_code", "SUCCESS"),
        ("time_end", &paid.time_end),
        ("total_fee", &paid.total_fee),
        ("trade_type", order.trade_type().as_str()),
        ("transaction_id", &paid.transaction_id),
    ];
    if let Some(a) = order.attach() {
        fields.push(("attach", a));
    }
    if let Some(d) = order.device_info() {
        fields.push(("device_info", d));
    }
    fields
}

/// Sign `fields` with `key` (the order's algorithm) into a callback to the order's
/// `notify_url`.
fn signed_callback(
    order: &WxOrder,
    fields: &[(&'static str, &str)],
    key: &str,
    amount: Decimal,
) -> Callback {
    // The notification is signed with the order's algorithm and carries no `sign_type`
    // field, as the real channel does: an HMAC-SHA256 order's notification has a 64-hex
    // sign and nothing saying so, which trips SDKs that verify notifications as MD5 by
    // default (WxJava issues #1585 and #1633; wechatpy's parse_payment_result is MD5-only).
    let mut sorted = fields.to_vec();
    sorted.sort_by_key(|(k, _)| *k);
    let signature = sign::sign_sorted(sorted, key, order.sign_type());
    Callback {
        url: order.notify_url().to_string(),
        content_type: "text/xml",
        body: xml::write(
            fields
                .iter()
                .copied()
                .chain(std::iter::once(("sign", signature.as_str()))),
        ),
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
    let order =
        shared::forgery_target(state.find(out_trade_no, None), out_trade_no, "an", "order")?;
    let merchant = spec.merchant(order.mch_id()).ok_or_else(|| {
        ActionError::NotFound(format!("merchant `{}` is not in the spec", order.mch_id()))
    })?;
    let mut paid = Paid::of(order);
    let stream = shared::forgery_stream(order.mch_id(), order.out_trade_no());
    if paid.transaction_id.is_empty() {
        let now = core.now();
        paid.transaction_id = Cow::Owned(format!(
            "42000{}{}",
            now.with_timezone(&SHANGHAI).format("%Y%m%d"),
            core.rng_for(&spec.id, &stream).digits(15)
        ));
        paid.time_end = compact_local(now);
    }
    let mut key = merchant.key.clone();
    let mut total_fee = order.total_fee();
    match how {
        // Any other key: the signature cannot verify with the merchant's.
        Forgery::BadSignature => key = key.chars().rev().collect::<String>() + "x",
        Forgery::WrongAmount => {
            let claimed = shared::forged_amount(Money::from_minor(total_fee, Currency::Cny));
            // One or two fen: whole fen, always.
            total_fee = claimed.to_minor().unwrap_or(1);
            paid.total_fee = total_fee.to_string();
        }
        Forgery::UnknownOrder => {
            paid.out_trade_no = Cow::Owned(shared::forged_order_number(core, &spec.id, &stream))
        }
    }
    let amount = Decimal::new(total_fee, 2);
    let nonce = core.rng_for(&spec.id, &stream).alnum(32);
    let fields = paid_fields(&nonce, order, &paid);
    Ok(signed_callback(order, &fields, &key, amount))
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
