//! WeChat Pay v2 refunds on the wire: `secapi/pay/refund`, `pay/refundquery`, refund
//! notifications (their `req_info` decrypted by `openssl`, an AES implementation that is not
//! sandbank's), the ledger, the bills, and the faults a settlement system must survive.

use crate::common::*;
use hyper::StatusCode;
use sandbank::channels::wxpay::xml;
use sandbank::protocol::sign::SignType;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The AES key of the test merchant's refund notifications: the lower-case hex MD5 of its
/// API key (the value wechatpy derives, docs/protocols.md#a7-refund-notifications).
const REQ_INFO_KEY: &str = "d96eb16afdd491fa1e705096edbc2205";

async fn receiver(ack: bool) -> MockServer {
    let server = MockServer::start().await;
    let body = if ack {
        WX_ACK
    } else {
        "<xml><return_code><![CDATA[FAIL]]></return_code></xml>"
    };
    Mock::given(method("POST"))
        .and(path("/notify"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(&server)
        .await;
    server
}

fn url_of(server: &MockServer) -> String {
    format!("{}/notify", server.uri())
}

async fn bodies(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .expect("recording is on")
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).expect("UTF-8"))
        .collect()
}

/// A paid NATIVE order of `total_fee` fen whose payment notification goes to `notify`.
async fn paid(w: &TestWorld, no: &str, total_fee: &str, notify: &str) -> serde_json::Value {
    w.native_order(no, total_fee, notify).await;
    w.pay(no).await
}

/// The fields of a refund request by `out_trade_no`.
fn refund_fields<'a>(
    no: &'a str,
    refund_no: &'a str,
    total: &'a str,
    fee: &'a str,
    notify: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("nonce_str", "r5K8264ILTKCH16CQ2502SI8ZNMTM67V"),
        ("out_trade_no", no),
        ("out_refund_no", refund_no),
        ("total_fee", total),
        ("refund_fee", fee),
    ];
    if let Some(n) = notify {
        f.push(("notify_url", n));
    }
    f
}

async fn refund(
    w: &TestWorld,
    no: &str,
    refund_no: &str,
    total: &str,
    fee: &str,
    notify: Option<&str>,
) -> BTreeMap<String, String> {
    w.wx(
        "secapi/pay/refund",
        &refund_fields(no, refund_no, total, fee, notify),
    )
    .await
}

async fn refundquery(w: &TestWorld, by: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut f = vec![("appid", APPID), ("mch_id", MCH_ID), ("nonce_str", "rq1")];
    f.extend_from_slice(by);
    let reply = w.wx("pay/refundquery", &f).await;
    assert!(reply_signed(&reply, KEY, SignType::Md5), "{reply:?}");
    reply
}

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

/// Every ledger posting of `kind` under `reference`.
async fn postings(w: &TestWorld, kind: &str, reference: &str) -> Vec<serde_json::Value> {
    let v = w.ledger().await;
    v["postings"]
        .as_array()
        .expect("postings")
        .iter()
        .filter(|p| p["kind"] == kind && p["reference"] == reference)
        .cloned()
        .collect()
}

async fn posting_count(w: &TestWorld) -> usize {
    w.ledger().await["postings"]
        .as_array()
        .expect("postings")
        .len()
}

/// Decrypt `req_info` with the `openssl` command: AES-256-ECB, PKCS#7, base64.
fn openssl_decrypt(req_info: &str) -> String {
    let key_hex: String = REQ_INFO_KEY.bytes().map(|b| format!("{b:02x}")).collect();
    let mut child = Command::new("openssl")
        .args(["enc", "-d", "-aes-256-ecb", "-base64", "-A", "-K", &key_hex])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl command is installed (Debian package openssl)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(req_info.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 plain text")
}

/// A refund notification's envelope and its decrypted `<root>` fields.
fn parse_refund_notification(body: &str) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let outer = xml::parse(body).expect("v2 XML");
    let plain = openssl_decrypt(&outer["req_info"]);
    assert!(
        plain.starts_with("<root>") && plain.ends_with("</root>"),
        "{plain}"
    );
    let inner = xml::parse_general(&plain).expect("a flat <root> document");
    (outer, inner)
}

// ---------------------------------------------------------------- the happy path

