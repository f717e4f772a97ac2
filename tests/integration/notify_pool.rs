//! Notifications over kept-alive connections, against merchants on real sockets: many
//! notifications to one merchant share a few connections (never more than the bound per
//! destination at once); each order's attempts still go out one at a time and in order
//! while orders are delivered concurrently; merchants that close the connection after each
//! answer, answer in HTTP/1.0, or close idle connections still get every notification; and
//! the same seed still sends the same bodies.
//!
//! The merchants here are raw TCP servers, so the test sees what hyper would hide: every
//! connection accepted, how many are open at once, and each request as it arrives.

use crate::common::*;
use sandbank::channels::wxpay::{xml, RETRY_LADDER_SECS};
use sandbank::http::MAX_CONNECTIONS_PER_DESTINATION;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How a merchant's server treats its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// HTTP/1.1, kept alive.
    KeepAlive,
    /// HTTP/1.1 with `Connection: close`, then closes.
    CloseHeader,
    /// HTTP/1.0 without keep-alive and without a length: the body ends when it closes.
    Http10,
    /// HTTP/1.1 kept alive, but closes a connection idle for this long.
    IdleClose(Duration),
}

/// What the merchant answers the `n`th request (from 1) about order `no`: acknowledge or
/// not, after how long.
type Answer = Arc<dyn Fn(&str, usize) -> (bool, Duration) + Send + Sync>;

/// A merchant's notify endpoint that counts connections and logs requests.
struct Merchant {
    url: String,
    /// TCP connections accepted.
    accepted: Arc<AtomicUsize>,
    /// Connections open now, and the most open at once.
    open: Arc<AtomicUsize>,
    most_open: Arc<AtomicUsize>,
    /// Requests being answered now, and the most at once.
    active: Arc<AtomicUsize>,
    most_active: Arc<AtomicUsize>,
    /// Every request, in arrival order: (out_trade_no, body).
    log: Arc<Mutex<Vec<(String, String)>>>,
    /// Orders with a request being answered now; a second one at once is recorded.
    in_answer: Arc<Mutex<HashSet<String>>>,
    overlaps: Arc<Mutex<Vec<String>>>,
}

