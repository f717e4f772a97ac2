//! Orders held (issue 9): the control API's pay finds an order through an index, not a scan
//! of every order held; a channel holds at most `max_orders` and forgets the oldest past
//! it, as documented; ids derived again when asked are the ones the merchant was given.
//!
//! Work is counted (orders examined by lookups, `WorldState::order_stats`), never timed.

use crate::common::*;
use hyper::StatusCode;
use serde_json::json;

/// Orders examined by channel `wxpay`'s lookups so far.
fn examined(w: &TestWorld) -> u64 {
    w.sb.lock()
        .order_stats("wxpay")
        .expect("the test world has channel wxpay")
        .examined
}

/// Orders examined by one control-API pay of `no`.
async fn examined_by_pay(w: &TestWorld, no: &str) -> u64 {
    let before = examined(w);
    w.pay(no).await;
    examined(w) - before
}

// Bug: the control API's pay scanned every order held under the world lock (69 ms with 1M
// orders). A lookup examines a handful of orders whether 10 or 100,000 are held.
#[tokio::test]
async fn regression_control_api_pay_is_not_linear_in_orders_held() {
    let w = start().await;
    assert!(w.sb.with(|st| st.hold_orders("wxpay", "FEW", 10)));
    let few = examined_by_pay(&w, "FEW00000003").await;
    assert!(w.sb.with(|st| st.hold_orders("wxpay", "MANY", 100_000)));
    assert_eq!(
        w.sb.lock().order_stats("wxpay").map(|s| s.held),
        Some(100_010)
    );
    let many = examined_by_pay(&w, "MANY00054321").await;
    let oldest = examined_by_pay(&w, "FEW00000000").await;
    assert!(few >= 1, "a pay looks its order up: {few}");
    for (what, n) in [("a recent order", many), ("the oldest order", oldest)] {
        assert!(
            n <= few + 4,
            "paying {what} with 100,010 orders held examined {n} orders, with 10 held {few}"
        );
    }
}

/// The journal's `order.forget` entries, oldest first.
async fn forget_entries(w: &TestWorld) -> Vec<serde_json::Value> {
    let mut v = w.journal("kind=world&instance=wxpay").await;
    v.retain(|e| e["op"] == "order.forget");
    v
}

/// The test world with `max_orders` set on its channel.
fn bounded(max_orders: u32) -> String {
    scenario(&WorldOpts::default()).replace(
        "fee_rate = \"0.006\"",
        &format!("fee_rate = \"0.006\"\nmax_orders = {max_orders}"),
    )
}

#[tokio::test]
async fn past_max_orders_the_oldest_order_is_forgotten_and_journalled() {
    let w = start_toml(&bounded(3)).await;
    let url = "http://127.0.0.1:9/notify";
    for no in ["HELD0001", "HELD0002", "HELD0003"] {
        w.native_order(no, "100", url).await;
    }
    w.pay("HELD0002").await;
    assert!(forget_entries(&w).await.is_empty());

    // The fourth order makes the channel forget the first.
    w.native_order("HELD0004", "100", url).await;
    let forgot = forget_entries(&w).await;
    assert_eq!(forgot.len(), 1, "{forgot:?}");
    assert_eq!(forgot[0]["reference"], "HELD0001");
    assert_eq!(forgot[0]["instance"], "wxpay");
    let message = forgot[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("max_orders = 3"), "{message}");

    // Forgotten: unknown to the channel and to the control API, as if never created.
    let q = w.query("HELD0001").await;
    assert_eq!(
        (q["result_code"].as_str(), q["err_code"].as_str()),
        ("FAIL", "ORDERNOTEXIST"),
        "{q:?}"
    );
    let (status, _) = w.ctl_get("channels/wxpay/orders/HELD0001").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = w
        .ctl_post("channels/wxpay/orders/HELD0001/pay", json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for (no, state) in [
        ("HELD0002", "SUCCESS"),
        ("HELD0003", "NOTPAY"),
        ("HELD0004", "NOTPAY"),
    ] {
        assert_eq!(w.query(no).await["trade_state"], state, "{no}");
    }

    // Paid or not, the oldest goes next; its number may then be used again.
    let reused = w.native_order("HELD0001", "200", url).await;
    let forgot = forget_entries(&w).await;
    assert_eq!(
        forgot.last().map(|e| e["reference"].clone()),
        Some(json!("HELD0002"))
    );
    let q = w.query("HELD0002").await;
    assert_eq!(q["err_code"], "ORDERNOTEXIST", "{q:?}");
    let (status, o) = w.ctl_get("channels/wxpay/orders/HELD0001").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(o["total_fee"], 200);
    // The ids the new order was given, though its number's stream had moved on.
    assert_eq!(
        o["prepay_id"].as_str(),
        reused.get("prepay_id").map(String::as_str)
    );
    assert_eq!(
        o["code_url"].as_str(),
        reused.get("code_url").map(String::as_str)
    );

    let stats = w.sb.lock().order_stats("wxpay").expect("channel wxpay");
    assert_eq!((stats.held, stats.max_orders, stats.forgotten), (3, 3, 2));
}

#[tokio::test]
async fn the_ids_an_order_shows_are_the_ones_it_was_given() {
    let w = start().await;
    let reply = w
        .native_order("IDS00001", "100", "http://127.0.0.1:9/notify")
        .await;
    let (status, o) = w.ctl_get("channels/wxpay/orders/IDS00001").await;
    assert_eq!(status, StatusCode::OK, "{o}");
    assert_eq!(
        o["prepay_id"].as_str(),
        reply.get("prepay_id").map(String::as_str)
    );
    assert_eq!(
        o["code_url"].as_str(),
        reply.get("code_url").map(String::as_str)
    );
    assert_eq!(
        (o["trade_type"].as_str(), o["body"].as_str()),
        (Some("NATIVE"), Some("sandbank test order"))
    );
    // A faithful re-entry answers the same prepay id again.
    let again = w
        .native_order("IDS00001", "100", "http://127.0.0.1:9/notify")
        .await;
    assert_eq!(again.get("prepay_id"), reply.get("prepay_id"));
}

#[test]
fn max_orders_is_bounded_in_the_scenario() {
    for bad in ["0", "-1", "10000001"] {
        let toml = scenario(&WorldOpts::default()).replace(
            "fee_rate = \"0.006\"",
            &format!("fee_rate = \"0.006\"\nmax_orders = {bad}"),
        );
        let err = sandbank::scenario::load_str(&toml, "t.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("max_orders"), "max_orders = {bad}: {err}");
    }
    let ok = sandbank::scenario::load_str(&bounded(10_000_000), "t.toml");
    assert!(ok.is_ok(), "{:?}", ok.err().map(|e| e.to_string()));
}