#[tokio::test]
async fn a_refund_is_accepted_processing_then_succeeds_moves_money_and_is_notified() {
    let w = start().await;
    let r = receiver(true).await;
    let pay = paid(&w, "RFORDER001", "10000", &url_of(&r)).await;
    let txn = pay["transaction_id"].as_str().unwrap().to_string();
    w.settle().await;
    let merchant_before = w.balance(&merchant_account()).await;
    assert_eq!(merchant_before, "99.40");

    let reply = refund(
        &w,
        "RFORDER001",
        "RF001",
        "10000",
        "3000",
        Some(&url_of(&r)),
    )
    .await;
    ok(&reply);
    assert_eq!(reply["out_trade_no"], "RFORDER001");
    assert_eq!(reply["transaction_id"], txn);
    assert_eq!(reply["out_refund_no"], "RF001");
    assert_eq!(
        (reply["refund_fee"].as_str(), reply["total_fee"].as_str()),
        ("3000", "10000")
    );
    assert_eq!(reply["cash_fee"], "10000");
    let refund_id = reply["refund_id"].clone();
    assert!(
        refund_id.len() == 29
            && refund_id.starts_with("50")
            && refund_id.bytes().all(|b| b.is_ascii_digit()),
        "{refund_id}"
    );

    // Accepted: PROCESSING, the order REFUND, no money moved yet.
    let q = refundquery(&w, &[("out_refund_no", "RF001")]).await;
    ok(&q);
    assert_eq!(q["refund_count"], "1");
    assert_eq!(q["refund_status_0"], "PROCESSING");
    assert_eq!(q["refund_id_0"], refund_id);
    assert!(!q.contains_key("refund_success_time_0"), "{q:?}");
    assert_eq!(w.query("RFORDER001").await["trade_state"], "REFUND");
    assert_eq!(w.balance(&merchant_account()).await, "99.40");
    assert!(postings(&w, "refund", "RF001").await.is_empty());

    // 10 seconds later (the channel's refund_after): SUCCESS, the money moved.
    w.advance("10s").await;
    let q = refundquery(&w, &[("out_refund_no", "RF001")]).await;
    assert_eq!(q["refund_status_0"], "SUCCESS");
    assert_eq!(q["refund_success_time_0"], "2026-03-02 10:00:10");
    assert_eq!(q["refund_recv_accout_0"], "支付用户的零钱");
    assert_eq!(q["refund_account_0"], "REFUND_SOURCE_UNSETTLED_FUNDS");
    // 100.00 paid, 0.60 fee; 30.00 refunded, 0.18 of the fee given back.
    assert_eq!(w.balance(&merchant_account()).await, "69.58");
    assert_eq!(w.balance("channel:wxpay:fees").await, "0.42");
    let refunds = postings(&w, "refund", "RF001").await;
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(postings(&w, "fee", "RF001").await.len(), 1);

    // The refund notification: not signed, its details encrypted.
    let all = bodies(&r).await;
    assert_eq!(all.len(), 2, "a payment and a refund notification: {all:?}");
    let (outer, inner) = parse_refund_notification(&all[1]);
    assert_eq!(outer["return_code"], "SUCCESS");
    assert_eq!(
        (outer["appid"].as_str(), outer["mch_id"].as_str()),
        (APPID, MCH_ID)
    );
    assert!(!outer.contains_key("sign"), "{outer:?}");
    assert_eq!(inner["out_refund_no"], "RF001");
    assert_eq!(inner["out_trade_no"], "RFORDER001");
    assert_eq!(inner["transaction_id"], txn);
    assert_eq!(inner["refund_id"], refund_id);
    assert_eq!(inner["refund_status"], "SUCCESS");
    assert_eq!(inner["refund_fee"], "3000");
    assert_eq!(inner["settlement_refund_fee"], "3000");
    assert_eq!(inner["total_fee"], "10000");
    assert_eq!(inner["success_time"], "2026-03-02 10:00:10");
    assert_eq!(inner["refund_request_source"], "API");
    assert_eq!(inner["refund_recv_accout"], "支付用户的零钱");

    // Acknowledged: no second attempt.
    w.advance("1h").await;
    assert_eq!(bodies(&r).await.len(), 2);
}

#[tokio::test]
async fn a_refund_without_notify_url_is_not_notified() {
    let w = start().await;
    let r = receiver(true).await;
    paid(&w, "RFNONOTE01", "500", &url_of(&r)).await;
    ok(&refund(&w, "RFNONOTE01", "RFNN1", "500", "500", None).await);
    w.advance("1h").await;
    assert_eq!(
        refundquery(&w, &[("out_trade_no", "RFNONOTE01")]).await["refund_status_0"],
        "SUCCESS"
    );
    assert_eq!(bodies(&r).await.len(), 1, "the payment notification only");
    // A full refund gives the whole fee back: the merchant holds nothing of the order.
    assert_eq!(w.balance(&merchant_account()).await, "0.00");
}

