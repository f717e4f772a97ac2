//! The payout bank fake on the wire: submissions and queries over real sockets on
//! 127.0.0.1, its idempotency behaviours, and every inbound fault action, each judged from
//! the ledger (what really happened) as well as from what the client saw.

mod common;

use common::*;
use hyper::StatusCode;
use sandbank::http::ClientError;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PAYEE: &str = "6228480000000000000";

/// How long a client waits before giving up in the "reply lost" tests.
const SHORT_TIMEOUT: Duration = Duration::from_millis(500);

async fn payouts(w: &TestWorld) -> Vec<Value> {
    let (status, v) = w.ctl_get("banks/bank/payouts").await;
    assert_eq!(status, StatusCode::OK);
    v["payouts"].as_array().unwrap().clone()
}

/// Submit with a short client timeout and report what the client saw.
async fn submit_raw(
    w: &TestWorld,
    order_no: &str,
    amount: i64,
) -> Result<sandbank::http::ClientResponse, ClientError> {
    w.bank_raw(
        "agentpay/apply",
        bank_request(payout_fields(order_no, amount, PAYEE), BANK_KEY),
        SHORT_TIMEOUT,
    )
    .await
}

// ---------------------------------------------------------------- submit and query

#[tokio::test]
async fn a_payout_is_processing_then_succeeds_after_settle_after() {
    let w = start().await;
    let r = w.payout("PAYOUT-0001", 10000, PAYEE).await;
    assert_eq!(r["retCode"], "0", "{r}");
    assert_eq!(r["status"], "PROCESSING");
    assert_eq!(r["mchOrderNo"], "PAYOUT-0001");
    assert_eq!(r["amount"], 10000);
    assert!(
        r["agentpayOrderId"].as_str().unwrap().starts_with("AP"),
        "{r}"
    );
    assert!(bank_reply_signed(&r, BANK_KEY), "reply signature: {r}");
    assert!(!bank_reply_signed(&r, "another key"));

    // Accepted is already money moved: the reserve is debited, the payee credited.
    assert_eq!(w.balance(&payee(PAYEE)).await, "100.00");
    assert_eq!(w.balance(&reserve()).await, "999900.00");

    let q = w.payout_query("PAYOUT-0001").await;
    assert_eq!(q["status"], "PROCESSING");
    assert_eq!(q["agentpayOrderId"], r["agentpayOrderId"]);
    assert!(q.get("paySuccTime").is_none());
    w.advance("29s").await;
    assert_eq!(w.payout_query("PAYOUT-0001").await["status"], "PROCESSING");
    w.advance("1s").await;
    let q = w.payout_query("PAYOUT-0001").await;
    assert_eq!(q["status"], "SUCCESS", "{q}");
    assert_eq!(q["paySuccTime"], "20260302100030");
    assert!(bank_reply_signed(&q, BANK_KEY));
    // Settling moves no more money.
    assert_eq!(w.balance(&payee(PAYEE)).await, "100.00");

    let q = w.payout_query("NEVER-SUBMITTED").await;
    assert_eq!(q["retCode"], "ORDER_NOT_EXIST", "{q}");
}

