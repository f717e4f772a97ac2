//! Forged payment notifications over the control API
//! (`POST /_sandbank/channels/{id}/orders/{no}/notify`): each is sent once to the order's
//! notify URL, differs from a genuine one in exactly the way asked, moves no money, and is
//! journalled with the receiver's answer.

use crate::common::*;
use hyper::StatusCode;
use sandbank::channels::wxpay::xml;
use sandbank::protocol::sign;
use serde_json::json;
use std::collections::BTreeMap;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn each_forgery_differs_in_the_one_way_asked_and_moves_no_money() {
    // Arrange: a receiver that acknowledges everything, and one unpaid order.
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(WX_ACK))
        .mount(&receiver)
        .await;
    let w = start().await;
    w.native_order("FORGE00001", "10000", &format!("{}/notify", receiver.uri()))
        .await;
    let ledger_before = w.ledger().await;

    // Act: one of each forgery.
    let mut outcomes = Vec::new();
    for how in ["signature", "amount", "unknown_order"] {
        let (status, v) = w
            .ctl_post(
                "channels/wxpay/orders/FORGE00001/notify",
                json!({ "forge": how }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{how}: {v}");
        outcomes.push(v);
    }

    // Assert: what the receiver got.
    let bodies: Vec<BTreeMap<String, String>> = receiver
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| xml::parse(std::str::from_utf8(&r.body).unwrap()).unwrap())
        .collect();
    assert_eq!(bodies.len(), 3, "each forgery is sent once");
    let (bad_sig, wrong_amount, unknown) = (&bodies[0], &bodies[1], &bodies[2]);
    assert!(
        !sign::verify(bad_sig, KEY),
        "a bad signature does not verify"
    );
    assert_eq!(bad_sig["out_trade_no"], "FORGE00001");
    assert_eq!(bad_sig["total_fee"], "10000");
    assert!(sign::verify(wrong_amount, KEY));
    assert_eq!(wrong_amount["total_fee"], "1");
    assert_eq!(wrong_amount["out_trade_no"], "FORGE00001");
    assert!(sign::verify(unknown, KEY));
    assert!(unknown["out_trade_no"].starts_with("FORGED"), "{unknown:?}");
    assert_eq!(unknown["total_fee"], "10000");
    for b in &bodies {
        assert_eq!(b["result_code"], "SUCCESS");
        assert_eq!(b["mch_id"], MCH_ID);
    }
    // What the control API and the journal say; and no money moved.
    assert!(
        outcomes.iter().all(|o| o["acknowledged"] == true),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[0]["forgery"], "bad_signature");
    let journal = w.journal("kind=callback").await;
    let forged: Vec<_> = journal
        .iter()
        .filter(|e| e["op"] == "notify.forged")
        .collect();
    assert_eq!(forged.len(), 3);
    assert!(forged[0]["message"]
        .as_str()
        .unwrap()
        .ends_with(": acknowledged (accepted)"));
    assert_eq!(w.ledger().await, ledger_before);
}

#[tokio::test]
async fn a_forgery_needs_a_known_order_and_a_known_kind() {
    let w = start().await;
    let (status, v) = w
        .ctl_post(
            "channels/wxpay/orders/NOSUCHORDER1/notify",
            json!({ "forge": "signature" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    w.native_order("FORGE00002", "100", "http://127.0.0.1:9/notify")
        .await;
    let (status, v) = w
        .ctl_post(
            "channels/wxpay/orders/FORGE00002/notify",
            json!({ "forge": "sideways" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("signature, amount, unknown_order"));
    // A receiver that is not there: the forgery is sent, refused by the network, journalled.
    let (status, v) = w
        .ctl_post(
            "channels/wxpay/orders/FORGE00002/notify",
            json!({ "forge": "amount" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["acknowledged"], false);
    assert_eq!(v["status"], serde_json::Value::Null);
}
