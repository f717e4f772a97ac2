//! Memory and connection resources: the journal bounded by bytes and read in pages, read
//! timeouts and the connection bound on the server, callback answers read up to a cap.

use crate::common::*;
use hyper::StatusCode;
use sandbank::control::{JOURNAL_PAGE_BYTES, JOURNAL_PAGE_MAX};
use sandbank::journal::{EntryKind, Record, JOURNAL_BODY_MAX, JOURNAL_BYTES_DEFAULT};
use serde_json::Value;

/// Fill the journal past its byte budget with entries whose bodies are 8 KB (clipped to 4 KB).
fn overfill(w: &TestWorld) -> usize {
    let body = "x".repeat(8 << 10);
    let n = JOURNAL_BYTES_DEFAULT / (2 * JOURNAL_BODY_MAX) * 3 / 2;
    w.sb.with(|st| {
        for i in 0..n {
            st.core.record(
                EntryKind::Inbound,
                Record {
                    instance: "bank".into(),
                    op: "payout.submit".into(),
                    message: format!("filler {i}"),
                    request: Some(body.clone().into()),
                    response: Some(body.clone().into()),
                    ..Default::default()
                },
            );
        }
    });
    n
}

#[tokio::test]
async fn the_journal_stays_within_its_byte_budget_and_pages_walk_all_of_it_in_order() {
    let w = start().await;
    let pushed = overfill(&w);
    let (held, dropped, bytes, last) = {
        let st = w.sb.lock();
        let j = &st.core.journal;
        (j.len(), j.dropped(), j.bytes(), j.last_seq())
    };
    assert!(bytes <= JOURNAL_BYTES_DEFAULT, "{bytes}");
    assert!(
        held < pushed,
        "the byte budget dropped old entries: {held} of {pushed}"
    );
    assert_eq!(held as u64 + dropped, last);

    // Walk it forward in the largest pages allowed: each page is cut by bytes, the cursor
    // carries on, and every held entry comes exactly once, in order.
    let mut cursor = 0u64;
    let mut seqs = Vec::new();
    let mut pages = 0;
    loop {
        let r = w
            .ctl_get_raw(&format!("journal?after={cursor}&limit={JOURNAL_PAGE_MAX}"))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            r.body.len() <= JOURNAL_PAGE_BYTES + (16 << 10),
            "a page is at most {JOURNAL_PAGE_BYTES} bytes of entries: {}",
            r.body.len()
        );
        let v = json_of(&r);
        pages += 1;
        seqs.extend(
            v["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .map(|e| e["seq"].as_u64().expect("seq")),
        );
        match v["next"].as_u64() {
            Some(n) => cursor = n,
            None => break,
        }
    }
    assert!(pages > 1, "a full journal takes more than one page");
    assert_eq!(seqs, (dropped + 1..=last).collect::<Vec<_>>());

    // Without `after`: the latest, at the default page size at most.
    let (_, v) = w.ctl_get("journal?limit=3").await;
    let latest: Vec<u64> = v["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(latest, vec![last - 2, last - 1, last]);
    assert_eq!(v["next"], Value::Null);
    assert_eq!(v["dropped"], dropped);

    // jsonl streams every held entry, in order.
    let (status, jsonl) = w.ctl_get_text("journal?format=jsonl").await;
    assert_eq!(status, StatusCode::OK);
    let streamed: Vec<u64> = jsonl
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("a JSON line")["seq"]
                .as_u64()
                .expect("seq")
        })
        .collect();
    assert_eq!(streamed, seqs);

    // text with a limit says where to go on.
    let r = w.ctl_get_raw("journal?format=text&after=0&limit=5").await;
    assert_eq!(r.text().lines().count(), 5);
    assert_eq!(
        r.headers
            .get("x-sandbank-next")
            .and_then(|v| v.to_str().ok()),
        Some(seqs[4].to_string().as_str())
    );

    for bad in [
        format!("limit={}", JOURNAL_PAGE_MAX + 1),
        "limit=0".to_string(),
    ] {
        let (status, v) = w.ctl_get(&format!("journal?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert!(
            v["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("limit: ")),
            "{v}"
        );
    }
}

// ------------------------------------------------------------ connections

use sandbank::server::ServerLimits;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Short limits so the tests run in seconds; the defaults are the documented constants.
fn short_limits() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_millis(500),
        body_read_timeout: Duration::from_millis(500),
        max_connections: 4,
        connection_wait: Duration::from_secs(2),
    }
}

async fn start_limited(limits: ServerLimits) -> (sandbank::Running, String) {
    let spec = sandbank::scenario::load_str(&scenario(&WorldOpts::default()), "test scenario")
        .unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let running = sandbank::Running::start_with_limits(listener, spec, limits)
        .expect("a bound listener has an address");
    let url = running.url();
    (running, url)
}