impl Merchant {
    async fn start(style: Style, answer: Answer) -> Merchant {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let m = Merchant {
            url: format!("http://{}/notify", listener.local_addr().unwrap()),
            accepted: Default::default(),
            open: Default::default(),
            most_open: Default::default(),
            active: Default::default(),
            most_active: Default::default(),
            log: Default::default(),
            in_answer: Default::default(),
            overlaps: Default::default(),
        };
        let shared = m.shared();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                let answer = answer.clone();
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let now = shared.open.fetch_add(1, Ordering::SeqCst) + 1;
                shared.most_open.fetch_max(now, Ordering::SeqCst);
                tokio::spawn(async move {
                    serve(stream, style, &answer, &shared).await;
                    shared.open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        m
    }

    fn shared(&self) -> Shared {
        Shared {
            accepted: self.accepted.clone(),
            open: self.open.clone(),
            most_open: self.most_open.clone(),
            active: self.active.clone(),
            most_active: self.most_active.clone(),
            log: self.log.clone(),
            in_answer: self.in_answer.clone(),
            overlaps: self.overlaps.clone(),
        }
    }

    fn requests(&self) -> Vec<(String, String)> {
        self.log.lock().unwrap().clone()
    }

    /// The bodies each order received, in arrival order.
    fn bodies_by_order(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (no, body) in self.requests() {
            out.entry(no).or_default().push(body);
        }
        out
    }
}

#[derive(Clone)]
struct Shared {
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    most_open: Arc<AtomicUsize>,
    active: Arc<AtomicUsize>,
    most_active: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<(String, String)>>>,
    in_answer: Arc<Mutex<HashSet<String>>>,
    overlaps: Arc<Mutex<Vec<String>>>,
}

/// Read one request (head and `content-length` body); `None` at end of stream.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let total = end + 4 + len;
            while buf.len() < total {
                let mut chunk = [0u8; 8192];
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8_lossy(&buf[end + 4..total]).into_owned();
            buf.drain(..total);
            return Some(body);
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn serve(mut stream: TcpStream, style: Style, answer: &Answer, s: &Shared) {
    let mut buf = Vec::new();
    loop {
        let next = match style {
            Style::IdleClose(idle) => {
                match tokio::time::timeout(idle, read_request(&mut stream, &mut buf)).await {
                    Ok(r) => r,
                    Err(_) => return, // idle too long: close
                }
            }
            _ => read_request(&mut stream, &mut buf).await,
        };
        let Some(body) = next else { return };
        let no = xml::parse(&body)
            .ok()
            .and_then(|f| f.get("out_trade_no").cloned())
            .unwrap_or_default();
        let nth = {
            let mut log = s.log.lock().unwrap();
            log.push((no.clone(), body));
            log.iter().filter(|(n, _)| *n == no).count()
        };
        if !s.in_answer.lock().unwrap().insert(no.clone()) {
            s.overlaps.lock().unwrap().push(no.clone());
        }
        let now = s.active.fetch_add(1, Ordering::SeqCst) + 1;
        s.most_active.fetch_max(now, Ordering::SeqCst);
        let (ack, delay) = answer(&no, nth);
        tokio::time::sleep(delay).await;
        s.active.fetch_sub(1, Ordering::SeqCst);
        s.in_answer.lock().unwrap().remove(&no);
        let text = if ack {
            WX_ACK
        } else {
            "<xml><return_code><![CDATA[FAIL]]></return_code></xml>"
        };
        let reply = match style {
            Style::KeepAlive | Style::IdleClose(_) => format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\n\r\n{text}",
                text.len()
            ),
            Style::CloseHeader => format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{text}",
                text.len()
            ),
            Style::Http10 => format!("HTTP/1.0 200 OK\r\ncontent-type: text/xml\r\n\r\n{text}"),
        };
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
        if matches!(style, Style::CloseHeader | Style::Http10) {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// A merchant that acknowledges everything at once.
fn ack_all() -> Answer {
    Arc::new(|_, _| (true, Duration::ZERO))
}

/// Create orders `{prefix}{i:04}` for `i` in `0..n` to `url`, and pay them all.
async fn paid_orders(w: &TestWorld, prefix: &str, n: usize, url: &str) -> Vec<String> {
    let numbers: Vec<String> = (0..n).map(|i| format!("{prefix}{i:04}")).collect();
    for no in &numbers {
        w.native_order(no, "100", url).await;
    }
    for no in &numbers {
        w.pay(no).await;
    }
    numbers
}

/// The callback messages journalled about order `no`, in order.
async fn callback_messages(w: &TestWorld, no: &str) -> Vec<String> {
    w.journal(&format!("kind=callback&reference={no}"))
        .await
        .iter()
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Every order's first attempt was acknowledged.
async fn all_acknowledged_first_time(w: &TestWorld, orders: &[String]) {
    for no in orders {
        let messages = callback_messages(w, no).await;
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("attempt 1 to") && m.ends_with(": acknowledged")),
            "{no}: {messages:?}"
        );
    }
}

#[tokio::test]
async fn many_notifications_to_one_merchant_share_a_few_connections() {
    const N: usize = 200;
    // A short delay per answer keeps several notifications in flight at once.
    let m = Merchant::start(
        Style::KeepAlive,
        Arc::new(|_, _| (true, Duration::from_millis(2))),
    )
    .await;
    let w = start().await;
    let orders = paid_orders(&w, "KEEP", N, &m.url).await;
    w.settle().await;
    all_acknowledged_first_time(&w, &orders).await;
    assert_eq!(m.requests().len(), N);
    let accepted = m.accepted.load(Ordering::SeqCst);
    let most_open = m.most_open.load(Ordering::SeqCst);
    assert!(
        most_open <= MAX_CONNECTIONS_PER_DESTINATION,
        "{most_open} connections open at once"
    );
    // Idle connections close after a while, so a slow machine may open a few more than the
    // bound over the run; one per notification would be N.
    assert!(
        accepted <= N / 4,
        "{accepted} connections for {N} notifications"
    );
    assert!(
        m.most_active.load(Ordering::SeqCst) > 1,
        "notifications to one merchant go out concurrently"
    );
}

#[tokio::test]
async fn each_orders_attempts_stay_in_order_while_orders_go_out_concurrently() {
    const N: usize = 40;
    /// Attempts each order fails before it is acknowledged.
    const FAILS: usize = 3;
    // Answers take a different time per order, so they come back out of order.
    let answer: Answer = Arc::new(|no: &str, nth| {
        let spread = no.bytes().map(u64::from).sum::<u64>() % 7;
        (nth > FAILS, Duration::from_millis(1 + spread * 3))
    });
    let m = Merchant::start(Style::KeepAlive, answer).await;
    let w = start().await;
    let orders = paid_orders(&w, "LADDER", N, &m.url).await;
    w.settle().await;
    for step in &RETRY_LADDER_SECS[..FAILS] {
        w.advance(&format!("{step}s")).await;
    }
    assert!(
        m.overlaps.lock().unwrap().is_empty(),
        "an order had two attempts at the merchant at once: {:?}",
        m.overlaps.lock().unwrap()
    );
    assert!(
        m.most_active.load(Ordering::SeqCst) > 1,
        "orders were delivered concurrently"
    );
    let received = m.bodies_by_order();
    for no in &orders {
        let messages = callback_messages(&w, no).await;
        let sent: Vec<&String> = messages.iter().filter(|m| m.contains(" to http")).collect();
        assert_eq!(sent.len(), FAILS + 1, "{no}: {messages:?}");
        for (i, m) in sent.iter().enumerate() {
            assert!(
                m.starts_with(&format!("attempt {} to", i + 1)),
                "{no}: {messages:?}"
            );
        }
        assert!(
            sent[FAILS].ends_with(": acknowledged"),
            "{no}: {messages:?}"
        );
        // The merchant received the attempts in the order they were journalled: each
        // attempt carries its own nonce.
        let journalled: Vec<String> = w
            .journal(&format!("kind=callback&reference={no}"))
            .await
            .iter()
            .filter(|e| e["message"].as_str().unwrap_or("").contains(" to http"))
            .map(|e| e["request"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(received.get(no), Some(&journalled), "{no}");
    }
}

#[tokio::test]
async fn merchants_that_close_connections_still_get_every_notification() {
    const N: usize = 30;
    for style in [
        Style::CloseHeader,
        Style::Http10,
        Style::IdleClose(Duration::from_millis(50)),
    ] {
        let m = Merchant::start(style, ack_all()).await;
        let w = start().await;
        let orders = paid_orders(&w, "CLOSE", N, &m.url).await;
        w.settle().await;
        // A merchant that closes idle connections: later notifications find the kept ones
        // closed and go out on fresh ones.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let late = paid_orders(&w, "LATE", 5, &m.url).await;
        w.settle().await;
        all_acknowledged_first_time(&w, &orders).await;
        all_acknowledged_first_time(&w, &late).await;
        assert_eq!(m.requests().len(), N + 5, "{style:?}");
        let accepted = m.accepted.load(Ordering::SeqCst);
        if matches!(style, Style::CloseHeader | Style::Http10) {
            assert_eq!(
                accepted,
                N + 5,
                "{style:?}: one connection per notification"
            );
        }
        assert!(
            m.most_open.load(Ordering::SeqCst) <= MAX_CONNECTIONS_PER_DESTINATION,
            "{style:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_sends_the_same_bodies_over_kept_connections() {
    const N: usize = 60;
    async fn run() -> (BTreeMap<String, Vec<String>>, Vec<Vec<String>>) {
        // Fail each order's first attempt, so every order gets two bodies.
        let m = Merchant::start(
            Style::KeepAlive,
            Arc::new(|no: &str, nth| (nth > 1, Duration::from_millis(no.len() as u64 % 3))),
        )
        .await;
        let w = start_with(WorldOpts {
            seed: 9,
            ..Default::default()
        })
        .await;
        let orders = paid_orders(&w, "SAME", N, &m.url).await;
        w.settle().await;
        w.advance(&format!("{}s", RETRY_LADDER_SECS[0])).await;
        // The merchant's port differs between runs; nothing else may.
        let mut journals = Vec::new();
        for no in &orders {
            let messages = callback_messages(&w, no).await;
            journals.push(messages.iter().map(|x| x.replace(&m.url, "URL")).collect());
        }
        (m.bodies_by_order(), journals)
    }
    let (a_bodies, a_journal) = run().await;
    let (b_bodies, b_journal) = run().await;
    assert_eq!(a_bodies.len(), N);
    assert!(a_bodies.values().all(|v| v.len() == 2), "{a_bodies:?}");
    assert_eq!(a_bodies, b_bodies, "the same seed sent different bodies");
    assert_eq!(a_journal, b_journal);
}

#[tokio::test]
async fn a_merchant_with_many_hanging_notifications_holds_up_nobody_else() {
    use sandbank::world::{CALLBACK_TIMEOUT, MAX_CALLBACKS_IN_FLIGHT};
    // More hanging notifications to one merchant than deliveries may be in flight at once.
    let n = MAX_CALLBACKS_IN_FLIGHT + 8;
    let hanging = Merchant::start(
        Style::KeepAlive,
        Arc::new(|_, _| (true, CALLBACK_TIMEOUT * 4)),
    )
    .await;
    let healthy = Merchant::start(Style::KeepAlive, ack_all()).await;
    let w = start().await;
    paid_orders(&w, "HANG", n, &hanging.url).await;
    let paid = std::time::Instant::now();
    let ok = paid_orders(&w, "FINE", 1, &healthy.url).await;
    // The healthy merchant is served before even one hanging attempt could time out.
    loop {
        let messages = callback_messages(&w, &ok[0]).await;
        if messages.iter().any(|m| m.ends_with(": acknowledged")) {
            break;
        }
        assert!(
            paid.elapsed() < CALLBACK_TIMEOUT,
            "the healthy merchant waited behind the hanging one: {messages:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        hanging.most_open.load(Ordering::SeqCst) <= MAX_CONNECTIONS_PER_DESTINATION,
        "{} connections open at once to the hanging merchant",
        hanging.most_open.load(Ordering::SeqCst)
    );
}
