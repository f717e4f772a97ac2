//! The Alipay client side: create an order (`alipay.trade.precreate`), ask how it stands
//! (`alipay.trade.query`), and read a payment notification. Requests are form POSTs to
//! `gateway.do` signed with RSA2 (SHA256withRSA) and the app's private key; the gateway's
//! answers and notifications are verified with the Alipay public key before they are
//! believed.

use crate::store::PaidNotification;
use crate::wxpay::{CallError, OrderStatus, RefundStatus};
use crate::Config;
use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use sandbank::channels::alipay::keys::{PrivateKey, PublicKey};
use sandbank::http::post;
use serde_json::Value;
use std::collections::BTreeMap;
use std::str::FromStr;

/// The app's credentials at the Alipay channel.
#[derive(Clone)]
pub struct Keys {
    /// Our `app_id`.
    pub app_id: String,
    /// Our app private key: signs requests.
    pub app_key: PrivateKey,
    /// The Alipay public key: checks answers and notifications.
    pub alipay_key: PublicKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys {{ app_id: {} }}", self.app_id)
    }
}

/// The default world's app id: what `--alipay-app-id` falls back to when the keys come
/// from files.
pub const DEFAULT_APP_ID: &str = "2021000000000001";

/// How many times the credentials are asked of sandbank before giving up, and the wait
/// between attempts (sandbank may still be starting).
const FETCH_ATTEMPTS: u32 = 20;
const FETCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

impl Keys {
    /// Keys from PEM text: the app private key (PKCS#1 or PKCS#8) and the Alipay public key.
    pub fn from_pem(
        app_id: &str,
        app_private_pem: &str,
        alipay_public_pem: &str,
    ) -> anyhow::Result<Keys> {
        Ok(Keys {
            app_id: app_id.to_string(),
            app_key: PrivateKey::parse(app_private_pem)
                .map_err(|e| anyhow::anyhow!("the app private key: {e}"))?,
            alipay_key: PublicKey::parse(alipay_public_pem)
                .map_err(|e| anyhow::anyhow!("the Alipay public key: {e}"))?,
        })
    }

