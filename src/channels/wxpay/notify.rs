//! Payment notifications: the signed XML a paid order's `notify_url` receives, on the
//! channel's retry ladder, until the merchant acknowledges it.

use super::codec::is_ack;
use super::order::{TradeState, WxState};
use super::spec::Spec;
use super::xml;
use crate::clock::compact_local;
use crate::core::{Callback, Core, NotificationId, NotificationKind};
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
        .orders
        .get(&(id.account.clone(), id.reference.clone()))
        .filter(|o| o.state == TradeState::Success && !o.notified)?;
    let merchant = spec.merchant(&order.mch_id)?;
    let mut fields: Vec<(&str, String)> = vec![
        ("appid", order.appid.clone()),
        ("bank_type", "OTHERS".into()),
        ("cash_fee", order.total_fee.to_string()),
        ("fee_type", "CNY".into()),
        ("is_subscribe", "N".into()),
        ("mch_id", order.mch_id.clone()),
        ("nonce_str", core.rng.alnum(32)),
        ("openid", order.openid.clone().unwrap_or_default()),
        ("out_trade_no", order.out_trade_no.clone()),
        ("result_code", "SUCCESS".into()),
        ("return_code", "SUCCESS".into()),
        (
            "time_end",
            order.paid_at.map(compact_local).unwrap_or_default(),
        ),
        ("total_fee", order.total_fee.to_string()),
        ("trade_type", order.trade_type.clone()),
        (
            "transaction_id",
            order.transaction_id.clone().unwrap_or_default(),
        ),
    ];
    if let Some(a) = &order.attach {
        fields.push(("attach", a.clone()));
    }
    if let Some(d) = &order.device_info {
        fields.push(("device_info", d.clone()));
    }
    // The notification is signed with the order's algorithm and carries no `sign_type`
    // field, as the real channel does: an HMAC-SHA256 order's notification has a 64-hex
    // sign and nothing saying so, which trips SDKs that verify notifications as MD5 by
    // default (WxJava issues #1585 and #1633; wechatpy's parse_payment_result is MD5-only).
    let map: BTreeMap<String, String> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    fields.push(("sign", sign::sign(&map, &merchant.key, order.sign_type)));
    Some(Callback {
        url: order.notify_url.clone(),
        content_type: "text/xml",
        body: xml::write(fields.iter().map(|(k, v)| (*k, v.as_str()))),
        ack: is_ack,
        ladder: &RETRY_LADDER_SECS,
        amount: Some(Decimal::new(order.total_fee, 2)),
    })
}

/// Mark notification `id` acknowledged: no more attempts.
pub fn acked(state: &mut WxState, id: &NotificationId) {
    if let Some(o) = state
        .orders
        .get_mut(&(id.account.clone(), id.reference.clone()))
    {
        o.notified = true;
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
