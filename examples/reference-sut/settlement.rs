//! T+1 settlement (结算) and the payout state machine: where money is lost, if anywhere.
//!
//! For a business day, each merchant is owed the sum of its payments booked on that day.
//! That becomes **one settlement order per merchant per day** whose number is unique and
//! deterministic (`S{yyyymmdd}{merchant}`), so running settlement again for the day finds
//! the same orders instead of making new ones. Payouts then run serially, one settlement
//! order at a time, under one lock (`App::payout_lane`) so two runs never drive an order
//! at once.
//!
//! Each settlement order moves through [`PayoutState`]:
//!
//! ```text
//! not_submitted --submit--> processing | success          (recorded; nothing more now)
//!                       \-> failed                         (stop: a human decides)
//!                       \-> not_submitted                  (definite refusal: same number next run)
//!                       \-> unknown --query--> processing | success | failed
//!                                         \-> ORDER_NOT_EXIST: not_submitted, then submit
//!                                             again under the SAME number
//!                                         \-> no answer: stay unknown, query next run
//! processing --query--> success | failed | processing
//! success --query (each later run)--> returned             (stop: a human decides)
//! ```
//!
//! An unknown outcome is always queried before anything else is done, a retry always
//! reuses the order number, and a failed or returned payout is never re-numbered
//! automatically. Each deliberate bug (`--bug`) breaks one of these rules; every one is
//! marked `BUG` below.

use crate::bank::{self, BankStatus, PayoutRequest, PayoutView, Queried, Submitted};
use crate::recon::major;
use crate::store::{PayoutState, SettlementOrder};
use crate::{App, Bug};
use chrono::NaiveDate;
use md5::{Digest, Md5};
use serde_json::{json, Value};

/// Longest bank order number the bank accepts (`mchOrderNo`, 1–64 of `[A-Za-z0-9_-]`).
pub const MAX_ORDER_NO_LEN: usize = 64;

/// Submissions of one settlement order in one run. Each after the first follows a query
/// that found no such order; three covers a lost request or two without hammering a bank
/// that is down. The next run carries on.
const MAX_SUBMISSIONS_PER_RUN: u32 = 3;

/// Steps (submits and queries) for one settlement order in one run: a guard against any
/// loop in the state machine, well above what a correct run needs (submit, query, submit,
/// query, submit, query).
const MAX_STEPS_PER_RUN: u32 = 8;

