//! `sandbank call` over real sockets against a served world: a signed WeChat order created
//! and queried, an Alipay precreate and query, a signed payout applied and settled, a reply
//! whose signature is wrong caught, and bad calls reported in words — by the library and by
//! the binary, whose user errors print no backtrace even with `RUST_BACKTRACE=1`.

use crate::common::*;
use sandbank::learner::{self, CallArgs, CallResult, Outcome};
use sandbank::protocol::client::Signature;
use serde_json::json;
use std::process::Command;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The wire-test world plus the default world's Alipay channel (the shipped TEST keys).
fn world_toml() -> String {
    format!(
        "{}\n[[channels]]\nid = \"alipay\"\nkind = \"alipay-gateway\"\nfee_rate = \"0.006\"\n\n[[channels.apps]]\napp_id = \"2021000000000001\"\npid = \"2088000000000001\"\n",
        scenario(&WorldOpts::default())
    )
}

fn args(w: &str, instance: &str, op: Option<&str>, fields: &[&str]) -> CallArgs {
    CallArgs {
        url: w.to_string(),
        instance: instance.into(),
        operation: op.map(str::to_string),
        fields: fields.iter().map(|s| s.to_string()).collect(),
        token: None,
    }
}

async fn call(w: &TestWorld, instance: &str, op: &str, fields: &[&str]) -> CallResult {
    match learner::call(&args(&w.base, instance, Some(op), fields)).await {
        Ok(Outcome::Called(r)) => *r,
        Ok(Outcome::Operations { .. }) => panic!("{op}: listed operations instead of calling"),
        Err(e) => panic!("{instance} {op}: {e}"),
    }
}

fn field<'a>(r: &'a CallResult, name: &str) -> &'a str {
    r.checked
        .fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no `{name}` in {:?}", r.checked.fields))
}

fn assert_valid(r: &CallResult) {
    assert!(
        matches!(r.checked.signature, Signature::Valid(_)),
        "{:?}",
        r.checked.signature
    );
}

#[tokio::test]
async fn a_signed_wechat_order_is_created_and_queried() {
    let w = start_toml(&world_toml()).await;
    let r = call(
        &w,
        "wxpay",
        "pay/unifiedorder",
        &[
            "out_trade_no=ORDERCALL01",
            "body=test",
            "total_fee=101",
            "trade_type=NATIVE",
            "product_id=SKU1",
            "spbill_create_ip=127.0.0.1",
            "notify_url=http://127.0.0.1:9/notify",
        ],
    )
    .await;
    assert_eq!(
        (field(&r, "return_code"), field(&r, "result_code")),
        ("SUCCESS", "SUCCESS"),
        "{:?}",
        r.checked.fields
    );
    assert!(field(&r, "prepay_id").starts_with("wx"));
    assert_valid(&r);
    let filled: Vec<&str> = r
        .sent
        .fields
        .iter()
        .filter(|f| f.filled.is_some())
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(filled, ["appid", "mch_id", "nonce_str", "sign"]);
    // The channel holds it, as sent.
    let (_, order) = w.ctl_get("channels/wxpay/orders/ORDERCALL01").await;
    assert_eq!(order["total_fee"], 101, "{order}");

    let q = call(&w, "wxpay", "pay/orderquery", &["out_trade_no=ORDERCALL01"]).await;
    assert_eq!(field(&q, "trade_state"), "NOTPAY");
    assert_valid(&q);
    // HMAC-SHA256 when asked, and the reply checked the same way.
    let q = call(
        &w,
        "wxpay",
        "pay/orderquery",
        &["out_trade_no=ORDERCALL01", "sign_type=HMAC-SHA256"],
    )
    .await;
    assert_eq!(q.sent.field("sign").map(str::len), Some(64));
    assert_eq!(field(&q, "trade_state"), "NOTPAY");
    assert_valid(&q);
    // A sign the learner gives goes out as given: the channel's own SIGNERROR comes back.
    let bad = call(
        &w,
        "wxpay",
        "pay/orderquery",
        &["out_trade_no=ORDERCALL01", "sign=0123"],
    )
    .await;
    assert_eq!(field(&bad, "return_code"), "FAIL");
    assert!(matches!(bad.checked.signature, Signature::Unsigned(_)));
    let text = learner::render_result(&q, false);
    assert!(
        text.contains("trade_state") && text.contains("signature: valid"),
        "{text}"
    );
}

