//! The client side of the channel, for `sandbank call`: a request's `appid`, `mch_id`,
//! `nonce_str` and `sign` filled in and signed with [`crate::protocol::sign`] (MD5, or
//! HMAC-SHA256 when the learner gives `sign_type=HMAC-SHA256`), sent as the flat `<xml>` of
//! [`super::xml`]; the reply's `sign` checked with the merchant's key.

use super::xml;
use crate::protocol::client::{
    credential_entries, credential_str, given, Checked, Client as LearnerClient, Context,
    Operation, Outbound, Param, Shown, Signature,
};
use crate::protocol::sign::{self, SignType};
use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeMap;

/// The operations, one per API the channel serves.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        name: "pay/unifiedorder",
        about: "create an order",
        example: "out_trade_no=ORDER1 body=test total_fee=101 trade_type=NATIVE product_id=SKU1 spbill_create_ip=127.0.0.1 notify_url=http://127.0.0.1:9/notify",
    },
    Operation {
        name: "pay/orderquery",
        about: "an order's state",
        example: "out_trade_no=ORDER1",
    },
    Operation {
        name: "pay/downloadbill",
        about: "a day's bill (from 09:00 the next day)",
        example: "bill_date=20260302 bill_type=ALL",
    },
    Operation {
        name: "pay/closeorder",
        about: "close an unpaid order (from 5 minutes after creation)",
        example: "out_trade_no=ORDER1",
    },
    Operation {
        name: "secapi/pay/refund",
        about: "refund a paid order",
        example: "out_trade_no=ORDER1 out_refund_no=REFUND1 total_fee=101 refund_fee=101",
    },
    Operation {
        name: "pay/refundquery",
        about: "an order's refunds",
        example: "out_trade_no=ORDER1",
    },
    Operation {
        name: "pay/micropay",
        about: "a barcode payment",
        example: "out_trade_no=ORDER2 body=test total_fee=101 spbill_create_ip=127.0.0.1 auth_code=134567890123456789",
    },
    Operation {
        name: "secapi/pay/reverse",
        about: "cancel a barcode payment",
        example: "out_trade_no=ORDER2",
    },
];

/// One merchant's credentials.
#[derive(Debug, Clone)]
struct Merchant {
    appid: String,
    mch_id: String,
    key: String,
}

/// A WeChat Pay v2 client of one channel.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    merchants: Vec<Merchant>,
}

impl Client {
    /// From `GET /_sandbank/channels/{id}`: `base_url` and `merchants` (or the top-level
    /// `appid`, `mch_id`, `key`).
    pub fn from_credentials(c: &Value) -> Result<Client, String> {
        let read = |m: &Value| -> Option<Merchant> {
            Some(Merchant {
                appid: m.get("appid")?.as_str()?.to_string(),
                mch_id: m.get("mch_id")?.as_str()?.to_string(),
                key: m.get("key")?.as_str()?.to_string(),
            })
        };
        let merchants = credential_entries(c, "merchants", read);
        if merchants.is_empty() {
            return Err("the credentials name no merchant (appid, mch_id, key)".into());
        }
        let base = credential_str(c, "base_url")?;
        Ok(Client { base, merchants })
    }

    /// The merchant the learner names with `mch_id=`, or the first.
    fn merchant(&self, params: &[Param]) -> Result<&Merchant, String> {
        match given(params, "mch_id") {
            None => self.merchants.first().ok_or_else(|| "no merchant".into()),
            Some(id) => self
                .merchants
                .iter()
                .find(|m| m.mch_id == id)
                .ok_or_else(|| {
                    let known: Vec<&str> =
                        self.merchants.iter().map(|m| m.mch_id.as_str()).collect();
                    format!(
                        "mch_id: `{id}` is not a merchant of this channel (it has {})",
                        known.join(", ")
                    )
                }),
        }
    }

    fn merchant_of(&self, sent: &Outbound) -> Option<&Merchant> {
        let id = sent.field("mch_id")?;
        self.merchants.iter().find(|m| m.mch_id == id)
    }
}

