//! Refunds: asking the channel to give a customer money back (`secapi/pay/refund`), learning
//! how each ended (`pay/refundquery`, and the refund notification whose `req_info` is
//! AES-256-ECB encrypted with the MD5 of our API key), and the refund policy.
//!
//! The rules a correct system keeps:
//! - One refund, one refund number. The number is recorded before the channel hears of it,
//!   and every retry after an unknown outcome (a timeout, a lost reply, `SYSTEMERROR`) goes
//!   out under the **same** number: the channel refunds one number once.
//! - `PROCESSING` is not a failure, however long it lasts: ask again later.
//! - Refunds of one order never exceed what it brought in.
//! - A refund of a paid order whose payment notification has not arrived yet is still a
//!   refund of a paid order: ask the channel (`pay/orderquery`) and book the payment first.
//! - Policy `pre_deposit` (the default): refunds come out of the merchant's pre-deposit and
//!   settlement pays its payments in full. `netted`: the payout for day D is the payments of
//!   D less the refunds that succeeded on D.

use crate::alipay;
use crate::store::{Booking, ChannelKind, OrderState};
use crate::wxpay::{self, CallError, OrderStatus};
use crate::{ApiError, App, Bug};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Attempts at one refund request under one number within a `create_refund` call.
const REFUND_ATTEMPTS: u32 = 3;

/// How refunds are paid for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[clap(rename_all = "snake_case")]
pub enum Policy {
    /// From the merchant's pre-deposit; settlement is not reduced.
    #[default]
    PreDeposit,
    /// Netted against the settlement of the day the refund succeeded.
    Netted,
}

/// Where a refund stands in our books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefundState {
    /// Recorded, not yet accepted by the channel (or its outcome unknown): sent again
    /// under the same number by the next settlement run.
    Pending,
    /// Accepted by the channel, not finished.
    Processing,
    /// The customer has the money.
    Success,
    /// Ended without money moving (CHANGE, REFUNDCLOSE) or refused: a human looks at it.
    Failed,
}

/// One refund in our books.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refund {
    /// Our refund number (`out_refund_no`).
    pub out_refund_no: String,
    /// The order refunded.
    pub out_trade_no: String,
    /// Whose order.
    pub merchant_id: String,
    /// Fen.
    pub amount_minor: i64,
    /// Where it stands.
    pub state: RefundState,
    /// The Beijing date it succeeded (from `refund_success_time` / `success_time`).
    pub business_date: Option<NaiveDate>,
}

#[derive(Deserialize)]
struct RefundBody {
    merchant_id: String,
    out_trade_no: String,
    amount_minor: i64,
    #[serde(default)]
    channel: Option<String>,
}

