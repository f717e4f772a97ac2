//! Orders held and what they cost: the resident memory per order after N signed
//! `pay/unifiedorder`s (sent over keep-alive connections by a few threads), the control
//! API's pay with that many orders held beside the same with 1,000.
//!
//! The journal keeps recent requests (bounded by count and by bytes): its own estimate of
//! its size (`bytes` of `GET /_sandbank/journal?limit=1`) is subtracted from the growth of
//! the server's VmRSS, and a warm-up of refused orders fills it (and the seeded-stream
//! table) to its cap before the first reading, so the figure is the orders' own cost.
//!
//! `ORDERS_BENCH_N` sets N (default 1,000,000); the order phase stops at
//! [`ORDER_PHASE_LIMIT`] and the figure names the N reached.

use crate::figure::{self, Better, Figure, Goal};
use crate::procs;
use crate::sign::Order;
use crate::world::ScenarioFile;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Orders created by default.
const DEFAULT_ORDERS: u64 = 1_000_000;
/// Longest the order phase may take; N is what it reached by then.
const ORDER_PHASE_LIMIT: Duration = Duration::from_secs(60);
/// Refused orders sent first, to fill the journal (100,000 entries) and the seeded-stream
/// table (65,536 streams) before the first reading.
const WARM_UP: u64 = 120_000;
/// Client threads, one keep-alive connection each.
const THREADS: u64 = 4;
/// Pays timed per world.
const PAYS: u64 = 300;
/// Orders held in the comparison world.
const SMALL_WORLD: u64 = 1_000;
/// A port nothing listens on: notifications of paid orders are refused at once.
const NOTIFY_URL: &str = "http://127.0.0.1:9/notify";

/// Run the two measurements.
pub fn run(bin: &Path) -> Vec<Figure> {
    let n = crate::env_or("ORDERS_BENCH_N", DEFAULT_ORDERS);
    let scenario = match ScenarioFile::write("bench-orders") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("orders: cannot write the scenario: {e}");
            return Vec::new();
        }
    };
    let mut figures = Vec::new();

    // (a) Resident memory per order held, (b) pay with N orders held.
    let big = procs::sandbank(bin, Some(scenario.path()));
    send_orders(big.addr, "WARM", WARM_UP, "0", Duration::from_secs(30));
    let (rss0, journal0) = (big.kib("VmRSS"), journal_bytes(big.addr));
    let t = Instant::now();
    let held = send_orders(big.addr, "BENCH", n, "100", ORDER_PHASE_LIMIT);
    let secs = t.elapsed().as_secs_f64();
    let (rss1, journal1) = (big.kib("VmRSS"), journal_bytes(big.addr));
    let rss_growth = (rss1.saturating_sub(rss0) * 1024) as f64;
    let journal_growth = journal1 as f64 - journal0 as f64;
    let per_order = (rss_growth - journal_growth) / held.max(1) as f64;
    println!(
        "orders: {held} unifiedorders in {secs:.1} s ({:.0}/s); VmRSS {} → {} KiB; journal {} → {} bytes",
        held as f64 / secs,
        rss0,
        rss1,
        journal0,
        journal1
    );
    figures.push(Figure {
        name: format!("RSS per order held ({held} unifiedorders)"),
        unit: "B",
        value: per_order,
        baseline: None,
        better: Better::Lower,
        goal: Goal::Absolute(400.0),
    });
    let pay_big = median_pay_us(big.addr, "BENCH", held);
    drop(big);

    let small = procs::sandbank(bin, Some(scenario.path()));
    let made = send_orders(small.addr, "SMALL", SMALL_WORLD, "100", ORDER_PHASE_LIMIT);
    let pay_small = median_pay_us(small.addr, "SMALL", made);
    drop(small);
    println!("orders: control-API pay median {pay_big:.0} µs with {held} held, {pay_small:.0} µs with {made}");
    figures.push(Figure {
        name: format!("control-API pay, {held} orders held (median)"),
        unit: "µs",
        value: pay_big,
        baseline: Some(("1k orders held", pay_small)),
        better: Better::Lower,
        goal: Goal::Ratio(2.0),
    });
    figures
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect to sandbank");
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        Conn {
            reader: BufReader::new(stream),
            addr,
        }
    }

    /// Send one request and read the whole reply: (status, body).
    fn send(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let stream = self.reader.get_mut();
        stream
            .write_all(head.as_bytes())
            .and_then(|_| stream.write_all(body))
            .expect("send a request");
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .expect("read the status line");
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let (mut length, mut chunked) = (0usize, false);
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("read a header");
            let h = line.trim_end();
            if h.is_empty() {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line).expect("read a chunk size");
                let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk).expect("read a chunk");
                if size == 0 {
                    break;
                }
                out.extend_from_slice(&chunk[..size]);
            }
        } else {
            out.resize(length, 0);
            self.reader.read_exact(&mut out).expect("read the body");
        }
        (status, out)
    }
}

