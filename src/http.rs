//! Owned HTTP types and a small client.
//!
//! The server turns each hyper request into an [`InboundRequest`] (body already read, capped
//! at [`MAX_BODY_BYTES`]) before anything else sees it, so protocol codecs, the fault gate
//! and handlers are synchronous and testable without a socket. Handlers answer with a
//! [`Reply`] and a [`Delivery`] that says how the server hands it over (now, late, never).
//!
//! The client is what the world uses to send callbacks; the reference settlement system
//! and the harness use it too. Plain HTTP/1.1 over TCP: every target is local.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode, Uri};
use std::time::Duration;
use tokio::net::TcpStream;

/// Largest request body accepted. Real channel requests are a few KB; 1 MiB leaves room
/// for scenario files posted to the control API and refuses anything abusive.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Largest response body the client reads (a bill for a big day can be large).
pub const MAX_CLIENT_BODY_BYTES: usize = 256 << 20;

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
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
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
    String::from_utf8_lossy(&out).into_owned()
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
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// A reply with a body.
    pub fn new(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
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
    /// The body as text, lossily, for the journal.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
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

/// A response the client received.
#[derive(Debug, Clone)]
pub struct ClientResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl ClientResponse {
    /// The body as text, lossily.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a client call produced no response.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not `http://host:port/…`.
    #[error("bad url `{0}`: only http://host[:port]/path is supported")]
    BadUrl(String),
    /// No response within the timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// Connecting or exchanging failed (refused, reset, closed without a reply).
    #[error("{0}")]
    Io(String),
}

impl ClientError {
    /// True when the outcome of the call is unknown to the caller (timeout, lost reply):
    /// the request may or may not have taken effect.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            ClientError::Timeout(_) => true,
            ClientError::Io(m) => !m.contains("refused"),
            ClientError::BadUrl(_) => false,
        }
    }
}

/// Send one request and read the whole response, all within `timeout`.
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    timeout: Duration,
) -> Result<ClientResponse, ClientError> {
    match tokio::time::timeout(timeout, send_inner(method, url, headers, body)).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::Timeout(timeout)),
    }
}

/// POST `body` with `content_type`.
pub async fn post(
    url: &str,
    content_type: &str,
    body: impl Into<Bytes>,
    timeout: Duration,
) -> Result<ClientResponse, ClientError> {
    send(
        Method::POST,
        url,
        &[("content-type", content_type)],
        body.into(),
        timeout,
    )
    .await
}

/// GET.
pub async fn get(url: &str, timeout: Duration) -> Result<ClientResponse, ClientError> {
    send(Method::GET, url, &[], Bytes::new(), timeout).await
}

async fn send_inner(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<ClientResponse, ClientError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| ClientError::BadUrl(url.to_string()))?;
    if uri.scheme_str() != Some("http") {
        return Err(ClientError::BadUrl(url.to_string()));
    }
    let host = uri
        .host()
        .ok_or_else(|| ClientError::BadUrl(url.to_string()))?
        .to_string();
    let port = uri.port_u16().unwrap_or(80);
    let authority = uri
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_else(|| host.clone());
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let host_for_connect = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let stream = TcpStream::connect((host_for_connect.as_str(), port))
        .await
        .map_err(|e| ClientError::Io(format!("connect {authority}: {e}")))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::Io(format!("handshake: {e}")))?;
    // The connection task ends when the exchange is over; it is dropped with the sender.
    let conn_task = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", authority);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| ClientError::Io(format!("request: {e}")))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| ClientError::Io(format!("{e}")))?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let limited = http_body_util::Limited::new(resp.into_body(), MAX_CLIENT_BODY_BYTES);
    let body = limited
        .collect()
        .await
        .map_err(|e| ClientError::Io(format!("reading body: {e}")))?
        .to_bytes();
    drop(sender);
    conn_task.abort();
    Ok(ClientResponse {
        status,
        headers,
        body,
    })
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
