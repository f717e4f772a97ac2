//! The payout bank client (`/{bank}/agentpay/apply` and `/agentpay/query`). Every answer is
//! three-valued, as reality is: the bank took the order, the bank did not take it, or we
//! do not know. What to do about each is `settlement.rs`'s business, not this file's.

use crate::Config;
use chrono::Utc;
use sandbank::banks::payout_json::sign_request;
use sandbank::clock::SHANGHAI;
use sandbank::http::{post, ClientError, ClientResponse};
use serde_json::{json, Map, Value};

/// Error codes that say the bank refused the request without taking the order. Every other
/// code (`SYSTEM_ERROR`, `DUPLICATE_ORDER`, anything unfamiliar) leaves the outcome unknown:
/// the order is queried before anything else is done with it.
const REFUSALS: [&str; 3] = ["PARAM_ERROR", "SIGN_ERROR", "MCH_NOT_EXIST"];

/// A payout's status as the bank reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankStatus {
    /// Accepted, not yet paid.
    Processing,
    /// Paid.
    Success,
    /// Not paid.
    Failed,
    /// Paid, then returned by the beneficiary's bank (退票).
    Returned,
}

/// What the bank said about a payout order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutView {
    /// Its status.
    pub status: BankStatus,
    /// Its amount, in fen.
    pub amount_minor: i64,
    /// Why it failed, if it did.
    pub reason: Option<String>,
}

/// The outcome of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// The bank took the order.
    Taken(PayoutView),
    /// The bank definitely did not take it.
    Refused(String),
    /// We do not know whether it took it. `lost_reply` is true when the request went out
    /// and no answer came back (a timeout or a dropped connection).
    Unknown {
        /// What happened.
        reason: String,
        /// No reply at all.
        lost_reply: bool,
    },
}

/// The outcome of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queried {
    /// The bank has the order.
    Found(PayoutView),
    /// The bank has no order with that number.
    NotFound,
    /// No usable answer.
    Unknown(String),
}

/// A payout to request.
#[derive(Debug, Clone)]
pub struct PayoutRequest<'a> {
    /// Bank order number (`mchOrderNo`).
    pub order_no: &'a str,
    /// Amount in fen.
    pub amount_minor: i64,
    /// Payee account.
    pub account_no: &'a str,
    /// Payee name.
    pub account_name: &'a str,
}

fn fields<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn req_time() -> String {
    Utc::now()
        .with_timezone(&SHANGHAI)
        .format("%Y%m%d%H%M%S")
        .to_string()
}

async fn call(
    cfg: &Config,
    api: &str,
    mut body: Map<String, Value>,
) -> Result<ClientResponse, ClientError> {
    sign_request(&mut body, &cfg.bank_key);
    let url = format!("{}/{}/agentpay/{api}", cfg.sandbank_url, cfg.bank);
    post(
        &url,
        "application/json",
        Value::Object(body).to_string(),
        cfg.http_timeout,
    )
    .await
}

/// A bank reply, read. Only a JSON, `retCode` "0", correctly signed reply about the order
/// we asked about is believed (`Ok`); a bank error is reported as such; anything else is
/// unusable and leaves the outcome unknown.
enum Reply {
    Ok(PayoutView),
    BankError { code: String, message: String },
    Unusable(String),
}

fn read_reply(cfg: &Config, resp: &ClientResponse, order_no: &str) -> Reply {
    if !resp.status.is_success() {
        return Reply::Unusable(format!("HTTP {}", resp.status));
    }
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(&resp.body) else {
        return Reply::Unusable("the reply is not a JSON object".into());
    };
    let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let code = text("retCode");
    if code != "0" {
        return Reply::BankError {
            code,
            message: text("retMsg"),
        };
    }
    // Only signed success replies are believed.
    let mut check = obj.clone();
    sign_request(&mut check, &cfg.bank_key);
    let expected = check.get("sign").and_then(Value::as_str).unwrap_or("");
    if !expected.eq_ignore_ascii_case(&text("sign")) {
        return Reply::Unusable("the reply's signature is wrong".into());
    }
    if text("mchOrderNo") != order_no {
        return Reply::Unusable(format!(
            "the reply is about order `{}`, not `{order_no}`",
            text("mchOrderNo")
        ));
    }
    let status = match text("status").as_str() {
        "PROCESSING" => BankStatus::Processing,
        "SUCCESS" => BankStatus::Success,
        "FAILED" => BankStatus::Failed,
        "RETURNED" => BankStatus::Returned,
        other => return Reply::Unusable(format!("unknown payout status `{other}`")),
    };
    let Some(amount_minor) = obj.get("amount").and_then(Value::as_i64) else {
        return Reply::Unusable("the reply has no integer amount".into());
    };
    let reason = obj
        .get("reason")
        .and_then(Value::as_str)
        .map(str::to_string);
    Reply::Ok(PayoutView {
        status,
        amount_minor,
        reason,
    })
}

/// Submit a payout.
pub async fn submit(cfg: &Config, p: &PayoutRequest<'_>) -> Submitted {
    let body = fields([
        ("mchId", json!(cfg.bank_mch_id)),
        ("mchOrderNo", json!(p.order_no)),
        ("amount", json!(p.amount_minor)),
        ("currency", json!("CNY")),
        ("accountAttr", json!("1")),
        ("accountNo", json!(p.account_no)),
        ("accountName", json!(p.account_name)),
        ("remark", json!("settlement")),
        ("reqTime", json!(req_time())),
        ("version", json!("1.0")),
    ]);
    match call(cfg, "apply", body).await {
        Err(e) if e.outcome_unknown() => Submitted::Unknown {
            reason: e.to_string(),
            lost_reply: true,
        },
        // Never connected: the request did not reach the bank.
        Err(e) => Submitted::Refused(e.to_string()),
        Ok(resp) => match read_reply(cfg, &resp, p.order_no) {
            Reply::Ok(view) => Submitted::Taken(view),
            Reply::BankError { code, message } if REFUSALS.contains(&code.as_str()) => {
                Submitted::Refused(format!("{code}: {message}"))
            }
            Reply::BankError { code, message } => Submitted::Unknown {
                reason: format!("{code}: {message}"),
                lost_reply: false,
            },
            Reply::Unusable(why) => Submitted::Unknown {
                reason: why,
                lost_reply: false,
            },
        },
    }
}

/// Ask the bank about a payout order.
pub async fn query(cfg: &Config, order_no: &str) -> Queried {
    let body = fields([
        ("mchId", json!(cfg.bank_mch_id)),
        ("mchOrderNo", json!(order_no)),
        ("reqTime", json!(req_time())),
    ]);
    match call(cfg, "query", body).await {
        Err(e) => Queried::Unknown(e.to_string()),
        Ok(resp) => match read_reply(cfg, &resp, order_no) {
            Reply::Ok(view) => Queried::Found(view),
            Reply::BankError { code, .. } if code == "ORDER_NOT_EXIST" => Queried::NotFound,
            Reply::BankError { code, message } => Queried::Unknown(format!("{code}: {message}")),
            Reply::Unusable(why) => Queried::Unknown(why),
        },
    }
}
