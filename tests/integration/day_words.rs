//! Days named relative to the world clock over the control API — statements of
//! `yesterday`, mismatches on `today`, the clock moved `to` `tomorrow 10:00` — a mismatch
//! that could never change anything refused, and journal text in one time zone.

use crate::common::*;
use hyper::StatusCode;
use serde_json::json;

/// The test world starts on Monday 2026-03-02 10:00 Beijing time (02:00 UTC).
#[tokio::test]
async fn statements_and_mismatches_take_day_words() {
    let w = start().await;
    w.native_order("WORDS0001", "101", "http://127.0.0.1:9/notify")
        .await;
    w.pay("WORDS0001").await;
    // Today's bill is not out before 09:00 tomorrow.
    let (status, v) = w.ctl_get("statements/wxpay/today?format=wechat").await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["available_at"], "2026-03-03T01:00:00+00:00", "{v}");

    let (status, c) = w.ctl_post("clock", json!({"to": "tomorrow 10:00"})).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["now_local"], "2026-03-03 10:00:00", "{c}");

    let (status, bill) = w
        .ctl_get_text("statements/wxpay/yesterday?format=wechat")
        .await;
    assert_eq!(status, StatusCode::OK, "{bill}");
    assert!(bill.contains("WORDS0001"), "{bill}");
    let (status, dated) = w
        .ctl_get_text("statements/wxpay/2026-03-02?format=wechat")
        .await;
    assert_eq!((status, &dated), (StatusCode::OK, &bill));

    // A mismatch on `yesterday` is on 2026-03-02, and the expected list of `yesterday` has it.
    let (status, m) = w
        .ctl_post(
            "statements/wxpay/mismatches",
            json!({"kind": "missing", "day": "yesterday", "reference": "WORDS0001"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    assert_eq!(m["day"], "2026-03-02", "{m}");
    let (_, e) = w.ctl_get("statements/expected?date=yesterday").await;
    assert_eq!(e["date"], "2026-03-02", "{e}");
    assert_eq!(e["expected"][0]["kind"], "missing_in_statement", "{e}");
    assert_eq!(e["expected"][0]["reference"], "WORDS0001", "{e}");
    let (_, bill) = w
        .ctl_get_text("statements/wxpay/yesterday?format=wechat")
        .await;
    assert!(!bill.contains("WORDS0001"), "the mismatch hides it: {bill}");

    // Words that are not days are refused, naming the words there are.
    let (status, v) = w.ctl_get("statements/wxpay/lastweek").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("today, yesterday, tomorrow"),
        "{v}"
    );
    let (status, v) = w.ctl_post("clock", json!({"to": "someday 10:00"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
}

#[tokio::test]
async fn a_mismatch_that_can_never_apply_is_refused() {
    let w = start().await;
    w.native_order("WORDS0002", "101", "http://127.0.0.1:9/notify")
        .await;
    w.pay("WORDS0002").await;
    // While the day runs, a mismatch may wait for its trade.
    let (status, m) = w
        .ctl_post(
            "statements/wxpay/mismatches",
            json!({"kind": "amount", "day": "today", "reference": "LATER0001"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    w.ctl_post("clock", json!({"to": "tomorrow 10:00"})).await;
    // Once it is over, an entry it does not have will never come.
    for (body, field) in [
        (
            json!({"kind": "missing", "day": "2026-03-02", "reference": "NOPE0001"}),
            "reference: ",
        ),
        (
            json!({"kind": "duplicate", "day": "yesterday", "nth": 1}),
            "nth: ",
        ),
    ] {
        let (status, v) = w
            .ctl_post("statements/wxpay/mismatches", body.clone())
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}: {v}");
        let e = v["error"].as_str().unwrap();
        assert!(
            e.starts_with(field) && e.contains("2026-03-02") && e.contains("that day is over"),
            "{e}"
        );
    }
    // The entry it has is fine, and so is a mismatch that needs no entry.
    for body in [
        json!({"kind": "duplicate", "day": "yesterday", "nth": 0}),
        json!({"kind": "summary", "day": "yesterday"}),
    ] {
        let (status, v) = w
            .ctl_post("statements/wxpay/mismatches", body.clone())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}: {v}");
    }
}

#[tokio::test]
async fn journal_text_is_in_beijing_time_throughout() {
    let w = start().await;
    w.native_order("ZONE0001", "101", "http://127.0.0.1:9/notify")
        .await;
    w.pay("ZONE0001").await;
    w.advance("15s").await;
    let (_, text) = w.ctl_get_text("journal?format=text").await;
    // The first attempt failed at 10:00:00 and the next is due 15 s later, Beijing time,
    // as the line's own stamp is.
    assert!(
        text.contains("attempt 2 scheduled in 15s at 2026-03-02 10:00:15"),
        "{text}"
    );
    for line in text.lines() {
        assert!(
            !line.contains("+00:00") && !line.contains("T02:00"),
            "a UTC instant in a Beijing line: {line}"
        );
    }
}
