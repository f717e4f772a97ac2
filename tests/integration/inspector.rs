//! The inspector over TCP: `GET /_sandbank/timeline` draws an order's story — its exchanges,
//! each notification attempt with the merchant's answer, the next attempt's time, postings
//! and faults — as JSON and Mermaid; the page's files are served from the binary under the
//! control API's Host/Origin guard (not its token: they carry no data, and every route the
//! page calls still asks for it).

use crate::common::*;
use hyper::StatusCode;
use sandbank::control::guard::Access;
use serde_json::{json, Value};

/// A paid order whose notifications go to a port nobody listens on: every attempt fails.
async fn unacked_order(w: &TestWorld, no: &str) {
    w.native_order(no, "101", "http://127.0.0.1:9/notify").await;
    w.pay(no).await;
    w.settle().await;
}

fn classes(t: &Value) -> Vec<String> {
    t["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["class"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_orders_timeline_shows_each_attempt_and_when_the_next_is_due() {
    let w = start().await;
    unacked_order(&w, "TL000001").await;
    unacked_order(&w, "TL000002").await;
    w.advance("15s").await;

    let (status, t) = w.ctl_get("timeline?reference=TL000001").await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["reference"], "TL000001");
    let lanes: Vec<&str> = t["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(lanes, ["merchant", "wxpay", "customer", "bank"]);
    assert_eq!(
        classes(&t),
        [
            "request", "reply", "customer", "posting", "posting", "callback", "answer", "retry",
            "callback", "answer", "retry"
        ]
    );
    let steps = t["steps"].as_array().unwrap();
    assert!(
        steps.iter().all(|s| s["reference"] == "TL000001"),
        "only the order's steps"
    );
    // The ladder: attempt 1 at 10:00:00, attempt 2 due and sent 15 s later, attempt 3 due
    // 15 s after that; each answer says it was not acknowledged.
    let retries: Vec<(&Value, &Value)> = steps
        .iter()
        .filter(|s| s["class"] == "retry")
        .map(|s| (&s["attempt"], &s["next_local"]))
        .collect();
    assert_eq!(
        retries,
        [
            (&json!(2), &json!("2026-03-02 10:00:15")),
            (&json!(3), &json!("2026-03-02 10:00:30"))
        ]
    );
    let callbacks: Vec<(&Value, &Value)> = steps
        .iter()
        .filter(|s| s["class"] == "callback")
        .map(|s| (&s["attempt"], &s["local"]))
        .collect();
    assert_eq!(
        callbacks,
        [
            (&json!(1), &json!("2026-03-02 10:00:00")),
            (&json!(2), &json!("2026-03-02 10:00:15"))
        ]
    );
    let answer = steps.iter().find(|s| s["class"] == "answer").unwrap();
    assert_eq!(answer["acked"], false, "{answer}");
    assert_eq!(answer["from"], "merchant");
    assert_eq!(answer["to"], "wxpay");
    let reply = &steps[1];
    assert_eq!(reply["label"], "200 SUCCESS", "{reply}");
    assert!(reply["body"].as_str().unwrap().contains("prepay_id"));

    // The same as Mermaid.
    let (status, m) = w
        .ctl_get_text("timeline?reference=TL000001&format=mermaid")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        m.starts_with("sequenceDiagram\n    title sandbank timeline: TL000001\n"),
        "{m}"
    );
    assert!(
        m.contains("    L1->>L0: 2026-03-02 10:00:15 notify TL000001 attempt 2\n"),
        "{m}"
    );
    assert!(m.contains("    Note over L1: 2026-03-02 10:00:15 notify TL000001 attempt 3 due 2026-03-02 10:00:30\n"), "{m}");
    assert!(!m.contains("TL000002"), "{m}");
}