#[tokio::test]
async fn refundquery_lists_every_refund_with_indexed_fields_by_any_of_its_four_keys() {
    let w = start().await;
    let pay = paid(&w, "RFLIST0001", "1000", "http://127.0.0.1:9/notify").await;
    let txn = pay["transaction_id"].as_str().unwrap().to_string();
    let a = refund(&w, "RFLIST0001", "RFL-A", "1000", "100", None).await;
    ok(&a);
    w.advance("1m").await;
    let b = refund(&w, "RFLIST0001", "RFL-B", "1000", "250", None).await;
    ok(&b);

    for by in [
        ("out_trade_no", "RFLIST0001"),
        ("transaction_id", txn.as_str()),
    ] {
        let q = refundquery(&w, &[by]).await;
        ok(&q);
        assert_eq!(q["refund_count"], "2", "{q:?}");
        assert_eq!(q["refund_fee"], "350");
        assert_eq!(q["out_refund_no_0"], "RFL-A");
        assert_eq!(q["refund_status_0"], "SUCCESS");
        assert_eq!(q["out_refund_no_1"], "RFL-B");
        assert_eq!(q["refund_fee_1"], "250");
        assert_eq!(q["refund_status_1"], "PROCESSING");
        assert_eq!(q["refund_channel_1"], "ORIGINAL");
        assert_eq!(q["total_fee"], "1000");
        assert!(!q.contains_key("total_refund_count"));
    }
    let q = refundquery(&w, &[("refund_id", &b["refund_id"])]).await;
    assert_eq!(
        (q["refund_count"].as_str(), q["out_refund_no_0"].as_str()),
        ("1", "RFL-B")
    );
    // refund_id first, then out_refund_no: the documented precedence.
    let q = refundquery(
        &w,
        &[("refund_id", &a["refund_id"]), ("out_refund_no", "RFL-B")],
    )
    .await;
    assert_eq!(q["out_refund_no_0"], "RFL-A");
}

// ---------------------------------------------------------------- rules

#[tokio::test]
async fn the_same_out_refund_no_refunds_once() {
    let w = start().await;
    paid(&w, "RFIDEM0001", "1000", "http://127.0.0.1:9/notify").await;
    let first = refund(&w, "RFIDEM0001", "RFI1", "1000", "400", None).await;
    ok(&first);
    let again = refund(&w, "RFIDEM0001", "RFI1", "1000", "400", None).await;
    ok(&again);
    assert_eq!(again["refund_id"], first["refund_id"]);
    w.advance("1m").await;
    let after = refund(&w, "RFIDEM0001", "RFI1", "1000", "400", None).await;
    ok(&after);
    assert_eq!(after["refund_id"], first["refund_id"]);
    w.advance("1m").await;
    assert_eq!(postings(&w, "refund", "RFI1").await.len(), 1);
    let q = refundquery(&w, &[("out_trade_no", "RFIDEM0001")]).await;
    assert_eq!(q["refund_count"], "1");

    // The same number with another amount is refused, not a second refund.
    let other = refund(&w, "RFIDEM0001", "RFI1", "1000", "300", None).await;
    fails(&other, "REFUND_FEE_MISMATCH");
    assert_eq!(postings(&w, "refund", "RFI1").await.len(), 1);
}

#[tokio::test]
async fn two_refunds_of_one_order_must_be_a_minute_apart_on_the_world_clock() {
    let w = start().await;
    paid(&w, "RFMINUTE01", "1000", "http://127.0.0.1:9/notify").await;
    ok(&refund(&w, "RFMINUTE01", "RFM1", "1000", "100", None).await);
    fails(
        &refund(&w, "RFMINUTE01", "RFM2", "1000", "100", None).await,
        "FREQUENCY_LIMITED",
    );
    w.advance("59s").await;
    fails(
        &refund(&w, "RFMINUTE01", "RFM2", "1000", "100", None).await,
        "FREQUENCY_LIMITED",
    );
    w.advance("1s").await;
    ok(&refund(&w, "RFMINUTE01", "RFM2", "1000", "100", None).await);
    // The rule is per order: another order is refunded at once.
    paid(&w, "RFMINUTE02", "1000", "http://127.0.0.1:9/notify").await;
    ok(&refund(&w, "RFMINUTE02", "RFM3", "1000", "100", None).await);
}

