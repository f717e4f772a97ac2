//! The client side of a kind's API, for `sandbank call`: what a learner gives (an operation
//! and `key=value` fields), the request a kind builds from it — the fields a client must
//! fill in (ids, nonce, time, signature) filled in, signed with the kind's own signing code
//! — and the reply read back with its signature checked.
//!
//! Each kind implements [`Client`] in its own folder (`channels/*/client.rs`,
//! `banks/*/client.rs`) from the credentials the control API hands out; the learner's
//! command (`crate::learner`, above the kinds) only sends and prints.

use crate::clock::Instant;
use bytes::Bytes;
use hyper::{Method, StatusCode};

/// One operation a kind's client can call.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// Its name on the command line: the API path or method (`pay/unifiedorder`).
    pub name: &'static str,
    /// What it does, in a few words.
    pub about: &'static str,
    /// The fields a learner gives, as an example command line tail.
    pub example: &'static str,
}

/// A field's value as given on the command line: `key=value` is text, `key:=json` is a
/// JSON value (a number, an object) for the kinds whose bodies are JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// `key=value`.
    Text(String),
    /// `key:=json`.
    Json(serde_json::Value),
}

impl ParamValue {
    /// The value as flat text: text as is, JSON strings unquoted, other JSON as its text.
    pub fn text(&self) -> String {
        match self {
            ParamValue::Text(s) | ParamValue::Json(serde_json::Value::String(s)) => s.clone(),
            ParamValue::Json(v) => v.to_string(),
        }
    }

    /// The value as JSON: text as a JSON string.
    pub fn json(&self) -> serde_json::Value {
        match self {
            ParamValue::Text(s) => serde_json::Value::String(s.clone()),
            ParamValue::Json(v) => v.clone(),
        }
    }
}

/// One field the learner gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: ParamValue,
}

/// What a request may draw on besides the learner's fields: the world clock's instant and
/// a nonce from one of the world's seeded streams.
#[derive(Debug, Clone)]
pub struct Context {
    /// The world clock now (time fields are filled from it).
    pub now: Instant,
    /// A 32-character alphanumeric nonce.
    pub nonce: String,
}

/// A field of a request as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// Name.
    pub name: String,
    /// Value as sent.
    pub value: String,
    /// How the client filled it in, when the learner did not give it.
    pub filled: Option<String>,
}

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// HTTP method.
    pub method: Method,
    /// Path (and query) from the server's root: `/wxpay/pay/unifiedorder`.
    pub path: String,
    /// `content-type` of the body.
    pub content_type: &'static str,
    /// The body.
    pub body: Bytes,
    /// Its fields, in the order they are shown.
    pub fields: Vec<Shown>,
}

impl Outbound {
    /// The value of field `name` as sent.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }
}

/// What the reply's signature said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// Checked and right; how it was checked.
    Valid(String),
    /// Checked and wrong (or missing where the protocol signs); what was expected.
    Invalid(String),
    /// The protocol does not sign this reply; why.
    Unsigned(String),
}

/// A reply, read.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Its fields, flattened for printing (`trade_state`, `alipay_trade_query_response.code`).
    /// Empty when the body is not the kind's structured reply (a bill, an HTML error).
    pub fields: Vec<(String, String)>,
    /// The signature check.
    pub signature: Signature,
}

/// A kind's client, made from the credentials `GET /_sandbank/{channels|banks}/{id}` hands
/// out.
pub trait Client: Send + Sync {
    /// The operations it can call.
    fn operations(&self) -> &'static [Operation];

    /// Who signs: `merchant 10000100`, `app 2021000000000001`.
    fn signer(&self) -> String;

    /// The signed request for operation `op` with the learner's `params`. `op` is one of
    /// [`Client::operations`]; an error names the field and the problem.
    fn request(&self, op: &str, params: &[Param], ctx: &Context) -> Result<Outbound, String>;

    /// Read the reply to `sent` and check its signature.
    fn check(
        &self,
        sent: &Outbound,
        status: StatusCode,
        content_type: &str,
        body: &[u8],
    ) -> Checked;
}

/// The entries of credentials `c` under `list`, each read by `read`; when the list is
/// missing or empty, `c` itself read as the one entry (credentials list every client of an
/// instance, or give one at the top level).
pub fn credential_entries<T>(
    c: &serde_json::Value,
    list: &str,
    read: impl Fn(&serde_json::Value) -> Option<T>,
) -> Vec<T> {
    let listed: Vec<T> = c
        .get(list)
        .and_then(serde_json::Value::as_array)
        .map(|a| a.iter().filter_map(&read).collect())
        .unwrap_or_default();
    if listed.is_empty() {
        read(c).into_iter().collect()
    } else {
        listed
    }
}

/// The text field `name` of credentials `c`, or an error naming it.
pub fn credential_str(c: &serde_json::Value, name: &str) -> Result<String, String> {
    c.get(name)
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("the credentials name no `{name}`"))
}

/// The value of `name` among `params`, as text.
pub fn given(params: &[Param], name: &str) -> Option<String> {
    params
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.text())
}

/// A JSON value flattened into `(path, text)` rows: objects by `.key`, arrays by `[i]`,
/// strings unquoted.
pub fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_read_as_text_and_json() {
        assert_eq!(ParamValue::Text("101".into()).text(), "101");
        assert_eq!(ParamValue::Text("101".into()).json(), json!("101"));
        assert_eq!(ParamValue::Json(json!(101)).text(), "101");
        assert_eq!(ParamValue::Json(json!("x")).text(), "x");
        assert_eq!(ParamValue::Json(json!({"a":1})).text(), r#"{"a":1}"#);
    }

    #[test]
    fn json_flattens_to_paths() {
        let mut out = Vec::new();
        flatten("r", &json!({"a": {"b": "x"}, "c": [1, true]}), &mut out);
        assert_eq!(
            out,
            vec![
                ("r.a.b".to_string(), "x".to_string()),
                ("r.c[0]".to_string(), "1".to_string()),
                ("r.c[1]".to_string(), "true".to_string()),
            ]
        );
    }
}