#[tokio::test]
async fn timeline_pages_follow_a_cursor_and_bad_parameters_are_named() {
    let w = start().await;
    unacked_order(&w, "TL000003").await;
    // Walk the whole timeline two entries at a time: every step once, in order.
    let mut after = 0;
    let mut seqs = Vec::new();
    loop {
        let (status, t) = w.ctl_get(&format!("timeline?after={after}&limit=2")).await;
        assert_eq!(status, StatusCode::OK, "{t}");
        for s in t["steps"].as_array().unwrap() {
            let seq = s["seq"].as_u64().unwrap();
            if seqs.last() != Some(&seq) {
                seqs.push(seq);
            }
        }
        match t["next"].as_u64() {
            Some(n) => after = n,
            None => break,
        }
    }
    let last = w.ctl_get("timeline?limit=1").await.1["last_seq"]
        .as_u64()
        .unwrap();
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>());
    for (query, needle) in [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("after=x", "after"),
        ("format=svg", "format"),
    ] {
        let (status, v) = w.ctl_get(&format!("timeline?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {v}");
        assert!(v["error"].as_str().unwrap().starts_with(needle), "{v}");
    }
    // Balances alone, for the page's ledger panel.
    let (status, v) = w.ctl_get("ledger?postings=none").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["postings"], json!([]));
    assert!(!v["balances"].as_array().unwrap().is_empty());
    let (status, _) = w.ctl_get("ledger?postings=some").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_page_is_served_from_the_binary_with_a_strict_policy() {
    let w = start().await;
    for (path, kind, needle) in [
        ("ui/", "text/html", "/_sandbank/ui/inspector.js"),
        ("ui", "text/html", "advance 15s"),
        ("ui/inspector.js", "text/javascript", "timeline?"),
        ("ui/timeline.js", "text/javascript", "SandbankTimeline"),
        ("ui/inspector.css", "text/css", ".sb-seq"),
    ] {
        let r = w.ctl_get_raw(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let header = |h: &str| {
            r.headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        assert!(header("content-type").starts_with(kind), "{path}");
        assert!(
            header("content-security-policy").contains("default-src 'self'"),
            "{path}"
        );
        assert!(r.text().contains(needle), "{path}");
        // Nothing from elsewhere: no CDN, no external font (the SVG namespace is a name).
        let text = r.text().replace("http://www.w3.org/2000/svg", "");
        assert!(
            !text.contains("https://") && !text.contains("http://"),
            "{path}"
        );
    }
    let (status, v) = w.ctl_get("ui/secrets.txt").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
}

#[tokio::test]
async fn the_page_needs_no_token_but_its_data_does_and_strangers_get_neither() {
    let access = Access {
        allow_hosts: Vec::new(),
        token: Some("s3cret".into()),
    };
    let w = start_toml_guarded(&scenario(&WorldOpts::default()), access).await;
    let r = w.ctl_get_raw("ui/").await;
    assert_eq!(r.status, StatusCode::OK, "the page itself");
    let r = w.ctl_get_raw("timeline").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "its data");
    let r = sandbank::http::send(
        hyper::Method::GET,
        &w.url("_sandbank/timeline"),
        &[("x-sandbank-token", "s3cret")],
        bytes::Bytes::new(),
        REQUEST_TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::OK, "with the token the page sends");
    // A foreign origin gets neither the page nor the data; nor a POST dressed as the page.
    for (method, path) in [
        (hyper::Method::GET, "_sandbank/ui/"),
        (hyper::Method::GET, "_sandbank/timeline"),
        (hyper::Method::POST, "_sandbank/ui/../reset"),
    ] {
        let r = sandbank::http::send(
            method.clone(),
            &w.url(path),
            &[
                ("origin", "http://evil.example"),
                ("x-sandbank-token", "s3cret"),
            ],
            bytes::Bytes::new(),
            REQUEST_TIMEOUT,
        )
        .await
        .unwrap();
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    let r = sandbank::http::send(
        hyper::Method::POST,
        &w.url("_sandbank/ui/reset"),
        &[],
        bytes::Bytes::new(),
        REQUEST_TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "only GETs of the page skip the token"
    );
}
