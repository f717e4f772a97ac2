//! The WeChat Pay v2 fake on the wire: requests over real sockets on 127.0.0.1, replies and
//! notifications checked as a merchant's code would check them, time moved by the control API.

use crate::common::*;
use hyper::StatusCode;
use sandbank::channels::wxpay::xml;
use sandbank::protocol::sign::{self, SignType};
use std::collections::BTreeMap;
use std::io::Read;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The waits between notification attempts documented by WeChat Pay
/// (docs/protocols.md#a4-notifications-and-the-retry-ladder).
const LADDER_SECS: [i64; 15] = [
    15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
];

/// The ALL bill header documented by WeChat Pay
/// (docs/protocols.md#a5-downloadbill-and-the-bill-format).
const BILL_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";

/// A merchant's notify endpoint that acknowledges every notification.
async fn acking_receiver() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/notify"))
        .respond_with(ResponseTemplate::new(200).set_body_string(WX_ACK))
        .mount(&server)
        .await;
    server
}

/// A merchant's notify endpoint that answers every notification with a failure.
async fn refusing_receiver() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/notify"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("<xml><return_code><![CDATA[FAIL]]></return_code></xml>"),
        )
        .mount(&server)
        .await;
    server
}

fn notify_url(server: &MockServer) -> String {
    format!("{}/notify", server.uri())
}

async fn received(server: &MockServer) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on by default")
}

/// Create a NATIVE order of `total_fee` fen notifying `receiver`, have the customer pay it,
/// and let its first notification attempt go out; the pay reply.
async fn paid_and_notified(
    w: &TestWorld,
    receiver: &MockServer,
    out_trade_no: &str,
    total_fee: &str,
) -> serde_json::Value {
    w.native_order(out_trade_no, total_fee, &notify_url(receiver))
        .await;
    let paid = w.pay(out_trade_no).await;
    w.settle().await;
    paid
}

/// A notification body parsed, with its signature checked as wechatpy's parse_payment_result does.
fn parse_notification(body: &[u8]) -> BTreeMap<String, String> {
    let text = std::str::from_utf8(body).expect("notifications are UTF-8");
    let fields = xml::parse(text).expect("notifications are v2 XML");
    assert!(
        reply_signed(&fields, KEY, SignType::Md5),
        "notification signature (MD5): {text}"
    );
    fields
}

// ---------------------------------------------------------------- unifiedorder

#[tokio::test]
async fn native_unifiedorder_returns_a_signed_prepay_id_and_code_url() {
    let w = start().await;
    let reply = w
        .native_order("NATIVE0001", "101", "http://127.0.0.1:1/notify")
        .await;
    assert_eq!(reply["appid"], APPID);
    assert_eq!(reply["mch_id"], MCH_ID);
    assert_eq!(reply["trade_type"], "NATIVE");
    assert!(reply["prepay_id"].starts_with("wx"), "{reply:?}");
    assert!(
        reply["code_url"].starts_with("weixin://wxpay/bizpayurl?pr="),
        "{reply:?}"
    );
    assert!(!reply["nonce_str"].is_empty());
    assert!(
        reply_signed(&reply, KEY, SignType::Md5),
        "reply signature: {reply:?}"
    );
    // A reply signed with another key would not verify: the check above is not vacuous.
    assert!(!reply_signed(
        &reply,
        "00000000000000000000000000000000",
        SignType::Md5
    ));
}

