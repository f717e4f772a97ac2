//! Notifications: how fast the world delivers payment notifications to one merchant, and how
//! many control-API payments it takes while notifications flow.
//!
//! The merchant is a keep-alive hyper server in this process that answers every
//! notification with the v2 acknowledgement (or `FAIL` while the bench wants attempts to
//! fail), and counts what it answered and the TCP connections it accepted.
//!
//! - **burst**: [`BURST`] orders are created with signed `pay/unifiedorder` requests and paid
//!   through the control API while the merchant answers `FAIL`; their first attempts fail and
//!   the second ones all fall due one ladder step later. The merchant then answers `SUCCESS`
//!   and the clock is advanced by that step: the figure is notifications acknowledged per
//!   second over the advance (which returns once every attempt has been answered). The
//!   baseline is the merchant alone, driven by this process over [`CLIENTS`] keep-alive
//!   connections with the same body.
//! - **pay while notifying**: [`PAY_ORDERS`] orders are created, then paid through the control
//!   API by [`CLIENTS`] keep-alive clients while their notifications go out; the figures are
//!   payments per second and notifications acknowledged per second over the same window.
//!
//! Every phase stops by itself: at its count, or at its deadline ([`PHASE_DEADLINE`]).

use crate::figure::{Better, Figure, Goal};
use crate::procs;
use crate::sign::{Order, APPID, MCH_ID};
use crate::world::ScenarioFile;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sandbank::channels::wxpay::xml;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Notifications released at once in the burst (`NOTIFY_BENCH_BURST` overrides it).
const BURST: usize = 20_000;
/// Orders paid through the control API while their notifications go out
/// (`NOTIFY_BENCH_PAYS` overrides it).
const PAY_ORDERS: usize = 40_000;
/// Keep-alive connections each load generator uses.
const CLIENTS: usize = 16;
/// Longest any phase runs; what was done by then is what is measured.
const PHASE_DEADLINE: Duration = Duration::from_secs(30);
/// How long the merchant alone is driven for its baseline.
const BASELINE_FOR: Duration = Duration::from_secs(2);

const ACK: &str = "<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>";
const NACK: &str = "<xml><return_code><![CDATA[FAIL]]></return_code></xml>";

/// Run the notification figures against the release binary `bin`.
pub fn run(bin: &Path) -> Vec<Figure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(measure(bin))
}

async fn measure(bin: &Path) -> Vec<Figure> {
    let burst = crate::env_or("NOTIFY_BENCH_BURST", BURST);
    let to_pay = crate::env_or("NOTIFY_BENCH_PAYS", PAY_ORDERS);
    let merchant = Merchant::start().await;
    let scenario = ScenarioFile::write("bench-notify").expect("write the bench scenario");
    let server = procs::sandbank(bin, Some(scenario.path()));
    drop(scenario);
    let mut figures = Vec::new();

    // The merchant alone, for the baseline.
    let alone = merchant.capacity().await;
    println!("notify: the merchant alone acknowledges {alone:.0}/s over {CLIENTS} keep-alive connections");

    // Burst.
    let notify_url = format!("http://{}/notify", merchant.addr);
    merchant.ack.store(false, Ordering::SeqCst);
    let answered_before = merchant.answered.load(Ordering::SeqCst);
    let orders = create_orders(server.addr, "NB", burst, &notify_url).await;
    let (paid, _) = pay_orders(server.addr, &orders).await;
    let _ = control(server.addr, "clock", "{}", PHASE_DEADLINE).await;
    let failed = merchant.answered.load(Ordering::SeqCst) - answered_before;
    merchant.ack.store(true, Ordering::SeqCst);
    let acks_before = merchant.acks.load(Ordering::SeqCst);
    let conns_before = merchant.accepted.load(Ordering::SeqCst);
    merchant
        .most_open
        .store(merchant.open.load(Ordering::SeqCst), Ordering::SeqCst);
    let cpu_before = server.cpu_seconds();
    let t0 = Instant::now();
    let (status, _) = control(
        server.addr,
        "clock",
        r#"{"advance":"15s"}"#,
        PHASE_DEADLINE * 2,
    )
    .await;
    let took = t0.elapsed().as_secs_f64();
    if std::env::var_os("NOTIFY_BENCH_TRACE").is_some() {
        // Monotonic instants, to cut a profile of the server to the burst.
        println!("notify burst from {t0:?} to {:?}", Instant::now());
    }
    let cpu = server.cpu_seconds() - cpu_before;
    let acked = merchant.acks.load(Ordering::SeqCst) - acks_before;
    let conns = merchant.accepted.load(Ordering::SeqCst) - conns_before;
    let most_open = merchant.most_open.load(Ordering::SeqCst);
    println!(
        "notify burst: {} orders created, {paid} paid, {failed} first attempts answered FAIL; \
         advance {status}: {acked} acknowledged in {took:.2} s over {conns} new connections \
         (at most {most_open} open at once), server CPU {cpu:.2} s",
        orders.len()
    );
    figures.push(Figure {
        name: format!("notifications, burst of {burst}"),
        unit: "notif/s",
        value: acked as f64 / took.max(1e-9),
        baseline: Some(("merchant alone", alone)),
        better: Better::Higher,
        goal: Goal::Absolute(20_000.0),
    });
    figures.push(Figure {
        name: "  server CPU per notification, burst".into(),
        unit: "µs",
        value: cpu * 1e6 / (acked.max(1) as f64),
        baseline: None,
        better: Better::Lower,
        goal: Goal::None,
    });
    figures.push(Figure {
        name: "  connections to the merchant open at once, burst".into(),
        unit: "conns",
        value: most_open as f64,
        baseline: None,
        better: Better::Lower,
        goal: Goal::Absolute(16.0),
    });

    // Payments through the control API while notifications flow.
    let _ = control(server.addr, "reset", "", PHASE_DEADLINE).await;
    let orders = create_orders(server.addr, "NP", to_pay, &notify_url).await;
    let acks_before = merchant.acks.load(Ordering::SeqCst);
    let t0 = Instant::now();
    let (paid, errors) = pay_orders(server.addr, &orders).await;
    let took = t0.elapsed().as_secs_f64();
    let acked = merchant.acks.load(Ordering::SeqCst) - acks_before;
    println!(
        "notify pay: {} orders created; {paid} paid ({errors} refused) in {took:.2} s; \
         {acked} notifications acknowledged meanwhile",
        orders.len()
    );
    figures.push(Figure {
        name: format!("control-API pay while notifying, c{CLIENTS}"),
        unit: "pay/s",
        value: paid as f64 / took.max(1e-9),
        baseline: None,
        better: Better::Higher,
        goal: Goal::Absolute(10_000.0),
    });
    figures.push(Figure {
        name: "  notifications acknowledged meanwhile".into(),
        unit: "notif/s",
        value: acked as f64 / took.max(1e-9),
        baseline: None,
        better: Better::Higher,
        goal: Goal::None,
    });
    drop(server);
    figures
}

