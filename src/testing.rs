//! Test support: a small deterministic world with two business days of activity, for the
//! statement tests, the golden files and the parser fixtures
//! (`cargo run --example statement_files`). Compiled for tests only (`cfg(test)` or the
//! `testing` feature, which the crate's own tests and examples turn on); it does not ship in
//! the library a user links.
//!
//! The activity goes through the same paths a client's does — signed `pay/unifiedorder`
//! and `agentpay/apply` requests through the world's gate, the customer-pay and bank-return
//! actions, timers fired by the clock — so the statements tests read what the real
//! operations booked, not a second way of booking it.
//!
//! Monday 2026-03-02 (Beijing time), channel `wxpay`, merchant `10000100` (fee 0.60 %):
//! four payments, the last at 23:59:58 — two seconds before the cut-off — and one more at
//! 00:00:02 on Tuesday. Bank `bank`, account `6222000000000000001` (opening 1 000 000.00):
//! three payouts on Monday, the second returned (退票) the same evening, and one on Tuesday.
//! The clock ends at Wednesday 10:00, when both days' statements exist. Notifications go to
//! a port nobody listens on and are not sent (their timers fire, their jobs are dropped).

use crate::clock::{parse_instant, Instant, SHANGHAI};
use crate::http::InboundRequest;
use crate::protocol::sign::{sign, SignType};
use crate::scenario::{self, WorldSpec};
use crate::statements::Source;
use crate::world::WorldState;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The fixture world's scenario.
pub const SCENARIO: &str = r#"
[world]
name = "statements-fixture"
seed = 20260302
clock = "manual"
start = "2026-03-02 09:00"

[[channels]]
id = "wxpay"
kind = "wechatpay-v2"
fee_rate = "0.006"

[[channels.merchants]]
appid = "wx2421b1c4370ec43b"
mch_id = "10000100"
key = "192006250b4c09247ec02edce69f6a2d"

[[banks]]
id = "bank"
kind = "payout-json"
settle_after = "30s"

[[banks.clients]]
mch_id = "20000100"
key = "8934e7d15453e97507ef794cf7b0519d"
account = "6222000000000000001"

[[banks.accounts]]
no = "6222000000000000001"
name = "sandbank platform reserve"
currency = "CNY"
opening = "1000000.00"
"#;

/// The busy day.
pub fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default()
}

/// The channel merchant's statement source.
pub fn merchant() -> Source {
    Source::ChannelMerchant {
        instance: "wxpay".into(),
        mch_id: "10000100".into(),
    }
}

/// The bank account's statement source.
pub fn bank_account() -> Source {
    Source::BankAccount {
        instance: "bank".into(),
        account_no: "6222000000000000001".into(),
    }
}

const APPID: &str = "wx2421b1c4370ec43b";
const MCH_ID: &str = "10000100";
const WX_KEY: &str = "192006250b4c09247ec02edce69f6a2d";
const BANK_CLIENT: &str = "20000100";
const BANK_KEY: &str = "8934e7d15453e97507ef794cf7b0519d";

fn at(text: &str) -> Instant {
    // Literal instants of this file; a typo is a bug in the fixture.
    parse_instant(text, SHANGHAI).expect("a valid fixture instant")
}

/// Move the clock forward to `to`, firing what falls due on the way (payouts settle;
/// notification attempts are prepared and dropped: nobody listens for them).
fn advance_to(st: &mut WorldState, to: Instant) {
    while let Some(event) = st.pop_due(to) {
        let _ = st.fire(&event);
    }
    // Orders are created up to 30 s before they are paid, which may be before an earlier
    // step's instant: the clock then stays where it is.
    if to > st.now() {
        st.core.clock.move_to(to).expect("checked: forward");
    }
}

fn move_to(st: &mut WorldState, text: &str) {
    advance_to(st, at(text));
}

/// A POST of `body` to `path`, as the server hands it to the world.
fn post(path: &str, body: String) -> InboundRequest {
    InboundRequest {
        method: hyper::Method::POST,
        path: path.into(),
        query: None,
        headers: Default::default(),
        body: body.into(),
    }
}

/// Serve `req` at `mount` and return the reply's text, which must contain `expect`.
fn serve(st: &mut WorldState, mount: &str, req: InboundRequest, expect: &str) {
    let outcome = st
        .serve(mount, &req)
        .expect("the fixture's instances are mounted");
    let text = outcome.reply.body_text();
    assert!(
        text.contains(expect),
        "the fixture's request was refused: {text}"
    );
}

