//! The client side of the gateway, for `sandbank call`: the common parameters (`app_id`,
//! `method`, `format`, `charset`, `sign_type`, `timestamp`, `version`) filled in, the
//! learner's other fields gathered into `biz_content`, RSA2-signed over [`sign_content`]
//! with the app's private key ([`super::keys`]) and sent as the Node and Java SDKs send it:
//! common parameters in the query string, `biz_content` in a form body. The reply's `sign`
//! is checked as the SDKs check it: over the exact text of the response object, with the
//! Alipay public key.

use super::codec::{sign_content, Charset, Method};
use super::keys::{PrivateKey, PublicKey};
use super::notify::form_encode;
use super::response::local_time;
use crate::protocol::client::{
    credential_entries, credential_str, flatten, given, Checked, Client as LearnerClient, Context,
    Operation, Outbound, Param, Shown, Signature,
};
use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The operations, one per gateway method.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        name: "alipay.trade.precreate",
        about: "a trade and its QR code",
        example: "out_trade_no=ALI1 total_amount=1.01 subject=test notify_url=http://127.0.0.1:9/notify",
    },
    Operation {
        name: "alipay.trade.pay",
        about: "a barcode payment",
        example: "out_trade_no=ALI2 total_amount=1.01 subject=test scene=bar_code auth_code=281234567890123456",
    },
    Operation {
        name: "alipay.trade.query",
        about: "a trade's state",
        example: "out_trade_no=ALI1",
    },
    Operation {
        name: "alipay.trade.close",
        about: "close an unpaid trade",
        example: "out_trade_no=ALI1",
    },
    Operation {
        name: "alipay.trade.cancel",
        about: "cancel a trade (refunding it if paid)",
        example: "out_trade_no=ALI2",
    },
    Operation {
        name: "alipay.trade.refund",
        about: "refund a paid trade",
        example: "out_trade_no=ALI1 refund_amount=1.01 out_request_no=R1",
    },
    Operation {
        name: "alipay.trade.fastpay.refund.query",
        about: "a refund's state",
        example: "out_trade_no=ALI1 out_request_no=R1",
    },
    Operation {
        name: "alipay.data.dataservice.bill.downloadurl.query",
        about: "a link to a day's bill",
        example: "bill_type=trade bill_date=2026-03-02",
    },
];

/// The common (top-level) parameters; every other field goes into `biz_content`.
const COMMON: &[&str] = &[
    "app_id",
    "method",
    "format",
    "charset",
    "sign_type",
    "sign",
    "timestamp",
    "version",
    "notify_url",
    "return_url",
    "app_auth_token",
    "biz_content",
];

/// One app's credentials.
#[derive(Debug, Clone)]
struct App {
    app_id: String,
    private_key: PrivateKey,
}

/// An Alipay gateway client of one channel.
#[derive(Debug, Clone)]
pub struct Client {
    gateway: String,
    apps: Vec<App>,
    alipay_public: PublicKey,
}

impl Client {
    /// From `GET /_sandbank/channels/{id}`: `gateway`, `apps` (or the top-level `app_id`
    /// and `app_private_key`) and `alipay_public_key`.
    pub fn from_credentials(c: &Value) -> Result<Client, String> {
        let read = |a: &Value| -> Option<Result<App, String>> {
            let app_id = a.get("app_id")?.as_str()?.to_string();
            let pem = a.get("app_private_key")?.as_str()?;
            Some(
                PrivateKey::parse(pem)
                    .map(|private_key| App {
                        app_id: app_id.clone(),
                        private_key,
                    })
                    .map_err(|e| format!("app {app_id}'s private key: {e}")),
            )
        };
        let apps = credential_entries(c, "apps", read)
            .into_iter()
            .collect::<Result<Vec<App>, String>>()?;
        if apps.is_empty() {
            return Err("the credentials hand out no app private key, so requests cannot be signed (a scenario that gives only `app_public_key` keeps the private key to itself)".into());
        }
        let gateway = credential_str(c, "gateway")?;
        let alipay_public = c
            .get("alipay_public_key")
            .and_then(Value::as_str)
            .ok_or("the credentials hand out no `alipay_public_key`")
            .and_then(|pem| {
                PublicKey::parse(pem).map_err(|_| "the Alipay public key does not parse")
            })?;
        Ok(Client {
            gateway,
            apps,
            alipay_public,
        })
    }

