//! Statements over the wire: a sandbank on `127.0.0.1:0`, a payment through the WeChat Pay
//! API, a payout through the payout API and its return (退票) through the control API, then
//! the statement files, a mismatch and the expected discrepancies through the control API —
//! and the WeChat bill through `pay/downloadbill` agreeing with the control API's.

use bytes::Bytes;
use hyper::{Method, StatusCode};
use sandbank::channels::wxpay::xml;
use sandbank::http::{self, ClientResponse};
use sandbank::protocol::sign;
use sandbank::testing as fixture;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);
const KEY: &str = "192006250b4c09247ec02edce69f6a2d";
const BANK_KEY: &str = "8934e7d15453e97507ef794cf7b0519d";

struct Server {
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Server {
    let spec = sandbank::scenario::load_str(fixture::SCENARIO, "fixture").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(sandbank::serve(listener, spec, async move {
        let _ = rx.await;
    }));
    Server { base, _stop: tx }
}

async fn call(method: Method, url: &str, body: Value) -> ClientResponse {
    let bytes = if body.is_null() {
        Bytes::new()
    } else {
        Bytes::from(body.to_string())
    };
    http::send(
        method,
        url,
        &[("content-type", "application/json")],
        bytes,
        TIMEOUT,
    )
    .await
    .unwrap()
}

fn json_of(r: &ClientResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|_| panic!("not JSON: {}", r.text()))
}

