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

/// Bytes a [`Spool`] holds in memory before it moves to a file. Most statements (a day of a
/// small merchant) are far below it and never touch the disk; a million-row bill is hundreds
/// of megabytes and goes to disk, so serving it costs this much memory, not its size.
pub const SPOOL_MEMORY_BYTES: usize = 1 << 20;

/// Size of the chunks a spooled body is read and sent in.
pub const SPOOL_CHUNK_BYTES: usize = 64 << 10;

/// A body on disk: an unlinked temporary file (it disappears with its last handle), read once.
#[derive(Debug, Clone)]
pub struct Spooled {
    /// Its length in bytes.
    pub len: u64,
    /// The file, positioned at its start; taken by the one response that streams it.
    file: std::sync::Arc<std::sync::Mutex<Option<std::fs::File>>>,
}

impl Spooled {
    /// Take the file to stream it; `None` if it was taken already.
    pub fn take(&self) -> Option<std::fs::File> {
        self.file.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// What a [`Spool`] collected.
#[derive(Debug)]
pub enum SpoolBody {
    /// Small enough to keep.
    Memory(Bytes),
    /// On disk.
    File(Spooled),
}

/// A writer for reply bodies of any size: it keeps up to [`SPOOL_MEMORY_BYTES`] in memory,
/// then moves what it has to an unlinked temporary file and writes on there. Statement
/// writers stream into it under the world's lock, which is then released while the client
/// reads at its own pace.
#[derive(Debug, Default)]
pub struct Spool {
    memory: Vec<u8>,
    file: Option<std::io::BufWriter<std::fs::File>>,
    len: u64,
}

impl Spool {
    /// An empty spool.
    pub fn new() -> Spool {
        Spool::default()
    }

    fn open_file() -> std::io::Result<std::fs::File> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("sandbank-spool-{}-{n}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        // Unlinked at once: the open handle keeps the data; nothing is left behind on exit.
        std::fs::remove_file(&path)?;
        Ok(file)
    }

    /// Finish writing and hand over what was collected.
    pub fn finish(self) -> std::io::Result<SpoolBody> {
        use std::io::{Seek, SeekFrom};
        match self.file {
            None => Ok(SpoolBody::Memory(Bytes::from(self.memory))),
            Some(w) => {
                let mut file = w.into_inner().map_err(|e| e.into_error())?;
                file.seek(SeekFrom::Start(0))?;
                Ok(SpoolBody::File(Spooled {
                    len: self.len,
                    file: std::sync::Arc::new(std::sync::Mutex::new(Some(file))),
                }))
            }
        }
    }
}

impl std::io::Write for Spool {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.file.is_none() && self.memory.len() + buf.len() > SPOOL_MEMORY_BYTES {
            let mut w = std::io::BufWriter::with_capacity(SPOOL_CHUNK_BYTES, Spool::open_file()?);
            w.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some(w);
        }
        match &mut self.file {
            Some(w) => w.write_all(buf)?,
            None => self.memory.extend_from_slice(buf),
        }
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(w) => w.flush(),
            None => Ok(()),
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
    fn a_small_spool_stays_in_memory() {
        use std::io::Write;
        let mut s = Spool::new();
        s.write_all(b"hello").unwrap();
        match s.finish().unwrap() {
            SpoolBody::Memory(b) => assert_eq!(&b[..], b"hello"),
            SpoolBody::File(_) => panic!("5 bytes went to disk"),
        }
    }

    #[test]
    fn a_large_spool_moves_to_an_unlinked_file_and_reads_back_whole() {
        use std::io::{Read, Write};
        let line = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";
        let mut s = Spool::new();
        let n = SPOOL_MEMORY_BYTES / line.len() * 3;
        for _ in 0..n {
            s.write_all(line).unwrap();
        }
        let SpoolBody::File(spooled) = s.finish().unwrap() else {
            panic!("3 MiB stayed in memory")
        };
        assert_eq!(spooled.len, (n * line.len()) as u64);
        let mut back = Vec::new();
        spooled
            .take()
            .expect("the file is there once")
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back.len(), n * line.len());
        assert!(back.chunks(line.len()).all(|c| c == line));
        assert!(spooled.take().is_none(), "a spooled body is streamed once");
        let leftovers = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("sandbank-spool-{}-", std::process::id()))
            })
            .count();
        assert_eq!(leftovers, 0, "spool files are unlinked at once");
    }

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
