//! The HTTP server: hyper 1 on tokio.
//!
//! [`run`] takes a listener it did not create (tests bind `127.0.0.1:0`) and a shutdown
//! future. Each request is turned into an owned [`InboundRequest`] with its body read and
//! capped, then routed by its first path segment: `/_sandbank/…` to the control API,
//! `/{id}/…` to the channel or bank mounted there. The handler's [`Delivery`] then says how
//! the reply goes out: now, after a delay, never (hang), or never (reset).
//!
//! Slow and idle clients cannot hold the server ([`ServerLimits`]): headers must arrive within
//! [`HEADER_READ_TIMEOUT`] (idle keep-alive connections are closed on the same clock), a body
//! within [`BODY_READ_TIMEOUT`], and at most [`MAX_CONNECTIONS`] are open at once — past that
//! the oldest connection is asked to close (at once if idle, after its exchange if busy) to
//! make room, and a newcomer that finds no room within [`CONNECTION_WAIT`] is closed.

mod limits;
mod running;

pub use limits::{
    ServerLimits, BODY_READ_TIMEOUT, CONNECTION_WAIT, HEADER_READ_TIMEOUT, MAX_CONNECTIONS,
    SHUTDOWN_GRACE,
};
pub use running::Running;

use crate::control;
use crate::control::guard::Access;
use crate::faults::HANG_MAX_MS;
use crate::http::{Delivery, InboundRequest, Outcome, Reply, MAX_BODY_BYTES, SPOOL_CHUNK_BYTES};
use crate::world::Sandbank;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use limits::{Busy, Connections};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The reply was deliberately lost: returning this error makes hyper close the connection
/// without a response.
#[derive(Debug)]
pub struct ReplyLost;

impl std::fmt::Display for ReplyLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reply lost by a fault rule")
    }
}
impl std::error::Error for ReplyLost {}

/// Serve until `shutdown` completes, then stop accepting, release hanging requests, and wait
/// up to [`SHUTDOWN_GRACE`] for open exchanges. Uses the default [`ServerLimits`].
pub async fn run(
    listener: TcpListener,
    sb: Arc<Sandbank>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    run_configured(
        listener,
        sb,
        shutdown,
        ServerLimits::default(),
        Access::default(),
    )
    .await
}

/// [`run`] with these limits (the control API guarded by default).
pub async fn run_with_limits(
    listener: TcpListener,
    sb: Arc<Sandbank>,
    shutdown: impl Future<Output = ()>,
    limits: ServerLimits,
) -> std::io::Result<()> {
    run_configured(listener, sb, shutdown, limits, Access::default()).await
}

/// [`run`], with the control API guarded by `access` (see [`control::guard`]).
pub async fn run_with(
    listener: TcpListener,
    sb: Arc<Sandbank>,
    access: Access,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    run_configured(listener, sb, shutdown, ServerLimits::default(), access).await
}

/// [`run`] with these limits and this guard on the control API.
pub async fn run_configured(
    listener: TcpListener,
    sb: Arc<Sandbank>,
    shutdown: impl Future<Output = ()>,
    limits: ServerLimits,
    access: Access,
) -> std::io::Result<()> {
    let listen = listener.local_addr()?;
    let access = Arc::new(access);
    let max = limits.max_connections.max(1);
    let room = Arc::new(tokio::sync::Semaphore::new(max));
    let open = Arc::new(std::sync::Mutex::new(Connections::default()));
    let (down_tx, down_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        // Accept errors (e.g. too many open files) are transient: log and go on.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(
                    stream,
                    sb.clone(),
                    room.clone(),
                    open.clone(),
                    down_rx.clone(),
                    limits,
                    (access.clone(), listen),
                ));
            }
            _ = &mut shutdown => break,
        }
    }
    sb.shutdown();
    let _ = down_tx.send(true);
    // Every connection holds a permit until it ends: all of them back means all are done.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, room.acquire_many(max as u32)).await;
    Ok(())
}

