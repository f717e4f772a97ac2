//! Kept-alive connections for callbacks: a small pool per destination (scheme, host and
//! port), so a burst of notifications to one merchant reuses a handful of HTTP/1.1
//! connections instead of opening one per notification.
//!
//! # Bounds
//! - At most [`MAX_CONNECTIONS_PER_DESTINATION`] connections to one destination are open at
//!   once, in use or idle. A request beyond that waits for one to come free, in arrival
//!   order; the wait is not part of its timeout, which starts once it has a connection.
//! - At most [`MAX_IDLE_CONNECTIONS`] idle connections in all; past that a finished
//!   connection is closed rather than kept.
//! - An idle connection is closed after [`IDLE_TIMEOUT`].
//!
//! # When a connection is kept
//! Only after an exchange that ended cleanly: the whole answer read (not cut at the caller's
//! cap) and the connection ready for another request — an answer with `Connection: close`,
//! or an HTTP/1.0 answer without keep-alive, closes it. A connection that failed, timed out
//! or had its answer cut is closed.
//!
//! # Retrying on a fresh connection
//! A kept connection the other side closed while it was idle fails the next request. When
//! the request certainly did not leave (hyper hands it back unsent), it is tried again on
//! another connection, within the same timeout. When it may have left, the error is the
//! caller's, as it would be on a fresh connection: the other side may have acted on it.

use super::client::{connect, read_capped, request, Target};
use super::{ClientError, ClientResponse};
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper::Method;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Most connections open to one destination at once (in use or idle). A merchant's server
/// sees at most this many from one sandbank; 16 keep a loopback receiver busy (a burst of
/// notifications to one merchant is limited by the merchant, not by waiting for a
/// connection) while staying far below any server's connection limit.
pub const MAX_CONNECTIONS_PER_DESTINATION: usize = 16;

/// Most idle connections kept, over all destinations: the file descriptors the pool holds
/// when nothing is being sent.
pub const MAX_IDLE_CONNECTIONS: usize = 64;

/// How long an idle connection is kept. Shorter than the keep-alive timeouts common merchant
/// servers close idle connections after (5 s or more), so the pool nearly always closes first
/// and seldom sends on a connection the merchant is closing.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a connection that answered may take to be ready for another request before it
/// is closed instead of kept (it is normally ready at once).
const READY_WAIT: Duration = Duration::from_secs(1);

/// The destination a URL's connections are pooled under: `host:port` (the scheme is always
/// `http`), host in lower case. `None` when the URL is not `http://host[:port]/…`.
pub fn destination(url: &str) -> Option<String> {
    Target::parse(url).ok().map(|t| key(&t))
}

fn key(t: &Target) -> String {
    let host = t.host.to_ascii_lowercase();
    if host.contains(':') {
        format!("[{host}]:{}", t.port)
    } else {
        format!("{host}:{}", t.port)
    }
}

/// Pooled keep-alive connections, per destination. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Pool {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    destinations: Mutex<HashMap<String, Arc<Destination>>>,
    /// Idle connections over all destinations.
    idle: AtomicUsize,
    /// Connections opened, ever (for tests and figures).
    opened: AtomicUsize,
    /// True while the task closing expired idle connections runs.
    reaper: AtomicBool,
}

#[derive(Debug)]
struct Destination {
    /// One permit per connection in use; idle connections hold none (see [`Pool::send`]).
    slots: Arc<Semaphore>,
    /// Idle connections, the most recently used last.
    idle: Mutex<Vec<Idle>>,
}

/// An open connection: the sender and the task driving it. Dropping it closes the socket.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Conn")
    }
}

#[derive(Debug)]
struct Idle {
    conn: Conn,
    since: std::time::Instant,
}

impl Idle {
    fn usable(&self) -> bool {
        self.since.elapsed() < IDLE_TIMEOUT
            && !self.conn.sender.is_closed()
            && self.conn.sender.is_ready()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Pool {
    /// An empty pool.
    pub fn new() -> Pool {
        Pool::default()
    }

    /// [`super::post_capped`] over a pooled connection.
    pub async fn post_capped(
        &self,
        url: &str,
        content_type: &str,
        body: Bytes,
        timeout: Duration,
        cap: usize,
    ) -> Result<ClientResponse, ClientError> {
        self.send(
            Method::POST,
            url,
            &[("content-type", content_type)],
            body,
            timeout,
            cap,
        )
        .await
    }

    /// Send one request over a pooled connection to its destination (waiting for one to come
    /// free when [`MAX_CONNECTIONS_PER_DESTINATION`] are in use) and read the answer's body up
    /// to `cap` bytes, within `timeout` counted from when a connection is free. See the module
    /// docs for when the connection is kept.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
        cap: usize,
    ) -> Result<ClientResponse, ClientError> {
        let target = Target::parse(url)?;
        let req = request(method, &target, headers, body)?;
        let dest = self.destination_of(&target);
        self.ensure_reaper();
        // Idle connections hold no permit, and a new connection is opened only when none is
        // idle, so open connections (in use + idle) never exceed the permits.
        let Ok(permit) = dest.slots.clone().acquire_owned().await else {
            return Err(ClientError::Io("connection pool closed".into()));
        };
        let exchange = self.exchange(&dest, &target, req, cap);
        let (response, conn) = match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r?,
            Err(_) => return Err(ClientError::Timeout(timeout)),
        };
        if let Some(conn) = conn {
            self.give_back(&dest, conn).await;
        }
        // Only now, with the connection idle or closed, may another request open one.
        drop(permit);
        Ok(response)
    }

