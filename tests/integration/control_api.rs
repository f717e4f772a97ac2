//! The control API under `/_sandbank/` over a real socket: the clock, fault rules, scenario
//! loading, reset, the journal and its filters, and the promise that one seed and one
//! sequence of requests always give the same journal.

use crate::common::*;
use hyper::StatusCode;
use sandbank::journal::Filter;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn error_text(v: &Value) -> &str {
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("an error reply has `error`: {v}"))
}

// ---------------------------------------------------------------- clock

#[tokio::test]
async fn the_clock_reads_advances_jumps_and_refuses_to_go_back() {
    let w = start().await;
    let (status, c) = w.ctl_get("clock").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(c["now"], "2026-03-02T02:00:00+00:00");
    assert_eq!(c["now_local"], "2026-03-02 10:00:00");
    assert_eq!(c["mode"], "manual");
    assert_eq!(c["pending_timers"], 0);
    assert!(c["next_due"].is_null());

    // A manual clock does not move by itself.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(w.now().await, "2026-03-02T02:00:00+00:00");

    let c = w.advance("15s").await;
    assert_eq!(c["now"], "2026-03-02T02:00:15+00:00");
    assert_eq!(c["fired"], 0);
    let c = w.advance("1h30m").await;
    assert_eq!(c["now_local"], "2026-03-02 11:30:15");

    let (status, c) = w.ctl_post("clock", json!({"to": "2026-03-02 12:00"})).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(
        c["now_local"], "2026-03-02 12:00:00",
        "`to` in local time is Beijing time"
    );
    let (status, c) = w
        .ctl_post("clock", json!({"to": "2026-03-02T05:00:00Z"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["now_local"], "2026-03-02 13:00:00");

    // Backwards: 409, and the clock stays.
    let (status, c) = w.ctl_post("clock", json!({"to": "2026-03-02 11:00"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{c}");
    assert!(error_text(&c).contains("backwards"), "{c}");
    assert_eq!(w.now().await, "2026-03-02T05:00:00+00:00");

    // Malformed requests: 400, the clock stays.
    for body in [
        json!({"advance": "soon"}),
        json!({"advance": "-5s"}),
        json!({"to": "tomorrow"}),
        json!({"advance": "1s", "to": "2026-03-03 00:00"}),
    ] {
        let (status, c) = w.ctl_post("clock", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {c}");
    }
    let (status, _) = w
        .ctl_post_raw("clock", "application/json", "{not json")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(w.now().await, "2026-03-02T05:00:00+00:00");
}

#[tokio::test]
async fn the_clock_view_shows_what_is_scheduled_and_advancing_fires_it() {
    let w = start().await;
    w.payout("CLOCK-PAYOUT-1", 100, "6228480000000000000").await;
    let (_, c) = w.ctl_get("clock").await;
    assert_eq!(c["pending_timers"], 1);
    assert_eq!(
        c["next_due"], "2026-03-02T02:00:30+00:00",
        "settles 30s after submission"
    );
    let c = w.advance("1m").await;
    assert_eq!(c["fired"], 1);
    assert_eq!(c["pending_timers"], 0);
}

/// Regression: `{"advance": 15}` (a number) or a misspelt key was answered 200 without
/// moving the clock, so a script that meant to advance it went on at the same instant.
#[tokio::test]
async fn regression_a_clock_request_it_cannot_read_is_400_not_ignored() {
    let w = start().await;
    for body in [
        json!({"advance": 15}),
        json!({"advnace": "15s"}),
        json!({"to": 1772416800}),
        json!(["15s"]),
        json!("15s"),
    ] {
        let (status, v) = w.ctl_post("clock", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {v}");
    }
    assert_eq!(w.now().await, "2026-03-02T02:00:00+00:00");
    // What it can read still works, and `{}` still means "fire what is due".
    assert_eq!(w.advance("15s").await["now"], "2026-03-02T02:00:15+00:00");
    assert_eq!(w.settle().await["now"], "2026-03-02T02:00:15+00:00");
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn fault_rules_are_created_listed_and_deleted() {
    let w = start().await;
    let created = w
        .add_fault(json!({"target": "bank", "op": "payout.submit", "action": "reset"}))
        .await;
    assert_eq!(created["id"], "rule-1");
    assert_eq!(created["action"]["action"], "reset");
    let named = w.add_fault(json!({"id": "slow-notify", "target": "wxpay", "op": "notify", "action": "delay", "delay": "5m"})).await;
    assert_eq!(named["action"]["delay_ms"], 300_000);

    let (_, v) = w.ctl_get("faults").await;
    let ids: Vec<&str> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["rule-1", "slow-notify"]);

    let (status, v) = w
        .ctl_post(
            "faults",
            json!({"id": "slow-notify", "target": "wxpay", "action": "drop"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");

    let (status, v) = w.ctl_delete("faults/rule-1").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, _) = w.ctl_delete("faults/rule-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, v) = w.ctl_get("faults").await;
    assert_eq!(v["rules"].as_array().unwrap().len(), 1);

    // The deleted reset rule no longer fires.
    assert_eq!(
        w.payout("AFTER-DELETE-1", 100, "6228480000000000000").await["retCode"],
        "0"
    );

    let (status, v) = w.ctl_delete("faults").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["rules"], json!([]));
    let (_, v) = w.ctl_get("faults").await;
    assert_eq!(v["rules"], json!([]));
}

#[tokio::test]
async fn invalid_fault_rules_are_400_naming_the_field() {
    let w = start().await;
    let cases = [
        (json!({"action": "reset"}), "target"),
        (json!({"target": "bank"}), "action"),
        (json!({"target": "bank", "action": "explode"}), "action"),
        (json!({"target": "bank", "action": "delay"}), "delay"),
        (
            json!({"target": "bank", "action": "delay", "delay": "a while"}),
            "delay",
        ),
        (json!({"target": "bank", "action": "http_error"}), "status"),
        (
            json!({"target": "bank", "action": "http_error", "status": 200}),
            "status",
        ),
        (
            json!({"target": "bank", "action": "protocol_error"}),
            "code",
        ),
        (
            json!({"target": "bank", "action": "commit_then_fail", "then": "vanish"}),
            "then",
        ),
        (
            json!({"target": "wxpay", "action": "duplicate", "count": 0}),
            "count",
        ),
        (
            json!({"target": "bank", "action": "reset", "probability": 1.5}),
            "probability",
        ),
        (
            json!({"target": "bank", "action": "reset", "nth": 0}),
            "nth",
        ),
        (
            json!({"target": "bank", "action": "reset", "amount": "lots"}),
            "amount",
        ),
        (
            json!({"target": "bank", "op": "payout.submit", "action": "drop"}),
            "action",
        ),
        (
            json!({"target": "wxpay", "op": "notify", "action": "hang"}),
            "action",
        ),
        (json!({"target": "nowhere", "action": "reset"}), "target"),
    ];
    for (rule, field) in cases {
        let (status, v) = w.ctl_post("faults", rule.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{rule} → {v}");
        assert!(
            error_text(&v).starts_with(&format!("{field}:")),
            "{rule} → {v} should name `{field}`"
        );
    }
    // Unknown fields are refused by name too.
    let (status, v) = w
        .ctl_post(
            "faults",
            json!({"target": "bank", "action": "reset", "when": "always"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_text(&v).contains("when"), "{v}");
    let (_, v) = w.ctl_get("faults").await;
    assert_eq!(v["rules"], json!([]), "no invalid rule was added");
}

// ---------------------------------------------------------------- scenario and reset

#[tokio::test]
async fn a_posted_scenario_replaces_the_world_and_bad_ones_name_the_field() {
    let w = start().await;
    let bad = scenario(&WorldOpts::default()).replace("clock = \"manual\"", "clock = \"fast\"");
    let (status, v) = w.ctl_post_raw("scenario", "application/toml", bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_text(&v).contains("world.clock"), "{v}");
    let bad = scenario(&WorldOpts {
        on_duplicate: "twice",
        ..Default::default()
    });
    let (status, v) = w.ctl_post_raw("scenario", "application/toml", bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_text(&v).contains("banks[0].on_duplicate"), "{v}");
    let (status, v) = w
        .ctl_post_raw("scenario", "application/toml", "[world\nname=")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, _) = w
        .ctl_post_raw("scenario", "application/toml", vec![0xff, 0xfe])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, h) = w.ctl_get("health").await;
    assert_eq!(
        h["world"], "wire-tests",
        "a refused scenario changes nothing"
    );

    let good = scenario(&WorldOpts {
        seed: 99,
        ..Default::default()
    })
    .replace("name = \"wire-tests\"", "name = \"posted\"")
    .replace(
        "start = \"2026-03-02 10:00\"",
        "start = \"2026-04-01 08:00\"",
    )
    .replace("id = \"bank\"", "id = \"bank2\"");
    let (status, c) = w.ctl_post_raw("scenario", "application/toml", good).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["now_local"], "2026-04-01 08:00:00");
    let (_, h) = w.ctl_get("health").await;
    assert_eq!(
        (h["world"].as_str(), h["seed"].as_u64()),
        (Some("posted"), Some(99))
    );
    let index = json_of(
        &sandbank::http::get(&w.url("/"), REQUEST_TIMEOUT)
            .await
            .unwrap(),
    );
    assert_eq!(index["mounted"], json!(["/wxpay/", "/bank2/"]));
    let r = sandbank::http::post(
        &w.url("bank/agentpay/query"),
        "application/json",
        "{}",
        REQUEST_TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::NOT_FOUND, "the old bank is gone");
}

#[tokio::test]
async fn reset_rebuilds_the_world_from_its_scenario() {
    let w = start().await;
    let opening = w.ledger().await;
    w.native_order("RESETORDER", "100", "http://127.0.0.1:1/notify")
        .await;
    w.payout("RESET-PAYOUT", 100, "6228480000000000000").await;
    w.add_fault(json!({"target": "bank", "action": "reset"}))
        .await;
    w.advance("2h").await;

    let (status, c) = w.ctl_post("reset", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["now_local"], "2026-03-02 10:00:00");
    assert_eq!(c["pending_timers"], 0);
    assert_eq!(w.ledger().await, opening);
    assert_eq!(w.query("RESETORDER").await["err_code"], "ORDERNOTEXIST");
    assert_eq!(w.ctl_get("faults").await.1["rules"], json!([]));
    let journal = w.journal("").await;
    assert_eq!(
        journal.len(),
        3,
        "load, the opening balance posting, and the query just made: {journal:#?}"
    );
    assert_eq!(journal[0]["op"], "load");
    assert_eq!(journal[1]["op"], "opening");
    assert_eq!(
        w.payout_query("RESET-PAYOUT").await["retCode"],
        "ORDER_NOT_EXIST"
    );
}

#[tokio::test]
async fn health_index_orders_and_unknown_routes() {
    let w = start().await;
    let (status, h) = w.ctl_get("health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (h["status"].as_str(), h["seed"].as_u64()),
        (Some("ok"), Some(42))
    );
    w.native_order("VIEWORDER1", "250", "http://127.0.0.1:1/notify")
        .await;
    let (status, o) = w.ctl_get("channels/wxpay/orders/VIEWORDER1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (o["total_fee"].as_i64(), o["state"].as_str()),
        (Some(250), Some("NOTPAY"))
    );
    assert_eq!(
        w.ctl_get("channels/wxpay/orders/NOPE").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        w.ctl_post("channels/wxpay/orders/NOPE/pay", json!({}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(w.ctl_get("no/such/route").await.0, StatusCode::NOT_FOUND);
    let r = sandbank::http::get(&w.url("nothing-here/x"), REQUEST_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- journal

#[tokio::test]
async fn the_journal_filters_and_formats() {
    let w = start().await;
    w.native_order("JOURNAL001", "100", "http://127.0.0.1:1/notify")
        .await;
    w.payout("JOURNAL-P1", 100, "6228480000000000000").await;
    w.payout("JOURNAL-P2", 100, "6228480000000000000").await;
    w.advance("1m").await;

    let all = w.journal("").await;
    assert!(all.len() >= 8, "{all:#?}");
    let seqs: Vec<u64> = all.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|p| p[0] < p[1]), "in order: {seqs:?}");

    let inbound = w.journal("kind=inbound").await;
    assert_eq!(inbound.len(), 3);
    assert!(inbound.iter().all(|e| e["kind"] == "inbound"));
    let bank = w.journal("instance=bank").await;
    assert!(bank.iter().all(|e| e["instance"] == "bank"));
    assert_eq!(bank.iter().filter(|e| e["kind"] == "inbound").count(), 2);
    // The opening balance and the two payouts: every posting is journalled.
    assert_eq!(bank.iter().filter(|e| e["kind"] == "posting").count(), 3);
    assert_eq!(
        bank.iter().filter(|e| e["op"] == "payout.settle").count(),
        2
    );
    let p1 = w.journal("reference=JOURNAL-P1").await;
    assert!(!p1.is_empty() && p1.iter().all(|e| e["reference"] == "JOURNAL-P1"));
    let by_prefix = w.journal("kind=inbound&reference=JOURNAL-P").await;
    assert_eq!(by_prefix.len(), 2, "reference matches by substring");
    let after = w.journal(&format!("after={}", seqs[2])).await;
    assert_eq!(after.len(), all.len() - 3);
    assert_eq!(after[0]["seq"].as_u64(), Some(seqs[3]));
    let last2 = w.journal("limit=2").await;
    assert_eq!(
        last2,
        all[all.len() - 2..].to_vec(),
        "limit keeps the latest"
    );
    let combined = w.journal("kind=inbound&instance=bank&limit=1").await;
    assert_eq!(combined.len(), 1);
    assert_eq!(combined[0]["reference"], "JOURNAL-P2");

    for bad in [
        "kind=everything",
        "after=yesterday",
        "limit=-1",
        "format=xml",
    ] {
        let (status, v) = w.ctl_get_text(&format!("journal?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} → {v}");
    }

    let (status, jsonl) = w.ctl_get_text("journal?format=jsonl&instance=bank").await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines, bank);

    let (status, text) = w.ctl_get_text("journal?format=text&kind=inbound").await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].starts_with(&format!(
            "#{} 2026-03-02 10:00:00.000 inbound wxpay pay/unifiedorder JOURNAL001 [200]",
            inbound[0]["seq"]
        )),
        "{text}"
    );
}

// ---------------------------------------------------------------- determinism

/// Drive a world through a fixed sequence of requests: orders, a payment with its
/// notification, payouts with a fault, clock moves.
async fn drive(w: &TestWorld, notify_url: &str) {
    w.native_order("DETERMINE1", "101", notify_url).await;
    w.native_order("DETERMINE2", "202", notify_url).await;
    w.add_fault(
        json!({"target": "wxpay", "op": "notify", "action": "duplicate", "count": 1, "times": 1}),
    )
    .await;
    w.add_fault(
        json!({"target": "bank", "op": "payout.submit", "action": "reset", "probability": 0.5}),
    )
    .await;
    w.pay("DETERMINE1").await;
    w.settle().await;
    for i in 0..6 {
        let _ = w
            .bank_raw(
                "agentpay/apply",
                bank_request(
                    payout_fields(&format!("DET-P{i}"), 100 + i, "6228480000000000000"),
                    BANK_KEY,
                ),
                REQUEST_TIMEOUT,
            )
            .await;
    }
    w.advance("15s").await;
    w.pay("DETERMINE2").await;
    w.settle().await;
    w.advance("1h").await;
    w.query("DETERMINE1").await;
}

fn deterministic_journal(w: &TestWorld) -> Vec<Value> {
    w.sb.lock()
        .core
        .journal
        .select(&Filter::default())
        .iter()
        .map(|e| e.deterministic_json())
        .collect()
}

#[tokio::test]
async fn the_same_seed_and_requests_give_the_same_journal() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(WX_ACK))
        .mount(&receiver)
        .await;
    let url = format!("{}/notify", receiver.uri());

    let a = start_with(WorldOpts {
        seed: 7,
        ..Default::default()
    })
    .await;
    drive(&a, &url).await;
    let b = start_with(WorldOpts {
        seed: 7,
        ..Default::default()
    })
    .await;
    drive(&b, &url).await;
    let (ja, jb) = (deterministic_journal(&a), deterministic_journal(&b));
    assert!(ja.len() > 20, "a journal worth comparing: {}", ja.len());
    assert!(
        ja.iter().any(|e| e["kind"] == "fault"),
        "the seeded probability fired at least once"
    );
    assert!(ja.iter().all(|e| e.get("real_at").is_none()));
    for (x, y) in ja.iter().zip(&jb) {
        assert_eq!(x, y);
    }
    assert_eq!(ja.len(), jb.len());
    assert_eq!(a.ledger().await, b.ledger().await);

    // Another seed: same story, different ids.
    let c = start_with(WorldOpts {
        seed: 8,
        ..Default::default()
    })
    .await;
    drive(&c, &url).await;
    let txn = |w: &TestWorld| {
        let st = w.sb.lock();
        ["DETERMINE1", "DETERMINE2"]
            .iter()
            .map(|no| {
                let o = st
                    .order("wxpay", no)
                    .expect("the test world holds the order")
                    .detail;
                (o["prepay_id"].clone(), o["transaction_id"].clone())
            })
            .collect::<Vec<_>>()
    };
    let (ids_a, ids_c) = (txn(&a), txn(&c));
    assert_eq!(ids_a.len(), 2);
    for (x, y) in ids_a.iter().zip(&ids_c) {
        assert_ne!(x.0, y.0, "prepay ids differ between seeds");
        assert_ne!(x.1, y.1, "transaction ids differ between seeds");
    }
    assert_eq!(ids_a, txn(&b));
    let payout_ids = |w: &TestWorld| {
        w.sb.lock()
            .payouts("bank")
            .expect("the test world has a bank")
            .iter()
            .map(|p| p.payout_id.clone())
            .collect::<Vec<_>>()
    };
    assert!(!payout_ids(&a).is_empty());
    assert_eq!(payout_ids(&a), payout_ids(&b));
    assert_ne!(payout_ids(&a), payout_ids(&c));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_request_after_a_replaced_world_is_checked_against_the_new_keys() {
    // Requests are decoded against a per-thread copy of the spec, kept while the world's
    // generation stands: a new world's merchant key must apply to the very next request,
    // on every thread, and the old key must stop working at once.
    let w = start().await;
    const NEW_KEY: &str = "00000000000000000000000000000001";
    let order = |key: &str, n: usize| {
        wx_request(
            &native_fields(&format!("KEYS{n:04}"), "1", "http://127.0.0.1:9/n"),
            key,
        )
    };
    for round in 0..5 {
        let (old, new) = if round % 2 == 0 {
            (KEY, NEW_KEY)
        } else {
            (NEW_KEY, KEY)
        };
        let toml = scenario(&WorldOpts::default()).replace(old, new);
        assert!(toml.contains(new));
        let (status, c) = w.ctl_post_raw("scenario", "application/toml", toml).await;
        assert_eq!(status, StatusCode::OK, "{c}");
        // Several requests at once, so both worker threads serve some.
        let sends = (0..8).map(|i| {
            let body = order(if i % 2 == 0 { new } else { old }, round * 8 + i);
            let w = &w;
            async move { (i, xml_of(&w.wx_raw("pay/unifiedorder", body).await)) }
        });
        for (i, reply) in futures::future::join_all(sends).await {
            if i % 2 == 0 {
                assert_eq!(reply["result_code"], "SUCCESS", "round {round}: {reply:?}");
            } else {
                assert_eq!(reply["return_code"], "FAIL", "round {round}: {reply:?}");
            }
        }
    }
}

#[tokio::test]
async fn the_ledger_pages_its_postings_like_the_journal() {
    let w = start().await;
    for i in 0..4 {
        let no = format!("LEDGERPAGE{i}");
        w.native_order(&no, "100", "http://127.0.0.1:9/n").await;
        w.pay(&no).await;
    }
    let ids = |v: &Value| -> Vec<u64> {
        v["postings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_u64().unwrap())
            .collect()
    };
    let (status, all) = w.ctl_get("ledger").await;
    assert_eq!(status, StatusCode::OK);
    let every = ids(&all);
    let total = all["total_postings"].as_u64().unwrap() as usize;
    assert!(total >= 8, "{all}");
    assert_eq!(
        every,
        (1..=total as u64).collect::<Vec<_>>(),
        "all of a small ledger, in order"
    );
    assert_eq!(all["next"], Value::Null);

    // The newest page, oldest first.
    let (_, newest) = w.ctl_get("ledger?limit=3").await;
    assert_eq!(ids(&newest), every[total - 3..].to_vec());

    // Forward pages of 3 from the start: every posting once, in order, then no `next`.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = w.ctl_get(&format!("ledger?after={after}&limit=3")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(ids(&page));
        match page["next"].as_u64() {
            Some(n) => after = n,
            None => break,
        }
    }
    assert_eq!(seen, every);

    for (bad, field) in [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("after=x", "after"),
    ] {
        let (status, v) = w.ctl_get(&format!("ledger?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert!(error_text(&v).starts_with(field), "{bad}: {v}");
    }
}
