//! The Alipay gateway fake on the wire: signed requests over real sockets on 127.0.0.1 in
//! both shapes (GET, and POST with a form body, in utf-8 and GBK), responses and
//! notifications checked the way the SDKs check them (the signed text cut out of the body,
//! the notification's fields without `sign` and `sign_type`), time moved by the control API.

use crate::common::*;
use bytes::Bytes;
use hyper::{Method, StatusCode};
use sandbank::channels::alipay::codec::Charset;
use sandbank::channels::alipay::keys::{self, PrivateKey, PublicKey};
use sandbank::http::{self, ClientResponse};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Read;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP_ID: &str = "2021000000000001";
const PID: &str = "2088000000000001";
const MERCHANT_ACCOUNT: &str = "channel:alipay:merchant:2088000000000001";

/// The waits between notification attempts Alipay documents (docs/protocols.md, B.5).
const LADDER_SECS: [i64; 7] = [240, 600, 600, 3600, 7200, 21600, 54000];

/// A world with the default world's Alipay channel (the shipped TEST keys) on a manual
/// clock from Monday 2026-03-02 10:00 Beijing time.
const WORLD: &str = r#"
[world]
name = "alipay-wire"
seed = 7
clock = "manual"
start = "2026-03-02 10:00"

[[channels]]
id = "alipay"
kind = "alipay-gateway"
fee_rate = "0.006"
barcode_password_above = "1000.00"

[[channels.apps]]
app_id = "2021000000000001"
pid = "2088000000000001"
"#;

async fn world() -> TestWorld {
    start_toml(WORLD).await
}

fn app_key() -> PrivateKey {
    PrivateKey::parse(keys::TEST_APP_PRIVATE_KEY).expect("the shipped app key")
}

fn alipay_public() -> PublicKey {
    PublicKey::parse(include_str!("../../scenarios/keys/alipay_public_key.pem"))
        .expect("the shipped Alipay public key")
}

