//! Notifications are delivered concurrently across orders: merchants whose endpoints hang
//! do not hold up a healthy one, and an advance over hanging receivers takes about one
//! callback timeout per instant, not one per receiver. Each order's attempts stay in order.
//!
//! The bounds asserted are logical, not speed targets: delivered one at a time, four
//! hanging receivers would take four [`CALLBACK_TIMEOUT`]s; concurrently, one.

use crate::common::*;
use sandbank::channels::wxpay::RETRY_LADDER_SECS;
use sandbank::world::CALLBACK_TIMEOUT;
use std::time::{Duration, Instant};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// How many receivers hang in these tests.
const HANGING: usize = 4;

/// A receiver that answers the acknowledgement only after `delay`.
async fn receiver(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(WX_ACK)
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    server
}

/// Receivers that answer well after the callback timeout: each attempt times out.
async fn hanging() -> Vec<MockServer> {
    let mut v = Vec::new();
    for _ in 0..HANGING {
        v.push(receiver(CALLBACK_TIMEOUT * 4).await);
    }
    v
}

async fn order_paid(w: &TestWorld, no: &str, notify_url: &str) {
    w.native_order(no, "100", notify_url).await;
    w.pay(no).await;
}

#[tokio::test]
async fn a_healthy_merchant_is_served_while_others_hang() {
    let slow = hanging().await;
    let healthy = receiver(Duration::ZERO).await;
    let w = start().await;
    for (i, r) in slow.iter().enumerate() {
        order_paid(&w, &format!("HANG{i:06}"), &format!("{}/notify", r.uri())).await;
    }
    let paid = Instant::now();
    order_paid(&w, "HEALTHY0001", &format!("{}/notify", healthy.uri())).await;

    // The healthy receiver is served while the hanging ones are still waited for: before
    // even one of their attempts could have timed out.
    loop {
        if !healthy
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
        {
            break;
        }
        assert!(
            paid.elapsed() < CALLBACK_TIMEOUT,
            "the healthy merchant waited behind the hanging ones"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    w.settle().await;
    let entries = w.journal("kind=callback&reference=HEALTHY0001").await;
    assert!(
        entries.iter().any(
            |e| e["message"].as_str().unwrap_or("").contains("attempt 1 to") && e["status"] == 200
        ),
        "{entries:?}"
    );
}

#[tokio::test]
async fn an_advance_over_hanging_receivers_takes_one_timeout_not_their_sum() {
    let slow = hanging().await;
    let w = start().await;
    for (i, r) in slow.iter().enumerate() {
        order_paid(&w, &format!("SLOW{i:06}"), &format!("{}/notify", r.uri())).await;
    }
    // The first attempts, all due at the payment instant, time out together.
    w.settle().await;
    // The second attempts all fall due one ladder step later: the advance returns once
    // they have all timed out — about one timeout, where one at a time would be HANGING.
    let step = format!("{}s", RETRY_LADDER_SECS[0]);
    let started = Instant::now();
    w.advance(&step).await;
    let took = started.elapsed();
    assert!(
        took >= CALLBACK_TIMEOUT && took < CALLBACK_TIMEOUT * 2,
        "the advance took {took:?} for {HANGING} hanging receivers"
    );
    // Every order had both attempts, each timed out, in order; the third is scheduled.
    for i in 0..HANGING {
        let no = format!("SLOW{i:06}");
        let messages: Vec<String> = w
            .journal(&format!("kind=callback&reference={no}"))
            .await
            .iter()
            .map(|e| e["message"].as_str().unwrap_or("").to_string())
            .collect();
        let pos = |needle: &str| {
            messages
                .iter()
                .position(|m| m.contains(needle))
                .unwrap_or_else(|| panic!("{no}: no `{needle}` in {messages:?}"))
        };
        let a1 = pos("attempt 1 to");
        let a2 = pos("attempt 2 to");
        let a3 = pos("attempt 3 scheduled");
        assert!(a1 < a2 && a2 < a3, "{no}: {messages:?}");
        assert!(messages[a1].contains("not acknowledged"), "{messages:?}");
    }
}

/// A receiver that answers every request `FAIL` after `delay`, and counts how many
/// requests it held at once.
async fn counting_receiver(
    delay: Duration,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let active = std::sync::Arc::new(AtomicUsize::new(0));
    let most = std::sync::Arc::new(AtomicUsize::new(0));
    let (a, m) = (active.clone(), most.clone());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (a, m) = (a.clone(), m.clone());
            tokio::spawn(async move {
                let now = a.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                let mut buf = vec![0u8; 64 * 1024];
                let _ = s.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                a.fetch_sub(1, Ordering::SeqCst);
                let body = "<xml><return_code>FAIL</return_code></xml>";
                let _ = s
                    .write_all(format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes())
                    .await;
            });
        }
    });
    (url, most)
}

#[tokio::test]
async fn an_orders_attempts_go_out_one_at_a_time_in_order() {
    use sandbank::core::{Event, NotificationId, NotificationKind};
    let (url, most) = counting_receiver(Duration::from_millis(300)).await;
    let w = start().await;
    order_paid(&w, "ONEBYONE01", &url).await;
    // A second attempt about the same order falls due while the first may be in flight.
    w.sb.with(|st| {
        let now = st.core.now();
        st.core.schedule(
            now,
            Event::Notify {
                instance: "wxpay".into(),
                id: NotificationId {
                    kind: NotificationKind::Payment,
                    account: MCH_ID.into(),
                    reference: "ONEBYONE01".into(),
                },
                attempt: 2,
                gated: true,
            },
        )
    });
    w.settle().await;
    let messages: Vec<String> = w
        .journal("kind=callback&reference=ONEBYONE01")
        .await
        .iter()
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect();
    let sent: Vec<&String> = messages.iter().filter(|m| m.contains(" to http")).collect();
    assert_eq!(sent.len(), 2, "{messages:?}");
    assert!(
        sent[0].starts_with("attempt 1 to") && sent[1].starts_with("attempt 2 to"),
        "{messages:?}"
    );
    assert_eq!(
        most.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the receiver never held two of the order's attempts at once"
    );
}