#[tokio::test]
async fn an_alipay_precreate_and_query() {
    let w = start_toml(&world_toml()).await;
    let r = call(
        &w,
        "alipay",
        "alipay.trade.precreate",
        &[
            "out_trade_no=ALI1",
            "total_amount=1.01",
            "subject=test",
            "notify_url=http://127.0.0.1:9/notify",
        ],
    )
    .await;
    assert_eq!(field(&r, "alipay_trade_precreate_response.code"), "10000");
    assert_valid(&r);
    assert_eq!(r.sent.field("timestamp"), Some("2026-03-02 10:00:00"));
    let q = call(&w, "alipay", "alipay.trade.query", &["out_trade_no=ALI1"]).await;
    assert_eq!(
        field(&q, "alipay_trade_query_response.sub_code"),
        "ACQ.TRADE_NOT_EXIST"
    );
    assert_valid(&q);
    let (status, paid) = w
        .ctl_post("channels/alipay/orders/ALI1/pay", json!({}))
        .await;
    assert_eq!(status, hyper::StatusCode::OK, "{paid}");
    let q = call(&w, "alipay", "alipay.trade.query", &["out_trade_no=ALI1"]).await;
    assert_eq!(
        field(&q, "alipay_trade_query_response.trade_status"),
        "TRADE_SUCCESS"
    );
    assert_valid(&q);
}

#[tokio::test]
async fn a_signed_payout_is_applied_and_succeeds() {
    let w = start_toml(&world_toml()).await;
    let r = call(
        &w,
        "bank",
        "agentpay/apply",
        &[
            "mchOrderNo=PAY1",
            "amount=10000",
            "accountNo=6217000000000000001",
            "accountName=张三",
        ],
    )
    .await;
    assert_eq!(
        (field(&r, "retCode"), field(&r, "status")),
        ("0", "PROCESSING")
    );
    assert_valid(&r);
    assert_eq!(r.sent.field("reqTime"), Some("20260302100000"));
    w.advance("30s").await;
    let q = call(&w, "bank", "agentpay/query", &["mchOrderNo=PAY1"]).await;
    assert_eq!(field(&q, "status"), "SUCCESS");
    assert_valid(&q);
    assert_eq!(w.balance(&payee("6217000000000000001")).await, "100.00");
    // Errors are not signed, and are said so.
    let q = call(&w, "bank", "agentpay/query", &["mchOrderNo=NONE"]).await;
    assert_eq!(field(&q, "retCode"), "ORDER_NOT_EXIST");
    assert!(matches!(q.checked.signature, Signature::Unsigned(_)));
}

#[tokio::test]
async fn an_instance_lists_its_operations() {
    let w = start_toml(&world_toml()).await;
    let Ok(Outcome::Operations { target, client }) =
        learner::call(&args(&w.base, "bank", None, &[])).await
    else {
        panic!("no listing");
    };
    let text = learner::render_operations(&target, client.as_ref());
    assert!(
        text.contains("agentpay/apply") && text.contains("agentpay/query"),
        "{text}"
    );
    assert!(
        text.contains("sandbank call bank agentpay/apply mchOrderNo="),
        "{text}"
    );
}

#[tokio::test]
async fn bad_calls_are_reported_in_words() {
    let w = start_toml(&world_toml()).await;
    let err = |a: CallArgs| async move {
        match learner::call(&a).await {
            Err(e) => e.0,
            Ok(_) => panic!("{a:?} succeeded"),
        }
    };
    let e = err(args(&w.base, "wx", Some("pay/orderquery"), &[])).await;
    assert!(
        e.contains("no channel or bank `wx`")
            && e.contains("wxpay (wechatpay-v2)")
            && e.contains("bank (payout-json)"),
        "{e}"
    );
    let e = err(args(&w.base, "wxpay", Some("pay/unifiedorders"), &[])).await;
    assert!(
        e.contains("no operation `pay/unifiedorders`") && e.contains("pay/unifiedorder,"),
        "{e}"
    );
    let e = err(args(
        &w.base,
        "wxpay",
        Some("pay/orderquery"),
        &["out_trade_no"],
    ))
    .await;
    assert!(e.contains("`out_trade_no` is not a field"), "{e}");
    let e = err(args(
        &w.base,
        "bank",
        Some("agentpay/apply"),
        &["amount=1.5"],
    ))
    .await;
    assert!(e.starts_with("amount: `1.5` is not an integer"), "{e}");
    let e = err(args(
        &w.base,
        "wxpay",
        Some("pay/orderquery"),
        &["mch_id=1"],
    ))
    .await;
    assert!(e.contains("mch_id: `1` is not a merchant"), "{e}");
    // Nobody listens on a port just freed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let e = err(args(&url, "wxpay", Some("pay/orderquery"), &[])).await;
    assert!(
        e.contains(&format!("cannot reach sandbank at {url}")),
        "{e}"
    );
    // Nothing was created by any of it.
    let (_, ledger) = w.ctl_get("ledger").await;
    assert_eq!(
        ledger["postings"].as_array().map(Vec::len),
        Some(1),
        "{ledger}"
    );
}

