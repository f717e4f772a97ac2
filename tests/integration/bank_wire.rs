//! The payout bank fake on the wire: submissions and queries over real sockets on
//! 127.0.0.1, its idempotency behaviours, and every inbound fault action, each judged from
//! the ledger (what really happened) as well as from what the client saw.

use crate::common::*;
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

/// How a bank answers a second submission under an order number it has seen.
#[derive(Debug, Clone, Copy)]
enum Second {
    /// The very first reply, byte for byte; paid once.
    Replayed,
    /// Refused with this code; paid once.
    Refused(&'static str),
    /// A second, distinct payout; paid twice.
    PaidTwice,
}

#[tokio::test]
async fn a_repeated_order_number_is_answered_as_on_duplicate_says() {
    // (on_duplicate, the second answer, payee's balance, reserve's balance, payouts)
    let cases = [
        ("replay", Second::Replayed, "100.00", "999900.00", 1),
        (
            "reject",
            Second::Refused("DUPLICATE_ORDER"),
            "100.00",
            "999900.00",
            1,
        ),
        ("pay_again", Second::PaidTwice, "200.00", "999800.00", 2),
    ];
    for (on_duplicate, answer, paid, reserved, count) in cases {
        let case = format!("on_duplicate = {on_duplicate}");
        let w = start_with(WorldOpts {
            on_duplicate,
            ..Default::default()
        })
        .await;
        // The very same signed request twice, the first payout settled in between.
        let body = bank_request(payout_fields("DUP-1", 10000, PAYEE), BANK_KEY);
        let first = w
            .bank_raw("agentpay/apply", body.clone(), REQUEST_TIMEOUT)
            .await
            .unwrap();
        assert_eq!(json_of(&first)["retCode"], "0", "{case}: {}", first.text());
        w.advance("1m").await;
        let again = w
            .bank_raw("agentpay/apply", body, REQUEST_TIMEOUT)
            .await
            .unwrap();
        let (first_v, again_v) = (json_of(&first), json_of(&again));
        match answer {
            Second::Replayed => {
                assert_eq!(
                    first.body, again.body,
                    "{case}: the very first reply, byte for byte"
                );
                assert_eq!(again_v["status"], "PROCESSING", "{case}");
            }
            Second::Refused(code) => assert_eq!(again_v["retCode"], code, "{case}: {again_v}"),
            Second::PaidTwice => {
                assert_eq!(
                    (again_v["retCode"].as_str(), again_v["status"].as_str()),
                    (Some("0"), Some("PROCESSING")),
                    "{case}: {again_v}"
                );
                assert_ne!(
                    first_v["agentpayOrderId"], again_v["agentpayOrderId"],
                    "{case}: a second, distinct payout"
                );
            }
        }
        assert_eq!(w.balance(&payee(PAYEE)).await, paid, "{case}: the payee");
        assert_eq!(w.balance(&reserve()).await, reserved, "{case}: the reserve");
        assert_eq!(payouts(&w).await.len(), count, "{case}: payouts");
    }
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

/// What a client sees of a submission.
#[derive(Debug, Clone, Copy)]
enum Seen {
    /// No reply before its timeout.
    Timeout,
    /// The connection closed without a reply: the client cannot know what happened.
    Closed,
    /// This HTTP status and body (from the fault rule, not the bank).
    Http(StatusCode, &'static str),
    /// A 200 reply with the bank's own error code and a message.
    RetCode(&'static str),
}

/// Check that `r` is what a client should see, naming `case` when it is not.
fn assert_seen(
    case: &str,
    r: &Result<sandbank::http::ClientResponse, ClientError>,
    took: Duration,
    want: Seen,
) {
    match (want, r) {
        (Seen::Timeout, Err(ClientError::Timeout(_))) => assert!(
            took >= SHORT_TIMEOUT,
            "{case}: timed out after only {took:?}"
        ),
        (Seen::Closed, Err(e @ ClientError::Io(_))) => {
            assert!(e.outcome_unknown(), "{case}: {e}")
        }
        (Seen::Http(status, body), Ok(r)) => {
            assert_eq!((r.status, r.text().as_str()), (status, body), "{case}")
        }
        (Seen::RetCode(code), Ok(r)) => {
            assert_eq!(r.status, StatusCode::OK, "{case}: {}", r.text());
            let v = json_of(r);
            assert_eq!(v["retCode"], code, "{case}: {v}");
            assert!(
                v["retMsg"].as_str().is_some_and(|m| !m.is_empty()),
                "{case}: {v}"
            );
        }
        (want, got) => panic!("{case}: expected {want:?}, got {got:?}"),
    }
}

/// Add `rule`, submit `order_no`, and check what the client saw.
async fn submit_under(w: &TestWorld, case: &str, rule: Value, order_no: &str, want: Seen) {
    w.add_fault(rule).await;
    let t = Instant::now();
    let r = submit_raw(w, order_no, 10000).await;
    assert_seen(case, &r, t.elapsed(), want);
}

#[tokio::test]
async fn commit_then_fail_pays_though_the_client_gets_no_reply() {
    let cases = [
        (
            "then hang: the client times out",
            "hang",
            "CTF-HANG-1",
            Seen::Timeout,
        ),
        (
            "then reset: the connection closes",
            "reset",
            "CTF-RESET-1",
            Seen::Closed,
        ),
    ];
    for (case, then, order_no, seen) in cases {
        let w = start().await;
        let rule = json!({"target": "bank", "op": "payout.submit", "action": "commit_then_fail", "then": then});
        submit_under(&w, case, rule, order_no, seen).await;
        // The client does not know; the ledger does.
        assert_eq!(w.balance(&payee(PAYEE)).await, "100.00", "{case}");
        assert_eq!(
            w.payout_query(order_no).await["status"],
            "PROCESSING",
            "{case}"
        );
        let log = w
            .journal(&format!("kind=inbound&reference={order_no}"))
            .await;
        assert!(
            log[0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("the effect was applied")),
            "{case}: {log:#?}"
        );
        assert!(
            log[0].get("status").is_none(),
            "{case}: no reply went out: {log:#?}"
        );
    }
}

#[tokio::test]
async fn faults_that_refuse_a_submission_do_nothing() {
    let cases = [
        (
            "hang: the client times out",
            json!({"target": "bank", "op": "payout.submit", "action": "hang"}),
            "HANG-1",
            Seen::Timeout,
        ),
        (
            "reset: the connection closes",
            json!({"target": "bank", "op": "payout.submit", "action": "reset"}),
            "RESET-1",
            Seen::Closed,
        ),
        (
            "http_error: the status and message of the rule",
            json!({"target": "bank", "op": "payout.submit", "action": "http_error", "status": 503, "message": "busy"}),
            "HTTP-ERR-1",
            Seen::Http(StatusCode::SERVICE_UNAVAILABLE, "busy"),
        ),
        (
            "protocol_error: the bank's own error",
            json!({"target": "bank", "op": "payout.submit", "action": "protocol_error", "code": "SYSTEM_ERROR"}),
            "PROTO-ERR-1",
            Seen::RetCode("SYSTEM_ERROR"),
        ),
    ];
    for (case, rule, order_no, seen) in cases {
        let w = start().await;
        let before = w.ledger().await;
        submit_under(&w, case, rule, order_no, seen).await;
        assert_eq!(w.ledger().await, before, "{case}: the ledger moved");
        assert_eq!(
            w.payout_query(order_no).await["retCode"],
            "ORDER_NOT_EXIST",
            "{case}"
        );
    }
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
    // In this order: (order number, amount in fen, what the client sees, why).
    let submissions = [
        ("OTHER-1", 100, "0", "no rule matches"),
        ("BATCH-1", 100, "0", "the 1st BATCH-* submission"),
        ("BATCH-2", 100, "500", "the 2nd BATCH-* submission"),
        ("BATCH-3", 100, "0", "the 3rd BATCH-* submission"),
        ("T-1", 100, "SYSTEM_ERROR", "the 1st T-* submission"),
        ("T-2", 100, "SYSTEM_ERROR", "the 2nd T-* submission"),
        ("T-3", 100, "0", "at most twice"),
        ("AMOUNT-1", 123, "no reply", "1.23 is the rule's amount"),
        ("AMOUNT-2", 124, "0", "1.24 is not"),
    ];
    for (order_no, amount, seen, why) in submissions {
        assert_eq!(
            status(&submit_raw(&w, order_no, amount).await),
            seen,
            "{order_no} ({amount} fen): {why}"
        );
    }

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
