//! What slow and idle clients may hold: read timeouts, the bound on open connections, and
//! the bookkeeping that lets the server ask its oldest connection to make room.

use std::sync::Arc;
use std::time::Duration;

/// How long shutdown waits for open connections to finish before dropping them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long a client may take to send a request's headers, counted from when the server is
/// ready to read them — so it is also how long an idle keep-alive connection stays open.
/// Real clients send headers in one packet; 15 s tolerates a stalled CI box, while 400
/// half-sent requests once held their sockets for over a minute.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a client may take to send a request body once its headers are in. Bodies are
/// at most [`crate::http::MAX_BODY_BYTES`] (1 MiB), seconds even on a slow link; 30 s is generous.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Most connections open at once. Below the 256 open files a default macOS shell (and some
/// CI containers) allow, leaving room for the world's own callback sockets and spool files —
/// 300 idle sockets once exhausted them and locked every client out — and far above the 64
/// concurrent clients sandbank was measured serving.
pub const MAX_CONNECTIONS: usize = 200;

/// How long a connection accepted past [`MAX_CONNECTIONS`] waits for room (while the oldest
/// connection closes) before it is closed unserved.
pub const CONNECTION_WAIT: Duration = Duration::from_secs(2);

/// The server's resource limits; [`ServerLimits::default`] is the documented constants
/// (tests shorten the timeouts).
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// See [`BODY_READ_TIMEOUT`].
    pub body_read_timeout: Duration,
    /// See [`MAX_CONNECTIONS`]; at least 1.
    pub max_connections: usize,
    /// See [`CONNECTION_WAIT`].
    pub connection_wait: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_read_timeout: BODY_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            connection_wait: CONNECTION_WAIT,
        }
    }
}

/// The open connections, oldest first, each with the bell that asks it to close.
#[derive(Debug, Default)]
pub(super) struct Connections {
    pub(super) next: u64,
    pub(super) open: std::collections::BTreeMap<u64, Arc<tokio::sync::Notify>>,
}

impl Connections {
    pub(super) fn lock(
        m: &std::sync::Mutex<Connections>,
    ) -> std::sync::MutexGuard<'_, Connections> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Counts a connection's exchange as in progress from its request head to the end of its
/// response body.
pub(super) struct Busy(Arc<std::sync::atomic::AtomicUsize>);

impl Busy {
    pub(super) fn enter(count: &Arc<std::sync::atomic::AtomicUsize>) -> Busy {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Busy(count.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}