/// A server that hands out the default merchant's credentials and answers every order
/// query with a reply signed with another key: the check must say INVALID.
#[tokio::test]
async fn a_reply_with_a_wrong_signature_is_caught() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/_sandbank/channels/wxpay"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "wxpay", "kind": "wechatpay-v2", "base_url": "/wxpay/",
            "merchants": [{"appid": APPID, "mch_id": MCH_ID, "key": KEY}],
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/_sandbank/health"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"seed": 1, "now": "2026-03-02T02:00:00+00:00"})),
        )
        .mount(&server)
        .await;
    let fields = [
        ("return_code", "SUCCESS"),
        ("result_code", "SUCCESS"),
        ("trade_state", "SUCCESS"),
    ];
    let signed_with = |key: &str| wx_request(&fields, key);
    Mock::given(method("POST"))
        .and(path("/wxpay/pay/orderquery"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(signed_with("not the merchant's key")),
        )
        .mount(&server)
        .await;
    let r = match learner::call(&args(
        &server.uri(),
        "wxpay",
        Some("pay/orderquery"),
        &["out_trade_no=X"],
    ))
    .await
    {
        Ok(Outcome::Called(r)) => r,
        _ => panic!("no call"),
    };
    assert!(
        matches!(r.checked.signature, Signature::Invalid(_)),
        "{:?}",
        r.checked.signature
    );
    assert!(!r.signature_ok());
    assert!(learner::render_result(&r, false).contains("signature: INVALID"));
    // The same reply signed with the merchant's key passes: the check tells them apart.
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/_sandbank/channels/wxpay"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "wxpay", "kind": "wechatpay-v2", "base_url": "/wxpay/",
            "merchants": [{"appid": APPID, "mch_id": MCH_ID, "key": KEY}],
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/_sandbank/health"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"seed": 1, "now": "2026-03-02T02:00:00+00:00"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/wxpay/pay/orderquery"))
        .respond_with(ResponseTemplate::new(200).set_body_string(signed_with(KEY)))
        .mount(&server)
        .await;
    let Ok(Outcome::Called(r)) = learner::call(&args(
        &server.uri(),
        "wxpay",
        Some("pay/orderquery"),
        &["out_trade_no=X"],
    ))
    .await
    else {
        panic!("no call");
    };
    assert!(r.signature_ok(), "{:?}", r.checked.signature);
}

/// The binary prints a user's mistake as one message and exits 2, with no backtrace even
/// when `RUST_BACKTRACE=1` asks for one.
#[test]
fn user_errors_print_the_message_alone() {
    let dir = std::env::temp_dir().join(format!("sandbank-learner-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[world]\nname = \"x\"\nclock = \"sideways\"\n").unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let runs: [(&[&str], &str); 4] = [
        (&["scenario", "check", bad.to_str().unwrap()], "bad.toml"),
        (&["serve", "--scenario", "/nonexistent/x.toml"], "x.toml"),
        (
            &["call", "--url", &url, "wxpay"],
            "cannot reach sandbank at",
        ),
        (&["call", "--url", "https://example", "wxpay"], "plain HTTP"),
    ];
    for (argv, says) in runs {
        let out = Command::new(env!("CARGO_BIN_EXE_sandbank"))
            .args(argv)
            .env("RUST_BACKTRACE", "1")
            .env_remove("SANDBANK_URL")
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(says),
            "{argv:?}: {stderr}"
        );
        assert!(
            !stderr.to_lowercase().contains("backtrace"),
            "{argv:?}: {stderr}"
        );
        assert_eq!(stderr.trim_end().lines().count(), 1, "{argv:?}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
