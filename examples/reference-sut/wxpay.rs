//! The WeChat Pay v2 client side: create an order (`pay/unifiedorder`), download a bill
//! (`pay/downloadbill`), and read a payment notification. Requests are signed with MD5 and
//! the merchant key; signed replies and notifications are verified before they are believed.

use crate::store::PaidNotification;
use crate::Config;
use chrono::{NaiveDate, NaiveDateTime};
use sandbank::channels::wxpay::xml;
use sandbank::http::{post, ClientError};
use sandbank::protocol::sign;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Error codes after which a `unifiedorder` may or may not have taken effect; WeChat says
/// to call again with the same parameters.
const RETRYABLE_CODES: [&str; 2] = ["SYSTEMERROR", "BANKERROR"];

/// What a call to the channel came to, when it did not simply succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The request may or may not have taken effect (timeout, lost reply, system error).
    #[error("outcome unknown: {0}")]
    Unknown(String),
    /// The channel refused it; it took no effect.
    #[error("refused by the channel: {code}: {message}")]
    Refused {
        /// The channel's error code.
        code: String,
        /// Its message.
        message: String,
    },
}

impl From<ClientError> for CallError {
    fn from(e: ClientError) -> Self {
        if e.outcome_unknown() {
            CallError::Unknown(e.to_string())
        } else {
            CallError::Refused {
                code: "UNREACHABLE".into(),
                message: e.to_string(),
            }
        }
    }
}

/// A fresh `nonce_str`: unique per process run, at most 32 characters.
fn nonce() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!("{nanos:016x}{:08x}", SEQ.fetch_add(1, Ordering::Relaxed))
}

