//! Reading and answering the payout API: flat JSON objects signed with the sorted-fields
//! MD5 signature; errors are HTTP 200 with `retCode` ≠ `"0"` and a `retMsg`.

use super::spec::{Client, Spec};
use crate::http::{InboundRequest, Reply};
use crate::kind::{Decoded, Key};
use crate::protocol::sign::{sign, SignType};
use hyper::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The APIs the bank serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `agentpay/apply`: submit one payout.
    Submit,
    /// `agentpay/query`: a payout's status.
    Query,
}

impl Api {
    /// The operation name fault rules and the journal use.
    pub fn op(self) -> &'static str {
        match self {
            Api::Submit => "payout.submit",
            Api::Query => "payout.query",
        }
    }
}

/// A decoded, authenticated request.
#[derive(Debug, Clone)]
pub struct Call {
    /// Which API.
    pub api: Api,
    /// The client that signed it.
    pub client: Client,
    /// Its fields as strings (numbers in their JSON text), `sign` included.
    pub fields: BTreeMap<String, String>,
}

/// Read and authenticate a request to `spec`'s bank.
pub fn decode(spec: &Spec, req: &InboundRequest) -> Decoded<Call> {
    let api = match req.path.as_str() {
        "agentpay/apply" => Api::Submit,
        "agentpay/query" => Api::Query,
        other => {
            return Decoded::NoSuchApi(Reply::json(
                StatusCode::NOT_FOUND,
                &json!({"retCode": "NOT_FOUND", "retMsg": format!("no such API: /{other}")}),
            ))
        }
    };
    match authenticate(spec, req) {
        Err(reply) => Decoded::Refused {
            op: api.op(),
            reply,
        },
        Ok((client, fields)) => {
            let key = Key {
                op: api.op(),
                order: fields.get("mchOrderNo").cloned(),
                amount: fields
                    .get("amount")
                    .and_then(|a| a.parse::<i64>().ok())
                    .map(|a| Decimal::new(a, 2)),
            };
            Decoded::Call {
                call: Call {
                    api,
                    client,
                    fields,
                },
                key,
            }
        }
    }
}

fn authenticate(
    spec: &Spec,
    req: &InboundRequest,
) -> Result<(Client, BTreeMap<String, String>), Reply> {
    if req.method != Method::POST {
        return Err(Reply::json(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"retCode": "PARAM_ERROR", "retMsg": "use POST"}),
        ));
    }
    let obj = match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return Err(error("PARAM_ERROR", "the body must be a JSON object")),
        Err(e) => {
            return Err(error(
                "PARAM_ERROR",
                &format!("the body is not valid JSON: {e}"),
            ))
        }
    };
    let fields = match flat_fields(&obj) {
        Ok(f) => f,
        Err(e) => return Err(error("PARAM_ERROR", &e)),
    };
    let Some(mch_id) = fields.get("mchId").filter(|v| !v.is_empty()) else {
        return Err(error("PARAM_ERROR", "missing mchId"));
    };
    let Some(client) = spec.client(mch_id) else {
        return Err(error(
            "MCH_NOT_EXIST",
            &format!("merchant {mch_id} does not exist"),
        ));
    };
    let Some(given) = fields.get("sign") else {
        return Err(error("SIGN_ERROR", "missing sign"));
    };
    if !sign(&fields, &client.key, SignType::Md5).eq_ignore_ascii_case(given) {
        return Err(error("SIGN_ERROR", "signature mismatch"));
    }
    Ok((client.clone(), fields))
}

/// An error reply: HTTP 200, `retCode` `code`, `retMsg` `msg` (unsigned, as the API's
/// errors are).
pub fn error(code: &str, msg: &str) -> Reply {
    Reply::json(StatusCode::OK, &json!({ "retCode": code, "retMsg": msg }))
}

/// The flat string form of a JSON object's fields, for signing. Nested values are refused,
/// and so are numbers that are not integers (`1e2`, `1.50`, `-0`): the signature is over a
/// number's text, and only an integer's text survives parsing unchanged (serde_json would
/// sign `1e2` as `100.0`, not as the client wrote it), so the bank cannot vouch for any other.
pub fn flat_fields(obj: &Map<String, Value>) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
            Value::Number(_) => {
                return Err(format!(
                    "field `{k}` must be an integer (no fraction or exponent) or a string"
                ))
            }
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
pub fn signed(client: &Client, mut body: Map<String, Value>) -> Reply {
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
    use super::super::spec::OPS;
    use super::*;

    #[test]
    fn every_operation_is_listed() {
        assert_eq!(OPS, [Api::Submit.op(), Api::Query.op()]);
    }

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
    fn numbers_other_than_integers_are_refused() {
        for body in [
            r#"{"a":1e2}"#,
            r#"{"a":1.5}"#,
            r#"{"a":-0}"#,
            r#"{"a":1E0}"#,
        ] {
            let obj: Map<String, Value> = serde_json::from_str(body).unwrap();
            let e = flat_fields(&obj).unwrap_err();
            assert!(e.contains("`a`"), "{body}: {e}");
        }
        let obj: Map<String, Value> =
            serde_json::from_str(r#"{"a":-5,"b":18446744073709551615}"#).unwrap();
        let f = flat_fields(&obj).unwrap();
        assert_eq!(
            (f["a"].as_str(), f["b"].as_str()),
            ("-5", "18446744073709551615")
        );
    }

    #[test]
    fn requests_are_signed_over_sorted_fields_with_numbers_as_json_text() {
        // An independent computation of the documented rule: `amount=100&mchId=1&key=K`,
        // MD5, upper-case hex (`md5 -s 'amount=100&mchId=1&key=K'`).
        let mut body: Map<String, Value> =
            serde_json::from_str(r#"{"mchId":"1","amount":100,"empty":""}"#).unwrap();
        sign_request(&mut body, "K");
        assert_eq!(body["sign"], "C73D8130354FFE418E5980909B3A716A");
    }
}
