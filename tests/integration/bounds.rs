//! Bounded time and money (issue 8): every duration, date and amount read from a request
//! or a scenario has a maximum, checked at the edge with an error naming the field; the
//! timer driver survives, reports its death on `/health`, and is restarted by a reset;
//! a payout never moves money without answering.
//!
//! Each `regression_…` test reproduces one measured bug over a real socket.

use crate::common::*;
use hyper::StatusCode;
use serde_json::{json, Value};

/// A payee account number.
const PAYEE: &str = "6217000000000000042";

/// `Decimal::MAX`, as text.
const DECIMAL_MAX: &str = "79228162514264337593543950335";

/// The world still works: health says ok, the clock advances, a payment's notification
/// ladder runs and a payout settles.
async fn assert_world_works(w: &TestWorld) {
    let (status, h) = w.ctl_get("health").await;
    assert_eq!(status, StatusCode::OK, "{h}");
    assert_eq!(h["status"], "ok", "{h}");
    let order = format!("WXBOUND{}", w.journal("").await.len());
    w.native_order(&order, "100", "http://127.0.0.1:9/notify")
        .await;
    w.pay(&order).await;
    w.settle().await;
    w.advance("1m").await;
    let payout = format!("POBOUND{}", w.journal("").await.len());
    let r = w.payout(&payout, 100, PAYEE).await;
    assert_eq!(r["status"], "PROCESSING", "{r}");
    w.advance("1m").await;
    let q = w.payout_query(&payout).await;
    assert_eq!(q["status"], "SUCCESS", "the payout settled: {q}");
}

fn error_of(v: &Value) -> String {
    v["error"].as_str().unwrap_or_default().to_string()
}

