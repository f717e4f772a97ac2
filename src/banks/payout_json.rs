//! A JSON single-payout (代付) API in the style of Chinese PSPs (PROTOCOLS.md D.1, D.4).
//!
//! - `POST /{bank}/agentpay/apply` — submit one payout. Accepted is not paid: the reply says
//!   `PROCESSING`, and the result comes from a query.
//! - `POST /{bank}/agentpay/query` — the payout's status by `mchOrderNo`.
//!
//! Bodies are JSON objects of flat fields. Requests and replies are signed like WeChat v2:
//! sorted non-empty `k=v` pairs (numbers in their JSON text), `&key=KEY`, MD5, upper-case hex,
//! in a `sign` field. Errors answer HTTP 200 with `retCode` ≠ `"0"` and `retMsg`:
//! `PARAM_ERROR`, `SIGN_ERROR`, `MCH_NOT_EXIST`, `DUPLICATE_ORDER`, `ORDER_NOT_EXIST`,
//! `SYSTEM_ERROR`. A repeated `mchOrderNo` is treated as the scenario says (`on_duplicate`).

use super::{account_path, payee_path, BankState, Payout, PayoutStatus};
use crate::channels::wxpay::sign::{sign, SignType};
use crate::faults::GateKey;
use crate::http::{InboundRequest, Outcome, Reply};
use crate::journal::{EntryKind, Record};
use crate::ledger::PostingKind;
use crate::money::{Currency, Money};
use crate::scenario::{BankClient, BankSpec, OnDuplicate};
use crate::world::{Event, Sandbank, WorldState};
use hyper::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::str::FromStr;

fn error(code: &str, msg: &str) -> Reply {
    Reply::json(StatusCode::OK, &json!({ "retCode": code, "retMsg": msg }))
}

/// The flat string form of a JSON object's fields, for signing. Nested values are refused.
fn flat_fields(obj: &Map<String, Value>) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            Value::Array(_) | Value::Object(_) => {
                return Err(format!("field `{k}` must be a string or a number"))
            }
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}

/// A signed success reply.
fn signed(client: &BankClient, mut body: Map<String, Value>) -> Reply {
    body.insert("retCode".into(), json!("0"));
    body.insert("retMsg".into(), json!(""));
    // Built from strings and integers only, so flattening cannot fail.
    let fields = flat_fields(&body).unwrap_or_default();
    body.insert(
        "sign".into(),
        json!(sign(&fields, &client.key, SignType::Md5)),
    );
    Reply::json(StatusCode::OK, &Value::Object(body))
}

enum Decoded {
    Refused(Reply),
    Call {
        client: BankClient,
        fields: BTreeMap<String, String>,
    },
}

fn decode(spec: &BankSpec, req: &InboundRequest) -> Decoded {
    if req.method != Method::POST {
        return Decoded::Refused(Reply::json(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"retCode": "PARAM_ERROR", "retMsg": "use POST"}),
        ));
    }
    let obj = match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return Decoded::Refused(error("PARAM_ERROR", "the body must be a JSON object")),
        Err(e) => {
            return Decoded::Refused(error(
                "PARAM_ERROR",
                &format!("the body is not valid JSON: {e}"),
            ))
        }
    };
    let fields = match flat_fields(&obj) {
        Ok(f) => f,
        Err(e) => return Decoded::Refused(error("PARAM_ERROR", &e)),
    };
    let Some(mch_id) = fields.get("mchId").filter(|v| !v.is_empty()) else {
        return Decoded::Refused(error("PARAM_ERROR", "missing mchId"));
    };
    let Some(client) = spec.clients.iter().find(|c| &c.mch_id == mch_id) else {
        return Decoded::Refused(error(
            "MCH_NOT_EXIST",
            &format!("merchant {mch_id} does not exist"),
        ));
    };
    let Some(given) = fields.get("sign") else {
        return Decoded::Refused(error("SIGN_ERROR", "missing sign"));
    };
    if !sign(&fields, &client.key, SignType::Md5).eq_ignore_ascii_case(given) {
        return Decoded::Refused(error("SIGN_ERROR", "signature mismatch"));
    }
    Decoded::Call {
        client: client.clone(),
        fields,
    }
}

