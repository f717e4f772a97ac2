//! Statements over the wire: the statements fixture's scenario served on `127.0.0.1:0`, a
//! payment through the WeChat Pay API, a payout through the payout API and its return (退票)
//! through the control API, then the statement files, a mismatch and the expected
//! discrepancies through the control API — and the WeChat bill through `pay/downloadbill`
//! agreeing with the control API's.

use crate::common::*;
use hyper::StatusCode;
use sandbank::testing as fixture;
use serde_json::{json, Value};

/// The payment of the day.
const ORDER: &str = "WX20260302100";
/// The payout of the day, returned after it settled.
const PAYOUT: &str = "PO20260302100";
/// Its payee.
const PAYEE: &str = "6228480000000000009";

/// The fixture's scenario (clock at Monday 2026-03-02 09:00): a 20.00 payment, and a 123.45
/// payout still PROCESSING.
async fn paid_and_paid_out() -> TestWorld {
    let w = start_toml(fixture::SCENARIO).await;
    let order = w.native_order(ORDER, "2000", "http://127.0.0.1:9/n").await;
    assert!(order.contains_key("prepay_id"), "{order:?}");
    w.pay(ORDER).await;
    let r = w.payout(PAYOUT, 12345, PAYEE).await;
    assert_eq!(r["status"], "PROCESSING", "{r}");
    w
}

/// `POST /_sandbank/banks/bank/payouts/{no}/return`, with an empty body when `body` is
/// `None`.
async fn return_payout(w: &TestWorld, no: &str, body: Option<Value>) -> (StatusCode, Value) {
    let path = format!("banks/bank/payouts/{no}/return");
    match body {
        Some(body) => w.ctl_post(&path, body).await,
        None => w.ctl_post_raw(&path, "application/json", "").await,
    }
}

