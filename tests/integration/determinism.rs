//! Determinism on a served world: the same seed and the same requests give the same journal
//! whatever order concurrent clients' requests and background notifications reach the
//! world in, because every order and payout draws its ids and nonces (and fault
//! probabilities) from its own seeded stream.
//!
//! The script runs several clients in parallel while notifications go out in the
//! background, twice against two worlds; the journals are compared per reference (the order
//! *across* independent references depends on the scheduler, the content of each does not).

use crate::common::*;
use sandbank::journal::Filter;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Clients running at once, and what each does. Small: this is a determinism test, not a
/// load test.
const CLIENTS: usize = 4;
const ORDERS_PER_CLIENT: usize = 4;
const PAYOUTS_PER_CLIENT: usize = 3;

async fn client(w: &TestWorld, c: usize, notify_url: &str) {
    for i in 0..ORDERS_PER_CLIENT {
        let no = format!("DET{c}O{i}");
        let fee = (100 + 37 * c + i).to_string();
        w.native_order(&no, &fee, notify_url).await;
        w.query(&no).await;
        // The payment's notification goes out in the background while this and the other
        // clients carry on.
        w.pay(&no).await;
    }
    for i in 0..PAYOUTS_PER_CLIENT {
        let no = format!("DET{c}P{i}");
        let body = bank_request(
            payout_fields(&no, (1000 + 11 * c + i) as i64, "6228480000000000000"),
            BANK_KEY,
        );
        let _ = w.bank_raw("agentpay/apply", body, REQUEST_TIMEOUT).await;
    }
}

async fn run(seed: u64, notify_url: &str) -> TestWorld {
    let w = start_with(WorldOpts {
        seed,
        ..Default::default()
    })
    .await;
    // Seeded probabilities, drawn per order: which payouts are reset and which
    // notifications are duplicated must not depend on arrival order.
    w.add_fault(
        json!({"target": "bank", "op": "payout.submit", "action": "reset", "probability": 0.5}),
    )
    .await;
    w.add_fault(json!({"target": "wxpay", "op": "notify", "action": "duplicate", "count": 1, "probability": 0.5}))
        .await;
    futures::future::join_all((0..CLIENTS).map(|c| client(&w, c, notify_url))).await;
    w.settle().await;
    w.advance("1m").await;
    w
}

/// The journal's deterministic content by reference, without sequence numbers (which
/// number entries across references in arrival order).
fn by_reference(w: &TestWorld) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for e in w.sb.lock().core.journal.select(&Filter::default()) {
        let mut v = e.deterministic_json();
        if let Some(o) = v.as_object_mut() {
            o.remove("seq");
        }
        let reference = e.reference.clone().unwrap_or_default();
        out.entry(reference).or_default().push(v);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_and_notifications_give_the_same_journal_per_reference() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(WX_ACK))
        .mount(&receiver)
        .await;
    let url = format!("{}/notify", receiver.uri());

    let a = by_reference(&run(5, &url).await);
    let b = by_reference(&run(5, &url).await);
    assert_eq!(
        a.len(),
        2 + CLIENTS * (ORDERS_PER_CLIENT + PAYOUTS_PER_CLIENT),
        "one group per order and payout, the opening balance's, and one without a reference: {:?}",
        a.keys().collect::<Vec<_>>()
    );
    let all: Vec<&Value> = a.values().flatten().collect();
    assert!(
        all.iter().any(|e| e["kind"] == "fault"),
        "a seeded probability fired"
    );
    assert!(
        all.iter().any(|e| e["kind"] == "callback"),
        "notifications went out"
    );
    for (reference, entries) in &a {
        assert_eq!(
            Some(entries),
            b.get(reference),
            "the journal of `{reference}` differs between two runs"
        );
    }
    assert_eq!(a.len(), b.len());
}
