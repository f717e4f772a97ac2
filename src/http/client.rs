//! The small HTTP/1.1 client the world sends callbacks with (the reference settlement
//! system and the harness use it too). Plain HTTP over TCP: every target is local.
//!
//! Every call reads the response body up to a cap and stops there: [`send`], [`post`] and
//! [`get`] up to [`MAX_CLIENT_BODY_BYTES`] (bills), [`send_capped`] and [`post_capped`] up to
//! the caller's (callbacks use [`super::MAX_CALLBACK_BODY_BYTES`]).

use super::MAX_CLIENT_BODY_BYTES;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{HeaderMap, Method, Request, StatusCode, Uri};
use std::time::Duration;
use tokio::net::TcpStream;

/// A response the client received.
#[derive(Debug, Clone)]
pub struct ClientResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body, up to the call's cap.
    pub body: Bytes,
    /// True when the body went on past the cap and the rest was not read.
    pub truncated: bool,
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

/// Send one request and read the response (its body up to [`MAX_CLIENT_BODY_BYTES`]), all
/// within `timeout`.
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    timeout: Duration,
) -> Result<ClientResponse, ClientError> {
    let r = send_capped(method, url, headers, body, timeout, MAX_CLIENT_BODY_BYTES).await?;
    if r.truncated {
        return Err(ClientError::Io(format!(
            "reading body: larger than {MAX_CLIENT_BODY_BYTES} bytes"
        )));
    }
    Ok(r)
}

/// [`send`], reading at most `cap` bytes of the response body: past that it stops reading,
/// closes the connection and marks the response [`ClientResponse::truncated`].
pub async fn send_capped(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    timeout: Duration,
    cap: usize,
) -> Result<ClientResponse, ClientError> {
    match tokio::time::timeout(timeout, send_inner(method, url, headers, body, cap)).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::Timeout(timeout)),
    }
}

/// [`post`], reading at most `cap` bytes of the response body (see [`send_capped`]).
pub async fn post_capped(
    url: &str,
    content_type: &str,
    body: impl Into<Bytes>,
    timeout: Duration,
    cap: usize,
) -> Result<ClientResponse, ClientError> {
    send_capped(
        Method::POST,
        url,
        &[("content-type", content_type)],
        body.into(),
        timeout,
        cap,
    )
    .await
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
    cap: usize,
) -> Result<ClientResponse, ClientError> {
    let target = Target::parse(url)?;
    let (mut sender, conn_task) = connect(&target).await?;
    let req = request(method, &target, headers, body)?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| ClientError::Io(format!("{e}")))?;
    let (response, _) = read_capped(resp, cap).await?;
    // Dropping the sender and the connection task closes the socket: an unread rest is
    // never read.
    drop(sender);
    conn_task.abort();
    Ok(response)
}

/// Where a request goes: parsed once from its URL.
#[derive(Debug, Clone)]
pub(super) struct Target {
    /// Host to connect to (IPv6 brackets removed).
    pub(super) host: String,
    /// Port (80 when the URL gives none).
    pub(super) port: u16,
    /// The `Host` header: the URL's authority as written.
    pub(super) authority: String,
    /// Origin-form path and query.
    pub(super) path: String,
}

impl Target {
    /// Parse `http://host[:port]/path?query`.
    pub(super) fn parse(url: &str) -> Result<Target, ClientError> {
        let bad = || ClientError::BadUrl(url.to_string());
        let uri: Uri = url.parse().map_err(|_| bad())?;
        if uri.scheme_str() != Some("http") {
            return Err(bad());
        }
        let host = uri.host().ok_or_else(bad)?;
        let authority = uri
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_else(|| host.to_string());
        Ok(Target {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: uri.port_u16().unwrap_or(80),
            authority,
            path: uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into()),
        })
    }
}

/// Open a connection to `target`: the sender, and the task driving the connection (abort it
/// to close the socket).
pub(super) async fn connect(
    target: &Target,
) -> Result<(SendRequest<Full<Bytes>>, tokio::task::JoinHandle<()>), ClientError> {
    let stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| ClientError::Io(format!("connect {}: {e}", target.authority)))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::Io(format!("handshake: {e}")))?;
    let conn_task = tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok((sender, conn_task))
}

/// The request to send to `target`.
pub(super) fn request(
    method: Method,
    target: &Target,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Request<Full<Bytes>>, ClientError> {
    let mut req = Request::builder()
        .method(method)
        .uri(target.path.as_str())
        .header("host", target.authority.as_str());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Full::new(body))
        .map_err(|e| ClientError::Io(format!("request: {e}")))
}

/// Read `resp`'s body up to `cap` bytes. The second value is true when the whole body was
/// read (so the connection may carry another exchange), false when it was cut at the cap.
pub(super) async fn read_capped(
    resp: hyper::Response<hyper::body::Incoming>,
    cap: usize,
) -> Result<(ClientResponse, bool), ClientError> {
    let status = resp.status();
    let (parts, mut incoming) = resp.into_parts();
    let mut body = bytes::BytesMut::new();
    let mut truncated = false;
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|e| ClientError::Io(format!("reading body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let room = cap.saturating_sub(body.len());
        if data.len() > room {
            body.extend_from_slice(&data[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&data);
    }
    Ok((
        ClientResponse {
            status,
            headers: parts.headers,
            body: body.freeze(),
            truncated,
        },
        !truncated,
    ))
}