/// [`paid_and_paid_out`], the payout settled (a minute later) and returned, a `duplicate`
/// mismatch `dup` on the day's WeChat bill, and the clock at Tuesday 10:00, when every file
/// of Monday exists.
async fn the_next_morning() -> TestWorld {
    let w = paid_and_paid_out().await;
    w.advance("1m").await;
    let (status, v) = return_payout(&w, PAYOUT, Some(json!({"reason": "ACCOUNT_FROZEN"}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = w
        .ctl_post(
            "statements/wxpay/mismatches",
            json!({"id": "dup", "kind": "duplicate", "day": "2026-03-02"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, v) = w.ctl_post("clock", json!({"to": "2026-03-03 10:00"})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    w
}

/// A signed `pay/downloadbill` for `bill_date` (`YYYYMMDD`), the reply as text.
async fn downloadbill(w: &TestWorld, bill_date: &str) -> String {
    let fields = [
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
        ("bill_date", bill_date),
        ("bill_type", "ALL"),
    ];
    w.wx_raw("pay/downloadbill", wx_request(&fields, KEY))
        .await
        .text()
}

// ---------------------------------------------------------------- returns (退票)

#[tokio::test]
async fn a_processing_payout_cannot_be_returned() {
    let w = paid_and_paid_out().await;
    let (status, v) = return_payout(&w, PAYOUT, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
}

#[tokio::test]
async fn a_settled_payout_is_returned_and_its_money_comes_back() {
    let w = paid_and_paid_out().await;
    w.advance("1m").await;
    let (status, v) = return_payout(&w, PAYOUT, Some(json!({"reason": "ACCOUNT_FROZEN"}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["payout"]["status"], "RETURNED", "{v}");
    let (status, ledger) = w.ctl_get(&format!("ledger?account={}", reserve())).await;
    assert_eq!(status, StatusCode::OK, "{ledger}");
    assert_eq!(
        ledger["balances"][0]["balance"], "1000000.00",
        "the return brought the money back: {ledger}"
    );
}

#[tokio::test]
async fn returning_an_unknown_payout_is_404() {
    let w = paid_and_paid_out().await;
    let (status, v) = return_payout(&w, "NOSUCH", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
}

// ---------------------------------------------------------------- files

#[tokio::test]
async fn a_statement_asked_for_before_it_exists_is_409_with_when_it_will() {
    let w = paid_and_paid_out().await;
    let (status, v) = w
        .ctl_get("statements/bank/2026-03-02?format=camt053.08")
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["available_at"], "2026-03-02T22:00:00+00:00", "{v}");
}

#[tokio::test]
async fn the_bill_shows_the_mismatch_and_downloadbill_serves_the_same_bill() {
    let w = the_next_morning().await;
    let (status, bill) = w.ctl_get_text("statements/wxpay/2026-03-02").await;
    assert_eq!(status, StatusCode::OK, "{bill}");
    assert_eq!(
        bill.matches(&format!("`{ORDER},")).count(),
        2,
        "duplicated: {bill}"
    );
    assert_eq!(
        downloadbill(&w, "20260302").await,
        bill,
        "downloadbill and the control API serve the same bill"
    );
}

#[tokio::test]
async fn downloadbill_of_a_day_without_trades_is_no_bill_exist() {
    let w = the_next_morning().await;
    let none = downloadbill(&w, "20260301").await;
    assert!(
        none.contains("No Bill Exist") && none.contains("20002"),
        "{none}"
    );
}

#[tokio::test]
async fn the_channel_bill_is_served_as_an_alipay_zip_too() {
    let w = the_next_morning().await;
    let alipay = w
        .ctl_get_raw("statements/wxpay/2026-03-02?format=alipay")
        .await;
    assert_eq!(alipay.status, StatusCode::OK, "{}", alipay.text());
    assert_eq!(&alipay.body[..2], b"PK");
}

#[tokio::test]
async fn the_bank_statements_show_the_returned_payout() {
    let w = the_next_morning().await;
    let (status, camt) = w
        .ctl_get_text("statements/bank/2026-03-02?format=camt053.08")
        .await;
    assert_eq!(status, StatusCode::OK, "{camt}");
    assert!(
        camt.contains("<RvslInd>true</RvslInd>")
            && camt.contains(&format!("<EndToEndId>{PAYOUT}</EndToEndId>")),
        "{camt}"
    );
    let (status, mt) = w
        .ctl_get_text("statements/bank/2026-03-02?format=mt940")
        .await;
    assert_eq!(status, StatusCode::OK, "{mt}");
    assert!(
        mt.contains(&format!(":61:2603020302RD123,45NTRF{PAYOUT}")),
        "{mt}"
    );
}

#[tokio::test]
async fn a_bank_statement_in_a_channel_format_is_400() {
    let w = the_next_morning().await;
    let (status, v) = w
        .ctl_get_text("statements/bank/2026-03-02?format=wechat")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
}

// ---------------------------------------------------------------- mismatches

#[tokio::test]
async fn a_misspelt_mismatch_is_400_naming_the_field() {
    let w = paid_and_paid_out().await;
    let (status, v) = w
        .ctl_post(
            "statements/wxpay/mismatches",
            json!({"kind": "duplicate", "day": "2026-03-02", "delta": "1"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"].as_str().is_some_and(|e| e.starts_with("delta:")),
        "{v}"
    );
    let (_, list) = w.ctl_get("statements/wxpay/mismatches").await;
    assert_eq!(list["mismatches"], json!([]), "nothing was added: {list}");
}

#[tokio::test]
async fn an_accepted_mismatch_is_listed() {
    let w = the_next_morning().await;
    let (status, v) = w.ctl_get("statements/wxpay/mismatches").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["mismatches"][0]["id"], "dup", "{v}");
}

#[tokio::test]
async fn the_expected_discrepancies_of_the_day_name_the_mismatch() {
    let w = the_next_morning().await;
    let (status, v) = w.ctl_get("statements/expected?date=2026-03-02").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let list = &v["expected"];
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(
        (
            list[0]["id"].as_str(),
            list[0]["kind"].as_str(),
            list[0]["reference"].as_str(),
            list[0]["instance"].as_str()
        ),
        (
            Some("dup"),
            Some("duplicate_in_statement"),
            Some(ORDER),
            Some("wxpay")
        ),
        "{list}"
    );
}