/// `POST /refunds`: refund part or all of a paid order; answer our refund number once the
/// channel accepted it.
pub async fn create(app: &App, body: &[u8]) -> Result<Value, ApiError> {
    let b: RefundBody = crate::app::parse_json(body)?;
    if b.amount_minor <= 0 {
        return Err(ApiError::bad_request(
            "`amount_minor` must be a positive whole number of fen",
        ));
    }
    if let Some(c) = b
        .channel
        .as_deref()
        .filter(|c| *c != app.config.channel && *c != app.config.alipay_channel)
    {
        return Err(ApiError::bad_request(format!(
            "this system takes payments through channels `{}` and `{}` only, not `{c}`",
            app.config.channel, app.config.alipay_channel
        )));
    }
    let order = app
        .lock()
        .orders
        .get(&b.out_trade_no)
        .cloned()
        .filter(|o| o.merchant_id == b.merchant_id)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "merchant {} has no order {}",
                b.merchant_id, b.out_trade_no
            ))
        })?;
    if order.state != OrderState::Paid {
        // BUG `refund-needs-notified-payment`: refuses until the payment notification came.
        if app.config.bug == Bug::RefundNeedsNotifiedPayment {
            return Err(ApiError::conflict(format!(
                "order {} is not paid (no payment notification yet)",
                b.out_trade_no
            )));
        }
        // The notification may be late: ask the channel, and book the payment it reports.
        let status = match order.kind {
            ChannelKind::Wxpay => wxpay::order_query(&app.config, &b.out_trade_no).await?,
            ChannelKind::Alipay => alipay::query(&app.config, &b.out_trade_no).await?,
        };
        match status {
            OrderStatus::Paid(p) if p.out_trade_no == b.out_trade_no => {
                if let Booking::Refused(why) = app.lock().book(&p) {
                    return Err(ApiError::conflict(why));
                }
            }
            _ => {
                return Err(ApiError::conflict(format!(
                    "order {} is not paid",
                    b.out_trade_no
                )))
            }
        }
    }
    // Record the refund under its number before the channel hears of it.
    let no = {
        let mut st = app.lock();
        let taken: i64 = st
            .refunds
            .values()
            .filter(|r| r.out_trade_no == b.out_trade_no && r.state != RefundState::Failed)
            .map(|r| r.amount_minor)
            .sum();
        if taken.saturating_add(b.amount_minor) > order.amount_minor {
            return Err(ApiError::conflict(format!(
                "order {} brought in {} fen and {taken} are refunded already: {} more is too much",
                b.out_trade_no, order.amount_minor, b.amount_minor
            )));
        }
        let no = if app.config.bug == Bug::RefundNoPerOrder {
            // BUG `refund-no-per-order`: one refund number per order; the channel answers a
            // second partial refund of the same amount with the first one again.
            format!("RF{}", b.out_trade_no)
        } else {
            let seq = st.next_refund_seq();
            format!("RF{}{seq:06}", app.config.run_tag)
        };
        st.refunds.insert(
            no.clone(),
            Refund {
                out_refund_no: no.clone(),
                out_trade_no: b.out_trade_no.clone(),
                merchant_id: b.merchant_id.clone(),
                amount_minor: b.amount_minor,
                state: RefundState::Pending,
                business_date: None,
            },
        );
        no
    };
    let mut attempt_no = no.clone();
    for attempt in 1..=REFUND_ATTEMPTS {
        match send(
            app,
            order.kind,
            &attempt_no,
            &order.out_trade_no,
            order.amount_minor,
            b.amount_minor,
        )
        .await
        {
            Ok(day) => {
                let state = match day {
                    Some(_) => RefundState::Success,
                    None => RefundState::Processing,
                };
                set_state(app, &attempt_no, state, day);
                tracing::info!(out_refund_no = %attempt_no, out_trade_no = %order.out_trade_no, amount_minor = b.amount_minor, "refund accepted by the channel");
                return Ok(json!({ "out_refund_no": attempt_no }));
            }
            Err(e @ CallError::Unknown(_)) => {
                tracing::warn!(out_refund_no = %attempt_no, attempt, "refund: {e}");
                if app.config.bug == Bug::RefundGivesUpOnSystemerror {
                    // BUG `refund-gives-up-on-systemerror`: an unknown outcome taken as final.
                    set_state(app, &attempt_no, RefundState::Failed, None);
                    return Ok(json!({ "out_refund_no": attempt_no }));
                }
                if app.config.bug == Bug::NewRefundNoOnRetry {
                    // BUG `new-refund-no-on-retry`: the refund is given up under its number
                    // and queued again under a new one (sent by the next settlement run,
                    // since the channel wants a minute between refunds of one order).
                    let mut st = app.lock();
                    let seq = st.next_refund_seq();
                    let new_no = format!("RF{}{seq:06}", app.config.run_tag);
                    if let Some(mut r) = st.refunds.get(&attempt_no).cloned() {
                        r.state = RefundState::Failed;
                        st.refunds.insert(attempt_no.clone(), r.clone());
                        r.out_refund_no = new_no.clone();
                        r.state = RefundState::Pending;
                        st.refunds.insert(new_no.clone(), r);
                    }
                    return Ok(json!({ "out_refund_no": new_no }));
                }
            }
            Err(e @ CallError::Refused { .. }) => {
                set_state(app, &attempt_no, RefundState::Failed, None);
                return Err(e.into());
            }
        }
        attempt_no = no.clone();
    }
    // Still unknown: it stays Pending and the next settlement run sends it again under the
    // same number (or learns it went through).
    Ok(json!({ "out_refund_no": no }))
}

/// Send refund `no` to the order's channel. WeChat accepts it (`Ok(None)`: processing);
/// Alipay refunds at once (`Ok(Some(day))`: paid back on that Beijing date).
async fn send(
    app: &App,
    kind: ChannelKind,
    no: &str,
    out_trade_no: &str,
    total_minor: i64,
    refund_minor: i64,
) -> Result<Option<NaiveDate>, CallError> {
    match kind {
        ChannelKind::Wxpay => {
            wxpay::refund(&app.config, no, out_trade_no, total_minor, refund_minor)
                .await
                .map(|()| None)
        }
        ChannelKind::Alipay => alipay::refund(&app.config, no, out_trade_no, refund_minor)
            .await
            .map(Some),
    }
}

fn set_state(app: &App, no: &str, state: RefundState, day: Option<NaiveDate>) {
    let mut st = app.lock();
    if let Some(r) = st.refunds.get_mut(no) {
        r.state = state;
        if day.is_some() {
            r.business_date = day;
        }
    }
}