/// Serve one connection once there is room for it.
async fn connection(
    stream: tokio::net::TcpStream,
    sb: Arc<Sandbank>,
    room: Arc<tokio::sync::Semaphore>,
    open: Arc<std::sync::Mutex<Connections>>,
    mut down: tokio::sync::watch::Receiver<bool>,
    limits: ServerLimits,
    (access, listen): (Arc<Access>, std::net::SocketAddr),
) {
    let permit = match room.clone().try_acquire_owned() {
        Ok(p) => p,
        Err(_) => {
            // Full: ask the oldest connection to make room, and wait for it.
            let oldest = Connections::lock(&open).open.pop_first();
            if let Some((_, bell)) = oldest {
                bell.notify_one();
            }
            match tokio::time::timeout(limits.connection_wait, room.acquire_owned()).await {
                Ok(Ok(p)) => p,
                // No room in time (or the server is stopping): close it unserved.
                _ => return,
            }
        }
    };
    let bell = Arc::new(tokio::sync::Notify::new());
    let id = {
        let mut c = Connections::lock(&open);
        c.next += 1;
        let id = c.next;
        c.open.insert(id, bell.clone());
        id
    };
    let body_timeout = limits.body_read_timeout;
    let busy = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let in_service = busy.clone();
    let service = service_fn(move |req| {
        let guard = Busy::enter(&in_service);
        let sb = sb.clone();
        let access = access.clone();
        async move {
            let response = handle(sb, access, listen, req, body_timeout).await?;
            // Busy until the response body is sent (or dropped).
            Ok::<_, ReplyLost>(response.map(|body| {
                body.map_frame(move |frame| {
                    let _sending = &guard;
                    frame
                })
                .boxed_unsync()
            }))
        }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    // Errors here are clients going away, timing out, or replies deliberately lost.
    let asked_to_close = tokio::select! {
        _ = conn.as_mut() => false,
        _ = bell.notified() => true,
        _ = async { let _ = down.wait_for(|d| *d).await; } => true,
    };
    // Between exchanges (waiting for headers, or idle) the connection is simply dropped: no
    // request of it has been handled. Mid-exchange it finishes that exchange first.
    if asked_to_close && busy.load(std::sync::atomic::Ordering::SeqCst) > 0 {
        conn.as_mut().graceful_shutdown();
        let _ = conn.as_mut().await;
    }
    Connections::lock(&open).open.remove(&id);
    drop(permit);
}

/// A response body: in memory, or streamed from a spool file.
type Body = UnsyncBoxBody<Bytes, std::io::Error>;

async fn handle(
    sb: Arc<Sandbank>,
    access: Arc<Access>,
    listen: std::net::SocketAddr,
    req: Request<Incoming>,
    body_timeout: Duration,
) -> Result<Response<Body>, ReplyLost> {
    let (parts, body) = req.into_parts();
    // The control API obeys only its own users: checked before the body is read.
    let is_control =
        parts.uri.path().trim_start_matches('/').split('/').next() == Some("_sandbank");
    if is_control {
        // The inspector's own files carry no world data: Host and Origin are checked, the
        // token is not (the page asks for it, and sends it with every control call).
        let page = parts.method == hyper::Method::GET
            && control::ui::is_asset_path(
                parts
                    .uri
                    .path()
                    .trim_start_matches('/')
                    .trim_start_matches("_sandbank"),
            );
        if let Some(refusal) = access.check_page(listen, &parts.uri, &parts.headers, page) {
            return Ok(to_response(refusal));
        }
    }
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        Ok(to_response(Reply::text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {MAX_BODY_BYTES} bytes"),
        )))
    };
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return too_large();
    }
    let collected =
        tokio::time::timeout(body_timeout, Limited::new(body, MAX_BODY_BYTES).collect()).await;
    let body = match collected {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Ok(Err(_)) => return Err(ReplyLost),
        Err(_) => {
            let mut r = to_response(Reply::text(
                StatusCode::REQUEST_TIMEOUT,
                format!("request body not received within {body_timeout:?}"),
            ));
            // The rest of the body may still be on its way: do not read it as a next request.
            r.headers_mut().insert(
                hyper::header::CONNECTION,
                hyper::header::HeaderValue::from_static("close"),
            );
            return Ok(r);
        }
    };
    let uri = parts.uri;
    let full_path = uri.path().trim_start_matches('/');
    let (mount, rest) = full_path.split_once('/').unwrap_or((full_path, ""));
    let req = InboundRequest {
        method: parts.method,
        path: rest.to_string(),
        query: uri.query().map(str::to_string),
        headers: parts.headers,
        body,
    };
    let outcome: Outcome = match mount {
        "_sandbank" => control::handle(&sb, req).await.into(),
        "" => index(&sb).into(),
        id => match sb.serve(id, &req) {
            Some(outcome) => outcome,
            None => Reply::json(
                StatusCode::NOT_FOUND,
                &serde_json::json!({"error": format!("no channel or bank is mounted at /{id}/"), "mounted": mounts(&sb)}),
            )
            .into(),
        },
    };
    deliver(&sb, outcome).await
}