/// Percent-encode `bytes` as a form value (everything but unreserved characters).
fn enc(bytes: &[u8]) -> String {
    let mut out = String::new();
    for b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(b) {
            out.push(char::from(*b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The common parameters of a call to `method` with `biz`, signed with `key` in `charset`
/// (what an SDK sends), `tweak` applied to the parameters before signing.
fn signed_params(
    method: &str,
    biz: &Value,
    charset: Charset,
    key: &PrivateKey,
    tweak: impl FnOnce(&mut BTreeMap<String, String>),
) -> BTreeMap<String, String> {
    let mut p: BTreeMap<String, String> = BTreeMap::new();
    p.insert("app_id".into(), APP_ID.into());
    p.insert("method".into(), method.into());
    p.insert("format".into(), "JSON".into());
    p.insert("charset".into(), charset.as_str().into());
    p.insert("sign_type".into(), "RSA2".into());
    p.insert("timestamp".into(), "2026-03-02 10:00:00".into());
    p.insert("version".into(), "1.0".into());
    p.insert("biz_content".into(), biz.to_string());
    tweak(&mut p);
    let content: Vec<String> = p
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let sign = key.sign(&charset.encode(&content.join("&")));
    p.insert("sign".into(), sign);
    p
}

fn query_of(p: &BTreeMap<String, String>, charset: Charset, keys: impl Fn(&str) -> bool) -> String {
    p.iter()
        .filter(|(k, _)| keys(k))
        .map(|(k, v)| format!("{k}={}", enc(&charset.encode(v))))
        .collect::<Vec<_>>()
        .join("&")
}

/// What came back: the status, the inner response object, and whether its sign verifies.
struct Answer {
    status: StatusCode,
    content_type: String,
    body: Bytes,
    inner: Value,
    signed: bool,
}

impl Answer {
    fn code(&self) -> &str {
        self.inner["code"].as_str().unwrap_or_default()
    }
    fn sub_code(&self) -> &str {
        self.inner["sub_code"].as_str().unwrap_or_default()
    }
}

/// Cut the signed text out of `body` as the Node SDK does (from the response key to the
/// last `"sign"`, trimmed to the braces) and check it with the Alipay public key.
fn read_answer(r: ClientResponse, key: &str) -> Answer {
    let body = r.body.clone();
    let needle = format!("\"{key}\":");
    let text = &body[..];
    let start = find(text, needle.as_bytes()).map(|i| i + needle.len());
    let end = rfind(text, b",\"sign\":\"");
    let (inner_bytes, sign) = match (start, end) {
        (Some(s), Some(e)) if s < e => {
            let sign_start = e + b",\"sign\":\"".len();
            let sign_end = text.len() - 2;
            (
                &text[s..e],
                String::from_utf8_lossy(&text[sign_start..sign_end]).into_owned(),
            )
        }
        _ => (&text[..0], String::new()),
    };
    let signed = !sign.is_empty() && alipay_public().verify(inner_bytes, &sign);
    let charset = if r
        .headers
        .get("content-type")
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.contains("GBK"))
    {
        Charset::Gbk
    } else {
        Charset::Utf8
    };
    let inner = charset
        .decode(inner_bytes)
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    Answer {
        status: r.status,
        content_type: r
            .headers
            .get("content-type")
            .and_then(|c| c.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        body,
        inner,
        signed,
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn rfind(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).rposition(|w| w == n)
}

fn response_key(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// GET `gateway.do` with every parameter in the query string (python-alipay-sdk's shape).
async fn get_call(w: &TestWorld, p: &BTreeMap<String, String>, method: &str) -> Answer {
    let url = format!(
        "{}?{}",
        w.url("alipay/gateway.do"),
        query_of(p, Charset::Utf8, |_| true)
    );
    let r = http::get(&url, REQUEST_TIMEOUT)
        .await
        .expect("gateway answers");
    read_answer(r, &response_key(method))
}

/// POST `gateway.do`: the common parameters in the query string, `biz_content` in a form
/// body (the Node and Java SDKs' shape), in `charset`.
async fn post_call(
    w: &TestWorld,
    p: &BTreeMap<String, String>,
    method: &str,
    charset: Charset,
) -> Answer {
    let url = format!(
        "{}?{}",
        w.url("alipay/gateway.do"),
        query_of(p, charset, |k| k != "biz_content")
    );
    let body = query_of(p, charset, |k| k == "biz_content");
    let ct = format!(
        "application/x-www-form-urlencoded;charset={}",
        charset.as_str()
    );
    let r = http::send(
        Method::POST,
        &url,
        &[("content-type", &ct)],
        Bytes::from(body),
        REQUEST_TIMEOUT,
    )
    .await
    .expect("gateway answers");
    read_answer(r, &response_key(method))
}

/// A correctly signed GET call.
async fn call(w: &TestWorld, method: &str, biz: Value) -> Answer {
    let p = signed_params(method, &biz, Charset::Utf8, &app_key(), |_| {});
    get_call(w, &p, method).await
}

/// A correctly signed GET call naming `notify_url`.
async fn call_notifying(w: &TestWorld, method: &str, biz: Value, notify_url: &str) -> Answer {
    let p = signed_params(method, &biz, Charset::Utf8, &app_key(), |p| {
        p.insert("notify_url".into(), notify_url.into());
    });
    get_call(w, &p, method).await
}

async fn ctl_pay(w: &TestWorld, no: &str) -> (StatusCode, Value) {
    w.ctl_post(&format!("channels/alipay/orders/{no}/pay"), json!({}))
        .await
}

/// The postings of the world other than opening balances.
async fn movements(w: &TestWorld) -> Vec<Value> {
    w.ledger().await["postings"]
        .as_array()
        .expect("postings")
        .iter()
        .filter(|p| p["kind"] != "opening")
        .cloned()
        .collect()
}

/// A merchant's notify endpoint answering `body` to every notification.
async fn receiver(body: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/notify"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(&server)
        .await;
    server
}

async fn received(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.expect("recording is on")
}

/// A notification's fields, form-decoded in `charset`.
fn form_fields(body: &[u8], charset: Charset) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for piece in body.split(|b| *b == b'&') {
        let mut kv = piece.splitn(2, |b| *b == b'=');
        let k = String::from_utf8(kv.next().unwrap_or_default().to_vec()).expect("ascii name");
        let raw = kv.next().unwrap_or_default();
        let mut bytes = Vec::new();
        let mut i = 0;
        while i < raw.len() {
            match raw[i] {
                b'+' => bytes.push(b' '),
                b'%' => {
                    let h = std::str::from_utf8(&raw[i + 1..i + 3]).expect("hex");
                    bytes.push(u8::from_str_radix(h, 16).expect("hex"));
                    i += 2;
                }
                b => bytes.push(b),
            }
            i += 1;
        }
        out.insert(k, charset.decode(&bytes).expect("charset"));
    }
    out
}

/// True when `fields` carry a valid Alipay signature, checked as the SDKs check
/// notifications: every field but `sign` and `sign_type`, sorted, `k=v&…`.
fn notification_verifies(fields: &BTreeMap<String, String>, charset: Charset) -> bool {
    let content: Vec<String> = fields
        .iter()
        .filter(|(k, _)| *k != "sign" && *k != "sign_type")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    alipay_public().verify(&charset.encode(&content.join("&")), &fields["sign"])
}

fn trade(no: &str, amount: &str) -> Value {
    json!({"out_trade_no": no, "total_amount": amount, "subject": "sandbank 测试"})
}

fn barcode(no: &str, amount: &str) -> Value {
    json!({"out_trade_no": no, "total_amount": amount, "subject": "barcode",
           "scene": "bar_code", "auth_code": "287634438256643941"})
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn precreate_then_scan_and_pay_then_query_and_notification() {
    let w = world().await;
    let merchant = receiver("success").await;
    let url = format!("{}/notify", merchant.uri());

    let a = call_notifying(
        &w,
        "alipay.trade.precreate",
        trade("ALI0001", "88.88"),
        &url,
    )
    .await;
    assert!(
        a.signed,
        "the response sign verifies: {}",
        String::from_utf8_lossy(&a.body)
    );
    assert_eq!((a.status, a.code()), (StatusCode::OK, "10000"));
    assert_eq!(a.inner["msg"], "Success");
    assert_eq!(a.inner["out_trade_no"], "ALI0001");
    assert!(a.inner["qr_code"]
        .as_str()
        .unwrap()
        .starts_with("https://qr.alipay.com/"));
    assert!(
        a.content_type.starts_with("application/json"),
        "{}",
        a.content_type
    );

    // Alipay knows a precreated trade only once the buyer scans it.
    let q = call(&w, "alipay.trade.query", json!({"out_trade_no": "ALI0001"})).await;
    assert!(q.signed);
    assert_eq!((q.code(), q.sub_code()), ("40004", "ACQ.TRADE_NOT_EXIST"));

    let (status, paid) = ctl_pay(&w, "ALI0001").await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    w.settle().await;

    let q = call(&w, "alipay.trade.query", json!({"out_trade_no": "ALI0001"})).await;
    assert!(q.signed);
    assert_eq!(q.code(), "10000");
    assert_eq!(q.inner["trade_status"], "TRADE_SUCCESS");
    assert_eq!(q.inner["total_amount"], "88.88");
    assert_eq!(q.inner["trade_no"], paid["trade_no"]);
    // The trade number finds it too, and wins over the order number.
    let q2 = call(
        &w,
        "alipay.trade.query",
        json!({"trade_no": paid["trade_no"], "out_trade_no": "NOPE"}),
    )
    .await;
    assert_eq!(q2.inner["out_trade_no"], "ALI0001");

    // The payment moved: 88.88 in, the 0.53 fee out (0.6 %, rounded half away from zero).
    assert_eq!(w.balance(MERCHANT_ACCOUNT).await, "88.35");

    let got = received(&merchant).await;
    assert_eq!(got.len(), 1);
    let n = &got[0];
    assert!(n
        .headers
        .get("content-type")
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")));
    let f = form_fields(&n.body, Charset::Utf8);
    assert!(notification_verifies(&f, Charset::Utf8), "{f:?}");
    assert_eq!(f["trade_status"], "TRADE_SUCCESS");
    assert_eq!(f["notify_type"], "trade_status_sync");
    assert_eq!(f["out_trade_no"], "ALI0001");
    assert_eq!(f["total_amount"], "88.88");
    assert_eq!(f["app_id"], APP_ID);
    assert_eq!(f["seller_id"], PID);
    assert_eq!(f["subject"], "sandbank 测试");
    assert_eq!(f["sign_type"], "RSA2");
    // Acknowledged with `success`: nothing more a day later.
    w.advance("25h").await;
    assert_eq!(received(&merchant).await.len(), 1);
}

#[tokio::test]
async fn post_shape_in_gbk_is_read_signed_and_answered_in_gbk() {
    let w = world().await;
    let p = signed_params(
        "alipay.trade.precreate",
        &trade("GBK0001", "1.00"),
        Charset::Gbk,
        &app_key(),
        |_| {},
    );
    let a = post_call(&w, &p, "alipay.trade.precreate", Charset::Gbk).await;
    assert!(
        a.signed,
        "the sign covers the GBK bytes: {}",
        String::from_utf8_lossy(&a.body)
    );
    assert_eq!(a.code(), "10000");
    assert!(a.content_type.contains("charset=GBK"), "{}", a.content_type);
    assert_eq!(
        w.ctl_get("channels/alipay/orders/GBK0001").await.1["subject"],
        "sandbank 测试"
    );

    // Signed over the utf-8 bytes but sent (and declared) as GBK: the signature is over the
    // request's charset, so it does not verify.
    let p = signed_params(
        "alipay.trade.precreate",
        &trade("GBK0002", "1.00"),
        Charset::Utf8,
        &app_key(),
        |p| {
            p.insert("charset".into(), "GBK".into());
        },
    );
    let a = post_call(&w, &p, "alipay.trade.precreate", Charset::Gbk).await;
    assert_eq!((a.code(), a.sub_code()), ("40002", "isv.invalid-signature"));
    // GBK bytes declared as utf-8 cannot be read at all.
    let p = signed_params(
        "alipay.trade.precreate",
        &trade("GBK0003", "1.00"),
        Charset::Gbk,
        &app_key(),
        |p| {
            p.insert("charset".into(), "utf-8".into());
        },
    );
    let url = format!(
        "{}?{}",
        w.url("alipay/gateway.do"),
        query_of(&p, Charset::Gbk, |_| true)
    );
    let a = read_answer(
        http::get(&url, REQUEST_TIMEOUT).await.unwrap(),
        "error_response",
    );
    assert_eq!((a.code(), a.sub_code()), ("40002", "isv.invalid-charset"));

    // utf-8 over POST.
    let p = signed_params(
        "alipay.trade.precreate",
        &trade("UTF0001", "1.00"),
        Charset::Utf8,
        &app_key(),
        |_| {},
    );
    let a = post_call(&w, &p, "alipay.trade.precreate", Charset::Utf8).await;
    assert!(a.signed);
    assert_eq!(a.code(), "10000");
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_moves_no_money() {
    let w = world().await;
    let wrong =
        PrivateKey::parse(include_str!("../../scenarios/keys/alipay_private_key.pem")).unwrap();
    let p = signed_params(
        "alipay.trade.pay",
        &barcode("BAD0001", "5.00"),
        Charset::Utf8,
        &wrong,
        |_| {},
    );
    let a = get_call(&w, &p, "alipay.trade.pay").await;
    assert!(a.signed, "even a refusal is signed");
    assert_eq!((a.code(), a.sub_code()), ("40002", "isv.invalid-signature"));
    assert_eq!(a.inner["msg"], "Invalid Arguments");
    assert!(a.inner["sub_msg"]
        .as_str()
        .unwrap()
        .contains("method=alipay.trade.pay"));

    // A parameter changed after signing is the same refusal.
    let mut p = signed_params(
        "alipay.trade.pay",
        &barcode("BAD0002", "5.00"),
        Charset::Utf8,
        &app_key(),
        |_| {},
    );
    p.insert("biz_content".into(), barcode("BAD0002", "0.01").to_string());
    let a = get_call(&w, &p, "alipay.trade.pay").await;
    assert_eq!(a.sub_code(), "isv.invalid-signature");

    assert!(movements(&w).await.is_empty(), "the ledger is untouched");
    let q = call(&w, "alipay.trade.query", json!({"out_trade_no": "BAD0001"})).await;
    assert_eq!(q.sub_code(), "ACQ.TRADE_NOT_EXIST");
    // Journalled under the method, refused.
    let j = w.journal("instance=alipay&kind=inbound").await;
    assert!(j.iter().any(|e| e["op"] == "alipay.trade.pay"), "{j:?}");
}

#[tokio::test]
async fn gateway_errors_name_what_is_wrong() {
    let w = world().await;
    // Wrong app id.
    let p = signed_params(
        "alipay.trade.query",
        &json!({"out_trade_no": "X1"}),
        Charset::Utf8,
        &app_key(),
        |p| {
            p.insert("app_id".into(), "2021999999999999".into());
        },
    );
    let a = get_call(&w, &p, "alipay.trade.query").await;
    assert_eq!((a.code(), a.sub_code()), ("40002", "isv.invalid-app-id"));
    // Missing app id, timestamp, sign type; bad timestamp; RSA (not RSA2).
    for (field, value, code, sub) in [
        ("app_id", "", "40001", "isv.missing-app-id"),
        ("timestamp", "", "40001", "isv.missing-timestamp"),
        ("sign_type", "", "40001", "isv.missing-signature-type"),
        ("version", "", "40001", "isv.missing-version"),
        ("timestamp", "yesterday", "40002", "isv.invalid-timestamp"),
        ("sign_type", "RSA", "40002", "isv.invalid-signature-type"),
        ("charset", "latin-9", "40002", "isv.invalid-charset"),
    ] {
        let p = signed_params(
            "alipay.trade.query",
            &json!({"out_trade_no": "X1"}),
            Charset::Utf8,
            &app_key(),
            |p| {
                p.insert(field.into(), value.into());
            },
        );
        // A charset the gateway cannot read is refused before the method is looked at.
        let key = if field == "charset" {
            "error_response"
        } else {
            "alipay_trade_query_response"
        };
        let url = format!(
            "{}?{}",
            w.url("alipay/gateway.do"),
            query_of(&p, Charset::Utf8, |_| true)
        );
        let a = read_answer(http::get(&url, REQUEST_TIMEOUT).await.unwrap(), key);
        assert_eq!((a.code(), a.sub_code()), (code, sub), "{field}={value}");
        assert!(a.signed, "{field}={value}");
    }
    // Missing sign.
    let mut p = signed_params(
        "alipay.trade.query",
        &json!({"out_trade_no": "X1"}),
        Charset::Utf8,
        &app_key(),
        |_| {},
    );
    p.remove("sign");
    let a = get_call(&w, &p, "alipay.trade.query").await;
    assert_eq!((a.code(), a.sub_code()), ("40001", "isv.missing-signature"));
    // No method, an unknown method: `error_response`.
    let mut p = signed_params(
        "alipay.trade.query",
        &json!({}),
        Charset::Utf8,
        &app_key(),
        |_| {},
    );
    p.remove("method");
    let url = format!(
        "{}?{}",
        w.url("alipay/gateway.do"),
        query_of(&p, Charset::Utf8, |_| true)
    );
    let a = read_answer(
        http::get(&url, REQUEST_TIMEOUT).await.unwrap(),
        "error_response",
    );
    assert_eq!((a.code(), a.sub_code()), ("40001", "isv.missing-method"));
    let p = signed_params(
        "alipay.trade.nope",
        &json!({}),
        Charset::Utf8,
        &app_key(),
        |_| {},
    );
    let url = format!(
        "{}?{}",
        w.url("alipay/gateway.do"),
        query_of(&p, Charset::Utf8, |_| true)
    );
    let a = read_answer(
        http::get(&url, REQUEST_TIMEOUT).await.unwrap(),
        "error_response",
    );
    assert_eq!((a.code(), a.sub_code()), ("40002", "isv.invalid-method"));
    assert!(a.signed);
    // Malformed biz_content.
    let p = signed_params(
        "alipay.trade.query",
        &json!({}),
        Charset::Utf8,
        &app_key(),
        |p| {
            p.insert("biz_content".into(), "{\"out_trade_no\":".into());
        },
    );
    let a = get_call(&w, &p, "alipay.trade.query").await;
    assert_eq!((a.code(), a.sub_code()), ("40002", "isv.invalid-parameter"));
    // A parameter given in the query and in the body.
    let p = signed_params(
        "alipay.trade.query",
        &json!({"out_trade_no": "X1"}),
        Charset::Utf8,
        &app_key(),
        |_| {},
    );
    let url = format!(
        "{}?{}",
        w.url("alipay/gateway.do"),
        query_of(&p, Charset::Utf8, |_| true)
    );
    let r = http::post(
        &url,
        "application/x-www-form-urlencoded",
        format!("method={}", "alipay.trade.query"),
        REQUEST_TIMEOUT,
    )
    .await
    .unwrap();
    let a = read_answer(r, "error_response");
    assert_eq!(a.sub_code(), "isv.invalid-parameter");
    // Another path under the mount is no API at all.
    let r = http::get(&w.url("alipay/openapi.do"), REQUEST_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(movements(&w).await.is_empty());
}

#[tokio::test]
async fn business_errors_of_the_trade_methods() {
    let w = world().await;
    let a = call(
        &w,
        "alipay.trade.query",
        json!({"out_trade_no": "UNKNOWN1"}),
    )
    .await;
    assert_eq!(
        (a.code(), a.sub_code(), a.inner["sub_msg"].as_str()),
        ("40004", "ACQ.TRADE_NOT_EXIST", Some("交易不存在"))
    );
    let a = call(&w, "alipay.trade.query", json!({})).await;
    assert_eq!(a.sub_code(), "ACQ.INVALID_PARAMETER");
    for biz in [
        json!({"out_trade_no": "P1", "subject": "s"}),
        json!({"out_trade_no": "P1", "subject": "s", "total_amount": "0"}),
        json!({"out_trade_no": "P1", "subject": "s", "total_amount": "1.001"}),
        json!({"out_trade_no": "P1", "subject": "s", "total_amount": "-1"}),
        json!({"out_trade_no": "has space", "subject": "s", "total_amount": "1"}),
        json!({"out_trade_no": "P1", "total_amount": "1"}),
    ] {
        let a = call(&w, "alipay.trade.precreate", biz.clone()).await;
        assert_eq!(
            (a.code(), a.sub_code()),
            ("40004", "ACQ.INVALID_PARAMETER"),
            "{biz}"
        );
    }
    let a = call(&w, "alipay.trade.precreate", trade("BIG1", "100000000.01")).await;
    assert_eq!(a.sub_code(), "ACQ.TOTAL_FEE_EXCEED");

    // Re-entry: the same trade answers the same QR code; changed, it is refused; paid, too.
    let first = call(&w, "alipay.trade.precreate", trade("REENTRY1", "3.00")).await;
    let again = call(&w, "alipay.trade.precreate", trade("REENTRY1", "3.00")).await;
    assert_eq!(first.inner["qr_code"], again.inner["qr_code"]);
    let changed = call(&w, "alipay.trade.precreate", trade("REENTRY1", "4.00")).await;
    assert_eq!(changed.sub_code(), "ACQ.CONTEXT_INCONSISTENT");
    ctl_pay(&w, "REENTRY1").await;
    let paid = call(&w, "alipay.trade.precreate", trade("REENTRY1", "3.00")).await;
    assert_eq!(paid.sub_code(), "ACQ.TRADE_HAS_SUCCESS");
    // The control API pays a trade once.
    let (status, _) = ctl_pay(&w, "REENTRY1").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = ctl_pay(&w, "NOSUCH1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn barcode_pays_at_once_or_waits_for_the_password() {
    let w = world().await;
    let a = call(&w, "alipay.trade.pay", barcode("BAR0001", "12.00")).await;
    assert!(a.signed);
    assert_eq!(a.code(), "10000");
    assert_eq!(a.inner["total_amount"], "12.00");
    assert_eq!(
        a.inner["fund_bill_list"][0]["fund_channel"],
        "ALIPAYACCOUNT"
    );
    assert!(a.inner["gmt_payment"].as_str().is_some());
    let q = call(&w, "alipay.trade.query", json!({"out_trade_no": "BAR0001"})).await;
    assert_eq!(q.inner["trade_status"], "TRADE_SUCCESS");

    // Above the password threshold: 10003, then the buyer confirms.
    let a = call(&w, "alipay.trade.pay", barcode("BAR0002", "1500.00")).await;
    assert_eq!(
        (a.code(), a.inner["msg"].as_str()),
        ("10003", Some("order success pay inprocess"))
    );
    let q = call(&w, "alipay.trade.query", json!({"out_trade_no": "BAR0002"})).await;
    assert_eq!(q.inner["trade_status"], "WAIT_BUYER_PAY");
    assert_eq!(
        w.balance(MERCHANT_ACCOUNT).await,
        "11.93",
        "only the first payment moved"
    );
    ctl_pay(&w, "BAR0002").await;
    let q = call(&w, "alipay.trade.query", json!({"out_trade_no": "BAR0002"})).await;
    assert_eq!(q.inner["trade_status"], "TRADE_SUCCESS");
    // Asked again, the paid trade answers as paid.
    let a = call(&w, "alipay.trade.pay", barcode("BAR0002", "1500.00")).await;
    assert_eq!(a.code(), "10000");

    let mut bad = barcode("BAR0003", "1.00");
    bad["auth_code"] = "123".into();
    let a = call(&w, "alipay.trade.pay", bad).await;
    assert_eq!(a.sub_code(), "ACQ.PAYMENT_AUTH_CODE_INVALID");
    let mut bad = barcode("BAR0004", "1.00");
    bad["scene"] = "face".into();
    let a = call(&w, "alipay.trade.pay", bad).await;
    assert_eq!(a.sub_code(), "ACQ.INVALID_PARAMETER");
}

#[tokio::test]
async fn close_and_cancel() {
    let w = world().await;
    call(&w, "alipay.trade.pay", barcode("CLS0001", "2000.00")).await;
    let a = call(&w, "alipay.trade.close", json!({"out_trade_no": "CLS0001"})).await;
    assert!(a.signed);
    assert_eq!(a.code(), "10000");
    assert_eq!(a.inner["out_trade_no"], "CLS0001");
    let q = call(&w, "alipay.trade.query", json!({"out_trade_no": "CLS0001"})).await;
    assert_eq!(q.inner["trade_status"], "TRADE_CLOSED");
    let (status, _) = ctl_pay(&w, "CLS0001").await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a closed trade cannot be paid"
    );
    let again = call(&w, "alipay.trade.close", json!({"out_trade_no": "CLS0001"})).await;
    assert_eq!(again.sub_code(), "ACQ.TRADE_STATUS_ERROR");

    // A paid trade does not close; an unscanned precreate does not exist to close.
    call(&w, "alipay.trade.pay", barcode("CLS0002", "2.00")).await;
    let a = call(&w, "alipay.trade.close", json!({"out_trade_no": "CLS0002"})).await;
    assert_eq!(a.sub_code(), "ACQ.TRADE_STATUS_ERROR");
    call(&w, "alipay.trade.precreate", trade("CLS0003", "2.00")).await;
    let a = call(&w, "alipay.trade.close", json!({"out_trade_no": "CLS0003"})).await;
    assert_eq!(a.sub_code(), "ACQ.TRADE_NOT_EXIST");

    // Cancel: the unscanned precreate closes (never payable after), the paid one refunds.
    let a = call(
        &w,
        "alipay.trade.cancel",
        json!({"out_trade_no": "CLS0003"}),
    )
    .await;
    assert_eq!(
        (
            a.code(),
            a.inner["action"].as_str(),
            a.inner["retry_flag"].as_str()
        ),
        ("10000", Some("close"), Some("N"))
    );
    let (status, _) = ctl_pay(&w, "CLS0003").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let before = w.balance(MERCHANT_ACCOUNT).await;
    assert_eq!(before, "1.99");
    let a = call(
        &w,
        "alipay.trade.cancel",
        json!({"out_trade_no": "CLS0002"}),
    )
    .await;
    assert_eq!(a.inner["action"], "refund");
    assert_eq!(
        w.balance(MERCHANT_ACCOUNT).await,
        "0.00",
        "refunded with its fee given back"
    );
    let q = call(&w, "alipay.trade.query", json!({"out_trade_no": "CLS0002"})).await;
    assert_eq!(q.inner["trade_status"], "TRADE_CLOSED");
    let again = call(
        &w,
        "alipay.trade.cancel",
        json!({"out_trade_no": "CLS0002"}),
    )
    .await;
    assert_eq!(
        again.inner["action"], "refund",
        "cancelling again answers the same"
    );
    assert_eq!(
        w.balance(MERCHANT_ACCOUNT).await,
        "0.00",
        "and moves nothing"
    );
    let a = call(&w, "alipay.trade.cancel", json!({"out_trade_no": "NOSUCH"})).await;
    assert_eq!(a.sub_code(), "ACQ.TRADE_NOT_EXIST");
}

#[tokio::test]
async fn unacknowledged_notifications_follow_the_ladder_with_one_notify_id() {
    let w = world().await;
    let merchant = receiver("fail").await;
    let url = format!("{}/notify", merchant.uri());
    call_notifying(&w, "alipay.trade.precreate", trade("LAD0001", "9.99"), &url).await;
    ctl_pay(&w, "LAD0001").await;
    w.settle().await;
    assert_eq!(received(&merchant).await.len(), 1);
    for (i, wait) in LADDER_SECS.iter().enumerate() {
        w.advance(&format!("{}s", wait - 1)).await;
        assert_eq!(
            received(&merchant).await.len(),
            i + 1,
            "attempt {} not before {wait}s",
            i + 2
        );
        w.advance("1s").await;
        assert_eq!(
            received(&merchant).await.len(),
            i + 2,
            "attempt {} after {wait}s",
            i + 2
        );
    }
    w.advance("7d").await;
    let got = received(&merchant).await;
    assert_eq!(got.len(), 8, "eight attempts in all, then Alipay gives up");
    let ids: Vec<String> = got
        .iter()
        .map(|r| form_fields(&r.body, Charset::Utf8)["notify_id"].clone())
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    let times: Vec<String> = got
        .iter()
        .map(|r| form_fields(&r.body, Charset::Utf8)["notify_time"].clone())
        .collect();
    assert_ne!(times[0], times[1], "notify_time is the attempt's");
    for r in &got {
        assert!(notification_verifies(
            &form_fields(&r.body, Charset::Utf8),
            Charset::Utf8
        ));
    }
}

#[tokio::test]
async fn only_exactly_success_acknowledges() {
    let w = world().await;
    let merchant = receiver("success\n").await;
    let url = format!("{}/notify", merchant.uri());
    call_notifying(&w, "alipay.trade.pay", barcode("ACK0001", "1.00"), &url).await;
    w.settle().await;
    w.advance("4m").await;
    assert_eq!(
        received(&merchant).await.len(),
        2,
        "`success` with a newline is not an ack"
    );
    // A trade without notify_url sends nothing.
    let quiet = receiver("success").await;
    call(&w, "alipay.trade.pay", barcode("ACK0002", "1.00")).await;
    w.advance("1h").await;
    assert!(received(&quiet).await.is_empty());
}

#[tokio::test]
async fn refunds_partial_idempotent_bounded_and_notified() {
    let w = world().await;
    let merchant = receiver("success").await;
    let url = format!("{}/notify", merchant.uri());
    call_notifying(&w, "alipay.trade.pay", barcode("REF0001", "100.00"), &url).await;
    w.settle().await;
    assert_eq!(received(&merchant).await.len(), 1);
    assert_eq!(w.balance(MERCHANT_ACCOUNT).await, "99.40");

    let r = call(
        &w,
        "alipay.trade.refund",
        json!({"out_trade_no": "REF0001", "refund_amount": "30.00", "out_request_no": "R1"}),
    )
    .await;
    assert!(r.signed);
    assert_eq!(
        (
            r.code(),
            r.inner["fund_change"].as_str(),
            r.inner["refund_fee"].as_str()
        ),
        ("10000", Some("Y"), Some("30.00"))
    );
    // The same request again moves nothing.
    let again = call(
        &w,
        "alipay.trade.refund",
        json!({"out_trade_no": "REF0001", "refund_amount": "30.00", "out_request_no": "R1"}),
    )
    .await;
    assert_eq!(
        (
            again.inner["fund_change"].as_str(),
            again.inner["refund_fee"].as_str()
        ),
        (Some("N"), Some("30.00"))
    );
    let changed = call(
        &w,
        "alipay.trade.refund",
        json!({"out_trade_no": "REF0001", "refund_amount": "31.00", "out_request_no": "R1"}),
    )
    .await;
    assert_eq!(changed.sub_code(), "ACQ.CONTEXT_INCONSISTENT");
    let over = call(
        &w,
        "alipay.trade.refund",
        json!({"out_trade_no": "REF0001", "refund_amount": "70.01", "out_request_no": "R2"}),
    )
    .await;
    assert_eq!(over.sub_code(), "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL");
    // 99.40 - 30.00 + 0.18 fee back.
    assert_eq!(w.balance(MERCHANT_ACCOUNT).await, "69.58");

    let q = call(
        &w,
        "alipay.trade.fastpay.refund.query",
        json!({"out_trade_no": "REF0001", "out_request_no": "R1"}),
    )
    .await;
    assert_eq!(
        (
            q.inner["refund_status"].as_str(),
            q.inner["refund_amount"].as_str()
        ),
        (Some("REFUND_SUCCESS"), Some("30.00"))
    );
    let none = call(
        &w,
        "alipay.trade.fastpay.refund.query",
        json!({"out_trade_no": "REF0001", "out_request_no": "R9"}),
    )
    .await;
    assert_eq!(none.code(), "10000");
    assert!(
        none.inner.get("refund_status").is_none(),
        "no such refund: no refund_status"
    );

    // The partial refund is notified: TRADE_SUCCESS with refund_fee and gmt_refund.
    w.settle().await;
    let got = received(&merchant).await;
    assert_eq!(got.len(), 2);
    let f = form_fields(&got[1].body, Charset::Utf8);
    assert!(notification_verifies(&f, Charset::Utf8));
    assert_eq!(
        (
            f["trade_status"].as_str(),
            f["refund_fee"].as_str(),
            f["out_biz_no"].as_str()
        ),
        ("TRADE_SUCCESS", "30.00", "R1")
    );
    assert!(f.contains_key("gmt_refund"));

    // The rest closes the trade; the fee comes back whole.
    let rest = call(
        &w,
        "alipay.trade.refund",
        json!({"out_trade_no": "REF0001", "refund_amount": "70.00", "out_request_no": "R2"}),
    )
    .await;
    assert_eq!(rest.inner["refund_fee"], "100.00");
    let q = call(&w, "alipay.trade.query", json!({"out_trade_no": "REF0001"})).await;
    assert_eq!(q.inner["trade_status"], "TRADE_CLOSED");
    assert_eq!(w.balance(MERCHANT_ACCOUNT).await, "0.00");
    let more = call(
        &w,
        "alipay.trade.refund",
        json!({"out_trade_no": "REF0001", "refund_amount": "1.00", "out_request_no": "R3"}),
    )
    .await;
    assert_eq!(more.sub_code(), "ACQ.TRADE_HAS_CLOSE");
    let kinds: Vec<String> = movements(&w)
        .await
        .iter()
        .map(|p| p["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["payment", "fee", "refund", "fee", "refund", "fee"]);

    // An unpaid trade is not refundable.
    call(&w, "alipay.trade.pay", barcode("REF0002", "5000.00")).await;
    let a = call(
        &w,
        "alipay.trade.refund",
        json!({"out_trade_no": "REF0002", "refund_amount": "1.00"}),
    )
    .await;
    assert_eq!(a.sub_code(), "ACQ.TRADE_STATUS_ERROR");
}

#[tokio::test]
async fn the_bill_link_serves_the_days_zip_for_thirty_seconds() {
    let w = world().await;
    call(&w, "alipay.trade.pay", barcode("BILL0001", "10.00")).await;
    let a = call(
        &w,
        "alipay.data.dataservice.bill.downloadurl.query",
        json!({"bill_type": "trade", "bill_date": "2026-03-02"}),
    )
    .await;
    assert_eq!(
        (a.code(), a.sub_code()),
        ("40004", "isp.bill_not_exist"),
        "not before the next day"
    );
    w.advance("24h").await; // 2026-03-03 10:00, after the 09:00 the bill is ready
    let a = call(
        &w,
        "alipay.data.dataservice.bill.downloadurl.query",
        json!({"bill_type": "trade", "bill_date": "2026-03-02"}),
    )
    .await;
    assert!(a.signed);
    assert_eq!(a.code(), "10000");
    let link = a.inner["bill_download_url"].as_str().unwrap().to_string();
    assert!(link.starts_with(&w.base), "{link}");
    assert!(
        link.contains("fileType=csv.zip") && link.contains("bizType=trade"),
        "{link}"
    );
    assert!(
        link.contains("20880000000000010156_20260302.csv.zip"),
        "{link}"
    );

    let r = http::get(&link, REQUEST_TIMEOUT).await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.body.to_vec())).expect("a ZIP");
    assert_eq!(zip.len(), 2);
    let mut detail = Vec::new();
    zip.by_index(0).unwrap().read_to_end(&mut detail).unwrap();
    let text = Charset::Gbk.decode(&detail).expect("GBK");
    assert!(text.starts_with("#支付宝业务明细查询"), "{text}");
    assert!(text.contains("BILL0001"), "{text}");

    // The control API serves an Alipay channel's own bill when no format is named.
    let named = w
        .ctl_get_raw("statements/alipay/2026-03-02?format=alipay")
        .await;
    let default = w.ctl_get_raw("statements/alipay/2026-03-02").await;
    assert_eq!(default.status, StatusCode::OK);
    assert!(!named.body.is_empty());
    assert_eq!(default.body, named.body, "the Alipay ZIP by default");

    w.advance("30s").await;
    assert_eq!(
        http::get(&link, REQUEST_TIMEOUT).await.unwrap().status,
        StatusCode::OK,
        "still within 30 s"
    );
    w.advance("1s").await;
    let r = http::get(&link, REQUEST_TIMEOUT).await.unwrap();
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text().contains("下载超时"), "{}", r.text());
    let forged = link.replace("token=", "token=x");
    assert_eq!(
        http::get(&forged, REQUEST_TIMEOUT).await.unwrap().status,
        StatusCode::NOT_FOUND
    );

    for (biz, sub) in [
        (
            json!({"bill_type": "signcustomer", "bill_date": "2026-03-02"}),
            "isv.invalid-parameter",
        ),
        (
            json!({"bill_type": "trade", "bill_date": "2026-03"}),
            "isv.invalid-parameter",
        ),
        (
            json!({"bill_type": "trade", "bill_date": "02/03/2026"}),
            "isv.invalid-parameter",
        ),
    ] {
        let a = call(
            &w,
            "alipay.data.dataservice.bill.downloadurl.query",
            biz.clone(),
        )
        .await;
        assert_eq!(a.sub_code(), sub, "{biz}");
    }
}

#[tokio::test]
async fn the_control_api_hands_out_every_channels_credentials() {
    let w = start().await; // the WeChat test world
    let (status, v) = w.ctl_get("channels/wxpay").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            v["kind"].as_str(),
            v["appid"].as_str(),
            v["mch_id"].as_str(),
            v["key"].as_str()
        ),
        (Some("wechatpay-v2"), Some(APPID), Some(MCH_ID), Some(KEY))
    );
    let (status, _) = w.ctl_get("channels/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let w = world().await;
    let (status, v) = w.ctl_get("channels/alipay").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (v["kind"].as_str(), v["app_id"].as_str(), v["pid"].as_str()),
        (Some("alipay-gateway"), Some(APP_ID), Some(PID))
    );
    let private = PrivateKey::parse(v["app_private_key"].as_str().unwrap()).unwrap();
    assert_eq!(private.public(), app_key().public());
    assert!(v["app_private_key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    let alipay = PublicKey::parse(v["alipay_public_key"].as_str().unwrap()).unwrap();
    assert_eq!(alipay, alipay_public());
    assert_eq!(v["gateway"], "/alipay/gateway.do");
}

#[tokio::test]
async fn the_default_world_mounts_alipay() {
    let spec = sandbank::scenario::WorldSpec::default_world();
    let alipay = spec.directory.get("alipay").expect("an `alipay` channel");
    assert_eq!(alipay.kind, "alipay-gateway");
    assert_eq!(alipay.accounts[0].number, PID);
}

#[test]
fn scenario_errors_name_the_key_field() {
    let bad = |extra: &str| {
        let text = format!("[[channels]]\nid = \"ali\"\nkind = \"alipay-gateway\"\n{extra}");
        sandbank::scenario::load_str(&text, "x.toml")
            .unwrap_err()
            .to_string()
    };
    let e = bad("alipay_private_key = \"nonsense\"\n[[channels.apps]]\napp_id = \"2021000000000001\"\npid = \"2088000000000001\"\n");
    assert!(
        e.starts_with("x.toml: channels[0].alipay_private_key: not an RSA private key"),
        "{e}"
    );
    let e = bad("[[channels.apps]]\napp_id = \"2021000000000001\"\npid = \"2088000000000001\"\napp_public_key_file = \"/nonexistent/app.pem\"\n");
    assert!(
        e.starts_with("x.toml: channels[0].apps[0].app_public_key_file: cannot read"),
        "{e}"
    );
    let e = bad("[[channels.apps]]\napp_id = \"2021000000000001\"\npid = \"12345\"\n");
    assert!(e.contains("channels[0].apps[0].pid"), "{e}");
    let e = bad("[[channels.apps]]\napp_id = \"2021000000000001\"\npid = \"2088000000000001\"\napp_public_key = \"\"\"\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\"\"\"\n");
    assert!(
        e.contains("channels[0].apps[0].app_public_key: a PEM `PRIVATE KEY` block"),
        "{e}"
    );
    // A private key that is not the public key's.
    let pair = format!(
        "[[channels.apps]]\napp_id = \"2021000000000001\"\npid = \"2088000000000001\"\napp_public_key_file = \"{}/scenarios/keys/app_public_key.pem\"\napp_private_key_file = \"{}/scenarios/keys/alipay_private_key.pem\"\n",
        env!("CARGO_MANIFEST_DIR"),
        env!("CARGO_MANIFEST_DIR")
    );
    let e = bad(&pair);
    assert!(
        e.contains("apps[0].app_private_key_file: is not the private key of app_public_key"),
        "{e}"
    );
    let e = bad("");
    assert!(
        e.contains("channels[0].apps: an Alipay channel needs at least one app"),
        "{e}"
    );
    // Keys by path load.
    let good = format!(
        "[[channels]]\nid = \"ali\"\nkind = \"alipay-gateway\"\nalipay_private_key_file = \"{}/scenarios/keys/alipay_private_key.pem\"\n[[channels.apps]]\napp_id = \"2021000000000001\"\npid = \"2088000000000001\"\napp_public_key_file = \"{}/scenarios/keys/app_public_key.pem\"\n",
        env!("CARGO_MANIFEST_DIR"),
        env!("CARGO_MANIFEST_DIR")
    );
    sandbank::scenario::load_str(&good, "good.toml").unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn a_gbk_trade_is_notified_in_gbk() {
    let w = world().await;
    let merchant = receiver("success").await;
    let url = format!("{}/notify", merchant.uri());
    let p = signed_params(
        "alipay.trade.pay",
        &json!({"out_trade_no": "GBKN0001", "total_amount": "1.00", "subject": "中文商品",
                "scene": "bar_code", "auth_code": "287634438256643941"}),
        Charset::Gbk,
        &app_key(),
        |p| {
            p.insert("notify_url".into(), url.clone());
        },
    );
    let a = post_call(&w, &p, "alipay.trade.pay", Charset::Gbk).await;
    assert_eq!(a.code(), "10000");
    w.settle().await;
    let got = received(&merchant).await;
    assert_eq!(got.len(), 1);
    let ct = got[0]
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(ct.contains("charset=GBK"), "{ct}");
    let f = form_fields(&got[0].body, Charset::Gbk);
    assert_eq!(
        (f["charset"].as_str(), f["subject"].as_str()),
        ("GBK", "中文商品")
    );
    assert!(
        notification_verifies(&f, Charset::Gbk),
        "signed over the GBK bytes"
    );
}

#[tokio::test]
async fn forged_notifications_fail_the_merchants_checks() {
    let w = world().await;
    let merchant = receiver("success").await;
    let url = format!("{}/notify", merchant.uri());
    call_notifying(
        &w,
        "alipay.trade.precreate",
        trade("FORGE001", "5.00"),
        &url,
    )
    .await;
    for (how, check) in [
        ("signature", "sign"),
        ("amount", "total_amount"),
        ("unknown_order", "out_trade_no"),
    ] {
        let (status, v) = w
            .ctl_post(
                "channels/alipay/orders/FORGE001/notify",
                json!({"forge": how}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{how}: {v}");
        let got = received(&merchant).await;
        let f = form_fields(&got.last().unwrap().body, Charset::Utf8);
        match check {
            "sign" => assert!(!notification_verifies(&f, Charset::Utf8), "{f:?}"),
            "total_amount" => {
                assert!(notification_verifies(&f, Charset::Utf8));
                assert_eq!(f["total_amount"], "0.01");
            }
            _ => {
                assert!(notification_verifies(&f, Charset::Utf8));
                assert!(f["out_trade_no"].starts_with("FORGED"), "{f:?}");
            }
        }
    }
    assert!(movements(&w).await.is_empty(), "no money moves");
}

#[tokio::test]
async fn fault_rules_reach_alipay_methods() {
    let w = world().await;
    w.add_fault(
        json!({"target": "alipay", "op": "alipay.trade.pay", "action": "protocol_error",
        "code": "ACQ.SYSTEM_ERROR", "times": 1}),
    )
    .await;
    let a = call(&w, "alipay.trade.pay", barcode("FLT0001", "1.00")).await;
    assert!(a.signed);
    assert_eq!((a.code(), a.sub_code()), ("20000", "ACQ.SYSTEM_ERROR"));
    assert!(movements(&w).await.is_empty());
    // The rule is spent: the retry under the same number goes through.
    let a = call(&w, "alipay.trade.pay", barcode("FLT0001", "1.00")).await;
    assert_eq!(a.code(), "10000");
    // An unknown op is refused with the channel's operations listed.
    let (status, v) = w
        .ctl_post(
            "faults",
            json!({"target": "alipay", "op": "alipay.trade.nope", "action": "reset"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("alipay.trade.precreate"),
        "{v}"
    );
}
