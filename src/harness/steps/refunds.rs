//! Steps about refunds: asking the settlement system to refund (the `create_refund` hook),
//! faults on refunds and their notifications, and the checks that go with them.

use super::money;
use crate::faults::RawRule;
use crate::harness::refund_checks::{self, RequestedRefund};
use crate::harness::scene::Scene;
use cucumber::{given, then, when};

/// The operation under which `channel`'s kind serves refunds (WeChat
/// `secapi/pay/refund`, Alipay `alipay.trade.refund`), as the kind names it.
fn refund_op(s: &Scene, channel: &str) -> &'static str {
    s.sb()
        .lock()
        .spec
        .channel(channel)
        .map(|c| c.refund_op())
        .unwrap_or_else(|| panic!("there is no channel `{channel}` in this world"))
}

fn arm(s: &Scene, raw: RawRule) {
    if let Err(e) = s.sb().with(|st| st.add_fault(&raw)) {
        panic!("bad fault rule: {e}");
    }
}

#[given(
    regex = r#"^the channel "([^"]+)" answers the next refund request with ([A-Z_]+) and does nothing$"#
)]
async fn refund_error(s: &mut Scene, channel: String, code: String) {
    let op = refund_op(s, &channel);
    arm(
        s,
        RawRule {
            target: Some(channel),
            op: Some(op.into()),
            action: Some("protocol_error".into()),
            code: Some(code),
            times: Some(1),
            ..Default::default()
        },
    );
}

#[given(
    regex = r#"^the channel "([^"]+)" executes the next refund but the reply is lost as a (timeout|reset)$"#
)]
async fn refund_reply_lost(s: &mut Scene, channel: String, how: String) {
    let op = refund_op(s, &channel);
    let then = if how == "timeout" { "hang" } else { "reset" };
    arm(
        s,
        RawRule {
            target: Some(channel),
            op: Some(op.into()),
            action: Some("commit_then_fail".into()),
            then: Some(then.into()),
            times: Some(1),
            ..Default::default()
        },
    );
}

#[given(regex = r#"^every refund at "([^"]+)" stays PROCESSING for (\S+), then succeeds$"#)]
async fn refund_slow(s: &mut Scene, channel: String, delay: String) {
    let op = refund_op(s, &channel);
    arm(
        s,
        RawRule {
            target: Some(channel),
            op: Some(op.into()),
            action: Some("outcome".into()),
            outcome: Some("SUCCESS".into()),
            delay: Some(delay),
            ..Default::default()
        },
    );
}

#[given(regex = r#"^the channel "([^"]+)" delays every payment notification by (\S+)$"#)]
async fn notify_delayed(s: &mut Scene, channel: String, delay: String) {
    arm(
        s,
        RawRule {
            target: Some(channel),
            op: Some("notify".into()),
            action: Some("delay".into()),
            delay: Some(delay),
            ..Default::default()
        },
    );
}

#[when(
    regex = r#"^the settlement system refunds (\d+(?:\.\d+)?) ([A-Z]{3}) of order number (\d+)$"#
)]
async fn refund(s: &mut Scene, amount: String, currency: String, n: usize) {
    let amount = money(&amount, &currency);
    let order = n
        .checked_sub(1)
        .and_then(|i| s.orders.get(i))
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "there is no order number {n}: the settlement system created {} order(s) so far",
                s.orders.len()
            )
        });
    if !s.cfg.adapter.hooks.contains_key("create_refund") {
        panic!(
            "the adapter {} has no `create_refund` hook, which the refund scenarios need (docs/sut-adapter.md)",
            s.cfg.adapter.file
        );
    }
    let merchant_id = s.merchant(&order.merchant).merchant_id.clone();
    let minor = amount.to_minor().unwrap_or_else(|e| panic!("{e}"));
    let own = [
        ("merchant_id", merchant_id),
        ("channel", order.channel.clone()),
        ("out_trade_no", order.out_trade_no.clone()),
        ("amount", amount.major_string()),
        ("amount_minor", minor.to_string()),
        ("currency", currency),
    ];
    let out = match s.try_hook("create_refund", &own).await {
        Ok(out) => out,
        Err(e) => {
            // A refusal of a refund the SUT had to make is a refund that never reaches the
            // customer: judged as such, with the money. Any other failure is the hook's.
            let refusal = format!("{} `{}`", e.problem, e.answer.trim());
            let judged = refund_checks::refused_refund(
                &s.sb().lock().core.ledger,
                &order,
                &s.refunds,
                amount,
                &refusal,
            );
            match judged {
                Some(v) => s.fail(&[v], false),
                None => s.hook_failed(&e),
            }
        }
    };
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| {
        panic!("create_refund must answer JSON {{\"out_refund_no\": …}}: {e}\n  answer: {out}")
    });
    let Some(no) = v
        .get("out_refund_no")
        .and_then(|n| n.as_str())
        .map(str::to_string)
    else {
        panic!("create_refund must answer JSON with `out_refund_no`; it answered: {out}");
    };
    // Not checked at the channel here: a refund whose outcome is still unknown (a lost
    // reply) may be finished later under the same number. `every refund reached the
    // customer exactly once` judges it from the ledger once faults heal.
    s.refunds.push(RequestedRefund {
        channel: order.channel.clone(),
        out_trade_no: order.out_trade_no.clone(),
        merchant: order.merchant.clone(),
        amount,
        out_refund_no: no,
    });
    // Let whatever the refund started at this instant happen.
    s.sb().advance(None).await.unwrap_or_else(|e| panic!("{e}"));
}

#[then(regex = r#"^every refund reached the customer exactly once$"#)]
async fn refunds_once(s: &mut Scene) {
    let held = s.refund_numbers();
    let v = refund_checks::refunds_exactly_once(
        &s.sb().lock().core.ledger,
        &s.orders,
        &s.refunds,
        &held,
    );
    if !v.is_empty() {
        s.fail(&v, false);
    }
}

#[then(
    regex = r#"^the customer got back exactly (\d+(?:\.\d+)?) ([A-Z]{3}) of order number (\d+)$"#
)]
async fn got_back(s: &mut Scene, amount: String, currency: String, n: usize) {
    let want = money(&amount, &currency);
    let order = n
        .checked_sub(1)
        .and_then(|i| s.orders.get(i))
        .cloned()
        .unwrap_or_else(|| panic!("there is no order number {n}"));
    let nos = s
        .refund_numbers()
        .remove(&order.out_trade_no)
        .unwrap_or_default();
    let got =
        crate::harness::checks::refunded_before(&s.sb().lock().core.ledger, &order, &nos, None);
    if got.amount != want.amount {
        let v = vec![crate::harness::checks::Violation {
            invariant: if got.amount > want.amount {
                "never refunds twice"
            } else {
                "every refund reaches the customer"
            },
            detail: format!(
                "the customer of order {} got back {got}, not {want}",
                order.out_trade_no
            ),
            references: std::iter::once(order.out_trade_no.clone())
                .chain(nos)
                .collect(),
        }];
        s.fail(&v, false);
    }
}