async fn deliver(sb: &Sandbank, outcome: Outcome) -> Result<Response<Body>, ReplyLost> {
    match outcome.delivery {
        Delivery::Now => Ok(to_response(outcome.reply)),
        Delivery::After(d) => {
            // A delay is bounded (`clock::MAX_DURATION_DAYS`) but may still outlast the
            // server: shutdown releases it, as it does a hang.
            let mut shutdown = sb.shutdown_signal();
            tokio::select! {
                _ = tokio::time::sleep(d) => Ok(to_response(outcome.reply)),
                _ = shutdown.wait_for(|down| *down) => Err(ReplyLost),
            }
        }
        Delivery::Hang => {
            let mut shutdown = sb.shutdown_signal();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(HANG_MAX_MS)) => {}
                _ = shutdown.wait_for(|down| *down) => {}
            }
            Err(ReplyLost)
        }
        Delivery::Reset => Err(ReplyLost),
    }
}

fn to_response(reply: Reply) -> Response<Body> {
    use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, SERVER};
    let spooled = reply
        .spooled
        .as_ref()
        .and_then(|s| s.take().map(|f| (f, s.len)));
    let (body, length) = match spooled {
        Some((file, len)) => (spool_stream(file), Some(len)),
        None => (
            Full::new(reply.body)
                .map_err(|never| match never {})
                .boxed_unsync(),
            None,
        ),
    };
    // Built in place rather than through `Response::builder()`, whose every step re-checks
    // and re-wraps the response (a tenth of the server's own work on a small reply).
    let mut r = Response::new(body);
    *r.status_mut() = reply.status;
    let h = r.headers_mut();
    h.reserve(2 + reply.headers.len() + usize::from(length.is_some()));
    h.insert(CONTENT_TYPE, static_value(reply.content_type));
    h.insert(SERVER, HeaderValue::from_static("sandbank"));
    for (k, v) in &reply.headers {
        // Our own names and values; one that is not a valid header is left out.
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(*k), HeaderValue::from_str(v)) {
            h.append(k, v);
        }
    }
    if let Some(len) = length {
        h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    r
}

/// A header value from a constant without copying it; one that is not a valid header value
/// (none in the code today) becomes `application/octet-stream` rather than a panic.
fn static_value(v: &'static str) -> hyper::header::HeaderValue {
    if v.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)) {
        hyper::header::HeaderValue::from_static(v)
    } else {
        hyper::header::HeaderValue::from_static("application/octet-stream")
    }
}

/// Stream a spool file in [`SPOOL_CHUNK_BYTES`] chunks: memory per response stays one chunk,
/// whatever the file's size.
fn spool_stream(file: std::fs::File) -> Body {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::from_std(file);
    let chunks = futures::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let mut buf = vec![0u8; SPOOL_CHUNK_BYTES];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(hyper::body::Frame::data(Bytes::from(buf))), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    StreamBody::new(chunks).boxed_unsync()
}

fn mounts(sb: &Sandbank) -> Vec<String> {
    let st = sb.lock();
    st.core
        .directory
        .all()
        .iter()
        .map(|i| format!("/{}/", i.id))
        .collect()
}

fn index(sb: &Sandbank) -> Reply {
    Reply::json(
        StatusCode::OK,
        &serde_json::json!({
            "sandbank": env!("CARGO_PKG_VERSION"),
            "mounted": mounts(sb),
            "control": "/_sandbank/",
        }),
    )
}
