//! How `sandbank call` shows a call: the request's fields (those it filled in marked, with
//! how), the reply's fields, and which signature was checked with what result.

use super::{CallResult, Target};
use crate::protocol::client::{Client, Signature};

/// Longest field name the columns make room for; longer ones push their value along.
const NAME_WIDTH_MAX: usize = 48;

/// Most bytes of a reply body shown when it is not a structured reply (a bill).
const BODY_SHOWN_MAX: usize = 16 << 10;

/// Most characters of one value shown (an RSA signature is 344).
const VALUE_SHOWN_MAX: usize = 400;

fn width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .min(NAME_WIDTH_MAX)
}

fn clip(v: &str) -> String {
    if v.chars().count() <= VALUE_SHOWN_MAX {
        v.to_string()
    } else {
        let head: String = v.chars().take(VALUE_SHOWN_MAX).collect();
        format!("{head}… ({} characters)", v.chars().count())
    }
}

/// What an instance offers: its operations, each with an example.
pub fn render_operations(target: &Target, client: &dyn Client) -> String {
    let mut s = format!(
        "{} `{}` ({}), requests signed as {}; operations:\n",
        target.family,
        target.id,
        target.kind,
        client.signer()
    );
    let w = width(client.operations().iter().map(|o| o.name));
    for o in client.operations() {
        s.push_str(&format!("  {:w$}  {}\n", o.name, o.about));
    }
    s.push_str("\nexamples:\n");
    for o in client.operations() {
        s.push_str(&format!(
            "  sandbank call {} {} {}\n",
            target.id, o.name, o.example
        ));
    }
    s.push_str("\nFields are key=value (or key:=json); the client fills in and signs the rest.\n");
    s
}

/// A call, request and reply. With `raw`, the bodies as they went over the wire too.
pub fn render_result(r: &CallResult, raw: bool) -> String {
    // A query string of signed parameters is long and shown below field by field.
    let url = match r.url.split_once('?') {
        Some((path, _)) if !raw => format!("{path}?…  (the query string in full with --raw)"),
        _ => r.url.clone(),
    };
    let mut s = format!(
        "> {} {url}\n  ({} `{}`, {}; signed as {})\n",
        r.sent.method, r.target.family, r.target.id, r.target.kind, r.signer
    );
    let w = width(r.sent.fields.iter().map(|f| f.name.as_str()));
    for f in &r.sent.fields {
        let value = clip(&f.value);
        match &f.filled {
            Some(how) => s.push_str(&format!("  {:w$}  {value}   (filled in: {how})\n", f.name)),
            None => s.push_str(&format!("  {:w$}  {value}\n", f.name)),
        }
    }
    if raw {
        s.push_str(&format!(
            "  body ({}):\n{}\n",
            r.sent.content_type,
            String::from_utf8_lossy(&r.sent.body)
        ));
    }
    s.push_str(&format!(
        "\n< {} ({}, {} bytes)\n",
        r.status,
        if r.content_type.is_empty() {
            "no content type"
        } else {
            &r.content_type
        },
        r.body.len()
    ));
    if r.checked.fields.is_empty() || raw {
        let shown = &r.body[..r.body.len().min(BODY_SHOWN_MAX)];
        s.push_str(&String::from_utf8_lossy(shown));
        if r.body.len() > BODY_SHOWN_MAX {
            s.push_str(&format!(
                "\n… ({} more bytes)",
                r.body.len() - BODY_SHOWN_MAX
            ));
        }
        s.push('\n');
    }
    let w = width(r.checked.fields.iter().map(|(k, _)| k.as_str()));
    for (k, v) in &r.checked.fields {
        s.push_str(&format!("  {k:w$}  {}\n", clip(v)));
    }
    s.push('\n');
    match &r.checked.signature {
        Signature::Valid(how) => s.push_str(&format!("signature: valid — {how}\n")),
        Signature::Invalid(why) => s.push_str(&format!("signature: INVALID — {why}\n")),
        Signature::Unsigned(why) => s.push_str(&format!("signature: none to check — {why}\n")),
    }
    s
}