/// Before settling: send pending refunds again under their numbers, and ask the channel
/// about those still processing.
pub async fn catch_up(app: &App) {
    let open: Vec<Refund> = app
        .lock()
        .refunds
        .values()
        .filter(|r| matches!(r.state, RefundState::Pending | RefundState::Processing))
        .cloned()
        .collect();
    for r in open {
        let kind = app
            .lock()
            .orders
            .get(&r.out_trade_no)
            .map_or(ChannelKind::Wxpay, |o| o.kind);
        let status = match kind {
            ChannelKind::Wxpay => wxpay::refund_query(&app.config, &r.out_refund_no).await,
            ChannelKind::Alipay => {
                alipay::refund_query(&app.config, &r.out_trade_no, &r.out_refund_no).await
            }
        };
        match status {
            Ok(wxpay::RefundStatus::Success(day)) => {
                set_state(app, &r.out_refund_no, RefundState::Success, Some(day))
            }
            Ok(wxpay::RefundStatus::Ended(status)) => {
                tracing::error!(out_refund_no = %r.out_refund_no, status = %status, "refund ended without money moving: a human settles it");
                set_state(app, &r.out_refund_no, RefundState::Failed, None)
            }
            Ok(wxpay::RefundStatus::Processing) => {
                if app.config.bug == Bug::ProcessingRefundAsFailed {
                    // BUG `processing-refund-as-failed`: a refund still PROCESSING is taken
                    // for a failed one and sent again under a new number.
                    let new_no = {
                        let mut st = app.lock();
                        let seq = st.next_refund_seq();
                        let new_no = format!("RF{}{seq:06}", app.config.run_tag);
                        let mut again = r.clone();
                        again.out_refund_no = new_no.clone();
                        again.state = RefundState::Pending;
                        st.refunds.insert(new_no.clone(), again);
                        if let Some(old) = st.refunds.get_mut(&r.out_refund_no) {
                            old.state = RefundState::Failed;
                        }
                        new_no
                    };
                    resend(app, &r, &new_no).await;
                }
            }
            Ok(wxpay::RefundStatus::NotExist) => resend(app, &r, &r.out_refund_no).await,
            Err(e) => {
                tracing::warn!(out_refund_no = %r.out_refund_no, "refundquery: {e}; asked again next run")
            }
        }
    }
}

async fn resend(app: &App, r: &Refund, no: &str) {
    let (kind, total) = app
        .lock()
        .orders
        .get(&r.out_trade_no)
        .map_or((ChannelKind::Wxpay, 0), |o| (o.kind, o.amount_minor));
    match send(app, kind, no, &r.out_trade_no, total, r.amount_minor).await {
        Ok(None) => set_state(app, no, RefundState::Processing, None),
        Ok(Some(day)) => set_state(app, no, RefundState::Success, Some(day)),
        Err(e) => tracing::warn!(out_refund_no = %no, "refund sent again: {e}"),
    }
}

/// What each merchant's refunds that succeeded on `date` took, in fen, by merchant id.
pub fn refunded_on(refunds: &BTreeMap<String, Refund>, date: NaiveDate) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for r in refunds
        .values()
        .filter(|r| r.state == RefundState::Success && r.business_date == Some(date))
    {
        *out.entry(r.merchant_id.clone()).or_insert(0) += r.amount_minor;
    }
    out
}

/// `POST /notify/{channel}/refund`: a refund notification. Its `req_info` is decrypted with
/// our key (which is what proves it came from the channel); answered with the channel's ack.
pub fn notify(app: &App, body: &[u8]) -> String {
    match read_notification(app, body) {
        Ok((no, status, day)) => {
            let state = match status.as_str() {
                "SUCCESS" => RefundState::Success,
                "PROCESSING" => RefundState::Processing,
                _ => RefundState::Failed,
            };
            let before = app.lock().refunds.get(&no).map(|r| r.state);
            if app.config.bug == Bug::AckFirstCopyOnly && before == Some(RefundState::Success) {
                // BUG `ack-first-copy-only`: a repeat is refused, as if it were an error.
                return wxpay::ack_fail("already recorded");
            }
            let known = before.is_some();
            if known {
                set_state(app, &no, state, day);
                tracing::info!(out_refund_no = %no, status = %status, "refund notification");
            } else {
                tracing::error!(out_refund_no = %no, "refund notification for a refund we never asked for");
            }
            if app.config.bug == Bug::RefundNotifyNotAcked {
                return wxpay::ack_fail("not now");
            }
            wxpay::ack_success()
        }
        Err(why) => {
            tracing::warn!("refund notification refused: {why}");
            wxpay::ack_fail(&why)
        }
    }
}

fn read_notification(
    app: &App,
    body: &[u8],
) -> Result<(String, String, Option<NaiveDate>), String> {
    let text = std::str::from_utf8(body).map_err(|_| "not UTF-8".to_string())?;
    let f = sandbank::channels::wxpay::xml::parse(text).map_err(|e| format!("not XML: {e}"))?;
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if get("return_code") != "SUCCESS" {
        return Err(format!("return_code is `{}`", get("return_code")));
    }
    if get("appid") != app.config.appid || get("mch_id") != app.config.mch_id {
        return Err("not for us".into());
    }
    let plain = sandbank::channels::wxpay::refund_notify::decrypt_req_info(
        &app.config.key,
        get("req_info"),
    )
    .ok_or("req_info does not decrypt with our key")?;
    let root = sandbank::channels::wxpay::xml::parse(&plain)
        .map_err(|e| format!("req_info is not XML: {e}"))?;
    let rget = |k: &str| root.get(k).map(String::as_str).unwrap_or("");
    let no = rget("out_refund_no").to_string();
    if no.is_empty() {
        return Err("no out_refund_no".into());
    }
    let day = NaiveDateTime::parse_from_str(rget("success_time"), "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.date());
    Ok((no, rget("refund_status").to_string(), day))
}