#[tokio::test]
async fn refunds_add_up_to_the_order_at_most() {
    let w = start().await;
    paid(&w, "RFLIMIT001", "100", "http://127.0.0.1:9/notify").await;
    // More than the order: refused before anything else, at the communication level.
    let over = w
        .wx(
            "secapi/pay/refund",
            &refund_fields("RFLIMIT001", "RFX0", "100", "101", None),
        )
        .await;
    assert_eq!(over["return_code"], "FAIL", "{over:?}");
    assert_eq!(over["return_msg"], "invalid refund_fee");
    // total_fee must be the order's.
    fails(
        &refund(&w, "RFLIMIT001", "RFX1", "99", "10", None).await,
        "REFUND_FEE_MISMATCH",
    );
    ok(&refund(&w, "RFLIMIT001", "RFX2", "100", "60", None).await);
    w.advance("1m").await;
    fails(
        &refund(&w, "RFLIMIT001", "RFX3", "100", "41", None).await,
        "INVALID_REQUEST",
    );
    w.advance("1m").await;
    ok(&refund(&w, "RFLIMIT001", "RFX4", "100", "40", None).await);
    w.advance("1m").await;
    let full = refund(&w, "RFLIMIT001", "RFX5", "100", "1", None).await;
    fails(&full, "ERROR");
    assert_eq!(full["err_code_des"], "订单已全额退款");
    // Both refunds' fee shares add up to the whole fee (0.006 × 1.00 rounds to 0.01).
    assert_eq!(w.balance(&merchant_account()).await, "0.00");
    assert_eq!(w.balance("channel:wxpay:fees").await, "0.00");
}

#[tokio::test]
async fn an_order_takes_at_most_fifty_refunds_and_pages_them_by_offset() {
    let w = start().await;
    paid(&w, "RFFIFTY001", "100", "http://127.0.0.1:9/notify").await;
    for i in 0..50 {
        let no = format!("RF50-{i:02}");
        ok(&refund(&w, "RFFIFTY001", &no, "100", "1", None).await);
        w.advance("1m").await;
    }
    let fifty_first = refund(&w, "RFFIFTY001", "RF50-50", "100", "1", None).await;
    fails(&fifty_first, "ERROR");
    assert!(
        fifty_first["err_code_des"].contains("50"),
        "{fifty_first:?}"
    );

    // More than 20 refunds: listed page by page, or one by one.
    fails(
        &refundquery(&w, &[("out_trade_no", "RFFIFTY001")]).await,
        "PARAM_ERROR",
    );
    let page = refundquery(&w, &[("out_trade_no", "RFFIFTY001"), ("offset", "40")]).await;
    ok(&page);
    assert_eq!(page["total_refund_count"], "50");
    assert_eq!(page["refund_count"], "10");
    assert_eq!(page["out_refund_no_0"], "RF50-40");
    assert_eq!(page["out_refund_no_9"], "RF50-49");
    assert!(!page.contains_key("out_refund_no_10"));
    let one = refundquery(&w, &[("out_refund_no", "RF50-07")]).await;
    assert_eq!(one["refund_count"], "1");
}

#[tokio::test]
async fn notenough_when_the_merchants_balance_less_refunds_in_flight_cannot_cover_it() {
    let toml = scenario(&WorldOpts::default()).replace(
        "key = \"192006250b4c09247ec02edce69f6a2d\"",
        "key = \"192006250b4c09247ec02edce69f6a2d\"\nopening = \"-95.00\"",
    );
    let w = start_toml(&toml).await;
    assert_eq!(w.balance(&merchant_account()).await, "-95.00");
    paid(&w, "RFPOOR0001", "10000", "http://127.0.0.1:9/notify").await;
    // 100.00 − 0.60 − 95.00 = 4.40 at the channel.
    assert_eq!(w.balance(&merchant_account()).await, "4.40");
    let postings_before = posting_count(&w).await;
    fails(
        &refund(&w, "RFPOOR0001", "RFP0", "10000", "500", None).await,
        "NOTENOUGH",
    );
    // 4.00 takes 3.98 (0.02 of the fee comes back): accepted, and counted in flight.
    ok(&refund(&w, "RFPOOR0001", "RFP1", "10000", "400", None).await);
    w.advance("1m").await;
    // The first has finished: 0.42 left, and 1.00 needs 0.99.
    fails(
        &refund(&w, "RFPOOR0001", "RFP2", "10000", "100", None).await,
        "NOTENOUGH",
    );
    assert_eq!(w.balance(&merchant_account()).await, "0.42");
    assert_eq!(posting_count(&w).await, postings_before + 2);

    // While a refund is PROCESSING its amount is spent already.
    paid(&w, "RFPOOR0002", "1000", "http://127.0.0.1:9/notify").await;
    // 0.42 + 9.94 = 10.36.
    ok(&refund(&w, "RFPOOR0002", "RFP3", "1000", "1000", None).await);
    fails(
        &refund(&w, "RFPOOR0001", "RFP4", "10000", "100", None).await,
        "NOTENOUGH",
    );
}