// ------------------------------------------------------------------ the merchant

/// The merchant's notify endpoint: a keep-alive hyper server in this process.
struct Merchant {
    addr: SocketAddr,
    /// Answer the acknowledgement (true) or `FAIL`.
    ack: Arc<AtomicBool>,
    /// Acknowledgements answered.
    acks: Arc<AtomicU64>,
    /// Requests answered either way.
    answered: Arc<AtomicU64>,
    /// TCP connections accepted.
    accepted: Arc<AtomicU64>,
    /// Connections open now, and the most seen open at once.
    open: Arc<AtomicUsize>,
    most_open: Arc<AtomicUsize>,
}

impl Merchant {
    async fn start() -> Merchant {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the merchant");
        let m = Merchant {
            addr: listener.local_addr().expect("an address"),
            ack: Arc::new(AtomicBool::new(true)),
            acks: Arc::new(AtomicU64::new(0)),
            answered: Arc::new(AtomicU64::new(0)),
            accepted: Arc::new(AtomicU64::new(0)),
            open: Arc::new(AtomicUsize::new(0)),
            most_open: Arc::new(AtomicUsize::new(0)),
        };
        let (ack, acks, answered, accepted, open, most_open) = (
            m.ack.clone(),
            m.acks.clone(),
            m.answered.clone(),
            m.accepted.clone(),
            m.open.clone(),
            m.most_open.clone(),
        );
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                accepted.fetch_add(1, Ordering::SeqCst);
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                most_open.fetch_max(now, Ordering::SeqCst);
                let (ack, acks, answered, open) =
                    (ack.clone(), acks.clone(), answered.clone(), open.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (ack, acks, answered) = (ack.clone(), acks.clone(), answered.clone());
                        async move {
                            let _ = req.into_body().collect().await;
                            let body = if ack.load(Ordering::SeqCst) {
                                acks.fetch_add(1, Ordering::SeqCst);
                                ACK
                            } else {
                                NACK
                            };
                            answered.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                                Bytes::from_static(body.as_bytes()),
                            )))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        m
    }

    /// Acknowledgements per second the merchant answers alone, over [`CLIENTS`] keep-alive
    /// connections, to a notification-sized body.
    async fn capacity(&self) -> f64 {
        let body = Bytes::from(notification_like());
        let before = self.acks.load(Ordering::SeqCst);
        let deadline = Instant::now() + BASELINE_FOR;
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (addr, body) = (self.addr, body.clone());
                tokio::spawn(async move {
                    let Some(mut c) = Conn::open(addr).await else {
                        return;
                    };
                    while Instant::now() < deadline {
                        if c.post("/notify", "text/xml", body.clone()).await.is_none() {
                            return;
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
        let n = self.acks.load(Ordering::SeqCst) - before;
        n as f64 / t0.elapsed().as_secs_f64()
    }
}

/// A body the size and shape of a payment notification.
fn notification_like() -> String {
    let fields = [
        ("appid", APPID),
        ("bank_type", "OTHERS"),
        ("cash_fee", "100"),
        ("fee_type", "CNY"),
        ("is_subscribe", "N"),
        ("mch_id", MCH_ID),
        ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
        ("openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
        ("out_trade_no", "NB00000001"),
        ("result_code", "SUCCESS"),
        ("return_code", "SUCCESS"),
        ("time_end", "20260302100000"),
        ("total_fee", "100"),
        ("trade_type", "NATIVE"),
        ("transaction_id", "4200020260302123456789012345"),
        ("sign", "C380BEC2BFD727A4B6845133519F3AD6"),
    ];
    xml::write(fields)
}

// ------------------------------------------------------------------ load generation

/// One keep-alive client connection.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Option<Conn> {
        let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Some(Conn {
            sender,
            host: addr.to_string(),
        })
    }

    /// POST `body`; the status and body, or `None` when the connection failed.
    async fn post(
        &mut self,
        path: &str,
        content_type: &str,
        body: Bytes,
    ) -> Option<(StatusCode, Bytes)> {
        self.sender.ready().await.ok()?;
        let req = Request::post(path)
            .header("host", &self.host)
            .header("content-type", content_type)
            .body(Full::new(body))
            .ok()?;
        let resp = self.sender.send_request(req).await.ok()?;
        let status = resp.status();
        let body = resp.into_body().collect().await.ok()?.to_bytes();
        Some((status, body))
    }
}

/// Run `requests` (path, content type, body) over [`CLIENTS`] keep-alive connections until
/// all are done or [`PHASE_DEADLINE`] passes; each answer is judged by `ok`. Returns how
/// many were answered ok and how many otherwise.
async fn run_all(
    addr: SocketAddr,
    requests: Arc<Vec<(String, &'static str, Bytes)>>,
    ok: fn(StatusCode, &[u8]) -> bool,
) -> (usize, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + PHASE_DEADLINE;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (requests, next) = (requests.clone(), next.clone());
            tokio::spawn(async move {
                let (mut good, mut bad) = (0, 0);
                let mut conn = None;
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((path, ctype, body)) = requests.get(i) else {
                        break;
                    };
                    if conn.is_none() {
                        conn = Conn::open(addr).await;
                    }
                    let Some(c) = conn.as_mut() else {
                        bad += 1;
                        continue;
                    };
                    match c.post(path, ctype, body.clone()).await {
                        Some((status, body)) if ok(status, &body) => good += 1,
                        Some(_) => bad += 1,
                        None => {
                            bad += 1;
                            conn = None;
                        }
                    }
                }
                (good, bad)
            })
        })
        .collect();
    let (mut good, mut bad) = (0, 0);
    for t in tasks {
        if let Ok((g, b)) = t.await {
            good += g;
            bad += b;
        }
    }
    (good, bad)
}

