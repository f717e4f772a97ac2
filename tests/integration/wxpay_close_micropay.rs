//! `pay/closeorder`, `pay/micropay` and `secapi/pay/reverse` on the wire, and the scenario
//! settings and fault rules that steer them.

use crate::common::*;
use hyper::StatusCode;
use sandbank::protocol::sign::SignType;
use serde_json::json;
use std::collections::BTreeMap;

fn ok(reply: &BTreeMap<String, String>) {
    assert_eq!(reply["return_code"], "SUCCESS", "{reply:?}");
    assert_eq!(reply["result_code"], "SUCCESS", "{reply:?}");
    assert!(reply_signed(reply, KEY, SignType::Md5), "{reply:?}");
}

fn fails(reply: &BTreeMap<String, String>, code: &str) {
    assert_eq!(reply["return_code"], "SUCCESS", "{reply:?}");
    assert_eq!(reply["result_code"], "FAIL", "{reply:?}");
    assert_eq!(reply["err_code"], code, "{reply:?}");
    assert!(reply_signed(reply, KEY, SignType::Md5), "{reply:?}");
}

async fn close(w: &TestWorld, no: &str) -> BTreeMap<String, String> {
    w.wx(
        "pay/closeorder",
        &[
            ("appid", APPID),
            ("mch_id", MCH_ID),
            ("nonce_str", "c1"),
            ("out_trade_no", no),
        ],
    )
    .await
}

async fn postings(w: &TestWorld) -> usize {
    w.ledger().await["postings"].as_array().unwrap().len()
}

// ---------------------------------------------------------------- closeorder

#[tokio::test]
async fn an_unpaid_order_closes_five_minutes_after_creation_and_stays_closed() {
    let w = start().await;
    w.native_order("CLOSE00001", "100", "http://127.0.0.1:9/notify")
        .await;
    w.advance("4m59s").await;
    let early = close(&w, "CLOSE00001").await;
    fails(&early, "SYSTEMERROR");
    assert!(early["err_code_des"].contains("5m"), "{early:?}");
    assert_eq!(w.query("CLOSE00001").await["trade_state"], "NOTPAY");
    w.advance("1s").await;
    let closed = close(&w, "CLOSE00001").await;
    ok(&closed);
    assert_eq!(closed["result_msg"], "OK");
    let q = w.query("CLOSE00001").await;
    assert_eq!(q["trade_state"], "CLOSED");
    fails(&close(&w, "CLOSE00001").await, "ORDERCLOSED");
    // The customer cannot pay it, nor the merchant create it again.
    let (status, _) = w
        .ctl_post("channels/wxpay/orders/CLOSE00001/pay", json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let again = w
        .wx(
            "pay/unifiedorder",
            &native_fields("CLOSE00001", "100", "http://127.0.0.1:9/notify"),
        )
        .await;
    fails(&again, "ORDERCLOSED");
}

#[tokio::test]
async fn a_paid_order_answers_orderpaid_at_any_age_and_an_unknown_one_ordernotexist() {
    let w = start().await;
    w.native_order("CLOSEPAID1", "100", "http://127.0.0.1:9/notify")
        .await;
    w.pay("CLOSEPAID1").await;
    fails(&close(&w, "CLOSEPAID1").await, "ORDERPAID");
    w.advance("1h").await;
    fails(&close(&w, "CLOSEPAID1").await, "ORDERPAID");
    assert_eq!(w.query("CLOSEPAID1").await["trade_state"], "SUCCESS");
    fails(&close(&w, "NOSUCH0001").await, "ORDERNOTEXIST");
    let missing = w
        .wx(
            "pay/closeorder",
            &[("appid", APPID), ("mch_id", MCH_ID), ("nonce_str", "c2")],
        )
        .await;
    fails(&missing, "LACK_PARAMS");
}

#[tokio::test]
async fn close_after_and_refund_after_come_from_the_scenario_within_their_bounds() {
    let toml = scenario(&WorldOpts::default()).replace(
        "fee_rate = \"0.006\"",
        "fee_rate = \"0.006\"\nclose_after = \"0s\"\nrefund_after = \"2h\"",
    );
    let w = start_toml(&toml).await;
    w.native_order("CLOSENOW01", "100", "http://127.0.0.1:9/notify")
        .await;
    ok(&close(&w, "CLOSENOW01").await);

    for (field, value, bound) in [
        ("close_after", "25h", "1d"),
        ("refund_after", "31d", "30d"),
        ("close_after", "soon", ""),
    ] {
        let toml = scenario(&WorldOpts::default()).replace(
            "fee_rate = \"0.006\"",
            &format!("fee_rate = \"0.006\"\n{field} = \"{value}\""),
        );
        let e = sandbank::scenario::load_str(&toml, "x.toml")
            .expect_err("out of bounds")
            .to_string();
        assert!(e.contains(field) && e.contains(bound), "{e}");
    }
    let toml = scenario(&WorldOpts::default()).replace(
        "key = \"192006250b4c09247ec02edce69f6a2d\"",
        "key = \"192006250b4c09247ec02edce69f6a2d\"\nopening = \"lots\"",
    );
    let e = sandbank::scenario::load_str(&toml, "x.toml")
        .expect_err("not an amount")
        .to_string();
    assert!(e.contains("merchants[0].opening"), "{e}");
}

// ---------------------------------------------------------------- micropay

fn micropay_fields<'a>(
    no: &'a str,
    total_fee: &'a str,
    auth_code: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("nonce_str", "m1"),
        ("body", "barcode sale"),
        ("out_trade_no", no),
        ("total_fee", total_fee),
        ("spbill_create_ip", "127.0.0.1"),
        ("auth_code", auth_code),
        ("device_info", "POS-7"),
    ]
}