#[tokio::test]
async fn only_paid_orders_of_the_merchant_are_refunded() {
    let w = start().await;
    fails(
        &refund(&w, "RFNOSUCH01", "RFN1", "100", "100", None).await,
        "ORDERNOTEXIST",
    );
    w.native_order("RFUNPAID01", "100", "http://127.0.0.1:9/notify")
        .await;
    fails(
        &refund(&w, "RFUNPAID01", "RFN2", "100", "100", None).await,
        "ORDERNOTEXIST",
    );
    let mut by_txn = refund_fields("x", "RFN3", "100", "100", None);
    by_txn.retain(|(k, _)| *k != "out_trade_no");
    by_txn.push(("transaction_id", "4200000000000000000000000000"));
    fails(
        &w.wx("secapi/pay/refund", &by_txn).await,
        "INVALID_TRANSACTIONID",
    );
    for missing in ["out_refund_no", "total_fee", "refund_fee"] {
        let mut f = refund_fields("RFUNPAID01", "RFN4", "100", "100", None);
        f.retain(|(k, _)| *k != missing);
        let reply = w.wx("secapi/pay/refund", &f).await;
        fails(&reply, "PARAM_ERROR");
        assert!(reply["err_code_des"].contains(missing), "{reply:?}");
    }
    fails(
        &refund(&w, "RFUNPAID01", "bad number!", "100", "100", None).await,
        "PARAM_ERROR",
    );
    fails(
        &refundquery(&w, &[("out_trade_no", "RFUNPAID01")]).await,
        "REFUNDNOTEXIST",
    );
    fails(
        &refundquery(&w, &[("out_refund_no", "NOSUCH")]).await,
        "REFUNDNOTEXIST",
    );
    fails(&refundquery(&w, &[]).await, "PARAM_ERROR");
}

#[tokio::test]
async fn bad_signatures_wrong_keys_and_malformed_bodies_leave_the_ledger_untouched() {
    let w = start().await;
    paid(&w, "RFBADSIG01", "1000", "http://127.0.0.1:9/notify").await;
    let before = posting_count(&w).await;
    let fields = refund_fields("RFBADSIG01", "RFB1", "1000", "1000", None);
    let wrong_key = wx_request(&fields, "00000000000000000000000000000000");
    let r = w.wx_raw("secapi/pay/refund", wrong_key).await;
    let f = xml_of(&r);
    assert_eq!(
        (f["return_code"].as_str(), f["err_code"].as_str()),
        ("FAIL", "SIGNERROR")
    );
    let mut tampered = wx_request(&fields, KEY);
    tampered = tampered.replace(
        "<refund_fee>1000</refund_fee>",
        "<refund_fee>999</refund_fee>",
    );
    let f = xml_of(&w.wx_raw("secapi/pay/refund", tampered).await);
    assert_eq!(f["err_code"], "SIGNERROR");
    for body in ["<xml><out_refund_no>RFB1", "not xml", ""] {
        let f = xml_of(&w.wx_raw("secapi/pay/refund", body.to_string()).await);
        assert_eq!(f["return_code"], "FAIL", "{body:?}: {f:?}");
    }
    let get = http_get(&w.url("wxpay/secapi/pay/refund")).await;
    assert_eq!(xml_of(&get)["err_code"], "REQUIRE_POST_METHOD");
    w.advance("1h").await;
    assert_eq!(posting_count(&w).await, before);
    fails(
        &refundquery(&w, &[("out_trade_no", "RFBADSIG01")]).await,
        "REFUNDNOTEXIST",
    );
    assert_eq!(w.query("RFBADSIG01").await["trade_state"], "SUCCESS");
}

