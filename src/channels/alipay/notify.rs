//! Asynchronous notifications (异步通知), of payments and of refunds: a form POST to the
//! trade's `notify_url`, signed with the Alipay key, resent on Alipay's ladder until the
//! merchant answers exactly `success` (docs/protocols.md, "B.5").
//!
//! - The signature covers every field but `sign` and `sign_type`, sorted, `k=v&…`, in the
//!   trade's charset: what the SDKs' notification checks rebuild (python-alipay-sdk
//!   `verify`, the Java SDK's `rsaCheckV1`; the Node SDK tries with `sign_type` and then
//!   without). No field is ever empty, so the SDKs that keep empty values agree.
//! - `notify_id` is the same on every attempt of one notification; `notify_time` is the
//!   attempt's.
//! - Face-to-face trades notify TRADE_SUCCESS only: closing or cancelling an unpaid trade
//!   sends nothing. A partial refund notifies (TRADE_SUCCESS with `refund_fee` and
//!   `gmt_refund`); a full refund, which closes the trade, does not (TRADE_CLOSED is not
//!   among the face-to-face notifications).

use super::codec::{is_ack, sign_content, Charset};
use super::order::{AliOrder, AliState};
use super::response::local_time;
use super::spec::Spec;
use crate::channels::shared;
use crate::clock::{Instant, SHANGHAI};
use crate::core::{ActionError, Callback, Core, Forgery, NotificationId, NotificationKind};
use crate::money::{Currency, Money};
use rust_decimal::Decimal;

/// Waits between attempts, in seconds: 4m, 10m, 10m, 1h, 2h, 6h, 15h — eight attempts in
/// all, the last 24h24m after the first (docs/protocols.md, "B.5").
pub const RETRY_LADDER_SECS: [i64; 7] = [240, 600, 600, 3600, 7200, 21600, 54000];

/// The content type of a notification in `charset`.
fn content_type(charset: Charset) -> &'static str {
    match charset {
        Charset::Utf8 => "application/x-www-form-urlencoded; charset=utf-8",
        Charset::Gbk => "application/x-www-form-urlencoded; charset=GBK",
    }
}

