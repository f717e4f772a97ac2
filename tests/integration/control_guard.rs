//! The control API obeys only its own users, over TCP: a cross-origin browser request and a
//! foreign `Host` (DNS rebinding) are refused with the world unchanged, a token is required
//! when one is set, and a merchant `notify_url` pointing at `/_sandbank/` is not followed.
//! Channel and bank endpoints stay open to anyone.

use crate::common::*;
use hyper::StatusCode;
use sandbank::control::guard::Access;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Send one raw HTTP/1.1 request with exactly these headers (a test of `Host` needs to
/// choose it) and return the status and body.
async fn raw(
    w: &TestWorld,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, String) {
    let addr = w.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(REQUEST_TIMEOUT, s.read_to_end(&mut out))
        .await
        .expect("answered in time")
        .expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (StatusCode::from_u16(status).unwrap(), body)
}

fn host(w: &TestWorld) -> String {
    w.base.trim_start_matches("http://").to_string()
}

/// An order paid by the customer: something a reset would wipe out.
async fn paid_order(w: &TestWorld, no: &str) {
    w.native_order(no, "100", "http://127.0.0.1:9/notify").await;
    w.pay(no).await;
}

async fn order_state(w: &TestWorld, no: &str) -> Value {
    let (status, v) = w.ctl_get(&format!("channels/wxpay/orders/{no}")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

#[tokio::test]
async fn a_cross_origin_text_plain_post_is_refused_and_the_world_unchanged() {
    let w = start().await;
    paid_order(&w, "GUARD00001").await;
    let before = w.journal("").await.len();
    let h = host(&w);
    for path in ["/_sandbank/reset", "/_sandbank/scenario"] {
        let (status, body) = raw(
            &w,
            "POST",
            path,
            &[
                ("host", &h),
                ("origin", "http://evil.example"),
                ("content-type", "text/plain"),
            ],
            "[world]\nname = \"pwned\"\n",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(
            body.contains("Origin"),
            "the refusal names the reason: {body}"
        );
    }
    assert_eq!(w.sb.lock().generation, 1, "the world was not replaced");
    assert_eq!(w.journal("").await.len(), before, "nothing happened");
    assert!(order_state(&w, "GUARD00001")
        .await
        .to_string()
        .contains("SUCCESS"));
    // The server's own origin is fine (the walk-through's curl sends none at all).
    let (status, body) = raw(
        &w,
        "GET",
        "/_sandbank/health",
        &[("host", &h), ("origin", &format!("http://{h}"))],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_foreign_host_is_refused_but_channels_stay_open() {
    let w = start().await;
    paid_order(&w, "GUARD00002").await;
    let port = w.base.rsplit(':').next().unwrap().to_string();
    let rebound = format!("evil.example:{port}");
    let (status, body) = raw(&w, "POST", "/_sandbank/reset", &[("host", &rebound)], "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("Host"), "{body}");
    assert_eq!(w.sb.lock().generation, 1, "the world was not replaced");
    for ok in [host(&w), format!("localhost:{port}")] {
        let (status, body) = raw(&w, "GET", "/_sandbank/health", &[("host", &ok)], "").await;
        assert_eq!(status, StatusCode::OK, "{ok}: {body}");
    }
    // SDKs call channels and banks under any name.
    let q = wx_request(
        &[
            ("appid", APPID),
            ("mch_id", MCH_ID),
            ("nonce_str", "n1"),
            ("out_trade_no", "GUARD00002"),
        ],
        KEY,
    );
    let (status, body) = raw(
        &w,
        "POST",
        "/wxpay/pay/orderquery",
        &[("host", &rebound), ("content-type", "text/xml")],
        &q,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("SUCCESS"), "{body}");
}

#[tokio::test]
async fn a_name_given_with_allow_host_is_accepted() {
    let access = Access {
        allow_hosts: vec!["sandbank.ci.internal".into()],
        token: None,
    };
    let w = start_toml_guarded(&scenario(&WorldOpts::default()), access).await;
    let (status, body) = raw(
        &w,
        "GET",
        "/_sandbank/health",
        &[("host", "sandbank.ci.internal:8080")],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = raw(
        &w,
        "GET",
        "/_sandbank/health",
        &[("host", "other.ci.internal")],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_token_is_required_on_every_control_route_when_set() {
    let access = Access {
        allow_hosts: vec![],
        token: Some("tok-123".into()),
    };
    let w = start_toml_guarded(&scenario(&WorldOpts::default()), access).await;
    let h = host(&w);
    for (method, path) in [
        ("GET", "/_sandbank/health"),
        ("POST", "/_sandbank/reset"),
        ("GET", "/_sandbank/journal"),
    ] {
        let (status, body) = raw(&w, method, path, &[("host", &h)], "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        let (status, _) = raw(
            &w,
            method,
            path,
            &[("host", &h), ("authorization", "Bearer wrong")],
            "",
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(w.sb.lock().generation, 1);
    let (status, _) = raw(
        &w,
        "GET",
        "/_sandbank/health",
        &[("host", &h), ("authorization", "Bearer tok-123")],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = raw(
        &w,
        "GET",
        "/_sandbank/health",
        &[("host", &h), ("x-sandbank-token", "tok-123")],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The channel needs no token.
    let r = w.wx_raw("pay/orderquery", "<xml></xml>").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn a_notify_url_pointing_at_the_control_api_does_not_reset_the_world() {
    let w = start().await;
    paid_order(&w, "GUARD00003").await;
    // One order's notify URL resets the world, another's pays a third order.
    w.native_order("GUARD00004", "100", &w.url("_sandbank/reset"))
        .await;
    w.native_order("GUARD00006", "100", "http://127.0.0.1:9/notify")
        .await;
    w.native_order(
        "GUARD00005",
        "100",
        &w.url("//_sandbank/channels/wxpay/orders/GUARD00006/pay"),
    )
    .await;
    w.pay("GUARD00004").await;
    w.pay("GUARD00005").await;
    w.settle().await;
    w.advance("1m").await;

    assert_eq!(w.sb.lock().generation, 1, "the world was not reset");
    assert!(order_state(&w, "GUARD00003")
        .await
        .to_string()
        .contains("SUCCESS"));
    assert!(
        !order_state(&w, "GUARD00006")
            .await
            .to_string()
            .contains("SUCCESS"),
        "a notification did not pay another order"
    );
    for no in ["GUARD00004", "GUARD00005"] {
        let entries = w.journal(&format!("kind=callback&reference={no}")).await;
        let refused: Vec<_> = entries
            .iter()
            .filter(|e| {
                e["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("refused, not sent")
            })
            .collect();
        assert!(!refused.is_empty(), "{no}: {entries:?}");
        assert!(refused.iter().all(|e| e["status"].is_null()), "{refused:?}");
    }
    // No inbound control request came from the world itself.
    let (_, text) = w.ctl_get_text("journal?format=text").await;
    assert!(!text.contains("world reset"), "{text}");
}