/// Create `n` NATIVE orders `{prefix}{i:08}` to `notify_url`; returns the numbers created.
async fn create_orders(addr: SocketAddr, prefix: &str, n: usize, notify_url: &str) -> Vec<String> {
    let numbers: Vec<String> = (0..n).map(|i| format!("{prefix}{i:08}")).collect();
    let requests: Vec<(String, &'static str, Bytes)> = numbers
        .iter()
        .map(|no| {
            let body = Order {
                out_trade_no: no,
                nonce: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
                body: "sandbank bench order",
                total_fee: "100",
                notify_url,
                product_id: "P-0001",
            }
            .signed_xml();
            (
                "/wxpay/pay/unifiedorder".to_string(),
                "text/xml",
                Bytes::from(body),
            )
        })
        .collect();
    let t0 = Instant::now();
    let (created, refused) = run_all(addr, Arc::new(requests), |s, b| {
        s == StatusCode::OK
            && String::from_utf8_lossy(b).contains("<result_code><![CDATA[SUCCESS]]>")
    })
    .await;
    println!(
        "notify: {created} orders created ({refused} refused) in {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    numbers.into_iter().take(created + refused).collect()
}

/// Pay `orders` through the control API; returns how many were paid and how many refused.
async fn pay_orders(addr: SocketAddr, orders: &[String]) -> (usize, usize) {
    let requests: Vec<(String, &'static str, Bytes)> = orders
        .iter()
        .map(|no| {
            (
                format!("/_sandbank/channels/wxpay/orders/{no}/pay"),
                "application/json",
                Bytes::from_static(b"{}"),
            )
        })
        .collect();
    run_all(addr, Arc::new(requests), |s, _| s == StatusCode::OK).await
}

/// POST `body` to the control API's `path`; the status and body text.
async fn control(addr: SocketAddr, path: &str, body: &str, timeout: Duration) -> (u16, String) {
    let exchange = async {
        let mut c = Conn::open(addr).await?;
        c.post(
            &format!("/_sandbank/{path}"),
            "application/json",
            Bytes::from(body.to_string()),
        )
        .await
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Some((s, b))) => (s.as_u16(), String::from_utf8_lossy(&b).into_owned()),
        _ => (0, String::new()),
    }
}