fn bank_alphabet(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The settlement order number of `merchant_id` for `date`: `S{yyyymmdd}{merchant_id}`.
/// A merchant id that is not all `[A-Za-z0-9_-]`, or too long, is sanitised and suffixed
/// with a hash of the original, so that two merchants never share a number.
pub fn order_no(date: NaiveDate, merchant_id: &str) -> String {
    let prefix = format!("S{}", date.format("%Y%m%d"));
    let plain = format!("{prefix}{merchant_id}");
    if merchant_id.chars().all(bank_alphabet) && plain.len() <= MAX_ORDER_NO_LEN {
        return plain;
    }
    let digest = Md5::digest(merchant_id.as_bytes());
    let hash = hex::encode(&digest[..5]);
    // Non-ASCII characters become `_`, so the result is ASCII and byte-sliceable.
    let clean: String = merchant_id
        .chars()
        .map(|c| if bank_alphabet(c) { c } else { '_' })
        .collect();
    let room = MAX_ORDER_NO_LEN - prefix.len() - hash.len() - 1;
    format!("{prefix}{}-{hash}", &clean[..clean.len().min(room)])
}

/// The bank order number the buggy variant invents after `n` numbers were used: `…R{n}`.
fn renumbered(order_no: &str, n: usize) -> String {
    let suffix = format!("R{n}");
    format!(
        "{}{suffix}",
        &order_no[..order_no.len().min(MAX_ORDER_NO_LEN - suffix.len())]
    )
}

/// Whether to take another step on a settlement order in this run.
enum Next {
    Continue,
    Stop,
}

/// Settle `date`: create the day's missing settlement orders, then drive every one that is
/// not final. Answers a summary of the day's settlement orders.
pub async fn run(app: &App, date: NaiveDate) -> Value {
    // One run at a time: payouts are serial, and two runs must never drive one order.
    // BUG `no-run-lock`: runs are not serialised; two at once both drive the same order.
    let _lane = match app.config.bug {
        Bug::NoRunLock => None,
        _ => Some(app.payout_lane.lock().await),
    };
    // Payments whose notification never arrived are owed too: find them first.
    crate::catchup::query_unheard(app).await;
    // Refunds still pending or processing: finish them (netting needs their outcome).
    crate::refunds::catch_up(app).await;
    let mut problems: Vec<String> = Vec::new();
    // A paid payout can be returned (退票) days later: the orders that were paid before
    // this run are asked about once more.
    let paid_before: Vec<String> = app
        .lock()
        .settlements_on(date)
        .filter(|s| s.state == PayoutState::Success)
        .map(|s| s.order_no.clone())
        .collect();
    let pending: Vec<String> = {
        let mut st = app.lock();
        for (merchant_id, owed) in st.owed_on(date) {
            let no = order_no(date, &merchant_id);
            if let Some(existing) = st
                .settlements
                .get(&no)
                .filter(|s| s.merchant_id == merchant_id && s.business_date == date)
            {
                if existing.amount_minor != owed {
                    // Payments booked after the order was made (a late notification). The
                    // order's amount is fixed once it may have reached the bank; paying the
                    // difference needs a supplementary order, which is a human decision here.
                    problems.push(format!(
                        "merchant {merchant_id}: {} booked for {date} but settlement order {no} is for {}; the difference is not settled automatically",
                        major(owed),
                        major(existing.amount_minor)
                    ));
                }
                continue;
            }
            let Some(m) = st.merchants.get(&merchant_id).cloned() else {
                problems.push(format!(
                    "merchant {merchant_id} has payments but is not onboarded"
                ));
                continue;
            };
            let order = SettlementOrder {
                order_no: no.clone(),
                business_date: date,
                merchant_id: merchant_id.clone(),
                account_no: m.account_no,
                account_name: m.account_name,
                amount_minor: owed,
                bank_order_no: no.clone(),
                bank_order_nos: Vec::new(),
                state: PayoutState::NotSubmitted,
                submissions: 0,
                note: None,
            };
            match st.insert_settlement(order) {
                Ok(()) => {
                    tracing::info!(order_no = %no, merchant_id = %merchant_id, amount = %major(owed), "settlement order created")
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        st.settlements_on(date)
            .filter(|s| !s.state.is_final())
            .map(|s| s.order_no.clone())
            .collect()
    };
    for no in &pending {
        drive(app, no).await;
    }
    for no in &paid_before {
        recheck(app, no).await;
    }
    let st = app.lock();
    let orders: Vec<Value> = st
        .settlements_on(date)
        .map(|s| {
            json!({
                "order_no": s.order_no,
                "merchant_id": s.merchant_id,
                "amount": major(s.amount_minor),
                "state": s.state,
                "bank_order_nos": s.bank_order_nos,
                "submissions": s.submissions,
                "note": s.note,
            })
        })
        .collect();
    let done = st.settlements_on(date).all(|s| s.state.is_final());
    json!({ "business_date": date.to_string(), "done": done, "orders": orders, "problems": problems })
}

fn update(app: &App, no: &str, f: impl FnOnce(&mut SettlementOrder)) {
    if let Some(s) = app.lock().settlements.get_mut(no) {
        f(s);
    }
}

/// Drive one settlement order as far as it can go in this run.
async fn drive(app: &App, no: &str) {
    let mut submissions = 0;
    for _ in 0..MAX_STEPS_PER_RUN {
        let Some(order) = app.lock().settlements.get(no).cloned() else {
            return;
        };
        let next = match order.state {
            PayoutState::Success | PayoutState::Failed | PayoutState::Returned => Next::Stop,
            PayoutState::NotSubmitted if submissions >= MAX_SUBMISSIONS_PER_RUN => {
                tracing::warn!(order_no = %no, "submitted {submissions} times in this run; the next run carries on");
                Next::Stop
            }
            PayoutState::NotSubmitted => {
                submissions += 1;
                // Write ahead: until the bank answers, the outcome is unknown. Were we to
                // stop here, the next step for this order would be a query, not a submit.
                update(app, no, |s| {
                    s.state = PayoutState::Unknown;
                    s.submissions += 1;
                    if !s.bank_order_nos.contains(&s.bank_order_no) {
                        s.bank_order_nos.push(s.bank_order_no.clone());
                    }
                });
                let request = PayoutRequest {
                    order_no: &order.bank_order_no,
                    amount_minor: order.amount_minor,
                    account_no: &order.account_no,
                    account_name: &order.account_name,
                };
                tracing::info!(order_no = %no, bank_order_no = %order.bank_order_no, amount = %major(order.amount_minor), "submitting payout");
                let outcome = bank::submit(&app.config, &request).await;
                after_submission(app, &order, outcome)
            }
            PayoutState::Unknown | PayoutState::Processing => {
                let outcome = bank::query(&app.config, &order.bank_order_no).await;
                after_query(app, &order, outcome)
            }
        };
        if let Next::Stop = next {
            return;
        }
    }
}

/// Ask the bank once more about a paid order: a return (退票) turns it `returned`, which
/// is reported for a human and not paid again. A failed query changes nothing.
async fn recheck(app: &App, no: &str) {
    let Some(order) = app.lock().settlements.get(no).cloned() else {
        return;
    };
    if order.state != PayoutState::Success {
        return;
    }
    match bank::query(&app.config, &order.bank_order_no).await {
        Queried::Found(view) if view.status == BankStatus::Returned => {
            let state = record_view(app, &order, view);
            if let Next::Continue = mutant_repay(app, &order, state) {
                drive(app, no).await;
            }
        }
        Queried::Found(_) => {}
        Queried::NotFound => {
            let note = format!(
                "the bank paid {} and now has no such order: needs a human",
                order.bank_order_no
            );
            tracing::error!(order_no = %no, "{note}");
            update(app, no, |s| s.note = Some(note));
        }
        Queried::Unknown(why) => {
            tracing::info!(order_no = %no, "re-checking a paid payout failed ({why}); the next run asks again");
        }
    }
}

/// Where the deliberate bugs that pay a settled question again under a new number act,
/// given the state just recorded for `order` (as it was before the answer). The correct
/// system always stops here.
fn mutant_repay(app: &App, order: &SettlementOrder, state: PayoutState) -> Next {
    let why = match (app.config.bug, state) {
        // BUG `failed-retried`: a FAILED payout is paid again at once under a new number.
        (Bug::FailedRetried, PayoutState::Failed) => "failed",
        // BUG `returned-repaid`: a RETURNED payout is paid again at once under a new number.
        (Bug::ReturnedRepaid, PayoutState::Returned) => "returned",
        // BUG `processing-as-failed`: a payout still PROCESSING when a later run asks about
        // it is taken for failed ("stuck") and paid again under a new number.
        (Bug::ProcessingAsFailed, PayoutState::Processing)
            if order.state == PayoutState::Processing =>
        {
            "still processing: taken for failed"
        }
        _ => return Next::Stop,
    };
    repay_under_new_number(app, order, why);
    Next::Continue
}

/// What the buggy variants do instead of stopping or querying: give the settlement order a
/// new bank order number (`…R{n}`) and submit it again. Never done by the correct system.
fn repay_under_new_number(app: &App, order: &SettlementOrder, why: &str) {
    update(app, &order.order_no, |s| {
        // `bank_order_nos` already holds every number sent: the next is attempt len+1.
        let new_no = renumbered(&s.order_no, s.bank_order_nos.len());
        tracing::warn!(order_no = %s.order_no, "payout {}: {why}; (bug) re-submitting as {new_no}", s.bank_order_no);
        s.bank_order_no = new_no;
        s.state = PayoutState::NotSubmitted;
    });
}

/// Record what the bank said about an order (a submission's or a query's answer); answers
/// the state recorded.
fn record_view(app: &App, order: &SettlementOrder, view: PayoutView) -> PayoutState {
    let state = match view.status {
        BankStatus::Processing => PayoutState::Processing,
        BankStatus::Success => PayoutState::Success,
        BankStatus::Failed => PayoutState::Failed,
        BankStatus::Returned => PayoutState::Returned,
    };
    let mut note = None;
    if view.amount_minor != order.amount_minor {
        note = Some(format!(
            "the bank holds {} for {} but we owe {}: needs a human",
            major(view.amount_minor),
            order.bank_order_no,
            major(order.amount_minor)
        ));
    } else if state == PayoutState::Failed {
        note = Some(format!(
            "payout failed ({}); not retried: paying under a new number is a human decision",
            view.reason.as_deref().unwrap_or("no reason given")
        ));
    } else if state == PayoutState::Returned {
        note = Some(format!(
            "payout returned by the beneficiary's bank ({}); the money is back and the merchant is owed again: paying again is a human decision",
            view.reason.as_deref().unwrap_or("no reason given")
        ));
    }
    tracing::info!(order_no = %order.order_no, bank_order_no = %order.bank_order_no, state = ?state, "payout recorded");
    if let Some(n) = &note {
        tracing::warn!(order_no = %order.order_no, "{n}");
    }
    // The bank's word settles the order: an earlier "outcome unknown" note no longer applies.
    update(app, &order.order_no, |s| {
        s.state = state;
        s.note = note;
    });
    state
}

fn after_submission(app: &App, order: &SettlementOrder, outcome: Submitted) -> Next {
    match outcome {
        Submitted::Taken(view) => {
            let state = record_view(app, order, view);
            mutant_repay(app, order, state)
        }
        Submitted::Refused(why) => {
            // The bank did not take the order: it may be sent again, under the same number,
            // by a later run (after someone fixes whatever made the bank refuse it).
            tracing::warn!(order_no = %order.order_no, "payout refused: {why}");
            update(app, &order.order_no, |s| {
                s.state = PayoutState::NotSubmitted;
                s.note = Some(format!("refused by the bank: {why}"));
            });
            Next::Stop
        }
        Submitted::Unknown { reason, lost_reply }
            if lost_reply && app.config.bug == Bug::NewOrderNoOnRetry =>
        {
            // BUG `new-order-no-on-retry`: a timeout is taken for "not paid" and the payout is
            // sent again at once under a new number, without asking the bank. When the bank
            // did execute the first request, the merchant is paid twice.
            repay_under_new_number(app, order, &format!("{reason}: taken for not paid"));
            Next::Continue
        }
        Submitted::Unknown { reason, lost_reply }
            if lost_reply && app.config.bug == Bug::BlindResubmit =>
        {
            // BUG `blind-resubmit`: a lost reply is answered by sending the same request
            // again at once, under the same number, without asking the bank first. A bank
            // that replays a repeated number makes this harmless; one that pays it again
            // pays twice.
            tracing::warn!(order_no = %order.order_no, "payout {}: {reason}; (bug) re-submitting it as it was", order.bank_order_no);
            update(app, &order.order_no, |s| {
                s.state = PayoutState::NotSubmitted
            });
            Next::Continue
        }
        Submitted::Unknown { reason, .. } => {
            // Query before anything else.
            tracing::warn!(order_no = %order.order_no, "payout outcome unknown ({reason}): querying");
            update(app, &order.order_no, |s| {
                s.note = Some(format!("outcome unknown: {reason}"))
            });
            Next::Continue
        }
    }
}

fn after_query(app: &App, order: &SettlementOrder, outcome: Queried) -> Next {
    match outcome {
        Queried::Found(view) => {
            let state = record_view(app, order, view);
            mutant_repay(app, order, state)
        }
        Queried::NotFound if order.state == PayoutState::Unknown => {
            // The bank never took it: send it again, under the same number.
            tracing::info!(order_no = %order.order_no, "the bank has no order {}: re-submitting under the same number", order.bank_order_no);
            update(app, &order.order_no, |s| {
                s.state = PayoutState::NotSubmitted
            });
            Next::Continue
        }
        Queried::NotFound => {
            // The bank accepted it before and now does not know it: never pay on that.
            let note = format!(
                "the bank accepted {} and now has no such order: needs a human",
                order.bank_order_no
            );
            tracing::error!(order_no = %order.order_no, "{note}");
            update(app, &order.order_no, |s| s.note = Some(note));
            Next::Stop
        }
        Queried::Unknown(why) if app.config.bug == Bug::QueryErrorAsMissing => {
            // BUG `query-error-as-missing`: a query that got no usable answer is read as "the
            // bank has no such order", and the payout is sent again under a new number. When
            // the first one went through, the merchant is paid twice.
            repay_under_new_number(
                app,
                order,
                &format!("query failed ({why}): taken for not found"),
            );
            Next::Continue
        }
        Queried::Unknown(why) => {
            tracing::warn!(order_no = %order.order_no, "payout query failed ({why}); the next run asks again");
            update(app, &order.order_no, |s| {
                s.note = Some(format!("query failed: {why}"))
            });
            Next::Stop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
    }

    #[test]
    fn order_numbers_are_deterministic_and_in_the_bank_alphabet() {
        assert_eq!(order_no(day(), "M1"), "S20260302M1");
        assert_eq!(order_no(day(), "M1"), order_no(day(), "M1"));
        let odd = order_no(day(), "商户 a.b");
        assert!(odd.chars().all(bank_alphabet), "{odd}");
        // Sanitising alone would make these two equal; the hash keeps them apart.
        assert_ne!(order_no(day(), "a.b"), order_no(day(), "a_b"));
        assert_ne!(order_no(day(), "a.b"), order_no(day(), "a,b"));
        let long = order_no(day(), &"x".repeat(100));
        assert!(long.len() <= MAX_ORDER_NO_LEN);
        assert_ne!(long, order_no(day(), &"x".repeat(101)));
    }

    #[test]
    fn renumbering_stays_within_the_limit() {
        assert_eq!(renumbered("S20260302M1", 1), "S20260302M1R1");
        assert!(renumbered(&"y".repeat(64), 12).len() <= MAX_ORDER_NO_LEN);
    }
}
