//! A small deterministic world with two business days of activity, for the statement tests,
//! the golden files and the parser fixtures (`cargo run --example statement_files`).
//!
//! Monday 2026-03-02 (Beijing time), channel `wxpay`, merchant `10000100` (fee 0.60 %):
//! four payments, the last at 23:59:58 — two seconds before the cut-off — and one more at
//! 00:00:02 on Tuesday. Bank `bank`, account `6222000000000000001` (opening 1 000 000.00):
//! three payouts on Monday, the second returned (退票) the same evening, and one on Tuesday.
//! The clock ends at Wednesday 10:00, when both days' statements exist.

use crate::banks::{self, Payout, PayoutStatus};
use crate::channels::wxpay::{self, sign::SignType, TradeState, WxOrder};
use crate::channels::ChannelState;
use crate::clock::{parse_instant, Instant, SHANGHAI};
use crate::ledger::PostingKind;
use crate::money::{Currency, Money};
use crate::scenario::{self, WorldSpec};
use crate::world::WorldState;
use chrono::NaiveDate;
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
pub fn merchant() -> super::Source {
    super::Source::ChannelMerchant {
        instance: "wxpay".into(),
        mch_id: "10000100".into(),
    }
}

/// The bank account's statement source.
pub fn bank_account() -> super::Source {
    super::Source::BankAccount {
        instance: "bank".into(),
        account_no: "6222000000000000001".into(),
    }
}

fn at(text: &str) -> Instant {
    // Literal instants of this file; a typo is a bug in the fixture.
    parse_instant(text, SHANGHAI).expect("a valid fixture instant")
}

fn move_to(st: &mut WorldState, text: &str) {
    // The fixture moves forward only.
    st.clock
        .move_to(at(text))
        .expect("fixture time moves forward");
}

/// Create order `no` (`total_fee` fen, `body`) and have the customer pay it at `when`.
fn order_and_pay(st: &mut WorldState, when: &str, no: &str, total_fee: i64, body: &str) {
    move_to(st, when);
    let spec = st
        .spec
        .channel("wxpay")
        .cloned()
        .expect("the fixture has wxpay");
    let now = st.clock.now();
    let order = WxOrder {
        appid: "wx2421b1c4370ec43b".into(),
        mch_id: "10000100".into(),
        out_trade_no: no.into(),
        body: body.into(),
        total_fee,
        trade_type: "NATIVE".into(),
        notify_url: "http://127.0.0.1:9/notify".into(),
        openid: None,
        product_id: Some("P1".into()),
        attach: None,
        device_info: None,
        sign_type: SignType::Md5,
        prepay_id: format!("wx{no}"),
        code_url: None,
        created_at: now - chrono::Duration::seconds(30),
        state: TradeState::NotPay,
        transaction_id: None,
        paid_at: None,
        fee: None,
        notified: false,
    };
    if let Some(ChannelState::WechatPayV2(ws)) = st.channels.get_mut("wxpay") {
        ws.orders.insert(("10000100".into(), no.into()), order);
    }
    wxpay::pay(st, &spec, no, None).expect("a fresh fixture order is payable");
}

/// Pay `amount_minor` fen out to `payee` under `order_no` at `when`, and settle it — what
/// the payout API does on a funded account, without the HTTP round trip.
fn payout(
    st: &mut WorldState,
    when: &str,
    order_no: &str,
    amount_minor: i64,
    payee: &str,
    name: &str,
) {
    move_to(st, when);
    let now = st.clock.now();
    let amount = Money::from_minor(amount_minor, Currency::Cny);
    let from = banks::account_path("bank", "6222000000000000001");
    let to = banks::payee_path("bank", payee);
    let _ = st.ledger.transfer(
        now,
        PostingKind::Payout,
        "bank",
        order_no,
        &from,
        &to,
        amount,
    );
    let payout_id = format!("AP{}{}", wxpay::wx_time(now), st.rng.digits(6));
    let bs = st.banks.entry("bank".into()).or_default();
    let index = bs.payouts.len();
    bs.payouts.push(Payout {
        payout_id,
        mch_id: "20000100".into(),
        order_no: order_no.into(),
        amount,
        from_account: "6222000000000000001".into(),
        payee_account_no: payee.into(),
        payee_name: name.into(),
        status: PayoutStatus::Processing,
        reason: None,
        created_at: now,
        succeeded_at: None,
        first_reply: None,
    });
    bs.by_order
        .entry(("20000100".into(), order_no.into()))
        .or_default()
        .push(index);
    banks::settle(st, "bank", index);
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
    banks::return_payout(
        &mut st,
        "bank",
        "PO20260302002",
        None,
        Some("ACCOUNT_FROZEN"),
    )
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