#[tokio::test]
async fn jsapi_unifiedorder_with_hmac_is_answered_in_hmac() {
    let w = start().await;
    let fields = [
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("nonce_str", "ibuaiVcKdpRxkhJA"),
        ("sign_type", "HMAC-SHA256"),
        ("body", "JSAPI order"),
        ("out_trade_no", "JSAPI0001"),
        ("total_fee", "1"),
        ("spbill_create_ip", "127.0.0.1"),
        ("notify_url", "http://127.0.0.1:1/notify"),
        ("trade_type", "JSAPI"),
        ("openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
    ];
    let reply = w.wx("pay/unifiedorder", &fields).await;
    assert_eq!(
        (reply["return_code"].as_str(), reply["result_code"].as_str()),
        ("SUCCESS", "SUCCESS"),
        "{reply:?}"
    );
    assert_eq!(reply["trade_type"], "JSAPI");
    assert!(reply.contains_key("prepay_id"));
    assert!(
        !reply.contains_key("code_url"),
        "only NATIVE gets a code_url: {reply:?}"
    );
    assert_eq!(
        reply["sign"].len(),
        64,
        "an HMAC-SHA256 sign is 64 hex characters"
    );
    assert!(reply_signed(&reply, KEY, SignType::HmacSha256), "{reply:?}");

    // JSAPI without openid, NATIVE without product_id: LACK_PARAMS, signed, nothing created.
    let mut no_openid: Vec<(&str, &str)> = fields
        .iter()
        .copied()
        .filter(|(k, _)| *k != "openid")
        .collect();
    no_openid.iter_mut().for_each(|f| {
        if f.0 == "out_trade_no" {
            f.1 = "JSAPI0002";
        }
    });
    let reply = w.wx("pay/unifiedorder", &no_openid).await;
    assert_eq!(reply["return_code"], "SUCCESS");
    assert_eq!(reply["result_code"], "FAIL");
    assert_eq!(reply["err_code"], "LACK_PARAMS");
    let mut no_product: Vec<(&str, &str)> =
        native_fields("NATIVE0002", "1", "http://127.0.0.1:1/notify");
    no_product.retain(|(k, _)| *k != "product_id");
    assert_eq!(
        w.wx("pay/unifiedorder", &no_product).await["err_code"],
        "LACK_PARAMS"
    );
    assert_eq!(w.query("JSAPI0002").await["err_code"], "ORDERNOTEXIST");
    assert_eq!(w.query("NATIVE0002").await["err_code"], "ORDERNOTEXIST");
}

#[tokio::test]
async fn identical_reentry_returns_the_same_prepay_id() {
    let w = start().await;
    let first = w
        .native_order("REENTRY001", "500", "http://127.0.0.1:1/notify")
        .await;
    let again = w
        .native_order("REENTRY001", "500", "http://127.0.0.1:1/notify")
        .await;
    assert_eq!(first["prepay_id"], again["prepay_id"]);
    assert_eq!(first["code_url"], again["code_url"]);
}

#[tokio::test]
async fn differing_reentry_is_invalid_request_and_another_trade_type_is_out_trade_no_used() {
    let w = start().await;
    w.native_order("REENTRY002", "500", "http://127.0.0.1:1/notify")
        .await;

    let reply = w
        .wx(
            "pay/unifiedorder",
            &native_fields("REENTRY002", "501", "http://127.0.0.1:1/notify"),
        )
        .await;
    assert_eq!(reply["return_code"], "SUCCESS");
    assert_eq!(reply["result_code"], "FAIL");
    assert_eq!(reply["err_code"], "INVALID_REQUEST", "{reply:?}");
    assert!(reply_signed(&reply, KEY, SignType::Md5));

    let jsapi = [
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("nonce_str", "n2"),
        ("body", "sandbank test order"),
        ("out_trade_no", "REENTRY002"),
        ("total_fee", "500"),
        ("spbill_create_ip", "127.0.0.1"),
        ("notify_url", "http://127.0.0.1:1/notify"),
        ("trade_type", "JSAPI"),
        ("openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
    ];
    let reply = w.wx("pay/unifiedorder", &jsapi).await;
    assert_eq!(reply["err_code"], "OUT_TRADE_NO_USED", "{reply:?}");

    // The order is as first created.
    let q = w.query("REENTRY002").await;
    assert_eq!(q["total_fee"], "500");
    assert_eq!(q["trade_state"], "NOTPAY");
}

// ---------------------------------------------------------------- orderquery and pay

#[tokio::test]
async fn orderquery_shows_notpay_then_success_after_the_customer_pays() {
    let w = start().await;
    let receiver = acking_receiver().await;
    w.native_order("QUERY00001", "101", &notify_url(&receiver))
        .await;

    let q = w.query("QUERY00001").await;
    assert_eq!(
        (q["return_code"].as_str(), q["result_code"].as_str()),
        ("SUCCESS", "SUCCESS"),
        "{q:?}"
    );
    assert_eq!(q["trade_state"], "NOTPAY");
    assert!(!q.contains_key("transaction_id"), "{q:?}");
    assert!(reply_signed(&q, KEY, SignType::Md5));

    let paid = w.pay("QUERY00001").await;
    assert_eq!(paid["trade_state"], "SUCCESS");
    assert_eq!(paid["amount"], "1.01");
    let txn = paid["transaction_id"].as_str().unwrap().to_string();
    assert!(txn.starts_with("4200"), "{txn}");

    let q = w.query("QUERY00001").await;
    assert_eq!(q["trade_state"], "SUCCESS", "{q:?}");
    assert_eq!(q["transaction_id"], txn);
    assert_eq!(q["total_fee"], "101");
    assert_eq!(q["cash_fee"], "101");
    assert_eq!(
        q["time_end"], "20260302100000",
        "paid at the world clock's 10:00 Beijing time"
    );
    assert!(!q["openid"].is_empty());
    assert!(reply_signed(&q, KEY, SignType::Md5));

    // By transaction_id too (it takes priority over out_trade_no).
    let q = w
        .wx(
            "pay/orderquery",
            &[
                ("appid", APPID),
                ("mch_id", MCH_ID),
                ("nonce_str", "q2"),
                ("transaction_id", &txn),
                ("out_trade_no", "NOSUCHORDER"),
            ],
        )
        .await;
    assert_eq!(q["out_trade_no"], "QUERY00001", "{q:?}");

    // The money is in the ledger: 1.01 in, a 0.01 fee (0.6 %, half away from zero) out.
    assert_eq!(w.balance(&merchant_account()).await, "1.00");
    assert_eq!(w.balance("channel:wxpay:fees").await, "0.01");

    // Paying twice is refused by the control API; the ledger does not move.
    let (status, _) = w
        .ctl_post(
            "channels/wxpay/orders/QUERY00001/pay",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(w.balance(&merchant_account()).await, "1.00");
}

#[tokio::test]
async fn orderquery_of_an_unknown_order_is_ordernotexist() {
    let w = start().await;
    let q = w.query("NEVERMADE01").await;
    assert_eq!(q["return_code"], "SUCCESS");
    assert_eq!(q["result_code"], "FAIL");
    assert_eq!(q["err_code"], "ORDERNOTEXIST");
    assert!(reply_signed(&q, KEY, SignType::Md5));
}

#[tokio::test]
async fn unifiedorder_after_payment_is_orderpaid() {
    let w = start().await;
    let receiver = acking_receiver().await;
    w.native_order("PAIDORDER1", "100", &notify_url(&receiver))
        .await;
    w.pay("PAIDORDER1").await;
    let reply = w
        .wx(
            "pay/unifiedorder",
            &native_fields("PAIDORDER1", "100", &notify_url(&receiver)),
        )
        .await;
    assert_eq!(reply["result_code"], "FAIL");
    assert_eq!(reply["err_code"], "ORDERPAID", "{reply:?}");
}

// ---------------------------------------------------------------- bad input

#[tokio::test]
async fn a_wrong_signature_is_signerror_and_leaves_the_ledger_alone() {
    let w = start().await;
    let receiver = acking_receiver().await;
    // Something in the ledger first, so "unchanged" compares non-trivial states.
    paid_and_notified(&w, &receiver, "SIGNBASE01", "100").await;
    let before = w.ledger().await;

    let body = wx_request(
        &native_fields("SIGNBAD001", "100", &notify_url(&receiver)),
        "ffffffffffffffffffffffffffffffff",
    );
    let r = w.wx_raw("pay/unifiedorder", body).await;
    assert_eq!(r.status, StatusCode::OK);
    let reply = xml_of(&r);
    assert_eq!(reply["return_code"], "FAIL", "{reply:?}");
    assert_eq!(reply["err_code"], "SIGNERROR", "{reply:?}");
    assert!(!reply.contains_key("prepay_id"));

    // A field changed after signing is caught the same way.
    let signed = wx_request(
        &native_fields("SIGNBAD002", "100", &notify_url(&receiver)),
        KEY,
    );
    let tampered = signed.replace("<total_fee>100</total_fee>", "<total_fee>1</total_fee>");
    assert_ne!(signed, tampered);
    assert_eq!(
        xml_of(&w.wx_raw("pay/unifiedorder", tampered).await)["err_code"],
        "SIGNERROR"
    );

    assert_eq!(w.ledger().await, before);
    assert_eq!(w.query("SIGNBAD001").await["err_code"], "ORDERNOTEXIST");
    assert_eq!(w.query("SIGNBAD002").await["err_code"], "ORDERNOTEXIST");
}

#[tokio::test]
async fn transport_level_errors_have_their_documented_codes() {
    let w = start().await;
    let fail = |r: &sandbank::http::ClientResponse, code: &str| {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let f = xml_of(r);
        assert_eq!(f["return_code"], "FAIL", "{f:?}");
        assert_eq!(f["err_code"], code, "{f:?}");
    };
    fail(
        &w.wx_raw("pay/unifiedorder", "<xml><appid>wx</appid>").await,
        "XML_FORMAT_ERROR",
    );
    fail(
        &w.wx_raw("pay/unifiedorder", "this is not xml").await,
        "XML_FORMAT_ERROR",
    );
    fail(&w.wx_raw("pay/unifiedorder", "").await, "POST_DATA_EMPTY");
    let get = sandbank::http::get(&w.url("wxpay/pay/orderquery"), REQUEST_TIMEOUT)
        .await
        .unwrap();
    fail(&get, "REQUIRE_POST_METHOD");

    let mut unknown = native_fields("UNKNOWNMCH1", "100", "http://127.0.0.1:1/notify");
    unknown[1] = ("mch_id", "99999999");
    fail(
        &w.wx_raw("pay/unifiedorder", wx_request(&unknown, KEY))
            .await,
        "MCHID_NOT_EXIST",
    );

    // A body over 1 MiB is refused before it is read.
    let huge = format!(
        "<xml><body><![CDATA[{}]]></body></xml>",
        "x".repeat(1 << 20)
    );
    let r = sandbank::http::post(
        &w.url("wxpay/pay/unifiedorder"),
        "text/xml",
        huge,
        REQUEST_TIMEOUT,
    )
    .await
    .expect("a reply, not a reset");
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

    // None of it reached the ledger.
    assert_eq!(
        w.ledger().await["postings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["kind"] != "opening")
            .count(),
        0
    );
}

// ---------------------------------------------------------------- notifications

#[tokio::test]
async fn an_acknowledged_notification_is_sent_once_and_verifies() {
    let w = start().await;
    let receiver = acking_receiver().await;
    let paid = paid_and_notified(&w, &receiver, "NOTIFY0001", "101").await;

    let got = received(&receiver).await;
    assert_eq!(got.len(), 1);
    let n = parse_notification(&got[0].body);
    assert_eq!(n["return_code"], "SUCCESS");
    assert_eq!(n["result_code"], "SUCCESS");
    assert_eq!(n["appid"], APPID);
    assert_eq!(n["mch_id"], MCH_ID);
    assert_eq!(n["out_trade_no"], "NOTIFY0001");
    assert_eq!(
        n["transaction_id"],
        paid["transaction_id"].as_str().unwrap()
    );
    assert_eq!(n["total_fee"], "101");
    assert_eq!(n["trade_type"], "NATIVE");
    assert_eq!(n["time_end"], "20260302100000");
    assert!(
        !n.contains_key("sign_type"),
        "an MD5 order's notification carries no sign_type: {n:?}"
    );

    // A full day later, still only the one.
    w.advance("25h").await;
    assert_eq!(received(&receiver).await.len(), 1);
    let log = w.journal("kind=callback&reference=NOTIFY0001").await;
    assert_eq!(log.len(), 1, "{log:#?}");
    assert!(log[0]["message"].as_str().unwrap().contains("acknowledged"));
    assert_eq!(log[0]["status"], 200);
}

#[tokio::test]
async fn an_hmac_order_gets_an_hmac_notification_that_does_not_say_so() {
    let w = start().await;
    let receiver = acking_receiver().await;
    let url = notify_url(&receiver);
    let mut fields = native_fields("NOTIFYHMAC", "1", &url);
    fields.push(("sign_type", "HMAC-SHA256"));
    assert_eq!(
        w.wx("pay/unifiedorder", &fields).await["result_code"],
        "SUCCESS"
    );
    w.pay("NOTIFYHMAC").await;
    w.settle().await;
    let got = received(&receiver).await;
    assert_eq!(got.len(), 1);
    let n = xml::parse(std::str::from_utf8(&got[0].body).unwrap()).unwrap();
    // As the real channel does (WxJava issues #1585, #1633): HMAC-SHA256, 64 hex digits,
    // and no sign_type field, so a verifier that defaults to MD5 rejects it.
    assert!(!n.contains_key("sign_type"), "{n:?}");
    assert_eq!(n["sign"].len(), 64, "{n:?}");
    assert_eq!(n["sign"], sign::sign(&n, KEY, sign::SignType::HmacSha256));
    assert!(
        !sign::verify(&n, KEY),
        "an MD5 verifier must not accept it: {n:?}"
    );
}

#[tokio::test]
async fn an_unacknowledged_notification_follows_the_documented_ladder_then_gives_up() {
    let w = start().await;
    let receiver = refusing_receiver().await;
    paid_and_notified(&w, &receiver, "LADDER0001", "101").await;
    assert_eq!(
        received(&receiver).await.len(),
        1,
        "attempt 1 goes out at once"
    );

    for (i, wait) in LADDER_SECS.iter().enumerate() {
        let attempt = i + 2;
        w.advance(&format!("{}s", wait - 1)).await;
        assert_eq!(
            received(&receiver).await.len(),
            attempt - 1,
            "attempt {attempt} must not come a second early"
        );
        w.advance("1s").await;
        assert_eq!(
            received(&receiver).await.len(),
            attempt,
            "attempt {attempt} is due {wait}s after the previous one"
        );
    }
    w.advance("7d").await;
    let got = received(&receiver).await;
    assert_eq!(got.len(), 16, "16 attempts in all");
    // Every attempt is the same payment, correctly signed.
    let txns: std::collections::HashSet<String> = got
        .iter()
        .map(|r| parse_notification(&r.body)["transaction_id"].clone())
        .collect();
    assert_eq!(txns.len(), 1);

    // The journal tells the same story on the world clock.
    let log = w.journal("kind=callback&reference=LADDER0001").await;
    let sent: Vec<&serde_json::Value> = log
        .iter()
        .filter(|e| {
            e["message"].as_str().unwrap().starts_with("attempt ") && e.get("status").is_some()
        })
        .collect();
    assert_eq!(sent.len(), 16, "{log:#?}");
    let at = |e: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap()
    };
    let gaps: Vec<i64> = sent
        .windows(2)
        .map(|p| (at(p[1]) - at(p[0])).num_seconds())
        .collect();
    assert_eq!(gaps, LADDER_SECS.to_vec());
    assert!(sent
        .iter()
        .all(|e| e["message"].as_str().unwrap().contains("not acknowledged")));
    let last = log.last().unwrap()["message"].as_str().unwrap();
    assert_eq!(last, "gave up after 16 attempts");
}

/// How a notification timeline moves the world clock.
#[derive(Debug, Clone, Copy)]
enum Move {
    /// Advance the clock by this much (`15s`, `2m14s`, …).
    Advance(&'static str),
    /// Let this many milliseconds of real time pass, then fire what is due: on a manual
    /// clock, nothing more is due.
    WallClockMillis(u64),
}

/// A fault rule on notifications, and what the merchant receives under it.
struct NotifyFaultCase {
    name: &'static str,
    order: &'static str,
    rule: serde_json::Value,
    /// Whether the merchant acknowledges notifications.
    acks: bool,
    /// How many notifications the merchant has received once the first attempt was due,
    /// and why.
    at_once: (usize, &'static str),
    /// After each move, how many notifications the merchant has received in all, and why.
    timeline: &'static [(Move, usize, &'static str)],
    /// A journal query (`reference=<order>` is added), and what its entries must satisfy.
    journal: (&'static str, fn(&[serde_json::Value]) -> bool),
}

/// Under `case.rule`, an order is paid and the clock moved along `case.timeline`; every
/// notification that arrives is the paid transaction, correctly signed.
async fn run_notify_fault_case(case: &NotifyFaultCase) {
    let name = case.name;
    let w = start().await;
    let receiver = if case.acks {
        acking_receiver().await
    } else {
        refusing_receiver().await
    };
    w.add_fault(case.rule.clone()).await;
    let paid = paid_and_notified(&w, &receiver, case.order, "300").await;
    let (at_once, why) = case.at_once;
    assert_eq!(
        received(&receiver).await.len(),
        at_once,
        "{name}: once the first attempt was due: {why}"
    );
    for (step, total, why) in case.timeline {
        match step {
            Move::Advance(by) => {
                w.advance(by).await;
            }
            Move::WallClockMillis(ms) => {
                tokio::time::sleep(std::time::Duration::from_millis(*ms)).await;
                w.settle().await;
            }
        }
        assert_eq!(
            received(&receiver).await.len(),
            *total,
            "{name}: after {step:?}: {why}"
        );
    }
    for r in received(&receiver).await {
        let n = parse_notification(&r.body);
        assert_eq!(
            n["transaction_id"],
            paid["transaction_id"].as_str().unwrap(),
            "{name}"
        );
    }
    let (query, holds) = case.journal;
    let log = w
        .journal(&format!("{query}&reference={}", case.order))
        .await;
    assert!(holds(&log), "{name}: journal {query}: {log:#?}");
}

#[tokio::test]
async fn notification_fault_actions_shape_what_the_merchant_receives() {
    let cases = [
        NotifyFaultCase {
            name: "duplicate: the notification and 2 copies, acknowledged, so nothing follows",
            order: "DUPLICATE1",
            rule: serde_json::json!({"target": "wxpay", "op": "notify", "action": "duplicate", "count": 2}),
            acks: true,
            at_once: (3, "the notification and 2 duplicates"),
            timeline: &[(Move::Advance("25h"), 3, "acknowledged, so nothing follows")],
            journal: ("kind=fault", |log| log.len() == 1),
        },
        NotifyFaultCase {
            name: "drop: attempt 1 is dropped, attempt 2 comes 15s later and is acknowledged",
            order: "DROPPED001",
            rule: serde_json::json!({"target": "wxpay", "op": "notify", "action": "drop", "times": 1}),
            acks: true,
            at_once: (0, "attempt 1 was dropped"),
            timeline: &[
                (Move::Advance("14s"), 0, "attempt 2 is not due yet"),
                (Move::Advance("1s"), 1, "attempt 2 comes 15s later"),
                (Move::Advance("25h"), 1, "and is acknowledged"),
            ],
            journal: ("kind=callback", |log| {
                log.first()
                    .and_then(|e| e["message"].as_str())
                    .is_some_and(|m| m.contains("not sent (dropped)"))
            }),
        },
        NotifyFaultCase {
            name: "delay: the notification waits 2m on the world clock, not on real time",
            order: "DELAYED001",
            rule: serde_json::json!({"target": "wxpay", "op": "notify", "action": "delay", "delay": "2m", "times": 1}),
            acks: true,
            at_once: (0, "delayed by 2m"),
            timeline: &[
                (
                    Move::WallClockMillis(300),
                    0,
                    "the delay is on the world clock",
                ),
                (Move::Advance("119s"), 0, "a second early"),
                (Move::Advance("1s"), 1, "2m late"),
            ],
            journal: ("kind=callback", |log| {
                log.last()
                    .and_then(|e| e["at"].as_str())
                    .is_some_and(|at| at.starts_with("2026-03-02T02:02:00"))
            }),
        },
    ];
    for case in &cases {
        run_notify_fault_case(case).await;
    }
}

// ---------------------------------------------------------------- downloadbill

fn bill_request(date: &str, tar_type: Option<&str>) -> String {
    let mut f = vec![
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("nonce_str", "bill1"),
        ("bill_date", date),
        ("bill_type", "ALL"),
    ];
    if let Some(t) = tar_type {
        f.push(("tar_type", t));
    }
    wx_request(&f, KEY)
}

#[tokio::test]
async fn the_bill_exists_from_nine_the_next_morning() {
    let w = start().await;
    let receiver = acking_receiver().await;
    w.native_order("BILLORDER1", "101", &notify_url(&receiver))
        .await;
    let paid = w.pay("BILLORDER1").await;
    let txn = paid["transaction_id"].as_str().unwrap();

    // Before 09:00 the next day: the bill is being generated (not "no trades").
    let (status, _) = w
        .ctl_post("clock", serde_json::json!({"to": "2026-03-03 08:59:59"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let r = w
        .wx_raw("pay/downloadbill", bill_request("20260302", None))
        .await;
    let f = xml_of(&r);
    assert_eq!(f["return_code"], "FAIL");
    assert_eq!(f["return_msg"], "Bill Creating");
    assert_eq!(f["error_code"], "20003");

    // From 09:00: the text bill.
    w.advance("1s").await;
    let r = w
        .wx_raw("pay/downloadbill", bill_request("20260302", None))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    assert!(!text.starts_with("<xml>"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        4,
        "header, one row, summary header, summary: {text}"
    );
    assert_eq!(lines[0], BILL_HEADER);
    let row: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(row.len(), 27, "{}", lines[1]);
    assert!(
        row.iter().all(|f| f.starts_with('`')),
        "every detail field is backticked: {}",
        lines[1]
    );
    let row: Vec<&str> = row.iter().map(|f| &f[1..]).collect();
    assert_eq!(row[0], "2026-03-02 10:00:00");
    assert_eq!(row[1], APPID);
    assert_eq!(row[2], MCH_ID);
    assert_eq!(row[5], txn);
    assert_eq!(row[6], "BILLORDER1");
    assert_eq!(row[8], "NATIVE");
    assert_eq!(row[9], "SUCCESS");
    assert_eq!(row[12], "1.01", "amounts in yuan");
    assert_eq!(row[22], "0.01000", "the fee with 5 decimals");
    assert_eq!(row[23], "0.60%");
    assert_eq!(row[26], "", "the trailing empty 费率备注");
    assert_eq!(lines[2], "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额");
    assert_eq!(lines[3], "`1,`1.01,`0.00,`0.00,`0.01000,`1.01,`0.00");

    // GZIP: the same bytes, compressed.
    let r = w
        .wx_raw("pay/downloadbill", bill_request("20260302", Some("GZIP")))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_string(&mut unzipped)
        .expect("a gzip body");
    assert_eq!(unzipped, text);

    // A day without trades has no bill.
    let f = xml_of(
        &w.wx_raw("pay/downloadbill", bill_request("20260301", None))
            .await,
    );
    assert_eq!(f["return_msg"], "No Bill Exist");
    assert_eq!(f["error_code"], "20002");
}

/// Regression: a `delay` rule on callbacks without `times` held the delayed attempt back
/// again each time it came due, so the notification was never sent at all.
#[tokio::test]
async fn regression_a_delayed_notification_is_not_delayed_again_forever() {
    run_notify_fault_case(&NotifyFaultCase {
        name: "delay without times: every attempt 2m late, none held back for ever",
        order: "DELAYEVERY",
        rule: serde_json::json!({"target": "wxpay", "op": "notify", "action": "delay", "delay": "2m"}),
        acks: false,
        at_once: (0, "attempt 1 is delayed by 2m"),
        timeline: &[
            (Move::Advance("119s"), 0, "attempt 1 is not due yet"),
            (Move::Advance("1s"), 1, "attempt 1, 2m late"),
            // Attempt 2 is due 15s later, and is itself delayed by 2m.
            (Move::Advance("2m14s"), 1, "attempt 2 is not due yet"),
            (Move::Advance("1s"), 2, "attempt 2, 2m late"),
        ],
        journal: ("kind=callback", |log| {
            let sent = log.iter().filter_map(|e| e["message"].as_str()).filter(|m| {
                m.starts_with("attempt ") && m.ends_with(": not acknowledged")
            });
            sent.count() == 2
        }),
    })
    .await;
}

/// Regression: the journal's "attempt N scheduled" and "gave up" entries carried the
/// channel's internal key (`mch_id/out_trade_no`) as their reference instead of the order
/// number, so a timeline selected by order number lost them.
#[tokio::test]
async fn regression_every_callback_entry_names_the_order_number() {
    let w = start().await;
    let receiver = refusing_receiver().await;
    paid_and_notified(&w, &receiver, "REFERENCE1", "300").await;
    w.advance("25h").await;
    let log = w.journal("kind=callback").await;
    assert_eq!(received(&receiver).await.len(), 16);
    assert_eq!(
        log.len(),
        16 + 15 + 1,
        "16 attempts, 15 retries scheduled, 1 gave up: {log:#?}"
    );
    for e in &log {
        assert_eq!(e["reference"], "REFERENCE1", "{e:#}");
    }
}