/// Create order `no` (`total_fee` fen, `body`) thirty seconds before `when` with a signed
/// `pay/unifiedorder`, and have the customer pay it at `when`.
fn order_and_pay(st: &mut WorldState, when: &str, no: &str, total_fee: i64, body: &str) {
    advance_to(st, at(when) - chrono::Duration::seconds(30));
    let mut fields: BTreeMap<String, String> = [
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
        ("body", body),
        ("out_trade_no", no),
        ("spbill_create_ip", "127.0.0.1"),
        ("notify_url", "http://127.0.0.1:9/notify"),
        ("trade_type", "NATIVE"),
        ("product_id", "P1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    fields.insert("total_fee".into(), total_fee.to_string());
    let signature = sign(&fields, WX_KEY, SignType::Md5);
    fields.insert("sign".into(), signature);
    let xml: String = fields
        .iter()
        .map(|(k, v)| format!("<{k}><![CDATA[{v}]]></{k}>"))
        .collect();
    serve(
        st,
        "wxpay",
        post("pay/unifiedorder", format!("<xml>{xml}</xml>")),
        "<result_code><![CDATA[SUCCESS]]></result_code>",
    );
    move_to(st, when);
    st.customer_pay("wxpay", no, None)
        .expect("a fresh fixture order is payable");
}

/// Pay `amount_minor` fen out to `payee` under `order_no` at `when` with a signed
/// `agentpay/apply`; the bank settles it 30 s later (its `settle_after`).
fn payout(
    st: &mut WorldState,
    when: &str,
    order_no: &str,
    amount_minor: i64,
    payee: &str,
    name: &str,
) {
    move_to(st, when);
    let mut fields: BTreeMap<String, String> = [
        ("mchId", BANK_CLIENT),
        ("mchOrderNo", order_no),
        ("accountNo", payee),
        ("accountName", name),
        ("reqTime", "20260302100000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    fields.insert("amount".into(), amount_minor.to_string());
    let signature = sign(&fields, BANK_KEY, SignType::Md5);
    fields.insert("sign".into(), signature);
    let body = serde_json::to_string(&fields).expect("strings serialize");
    serve(st, "bank", post("agentpay/apply", body), "PROCESSING");
}

/// Build the fixture world.
pub fn world() -> WorldState {
    let spec: WorldSpec =
        scenario::load_str(SCENARIO, "statements fixture").expect("the fixture scenario is valid");
    world_with(spec)
}

/// Build the fixture world's activity on `spec` (the fixture scenario, possibly with
/// mismatches added).
pub fn world_with(spec: WorldSpec) -> WorldState {
    let mut st = WorldState::new(Arc::new(spec), 1);
    order_and_pay(
        &mut st,
        "2026-03-02 09:15:01",
        "WX20260302001",
        101,
        "测试商品",
    );
    payout(
        &mut st,
        "2026-03-02 10:00:00",
        "PO20260302001",
        10_000,
        "6228480000000000001",
        "张三",
    );
    order_and_pay(
        &mut st,
        "2026-03-02 11:30:00",
        "WX20260302002",
        25_000,
        "Coffee, large",
    );
    order_and_pay(
        &mut st,
        "2026-03-02 14:02:03",
        "WX20260302003",
        9_999,
        "会员充值",
    );
    payout(
        &mut st,
        "2026-03-02 15:00:00",
        "PO20260302002",
        25_050,
        "6228480000000000002",
        "李四",
    );
    payout(
        &mut st,
        "2026-03-02 16:00:00",
        "PO20260302003",
        8_888,
        "6228480000000000003",
        "王五",
    );
    move_to(&mut st, "2026-03-02 18:00:00");
    st.return_payout("bank", "PO20260302002", None, Some("ACCOUNT_FROZEN"))
        .expect("a settled payout can be returned");
    order_and_pay(
        &mut st,
        "2026-03-02 23:59:58",
        "WX20260302004",
        50_000,
        "T-shirt",
    );
    order_and_pay(
        &mut st,
        "2026-03-03 00:00:02",
        "WX20260303001",
        1_234,
        "测试商品",
    );
    payout(
        &mut st,
        "2026-03-03 10:00:00",
        "PO20260303001",
        5_000,
        "6228480000000000001",
        "张三",
    );
    move_to(&mut st, "2026-03-04 10:00:00");
    st
}