    fn app(&self, params: &[Param]) -> Result<&App, String> {
        match given(params, "app_id") {
            None => self.apps.first().ok_or_else(|| "no app".into()),
            Some(id) => self.apps.iter().find(|a| a.app_id == id).ok_or_else(|| {
                let known: Vec<&str> = self.apps.iter().map(|a| a.app_id.as_str()).collect();
                format!(
                    "app_id: `{id}` is not an app of this channel with a private key (it has {})",
                    known.join(", ")
                )
            }),
        }
    }
}

impl LearnerClient for Client {
    fn operations(&self) -> &'static [Operation] {
        OPERATIONS
    }

    fn signer(&self) -> String {
        self.apps
            .first()
            .map(|a| format!("app {}", a.app_id))
            .unwrap_or_default()
    }

    fn request(&self, op: &str, params: &[Param], ctx: &Context) -> Result<Outbound, String> {
        let app = self.app(params)?;
        let mut biz = Map::new();
        let mut common: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
        for p in params {
            if COMMON.contains(&p.name.as_str()) {
                common.insert(p.name.clone(), (p.value.text(), None));
            } else {
                biz.insert(p.name.clone(), p.value.json());
            }
        }
        if common.contains_key("biz_content") && !biz.is_empty() {
            let names: Vec<&String> = biz.keys().collect();
            return Err(format!(
                "biz_content: given whole, and fields for it too ({names:?}); give one or the other"
            ));
        }
        let biz_text = Value::Object(biz).to_string();
        let mut fill = |name: &str, value: &str, how: &str| {
            common
                .entry(name.to_string())
                .or_insert_with(|| (value.to_string(), Some(how.to_string())));
        };
        fill("app_id", &app.app_id, "the app");
        fill("method", op, "the operation");
        fill("format", "JSON", "the only format");
        fill("charset", "utf-8", "the request's charset");
        fill("sign_type", "RSA2", "SHA256withRSA");
        fill(
            "timestamp",
            &local_time(ctx.now),
            "the world clock, Beijing time",
        );
        fill("version", "1.0", "the only version");
        fill("biz_content", &biz_text, "the other fields, as JSON");
        let charset = common
            .get("charset")
            .and_then(|(c, _)| Charset::parse(c))
            .unwrap_or(Charset::Utf8);
        if !common.contains_key("sign") {
            let content = sign_content(
                common.iter().map(|(k, (v, _))| (k.as_str(), v.as_str())),
                &[],
            );
            let s = app.private_key.sign(&charset.encode(&content));
            common.insert(
                "sign".into(),
                (
                    s,
                    Some(format!(
                        "RSA2 of the sorted non-empty parameters ({}) with app {}'s private key",
                        charset.as_str(),
                        app.app_id
                    )),
                ),
            );
        }
        let mut query = String::new();
        let mut body = String::new();
        for (k, (v, _)) in &common {
            let out = if k == "biz_content" {
                &mut body
            } else {
                &mut query
            };
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(k);
            out.push('=');
            form_encode(charset, v, out);
        }
        Ok(Outbound {
            method: hyper::Method::POST,
            path: format!("{}?{query}", self.gateway),
            content_type: match charset {
                Charset::Utf8 => "application/x-www-form-urlencoded;charset=utf-8",
                Charset::Gbk => "application/x-www-form-urlencoded;charset=GBK",
            },
            body: Bytes::from(body),
            fields: common
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
        content_type: &str,
        body: &[u8],
    ) -> Checked {
        let method = sent.field("method").unwrap_or_default();
        let key = Method::parse(method)
            .map(Method::response_key)
            .unwrap_or("error_response");
        // The signed text is cut out of the body as the SDKs do: what follows the response
        // key, up to the last `,"sign":"`.
        let cut = |key: &str| -> Option<(&[u8], String)> {
            let needle = format!("\"{key}\":");
            let start = find(body, needle.as_bytes())? + needle.len();
            let marker = b",\"sign\":\"";
            let end = body.windows(marker.len()).rposition(|w| w == marker)?;
            let sign_end = body.len().checked_sub(2)?;
            (start < end && end + marker.len() <= sign_end).then(|| {
                (
                    &body[start..end],
                    String::from_utf8_lossy(&body[end + marker.len()..sign_end]).into_owned(),
                )
            })
        };
        let charset = if content_type.to_ascii_lowercase().contains("gbk") {
            Charset::Gbk
        } else {
            Charset::Utf8
        };
        let mut fields = Vec::new();
        if let Some(v) = charset
            .decode(body)
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        {
            flatten("", &v, &mut fields);
        }
        let signature = match cut(key).or_else(|| cut("error_response")) {
            None => Signature::Unsigned(format!(
                "the reply has no `{key}` object followed by a sign (not a gateway response)"
            )),
            Some((inner, sign)) => {
                if self.alipay_public.verify(inner, &sign) {
                    Signature::Valid(
                        "sign is the RSA2 signature of the response object's exact text, checked with the Alipay public key".into(),
                    )
                } else {
                    Signature::Invalid(
                        "sign does not verify over the response object's text with the Alipay public key".into(),
                    )
                }
            }
        };
        // The sign itself is shown once, at the end.
        Checked { fields, signature }
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::alipay::keys;
    use crate::protocol::client::ParamValue;
    use serde_json::json;

    #[test]
    fn every_method_is_an_operation() {
        let names: Vec<&str> = OPERATIONS.iter().map(|o| o.name).collect();
        for n in &names {
            assert!(Method::parse(n).is_some(), "{n}");
        }
        assert_eq!(names.len(), 8);
    }

    #[test]
    fn fields_go_to_biz_content_and_the_request_is_signed() {
        let private = PrivateKey::parse(keys::TEST_APP_PRIVATE_KEY).unwrap();
        let c = Client::from_credentials(&json!({
            "gateway": "/alipay/gateway.do",
            "app_id": "2021000000000001",
            "app_private_key": private.to_pem(),
            "alipay_public_key": private.public().to_pem(),
        }))
        .unwrap();
        let ctx = Context {
            now: crate::clock::parse_instant("2026-03-02 10:00", crate::clock::SHANGHAI).unwrap(),
            nonce: String::new(),
        };
        let params = [
            Param {
                name: "out_trade_no".into(),
                value: ParamValue::Text("A1".into()),
            },
            Param {
                name: "notify_url".into(),
                value: ParamValue::Text("http://x/n".into()),
            },
        ];
        let out = c.request("alipay.trade.query", &params, &ctx).unwrap();
        assert_eq!(out.field("biz_content"), Some(r#"{"out_trade_no":"A1"}"#));
        assert_eq!(out.field("notify_url"), Some("http://x/n"));
        assert_eq!(out.field("timestamp"), Some("2026-03-02 10:00:00"));
        let content = sign_content(
            out.fields
                .iter()
                .map(|f| (f.name.as_str(), f.value.as_str())),
            &["sign"],
        );
        assert!(private
            .public()
            .verify(content.as_bytes(), out.field("sign").unwrap()));
        assert!(out
            .path
            .starts_with("/alipay/gateway.do?app_id=2021000000000001&"));
        assert!(std::str::from_utf8(&out.body)
            .unwrap()
            .starts_with("biz_content=%7B"));
    }
}
