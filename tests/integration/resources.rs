//! Memory and connection resources: the journal bounded by bytes and read in pages, read
//! timeouts and the connection bound on the server, callback answers read up to a cap.

use crate::common::*;
use hyper::StatusCode;
use sandbank::control::{JOURNAL_PAGE_BYTES, JOURNAL_PAGE_MAX};
use sandbank::journal::{EntryKind, Record, JOURNAL_BODY_MAX, JOURNAL_BYTES_MAX};
use serde_json::Value;

/// Fill the journal past its byte budget with entries whose bodies are 8 KB (clipped to 4 KB).
fn overfill(w: &TestWorld) -> usize {
    let body = "x".repeat(8 << 10);
    let n = JOURNAL_BYTES_MAX / (2 * JOURNAL_BODY_MAX) * 3 / 2;
    w.sb.with(|st| {
        for i in 0..n {
            st.core.record(
                EntryKind::Inbound,
                Record {
                    instance: "bank".into(),
                    op: "payout.submit".into(),
                    message: format!("filler {i}"),
                    request: Some(body.clone()),
                    response: Some(body.clone()),
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
    assert!(bytes <= JOURNAL_BYTES_MAX, "{bytes}");
    assert!(held < pushed, "the byte budget dropped old entries: {held} of {pushed}");
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
            v["error"].as_str().is_some_and(|e| e.starts_with("limit: ")),
            "{v}"
        );
    }
}