/// Serve a request to a payout-json bank.
pub fn serve(sb: &Sandbank, spec: &BankSpec, req: InboundRequest) -> Outcome {
    let op = match req.path.as_str() {
        "agentpay/apply" => "payout.submit",
        "agentpay/query" => "payout.query",
        other => {
            return Reply::json(
                StatusCode::NOT_FOUND,
                &json!({"retCode": "NOT_FOUND", "retMsg": format!("no such API: /{other}")}),
            )
            .into()
        }
    };
    let decoded = decode(spec, &req);
    let (order, amount) = match &decoded {
        Decoded::Call { fields, .. } => (
            fields.get("mchOrderNo").cloned(),
            fields
                .get("amount")
                .and_then(|a| a.parse::<i64>().ok())
                .map(|a| Decimal::new(a, 2)),
        ),
        Decoded::Refused(_) => (None, None),
    };
    let text = String::from_utf8_lossy(&req.body).into_owned();
    let key = GateKey {
        instance: &spec.id,
        op,
        order: order.as_deref(),
        amount,
    };
    let decoded = match decoded {
        Decoded::Refused(r) => return sb.refuse(key, &text, r),
        call => call,
    };
    sb.gate(
        key,
        &text,
        |st| match decoded {
            Decoded::Refused(r) => r,
            Decoded::Call { client, fields } if op == "payout.submit" => {
                apply(st, spec, &client, &fields)
            }
            Decoded::Call { client, fields } => query(st, spec, &client, &fields),
        },
        |_, code, message| {
            error(
                code,
                if message.is_empty() {
                    "system busy, query before retrying"
                } else {
                    message
                },
            )
        },
    )
}

fn bank_state<'a>(st: &'a mut WorldState, spec: &BankSpec) -> &'a mut BankState {
    st.banks.entry(spec.id.clone()).or_default()
}

fn payout_reply(client: &BankClient, p: &Payout) -> Reply {
    let mut body = Map::new();
    body.insert("mchId".into(), json!(p.mch_id));
    body.insert("mchOrderNo".into(), json!(p.order_no));
    body.insert("agentpayOrderId".into(), json!(p.payout_id));
    body.insert(
        "amount".into(),
        json!(p.amount.to_minor().unwrap_or_default()),
    );
    body.insert("accountNo".into(), json!(p.payee_account_no));
    body.insert("status".into(), json!(p.status.as_str()));
    body.insert(
        "createTime".into(),
        json!(crate::channels::wxpay::wx_time(p.created_at)),
    );
    if let Some(t) = p.succeeded_at {
        body.insert(
            "paySuccTime".into(),
            json!(crate::channels::wxpay::wx_time(t)),
        );
    }
    if let Some(r) = &p.reason {
        body.insert("reason".into(), json!(r));
    }
    signed(client, body)
}

