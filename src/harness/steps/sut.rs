//! Steps that drive the settlement system under test through its adapter hooks, and
//! observe at the fakes that it did what it said.

use super::{date, money};
use crate::directory::Family;
use crate::harness::checks::{Merchant, Order, Report};
use crate::harness::scene::Scene;
use cucumber::{given, when};

#[given(regex = r#"^the settlement system is running$"#)]
async fn sut_running(s: &mut Scene) {
    s.start_sut().await;
}

#[given(
    regex = r#"^merchant "([^"]+)" is onboarded at bank "([^"]+)" with settlement cycle (T\+\d+)$"#
)]
async fn onboard(s: &mut Scene, label: String, bank: String, cycle: String) {
    let is_bank = s
        .sb()
        .lock()
        .core
        .directory
        .get(&bank)
        .is_some_and(|i| i.family == Family::Bank);
    if !is_bank {
        panic!("there is no bank `{bank}` in this world");
    }
    let m = Merchant {
        merchant_id: s.fresh(&label, false),
        account_no: format!("6217{}", s.fresh(&label, true)),
        account_name: format!("Merchant {label}"),
        bank: bank.clone(),
        label: label.clone(),
    };
    s.hook(
        "onboard_merchant",
        &[
            ("merchant_id", m.merchant_id.clone()),
            ("account_no", m.account_no.clone()),
            ("account_name", m.account_name.clone()),
            ("bank_id", bank),
            ("cycle", cycle),
        ],
    )
    .await;
    s.merchants.push(m);
}

#[when(
    regex = r#"^the settlement system creates an order of (\d+(?:\.\d+)?) ([A-Z]{3}) at "([^"]+)" for merchant "([^"]+)"$"#
)]
async fn create_order(
    s: &mut Scene,
    amount: String,
    currency: String,
    channel: String,
    label: String,
) {
    let amount = money(&amount, &currency);
    let merchant_id = s.merchant(&label).merchant_id.clone();
    let minor = amount.to_minor().unwrap_or_else(|e| panic!("{e}"));
    let out = s
        .hook(
            "create_order",
            &[
                ("merchant_id", merchant_id),
                ("channel", channel.clone()),
                ("amount", amount.major_string()),
                ("amount_minor", minor.to_string()),
                ("currency", currency),
            ],
        )
        .await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| {
        panic!("create_order must answer JSON {{\"out_trade_no\": …}}: {e}\n  answer: {out}")
    });
    let Some(no) = v
        .get("out_trade_no")
        .and_then(|n| n.as_str())
        .map(str::to_string)
    else {
        panic!("create_order must answer JSON with `out_trade_no`; it answered: {out}");
    };
    // Observe at the fake: the channel must really hold the order, for the right amount.
    let held = match s.sb().lock().order(&channel, &no) {
        Ok(o) => o.amount.to_minor().ok(),
        Err(crate::core::ActionError::NotFound(m)) if m.starts_with("no channel") => {
            panic!("there is no channel `{channel}` in this world")
        }
        Err(_) => None,
    };
    match held {
        Some(fee) if fee == minor => {}
        Some(fee) => panic!("the SUT created order {no} at {channel} for {fee} fen, but the scenario asked for {minor}"),
        None => panic!("the SUT said it created order {no}, but {channel} never received it"),
    }
    s.orders.push(Order {
        channel,
        out_trade_no: no,
        merchant: label,
        amount,
    });
}

#[when(regex = r#"^the settlement system runs settlement for "([^"]+)"$"#)]
async fn run_settlement(s: &mut Scene, day: String) {
    date(&day);
    s.hook("run_settlement", &[("date", day)]).await;
    // Let whatever the settlement scheduled at this instant happen.
    s.sb().advance(None).await.unwrap_or_else(|e| panic!("{e}"));
}

#[when(regex = r#"^the settlement system reconciles "([^"]+)" for "([^"]+)"$"#)]
async fn reconcile(s: &mut Scene, channel: String, day: String) {
    date(&day);
    s.hook(
        "run_reconciliation",
        &[("date", day.clone()), ("channel", channel.clone())],
    )
    .await;
    let out = s
        .hook(
            "reconciliation_report",
            &[("date", day.clone()), ("channel", channel.clone())],
        )
        .await;
    let report: Report = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("the reconciliation report is not the documented JSON (docs/sut-adapter.md): {e}\n  answer: {out}"));
    // The truth is what the statement was when the SUT fetched it (the clock is manual).
    let truth = crate::harness::recon_checks::ReconTruth::now(&s.sb().lock(), &channel, date(&day));
    s.recon_truth.insert((channel.clone(), day.clone()), truth);
    s.reports.insert((channel, day), report);
}