async fn http_get(url: &str) -> sandbank::http::ClientResponse {
    sandbank::http::get(url, REQUEST_TIMEOUT)
        .await
        .expect("answers")
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn systemerror_or_a_lost_reply_then_a_retry_under_the_same_out_refund_no_refunds_once() {
    let w = start().await;
    paid(&w, "RFSYSERR01", "1000", "http://127.0.0.1:9/notify").await;
    w.add_fault(
        json!({"target": "wxpay", "op": "secapi/pay/refund", "nth": 1,
        "action": "protocol_error", "code": "SYSTEMERROR"}),
    )
    .await;
    fails(
        &refund(&w, "RFSYSERR01", "RFS1", "1000", "300", None).await,
        "SYSTEMERROR",
    );
    let retried = refund(&w, "RFSYSERR01", "RFS1", "1000", "300", None).await;
    ok(&retried);

    // The reply of the next one is lost after the refund was accepted.
    w.advance("1m").await;
    w.add_fault(
        json!({"target": "wxpay", "op": "secapi/pay/refund", "order": "RFS2",
        "times": 1, "action": "commit_then_fail", "then": "reset"}),
    )
    .await;
    let body = wx_request(
        &refund_fields("RFSYSERR01", "RFS2", "1000", "200", None),
        KEY,
    );
    let r = sandbank::http::post(
        &w.url("wxpay/secapi/pay/refund"),
        "text/xml",
        body,
        REQUEST_TIMEOUT,
    )
    .await;
    assert!(r.is_err(), "the connection is reset: {r:?}");
    let again = refund(&w, "RFSYSERR01", "RFS2", "1000", "200", None).await;
    ok(&again);
    w.advance("1h").await;
    assert_eq!(postings(&w, "refund", "RFS1").await.len(), 1);
    assert_eq!(postings(&w, "refund", "RFS2").await.len(), 1);
    let q = refundquery(&w, &[("out_trade_no", "RFSYSERR01")]).await;
    assert_eq!(q["refund_count"], "2");
    assert_eq!(q["refund_id_1"], again["refund_id"]);
}

#[tokio::test]
async fn an_outcome_rule_keeps_a_refund_processing_for_hours() {
    let w = start().await;
    paid(&w, "RFSLOW0001", "1000", "http://127.0.0.1:9/notify").await;
    w.add_fault(
        json!({"target": "wxpay", "op": "secapi/pay/refund", "order": "RFSLOW*",
        "action": "outcome", "outcome": "SUCCESS", "delay": "6h"}),
    )
    .await;
    ok(&refund(&w, "RFSLOW0001", "RFSLOW1", "1000", "1000", None).await);
    w.advance("5h59m").await;
    let q = refundquery(&w, &[("out_refund_no", "RFSLOW1")]).await;
    assert_eq!(q["refund_status_0"], "PROCESSING");
    assert!(postings(&w, "refund", "RFSLOW1").await.is_empty());
    w.advance("1m").await;
    let q = refundquery(&w, &[("out_refund_no", "RFSLOW1")]).await;
    assert_eq!(q["refund_status_0"], "SUCCESS");
    assert_eq!(q["refund_success_time_0"], "2026-03-02 16:00:00");
    assert_eq!(postings(&w, "refund", "RFSLOW1").await.len(), 1);
}

#[tokio::test]
async fn outcome_rules_end_refunds_change_or_refundclose_and_neither_moves_money() {
    let w = start().await;
    let r = receiver(true).await;
    paid(&w, "RFENDS0001", "1000", &url_of(&r)).await;
    w.add_fault(
        json!({"target": "wxpay", "op": "secapi/pay/refund", "order": "RFE-CHANGE",
        "action": "outcome", "outcome": "CHANGE"}),
    )
    .await;
    w.add_fault(
        json!({"target": "wxpay", "op": "secapi/pay/refund", "order": "RFE-CLOSE",
        "times": 1, "action": "outcome", "outcome": "REFUNDCLOSE", "delay": "2m"}),
    )
    .await;
    ok(&refund(
        &w,
        "RFENDS0001",
        "RFE-CHANGE",
        "1000",
        "300",
        Some(&url_of(&r)),
    )
    .await);
    w.advance("1m").await;
    ok(&refund(
        &w,
        "RFENDS0001",
        "RFE-CLOSE",
        "1000",
        "700",
        Some(&url_of(&r)),
    )
    .await);
    w.advance("2m").await;
    let q = refundquery(&w, &[("out_trade_no", "RFENDS0001")]).await;
    assert_eq!(q["refund_status_0"], "CHANGE");
    assert_eq!(q["refund_status_1"], "REFUNDCLOSE");
    assert!(!q.contains_key("refund_success_time_0"));
    assert!(postings(&w, "refund", "RFE-CHANGE").await.is_empty());
    assert!(postings(&w, "refund", "RFE-CLOSE").await.is_empty());
    assert_eq!(w.balance(&merchant_account()).await, "9.94");
    let notes: Vec<_> = bodies(&r).await.into_iter().skip(1).collect();
    let statuses: Vec<String> = notes
        .iter()
        .map(|b| parse_refund_notification(b).1["refund_status"].clone())
        .collect();
    assert_eq!(statuses, ["CHANGE", "REFUNDCLOSE"]);
    let (_, closed) = parse_refund_notification(&notes[1]);
    assert!(!closed.contains_key("success_time"), "{closed:?}");

    // CHANGE keeps its amount; the closed 7.00 may be refunded again, under its number.
    w.advance("1m").await;
    fails(
        &refund(&w, "RFENDS0001", "RFE-MORE", "1000", "701", None).await,
        "INVALID_REQUEST",
    );
    w.advance("1m").await;
    ok(&refund(&w, "RFENDS0001", "RFE-CLOSE", "1000", "700", None).await);
    assert_eq!(
        refundquery(&w, &[("out_refund_no", "RFE-CLOSE")]).await["refund_status_0"],
        "PROCESSING"
    );
    w.advance("10s").await;
    assert_eq!(
        refundquery(&w, &[("out_refund_no", "RFE-CLOSE")]).await["refund_status_0"],
        "SUCCESS"
    );
    assert_eq!(postings(&w, "refund", "RFE-CLOSE").await.len(), 1);
}

#[tokio::test]
async fn a_refund_notification_can_arrive_before_the_payment_notification() {
    let w = start().await;
    let r = receiver(true).await;
    // The payment notification is held back 30 minutes on the world clock.
    w.add_fault(
        json!({"target": "wxpay", "op": "notify", "order": "RFRACE0001",
        "times": 1, "action": "delay", "delay": "30m"}),
    )
    .await;
    paid(&w, "RFRACE0001", "1000", &url_of(&r)).await;
    w.settle().await;
    assert!(bodies(&r).await.is_empty());
    ok(&refund(&w, "RFRACE0001", "RFR1", "1000", "1000", Some(&url_of(&r))).await);
    w.advance("10s").await;
    let first = bodies(&r).await;
    assert_eq!(first.len(), 1);
    assert!(
        first[0].contains("<req_info>"),
        "the refund comes first: {}",
        first[0]
    );
    w.advance("30m").await;
    let all = bodies(&r).await;
    assert_eq!(all.len(), 2);
    let payment = xml::parse(&all[1]).unwrap();
    assert_eq!(payment["out_trade_no"], "RFRACE0001");
    assert_eq!(payment["result_code"], "SUCCESS");
    assert!(reply_signed(&payment, KEY, SignType::Md5));
}

#[tokio::test]
async fn refund_notifications_are_retried_on_the_ladder_and_faulted_under_refund_notify() {
    let w = start().await;
    let r = receiver(false).await;
    paid(&w, "RFLADDER01", "1000", "http://127.0.0.1:9/notify").await;
    // The first attempt is dropped by a rule on the refund notification's own operation.
    w.add_fault(
        json!({"target": "wxpay", "op": "refund.notify", "order": "RFL1",
        "nth": 1, "action": "drop"}),
    )
    .await;
    ok(&refund(&w, "RFLADDER01", "RFL1", "1000", "500", Some(&url_of(&r))).await);
    w.advance("10s").await;
    assert_eq!(bodies(&r).await.len(), 0, "dropped");
    for (n, wait) in ["15s", "15s", "30s", "3m"].iter().enumerate() {
        w.advance(wait).await;
        assert_eq!(bodies(&r).await.len(), n + 1, "after {wait}");
    }
    let all = bodies(&r).await;
    // Every attempt carries the same refund; only the nonce may change.
    for b in &all {
        assert_eq!(parse_refund_notification(b).1["out_refund_no"], "RFL1");
    }
    let entries = w.journal("kind=callback&reference=RFL1").await;
    assert!(
        entries.iter().all(|e| e["op"] == "refund.notify"),
        "{entries:?}"
    );
    let faults = w.journal("kind=fault&reference=RFL1").await;
    assert_eq!(faults.len(), 1, "{faults:?}");
}

// ---------------------------------------------------------------- statements

fn bill_request(bill_type: &str) -> String {
    wx_request(
        &[
            ("appid", APPID),
            ("mch_id", MCH_ID),
            ("nonce_str", "bill1"),
            ("bill_date", "20260302"),
            ("bill_type", bill_type),
        ],
        KEY,
    )
}

/// The REFUND bill's header (written out here, not taken from sandbank's constant).
const REFUND_BILL_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";

/// The SUCCESS bill's header.
const SUCCESS_BILL_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注";

/// The detail rows of a bill, each split into its fields without the backticks.
fn rows(bill: &str) -> Vec<Vec<String>> {
    let lines: Vec<&str> = bill.split("\r\n").filter(|l| !l.is_empty()).collect();
    let end = lines
        .iter()
        .position(|l| l.starts_with("总交易单数"))
        .expect("a summary");
    lines[1..end]
        .iter()
        .map(|l| {
            l.split(',')
                .map(|f| f.strip_prefix('`').unwrap_or(f).to_string())
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn refunds_are_rows_of_the_refund_and_all_bills_and_of_the_alipay_bill() {
    let w = start().await;
    let pay = paid(&w, "RFBILL0001", "10000", "http://127.0.0.1:9/notify").await;
    let txn = pay["transaction_id"].as_str().unwrap().to_string();
    let reply = refund(&w, "RFBILL0001", "RFBILL-1", "10000", "2500", None).await;
    ok(&reply);
    w.advance("10s").await;
    // A refund still PROCESSING at the cut-off is not in the day's bill (it is in the bill
    // of the day it succeeds).
    w.advance("1m").await;
    w.add_fault(
        json!({"target": "wxpay", "op": "secapi/pay/refund", "order": "RFBILL-2",
        "action": "outcome", "outcome": "SUCCESS", "delay": "20h"}),
    )
    .await;
    ok(&refund(&w, "RFBILL0001", "RFBILL-2", "10000", "100", None).await);
    let (status, _) = w.ctl_post("clock", json!({"to": "2026-03-03 09:00"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        refundquery(&w, &[("out_refund_no", "RFBILL-2")]).await["refund_status_0"],
        "SUCCESS"
    );

    let refund_bill = w.wx_raw("pay/downloadbill", bill_request("REFUND")).await;
    let text = refund_bill.text();
    let rs = rows(&text);
    assert_eq!(rs.len(), 1, "{text}");
    let row = &rs[0];
    // The REFUND bill's own layout: 29 columns, the refund's request and success times
    // before its ids, and the order's payment as 交易时间.
    assert!(
        text.starts_with(&format!("{REFUND_BILL_HEADER}\r\n")),
        "{text}"
    );
    assert_eq!(row.len(), 29);
    assert_eq!(row[0], "2026-03-02 10:00:00", "交易时间: the payment");
    assert_eq!(row[5], txn, "微信订单号");
    assert_eq!(row[6], "RFBILL0001", "商户订单号");
    assert_eq!(row[9], "REFUND", "交易状态");
    assert_eq!(row[12], "0.00", "应结订单金额");
    assert_eq!(row[14], "2026-03-02 10:00:00", "退款申请时间");
    assert_eq!(row[15], "2026-03-02 10:00:10", "退款成功时间");
    assert_eq!(row[16], reply["refund_id"], "微信退款单号");
    assert_eq!(row[17], "RFBILL-1", "商户退款单号");
    assert_eq!(row[18], "25.00", "退款金额");
    assert_eq!(row[20], "ORIGINAL", "退款类型");
    assert_eq!(row[21], "SUCCESS", "退款状态");
    assert_eq!(row[24], "-0.15000", "手续费: the fee given back");
    assert_eq!(row[26], "0.00", "订单金额");
    assert_eq!(row[27], "25.00", "申请退款金额");
    assert!(
        text.contains("`1,`0.00,`25.00,`0.00,`-0.15000,`0.00,`25.00"),
        "{text}"
    );

    let all = w
        .wx_raw("pay/downloadbill", bill_request("ALL"))
        .await
        .text();
    let rs = rows(&all);
    assert_eq!(rs.len(), 2, "{all}");
    assert_eq!(
        (rs[0][9].as_str(), rs[1][9].as_str()),
        ("SUCCESS", "REFUND")
    );
    assert!(
        all.contains("`2,`100.00,`25.00,`0.00,`0.45000,`100.00,`25.00"),
        "{all}"
    );
    let success = w
        .wx_raw("pay/downloadbill", bill_request("SUCCESS"))
        .await
        .text();
    let rs = rows(&success);
    assert_eq!(rs.len(), 1, "{success}");
    // The SUCCESS bill's own layout: 20 columns, no refund columns.
    assert!(
        success.starts_with(&format!("{SUCCESS_BILL_HEADER}\r\n")),
        "{success}"
    );
    assert_eq!(rs[0].len(), 20);
    assert_eq!(
        (rs[0][0].as_str(), rs[0][6].as_str(), rs[0][9].as_str()),
        ("2026-03-02 10:00:00", "RFBILL0001", "SUCCESS")
    );
    assert_eq!(
        (rs[0][12].as_str(), rs[0][18].as_str()),
        ("100.00", "100.00")
    );
    assert_eq!(rs[0][16], "0.60000", "手续费");
    assert!(
        success.contains("`1,`100.00,`0.00,`0.00,`0.60000,`100.00,`0.00"),
        "{success}"
    );
    // The ALL bill keeps its 27 columns and dates the refund by its success.
    let rs = rows(&all);
    assert!(rs.iter().all(|r| r.len() == 27), "{all}");
    assert_eq!(rs[1][0], "2026-03-02 10:00:10");

    // The Alipay bill writer lists it as a 退款 row with the refund request number.
    let zip = w
        .ctl_get_raw("statements/wxpay/2026-03-02?format=alipay")
        .await;
    assert_eq!(zip.status, StatusCode::OK);
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip.body.to_vec())).unwrap();
    let mut detail = Vec::new();
    std::io::Read::read_to_end(&mut z.by_index(0).unwrap(), &mut detail).unwrap();
    let (detail, _, _) = encoding_rs::GBK.decode(&detail);
    let line = detail
        .lines()
        .find(|l| l.contains("退款") && l.contains("RFBILL-1"))
        .unwrap_or_else(|| panic!("a refund row: {detail}"));
    assert!(line.contains("-25.00"), "{line}");
    assert!(line.starts_with(&txn), "{line}");
}