/// `text` form-encoded as bytes of `charset`: letters, digits and `*-._` as they are, space
/// as `+`, everything else `%XX`.
pub(super) fn form_encode(charset: Charset, text: &str, out: &mut String) {
    for b in charset.encode(text) {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

/// The `notify_id` of notification `key` at `instance`: drawn from its own stream from the
/// start, so every attempt carries the same one.
fn notify_id(core: &Core, instance: &str, key: &str) -> String {
    core.stream_from_start(instance, &format!("notify_id/{key}"))
        .alnum(34)
        .to_lowercase()
}

/// What a trade-status notification says.
struct Said {
    out_trade_no: String,
    total: String,
    trade_status: &'static str,
    /// A refund's cumulative `refund_fee`, `gmt_refund` and request number (`out_biz_no`).
    refund: Option<(String, String, String)>,
}

/// Sign `fields` (all but `sign` and `sign_type` covered) and encode them into a callback.
fn signed(
    key: &super::keys::PrivateKey,
    url: &str,
    charset: Charset,
    mut fields: Vec<(&'static str, String)>,
    amount: Decimal,
) -> Callback {
    let content = sign_content(
        fields.iter().map(|(k, v)| (*k, v.as_str())),
        &["sign", "sign_type"],
    );
    let sign = key.sign(&charset.encode(&content));
    fields.push(("sign", sign));
    fields.sort_by_key(|(k, _)| *k);
    let mut body = String::new();
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            body.push('&');
        }
        body.push_str(k);
        body.push('=');
        form_encode(charset, v, &mut body);
    }
    Callback {
        url: url.to_string(),
        content_type: content_type(charset),
        body,
        ack: is_ack,
        ladder: &RETRY_LADDER_SECS,
        amount: Some(amount),
    }
}

/// The fields of a notification about `o` saying `said`, unsigned.
fn fields(
    core: &Core,
    o: &AliOrder,
    said: &Said,
    notify_id: String,
) -> Vec<(&'static str, String)> {
    let paid = o.paid.as_ref();
    let mut f: Vec<(&'static str, String)> = vec![
        ("notify_time", local_time(core.now())),
        ("notify_type", "trade_status_sync".into()),
        ("notify_id", notify_id),
        ("app_id", o.app.app_id.clone()),
        ("auth_app_id", o.app.app_id.clone()),
        ("charset", o.charset.as_str().into()),
        ("version", "1.0".into()),
        ("sign_type", "RSA2".into()),
        ("trade_no", o.trade_no.clone()),
        ("out_trade_no", said.out_trade_no.clone()),
        ("trade_status", said.trade_status.into()),
        ("seller_id", o.app.pid.clone()),
        ("total_amount", said.total.clone()),
        ("receipt_amount", said.total.clone()),
        ("invoice_amount", said.total.clone()),
        ("buyer_pay_amount", said.total.clone()),
        ("point_amount", "0.00".into()),
        ("subject", o.subject.clone()),
        ("gmt_create", local_time(o.created_at)),
        (
            "fund_bill_list",
            format!(
                "[{{\"amount\":\"{}\",\"fundChannel\":\"ALIPAYACCOUNT\"}}]",
                said.total
            ),
        ),
    ];
    if let Some(p) = paid {
        f.push(("gmt_payment", local_time(p.at)));
        f.push(("buyer_id", p.buyer_id.clone()));
        f.push(("buyer_logon_id", p.buyer_logon_id.clone()));
    }
    if let Some(b) = o.body.as_ref().filter(|b| !b.is_empty()) {
        f.push(("body", b.clone()));
    }
    if let Some((refund_fee, gmt_refund, out_biz_no)) = &said.refund {
        f.push(("refund_fee", refund_fee.clone()));
        f.push(("gmt_refund", gmt_refund.clone()));
        f.push(("out_biz_no", out_biz_no.clone()));
    }
    f
}

/// Build an attempt of notification `id`, or `None` when it is no longer due.
pub fn build(
    spec: &Spec,
    state: &AliState,
    core: &mut Core,
    id: &NotificationId,
) -> Option<Callback> {
    match id.kind {
        NotificationKind::Payment => {
            let o = state.get(&id.account, &id.reference)?;
            let url = o.notify_url.clone()?;
            if o.paid.is_none() || o.notified {
                return None;
            }
            let said = Said {
                out_trade_no: o.out_trade_no.clone(),
                total: o.total.major_string(),
                trade_status: "TRADE_SUCCESS",
                refund: None,
            };
            let nid = notify_id(
                core,
                &spec.id,
                &format!("pay/{}/{}", o.pid(), o.out_trade_no),
            );
            let f = fields(core, o, &said, nid);
            Some(signed(&spec.alipay_key, &url, o.charset, f, o.total.amount))
        }
        NotificationKind::Refund => refund_notification(spec, state, core, id),
    }
}

/// `gmt_refund` as refund notifications write it, with milliseconds.
fn refund_time(t: Instant) -> String {
    t.with_timezone(&SHANGHAI)
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

/// Build an attempt of refund notification `id` (reference `out_trade_no/out_request_no`).
fn refund_notification(
    spec: &Spec,
    state: &AliState,
    core: &mut Core,
    id: &NotificationId,
) -> Option<Callback> {
    let (no, req) = id.reference.split_once('/')?;
    let o = state.get(&id.account, no)?;
    let idx = o.refunds.iter().position(|r| r.out_request_no == req)?;
    let r = &o.refunds[idx];
    if r.notified {
        return None;
    }
    let cumulative: rust_decimal::Decimal = o.refunds[..=idx].iter().map(|r| r.amount.amount).sum();
    let refund_fee = Money {
        amount: cumulative,
        currency: Currency::Cny,
    }
    .major_string();
    refund_callback(spec, core, o, req, refund_fee, refund_time(r.at))
}

/// A refund notification of `o` for refund `out_request_no`: TRADE_SUCCESS with the
/// cumulative `refund_fee` and `gmt_refund`.
fn refund_callback(
    spec: &Spec,
    core: &Core,
    o: &AliOrder,
    out_request_no: &str,
    refund_fee: String,
    gmt_refund: String,
) -> Option<Callback> {
    let url = o.notify_url.clone()?;
    let said = Said {
        out_trade_no: o.out_trade_no.clone(),
        total: o.total.major_string(),
        trade_status: "TRADE_SUCCESS",
        refund: Some((refund_fee, gmt_refund, out_request_no.to_string())),
    };
    let nid = notify_id(
        core,
        &spec.id,
        &format!("refund/{}/{}/{out_request_no}", o.pid(), o.out_trade_no),
    );
    let f = fields(core, o, &said, nid);
    Some(signed(&spec.alipay_key, &url, o.charset, f, o.total.amount))
}

/// Notification `id` was acknowledged: no more attempts.
pub fn acked(state: &mut AliState, id: &NotificationId) {
    match id.kind {
        NotificationKind::Payment => {
            if let Some(o) = state.get_mut(&id.account, &id.reference) {
                o.notified = true;
            }
        }
        NotificationKind::Refund => refund_acked(state, id),
    }
}

/// Refund notification `id` was acknowledged.
fn refund_acked(state: &mut AliState, id: &NotificationId) {
    let Some((no, req)) = id.reference.split_once('/') else {
        return;
    };
    if let Some(o) = state.get_mut(&id.account, no) {
        if let Some(r) = o.refunds.iter_mut().find(|r| r.out_request_no == req) {
            r.notified = true;
        }
    }
}

/// A forged TRADE_SUCCESS notification about trade `no`, to its notify URL: signed with
/// another key, or correctly signed for another amount (0.01, or 0.02 for a 0.01 trade), or
/// correctly signed for an order number the channel never had. Nothing changes at the
/// channel; the world sends it once.
pub fn forge(
    spec: &Spec,
    state: &AliState,
    core: &mut Core,
    no: &str,
    how: Forgery,
) -> Result<Callback, ActionError> {
    let o = shared::forgery_target(state.find(no, None), no, "a", "trade")?;
    if o.notify_url.is_none() {
        return Err(ActionError::Conflict(format!(
            "trade `{no}` named no notify_url: there is nowhere to send a notification"
        )));
    }
    let mut said = Said {
        out_trade_no: o.out_trade_no.clone(),
        total: o.total.major_string(),
        trade_status: "TRADE_SUCCESS",
        refund: None,
    };
    let stream = shared::forgery_stream(o.pid(), &o.out_trade_no);
    let mut amount = o.total.amount;
    let mut key = spec.alipay_key.clone();
    match how {
        // Another key: the signature cannot verify with the Alipay public key.
        Forgery::BadSignature => {
            key = std::sync::Arc::new(
                super::keys::PrivateKey::parse(super::keys::TEST_APP_PRIVATE_KEY)
                    .map_err(|e| ActionError::Conflict(e.to_string()))?,
            );
            if key.public() == spec.alipay_key.public() {
                return Err(ActionError::Conflict(
                    "the channel's Alipay key is the test app key: no other key to forge with"
                        .into(),
                ));
            }
        }
        Forgery::WrongAmount => {
            let claimed = shared::forged_amount(o.total);
            amount = claimed.amount;
            said.total = claimed.major_string();
        }
        Forgery::UnknownOrder => {
            said.out_trade_no = shared::forged_order_number(core, &spec.id, &stream);
        }
    }
    let nid = core.rng_for(&spec.id, &stream).alnum(34).to_lowercase();
    let url = o.notify_url.clone().unwrap_or_default();
    let mut f = fields(core, o, &said, nid);
    if o.paid.is_none() {
        // A forgery about a trade nobody paid still claims a payment time, like a real one.
        f.push(("gmt_payment", local_time(core.now())));
    }
    Ok(signed(&key, &url, o.charset, f, amount))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_is_alipays() {
        // Eight attempts: the first, then 4m, 10m, 10m, 1h, 2h, 6h, 15h.
        assert_eq!(RETRY_LADDER_SECS.len() + 1, 8);
        assert_eq!(RETRY_LADDER_SECS.iter().sum::<i64>(), 24 * 3600 + 24 * 60);
    }

    #[test]
    fn form_encoding_follows_the_charset() {
        let mut s = String::new();
        form_encode(Charset::Utf8, "a b&中", &mut s);
        assert_eq!(s, "a+b%26%E4%B8%AD");
        let mut g = String::new();
        form_encode(Charset::Gbk, "中", &mut g);
        assert_eq!(g, "%D6%D0");
    }
}
