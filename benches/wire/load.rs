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

/// Threads the generator drives its connections from, each with its own single-threaded
/// runtime and its share of the connections: as `wrk -t2`, on the 2-core machine the goals
/// are set for.
pub const THREADS: usize = 2;

/// Drive `addr` with `conns` connections for `time` (or until `max` responses in all),
/// from [`THREADS`] threads.
pub fn drive(addr: SocketAddr, conns: usize, time: Duration, max: u64, make: Make) -> Run {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads = THREADS.min(conns).max(1);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (ok, failed, stop, make) = (ok.clone(), failed.clone(), stop.clone(), make.clone());
            // Connection numbers t, t + threads, …: every connection number once.
            let mine: Vec<usize> = (t..conns).step_by(threads).collect();
            std::thread::spawn(move || drive_on(addr, mine, time, max, make, ok, failed, stop))
        })
        .collect();
    let mut elapsed = Duration::ZERO;
    for h in handles {
        if let Ok(e) = h.join() {
            elapsed = elapsed.max(e);
        }
    }
    if elapsed.is_zero() {
        elapsed = started.elapsed();
    }
    Run {
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        elapsed,
    }
}

/// One generator thread: its connections on a single-threaded runtime; returns when its
/// connections stopped (the time it ran).
#[allow(clippy::too_many_arguments)]
fn drive_on(
    addr: SocketAddr,
    conns: Vec<usize>,
    time: Duration,
    max: u64,
    make: Make,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async move {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for conn in conns {
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
        elapsed
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

/// `wrk` on the PATH, when it is there: the C load generator the figures were
/// measured with. It costs the machine less per request than this generator, so on two
/// cores the servers keep more of the CPU; the bench uses it for fixed requests when it can
/// (`apt install wrk`) and says which generator measured each figure.
pub fn wrk_available() -> bool {
    static HAVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAVE.get_or_init(|| {
        std::env::var_os("WIRE_BENCH_NO_WRK").is_none()
            && std::process::Command::new("wrk")
                .arg("--version")
                .output()
                .is_ok()
    })
}

/// POST `body` to `path` at `addr` from `wrk -t2 -c{conns}` for `time`; `None` when wrk is
/// not installed or did not report.
pub fn wrk(addr: SocketAddr, path: &str, body: &[u8], conns: usize, time: Duration) -> Option<Run> {
    if !wrk_available() {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("sandbank-wire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let body_file = dir.join("body");
    std::fs::write(&body_file, body).ok()?;
    let script = dir.join("post.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nlocal f = io.open(\"{}\", \"rb\")\nwrk.body = f:read(\"*a\")\nf:close()\nwrk.headers[\"Content-Type\"] = \"text/xml\"\n",
            body_file.display()
        ),
    )
    .ok()?;
    let out = std::process::Command::new("wrk")
        .arg(format!("-t{THREADS}"))
        .arg(format!("-c{conns}"))
        .arg(format!("-d{}s", time.as_secs().max(1)))
        .arg("-s")
        .arg(&script)
        .arg(format!("http://{addr}{path}"))
        .output()
        .ok()?;
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    // "  388034 requests in 5.00s, 243.50MB read", "  Non-2xx or 3xx responses: 12",
    // "  Socket errors: connect 0, read 0, write 0, timeout 0".
    let line = text.lines().find(|l| l.contains(" requests in "))?;
    let mut words = line.split_whitespace();
    let total: u64 = words.next()?.parse().ok()?;
    let secs: f64 = words
        .nth(2)?
        .trim_end_matches(',')
        .trim_end_matches('s')
        .parse()
        .ok()?;
    let non2xx: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let errors: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Socket errors:"))
        .map(|v| {
            v.split(',')
                .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Some(Run {
        ok: total.saturating_sub(non2xx),
        failed: non2xx + errors,
        elapsed: Duration::from_secs_f64(secs),
    })
}
