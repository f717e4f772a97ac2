//! The client side of the payout API, for `sandbank call`: `mchId`, `reqTime` and `sign`
//! filled in and the body signed with [`super::sign_request`] (the sorted-fields MD5 of
//! [`crate::protocol::sign`]); `amount` sent as a JSON integer of fen. A success reply's
//! `sign` is checked with the client's key; error replies are not signed.

use super::codec::flat_fields;
use crate::clock::compact_local;
use crate::protocol::client::{
    credential_entries, credential_str, flatten, given, Checked, Client as LearnerClient, Context,
    Operation, Outbound, Param, ParamValue, Shown, Signature,
};
use crate::protocol::sign::{sign, SignType};
use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

/// The operations, by path.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        name: "agentpay/apply",
        about: "submit one payout (accepted is not paid: PROCESSING)",
        example:
            "mchOrderNo=PAYOUT1 amount=10000 accountNo=6217000000000000001 accountName='Zhang San'",
    },
    Operation {
        name: "agentpay/query",
        about: "a payout's status",
        example: "mchOrderNo=PAYOUT1",
    },
];

/// Fields the API takes as JSON integers.
const INTEGERS: &[&str] = &["amount"];

#[derive(Debug, Clone)]
struct BankClient {
    mch_id: String,
    key: String,
}

/// A payout API client of one bank.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    clients: Vec<BankClient>,
}

impl Client {
    /// From `GET /_sandbank/banks/{id}`: `base_url` and `clients` (or the top-level
    /// `mch_id` and `key`).
    pub fn from_credentials(c: &Value) -> Result<Client, String> {
        let read = |m: &Value| -> Option<BankClient> {
            Some(BankClient {
                mch_id: m.get("mch_id")?.as_str()?.to_string(),
                key: m.get("key")?.as_str()?.to_string(),
            })
        };
        let clients = credential_entries(c, "clients", read);
        if clients.is_empty() {
            return Err("the credentials name no client (mch_id, key)".into());
        }
        let base = credential_str(c, "base_url")?;
        Ok(Client { base, clients })
    }

    fn client(&self, mch_id: Option<&str>) -> Option<&BankClient> {
        match mch_id {
            None => self.clients.first(),
            Some(id) => self.clients.iter().find(|c| c.mch_id == id),
        }
    }
}

