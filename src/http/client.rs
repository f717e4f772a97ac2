//! The small HTTP/1.1 client the world sends callbacks with (the reference settlement
//! system and the harness use it too). Plain HTTP over TCP: every target is local.
//!
//! Every call reads the response body up to a cap and stops there: [`send`], [`post`] and
//! [`get`] up to [`MAX_CLIENT_BODY_BYTES`] (bills), [`send_capped`] and [`post_capped`] up to
//! the caller's (callbacks use [`super::MAX_CALLBACK_BODY_BYTES`]).

use super::MAX_CLIENT_BODY_BYTES;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
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
    let mut incoming = resp.into_body();
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
    // Dropping the body and the connection task closes the socket: an unread rest is never
    // read.
    drop(incoming);
    drop(sender);
    conn_task.abort();
    Ok(ClientResponse {
        status,
        headers,
        body: body.freeze(),
        truncated,
    })
}
