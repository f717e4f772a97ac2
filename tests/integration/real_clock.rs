//! Worlds on a **real** clock, where time passes without anyone asking: timers must fire by
//! themselves, and the world must hold up while it is replaced under live traffic. These
//! tests wait in real time, each for a bounded while.

use crate::common::*;
use hyper::StatusCode;
use sandbank::http::{self, ClientError, ClientResponse};
use serde_json::json;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PAYEE: &str = "6228480000000000000";

/// How often a waiting test looks again.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// The first wait of WeChat Pay's notification ladder.
const FIRST_RETRY: Duration = Duration::from_secs(15);

/// Call `probe` every [`POLL_EVERY`] until `done` accepts what it returns or `within` has
/// passed; the last value seen, and whether `done` accepted it.
async fn poll<T, F, Fut>(within: Duration, mut probe: F, done: impl Fn(&T) -> bool) -> (T, bool)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let deadline = Instant::now() + within;
    loop {
        let seen = probe().await;
        if done(&seen) {
            return (seen, true);
        }
        if Instant::now() >= deadline {
            return (seen, false);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Regression: on a real clock a payout never settled unless a clock request came. The
/// payout kind scheduled its settle timer, but nothing woke the world's driver, which slept
/// on the timers it had seen before the payout existed (none), so the payout stayed
/// PROCESSING forever.
#[tokio::test]
async fn regression_a_payout_settles_on_a_real_clock_without_a_clock_request() {
    let w = start_with(WorldOpts {
        clock: "real",
        settle_after: "1s",
        ..Default::default()
    })
    .await;
    let r = w.payout("REAL-SETTLE-1", 10000, PAYEE).await;
    assert_eq!(
        (r["retCode"].as_str(), r["status"].as_str()),
        (Some("0"), Some("PROCESSING")),
        "{r}"
    );

    // Only queries from here on: nothing but the clock itself may move the payout.
    let (last, settled) = poll(
        Duration::from_secs(10),
        || w.payout_query("REAL-SETTLE-1"),
        |q| q["status"] == "SUCCESS",
    )
    .await;
    assert!(
        settled,
        "still not settled 10 s after submission (settle_after 1s): {last}"
    );
}

/// A merchant's notify endpoint that answers FAIL to the first notification and SUCCESS to
/// every later one, and notes when each arrived.
#[derive(Clone, Default)]
struct FailsOnce {
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl FailsOnce {
    fn arrivals(&self) -> Vec<Instant> {
        self.arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Respond for FailsOnce {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut arrivals = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        arrivals.push(Instant::now());
        if arrivals.len() == 1 {
            ResponseTemplate::new(200).set_body_string("<xml><return_code>FAIL</return_code></xml>")
        } else {
            ResponseTemplate::new(200).set_body_string(WX_ACK)
        }
    }
}

/// Regression: the same bug, for notifications. On a real clock, a timer scheduled without
/// waking the world's driver waited for whatever woke it next: the customer's payment (a
/// control request) scheduled its notification and nothing sent it. Here the first attempt
/// must go out by itself, and its retry on the ladder's first wait (15 s), with no clock
/// request to push either.
#[tokio::test]
async fn regression_a_notification_retry_goes_out_on_a_real_clock() {
    let w = start_with(WorldOpts {
        clock: "real",
        ..Default::default()
    })
    .await;
    let receiver = MockServer::start().await;
    let responder = FailsOnce::default();
    Mock::given(method("POST"))
        .respond_with(responder.clone())
        .mount(&receiver)
        .await;
    w.native_order(
        "REAL-NOTIFY-1",
        "101",
        &format!("{}/notify", receiver.uri()),
    )
    .await;
    // The customer pays (a control request); no clock request from here on.
    w.pay("REAL-NOTIFY-1").await;

    let (arrivals, retried) = poll(
        Duration::from_secs(25),
        || async { responder.arrivals() },
        |a| a.len() >= 2,
    )
    .await;
    assert!(
        retried,
        "{} notification(s) in 25 s; the retry is due 15 s after the refused first one",
        arrivals.len()
    );
    let gap = arrivals[1] - arrivals[0];
    assert!(
        gap >= FIRST_RETRY,
        "the retry came {gap:?} after the first attempt, before the ladder's {FIRST_RETRY:?}"
    );
    let received = receiver
        .received_requests()
        .await
        .expect("request recording is on by default");
    assert_eq!(received.len(), arrivals.len());

    // The journal tells the same story: refused, then acknowledged.
    let log = w.journal("kind=callback&reference=REAL-NOTIFY-1").await;
    let verdicts: Vec<&str> = log
        .iter()
        .filter_map(|e| e["message"].as_str())
        .filter(|m| m.starts_with("attempt ") && m.contains(" to "))
        .collect();
    assert_eq!(verdicts.len(), 2, "{log:#?}");
    assert!(verdicts[0].ends_with("not acknowledged"), "{log:#?}");
    assert!(verdicts[1].ends_with(": acknowledged"), "{log:#?}");
}

/// Requests each traffic task sends.
const TRAFFIC_REQUESTS: usize = 200;
/// Scenario loads and resets the control task sends (each).
const REPLACEMENTS: usize = 50;
/// How long the whole exchange may take.
const TRAFFIC_WITHIN: Duration = Duration::from_secs(120);

/// One request over the wire, with its outcome named for the report.
async fn send(
    what: String,
    url: String,
    content_type: &'static str,
    body: String,
) -> Result<(), String> {
    match http::post(&url, content_type, body, REQUEST_TIMEOUT).await {
        Ok(r) if r.status == StatusCode::OK && complete(&r) => Ok(()),
        Ok(r) => Err(format!("{what}: {} {}", r.status, r.text())),
        Err(e @ ClientError::Io(_)) => {
            Err(format!("{what}: no reply, the connection closed ({e})"))
        }
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// A reply body the API would send: an XML document or a JSON object.
fn complete(r: &ClientResponse) -> bool {
    let text = r.text();
    (text.starts_with("<xml>") && text.ends_with("</xml>"))
        || serde_json::from_slice::<serde_json::Value>(&r.body).is_ok_and(|v| v.is_object())
}

/// A request to send: what to call it, its URL, content type and body.
type Planned = (String, String, &'static str, String);

/// Send `count` requests made by `plan`, one after another, counting each in `sent`; the
/// failures.
fn traffic(
    count: usize,
    sent: Arc<AtomicUsize>,
    plan: impl Fn(usize) -> Planned + Send + 'static,
) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut failures = Vec::new();
        for i in 0..count {
            let (what, url, content_type, body) = plan(i);
            failures.extend(send(what, url, content_type, body).await.err());
            sent.fetch_add(1, Ordering::Relaxed);
        }
        failures
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replacing_the_scenario_during_traffic_never_panics() {
    let w = start().await;
    // Valid worlds to swap in: the test world, and one on a real clock with another seed,
    // duplicate rule and settle time (its payouts settle while the traffic runs).
    let scenarios = [
        scenario(&WorldOpts::default()),
        scenario(&WorldOpts {
            seed: 7,
            clock: "real",
            on_duplicate: "pay_again",
            settle_after: "1s",
            ..Default::default()
        }),
    ];
    let sent = Arc::new(AtomicUsize::new(0));

    let base = w.base.clone();
    let orders = traffic(TRAFFIC_REQUESTS, sent.clone(), move |i| {
        let no = format!("TRAFFIC-O{i:04}");
        let body = wx_request(&native_fields(&no, "100", "http://127.0.0.1:9/n"), KEY);
        let url = format!("{base}/wxpay/pay/unifiedorder");
        (format!("unifiedorder {no}"), url, "text/xml", body)
    });
    let base = w.base.clone();
    let payouts = traffic(TRAFFIC_REQUESTS, sent.clone(), move |i| {
        let no = format!("TRAFFIC-P{i:04}");
        let body = bank_request(payout_fields(&no, 100, PAYEE), BANK_KEY);
        let url = format!("{base}/bank/agentpay/apply");
        (
            format!("agentpay/apply {no}"),
            url,
            "application/json",
            body,
        )
    });
    let base = w.base.clone();
    let queries = traffic(TRAFFIC_REQUESTS, sent.clone(), move |i| {
        let no = format!("TRAFFIC-O{i:04}");
        let fields = [
            ("appid", APPID),
            ("mch_id", MCH_ID),
            ("nonce_str", "traffic"),
            ("out_trade_no", no.as_str()),
        ];
        let url = format!("{base}/wxpay/pay/orderquery");
        (
            format!("orderquery {no}"),
            url,
            "text/xml",
            wx_request(&fields, KEY),
        )
    });
    // The replacements, spread over the traffic: round `i` waits until its share of the
    // requests has been sent (they always are: each has a timeout).
    let base = w.base.clone();
    let replacements = tokio::spawn(async move {
        let mut failures = Vec::new();
        for i in 0..REPLACEMENTS {
            while sent.load(Ordering::Relaxed) < i * 3 * TRAFFIC_REQUESTS / REPLACEMENTS {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let toml = scenarios[i % scenarios.len()].clone();
            let url = format!("{base}/_sandbank/scenario");
            let loaded = send(format!("scenario #{i}"), url, "application/toml", toml).await;
            failures.extend(loaded.err());
            let url = format!("{base}/_sandbank/reset");
            let body = json!({}).to_string();
            let reset = send(format!("reset #{i}"), url, "application/json", body).await;
            failures.extend(reset.err());
        }
        failures
    });

    let all = async {
        let mut failures = Vec::new();
        for task in [orders, payouts, queries, replacements] {
            failures.extend(task.await.expect("a traffic task panicked"));
        }
        failures
    };
    let failures = tokio::time::timeout(TRAFFIC_WITHIN, all)
        .await
        .expect("the traffic finishes in time");
    assert!(
        failures.is_empty(),
        "{} of {} requests got no complete reply:\n{}",
        failures.len(),
        3 * TRAFFIC_REQUESTS + 2 * REPLACEMENTS,
        failures.join("\n")
    );

    let (status, health) = w.ctl_get("health").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["status"], "ok", "{health}");
}