    /// The credentials sandbank hands out for channel `channel`
    /// (`GET {sandbank}/_sandbank/channels/{channel}`: `app_id`, `app_private_key`,
    /// `alipay_public_key`, PEM); `app_id` overrides the one it names. `Ok(None)` when the
    /// world has no such channel (404): this system then takes no Alipay payments.
    pub async fn fetch(
        sandbank_url: &str,
        channel: &str,
        app_id: Option<&str>,
    ) -> anyhow::Result<Option<Keys>> {
        let url = format!("{sandbank_url}/_sandbank/channels/{channel}");
        let mut last = String::new();
        for _ in 0..FETCH_ATTEMPTS {
            match sandbank::http::get(&url, std::time::Duration::from_secs(2)).await {
                Ok(r) if r.status == hyper::StatusCode::NOT_FOUND => return Ok(None),
                Ok(r) if r.status.is_success() => {
                    let v: Value = serde_json::from_slice(&r.body)
                        .map_err(|e| anyhow::anyhow!("{url} did not answer JSON: {e}"))?;
                    let text = |k: &str| {
                        v.get(k)
                            .and_then(Value::as_str)
                            .ok_or_else(|| anyhow::anyhow!("{url} gave no `{k}`"))
                    };
                    let id = match app_id {
                        Some(id) => id,
                        None => text("app_id")?,
                    };
                    return Keys::from_pem(
                        id,
                        text("app_private_key")?,
                        text("alipay_public_key")?,
                    )
                    .map(Some);
                }
                Ok(r) => last = format!("HTTP {}", r.status),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(FETCH_PAUSE).await;
        }
        anyhow::bail!("cannot fetch the Alipay credentials from {url}: {last} (or give --alipay-app-private-key and --alipay-public-key)")
    }

    /// The TEST keys shipped in `scenarios/keys/` (the default world's), for unit tests.
    #[cfg(test)]
    pub fn shipped() -> Keys {
        const ALIPAY_PUBLIC: &str = include_str!("../../scenarios/keys/alipay_public_key.pem");
        Keys::from_pem(
            DEFAULT_APP_ID,
            sandbank::channels::alipay::keys::TEST_APP_PRIVATE_KEY,
            ALIPAY_PUBLIC,
        )
        .expect("the shipped test keys parse")
    }
}

/// The string a signature covers: every parameter but `skip`, empty values left out,
/// sorted by name, `k=v` joined with `&`.
fn sign_content(params: &BTreeMap<String, String>, skip: &[&str]) -> String {
    params
        .iter()
        .filter(|(k, v)| !v.is_empty() && !skip.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `application/x-www-form-urlencoded` value encoding (UTF-8).
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.*".contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Call `method` with `biz_content` and read the verified inner response object. A reply
/// that is not HTTP 2xx, not readable, or not correctly signed leaves the outcome unknown.
pub(crate) async fn call(cfg: &Config, method: &str, biz: Value) -> Result<Value, CallError> {
    let keys = cfg.alipay.as_ref().ok_or_else(|| CallError::Refused {
        code: "NO_CREDENTIALS".into(),
        message: format!(
            "sandbank has no Alipay channel `{}` to take credentials from",
            cfg.alipay_channel
        ),
    })?;
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai);
    let mut params: BTreeMap<String, String> = [
        ("app_id", keys.app_id.clone()),
        ("method", method.to_string()),
        ("format", "JSON".into()),
        ("charset", "utf-8".into()),
        ("sign_type", "RSA2".into()),
        ("timestamp", now.format("%Y-%m-%d %H:%M:%S").to_string()),
        ("version", "1.0".into()),
        ("biz_content", biz.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if method == "alipay.trade.precreate" {
        params.insert("notify_url".into(), cfg.alipay_notify_url.clone());
    }
    let sign = keys
        .app_key
        .sign(sign_content(&params, &["sign"]).as_bytes());
    params.insert("sign".into(), sign);
    let body = params
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let url = format!("{}/{}/gateway.do", cfg.sandbank_url, cfg.alipay_channel);
    let reply = post(
        &url,
        "application/x-www-form-urlencoded;charset=utf-8",
        body,
        cfg.http_timeout,
    )
    .await?;
    if !reply.status.is_success() {
        return Err(CallError::Unknown(format!(
            "HTTP {} from {method}",
            reply.status
        )));
    }
    let text = reply.text();
    let response_key = format!("{}_response", method.replace('.', "_"));
    // `{"<key>":{…},"sign":"…"}`: the sign covers the inner object's exact text.
    let inner_and_sign = text
        .strip_prefix(&format!("{{\"{response_key}\":"))
        .or_else(|| text.strip_prefix("{\"error_response\":"))
        .and_then(|rest| rest.strip_suffix("\"}"))
        .and_then(|rest| rest.rsplit_once(",\"sign\":\""));
    let Some((inner, sign)) = inner_and_sign else {
        return Err(CallError::Unknown(format!(
            "unreadable or unsigned {method} reply"
        )));
    };
    if !keys.alipay_key.verify(inner.as_bytes(), sign) {
        return Err(CallError::Unknown(format!(
            "{method} reply has a bad signature"
        )));
    }
    serde_json::from_str(inner)
        .map_err(|e| CallError::Unknown(format!("unreadable {method} reply: {e}")))
}

pub(crate) fn field<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// An amount in yuan with at most two decimals, as fen.
fn fen(yuan: &str) -> Option<i64> {
    use rust_decimal::prelude::ToPrimitive;
    let f = Decimal::from_str(yuan).ok()? * Decimal::ONE_HUNDRED;
    if f.fract().is_zero() && f > Decimal::ZERO {
        f.to_i64()
    } else {
        None
    }
}

/// `code` 20000 (service unavailable) leaves the outcome unknown; other codes refuse.
fn refusal(method: &str, r: &Value) -> CallError {
    let (code, sub_code) = (field(r, "code"), field(r, "sub_code"));
    if code == "20000" || sub_code.ends_with("SYSTEM_ERROR") {
        CallError::Unknown(format!("{method}: {code} {sub_code}"))
    } else {
        CallError::Refused {
            code: if sub_code.is_empty() { code } else { sub_code }.to_string(),
            message: field(r, "sub_msg").to_string(),
        }
    }
}

/// Create a QR-code order (`alipay.trade.precreate`). `Ok` once the channel accepted it;
/// a re-entry with the same parameters answers the same QR code.
pub async fn precreate(
    cfg: &Config,
    out_trade_no: &str,
    amount_minor: i64,
) -> Result<(), CallError> {
    let total = Decimal::new(amount_minor, 2);
    let biz = serde_json::json!({
        "out_trade_no": out_trade_no,
        "total_amount": total.to_string(),
        "subject": "sandbank reference order",
    });
    let r = call(cfg, "alipay.trade.precreate", biz).await?;
    if field(&r, "code") != "10000" {
        return Err(refusal("precreate", &r));
    }
    Ok(())
}

/// Ask the channel how order `out_trade_no` stands (`alipay.trade.query`).
pub async fn query(cfg: &Config, out_trade_no: &str) -> Result<OrderStatus, CallError> {
    let r = call(
        cfg,
        "alipay.trade.query",
        serde_json::json!({ "out_trade_no": out_trade_no }),
    )
    .await?;
    if field(&r, "code") != "10000" {
        if field(&r, "sub_code") == "ACQ.TRADE_NOT_EXIST" {
            return Ok(OrderStatus::NotExist);
        }
        return Err(CallError::Unknown(format!(
            "query: {} {}",
            field(&r, "code"),
            field(&r, "sub_code")
        )));
    }
    let status = field(&r, "trade_status");
    if !matches!(status, "TRADE_SUCCESS" | "TRADE_FINISHED") {
        return Ok(OrderStatus::NotPaid(status.to_string()));
    }
    let total_fee = fen(field(&r, "total_amount")).ok_or_else(|| {
        CallError::Unknown(format!(
            "query: total_amount `{}`",
            field(&r, "total_amount")
        ))
    })?;
    // The query answers `send_pay_date`, the payment time.
    let time_end = NaiveDateTime::parse_from_str(field(&r, "send_pay_date"), "%Y-%m-%d %H:%M:%S")
        .map_err(|_| {
        CallError::Unknown(format!(
            "query: send_pay_date `{}`",
            field(&r, "send_pay_date")
        ))
    })?;
    Ok(OrderStatus::Paid(PaidNotification {
        out_trade_no: field(&r, "out_trade_no").to_string(),
        transaction_id: field(&r, "trade_no").to_string(),
        total_fee,
        time_end,
    }))
}

/// Refund `refund_minor` of order `out_trade_no` under our number `out_request_no`
/// (`alipay.trade.refund`). Alipay refunds synchronously: `Ok` carries the Beijing date the
/// refund was paid (`gmt_refund_pay`). A repeat of a number it knows answers that refund
/// again and moves no money (`fund_change` N).
pub async fn refund(
    cfg: &Config,
    out_request_no: &str,
    out_trade_no: &str,
    refund_minor: i64,
) -> Result<NaiveDate, CallError> {
    let biz = serde_json::json!({
        "out_trade_no": out_trade_no,
        "refund_amount": Decimal::new(refund_minor, 2).to_string(),
        "out_request_no": out_request_no,
    });
    let r = call(cfg, "alipay.trade.refund", biz).await?;
    if field(&r, "code") != "10000" {
        return Err(refusal("refund", &r));
    }
    paid_on(&r, "refund")
}

/// The Beijing date of `gmt_refund_pay`.
fn paid_on(r: &Value, what: &str) -> Result<NaiveDate, CallError> {
    NaiveDateTime::parse_from_str(field(r, "gmt_refund_pay"), "%Y-%m-%d %H:%M:%S")
        .map(|t| t.date())
        .map_err(|_| {
            CallError::Unknown(format!(
                "{what}: gmt_refund_pay `{}`",
                field(r, "gmt_refund_pay")
            ))
        })
}

/// Ask the channel about our refund `out_request_no` of order `out_trade_no`
/// (`alipay.trade.fastpay.refund.query`). Alipay answers 10000 without `refund_status`
/// for a refund it does not know.
pub async fn refund_query(
    cfg: &Config,
    out_trade_no: &str,
    out_request_no: &str,
) -> Result<RefundStatus, CallError> {
    let biz = serde_json::json!({
        "out_trade_no": out_trade_no,
        "out_request_no": out_request_no,
    });
    let r = call(cfg, "alipay.trade.fastpay.refund.query", biz).await?;
    if field(&r, "code") != "10000" {
        return Err(CallError::Unknown(format!(
            "refund query: {} {}",
            field(&r, "code"),
            field(&r, "sub_code")
        )));
    }
    match field(&r, "refund_status") {
        "REFUND_SUCCESS" => Ok(RefundStatus::Success(paid_on(&r, "refund query")?)),
        "" => Ok(RefundStatus::NotExist),
        other => Ok(RefundStatus::Ended(other.to_string())),
    }
}

/// `k=v&…` form body as decoded pairs (UTF-8).
fn form_decode(body: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the notification is not UTF-8")?;
    let mut out = BTreeMap::new();
    for piece in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let dec = |s: &str| -> Result<String, String> {
            let mut bytes = Vec::with_capacity(s.len());
            let b = s.as_bytes();
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    b'+' => bytes.push(b' '),
                    b'%' => {
                        let hex = b
                            .get(i + 1..i + 3)
                            .and_then(|h| std::str::from_utf8(h).ok())
                            .and_then(|h| u8::from_str_radix(h, 16).ok())
                            .ok_or("a bad %-escape in the notification")?;
                        bytes.push(hex);
                        i += 2;
                    }
                    c => bytes.push(c),
                }
                i += 1;
            }
            String::from_utf8(bytes).map_err(|_| "a field that is not UTF-8".to_string())
        };
        out.insert(dec(k)?, dec(v)?);
    }
    Ok(out)
}

/// Verify and decode a notification body: `Ok(Some(..))` for a payment to book, `Ok(None)`
/// for a notification with nothing to book (not a payment success), `Err` to refuse.
pub fn read_notification(cfg: &Config, body: &[u8]) -> Result<Option<PaidNotification>, String> {
    let keys = cfg.alipay.as_ref().ok_or("no Alipay credentials")?;
    let f = form_decode(body)?;
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    // BUG `alipay-trusts-unsigned-notify`: skips this check, so anyone who can reach the
    // notify URL can have a payment booked.
    let signed = keys.alipay_key.verify(
        sign_content(&f, &["sign", "sign_type"]).as_bytes(),
        get("sign"),
    );
    if !signed && cfg.bug != crate::Bug::AlipayTrustsUnsignedNotify {
        return Err("bad signature".into());
    }
    if get("app_id") != keys.app_id {
        return Err(format!("not for us: app_id `{}`", get("app_id")));
    }
    let out_trade_no = get("out_trade_no").to_string();
    if out_trade_no.is_empty() {
        return Err("no out_trade_no".into());
    }
    // A refund notification (it carries `refund_fee`/`gmt_refund`) books no payment.
    if !get("gmt_refund").is_empty()
        || !matches!(get("trade_status"), "TRADE_SUCCESS" | "TRADE_FINISHED")
    {
        return Ok(None);
    }
    let total_fee = fen(get("total_amount"))
        .ok_or_else(|| format!("total_amount `{}` is not an amount", get("total_amount")))?;
    let time_end =
        NaiveDateTime::parse_from_str(get("gmt_payment"), "%Y-%m-%d %H:%M:%S").map_err(|_| {
            format!(
                "gmt_payment `{}` is not yyyy-MM-dd HH:mm:ss",
                get("gmt_payment")
            )
        })?;
    Ok(Some(PaidNotification {
        out_trade_no,
        transaction_id: get("trade_no").to_string(),
        total_fee,
        time_end,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_yuan_become_fen() {
        assert_eq!(fen("100.00"), Some(10000));
        assert_eq!(fen("0.01"), Some(1));
        assert_eq!(fen("23.45"), Some(2345));
        assert_eq!(fen("0.001"), None);
        assert_eq!(fen("-1"), None);
        assert_eq!(fen("x"), None);
    }

    #[test]
    fn a_notification_signed_by_alipay_is_read_and_a_forged_one_refused() {
        let cfg = Config::for_tests();
        let alipay =
            PrivateKey::parse(sandbank::channels::alipay::keys::TEST_ALIPAY_PRIVATE_KEY).unwrap();
        let mut f: BTreeMap<String, String> = [
            ("app_id", cfg.alipay.as_ref().unwrap().app_id.as_str()),
            ("out_trade_no", "RS1"),
            ("trade_no", "2026030222001"),
            ("trade_status", "TRADE_SUCCESS"),
            ("total_amount", "88.00"),
            ("gmt_payment", "2026-03-02 10:00:05"),
            ("sign_type", "RSA2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let sign = alipay.sign(sign_content(&f, &["sign", "sign_type"]).as_bytes());
        f.insert("sign".into(), sign);
        let body = f
            .iter()
            .map(|(k, v)| format!("{k}={}", form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let paid = read_notification(&cfg, body.as_bytes()).unwrap().unwrap();
        assert_eq!(paid.total_fee, 8800);
        assert_eq!(paid.out_trade_no, "RS1");
        let forged = body.replace("88.00", "99.00");
        assert_eq!(
            read_notification(&cfg, forged.as_bytes()),
            Err("bad signature".to_string())
        );
    }
}
