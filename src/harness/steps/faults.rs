//! Steps that arm fault rules. The generic step takes a rule as JSON, exactly as the control
//! API accepts it; the others are readable shorthands for the classic situations.

use crate::faults::{RawRule, CALLBACK_OP, REFUND_CALLBACK_OP};
use crate::harness::scene::Scene;
use cucumber::gherkin::Step;
use cucumber::given;

/// Add a rule through the same path as the control API (validated, target checked,
/// journalled); a bad rule fails the step with the reason.
fn arm(s: &Scene, raw: RawRule) {
    if let Err(e) = s.sb().with(|st| st.add_fault(&raw)) {
        panic!("bad fault rule: {e}");
    }
}

/// Every payment (op `notify`) or refund (op `refund.notify`) notification of the channel
/// goes out `n` extra times, copies of the same notification.
#[given(
    regex = r#"^the channel "([^"]+)" sends every (payment|refund) notification (\d+) extra times?$"#
)]
async fn duplicated_notifications(s: &mut Scene, channel: String, kind: String, n: u32) {
    let op = if kind == "refund" {
        REFUND_CALLBACK_OP
    } else {
        CALLBACK_OP
    };
    arm(
        s,
        RawRule {
            target: Some(channel),
            op: Some(op.into()),
            action: Some("duplicate".into()),
            count: Some(n),
            ..Default::default()
        },
    );
}

#[given(
    regex = r#"^the bank "([^"]+)" executes the next payout but the reply is lost as a (timeout|reset)$"#
)]
async fn payout_reply_lost(s: &mut Scene, bank: String, how: String) {
    let then = if how == "timeout" { "hang" } else { "reset" };
    arm(
        s,
        RawRule {
            target: Some(bank),
            op: Some("payout.submit".into()),
            action: Some("commit_then_fail".into()),
            then: Some(then.into()),
            times: Some(1),
            ..Default::default()
        },
    );
}

#[given(regex = r#"^the fault rule:$"#)]
async fn fault_rule(s: &mut Scene, step: &Step) {
    let json = step
        .docstring
        .as_deref()
        .unwrap_or_else(|| panic!("give the rule as a doc string (JSON)"));
    let raw: RawRule =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("not a fault rule: {e}"));
    arm(s, raw);
}