/// A signed request document: `fields` plus `nonce_str` and `sign`.
fn signed_request(cfg: &Config, mut fields: BTreeMap<String, String>) -> String {
    fields.insert("nonce_str".into(), nonce());
    let signature = sign::sign(&fields, &cfg.key, sign::SignType::Md5);
    fields.insert("sign".into(), signature);
    xml::write(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

fn channel_url(cfg: &Config, api: &str) -> String {
    format!("{}/{}/{api}", cfg.sandbank_url, cfg.channel)
}

/// The fields of an order, identical on every attempt (a re-entry must repeat them).
pub struct NewOrder<'a> {
    /// Our order number.
    pub out_trade_no: &'a str,
    /// Amount in fen.
    pub amount_minor: i64,
}

/// Create a NATIVE order at the channel. `Ok` once the channel has accepted it.
pub async fn unified_order(cfg: &Config, order: &NewOrder<'_>) -> Result<(), CallError> {
    let fields: BTreeMap<String, String> = [
        ("appid", cfg.appid.clone()),
        ("mch_id", cfg.mch_id.clone()),
        ("body", "sandbank reference order".to_string()),
        ("out_trade_no", order.out_trade_no.to_string()),
        ("total_fee", order.amount_minor.to_string()),
        ("spbill_create_ip", "127.0.0.1".to_string()),
        ("notify_url", cfg.notify_url.clone()),
        ("trade_type", "NATIVE".to_string()),
        ("product_id", order.out_trade_no.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let f = call(cfg, "pay/unifiedorder", fields).await?;
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if get("return_code") != "SUCCESS" {
        let code = if get("err_code").is_empty() {
            "FAIL"
        } else {
            get("err_code")
        };
        return Err(CallError::Refused {
            code: code.into(),
            message: get("return_msg").into(),
        });
    }
    if !sign::verify(&f, &cfg.key) {
        return Err(CallError::Unknown(
            "unifiedorder reply has a bad signature".into(),
        ));
    }
    match (get("result_code"), get("err_code")) {
        ("SUCCESS", _) => Ok(()),
        // Only possible on a re-entry: the first attempt created it and it is paid already.
        (_, "ORDERPAID") => Ok(()),
        (_, code) if RETRYABLE_CODES.contains(&code) => Err(CallError::Unknown(format!(
            "{code}: {}",
            get("err_code_des")
        ))),
        (_, code) => Err(CallError::Refused {
            code: code.into(),
            message: get("err_code_des").into(),
        }),
    }
}

/// What `pay/downloadbill` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillAnswer {
    /// The bill, as bytes: it may not be UTF-8 (an export in the wrong code page), which
    /// reconciliation reports as an unreadable statement.
    Bill(Vec<u8>),
    /// `No Bill Exist` (error_code 20002): the merchant had no trades that day, so there is
    /// no bill. A statement with no rows.
    NoTrades,
    /// `Bill Creating` (error_code 20003): the bill is not generated yet (WeChat generates
    /// it from 09:00 the next day; later when its bill job runs late). Try again later.
    NotReady,
}

/// `return_msg` of a day without trades. (WeChat's docs print it `NO Bill Exist`; the
/// channel sends `No Bill Exist`.)
pub const NO_BILL_EXIST: &str = "No Bill Exist";
/// `return_msg` of a bill not generated yet (账单未生成).
pub const BILL_CREATING: &str = "Bill Creating";

/// Download the ALL bill of `date`.
pub async fn download_bill(cfg: &Config, date: NaiveDate) -> Result<BillAnswer, CallError> {
    let fields: BTreeMap<String, String> = [
        ("appid", cfg.appid.clone()),
        ("mch_id", cfg.mch_id.clone()),
        ("bill_date", date.format("%Y%m%d").to_string()),
        ("bill_type", "ALL".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let body = signed_request(cfg, fields);
    let reply = post(
        &channel_url(cfg, "pay/downloadbill"),
        "text/xml",
        body,
        cfg.bill_timeout,
    )
    .await?;
    if !reply.status.is_success() {
        return Err(CallError::Unknown(format!(
            "HTTP {} from downloadbill",
            reply.status
        )));
    }
    // Errors come as an XML document; a bill is plain text (and may be in any encoding).
    let bytes = reply.body.to_vec();
    let looks_xml = std::str::from_utf8(&bytes).is_ok_and(|t| t.trim_start().starts_with("<xml"));
    if !looks_xml {
        return Ok(BillAnswer::Bill(bytes));
    }
    let text = String::from_utf8_lossy(&bytes);
    let f = xml::parse(&text)
        .map_err(|e| CallError::Unknown(format!("unreadable downloadbill reply: {e}")))?;
    let msg = f.get("return_msg").map(String::as_str).unwrap_or("");
    let code = f
        .get("error_code")
        .or_else(|| f.get("err_code"))
        .cloned()
        .unwrap_or_else(|| "FAIL".into());
    if cfg.bug == crate::Bug::ReconNoBillAsEmpty {
        // BUG: every refusal read as "no trades that day", the bill not being ready included.
        return Ok(BillAnswer::NoTrades);
    }
    if msg.eq_ignore_ascii_case(NO_BILL_EXIST) || code == "20002" {
        return Ok(BillAnswer::NoTrades);
    }
    if msg.eq_ignore_ascii_case(BILL_CREATING) || code == "20003" {
        return Ok(BillAnswer::NotReady);
    }
    Err(CallError::Refused {
        code,
        message: msg.into(),
    })
}

/// What `pay/orderquery` says about one of our orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderStatus {
    /// Paid: the payment, read like a notification.
    Paid(PaidNotification),
    /// Not paid (yet): `trade_state` says how it stands (`NOTPAY`, `CLOSED`, …).
    NotPaid(String),
    /// The channel has no such order.
    NotExist,
}

/// Sign `fields`, POST them to the channel's `path`, and read the XML answer. A reply that
/// is not HTTP 2xx or not a readable document leaves the outcome unknown.
async fn call(
    cfg: &Config,
    path: &str,
    fields: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, CallError> {
    let body = signed_request(cfg, fields);
    let reply = post(&channel_url(cfg, path), "text/xml", body, cfg.http_timeout).await?;
    if !reply.status.is_success() {
        return Err(CallError::Unknown(format!(
            "HTTP {} from {path}",
            reply.status
        )));
    }
    xml::parse(&reply.text())
        .map_err(|e| CallError::Unknown(format!("unreadable {path} reply: {e}")))
}

/// Ask the channel how order `out_trade_no` stands (`pay/orderquery`): how a payment whose
/// notification never arrived is found.
pub async fn order_query(cfg: &Config, out_trade_no: &str) -> Result<OrderStatus, CallError> {
    let fields: BTreeMap<String, String> = [
        ("appid", cfg.appid.clone()),
        ("mch_id", cfg.mch_id.clone()),
        ("out_trade_no", out_trade_no.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let f = call(cfg, "pay/orderquery", fields).await?;
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if get("return_code") != "SUCCESS" {
        return Err(CallError::Unknown(format!(
            "orderquery: {}",
            get("return_msg")
        )));
    }
    if !sign::verify(&f, &cfg.key) {
        return Err(CallError::Unknown(
            "orderquery reply has a bad signature".into(),
        ));
    }
    if get("result_code") != "SUCCESS" {
        return match get("err_code") {
            "ORDERNOTEXIST" => Ok(OrderStatus::NotExist),
            code => Err(CallError::Unknown(format!(
                "orderquery: {code}: {}",
                get("err_code_des")
            ))),
        };
    }
    if get("trade_state") != "SUCCESS" {
        return Ok(OrderStatus::NotPaid(get("trade_state").to_string()));
    }
    let total_fee = get("total_fee")
        .parse::<i64>()
        .map_err(|_| CallError::Unknown(format!("orderquery: total_fee `{}`", get("total_fee"))))?;
    let time_end = NaiveDateTime::parse_from_str(get("time_end"), "%Y%m%d%H%M%S")
        .map_err(|_| CallError::Unknown(format!("orderquery: time_end `{}`", get("time_end"))))?;
    Ok(OrderStatus::Paid(PaidNotification {
        out_trade_no: get("out_trade_no").to_string(),
        transaction_id: get("transaction_id").to_string(),
        total_fee,
        time_end,
    }))
}

/// Ask the channel to refund `refund_minor` of order `out_trade_no` under our number
/// `out_refund_no` (`secapi/pay/refund`). `Ok` once the channel accepted it (a repeat of a
/// number it knows answers the same refund again). The real endpoint wants our client
/// certificate; sandbank takes the request over plain HTTP.
pub async fn refund(
    cfg: &Config,
    out_refund_no: &str,
    out_trade_no: &str,
    total_minor: i64,
    refund_minor: i64,
) -> Result<(), CallError> {
    let fields: BTreeMap<String, String> = [
        ("appid", cfg.appid.clone()),
        ("mch_id", cfg.mch_id.clone()),
        ("out_trade_no", out_trade_no.to_string()),
        ("out_refund_no", out_refund_no.to_string()),
        ("total_fee", total_minor.to_string()),
        ("refund_fee", refund_minor.to_string()),
        ("notify_url", format!("{}/refund", cfg.notify_url)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let f = call(cfg, "secapi/pay/refund", fields).await?;
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if get("return_code") != "SUCCESS" {
        return Err(CallError::Refused {
            code: "FAIL".into(),
            message: get("return_msg").into(),
        });
    }
    if !sign::verify(&f, &cfg.key) {
        return Err(CallError::Unknown(
            "refund reply has a bad signature".into(),
        ));
    }
    match (get("result_code"), get("err_code")) {
        ("SUCCESS", _) if get("out_refund_no") == out_refund_no => Ok(()),
        ("SUCCESS", _) => Err(CallError::Unknown(format!(
            "refund answered about refund `{}`",
            get("out_refund_no")
        ))),
        (_, code @ ("SYSTEMERROR" | "BIZERR_NEED_RETRY")) => Err(CallError::Unknown(format!(
            "{code}: {}",
            get("err_code_des")
        ))),
        (_, code) => Err(CallError::Refused {
            code: code.into(),
            message: get("err_code_des").into(),
        }),
    }
}

/// How a refund stands at the channel (`pay/refundquery`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundStatus {
    /// Accepted, not finished.
    Processing,
    /// Done, on this Beijing date.
    Success(NaiveDate),
    /// Ended without money moving (`CHANGE`, `REFUNDCLOSE`).
    Ended(String),
    /// The channel knows no such refund.
    NotExist,
}

/// Ask the channel about our refund `out_refund_no`.
pub async fn refund_query(cfg: &Config, out_refund_no: &str) -> Result<RefundStatus, CallError> {
    let fields: BTreeMap<String, String> = [
        ("appid", cfg.appid.clone()),
        ("mch_id", cfg.mch_id.clone()),
        ("out_refund_no", out_refund_no.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let f = call(cfg, "pay/refundquery", fields).await?;
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if get("return_code") != "SUCCESS" {
        return Err(CallError::Unknown(format!(
            "refundquery: {}",
            get("return_msg")
        )));
    }
    if !sign::verify(&f, &cfg.key) {
        return Err(CallError::Unknown(
            "refundquery reply has a bad signature".into(),
        ));
    }
    if get("result_code") != "SUCCESS" {
        return match get("err_code") {
            "REFUNDNOTEXIST" => Ok(RefundStatus::NotExist),
            code => Err(CallError::Unknown(format!("refundquery: {code}"))),
        };
    }
    if get("out_refund_no_0") != out_refund_no {
        return Err(CallError::Unknown(format!(
            "refundquery answered about refund `{}`",
            get("out_refund_no_0")
        )));
    }
    match get("refund_status_0") {
        "PROCESSING" => Ok(RefundStatus::Processing),
        "SUCCESS" => {
            let at =
                NaiveDateTime::parse_from_str(get("refund_success_time_0"), "%Y-%m-%d %H:%M:%S")
                    .map_err(|_| {
                        CallError::Unknown(format!(
                            "refundquery: refund_success_time_0 `{}`",
                            get("refund_success_time_0")
                        ))
                    })?;
            Ok(RefundStatus::Success(at.date()))
        }
        other => Ok(RefundStatus::Ended(other.to_string())),
    }
}

/// A notification as we read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// A successful payment.
    Paid(PaidNotification),
    /// A payment that failed (`result_code=FAIL`): acknowledged, nothing booked.
    NotPaid {
        /// Our order number.
        out_trade_no: String,
    },
}

/// Verify and decode a notification body. An `Err` is answered with FAIL and its text.
pub fn read_notification(cfg: &Config, body: &[u8]) -> Result<Notification, String> {
    let text =
        std::str::from_utf8(body).map_err(|_| "the notification is not UTF-8".to_string())?;
    let f =
        xml::parse(text).map_err(|e| format!("the notification is not a v2 XML document: {e}"))?;
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if get("return_code") != "SUCCESS" {
        return Err(format!("return_code is `{}`", get("return_code")));
    }
    // BUG `accept-forged`: skips this check, so anyone who can reach the notify URL can
    // have a payment booked.
    if !sign::verify(&f, &cfg.key) && cfg.bug != crate::Bug::AcceptForged {
        return Err("bad signature".into());
    }
    if get("appid") != cfg.appid || get("mch_id") != cfg.mch_id {
        return Err(format!(
            "not for us: appid `{}`, mch_id `{}`",
            get("appid"),
            get("mch_id")
        ));
    }
    let out_trade_no = get("out_trade_no").to_string();
    if out_trade_no.is_empty() {
        return Err("no out_trade_no".into());
    }
    if get("result_code") != "SUCCESS" {
        return Ok(Notification::NotPaid { out_trade_no });
    }
    let transaction_id = get("transaction_id").to_string();
    if transaction_id.is_empty() {
        return Err("no transaction_id".into());
    }
    let total_fee = get("total_fee")
        .parse::<i64>()
        .ok()
        .filter(|f| *f > 0)
        .ok_or_else(|| {
            format!(
                "total_fee `{}` is not a positive number of fen",
                get("total_fee")
            )
        })?;
    let time_end = NaiveDateTime::parse_from_str(get("time_end"), "%Y%m%d%H%M%S")
        .map_err(|_| format!("time_end `{}` is not yyyyMMddHHmmss", get("time_end")))?;
    Ok(Notification::Paid(PaidNotification {
        out_trade_no,
        transaction_id,
        total_fee,
        time_end,
    }))
}

/// The acknowledgement that stops the channel's retries.
pub fn ack_success() -> String {
    xml::write([("return_code", "SUCCESS"), ("return_msg", "OK")])
}

/// A refusal: the channel will send the notification again on its schedule.
pub fn ack_fail(message: &str) -> String {
    xml::write([("return_code", "FAIL"), ("return_msg", message)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(cfg: &Config, total_fee: &str, key: &str) -> Vec<u8> {
        let mut f: BTreeMap<String, String> = [
            ("appid", cfg.appid.as_str()),
            ("mch_id", cfg.mch_id.as_str()),
            ("nonce_str", "abc"),
            ("out_trade_no", "RS0001"),
            ("result_code", "SUCCESS"),
            ("return_code", "SUCCESS"),
            ("time_end", "20260302101500"),
            ("total_fee", total_fee),
            ("transaction_id", "4200000001"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let s = sign::sign(&f, key, sign::SignType::Md5);
        f.insert("sign".into(), s);
        xml::write(f.iter().map(|(k, v)| (k.as_str(), v.as_str()))).into_bytes()
    }

    #[test]
    fn a_signed_notification_is_read() {
        let cfg = Config::for_tests();
        let n = read_notification(&cfg, &notification(&cfg, "10000", &cfg.key)).unwrap();
        let Notification::Paid(p) = n else {
            panic!("expected a payment")
        };
        assert_eq!(p.total_fee, 10000);
        assert_eq!(
            p.time_end.date(),
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
        );
    }

    #[test]
    fn a_bad_signature_or_amount_is_refused() {
        let cfg = Config::for_tests();
        assert_eq!(
            read_notification(&cfg, &notification(&cfg, "10000", "wrong-key")),
            Err("bad signature".to_string())
        );
        assert!(read_notification(&cfg, &notification(&cfg, "1.5", &cfg.key)).is_err());
        assert!(read_notification(&cfg, b"<xml><a>").is_err());
        assert!(read_notification(&cfg, &[0xff, 0xfe]).is_err());
    }

    #[test]
    fn acks_are_what_the_channel_expects() {
        assert_eq!(ack_success(), "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>");
        assert!(sandbank::channels::wxpay::is_ack(
            hyper::StatusCode::OK,
            ack_success().as_bytes()
        ));
        assert!(!sandbank::channels::wxpay::is_ack(
            hyper::StatusCode::OK,
            ack_fail("bad signature").as_bytes()
        ));
    }
}