/// A signed `pay/unifiedorder` for a NATIVE order `no` of `total_fee` fen.
fn unifiedorder(no: &str, total_fee: &str) -> Vec<u8> {
    Order {
        out_trade_no: no,
        nonce: no,
        body: "sandbank bench order",
        total_fee,
        notify_url: NOTIFY_URL,
        product_id: "SKU1001",
    }
    .signed_xml()
}

/// Order number `i` under `prefix`.
fn order_no(prefix: &str, i: u64) -> String {
    format!("{prefix}{i:012}")
}

/// Send `n` unifiedorders (`total_fee` "0" makes each a refused one) from [`THREADS`]
/// threads, stopping at `limit`; returns how many orders were created (or, for refused
/// ones, how many were answered).
fn send_orders(addr: SocketAddr, prefix: &str, n: u64, total_fee: &str, limit: Duration) -> u64 {
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + limit;
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (next, done) = (next.clone(), done.clone());
            let (prefix, fee) = (prefix.to_string(), total_fee.to_string());
            std::thread::spawn(move || {
                let mut conn = Conn::open(addr);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || Instant::now() >= deadline {
                        return;
                    }
                    let body = unifiedorder(&order_no(&prefix, i), &fee);
                    let (status, reply) =
                        conn.send("POST", "/wxpay/pay/unifiedorder", "text/xml", &body);
                    let created = fee == "0" || contains(&reply, b"prepay_id");
                    if status == 200 && created {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else if fee != "0" {
                        eprintln!("orders: {i}: {status} {}", String::from_utf8_lossy(&reply));
                        return;
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    // Orders are numbered from 0 with no gaps only if every thread finished its last one;
    // the pays below pick among the first `done`, which were all answered.
    done.load(Ordering::Relaxed)
        .min(next.load(Ordering::Relaxed))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The journal's own estimate of its size in bytes.
fn journal_bytes(addr: SocketAddr) -> u64 {
    let (_, body) =
        Conn::open(addr).send("GET", "/_sandbank/journal?limit=1", "application/json", b"");
    serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["bytes"].as_u64())
        .unwrap_or(0)
}

/// The median time of [`PAYS`] control-API pays of orders spread over the first `held`
/// under `prefix`, in µs, over one keep-alive connection.
fn median_pay_us(addr: SocketAddr, prefix: &str, held: u64) -> f64 {
    let mut conn = Conn::open(addr);
    let count = PAYS.min(held);
    let mut times: Vec<f64> = Vec::new();
    for k in 0..count {
        // Spread over the whole range, the oldest orders included.
        let i = k * (held / count.max(1));
        let path = format!(
            "/_sandbank/channels/wxpay/orders/{}/pay",
            order_no(prefix, i)
        );
        let t = Instant::now();
        let (status, body) = conn.send("POST", &path, "application/json", b"{}");
        times.push(t.elapsed().as_secs_f64() * 1e6);
        if status != 200 {
            eprintln!(
                "orders: pay {i}: {status} {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    figure::median(times)
}
