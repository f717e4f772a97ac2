//! The HTTP server: hyper 1 on tokio.
//!
//! [`run`] takes a listener it did not create (tests bind `127.0.0.1:0`) and a shutdown
//! future. Each request is turned into an owned [`InboundRequest`] with its body read and
//! capped, then routed by its first path segment: `/_sandbank/…` to the control API,
//! `/{id}/…` to the channel or bank mounted there. The handler's [`Delivery`] then says how
//! the reply goes out: now, after a delay, never (hang), or never (reset).

use crate::control;
use crate::control::guard::Access;
use crate::faults::HANG_MAX_MS;
use crate::http::{Delivery, InboundRequest, Outcome, Reply, MAX_BODY_BYTES, SPOOL_CHUNK_BYTES};
use crate::scenario::WorldSpec;
use crate::world::Sandbank;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long shutdown waits for open connections to finish before dropping them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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
/// up to [`SHUTDOWN_GRACE`] for open exchanges.
pub async fn run(
    listener: TcpListener,
    sb: Arc<Sandbank>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    run_with(listener, sb, Access::default(), shutdown).await
}

/// [`run`], with the control API guarded by `access` (see [`control::guard`]).
pub async fn run_with(
    listener: TcpListener,
    sb: Arc<Sandbank>,
    access: Access,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let listen = listener.local_addr()?;
    let access = Arc::new(access);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
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
                let sb = sb.clone();
                let access = access.clone();
                let service = service_fn(move |req| handle(sb.clone(), access.clone(), listen, req));
                let conn = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    // Errors here are clients going away or replies deliberately lost.
                    let _ = conn.await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    sb.shutdown();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    Ok(())
}

/// A response body: in memory, or streamed from a spool file.
type Body = UnsyncBoxBody<Bytes, std::io::Error>;

async fn handle(
    sb: Arc<Sandbank>,
    access: Arc<Access>,
    listen: std::net::SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Body>, ReplyLost> {
    let (parts, body) = req.into_parts();
    // The control API obeys only its own users: checked before the body is read.
    let is_control =
        parts.uri.path().trim_start_matches('/').split('/').next() == Some("_sandbank");
    if is_control {
        if let Some(refusal) = access.check(listen, &parts.uri, &parts.headers) {
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
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Err(_) => return Err(ReplyLost),
    };
    let full_path = parts.uri.path().trim_start_matches('/').to_string();
    let (mount, rest) = full_path
        .split_once('/')
        .unwrap_or((full_path.as_str(), ""));
    let req = InboundRequest {
        method: parts.method,
        path: rest.to_string(),
        query: parts.uri.query().map(str::to_string),
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
            tokio::time::sleep(d).await;
            Ok(to_response(outcome.reply))
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
    let mut b = Response::builder()
        .status(reply.status)
        .header("content-type", reply.content_type)
        .header("server", "sandbank");
    for (k, v) in &reply.headers {
        b = b.header(*k, v.as_str());
    }
    let body = match reply
        .spooled
        .as_ref()
        .and_then(|s| s.take().map(|f| (f, s.len)))
    {
        Some((file, len)) => {
            b = b.header("content-length", len);
            spool_stream(file)
        }
        None => Full::new(reply.body)
            .map_err(|never| match never {})
            .boxed_unsync(),
    };
    // Status, content type and header names are all known-valid constants or values we built.
    b.body(body).unwrap_or_else(|_| {
        Response::new(
            Full::new(Bytes::from_static(b"internal error"))
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
    })
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

/// A sandbank serving on a listener in the background, stopped when dropped (as wiremock's
/// `MockServer` is). The server, the harness and the tests all start one this way.
#[derive(Debug)]
pub struct Running {
    addr: std::net::SocketAddr,
    sb: Arc<Sandbank>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Serve a world built from `spec` on `listener` (bind `127.0.0.1:0` for a free port).
    /// Needs a tokio runtime.
    pub fn start(listener: TcpListener, spec: WorldSpec) -> std::io::Result<Running> {
        Running::start_with(listener, spec, Access::default())
    }

    /// [`Running::start`], with the control API guarded by `access` (allowed host names,
    /// a token).
    pub fn start_with(
        listener: TcpListener,
        spec: WorldSpec,
        access: Access,
    ) -> std::io::Result<Running> {
        let addr = listener.local_addr()?;
        let sb = Sandbank::start(spec);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run_with(listener, sb.clone(), access, async move {
            let _ = stopped.await;
        }));
        Ok(Running {
            addr,
            sb,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// `http://{addr}` with no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The world it serves.
    pub fn sandbank(&self) -> &Arc<Sandbank> {
        &self.sb
    }

    /// Stop serving and wait until the server has shut down (open exchanges get up to
    /// [`SHUTDOWN_GRACE`]).
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Release anything hanging at once; the task then winds down on its own.
        self.sb.shutdown();
    }
}