// Bug: a fault rule {"op":"notify","action":"delay","delay":"100000000d"} was accepted (201)
// and the next payment panicked the driver (`DateTime + TimeDelta overflowed`).
#[tokio::test]
async fn regression_fault_rule_delay_is_bounded() {
    let w = start().await;
    let (status, v) = w
        .ctl_post(
            "faults",
            json!({"target": "wxpay", "op": "notify", "action": "delay", "delay": "100000000d"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(error_of(&v).starts_with("delay: "), "{v}");
    // The longest allowed delay is accepted, and a payment under it harms nothing.
    w.add_fault(
        json!({"target": "wxpay", "op": "notify", "action": "delay", "delay": "3660d", "times": 1}),
    )
    .await;
    assert_world_works(&w).await;
}

// Bug: a clock advance up to chrono's last date was accepted (200), after which the driver
// panicked on the next timer and every advance answered 503.
#[tokio::test]
async fn regression_clock_stays_within_its_years() {
    let w = start().await;
    for (body, field) in [
        (json!({"advance": "100000000d"}), "advance: "),
        (json!({"to": "9999-12-31T00:00:00Z"}), "to: "),
        (json!({"to": "1999-12-31T23:59:59Z"}), "to: "),
    ] {
        let (status, v) = w.ctl_post("clock", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(error_of(&v).starts_with(field), "{body}: {v}");
    }
    // The last day of 2999 is reachable; a step past it is refused, naming the field.
    let (status, v) = w
        .ctl_post("clock", json!({"to": "2999-12-31T00:00:00Z"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = w.ctl_post("clock", json!({"advance": "2d"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(error_of(&v).starts_with("advance: "), "{v}");
    // At the end of time the world still answers, pays out and journals.
    let (status, h) = w.ctl_get("health").await;
    assert_eq!((status, h["status"].clone()), (StatusCode::OK, json!("ok")));
    let r = w.payout("POEND", 100, PAYEE).await;
    assert_eq!(r["status"], "PROCESSING", "{r}");
    assert!(
        !w.journal("kind=inbound&reference=POEND").await.is_empty(),
        "the payout is journalled"
    );
}

// Bug: `settle_after = "100000000d"` made a payout panic after the money moved: no reply,
// the payout PROCESSING forever, no inbound journal entry.
#[tokio::test]
async fn regression_settle_after_is_bounded_and_checked_before_money_moves() {
    let toml = scenario(&WorldOpts {
        settle_after: "100000000d",
        ..Default::default()
    });
    let e = sandbank::scenario::load_str(&toml, "x.toml")
        .expect_err("a settlement delay of 100000000d is refused")
        .to_string();
    assert!(e.contains("settle_after"), "{e}");
    // The longest allowed, at the end of the clock's range: answered and journalled.
    let w = start_with(WorldOpts {
        settle_after: "7d",
        ..Default::default()
    })
    .await;
    // Three days before chrono's last date: was accepted, and a payout then panicked.
    let last = chrono::NaiveDate::MAX;
    let start = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).expect("a date");
    let days = (last - start).num_days() - 3;
    let (status, v) = w
        .ctl_post("clock", json!({"advance": format!("{days}d")}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(error_of(&v).starts_with("advance: "), "{v}");
    let (status, _) = w
        .ctl_post("clock", json!({"to": "2999-12-31T23:59:59Z"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let r = w.payout("POLATE", 100, PAYEE).await;
    assert_eq!(r["status"], "PROCESSING", "{r}");
    assert_eq!(w.journal("kind=inbound&reference=POLATE").await.len(), 1);
}

// Bug: statement date `+262142-12-31` made the statement route panic (no reply).
#[tokio::test]
async fn regression_statement_dates_are_bounded() {
    let w = start().await;
    for date in ["+262142-12-31", "262142-12-31", "9999-12-31", "1999-12-31"] {
        let (status, v) = w.ctl_get(&format!("statements/wxpay/{date}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{date}: {v}");
        assert!(error_of(&v).starts_with("date: "), "{date}: {v}");
        let (status, v) = w.ctl_get(&format!("statements/expected?date={date}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{date}: {v}");
    }
    // The last day in range is a day like any other: not yet available.
    let (status, v) = w.ctl_get("statements/bank/2999-12-31").await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    for bill_date in ["99991231", "19991231", "2621421231"] {
        let fields = [
            ("appid", APPID),
            ("mch_id", MCH_ID),
            ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
            ("bill_date", bill_date),
        ];
        let r = w.wx_raw("pay/downloadbill", wx_request(&fields, KEY)).await;
        let reply = xml_of(&r);
        assert_eq!(reply["return_code"], "FAIL", "{bill_date}: {reply:?}");
        assert_eq!(reply["return_msg"], "invalid bill_date", "{reply:?}");
    }
    assert_world_works(&w).await;
}

// Bug: mismatch delays of 100000000d and amounts of `Decimal::MAX` were accepted; then
// every read of that day's statement, `pay/downloadbill` included, got no reply.
#[tokio::test]
async fn regression_mismatch_delays_and_amounts_are_bounded() {
    let w = start().await;
    let cases = [
        (json!({"kind": "late", "delay": "100000000d"}), "delay: "),
        (
            json!({"kind": "phantom", "amount": DECIMAL_MAX}),
            "amount: ",
        ),
        (json!({"kind": "summary", "delta": DECIMAL_MAX}), "delta: "),
        (
            json!({"kind": "amount", "nth": 0, "delta": format!("-{DECIMAL_MAX}")}),
            "delta: ",
        ),
        (json!({"kind": "phantom", "at": "9999-12-31 10:00"}), "at: "),
        (json!({"kind": "late", "day": "+262142-12-31"}), "day: "),
        (json!({"kind": "late", "day": "9999-12-31"}), "day: "),
    ];
    for (mut body, field) in cases {
        if body.get("day").is_none() {
            body["day"] = json!("2026-03-02");
        }
        let (status, v) = w
            .ctl_post("statements/wxpay/mismatches", body.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(error_of(&v).contains(field), "{body}: {v}");
    }
    let (_, list) = w.ctl_get("statements/wxpay/mismatches").await;
    assert_eq!(list["mismatches"], json!([]), "nothing was added: {list}");
    // The largest allowed, all at once, on one day: every read of the day still answers.
    for body in [
        json!({"kind": "late", "delay": "3660d", "day": "2026-03-02"}),
        json!({"kind": "phantom", "amount": "1000000000000", "day": "2026-03-02"}),
        json!({"kind": "summary", "delta": "-1000000000000", "day": "2026-03-02"}),
    ] {
        let (status, v) = w
            .ctl_post("statements/wxpay/mismatches", body.clone())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}: {v}");
    }
    let (status, v) = w.ctl_get("statements/wxpay/2026-03-02").await;
    assert_eq!(status, StatusCode::CONFLICT, "late by ten years: {v}");
    let (status, v) = w.ctl_get("statements/expected?date=2026-03-02").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_world_works(&w).await;
}

// Bug: an opening balance of `Decimal::MAX` was accepted by validation.
#[tokio::test]
async fn regression_opening_balance_is_bounded() {
    for opening in [DECIMAL_MAX, "1000000000000.01", "-1000000000000.01"] {
        let toml = scenario(&WorldOpts {
            opening: Box::leak(opening.to_string().into_boxed_str()),
            ..Default::default()
        });
        let e = sandbank::scenario::load_str(&toml, "x.toml")
            .expect_err("an opening balance beyond the maximum is refused")
            .to_string();
        assert!(e.contains("opening"), "{opening}: {e}");
    }
    let w = start_with(WorldOpts {
        opening: "1000000000000",
        ..Default::default()
    })
    .await;
    assert_world_works(&w).await;
}

// Bug: the timer driver died for good and `/health` still said "ok"; `POST
// /_sandbank/reset` could not restart it.
#[tokio::test]
async fn regression_a_dead_driver_is_reported_and_restarted_by_reset() {
    let w = start().await;
    w.sb.kill_driver_for_test();
    // Aborting is asynchronous: wait (bounded) until the task has ended.
    for _ in 0..500 {
        if !w.sb.driver_alive() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let (status, h) = w.ctl_get("health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{h}");
    assert_eq!(h["status"], "driver_stopped", "{h}");
    let (status, v) = w.ctl_post("clock", json!({"advance": "1s"})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(
        error_of(&v).contains("reset"),
        "the error says what to do: {v}"
    );
    let (status, v) = w.ctl_post("reset", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_world_works(&w).await;
}

// Bug: a misspelt fault op (`payout.sumbit`) was accepted and never fired.
#[tokio::test]
async fn regression_fault_ops_are_checked_against_the_target() {
    let w = start().await;
    for (target, op) in [
        ("bank", "payout.sumbit"),
        ("bank", "notify"),
        ("wxpay", "payout.submit"),
    ] {
        let action = if op == "notify" { "drop" } else { "hang" };
        let rule = json!({"target": target, "op": op, "action": action});
        let (status, v) = w.ctl_post("faults", rule.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{rule}: {v}");
        assert!(error_of(&v).starts_with("op: "), "{rule}: {v}");
    }
    let toml = format!(
        "{}\n[[faults]]\ntarget = \"bank\"\nop = \"payout.sumbit\"\naction = \"hang\"\n",
        scenario(&WorldOpts::default())
    );
    let e = sandbank::scenario::load_str(&toml, "x.toml")
        .expect_err("a misspelt op is refused")
        .to_string();
    assert!(e.contains("op") && e.contains("payout.sumbit"), "{e}");
    // Every listed op, and `*`, is accepted.
    for (target, op) in [
        ("bank", "payout.submit"),
        ("bank", "payout.query"),
        ("bank", "*"),
        ("wxpay", "pay/unifiedorder"),
        ("wxpay", "pay/orderquery"),
        ("wxpay", "pay/downloadbill"),
        ("wxpay", "notify"),
    ] {
        let action = if op == "notify" { "drop" } else { "hang" };
        w.add_fault(json!({"target": target, "op": op, "action": action, "times": 1}))
            .await;
    }
}

// Bug: a repeated payout under `on_duplicate = replay` ignored a changed `accountName`
// (and currency): the first reply was replayed as if the request were the same.
#[tokio::test]
async fn regression_replay_refuses_a_changed_payee_name_or_currency() {
    let w = start().await;
    let account = PAYEE;
    let first = w.payout("PODUP", 100, account).await;
    assert_eq!(first["status"], "PROCESSING", "{first}");
    let mut renamed = payout_fields("PODUP", 100, account);
    renamed["accountName"] = json!("李四");
    let r = w.bank("agentpay/apply", renamed).await;
    assert_eq!(r["retCode"], "DUPLICATE_ORDER", "{r}");
    let mut euros = payout_fields("PODUP", 100, account);
    euros["currency"] = json!("EUR");
    let r = w.bank("agentpay/apply", euros).await;
    assert_eq!(r["retCode"], "DUPLICATE_ORDER", "{r}");
    // The faithful repeat is still replayed.
    let again = w.payout("PODUP", 100, account).await;
    assert_eq!(again, first);
}