fn valid_order_no(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn apply(
    st: &mut WorldState,
    spec: &BankSpec,
    client: &BankClient,
    f: &BTreeMap<String, String>,
) -> Reply {
    for name in [
        "mchOrderNo",
        "amount",
        "accountNo",
        "accountName",
        "reqTime",
    ] {
        if f.get(name).is_none_or(|v| v.is_empty()) {
            return error("PARAM_ERROR", &format!("missing {name}"));
        }
    }
    let order_no = f["mchOrderNo"].clone();
    if !valid_order_no(&order_no) {
        return error(
            "PARAM_ERROR",
            "mchOrderNo must be 1–64 characters of A-Z, a-z, 0-9, _ and -",
        );
    }
    let Ok(minor) = f["amount"].parse::<i64>() else {
        return error("PARAM_ERROR", "amount must be an integer number of fen");
    };
    if minor <= 0 {
        return error("PARAM_ERROR", "amount must be positive");
    }
    let currency = match Currency::from_str(
        f.get("currency")
            .map(String::as_str)
            .filter(|c| !c.is_empty())
            .unwrap_or("CNY"),
    ) {
        Ok(c) => c,
        Err(e) => return error("PARAM_ERROR", &e.to_string()),
    };
    let key = (client.mch_id.clone(), order_no.clone());
    let previous = bank_state(st, spec)
        .by_order
        .get(&key)
        .and_then(|v| v.first().copied());
    if let Some(first) = previous {
        match spec.on_duplicate {
            OnDuplicate::Reject => {
                return error(
                    "DUPLICATE_ORDER",
                    &format!("mchOrderNo {order_no} was already submitted"),
                )
            }
            OnDuplicate::Replay => {
                let p = &bank_state(st, spec).payouts[first];
                // Idempotent APIs replay only a faithful repeat; the same key with another
                // payload is refused (Stripe, Razorpay: PROTOCOLS.md D.3).
                if p.amount.to_minor().ok() != Some(minor) || p.payee_account_no != f["accountNo"] {
                    return error(
                        "DUPLICATE_ORDER",
                        &format!("mchOrderNo {order_no} was already submitted with a different amount or payee"),
                    );
                }
                if let Some(body) = &p.first_reply {
                    return Reply::new(StatusCode::OK, "application/json", body.clone());
                }
            }
            OnDuplicate::PayAgain => {}
        }
    }
    let now = st.clock.now();
    let amount = Money::from_minor(minor, currency);
    let from = account_path(&spec.id, &client.account);
    let payee_no = f["accountNo"].clone();
    let balance = st.ledger.balance(&from, currency);
    let payout_id = format!(
        "AP{}{}",
        crate::channels::wxpay::wx_time(now),
        st.rng.digits(6)
    );
    let (status, reason) = if balance.amount < amount.amount {
        (PayoutStatus::Failed, Some("INSUFFICIENT_FUNDS".to_string()))
    } else {
        let payee = payee_path(&spec.id, &payee_no);
        // Two legs of one amount and currency: balances by construction.
        let _ = st.ledger.transfer(
            now,
            PostingKind::Payout,
            &spec.id,
            &order_no,
            &from,
            &payee,
            amount,
        );
        st.record(
            EntryKind::Posting,
            Record {
                instance: spec.id.clone(),
                op: "payout".into(),
                reference: Some(order_no.clone()),
                message: format!("{from} → {payee} {amount}"),
                ..Default::default()
            },
        );
        (PayoutStatus::Processing, None)
    };
    let mut payout = Payout {
        payout_id,
        mch_id: client.mch_id.clone(),
        order_no: order_no.clone(),
        amount,
        from_account: client.account.clone(),
        payee_account_no: payee_no,
        payee_name: f["accountName"].clone(),
        status,
        reason,
        created_at: now,
        succeeded_at: None,
        first_reply: None,
    };
    let reply = payout_reply(client, &payout);
    payout.first_reply = Some(reply.body.clone());
    let bs = bank_state(st, spec);
    let index = bs.payouts.len();
    bs.payouts.push(payout);
    bs.by_order.entry(key).or_default().push(index);
    if status == PayoutStatus::Processing {
        st.timers.schedule(
            now + spec.settle_after,
            Event::PayoutSettle {
                bank: spec.id.clone(),
                payout: index,
            },
        );
    }
    reply
}

fn query(
    st: &mut WorldState,
    spec: &BankSpec,
    client: &BankClient,
    f: &BTreeMap<String, String>,
) -> Reply {
    let Some(order_no) = f.get("mchOrderNo").filter(|v| !v.is_empty()) else {
        return error("PARAM_ERROR", "missing mchOrderNo");
    };
    let bs = bank_state(st, spec);
    let latest = bs
        .by_order
        .get(&(client.mch_id.clone(), order_no.clone()))
        .and_then(|v| v.last().copied());
    match latest {
        Some(i) => payout_reply(client, &bs.payouts[i]),
        None => error("ORDER_NOT_EXIST", &format!("no payout {order_no}")),
    }
}

/// Sign a request body the way this API expects (used by clients: the reference settlement
/// system, tests). Adds `sign` to `body`.
pub fn sign_request(body: &mut Map<String, Value>, key: &str) {
    body.remove("sign");
    // Callers build bodies of strings and numbers; a nested value would be refused by the
    // server anyway, and is left out of the signature here.
    let fields = flat_fields(body).unwrap_or_default();
    body.insert("sign".into(), json!(sign(&fields, key, SignType::Md5)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_fields_are_refused_for_signing() {
        let obj: Map<String, Value> = serde_json::from_str(r#"{"a":1,"b":{"c":2}}"#).unwrap();
        assert!(flat_fields(&obj).is_err());
        let obj: Map<String, Value> = serde_json::from_str(r#"{"a":1,"b":"x","c":null}"#).unwrap();
        let f = flat_fields(&obj).unwrap();
        assert_eq!(f["a"], "1");
        assert_eq!(f["c"], "");
    }

    #[test]
    fn signed_requests_verify() {
        let mut body: Map<String, Value> =
            serde_json::from_str(r#"{"mchId":"1","amount":100}"#).unwrap();
        sign_request(&mut body, "K");
        let f = flat_fields(&body).unwrap();
        assert_eq!(sign(&f, "K", SignType::Md5), f["sign"]);
    }
}
