//! Owned HTTP types and a small client.
//!
//! The server turns each hyper request into an [`InboundRequest`] (body already read, capped
//! at [`MAX_BODY_BYTES`]) before anything else sees it, so protocol codecs, the fault gate
//! and handlers are synchronous and testable without a socket. Handlers answer with a
//! [`Reply`] and a [`Delivery`] that says how the server hands it over (now, late, never).
//!
//! The client is what the world uses to send callbacks, over kept-alive connections pooled
//! per destination ([`pool`]); the reference settlement system and the harness use it too,
//! a connection per request. Plain HTTP/1.1 over TCP: every target is local.

pub mod client;
pub mod pool;
pub mod spool;

pub use client::{get, post, post_capped, send, send_capped, ClientError, ClientResponse};
pub use pool::{Pool, IDLE_TIMEOUT, MAX_CONNECTIONS_PER_DESTINATION, MAX_IDLE_CONNECTIONS};
pub use spool::{Spool, SpoolBody, Spooled, SPOOL_CHUNK_BYTES, SPOOL_MEMORY_BYTES};

use bytes::Bytes;
use hyper::{HeaderMap, Method, StatusCode};
use std::time::Duration;

/// Largest request body accepted. Real channel requests are a few KB; 1 MiB leaves room
/// for scenario files posted to the control API and refuses anything abusive.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Largest response body the client reads by default (a bill for a big day can be large):
/// the harness and the reference settlement system download bills with it.
pub const MAX_CLIENT_BODY_BYTES: usize = 256 << 20;

/// Most of a callback's answer read (a merchant's reply to a payment notification). An ack is
/// a few hundred bytes (`<xml><return_code>SUCCESS</return_code>…</xml>`); 64 KiB judges any
/// honest one, while a 200 MB answer once cost the process 600 MB. The rest is not read.
pub const MAX_CALLBACK_BODY_BYTES: usize = 64 << 10;

/// A request with its body read.
#[derive(Debug, Clone)]
pub struct InboundRequest {
    /// Method.
    pub method: Method,
    /// Path below the instance mount, without leading slash (`pay/unifiedorder`).
    pub path: String,
    /// Raw query string.
    pub query: Option<String>,
    /// Headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl InboundRequest {
    /// A query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query.as_deref()?;
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k) == name).then(|| percent_decode(v))
        })
    }
}

/// Decode `%XX` escapes and `+` (as space) in a query component.
pub fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(s.as_bytes())).into_owned()
}

/// [`percent_decode`] to bytes, for a caller that applies a charset of its own afterwards
/// (a GBK form, say).
pub fn percent_decode_bytes(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                let hex = std::str::from_utf8(&s[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// A reply to send.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Content type.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body, when it is held in memory.
    pub body: Bytes,
    /// The body, when it was too large to hold: streamed from a spool file instead of `body`.
    pub spooled: Option<Spooled>,
}

impl Reply {
    /// A reply with a body.
    pub fn new(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
            spooled: None,
        }
    }
    /// `200` with XML.
    pub fn xml(body: impl Into<Bytes>) -> Reply {
        Reply::new(StatusCode::OK, "text/xml; charset=utf-8", body)
    }
    /// A JSON reply.
    pub fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
        Reply::new(
            status,
            "application/json",
            serde_json::to_vec(value).unwrap_or_default(),
        )
    }
    /// A plain-text reply.
    pub fn text(status: StatusCode, body: impl Into<String>) -> Reply {
        Reply::new(status, "text/plain; charset=utf-8", body.into())
    }
    /// A reply whose body is whatever `spool` collected: in memory if small, else streamed
    /// from its file.
    pub fn from_spool(status: StatusCode, content_type: &'static str, spool: SpoolBody) -> Reply {
        match spool {
            SpoolBody::Memory(bytes) => Reply::new(status, content_type, bytes),
            SpoolBody::File(spooled) => Reply {
                spooled: Some(spooled),
                ..Reply::new(status, content_type, Bytes::new())
            },
        }
    }

    /// The body as text, lossily, for the journal.
    pub fn body_text(&self) -> String {
        match &self.spooled {
            Some(s) => format!("({} bytes, streamed from a spool file)", s.len),
            None => String::from_utf8_lossy(&self.body).into_owned(),
        }
    }
}

/// How the server hands a reply over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// At once.
    Now,
    /// After this long (real time).
    After(Duration),
    /// Never: hold the connection until the client gives up (or a cap), then close it.
    Hang,
    /// Never: close the connection without a reply.
    Reset,
}

/// What a handler produces.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The reply (unsent when delivery is `Hang` or `Reset`).
    pub reply: Reply,
    /// How to deliver it.
    pub delivery: Delivery,
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Outcome {
        Outcome {
            reply,
            delivery: Delivery::Now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        let r = InboundRequest {
            method: Method::GET,
            path: String::new(),
            query: Some("kind=callback&reference=A%2FB&x=a+b".into()),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        };
        assert_eq!(r.query_param("reference").as_deref(), Some("A/B"));
        assert_eq!(r.query_param("x").as_deref(), Some("a b"));
        assert_eq!(r.query_param("missing"), None);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
