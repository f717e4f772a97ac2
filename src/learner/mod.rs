//! `sandbank call`: a learner's client. Against a running sandbank it reads an instance's
//! credentials from the control API, lets the instance's kind fill in and sign a request
//! ([`crate::protocol::client`], implemented in each kind's `client.rs`), sends it, checks
//! the reply's signature and prints both, so that nobody computes a signature by hand.
//!
//! Every failure a user can cause — an unknown instance or operation, a malformed
//! `key=value`, a server that does not answer — is a [`CallError`] whose message names the
//! problem; the command prints it and exits 2.

mod print;

use crate::http::{self, ClientError};
use crate::protocol::client::{Client, Context, Param, ParamValue, Signature};
use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

pub use print::{render_operations, render_result};

/// Where `sandbank call` finds sandbank unless told (`--url`, `SANDBANK_URL`).
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// How long the call waits for the control API and for the channel's or bank's reply. A
/// `hang` fault rule holds a reply for up to 5 minutes; the learner is told the outcome is
/// unknown well before that.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Most `key=value` fields one call takes.
pub const MAX_FIELDS: usize = 64;

/// What went wrong, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CallError(pub String);

fn fail<T>(msg: impl Into<String>) -> Result<T, CallError> {
    Err(CallError(msg.into()))
}

/// What `sandbank call` was asked.
#[derive(Debug, Clone)]
pub struct CallArgs {
    /// `http://host:port` of a running sandbank.
    pub url: String,
    /// The channel or bank id (`wxpay`).
    pub instance: String,
    /// The operation; `None` lists them.
    pub operation: Option<String>,
    /// `key=value` (text) and `key:=json` fields.
    pub fields: Vec<String>,
    /// The control token, if the server wants one.
    pub token: Option<String>,
}

/// Where the instance was found.
#[derive(Debug, Clone)]
pub struct Target {
    /// `channel` or `bank`.
    pub family: &'static str,
    /// Its id.
    pub id: String,
    /// Its kind's name.
    pub kind: String,
}

/// A call made: what was sent and what came back.
pub struct CallResult {
    /// The instance.
    pub target: Target,
    /// Who signed.
    pub signer: String,
    /// The absolute URL.
    pub url: String,
    /// The request as sent.
    pub sent: crate::protocol::client::Outbound,
    /// The reply's status.
    pub status: StatusCode,
    /// Its content type.
    pub content_type: String,
    /// Its body.
    pub body: Bytes,
    /// Its fields and signature check.
    pub checked: crate::protocol::client::Checked,
}

impl CallResult {
    /// False when the reply's signature was checked and found wrong.
    pub fn signature_ok(&self) -> bool {
        !matches!(self.checked.signature, Signature::Invalid(_))
    }
}

/// The answer to `sandbank call`: the operations of an instance, or a call made.
pub enum Outcome {
    /// No operation was named: what the instance offers.
    Operations {
        /// The instance.
        target: Target,
        /// Its client.
        client: Box<dyn Client>,
    },
    /// A call.
    Called(Box<CallResult>),
}

/// Read `key=value` (text) and `key:=json` fields.
pub fn parse_fields(args: &[String]) -> Result<Vec<Param>, CallError> {
    if args.len() > MAX_FIELDS {
        return fail(format!("{} fields given; at most {MAX_FIELDS}", args.len()));
    }
    let mut out: Vec<Param> = Vec::new();
    for a in args {
        let (name, value) = match (a.find(":="), a.find('=')) {
            (Some(j), Some(e)) if j < e => {
                let (k, v) = (&a[..j], &a[j + 2..]);
                let v: Value = serde_json::from_str(v).map_err(|e| {
                    CallError(format!("`{a}`: what follows `:=` is not JSON ({e})"))
                })?;
                (k, ParamValue::Json(v))
            }
            (_, Some(e)) => (&a[..e], ParamValue::Text(a[e + 1..].to_string())),
            (_, None) => {
                return fail(format!(
                    "`{a}` is not a field: write key=value (or key:=json for a JSON value)"
                ))
            }
        };
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            return fail(format!(
                "`{a}`: `{name}` is not a field name (letters, digits, `_` and `.`)"
            ));
        }
        if out.iter().any(|p| p.name == name) {
            return fail(format!("`{name}` is given twice"));
        }
        out.push(Param {
            name: name.to_string(),
            value,
        });
    }
    Ok(out)
}