/// A signed WeChat Pay v2 request.
async fn wx(base: &str, path: &str, fields: &[(&str, &str)]) -> ClientResponse {
    let mut map: BTreeMap<String, String> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    map.insert("appid".into(), "wx2421b1c4370ec43b".into());
    map.insert("mch_id".into(), "10000100".into());
    map.insert(
        "nonce_str".into(),
        "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".into(),
    );
    let s = sign::sign(&map, KEY, sign::SignType::Md5);
    map.insert("sign".into(), s);
    let body = xml::write(map.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    http::post(&format!("{base}/wxpay/{path}"), "text/xml", body, TIMEOUT)
        .await
        .unwrap()
}

#[tokio::test]
async fn statements_payout_returns_and_mismatches_through_the_control_api() {
    let s = start().await;
    let b = &s.base;

    // Arrange: a payment and a payout, then the payout is returned.
    let r = wx(
        b,
        "pay/unifiedorder",
        &[
            ("body", "测试商品"),
            ("out_trade_no", "WX20260302100"),
            ("total_fee", "2000"),
            ("spbill_create_ip", "127.0.0.1"),
            ("notify_url", "http://127.0.0.1:9/n"),
            ("trade_type", "NATIVE"),
            ("product_id", "P1"),
        ],
    )
    .await;
    assert!(r.text().contains("<prepay_id>"), "{}", r.text());
    let r = call(
        Method::POST,
        &format!("{b}/_sandbank/channels/wxpay/orders/WX20260302100/pay"),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let mut apply: Map<String, Value> = serde_json::from_value(json!({"mchId": "20000100", "mchOrderNo": "PO20260302100", "amount": 12345, "accountNo": "6228480000000000009", "accountName": "赵六", "reqTime": "20260302090000"})).unwrap();
    sandbank::banks::payout_json::sign_request(&mut apply, BANK_KEY);
    let r = call(
        Method::POST,
        &format!("{b}/bank/agentpay/apply"),
        Value::Object(apply),
    )
    .await;
    assert_eq!(json_of(&r)["status"], "PROCESSING", "{}", r.text());
    let r = call(
        Method::POST,
        &format!("{b}/_sandbank/banks/bank/payouts/PO20260302100/return"),
        Value::Null,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "a PROCESSING payout cannot be returned: {}",
        r.text()
    );
    call(
        Method::POST,
        &format!("{b}/_sandbank/clock"),
        json!({"advance": "1m"}),
    )
    .await;
    let r = call(
        Method::POST,
        &format!("{b}/_sandbank/banks/bank/payouts/PO20260302100/return"),
        json!({"reason": "ACCOUNT_FROZEN"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(json_of(&r)["payout"]["status"], "RETURNED");
    let r = call(
        Method::POST,
        &format!("{b}/_sandbank/banks/bank/payouts/NOSUCH/return"),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let ledger = json_of(
        &call(
            Method::GET,
            &format!("{b}/_sandbank/ledger?account=bank:bank:account:6222000000000000001"),
            Value::Null,
        )
        .await,
    );
    assert_eq!(
        ledger["balances"][0]["balance"], "1000000.00",
        "the return brought the money back"
    );

    // Before the bank's file exists: 409 and when it will.
    let r = call(
        Method::GET,
        &format!("{b}/_sandbank/statements/bank/2026-03-02?format=camt053.08"),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(json_of(&r)["available_at"], "2026-03-02T22:00:00+00:00");

    // A mismatch: refused when misspelt (naming the field), accepted otherwise.
    let r = call(
        Method::POST,
        &format!("{b}/_sandbank/statements/wxpay/mismatches"),
        json!({"kind": "duplicate", "day": "2026-03-02", "delta": "1"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        json_of(&r)["error"].as_str().unwrap().starts_with("delta:"),
        "{}",
        r.text()
    );
    let r = call(
        Method::POST,
        &format!("{b}/_sandbank/statements/wxpay/mismatches"),
        json!({"id": "dup", "kind": "duplicate", "day": "2026-03-02"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = call(
        Method::GET,
        &format!("{b}/_sandbank/statements/wxpay/mismatches"),
        Value::Null,
    )
    .await;
    assert_eq!(json_of(&r)["mismatches"][0]["id"], "dup");

    // Act: the next morning, fetch everything.
    call(
        Method::POST,
        &format!("{b}/_sandbank/clock"),
        json!({"to": "2026-03-03 10:00"}),
    )
    .await;
    let bill = call(
        Method::GET,
        &format!("{b}/_sandbank/statements/wxpay/2026-03-02"),
        Value::Null,
    )
    .await;
    let bill_text = bill.text();
    assert_eq!(bill.status, StatusCode::OK, "{bill_text}");
    assert_eq!(
        bill_text.matches("`WX20260302100,").count(),
        2,
        "duplicated: {bill_text}"
    );
    let downloaded = wx(
        b,
        "pay/downloadbill",
        &[("bill_date", "20260302"), ("bill_type", "ALL")],
    )
    .await;
    assert_eq!(
        downloaded.text(),
        bill_text,
        "downloadbill and the control API serve the same bill"
    );
    let none = wx(b, "pay/downloadbill", &[("bill_date", "20260301")]).await;
    assert!(none.text().contains("No Bill Exist") && none.text().contains("20002"));

    let alipay = call(
        Method::GET,
        &format!("{b}/_sandbank/statements/wxpay/2026-03-02?format=alipay"),
        Value::Null,
    )
    .await;
    assert_eq!(alipay.status, StatusCode::OK);
    assert_eq!(&alipay.body[..2], b"PK");
    let camt = call(
        Method::GET,
        &format!("{b}/_sandbank/statements/bank/2026-03-02?format=camt053.08"),
        Value::Null,
    )
    .await;
    let camt_text = camt.text();
    assert!(
        camt_text.contains("<RvslInd>true</RvslInd>")
            && camt_text.contains("<EndToEndId>PO20260302100</EndToEndId>"),
        "{camt_text}"
    );
    let mt = call(
        Method::GET,
        &format!("{b}/_sandbank/statements/bank/2026-03-02?format=mt940"),
        Value::Null,
    )
    .await;
    assert!(
        mt.text()
            .contains(":61:2603020302RD123,45NTRFPO20260302100"),
        "{}",
        mt.text()
    );
    let wrong = call(
        Method::GET,
        &format!("{b}/_sandbank/statements/bank/2026-03-02?format=wechat"),
        Value::Null,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);

    // Assert: the expected discrepancies of the day.
    let r = call(
        Method::GET,
        &format!("{b}/_sandbank/statements/expected?date=2026-03-02"),
        Value::Null,
    )
    .await;
    let list = json_of(&r)["expected"].clone();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], "dup");
    assert_eq!(list[0]["kind"], "duplicate_in_statement");
    assert_eq!(list[0]["reference"], "WX20260302100");
    assert_eq!(list[0]["instance"], "wxpay");
}