const AUTH_CODE: &str = "134567890123456789";

#[tokio::test]
async fn a_barcode_payment_is_paid_at_once_without_a_notification() {
    let w = start().await;
    let reply = w
        .wx(
            "pay/micropay",
            &micropay_fields("MICRO00001", "888", AUTH_CODE),
        )
        .await;
    ok(&reply);
    assert_eq!(reply["trade_type"], "MICROPAY");
    assert_eq!(reply["total_fee"], "888");
    assert_eq!(reply["cash_fee"], "888");
    assert_eq!(reply["out_trade_no"], "MICRO00001");
    assert_eq!(reply["device_info"], "POS-7");
    assert_eq!(reply["time_end"], "20260302100000");
    assert!(reply["transaction_id"].starts_with("4200"), "{reply:?}");
    assert!(reply["openid"].starts_with('o'));
    let q = w.query("MICRO00001").await;
    assert_eq!(q["trade_state"], "SUCCESS");
    assert_eq!(q["transaction_id"], reply["transaction_id"]);
    assert_eq!(q["trade_type"], "MICROPAY");
    assert_eq!(w.balance(&merchant_account()).await, "8.83");
    w.advance("1h").await;
    assert!(w.journal("kind=callback").await.is_empty());
    // The same order again: already paid.
    fails(
        &w.wx(
            "pay/micropay",
            &micropay_fields("MICRO00001", "888", AUTH_CODE),
        )
        .await,
        "ORDERPAID",
    );
}

#[tokio::test]
async fn a_customer_asked_for_a_password_pays_later_or_through_the_control_api() {
    let w = start().await;
    w.add_fault(
        json!({"target": "wxpay", "op": "pay/micropay", "order": "MICROWAIT1",
        "action": "outcome", "outcome": "USERPAYING", "delay": "30s"}),
    )
    .await;
    w.add_fault(
        json!({"target": "wxpay", "op": "pay/micropay", "order": "MICROWAIT2",
        "action": "outcome", "outcome": "USERPAYING"}),
    )
    .await;
    let before = postings(&w).await;
    fails(
        &w.wx(
            "pay/micropay",
            &micropay_fields("MICROWAIT1", "100", AUTH_CODE),
        )
        .await,
        "USERPAYING",
    );
    fails(
        &w.wx(
            "pay/micropay",
            &micropay_fields("MICROWAIT2", "100", AUTH_CODE),
        )
        .await,
        "USERPAYING",
    );
    assert_eq!(w.query("MICROWAIT1").await["trade_state"], "USERPAYING");
    assert_eq!(postings(&w).await, before);
    w.advance("30s").await;
    assert_eq!(w.query("MICROWAIT1").await["trade_state"], "SUCCESS");
    assert_eq!(w.query("MICROWAIT2").await["trade_state"], "USERPAYING");
    w.pay("MICROWAIT2").await;
    assert_eq!(w.query("MICROWAIT2").await["trade_state"], "SUCCESS");
    assert_eq!(w.balance(&merchant_account()).await, "1.98");
}