#[tokio::test]
async fn replay_returns_the_first_result_and_pays_once() {
    let w = start_with(WorldOpts {
        on_duplicate: "replay",
        ..Default::default()
    })
    .await;
    let body = bank_request(payout_fields("DUP-REPLAY-1", 10000, PAYEE), BANK_KEY);
    let first = w
        .bank_raw("agentpay/apply", body.clone(), REQUEST_TIMEOUT)
        .await
        .unwrap();
    w.advance("1m").await;
    let again = w
        .bank_raw("agentpay/apply", body, REQUEST_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(
        first.body, again.body,
        "the very first reply, byte for byte"
    );
    assert_eq!(json_of(&again)["status"], "PROCESSING");
    assert_eq!(w.balance(&payee(PAYEE)).await, "100.00");
    assert_eq!(payouts(&w).await.len(), 1);
}

#[tokio::test]
async fn reject_refuses_a_repeated_order_number() {
    let w = start_with(WorldOpts {
        on_duplicate: "reject",
        ..Default::default()
    })
    .await;
    assert_eq!(w.payout("DUP-REJECT-1", 10000, PAYEE).await["retCode"], "0");
    let again = w.payout("DUP-REJECT-1", 10000, PAYEE).await;
    assert_eq!(again["retCode"], "DUPLICATE_ORDER", "{again}");
    assert_eq!(w.balance(&payee(PAYEE)).await, "100.00");
    assert_eq!(payouts(&w).await.len(), 1);
}

#[tokio::test]
async fn pay_again_pays_a_repeated_order_number_twice() {
    let w = start_with(WorldOpts {
        on_duplicate: "pay_again",
        ..Default::default()
    })
    .await;
    let first = w.payout("DUP-AGAIN-1", 10000, PAYEE).await;
    let again = w.payout("DUP-AGAIN-1", 10000, PAYEE).await;
    assert_eq!(again["retCode"], "0", "{again}");
    assert_eq!(again["status"], "PROCESSING");
    assert_ne!(
        first["agentpayOrderId"], again["agentpayOrderId"],
        "a second, distinct payout"
    );
    assert_eq!(
        w.balance(&payee(PAYEE)).await,
        "200.00",
        "the payee was paid twice"
    );
    assert_eq!(w.balance(&reserve()).await, "999800.00");
    assert_eq!(payouts(&w).await.len(), 2);
}

#[tokio::test]
async fn insufficient_funds_fail_and_move_no_money() {
    let w = start_with(WorldOpts {
        opening: "50.00",
        ..Default::default()
    })
    .await;
    let before = w.ledger().await;
    let r = w.payout("TOO-MUCH-1", 10000, PAYEE).await;
    assert_eq!(r["retCode"], "0", "{r}");
    assert_eq!(r["status"], "FAILED");
    assert_eq!(r["reason"], "INSUFFICIENT_FUNDS");
    assert_eq!(w.ledger().await, before);
    w.advance("1h").await;
    assert_eq!(
        w.payout_query("TOO-MUCH-1").await["status"],
        "FAILED",
        "a failed payout never settles"
    );
    assert_eq!(w.balance(&payee(PAYEE)).await, "0.00");
    // What fits is still paid.
    assert_eq!(
        w.payout("FITS-1", 5000, PAYEE).await["status"],
        "PROCESSING"
    );
    assert_eq!(w.balance(&reserve()).await, "0.00");
}

#[tokio::test]
async fn bad_requests_get_error_codes_and_move_no_money() {
    let w = start().await;
    let before = w.ledger().await;

    let wrong_key = bank_request(
        payout_fields("BAD-SIGN-1", 100, PAYEE),
        "not the client key",
    );
    let r = json_of(
        &w.bank_raw("agentpay/apply", wrong_key, REQUEST_TIMEOUT)
            .await
            .unwrap(),
    );
    assert_eq!(r["retCode"], "SIGN_ERROR", "{r}");

    let signed = bank_request(payout_fields("BAD-SIGN-2", 100, PAYEE), BANK_KEY);
    let tampered = signed.replace("\"amount\":100", "\"amount\":100000");
    assert_ne!(signed, tampered);
    assert_eq!(
        json_of(
            &w.bank_raw("agentpay/apply", tampered, REQUEST_TIMEOUT)
                .await
                .unwrap()
        )["retCode"],
        "SIGN_ERROR"
    );

    let r = json_of(
        &w.bank_raw(
            "agentpay/apply",
            "{\"mchId\": \"20000100\", ",
            REQUEST_TIMEOUT,
        )
        .await
        .unwrap(),
    );
    assert_eq!(r["retCode"], "PARAM_ERROR", "{r}");
    let r = json_of(
        &w.bank_raw("agentpay/apply", "[1,2]", REQUEST_TIMEOUT)
            .await
            .unwrap(),
    );
    assert_eq!(r["retCode"], "PARAM_ERROR", "{r}");

    let mut unknown = payout_fields("BAD-MCH-1", 100, PAYEE);
    unknown["mchId"] = json!("29999999");
    let r = json_of(
        &w.bank_raw(
            "agentpay/apply",
            bank_request(unknown, BANK_KEY),
            REQUEST_TIMEOUT,
        )
        .await
        .unwrap(),
    );
    assert_eq!(r["retCode"], "MCH_NOT_EXIST", "{r}");

    assert_eq!(
        w.bank("agentpay/apply", payout_fields("BAD-AMOUNT-1", -100, PAYEE))
            .await["retCode"],
        "PARAM_ERROR"
    );

    assert_eq!(w.ledger().await, before);
    assert!(payouts(&w).await.is_empty());
    assert_eq!(
        w.payout_query("BAD-SIGN-1").await["retCode"],
        "ORDER_NOT_EXIST"
    );
}

// ---------------------------------------------------------------- inbound faults

#[tokio::test]
async fn commit_then_fail_with_hang_times_the_client_out_but_pays() {
    let w = start().await;
    w.add_fault(json!({"target": "bank", "op": "payout.submit", "action": "commit_then_fail", "then": "hang"})).await;
    let t = Instant::now();
    let r = submit_raw(&w, "CTF-HANG-1", 10000).await;
    assert!(matches!(r, Err(ClientError::Timeout(_))), "{r:?}");
    assert!(t.elapsed() >= SHORT_TIMEOUT);
    // The client does not know; the ledger does.
    assert_eq!(w.balance(&payee(PAYEE)).await, "100.00");
    assert_eq!(w.payout_query("CTF-HANG-1").await["status"], "PROCESSING");
    let log = w.journal("kind=inbound&reference=CTF-HANG-1").await;
    assert!(
        log[0]["message"]
            .as_str()
            .unwrap()
            .contains("the effect was applied"),
        "{log:#?}"
    );
    assert!(
        log[0].get("status").is_none(),
        "no reply went out: {log:#?}"
    );
}

#[tokio::test]
async fn commit_then_fail_with_reset_closes_the_connection_but_pays() {
    let w = start().await;
    w.add_fault(json!({"target": "bank", "op": "payout.submit", "action": "commit_then_fail", "then": "reset"})).await;
    let r = submit_raw(&w, "CTF-RESET-1", 10000).await;
    match &r {
        Err(e @ ClientError::Io(_)) => assert!(e.outcome_unknown(), "{e}"),
        other => panic!("expected the connection to close without a reply, got {other:?}"),
    }
    assert_eq!(w.balance(&payee(PAYEE)).await, "100.00");
    assert_eq!(w.payout_query("CTF-RESET-1").await["status"], "PROCESSING");
}

#[tokio::test]
async fn hang_times_the_client_out_and_does_nothing() {
    let w = start().await;
    w.add_fault(json!({"target": "bank", "op": "payout.submit", "action": "hang"}))
        .await;
    let before = w.ledger().await;
    let r = submit_raw(&w, "HANG-1", 10000).await;
    assert!(matches!(r, Err(ClientError::Timeout(_))), "{r:?}");
    assert_eq!(w.ledger().await, before);
    assert_eq!(w.payout_query("HANG-1").await["retCode"], "ORDER_NOT_EXIST");
}

#[tokio::test]
async fn reset_closes_the_connection_and_does_nothing() {
    let w = start().await;
    w.add_fault(json!({"target": "bank", "op": "payout.submit", "action": "reset"}))
        .await;
    let before = w.ledger().await;
    let r = submit_raw(&w, "RESET-1", 10000).await;
    assert!(matches!(r, Err(ClientError::Io(_))), "{r:?}");
    assert_eq!(w.ledger().await, before);
    assert_eq!(
        w.payout_query("RESET-1").await["retCode"],
        "ORDER_NOT_EXIST"
    );
}

#[tokio::test]
async fn http_error_answers_the_status_and_does_nothing() {
    let w = start().await;
    w.add_fault(json!({"target": "bank", "op": "payout.submit", "action": "http_error", "status": 503, "message": "busy"})).await;
    let before = w.ledger().await;
    let r = submit_raw(&w, "HTTP-ERR-1", 10000).await.expect("a reply");
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.text(), "busy");
    assert_eq!(w.ledger().await, before);
    assert_eq!(
        w.payout_query("HTTP-ERR-1").await["retCode"],
        "ORDER_NOT_EXIST"
    );
}