/// Read until the server closes the connection; what it sent. Fails the test if the server
/// keeps it open past `within`.
async fn read_until_closed(s: &mut TcpStream, within: Duration) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(within, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the server kept the connection open past {within:?}"
    );
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn a_client_that_sends_half_a_header_is_disconnected() {
    let (running, _) = start_limited(short_limits()).await;
    let mut s = TcpStream::connect(running.addr()).await.expect("connect");
    s.write_all(b"GET /_sandbank/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .expect("write half a header");
    read_until_closed(&mut s, Duration::from_secs(5)).await;

    // A connection that never sends a byte is closed on the same clock.
    let mut idle = TcpStream::connect(running.addr()).await.expect("connect");
    read_until_closed(&mut idle, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_client_that_sends_its_body_too_slowly_gets_408_and_a_close() {
    let (running, _) = start_limited(short_limits()).await;
    let mut s = TcpStream::connect(running.addr()).await.expect("connect");
    s.write_all(
        b"POST /_sandbank/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"target\":",
    )
    .await
    .expect("write headers and part of the body");
    let answer = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request body not received"), "{answer}");
}

#[tokio::test]
async fn idle_connections_beyond_the_bound_do_not_lock_a_new_client_out() {
    // Timeouts long enough that only the connection bound can make room.
    let limits = ServerLimits {
        header_read_timeout: Duration::from_secs(60),
        ..short_limits()
    };
    let (running, url) = start_limited(limits).await;
    let mut idle = Vec::new();
    for _ in 0..(limits.max_connections * 3) {
        idle.push(TcpStream::connect(running.addr()).await.expect("connect"));
    }
    // And one kept-alive connection that already had an exchange and now idles.
    let mut kept = TcpStream::connect(running.addr()).await.expect("connect");
    kept.write_all(b"GET /_sandbank/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 1024];
    let n = kept.read(&mut buf).await.expect("an answer");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));

    for _ in 0..3 {
        let r = sandbank::http::get(&format!("{url}/_sandbank/health"), REQUEST_TIMEOUT)
            .await
            .expect("a new client is served while idle sockets hold every slot");
        assert_eq!(r.status, StatusCode::OK);
    }
    drop(idle);
}

// ------------------------------------------------------------ callback answers

use sandbank::http::MAX_CALLBACK_BODY_BYTES;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A receiver that answers every request `200` with `head` and then claims 200 MB more of
/// padding, writing it until the client goes away. Counts the bytes it managed to send.
async fn huge_answerer(head: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                // Read the request head and whatever body came with it.
                let mut buf = vec![0u8; 64 << 10];
                let _ = s.read(&mut buf).await;
                let total = head.len() + 200_000_000;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {total}\r\n\r\n{head}"
                );
                if s.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
                let pad = vec![b' '; 64 << 10];
                let mut left = 200_000_000usize;
                while left > 0 {
                    let n = left.min(pad.len());
                    if s.write_all(&pad[..n]).await.is_err() {
                        return;
                    }
                    counter.fetch_add(n, Ordering::SeqCst);
                    left -= n;
                }
            });
        }
    });
    (format!("http://{addr}/notify"), sent)
}

#[tokio::test]
async fn a_capped_call_reads_up_to_its_cap_and_stops() {
    let (url, sent) = huge_answerer("<xml></xml>").await;
    let r = sandbank::http::post_capped(&url, "text/xml", "<xml/>", REQUEST_TIMEOUT, 1000)
        .await
        .expect("an answer");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.len(), 1000);
    assert!(r.truncated);
    assert!(r.body.starts_with(b"<xml></xml>"));
    // The receiver could push at most what the sockets buffer before the close stopped it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        sent.load(Ordering::SeqCst) < 50_000_000,
        "{} bytes sent: the rest was read",
        sent.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn a_notification_answered_with_200_mb_is_judged_on_its_first_64_kib() {
    let (url, sent) = huge_answerer(WX_ACK).await;
    let w = start().await;
    w.native_order("HUGEACK001", "100", &url).await;
    let (status, v) = w
        .ctl_post(
            "channels/wxpay/orders/HUGEACK001/notify",
            serde_json::json!({"forge": "signature"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let journal = w.journal("kind=callback&reference=HUGEACK001").await;
    let answer = journal.last().expect("the callback is journalled").clone();
    assert_eq!(answer["status"], 200, "{answer}");
    assert!(
        answer["response"]
            .as_str()
            .is_some_and(|r| r.starts_with(WX_ACK)),
        "{answer}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        sent.load(Ordering::SeqCst) < 50_000_000,
        "{} bytes sent: the answer was read whole",
        sent.load(Ordering::SeqCst)
    );
    // The capped answer — the ack and then padding — is what the ack judgement saw.
    assert_eq!(v["acknowledged"], true);
    assert_eq!(
        v["response"].as_str().map(str::len),
        Some(MAX_CALLBACK_BODY_BYTES)
    );
}

#[tokio::test]
async fn a_world_sets_its_journal_size_and_the_journal_keeps_to_it() {
    let toml =
        scenario(&WorldOpts::default()).replacen("[world]", "[world]\njournal_bytes = 65536", 1);
    assert!(toml.contains("journal_bytes = 65536"), "{toml}");
    let w = start_toml(&toml).await;
    let (_, page) = w.ctl_get("journal?limit=1").await;
    assert_eq!(page["max_bytes"], 65536, "{page}");
    overfill(&w);
    let (_, page) = w.ctl_get("journal?limit=1").await;
    let bytes = page["bytes"].as_u64().unwrap();
    assert!(bytes <= 65536 && bytes > 65536 / 2, "{page}");
    assert!(page["dropped"].as_u64().unwrap() > 0, "{page}");
    // A reset builds the world again from the same scenario: the same size.
    let (status, _) = w.ctl_post("reset", serde_json::json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, page) = w.ctl_get("journal?limit=1").await;
    assert_eq!(page["max_bytes"], 65536, "{page}");
}
