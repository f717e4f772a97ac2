//! The payout API's two operations: `agentpay/apply` (submit one payout; accepted is not
//! paid — the reply says PROCESSING and the result comes from a query) and
//! `agentpay/query` (the latest payout under an order number).

use super::codec::{error, signed, Call};
use super::spec::{Client, OnDuplicate, Spec};
use super::SETTLE_TIMER;
use crate::banks::payouts::{Payout, PayoutStatus, Payouts};
use crate::clock::{checked_add, compact_local};
use crate::core::{Core, Event, Timer};
use crate::http::Reply;
use crate::ledger::{accounts, PostingKind};
use crate::money::{Currency, Money};
use hyper::StatusCode;
use serde_json::{json, Map};
use std::str::FromStr;

fn payout_reply(client: &Client, p: &Payout) -> Reply {
    let mut body = Map::new();
    body.insert("mchId".into(), json!(p.mch_id));
    body.insert("mchOrderNo".into(), json!(p.order_no));
    body.insert("agentpayOrderId".into(), json!(p.payout_id));
    body.insert(
        "amount".into(),
        json!(p.amount.to_minor().unwrap_or_default()),
    );
    body.insert("accountNo".into(), json!(p.payee_account_no));
    body.insert("status".into(), json!(p.status.as_str()));
    body.insert("createTime".into(), json!(compact_local(p.created_at)));
    if let Some(t) = p.succeeded_at {
        body.insert("paySuccTime".into(), json!(compact_local(t)));
    }
    if let Some(r) = &p.reason {
        body.insert("reason".into(), json!(r));
    }
    signed(client, body)
}