#[tokio::test]
async fn protocol_error_answers_the_banks_own_error_and_does_nothing() {
    let w = start().await;
    w.add_fault(json!({"target": "bank", "op": "payout.submit", "action": "protocol_error", "code": "SYSTEM_ERROR"})).await;
    let before = w.ledger().await;
    let r = submit_raw(&w, "PROTO-ERR-1", 10000).await.expect("a reply");
    assert_eq!(r.status, StatusCode::OK);
    let v = json_of(&r);
    assert_eq!(v["retCode"], "SYSTEM_ERROR", "{v}");
    assert!(!v["retMsg"].as_str().unwrap().is_empty());
    assert_eq!(w.ledger().await, before);
    assert_eq!(
        w.payout_query("PROTO-ERR-1").await["retCode"],
        "ORDER_NOT_EXIST"
    );
}

#[tokio::test]
async fn delay_answers_late_and_pays() {
    let w = start().await;
    w.add_fault(
        json!({"target": "bank", "op": "payout.submit", "action": "delay", "delay": "800ms"}),
    )
    .await;
    let t = Instant::now();
    let r = w
        .bank_raw(
            "agentpay/apply",
            bank_request(payout_fields("DELAY-1", 10000, PAYEE), BANK_KEY),
            REQUEST_TIMEOUT,
        )
        .await
        .unwrap();
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(800), "replied after {took:?}");
    assert_eq!(json_of(&r)["status"], "PROCESSING");
    assert_eq!(w.balance(&payee(PAYEE)).await, "100.00");
    // Queries are another operation: not delayed.
    let t = Instant::now();
    assert_eq!(w.payout_query("DELAY-1").await["status"], "PROCESSING");
    assert!(
        t.elapsed() < Duration::from_millis(800),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn rules_match_on_order_pattern_nth_times_and_amount() {
    let w = start().await;
    w.add_fault(json!({"id": "second-batch", "target": "bank", "op": "payout.submit", "order": "BATCH-*", "nth": 2, "action": "http_error", "status": 500})).await;
    w.add_fault(json!({"id": "twice", "target": "bank", "op": "payout.submit", "order": "T-*", "times": 2, "action": "protocol_error", "code": "SYSTEM_ERROR"})).await;
    w.add_fault(json!({"id": "odd-amount", "target": "bank", "op": "payout.submit", "amount": "1.23", "action": "reset"})).await;

    let status = |r: &Result<sandbank::http::ClientResponse, ClientError>| match r {
        Ok(r) if r.status == StatusCode::OK => json_of(r)["retCode"].as_str().unwrap().to_string(),
        Ok(r) => r.status.as_u16().to_string(),
        Err(_) => "no reply".to_string(),
    };
    assert_eq!(status(&submit_raw(&w, "OTHER-1", 100).await), "0");
    assert_eq!(status(&submit_raw(&w, "BATCH-1", 100).await), "0");
    assert_eq!(
        status(&submit_raw(&w, "BATCH-2", 100).await),
        "500",
        "the 2nd BATCH-* submission"
    );
    assert_eq!(status(&submit_raw(&w, "BATCH-3", 100).await), "0");
    assert_eq!(status(&submit_raw(&w, "T-1", 100).await), "SYSTEM_ERROR");
    assert_eq!(status(&submit_raw(&w, "T-2", 100).await), "SYSTEM_ERROR");
    assert_eq!(
        status(&submit_raw(&w, "T-3", 100).await),
        "0",
        "at most twice"
    );
    assert_eq!(status(&submit_raw(&w, "AMOUNT-1", 123).await), "no reply");
    assert_eq!(status(&submit_raw(&w, "AMOUNT-2", 124).await), "0");

    // Only the submissions that were let through were paid: 4 × 100 + 124 fen.
    assert_eq!(w.balance(&payee(PAYEE)).await, "5.24");
    let (_, v) = w.ctl_get("faults").await;
    let rule = |id: &str| {
        v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            rule("second-batch")["matched"].as_u64(),
            rule("second-batch")["fired"].as_u64()
        ),
        (Some(3), Some(1))
    );
    assert_eq!(
        (
            rule("twice")["matched"].as_u64(),
            rule("twice")["fired"].as_u64()
        ),
        (Some(3), Some(2))
    );
    assert_eq!(rule("odd-amount")["fired"], 1);
    // Each firing is in the journal under the rule's id.
    let faults = w.journal("kind=fault").await;
    assert_eq!(faults.len(), 4);
    assert!(
        faults[0]["message"]
            .as_str()
            .unwrap()
            .contains("second-batch"),
        "{faults:#?}"
    );
}