/// A check of the URL: `http://host[:port]`, without a trailing slash.
fn base_url(url: &str) -> Result<String, CallError> {
    let u = url.trim().trim_end_matches('/');
    let rest = u.strip_prefix("http://").ok_or_else(|| {
        CallError(format!(
            "--url `{url}`: give http://host:port (sandbank serves plain HTTP)"
        ))
    })?;
    if rest.is_empty() || rest.contains('/') {
        return fail(format!(
            "--url `{url}`: give http://host:port, without a path"
        ));
    }
    Ok(u.to_string())
}

/// GET a control route: its JSON, or `None` on 404.
async fn control(base: &str, path: &str, token: Option<&str>) -> Result<Option<Value>, CallError> {
    let url = format!("{base}/_sandbank/{path}");
    let headers: Vec<(&str, &str)> = token
        .map(|t| vec![("x-sandbank-token", t)])
        .unwrap_or_default();
    let r = http::send(Method::GET, &url, &headers, Bytes::new(), CALL_TIMEOUT)
        .await
        .map_err(|e| unreachable(base, &e))?;
    let json: Option<Value> = serde_json::from_slice(&r.body).ok();
    let said = json
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| r.text().chars().take(200).collect());
    match r.status {
        StatusCode::OK => json
            .map(Some)
            .ok_or_else(|| CallError(format!("{url} did not answer JSON: is {base} a sandbank?"))),
        StatusCode::NOT_FOUND => Ok(None),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => fail(format!(
            "the control API at {base} refused: {said} (give its token with --control-token)"
        )),
        s => fail(format!("{url} answered {s}: {said}")),
    }
}

/// The message for a server that could not be asked.
fn unreachable(base: &str, e: &ClientError) -> CallError {
    match e {
        ClientError::Timeout(d) => CallError(format!(
            "no answer from {base} within {}s",
            d.as_secs()
        )),
        _ => CallError(format!(
            "cannot reach sandbank at {base}: {e} (is `sandbank serve` running there? --url or SANDBANK_URL say where)"
        )),
    }
}

/// The instance `id` and a client for it.
async fn find(
    base: &str,
    id: &str,
    token: Option<&str>,
) -> Result<(Target, Box<dyn Client>), CallError> {
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
    {
        return fail(format!(
            "`{id}` is not an instance id (the `id` of a channel or bank, e.g. wxpay)"
        ));
    }
    let (family, creds) = match control(base, &format!("channels/{id}"), token).await? {
        Some(c) => ("channel", c),
        None => match control(base, &format!("banks/{id}"), token).await? {
            Some(c) => ("bank", c),
            None => {
                let mut known = Vec::new();
                for (list, key) in [("channels", "channels"), ("banks", "banks")] {
                    if let Some(v) = control(base, list, token).await? {
                        for i in v[key].as_array().map(Vec::as_slice).unwrap_or_default() {
                            known.push(format!(
                                "{} ({})",
                                i["id"].as_str().unwrap_or_default(),
                                i["kind"].as_str().unwrap_or_default()
                            ));
                        }
                    }
                }
                return fail(format!(
                    "no channel or bank `{id}` at {base}; it has: {}",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ));
            }
        },
    };
    let kind = creds["kind"].as_str().unwrap_or_default().to_string();
    let client = match family {
        "channel" => crate::channels::client(&creds),
        _ => crate::banks::client(&creds),
    }
    .ok_or_else(|| {
        CallError(format!(
            "{family} `{id}` is of kind `{kind}`, which this sandbank call does not know"
        ))
    })?
    .map_err(|e| CallError(format!("{family} `{id}`: {e}")))?;
    Ok((
        Target {
            family,
            id: id.to_string(),
            kind,
        },
        client,
    ))
}

