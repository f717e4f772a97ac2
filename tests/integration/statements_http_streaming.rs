//! A statement larger than what a reply may hold in memory is served whole over HTTP:
//! rendered into a spool file under the world's lock, then streamed to the client in chunks.

use crate::common::*;
use hyper::StatusCode;
use sandbank::http::SPOOL_MEMORY_BYTES;
use sandbank::statements::camt053::Version;
use sandbank::statements::render::Format;
use sandbank::statements::Source;

#[tokio::test]
async fn a_statement_larger_than_the_spool_memory_is_streamed_whole() {
    // Arrange: enough payouts that the day's camt.053 is well over SPOOL_MEMORY_BYTES.
    let w = start().await;
    let payouts = 2_000;
    for i in 0..payouts {
        let r = w
            .payout(&format!("BIG-{i:05}"), 100 + i, &format!("62284800{i:011}"))
            .await;
        assert_eq!(r["retCode"], "0", "{r}");
    }
    w.ctl_post("clock", serde_json::json!({"to": "2026-03-03 07:00"}))
        .await;

    // Act: fetch it over the wire.
    let (status, body) = w
        .ctl_get_text("statements/bank/2026-03-02?format=camt053.02")
        .await;

    // Assert: complete, and the very bytes the world renders in-process.
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.len() > 2 * SPOOL_MEMORY_BYTES,
        "only {} bytes: the test would not reach the spool file",
        body.len()
    );
    let expected = {
        let st = w.sb.lock();
        let source = Source::BankAccount {
            instance: "bank".into(),
            account_no: BANK_ACCOUNT.into(),
        };
        let mut out = Vec::new();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        st.statement(&source, day, Format::Camt053(Version::V02), &mut out)
            .expect("renders");
        String::from_utf8(out).unwrap()
    };
    assert_eq!(body.len(), expected.len());
    assert!(
        body == expected,
        "the streamed file differs from the rendered one"
    );
    assert_eq!(body.matches("<Ntry>").count(), payouts as usize);
}
