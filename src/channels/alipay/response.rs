//! Writing the Alipay gateway's answers: signed JSON responses, the public return codes, and
//! times as every Alipay field writes them.
//!
//! **Responses.** `{"<method with _>_response":{…},"sign":"…"}`, where the sign is the
//! Alipay key's RSA2 signature of the exact bytes of the inner object as sent: the JSON text
//! is built once, signed, and sent as is (SDKs verify by cutting that text out of the body).
//! An unknown method answers under `error_response`. Times are written in Beijing time,
//! `yyyy-MM-dd HH:mm:ss` ([`local_time`]), in responses and notifications alike.

use super::codec::Charset;
use super::keys::PrivateKey;
use crate::clock::{Instant, SHANGHAI};
use crate::http::Reply;
use hyper::StatusCode;
use serde_json::Value;

/// A public return code (docs/protocols.md, "B.3").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// `10000` Success.
    Success,
    /// `10003`: `alipay.trade.pay` accepted, the buyer has still to confirm (WAIT_BUYER_PAY).
    InProcess,
    /// `20000` Service Currently Unavailable: the outcome is unknown, query.
    Unavailable,
    /// `20001` Insufficient Token Permissions.
    TokenPermissions,
    /// `40001` Missing Required Arguments.
    Missing,
    /// `40002` Invalid Arguments.
    Invalid,
    /// `40004` Business Failed.
    Business,
    /// `40006` Insufficient Permissions.
    Permissions,
}

impl Code {
    /// `code` and `msg`.
    pub fn pair(self) -> (&'static str, &'static str) {
        match self {
            Code::Success => ("10000", "Success"),
            Code::InProcess => ("10003", "order success pay inprocess"),
            Code::Unavailable => ("20000", "Service Currently Unavailable"),
            Code::TokenPermissions => ("20001", "Insufficient Token Permissions"),
            Code::Missing => ("40001", "Missing Required Arguments"),
            Code::Invalid => ("40002", "Invalid Arguments"),
            Code::Business => ("40004", "Business Failed"),
            Code::Permissions => ("40006", "Insufficient Permissions"),
        }
    }

    /// The code of a numeric `code` string.
    pub fn from_number(n: &str) -> Option<Code> {
        [
            Code::Success,
            Code::InProcess,
            Code::Unavailable,
            Code::TokenPermissions,
            Code::Missing,
            Code::Invalid,
            Code::Business,
            Code::Permissions,
        ]
        .into_iter()
        .find(|c| c.pair().0 == n)
    }
}
/// The JSON text of an object with `fields` in this order.
pub fn object_text(fields: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Serialising a str or a Value cannot fail.
        out.push_str(&serde_json::to_string(k).unwrap_or_default());
        out.push(':');
        out.push_str(&serde_json::to_string(v).unwrap_or_default());
    }
    out.push('}');
    out
}

/// `yyyy-MM-dd HH:mm:ss` in Beijing time, as every Alipay time field is written.
pub fn local_time(t: Instant) -> String {
    t.with_timezone(&SHANGHAI)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A signed gateway response under `response_key`: `code` and `msg`, `sub_code` and
/// `sub_msg` when given, then `fields`; the inner object's text is built once and its bytes
/// in `charset` are what the sign covers.
pub fn respond(
    key: &PrivateKey,
    response_key: &str,
    charset: Charset,
    code: Code,
    sub: Option<(&str, &str)>,
    fields: Vec<(&str, Value)>,
) -> Reply {
    let (c, msg) = code.pair();
    let mut all: Vec<(&str, Value)> = vec![("code", c.into()), ("msg", msg.into())];
    if let Some((sub_code, sub_msg)) = sub {
        all.push(("sub_code", sub_code.into()));
        all.push(("sub_msg", sub_msg.into()));
    }
    all.extend(fields);
    let inner = object_text(&all);
    let inner_bytes = charset.encode(&inner);
    let sign = key.sign(&inner_bytes);
    let mut body = Vec::with_capacity(inner_bytes.len() + sign.len() + response_key.len() + 16);
    body.extend_from_slice(b"{\"");
    body.extend_from_slice(response_key.as_bytes());
    body.extend_from_slice(b"\":");
    body.extend_from_slice(&inner_bytes);
    body.extend_from_slice(b",\"sign\":\"");
    body.extend_from_slice(sign.as_bytes());
    body.extend_from_slice(b"\"}");
    Reply::new(StatusCode::OK, charset.content_type(), body)
}