#[tokio::test]
async fn micropay_refuses_bad_codes_missing_fields_and_numbers_in_use() {
    let w = start().await;
    for code in [
        "184567890123456789",
        "13456789012345678",
        "13456789012345678x",
    ] {
        fails(
            &w.wx("pay/micropay", &micropay_fields("MICROBAD01", "100", code))
                .await,
            "AUTH_CODE_INVALID",
        );
    }
    let mut f = micropay_fields("MICROBAD01", "100", AUTH_CODE);
    f.retain(|(k, _)| *k != "auth_code");
    fails(&w.wx("pay/micropay", &f).await, "LACK_PARAMS");
    w.native_order("MICROUSED1", "100", "http://127.0.0.1:9/notify")
        .await;
    fails(
        &w.wx(
            "pay/micropay",
            &micropay_fields("MICROUSED1", "100", AUTH_CODE),
        )
        .await,
        "OUT_TRADE_NO_USED",
    );
    assert!(w.query("MICROBAD01").await["err_code"] == "ORDERNOTEXIST");
}

// ---------------------------------------------------------------- reverse

async fn reverse(w: &TestWorld, no: &str) -> BTreeMap<String, String> {
    w.wx(
        "secapi/pay/reverse",
        &[
            ("appid", APPID),
            ("mch_id", MCH_ID),
            ("nonce_str", "v1"),
            ("out_trade_no", no),
        ],
    )
    .await
}

#[tokio::test]
async fn reverse_revokes_a_waiting_order_and_gives_a_paid_one_back() {
    let w = start().await;
    w.add_fault(
        json!({"target": "wxpay", "op": "pay/micropay", "order": "MICROREV01",
        "action": "outcome", "outcome": "USERPAYING"}),
    )
    .await;
    fails(
        &w.wx(
            "pay/micropay",
            &micropay_fields("MICROREV01", "100", AUTH_CODE),
        )
        .await,
        "USERPAYING",
    );
    let r = reverse(&w, "MICROREV01").await;
    ok(&r);
    assert_eq!(r["recall"], "N");
    assert_eq!(w.query("MICROREV01").await["trade_state"], "REVOKED");
    let (status, _) = w
        .ctl_post("channels/wxpay/orders/MICROREV01/pay", json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    ok(&reverse(&w, "MICROREV01").await);

    ok(&w
        .wx(
            "pay/micropay",
            &micropay_fields("MICROREV02", "1000", AUTH_CODE),
        )
        .await);
    assert_eq!(w.balance(&merchant_account()).await, "9.94");
    ok(&reverse(&w, "MICROREV02").await);
    let q = w.query("MICROREV02").await;
    assert_eq!(q["trade_state"], "REVOKED");
    // Paid fields stay: the customer did pay, and was given it back.
    assert!(q["transaction_id"].starts_with("4200"));
    assert_eq!(w.balance(&merchant_account()).await, "0.00");
    assert_eq!(w.balance("world:customers").await, "0.00");
    fails(
        &w.wx(
            "pay/micropay",
            &micropay_fields("MICROREV02", "1000", AUTH_CODE),
        )
        .await,
        "ORDERREVERSED",
    );

    // Only barcode orders are reversed; unknown ones are not there.
    w.native_order("NATIVEREV1", "100", "http://127.0.0.1:9/notify")
        .await;
    fails(&reverse(&w, "NATIVEREV1").await, "TRADE_ERROR");
    fails(&reverse(&w, "NOSUCHREV1").await, "ORDERNOTEXIST");
}
