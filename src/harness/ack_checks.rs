//! **Every notification acknowledged**, judged copy by copy from sandbank's journal.
//!
//! A channel counts every copy of a notification it sends: a copy answered with anything but
//! its acknowledgement is a failed delivery it retries on its ladder (and, at a real channel,
//! counts against the merchant). So a correct settlement system acknowledges **every copy**
//! of every genuine payment or refund notification that reaches it — the first and the
//! repeats, copies sent together and retries alike — not merely one of them.
//!
//! What is not asked of it (the oracle never demands the impossible):
//!
//! - a copy that never reached it: dropped by a fault rule (`not sent (dropped)`), refused
//!   by sandbank before sending (a `notify_url` under `/_sandbank/`), or still waiting on
//!   the ladder when the scenario ends;
//! - a copy that got no answer at all (connection refused or reset, no answer in 5 s) while
//!   the harness had the settlement system stopped (between stopping or crashing it and its
//!   start again: [`SutDown`]); the channel retries it later, and that later copy is judged;
//! - a forged notification: it is journalled under its own operation (`notify.forged`) and
//!   judged by *forged notifications refused*, which wants the opposite answer.
//!
//! A copy with no answer while the settlement system was running is its failure like a
//! refusal (it had 5 s to answer).

use super::checks::Violation;
use crate::faults::{CALLBACK_OP, REFUND_CALLBACK_OP};
use crate::journal::{Entry, EntryKind};
use std::collections::BTreeMap;

/// Journal positions (`seq`, inclusive) between which the harness had the settlement system
/// stopped: from just before it stopped it to just after the new process was ready.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SutDown(pub Vec<(u64, u64)>);

impl SutDown {
    fn covers(&self, seq: u64) -> bool {
        self.0.iter().any(|(from, to)| (*from..=*to).contains(&seq))
    }
}

/// Which notifications a check judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notifications {
    /// Payment notifications (journal op `notify`).
    Payment,
    /// Refund notifications (journal op `refund.notify`, WeChat and Alipay alike).
    Refund,
    /// Both.
    All,
}

impl Notifications {
    fn covers(self, op: &str) -> bool {
        match self {
            Notifications::Payment => op == CALLBACK_OP,
            Notifications::Refund => op == REFUND_CALLBACK_OP,
            Notifications::All => op == CALLBACK_OP || op == REFUND_CALLBACK_OP,
        }
    }
}

/// What the journal says of one notification (one order's payment notification, or one
/// refund's refund notification).
#[derive(Debug, Default)]
struct Delivery {
    /// Copies that reached the settlement system and were judged (excused ones left out).
    judged: usize,
    /// Of those, the acknowledged ones.
    acked: usize,
    /// Each judged copy that was not acknowledged: which copy, and what it got.
    failures: Vec<(String, String)>,
}

/// The part of a delivery message that names the copy: `attempt 2` or `attempt 1 (copy 3 of
/// 3, sent together)`.
fn which_copy(message: &str) -> &str {
    message.split(" to ").next().unwrap_or(message)
}

