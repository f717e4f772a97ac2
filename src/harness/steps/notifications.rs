//! Steps about notifications, business days and amounts: notifications lost for good,
//! forged ones, paying one order at a time (so that some stay unpaid, or are paid at a
//! chosen minute), and the checks that go with them.

use super::date;
use crate::core::Forgery;
use crate::faults::RawRule;
use crate::harness::scene::Scene;
use crate::harness::{ack_checks, notify_checks};
use crate::http;
use crate::journal::{EntryKind, Filter};
use cucumber::{given, then, when};
use std::time::Duration;

/// The `n`th order (from 1) the settlement system created in this scenario.
fn nth_order(s: &Scene, n: usize) -> (String, String) {
    let o = n
        .checked_sub(1)
        .and_then(|i| s.orders.get(i))
        .unwrap_or_else(|| {
            panic!(
                "there is no order number {n}: the settlement system created {} order(s) so far",
                s.orders.len()
            )
        });
    (o.channel.clone(), o.out_trade_no.clone())
}

#[given(regex = r#"^the channel "([^"]+)" loses every payment notification$"#)]
async fn notifications_lost(s: &mut Scene, channel: String) {
    // `drop` with no `times`: every attempt of every notification is dropped, so the
    // channel gives up after its 24-hour ladder without the merchant ever hearing.
    let raw = RawRule {
        target: Some(channel),
        op: Some("notify".into()),
        action: Some("drop".into()),
        ..Default::default()
    };
    if let Err(e) = s.sb().with(|st| st.add_fault(&raw)) {
        panic!("bad fault rule: {e}");
    }
}

#[when(regex = r#"^the customer pays order number (\d+)$"#)]
async fn pays_order(s: &mut Scene, n: usize) {
    let (channel, no) = nth_order(s, n);
    let url = format!("{}/_sandbank/channels/{channel}/orders/{no}/pay", s.url());
    let r = http::post(&url, "application/json", "", Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("pay {no}: {e}"));
    if !r.status.is_success() {
        panic!(
            "the customer could not pay order {no} at {channel}: HTTP {} {}",
            r.status,
            r.text()
        );
    }
    // Deliver the notification that is due now, and whatever it causes.
    s.sb().advance(None).await.unwrap_or_else(|e| panic!("{e}"));
}

#[when(
    regex = r#"^the channel sends a forged notification (with a bad signature|with a wrong amount|for an unknown order) about order number (\d+)$"#
)]
async fn forged_notification(s: &mut Scene, how: String, n: usize) {
    let how = match how.as_str() {
        "with a bad signature" => Forgery::BadSignature,
        "with a wrong amount" => Forgery::WrongAmount,
        _ => Forgery::UnknownOrder,
    };
    let (channel, no) = nth_order(s, n);
    if let Err(e) = s.sb().send_forged_notification(&channel, &no, how).await {
        panic!("sandbank could not forge the notification: {e}");
    }
}

/// Every callback entry of the scenario's journal. A journal that dropped entries for lack
/// of room cannot judge every notification: the step fails then rather than judge a part.
fn callbacks(s: &Scene) -> Vec<crate::journal::Entry> {
    let st = s.sb().lock();
    let j = &st.core.journal;
    assert!(
        j.dropped() == 0,
        "the journal dropped its {} oldest entries (it holds at most {} bytes), so not every \
         notification can be judged: give the scenario's world a larger `journal_bytes`",
        j.dropped(),
        j.max_bytes()
    );
    j.select(&Filter {
        kind: Some(EntryKind::Callback),
        ..Default::default()
    })
}

#[then(regex = r#"^the settlement system refused every forged notification from "([^"]+)"$"#)]
async fn forged_refused(s: &mut Scene, channel: String) {
    let journal = callbacks(s);
    let v = notify_checks::forged_notifications_refused(&journal, &channel);
    if !v.is_empty() {
        s.fail(&v, false);
    }
}

#[then(
    regex = r#"^every (payment|refund) notification "([^"]+)" sent was acknowledged in the channel's format$"#
)]
async fn notifications_acknowledged(s: &mut Scene, kind: String, channel: String) {
    let which = if kind == "refund" {
        ack_checks::Notifications::Refund
    } else {
        ack_checks::Notifications::Payment
    };
    let journal = callbacks(s);
    let v =
        ack_checks::notifications_acknowledged(&journal, &channel, which, &s.sut_down_windows());
    if !v.is_empty() {
        s.fail(&v, false);
    }
}

#[then(
    regex = r#"^merchant "([^"]+)" was paid for "([^"]+)" exactly what the days up to it owe, and nothing of later days$"#
)]
async fn paid_through_day(s: &mut Scene, label: String, day: String) {
    let m = s.merchant(&label).clone();
    let v = notify_checks::paid_through_day(&s.sb().lock().core.ledger, &m, &s.orders, date(&day));
    if !v.is_empty() {
        s.fail(&v, true);
    }
}
