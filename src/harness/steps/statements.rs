//! Steps that make a statement differ from the truth. Each mismatch is recorded by sandbank
//! as an expected discrepancy, which the reconciliation check then holds the SUT's report to.

use super::date;
use crate::harness::scene::Scene;
use crate::http;
use cucumber::gherkin::Step;
use cucumber::given;
use std::time::Duration;

async fn inject(s: &Scene, instance: &str, day: &str, mut mismatch: serde_json::Value) {
    date(day);
    if let Some(obj) = mismatch.as_object_mut() {
        obj.insert("day".into(), serde_json::Value::String(day.to_string()));
    } else {
        panic!("a mismatch is a JSON object, e.g. {{\"kind\": \"missing\", \"nth\": 0}}");
    }
    let url = format!("{}/_sandbank/statements/{instance}/mismatches", s.url());
    let r = http::post(
        &url,
        "application/json",
        mismatch.to_string(),
        Duration::from_secs(10),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    if !r.status.is_success() {
        panic!(
            "sandbank refused the mismatch: HTTP {} {}",
            r.status,
            r.text()
        );
    }
}

#[given(regex = r#"^the "([^"]+)" statement for "([^"]+)" has the mismatch:$"#)]
async fn statement_mismatch(s: &mut Scene, instance: String, day: String, step: &Step) {
    let json = step
        .docstring
        .as_deref()
        .unwrap_or_else(|| panic!("give the mismatch as a doc string (JSON)"));
    let v: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON: {e}"));
    inject(s, &instance, &day, v).await;
}

#[given(
    regex = r#"^the "([^"]+)" statement for "([^"]+)" (omits|duplicates) its entry number (\d+)$"#
)]
async fn statement_entry(s: &mut Scene, instance: String, day: String, what: String, n: usize) {
    let kind = if what == "omits" {
        "missing"
    } else {
        "duplicate"
    };
    // Feature files count from 1; sandbank's `nth` counts from 0.
    inject(
        s,
        &instance,
        &day,
        serde_json::json!({ "kind": kind, "nth": n.saturating_sub(1) }),
    )
    .await;
}