/// **Every notification acknowledged**: every copy of every payment or refund notification
/// of `channel` (as `which` selects) that reached the settlement system was acknowledged in
/// the channel's format — except the copies that got no answer while the harness had it
/// stopped (`down`). See the module documentation for the rule.
pub fn notifications_acknowledged(
    journal: &[Entry],
    channel: &str,
    which: Notifications,
    down: &SutDown,
) -> Vec<Violation> {
    let mut by_id: BTreeMap<(bool, &str), Delivery> = BTreeMap::new();
    for e in journal
        .iter()
        .filter(|e| e.kind == EntryKind::Callback && &*e.instance == channel && which.covers(&e.op))
    {
        let (Some(reference), Some(response)) = (e.reference.as_deref(), e.response.as_ref())
        else {
            // Scheduling notes and dropped or refused-before-sending attempts carry no answer.
            continue;
        };
        let answered = e.status.is_some();
        if !answered && down.covers(e.seq) {
            // No answer while the harness had the settlement system stopped: not its failure.
            continue;
        }
        let d = by_id
            .entry((&*e.op == REFUND_CALLBACK_OP, reference))
            .or_default();
        d.judged += 1;
        if e.acked == Some(true) {
            d.acked += 1;
        } else {
            let got = match e.status {
                Some(s) => format!("HTTP {s} `{}`", response.text().trim()),
                None => format!(
                    "no answer {} while the settlement system was running",
                    response.text().trim()
                ),
            };
            d.failures.push((which_copy(&e.message).to_string(), got));
        }
    }
    if by_id.values().all(|d| d.judged == 0) {
        return vec![Violation {
            invariant: "every notification acknowledged",
            detail: format!(
                "no {} notification of {channel} reached the settlement system in this scenario, so nothing was checked",
                match which {
                    Notifications::Payment => "payment",
                    Notifications::Refund => "refund",
                    Notifications::All => "payment or refund",
                }
            ),
            references: Vec::new(),
        }];
    }
    by_id
        .into_iter()
        .filter(|(_, d)| !d.failures.is_empty())
        .map(|((refund, reference), d)| {
            let what = if refund {
                format!("refund notification for refund {reference}")
            } else {
                format!("payment notification for order {reference}")
            };
            let detail = if d.acked == 0 {
                format!(
                    "the {what} was sent {} time(s) and never acknowledged in {channel}'s format; the last answer was {}",
                    d.judged,
                    d.failures
                        .last()
                        .map(|(copy, got)| format!("{got}, at {copy}"))
                        .unwrap_or_default()
                )
            } else {
                let shown: Vec<String> = d
                    .failures
                    .iter()
                    .take(3)
                    .map(|(copy, got)| format!("{copy} got {got}"))
                    .collect();
                format!(
                    "{} of the {} copies of the {what} that reached the settlement system were not acknowledged in {channel}'s format (only {} were): {}{}. Every copy must be acknowledged: the channel counts each one it sends, and retries and reports the ones that fail",
                    d.failures.len(),
                    d.judged,
                    d.acked,
                    shown.join("; "),
                    if d.failures.len() > shown.len() { "; …" } else { "" }
                )
            };
            Violation {
                invariant: "every notification acknowledged",
                detail,
                references: vec![reference.to_string()],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{parse_instant, SHANGHAI};
    use crate::journal::{Journal, Record};

    /// A delivery: `status` None with a response is a transport error.
    fn callback(
        j: &mut Journal,
        op: &'static str,
        reference: &str,
        status: Option<u16>,
        response: Option<&str>,
        message: &str,
    ) -> u64 {
        let at = parse_instant("2026-03-02 10:00", SHANGHAI).unwrap();
        j.push(
            at,
            EntryKind::Callback,
            Record {
                instance: "wxpay".into(),
                op: op.into(),
                reference: Some(reference.into()),
                status,
                message: message.into(),
                request: None,
                response: response.map(Into::into),
                // As the world records it: whether the channel's ack rule took the answer.
                acked: response.map(|_| message.ends_with(": acknowledged")),
                ..Default::default()
            },
        )
    }

    fn entries(j: &Journal) -> Vec<Entry> {
        j.select(&crate::journal::Filter::default())
    }

    fn check(j: &Journal, which: Notifications, down: &SutDown) -> Vec<Violation> {
        notifications_acknowledged(&entries(j), "wxpay", which, down)
    }

    const ACK: &str = "<xml><return_code>SUCCESS</return_code></xml>";
    const FAIL: &str = "<xml><return_code>FAIL</return_code></xml>";

    #[test]
    fn a_notification_answered_in_the_wrong_format_is_never_acknowledged() {
        let mut j = Journal::default();
        let up = SutDown::default();
        callback(
            &mut j,
            "notify",
            "O1",
            Some(200),
            Some(ACK),
            "attempt 1 to http://x: acknowledged",
        );
        callback(
            &mut j,
            "notify",
            "O2",
            None,
            None,
            "attempt 1 not sent (dropped) to http://x",
        );
        assert!(check(&j, Notifications::All, &up).is_empty());
        for n in 1..=2 {
            let m = format!("attempt {n} to http://x: not acknowledged");
            callback(&mut j, "notify", "O3", Some(200), Some("success"), &m);
        }
        let v = check(&j, Notifications::All, &up);
        assert_eq!(v.len(), 1);
        assert!(v[0].detail.contains("order O3 was sent 2 time(s) and never acknowledged in wxpay's format; the last answer was HTTP 200 `success`, at attempt 2"), "{}", v[0].detail);
    }

    #[test]
    fn every_copy_must_be_acknowledged_not_just_one() {
        let mut j = Journal::default();
        let up = SutDown::default();
        callback(
            &mut j,
            "notify",
            "O1",
            Some(200),
            Some(ACK),
            "attempt 1 (copy 1 of 3, sent together) to http://x: acknowledged",
        );
        callback(
            &mut j,
            "notify",
            "O1",
            Some(200),
            Some(ACK),
            "attempt 1 (copy 2 of 3, sent together) to http://x: acknowledged",
        );
        callback(
            &mut j,
            "notify",
            "O1",
            Some(200),
            Some(ACK),
            "attempt 1 (copy 3 of 3, sent together) to http://x: acknowledged",
        );
        assert!(check(&j, Notifications::Payment, &up).is_empty());
        // One copy answered FAIL ("already booked") though another was acknowledged.
        callback(
            &mut j,
            "notify",
            "O2",
            Some(200),
            Some(ACK),
            "attempt 1 (copy 1 of 2, sent together) to http://x: acknowledged",
        );
        callback(
            &mut j,
            "notify",
            "O2",
            Some(200),
            Some(FAIL),
            "attempt 1 (copy 2 of 2, sent together) to http://x: not acknowledged",
        );
        let v = check(&j, Notifications::Payment, &up);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].detail.contains("1 of the 2 copies of the payment notification for order O2 that reached the settlement system were not acknowledged in wxpay's format (only 1 were): attempt 1 (copy 2 of 2, sent together) got HTTP 200 `<xml><return_code>FAIL</return_code></xml>`"), "{}", v[0].detail);
        assert_eq!(v[0].references, vec!["O2".to_string()]);
    }

    #[test]
    fn no_answer_is_excused_only_while_the_harness_had_the_system_stopped() {
        let mut j = Journal::default();
        // Connection refused while stopped, then acknowledged after the restart.
        let refused = callback(
            &mut j,
            "notify",
            "O1",
            None,
            Some("(connection refused)"),
            "attempt 1 to http://x: not acknowledged",
        );
        callback(
            &mut j,
            "notify",
            "O1",
            Some(200),
            Some(ACK),
            "attempt 2 to http://x: acknowledged",
        );
        let down = SutDown(vec![(refused - 1, refused)]);
        assert!(check(&j, Notifications::All, &down).is_empty());
        // The same while it was running is its failure.
        let v = check(&j, Notifications::All, &SutDown::default());
        assert_eq!(v.len(), 1);
        assert!(v[0].detail.contains("attempt 1 got no answer (connection refused) while the settlement system was running"), "{}", v[0].detail);
        // Stopped for good: nothing could be acknowledged, nothing is demanded.
        let mut j = Journal::default();
        let seq = callback(
            &mut j,
            "refund.notify",
            "R1",
            None,
            Some("(timeout)"),
            "attempt 1 to http://x: not acknowledged",
        );
        callback(
            &mut j,
            "refund.notify",
            "R0",
            Some(200),
            Some(ACK),
            "attempt 1 to http://x: acknowledged",
        );
        assert!(check(&j, Notifications::Refund, &SutDown(vec![(seq, u64::MAX)])).is_empty());
        // An HTTP answer is judged whenever it came: something answered for the system.
        let seq = callback(
            &mut j,
            "refund.notify",
            "R2",
            Some(500),
            Some("down"),
            "attempt 1 to http://x: not acknowledged",
        );
        assert_eq!(
            check(&j, Notifications::Refund, &SutDown(vec![(0, seq)])).len(),
            1
        );
    }

    #[test]
    fn a_scenario_where_no_notification_arrived_checks_nothing_and_says_so() {
        let mut j = Journal::default();
        callback(
            &mut j,
            "notify",
            "O1",
            None,
            None,
            "attempt 1 not sent (dropped) to http://x",
        );
        let v = check(&j, Notifications::Payment, &SutDown::default());
        assert_eq!(v.len(), 1);
        assert!(
            v[0].detail
                .contains("no payment notification of wxpay reached the settlement system"),
            "{}",
            v[0].detail
        );
    }

    #[test]
    fn refund_and_payment_notifications_are_told_apart() {
        let mut j = Journal::default();
        let up = SutDown::default();
        callback(
            &mut j,
            REFUND_CALLBACK_OP,
            "R1",
            Some(200),
            Some(ACK),
            "attempt 1 to http://x: acknowledged",
        );
        // The same number as a payment notification's order is another notification.
        callback(
            &mut j,
            CALLBACK_OP,
            "R1",
            Some(200),
            Some(ACK),
            "attempt 1 to http://x: acknowledged",
        );
        assert!(check(&j, Notifications::All, &up).is_empty());
        callback(
            &mut j,
            REFUND_CALLBACK_OP,
            "R2",
            Some(200),
            Some(FAIL),
            "attempt 1 to http://x: not acknowledged",
        );
        let v = check(&j, Notifications::All, &up);
        assert_eq!(v.len(), 1);
        assert!(
            v[0].detail.contains(
                "the refund notification for refund R2 was sent 1 time(s) and never acknowledged"
            ),
            "{}",
            v[0].detail
        );
        assert!(check(&j, Notifications::Payment, &up).is_empty());
        assert_eq!(check(&j, Notifications::Refund, &up).len(), 1);
        // A forged notification is not judged here.
        callback(
            &mut j,
            crate::world::forge::FORGED_OP,
            "O9",
            Some(200),
            Some(FAIL),
            "forged notification with a bad signature to http://x: not acknowledged (refused)",
        );
        assert!(check(&j, Notifications::Payment, &up).is_empty());
    }
}