impl LearnerClient for Client {
    fn operations(&self) -> &'static [Operation] {
        OPERATIONS
    }

    fn signer(&self) -> String {
        self.merchants
            .first()
            .map(|m| format!("merchant {}", m.mch_id))
            .unwrap_or_default()
    }

    fn request(&self, op: &str, params: &[Param], ctx: &Context) -> Result<Outbound, String> {
        let m = self.merchant(params)?;
        let sign_type = SignType::from_field(given(params, "sign_type").as_deref())
            .ok_or("sign_type: must be MD5 or HMAC-SHA256")?;
        let mut fields: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
        for p in params {
            fields.insert(p.name.clone(), (p.value.text(), None));
        }
        let mut fill = |name: &str, value: &str, how: &str| {
            fields
                .entry(name.to_string())
                .or_insert_with(|| (value.to_string(), Some(how.to_string())));
        };
        fill("appid", &m.appid, "the merchant's app id");
        fill("mch_id", &m.mch_id, "the merchant");
        fill(
            "nonce_str",
            &ctx.nonce,
            "a nonce from the world's seeded streams",
        );
        if !fields.contains_key("sign") {
            let plain: BTreeMap<String, String> = fields
                .iter()
                .map(|(k, (v, _))| (k.clone(), v.clone()))
                .collect();
            let s = sign::sign(&plain, &m.key, sign_type);
            fields.insert(
                "sign".into(),
                (
                    s,
                    Some(format!(
                        "{} of the sorted non-empty fields and `&key=` merchant {}'s key",
                        sign_type.as_str(),
                        m.mch_id
                    )),
                ),
            );
        }
        let body = xml::write(fields.iter().map(|(k, (v, _))| (k.as_str(), v.as_str())));
        Ok(Outbound {
            method: Method::POST,
            path: format!("{}{op}", self.base),
            content_type: "text/xml; charset=utf-8",
            body: Bytes::from(body),
            fields: fields
                .into_iter()
                .map(|(name, (value, filled))| Shown {
                    name,
                    value,
                    filled,
                })
                .collect(),
        })
    }

    fn check(
        &self,
        sent: &Outbound,
        _status: StatusCode,
        _content_type: &str,
        body: &[u8],
    ) -> Checked {
        let text = String::from_utf8_lossy(body);
        let Ok(fields) = xml::parse(&text) else {
            return Checked {
                fields: Vec::new(),
                signature: Signature::Unsigned(
                    "the reply is not an <xml> document (a bill is plain text, and not signed)"
                        .into(),
                ),
            };
        };
        let rows = fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let signature = if fields.get("return_code").map(String::as_str) != Some("SUCCESS") {
            Signature::Unsigned("return_code FAIL replies carry no sign".into())
        } else {
            let sign_type = SignType::from_field(sent.field("sign_type")).unwrap_or(SignType::Md5);
            match (self.merchant_of(sent), fields.get("sign")) {
                (None, _) => Signature::Unsigned(
                    "the request named a merchant this channel does not have, so there is no key to check with".into(),
                ),
                (Some(_), None) => Signature::Invalid("the reply has no sign".into()),
                (Some(m), Some(given)) => {
                    let expected = sign::sign(&fields, &m.key, sign_type);
                    if expected.eq_ignore_ascii_case(given) {
                        Signature::Valid(format!(
                            "sign is the {} of the reply's sorted fields with merchant {}'s key",
                            sign_type.as_str(),
                            m.mch_id
                        ))
                    } else {
                        Signature::Invalid(format!(
                            "sign {given} is not the {} of the reply's fields with merchant {}'s key ({expected})",
                            sign_type.as_str(),
                            m.mch_id
                        ))
                    }
                }
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
    use super::super::codec::APIS;
    use super::*;
    use crate::protocol::client::ParamValue;
    use serde_json::json;

    fn client() -> Client {
        Client::from_credentials(&json!({
            "base_url": "/wxpay/",
            "merchants": [{"appid": "wx2421b1c4370ec43b", "mch_id": "10000100", "key": "192006250b4c09247ec02edce69f6a2d"}],
        }))
        .unwrap()
    }

    fn p(name: &str, v: &str) -> Param {
        Param {
            name: name.into(),
            value: ParamValue::Text(v.into()),
        }
    }

    #[test]
    fn every_api_is_an_operation() {
        let names: Vec<&str> = OPERATIONS.iter().map(|o| o.name).collect();
        let apis: Vec<&str> = APIS.iter().map(|a| a.op()).collect();
        assert_eq!(names, apis);
    }

    #[test]
    fn a_request_is_signed_as_the_channel_checks_it() {
        let ctx = Context {
            now: chrono::Utc::now(),
            nonce: "N".repeat(32),
        };
        let out = client()
            .request("pay/orderquery", &[p("out_trade_no", "O1")], &ctx)
            .unwrap();
        assert_eq!(out.path, "/wxpay/pay/orderquery");
        let fields = xml::parse(std::str::from_utf8(&out.body).unwrap()).unwrap();
        assert!(sign::verify(&fields, "192006250b4c09247ec02edce69f6a2d"));
        assert_eq!(fields["nonce_str"], "N".repeat(32));
        assert!(!sign::verify(&fields, "another key"));
        // A sign the learner gives is sent as given (to see SIGNERROR).
        let out = client()
            .request(
                "pay/orderquery",
                &[p("out_trade_no", "O1"), p("sign", "BAD")],
                &ctx,
            )
            .unwrap();
        assert_eq!(out.field("sign"), Some("BAD"));
        let e = client()
            .request("pay/orderquery", &[p("mch_id", "999")], &ctx)
            .unwrap_err();
        assert!(e.starts_with("mch_id: `999`"), "{e}");
    }
}