#[tokio::test]
async fn regression_replay_refuses_the_same_order_number_with_another_amount_or_payee() {
    let w = start_with(WorldOpts {
        on_duplicate: "replay",
        ..Default::default()
    })
    .await;
    let first = w.payout("DUP-REPLAY-2", 10000, PAYEE).await;
    assert_eq!(first["retCode"], "0");
    // Same order number, another amount: not a repeat of the first request.
    let other_amount = w.payout("DUP-REPLAY-2", 20000, PAYEE).await;
    assert_eq!(other_amount["retCode"], "DUPLICATE_ORDER", "{other_amount}");
    let other_payee = w.payout("DUP-REPLAY-2", 10000, "6228480000000000999").await;
    assert_eq!(other_payee["retCode"], "DUPLICATE_ORDER", "{other_payee}");
    assert_eq!(w.balance(&payee(PAYEE)).await, "100.00");
    assert_eq!(w.balance(&payee("6228480000000000999")).await, "0.00");
    assert_eq!(payouts(&w).await.len(), 1);
}

#[tokio::test]
async fn regression_a_refused_request_does_not_count_towards_a_rules_nth_match() {
    let w = start().await;
    w.add_fault(json!({"target": "bank", "op": "payout.submit", "action": "hang", "nth": 1}))
        .await;
    // A badly signed request is refused at once: the fault gate never sees it.
    let bad = w
        .bank_raw(
            "agentpay/apply",
            bank_request(payout_fields("NTH-BAD-1", 10000, PAYEE), "not-the-key"),
            SHORT_TIMEOUT,
        )
        .await
        .expect("a refused request is answered at once");
    assert_eq!(json_of(&bad)["retCode"], "SIGN_ERROR");
    // The first request the bank would act on is the one the rule's nth=1 hits.
    let r = submit_raw(&w, "NTH-GOOD-1", 10000).await;
    assert!(matches!(r, Err(ClientError::Timeout(_))), "{r:?}");
    let (_, rules) = w.ctl_get("faults").await;
    assert_eq!(rules["rules"][0]["matched"], 1, "{rules}");
    assert_eq!(rules["rules"][0]["fired"], 1, "{rules}");
}
