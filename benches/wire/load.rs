//! The load generator: `c` keep-alive connections, each sending one request and reading its
//! response before the next (no pipelining), for a fixed time. Requests are pre-built bytes
//! (or built per request by a closure), responses are parsed only as far as the status line
//! and `Content-Length`: the generator should cost as little as wrk does, so the servers'
//! figures are the servers'.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What one run achieved.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Responses with a 2xx status.
    pub ok: u64,
    /// Other responses, and connections that failed.
    pub failed: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Run {
    /// Successful responses per second.
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// Builds connection `conn`'s `i`-th request (the whole HTTP/1.1 request, bytes).
pub type Make = Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync>;

/// A full HTTP/1.1 POST.
pub fn post(path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// A full HTTP/1.1 GET.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}

/// Drive `addr` with `conns` connections for `time` (or until `max` responses in all).
pub fn drive(addr: SocketAddr, conns: usize, time: Duration, max: u64, make: Make) -> Run {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async move {
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for conn in 0..conns {
            let (ok, failed, stop, make) = (ok.clone(), failed.clone(), stop.clone(), make.clone());
            tasks.push(tokio::spawn(async move {
                let Ok(mut s) = TcpStream::connect(addr).await else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let _ = s.set_nodelay(true);
                let mut buf = Vec::with_capacity(16 << 10);
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let req = make(conn, i);
                    i += 1;
                    if s.write_all(&req).await.is_err() {
                        failed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    match read_response(&mut s, &mut buf).await {
                        Some(status) if (200..300).contains(&status) => {
                            if ok.fetch_add(1, Ordering::Relaxed) + 1 >= max {
                                stop.store(true, Ordering::Relaxed);
                            }
                        }
                        Some(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        None => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    }
                }
            }));
        }
        let deadline = tokio::time::sleep(time);
        tokio::pin!(deadline);
        let all = futures::future::join_all(tasks);
        tokio::pin!(all);
        tokio::select! {
            _ = &mut deadline => { stop.store(true, Ordering::Relaxed); }
            _ = &mut all => {}
        }
        let elapsed = started.elapsed();
        // Let the connections finish the exchange in flight (bounded).
        let _ = tokio::time::timeout(Duration::from_secs(2), all).await;
        Run {
            ok: ok.load(Ordering::Relaxed),
            failed: failed.load(Ordering::Relaxed),
            elapsed,
        }
    })
}

/// Read one response into `buf` (cleared first): its status, or `None` when the connection
/// ended or the response was not HTTP/1.1 with a `Content-Length`.
pub async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<u16> {
    buf.clear();
    let mut chunk = [0u8; 16 << 10];
    loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).ok()?;
            let status: u16 = head.get(9..12)?.parse().ok()?;
            let len: usize = head
                .split("\r\n")
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            let total = end + 4 + len;
            while buf.len() < total {
                let n = s.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(status);
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
