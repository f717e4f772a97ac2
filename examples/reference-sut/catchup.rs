//! Payments we never heard about. A notification can be lost for good (the channel gives up
//! after 24 hours, or our endpoint was down the whole time); the money still arrived. So
//! before settling or reconciling, every order created at the channel and not yet booked as
//! paid is looked up with `pay/orderquery`, and a paid one is booked exactly as a
//! notification would have booked it (same checks, same business day: the Beijing date of
//! `time_end`).

use crate::alipay;
use crate::store::{Booking, ChannelKind, OrderState};
use crate::wxpay::{self, OrderStatus};
use crate::{App, Bug};

/// Query every order not known to be paid (open, or created with an unknown outcome) and
/// book those the channel says are paid. A failed query changes nothing: the next run asks
/// again.
pub async fn query_unheard(app: &App) {
    // BUG `notify-only`: never asks; only notifications book payments.
    if app.config.bug == Bug::NotifyOnly {
        return;
    }
    let unheard: Vec<(ChannelKind, String)> = app
        .lock()
        .orders
        .values()
        .filter(|o| matches!(o.state, OrderState::Open | OrderState::Unconfirmed))
        .map(|o| (o.kind, o.out_trade_no.clone()))
        .collect();
    for (kind, no) in unheard {
        let status = match kind {
            ChannelKind::Wxpay => wxpay::order_query(&app.config, &no).await,
            ChannelKind::Alipay => alipay::query(&app.config, &no).await,
        };
        match status {
            Ok(OrderStatus::Paid(paid)) if paid.out_trade_no == no => {
                match app.lock().book(&paid) {
                    Booking::Booked => {
                        tracing::info!(out_trade_no = %no, transaction_id = %paid.transaction_id, business_date = %paid.time_end.date(), "payment found by query (its notification never arrived): booked")
                    }
                    Booking::AlreadyBooked => {}
                    Booking::Refused(why) => {
                        tracing::error!(out_trade_no = %no, "payment found by query not booked: {why}")
                    }
                }
            }
            Ok(OrderStatus::Paid(paid)) => {
                tracing::error!(out_trade_no = %no, answered = %paid.out_trade_no, "orderquery answered about another order")
            }
            Ok(OrderStatus::NotPaid(_)) => {}
            Ok(OrderStatus::NotExist) => {
                // Never created at the channel (an unknown outcome that did not happen).
                let mut st = app.lock();
                if let Some(o) = st
                    .orders
                    .get_mut(&no)
                    .filter(|o| o.state == OrderState::Unconfirmed)
                {
                    o.state = OrderState::Rejected;
                }
            }
            Err(e) => tracing::warn!(out_trade_no = %no, "orderquery: {e}; asked again next run"),
        }
    }
}