/// Run `sandbank call`.
pub async fn call(args: &CallArgs) -> Result<Outcome, CallError> {
    let base = base_url(&args.url)?;
    let token = args.token.as_deref();
    let (target, client) = find(&base, &args.instance, token).await?;
    let Some(op) = args.operation.as_deref() else {
        return Ok(Outcome::Operations { target, client });
    };
    let Some(op) = client.operations().iter().find(|o| o.name == op) else {
        let names: Vec<&str> = client.operations().iter().map(|o| o.name).collect();
        return fail(format!(
            "{} `{}` ({}) has no operation `{op}`; it has: {}",
            target.family,
            target.id,
            target.kind,
            names.join(", ")
        ));
    };
    let params = parse_fields(&args.fields)?;
    // Time from the world clock; the nonce from one of the world's seeded streams.
    let health = control(&base, "health", token).await?.ok_or_else(|| {
        CallError(format!(
            "{base}/_sandbank/health is missing: is it a sandbank?"
        ))
    })?;
    let now = health["now"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok_or_else(|| CallError(format!("{base}/_sandbank/health tells no clock")))?;
    let seed = health["seed"].as_u64().unwrap_or_default();
    let key: Vec<String> = params
        .iter()
        .map(|p| format!("{}={}", p.name, p.value.text()))
        .collect();
    let nonce = crate::rng::stream_from_start(
        seed,
        &target.id,
        &format!("call/{}/{}/{}", op.name, now.to_rfc3339(), key.join("&")),
    )
    .alnum(32);
    let sent = client
        .request(op.name, &params, &Context { now, nonce })
        .map_err(CallError)?;
    let url = format!("{base}{}", sent.path);
    let r = http::send(
        sent.method.clone(),
        &url,
        &[("content-type", sent.content_type)],
        sent.body.clone(),
        CALL_TIMEOUT,
    )
    .await
    .map_err(|e| match e {
        ClientError::Timeout(d) => CallError(format!(
            "no reply from {url} within {}s: the outcome is unknown (a `hang` fault rule? GET /_sandbank/faults)",
            d.as_secs()
        )),
        e if e.outcome_unknown() => CallError(format!(
            "{url}: {e}: the request was sent and the reply lost, so its outcome is unknown (a `reset` fault rule? GET /_sandbank/faults)"
        )),
        e => unreachable(&base, &e),
    })?;
    let content_type = r
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let checked = client.check(&sent, r.status, &content_type, &r.body);
    Ok(Outcome::Called(Box::new(CallResult {
        target,
        signer: client.signer(),
        url,
        sent,
        status: r.status,
        content_type,
        body: r.body,
        checked,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_text_or_json() {
        let p = parse_fields(&[
            "a=1".into(),
            "b:=1".into(),
            "c=x=y".into(),
            "d:={\"k\":[1]}".into(),
            "e=".into(),
            "f=a:=b".into(),
        ])
        .unwrap();
        assert_eq!(p[0].value, ParamValue::Text("1".into()));
        assert_eq!(p[1].value, ParamValue::Json(json!(1)));
        assert_eq!(p[2].value, ParamValue::Text("x=y".into()));
        assert_eq!(p[3].value, ParamValue::Json(json!({"k": [1]})));
        assert_eq!(p[4].value, ParamValue::Text(String::new()));
        assert_eq!(p[5].value, ParamValue::Text("a:=b".into()));
    }

    #[test]
    fn bad_fields_are_named() {
        let e = |a: &[&str]| {
            parse_fields(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap_err()
                .0
        };
        assert!(e(&["total_fee"]).contains("`total_fee` is not a field"));
        assert!(e(&["=1"]).contains("is not a field name"));
        assert!(e(&["a b=1"]).contains("is not a field name"));
        assert!(e(&["a:=nope"]).contains("is not JSON"));
        assert!(e(&["a=1", "a=2"]).contains("`a` is given twice"));
        let many: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("f{i}=1")).collect();
        assert!(parse_fields(&many).unwrap_err().0.contains("at most"));
    }

    #[test]
    fn urls_are_http_host_and_port() {
        assert_eq!(
            base_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(base_url("https://x").unwrap_err().0.contains("plain HTTP"));
        assert!(base_url("http://x:1/wxpay")
            .unwrap_err()
            .0
            .contains("without a path"));
        assert!(base_url("127.0.0.1:8080").is_err());
    }
}