fn valid_order_no(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A submit request whose fields are all present and well-formed.
struct Submit {
    order_no: String,
    amount: Money,
    payee_no: String,
    payee_name: String,
}

/// Check a submit request's fields, or the `PARAM_ERROR` that names the first bad one.
fn read_submit(call: &Call) -> Result<Submit, Reply> {
    let f = &call.fields;
    for name in [
        "mchOrderNo",
        "amount",
        "accountNo",
        "accountName",
        "reqTime",
    ] {
        if f.get(name).is_none_or(|v| v.is_empty()) {
            return Err(error("PARAM_ERROR", &format!("missing {name}")));
        }
    }
    let order_no = f["mchOrderNo"].clone();
    if !valid_order_no(&order_no) {
        return Err(error(
            "PARAM_ERROR",
            "mchOrderNo must be 1–64 characters of A-Z, a-z, 0-9, _ and -",
        ));
    }
    let Ok(minor) = f["amount"].parse::<i64>() else {
        return Err(error(
            "PARAM_ERROR",
            "amount must be an integer number of fen",
        ));
    };
    if minor <= 0 {
        return Err(error("PARAM_ERROR", "amount must be positive"));
    }

    let currency = Currency::from_str(
        f.get("currency")
            .map(String::as_str)
            .filter(|c| !c.is_empty())
            .unwrap_or("CNY"),
    )
    .map_err(|e| error("PARAM_ERROR", &e.to_string()))?;
    let amount = Money::from_minor(minor, currency)
        .bounded()
        .map_err(|e| error("PARAM_ERROR", &format!("amount: {e}")))?;
    Ok(Submit {
        order_no,
        amount,
        payee_no: f["accountNo"].clone(),
        payee_name: f["accountName"].clone(),
    })
}

/// What the bank does with an order number it has seen: `None` to go on and pay, or the
/// reply that ends the request.
fn on_repeat(spec: &Spec, payouts: &Payouts, client: &Client, s: &Submit) -> Option<Reply> {
    let first = payouts.under(&client.mch_id, &s.order_no).next()?;
    match spec.on_duplicate {
        OnDuplicate::Reject => Some(error(
            "DUPLICATE_ORDER",
            &format!("mchOrderNo {} was already submitted", s.order_no),
        )),
        OnDuplicate::Replay => {
            // Idempotent APIs replay only a faithful repeat; the same key with another
            // payload is refused (Stripe, Razorpay: docs/protocols.md, "D.3 Idempotency on
            // the order number").
            if first.amount != s.amount
                || first.amount.currency != s.amount.currency
                || first.payee_account_no != s.payee_no
                || first.payee_name != s.payee_name
            {
                return Some(error(
                    "DUPLICATE_ORDER",
                    &format!(
                        "mchOrderNo {} was already submitted with a different amount, currency or payee",
                        s.order_no
                    ),
                ));
            }
            first
                .first_reply
                .as_ref()
                .map(|body| Reply::new(StatusCode::OK, "application/json", body.clone()))
        }
        OnDuplicate::PayAgain => None,
    }
}

/// `agentpay/apply`: accept (and pay) one payout, or refuse it. Money leaves the platform
/// account when the payout is accepted, so a reply lost after this point is a payout that
/// happened.
pub fn submit(spec: &Spec, payouts: &mut Payouts, core: &mut Core, call: &Call) -> Reply {
    let client = &call.client;
    let s = match read_submit(call) {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    if let Some(reply) = on_repeat(spec, payouts, client, &s) {
        return reply;
    }
    let now = core.now();
    // Everything that can fail is decided before money moves: a payout whose settlement
    // cannot be scheduled is refused, never paid and then left without an answer.
    let Ok(settle_at) = checked_add(now, spec.settle_after) else {
        return error("SYSTEM_ERROR", "the settlement time is out of range");
    };
    let from = accounts::bank_account(&spec.id, &client.account);
    let balance = core.ledger.balance(&from, s.amount.currency);
    // From the payout's own stream: the same submissions give the same ids whatever order
    // concurrent clients' requests arrive in.
    let payout_id = format!(
        "AP{}{}",
        compact_local(now),
        core.rng_for(
            &spec.id,
            &format!("payout/{}/{}", client.mch_id, s.order_no)
        )
        .digits(6)
    );
    let (status, reason, posting) = if balance.amount < s.amount.amount {
        (
            PayoutStatus::Failed,
            Some("INSUFFICIENT_FUNDS".to_string()),
            None,
        )
    } else {
        let payee = accounts::bank_payee(&spec.id, &s.payee_no);
        // Two legs of one amount and currency: balances by construction.
        let posting = core
            .transfer(
                PostingKind::Payout,
                &spec.id,
                &s.order_no,
                &from,
                &payee,
                s.amount,
                None,
            )
            .ok();
        (PayoutStatus::Processing, None, posting)
    };
    let mut payout = Payout {
        payout_id,
        mch_id: client.mch_id.clone(),
        order_no: s.order_no,
        amount: s.amount,
        from_account: client.account.clone(),
        payee_account_no: s.payee_no,
        payee_name: s.payee_name,
        status,
        reason,
        created_at: now,
        succeeded_at: None,
        first_reply: None,
        posting,
        return_posting: None,
    };
    let reply = payout_reply(client, &payout);
    payout.first_reply = Some(reply.body.clone());
    let index = payouts.push(payout);
    if status == PayoutStatus::Processing {
        core.schedule(
            settle_at,
            Event::Kind {
                instance: spec.id.clone(),
                timer: Timer {
                    name: SETTLE_TIMER,
                    key: index.to_string(),
                },
            },
        );
    }
    reply
}

/// `agentpay/query`: the latest payout under the order number.
pub fn query(payouts: &Payouts, call: &Call) -> Reply {
    let Some(order_no) = call.fields.get("mchOrderNo").filter(|v| !v.is_empty()) else {
        return error("PARAM_ERROR", "missing mchOrderNo");
    };
    match payouts.under(&call.client.mch_id, order_no).next_back() {
        Some(p) => payout_reply(&call.client, p),
        None => error("ORDER_NOT_EXIST", &format!("no payout {order_no}")),
    }
}