    /// Connections opened since the pool was made.
    pub fn connections_opened(&self) -> usize {
        self.inner.opened.load(Ordering::Relaxed)
    }

    /// Idle connections held now.
    pub fn idle_connections(&self) -> usize {
        self.inner.idle.load(Ordering::Relaxed)
    }

    fn destination_of(&self, target: &Target) -> Arc<Destination> {
        lock(&self.inner.destinations)
            .entry(key(target))
            .or_insert_with(|| {
                Arc::new(Destination {
                    slots: Arc::new(Semaphore::new(MAX_CONNECTIONS_PER_DESTINATION)),
                    idle: Mutex::new(Vec::new()),
                })
            })
            .clone()
    }

    /// Send `req` on an idle connection (or a new one) and read the answer; the connection
    /// comes back when it may carry another exchange.
    async fn exchange(
        &self,
        dest: &Destination,
        target: &Target,
        mut req: hyper::Request<Full<Bytes>>,
        cap: usize,
    ) -> Result<(ClientResponse, Option<Conn>), ClientError> {
        loop {
            let (mut conn, kept) = match self.take_idle(dest) {
                Some(c) => (c, true),
                None => {
                    let (sender, task) = connect(target).await?;
                    self.inner.opened.fetch_add(1, Ordering::Relaxed);
                    (Conn { sender, task }, false)
                }
            };
            match conn.sender.try_send_request(req).await {
                Ok(resp) => {
                    let (response, whole) = read_capped(resp, cap).await?;
                    return Ok((response, whole.then_some(conn)));
                }
                Err(mut e) => match e.take_message() {
                    // Handed back unsent: a kept connection closed under us. Try another.
                    Some(unsent) if kept => req = unsent,
                    _ => return Err(ClientError::Io(e.into_error().to_string())),
                },
            }
        }
    }

    fn take_idle(&self, dest: &Destination) -> Option<Conn> {
        let mut idle = lock(&dest.idle);
        while let Some(i) = idle.pop() {
            self.inner.idle.fetch_sub(1, Ordering::Relaxed);
            if i.usable() {
                return Some(i.conn);
            }
        }
        None
    }

    /// Keep `conn` idle once it is ready for another request, unless the pool is full.
    async fn give_back(&self, dest: &Destination, mut conn: Conn) {
        let ready = tokio::time::timeout(READY_WAIT, conn.sender.ready()).await;
        if !matches!(ready, Ok(Ok(()))) {
            return;
        }
        if self.inner.idle.fetch_add(1, Ordering::Relaxed) >= MAX_IDLE_CONNECTIONS {
            self.inner.idle.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        lock(&dest.idle).push(Idle {
            conn,
            since: std::time::Instant::now(),
        });
    }

    /// Start the task that closes expired idle connections and forgets unused destinations,
    /// unless it runs. It ends when the pool is dropped or holds nothing.
    fn ensure_reaper(&self) {
        if self.inner.reaper.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.inner.reaper.store(false, Ordering::SeqCst);
            return;
        };
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        rt.spawn(async move {
            loop {
                tokio::time::sleep(IDLE_TIMEOUT / 2).await;
                let Some(inner) = weak.upgrade() else { return };
                if inner.sweep() {
                    continue;
                }
                // Nothing left: stop, unless something arrived meanwhile and found this
                // task still marked as running.
                inner.reaper.store(false, Ordering::SeqCst);
                if inner.sweep() && !inner.reaper.swap(true, Ordering::SeqCst) {
                    continue;
                }
                return;
            }
        });
    }
}

impl Inner {
    /// Close expired idle connections and forget destinations nobody uses; true while
    /// anything is left.
    fn sweep(&self) -> bool {
        let mut dests = lock(&self.destinations);
        dests.retain(|_, d| {
            let mut idle = lock(&d.idle);
            let before = idle.len();
            idle.retain(Idle::usable);
            self.idle.fetch_sub(before - idle.len(), Ordering::Relaxed);
            // Only the map holds it: no request is using or waiting for it.
            !idle.is_empty() || Arc::strong_count(d) > 1
        });
        !dests.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_host_and_port() {
        assert_eq!(
            destination("http://LocalHost:8080/notify?x=1").as_deref(),
            Some("localhost:8080")
        );
        assert_eq!(
            destination("http://127.0.0.1/n").as_deref(),
            Some("127.0.0.1:80")
        );
        assert_eq!(destination("http://[::1]:9/n").as_deref(), Some("[::1]:9"));
        assert_eq!(destination("https://example.com/n"), None);
        assert_eq!(destination("not a url"), None);
    }
}