impl LearnerClient for Client {
    fn operations(&self) -> &'static [Operation] {
        OPERATIONS
    }

    fn signer(&self) -> String {
        self.clients
            .first()
            .map(|c| format!("client {}", c.mch_id))
            .unwrap_or_default()
    }

    fn request(&self, op: &str, params: &[Param], ctx: &Context) -> Result<Outbound, String> {
        let named = given(params, "mchId");
        let client = self.client(named.as_deref()).ok_or_else(|| {
            let known: Vec<&str> = self.clients.iter().map(|c| c.mch_id.as_str()).collect();
            format!(
                "mchId: `{}` is not a client of this bank (it has {})",
                named.unwrap_or_default(),
                known.join(", ")
            )
        })?;
        let mut body = Map::new();
        let mut filled: Vec<(&str, String)> = Vec::new();
        for p in params {
            let v = match &p.value {
                ParamValue::Text(t) if INTEGERS.contains(&p.name.as_str()) => {
                    match t.parse::<i64>() {
                        Ok(n) => json!(n),
                        Err(_) => {
                            return Err(format!(
                                "{}: `{t}` is not an integer (the API takes fen: 10000 is 100.00)",
                                p.name
                            ))
                        }
                    }
                }
                v => v.json(),
            };
            body.insert(p.name.clone(), v);
        }
        let mut fill = |name: &'static str, value: String, how: &str| {
            if !body.contains_key(name) {
                body.insert(name.into(), json!(value));
                filled.push((name, how.to_string()));
            }
        };
        fill("mchId", client.mch_id.clone(), "the client");
        if op == "agentpay/apply" {
            fill(
                "reqTime",
                compact_local(ctx.now),
                "the world clock, Beijing time",
            );
        }
        if !body.contains_key("sign") {
            let fields = flat_fields(&body).map_err(|e| e.replace("field `", "`"))?;
            body.insert(
                "sign".into(),
                json!(sign(&fields, &client.key, SignType::Md5)),
            );
            filled.push((
                "sign",
                format!(
                    "MD5 of the sorted non-empty fields and `&key=` client {}'s key",
                    client.mch_id
                ),
            ));
        }
        let shown = body
            .iter()
            .map(|(k, v)| Shown {
                name: k.clone(),
                value: match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
                filled: filled
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, how)| how.clone()),
            })
            .collect();
        Ok(Outbound {
            method: Method::POST,
            path: format!("{}{op}", self.base),
            content_type: "application/json",
            body: Bytes::from(Value::Object(body).to_string()),
            fields: shown,
        })
    }

    fn check(
        &self,
        sent: &Outbound,
        _status: StatusCode,
        _content_type: &str,
        body: &[u8],
    ) -> Checked {
        let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
            return Checked {
                fields: Vec::new(),
                signature: Signature::Unsigned("the reply is not a JSON object".into()),
            };
        };
        let mut rows = Vec::new();
        flatten("", &Value::Object(obj.clone()), &mut rows);
        let signature = if obj.get("retCode").and_then(Value::as_str) != Some("0") {
            Signature::Unsigned("error replies (retCode other than \"0\") are not signed".into())
        } else {
            match (self.client(sent.field("mchId")), obj.get("sign").and_then(Value::as_str)) {
                (None, _) => Signature::Unsigned(
                    "the request named a client this bank does not have, so there is no key to check with".into(),
                ),
                (Some(_), None) => Signature::Invalid("the reply has no sign".into()),
                (Some(c), Some(given)) => match flat_fields(&obj) {
                    Err(e) => Signature::Invalid(format!("the reply cannot be signed: {e}")),
                    Ok(fields) => {
                        let expected = sign(&fields, &c.key, SignType::Md5);
                        if expected.eq_ignore_ascii_case(given) {
                            Signature::Valid(format!(
                                "sign is the MD5 of the reply's sorted fields with client {}'s key",
                                c.mch_id
                            ))
                        } else {
                            Signature::Invalid(format!(
                                "sign {given} is not the MD5 of the reply's fields with client {}'s key ({expected})",
                                c.mch_id
                            ))
                        }
                    }
                },
            }
        };
        Checked {
            fields: rows,
            signature,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::spec::OPS;
    use super::*;

    #[test]
    fn one_operation_per_api() {
        assert_eq!(OPERATIONS.len(), OPS.len());
    }

    #[test]
    fn a_request_is_signed_as_sign_request_signs_it() {
        let c = Client::from_credentials(&json!({"base_url": "/bank/", "mch_id": "1", "key": "K"}))
            .unwrap();
        let ctx = Context {
            now: chrono::Utc::now(),
            nonce: String::new(),
        };
        let p = |n: &str, v: &str| Param {
            name: n.into(),
            value: ParamValue::Text(v.into()),
        };
        let out = c
            .request("agentpay/query", &[p("mchOrderNo", "P1")], &ctx)
            .unwrap();
        let mut body: Map<String, Value> = serde_json::from_slice(&out.body).unwrap();
        let sent = body["sign"].clone();
        super::super::sign_request(&mut body, "K");
        assert_eq!(body["sign"], sent);
        assert_eq!(out.path, "/bank/agentpay/query");
        let out = c
            .request("agentpay/apply", &[p("amount", "10000")], &ctx)
            .unwrap();
        assert!(std::str::from_utf8(&out.body)
            .unwrap()
            .contains("\"amount\":10000"));
        assert!(out.field("reqTime").is_some_and(|t| t.len() == 14));
        let e = c
            .request("agentpay/apply", &[p("amount", "100.00")], &ctx)
            .unwrap_err();
        assert!(e.starts_with("amount: `100.00`"), "{e}");
    }
}
