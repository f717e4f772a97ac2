//! The channels' notifications: WeChat payment notifications (XML, MD5-signed) and Alipay
//! notifications (form, RSA2), each booked at most once and acknowledged in the channel's
//! own format.

use crate::app::response;
use crate::store::Booking;
use crate::{alipay, wxpay, App, Bug};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use std::time::Duration;

/// `POST /notify/{channel}`: a payment notification. Booked at most once; always answered
/// with the channel's own acknowledgement (SUCCESS, or FAIL with the reason).
pub async fn notify(app: &App, body: &[u8]) -> Response<Full<Bytes>> {
    let xml = |text: String| response(StatusCode::OK, "text/xml; charset=utf-8", text);
    let ack = || {
        if app.config.bug == Bug::AckPlainText {
            // BUG `ack-plain-text`: WeChat Pay v2 wants the XML document with
            // return_code SUCCESS; plain `success` is the acknowledgement of other channels.
            // The channel takes this for a failure and keeps re-sending.
            response(StatusCode::OK, "text/plain", "success")
        } else {
            xml(wxpay::ack_success())
        }
    };
    let notification = match wxpay::read_notification(&app.config, body) {
        Ok(n) => n,
        Err(why) => {
            tracing::warn!("notification refused: {why}");
            return xml(wxpay::ack_fail(&why));
        }
    };
    let paid = match notification {
        wxpay::Notification::Paid(p) => p,
        wxpay::Notification::NotPaid { out_trade_no } => {
            tracing::info!(out_trade_no = %out_trade_no, "notification of an unsuccessful payment: nothing to book");
            return ack();
        }
    };
    if app.config.bug == Bug::BookWithoutLock {
        // BUG `book-without-lock`: "booked already?" and "book it" are two steps with an
        // `.await` between them (in a real system, two statements outside one transaction
        // or unique constraint). Copies of one notification that arrive together all pass
        // the check, and all are booked.
        let already = app.lock().is_booked(&paid.out_trade_no);
        if !already {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let booking = app.lock().book(&paid);
    match booking {
        Booking::Booked => {
            tracing::info!(out_trade_no = %paid.out_trade_no, transaction_id = %paid.transaction_id, total_fee = paid.total_fee, business_date = %paid.time_end.date(), "payment booked");
            ack()
        }
        Booking::AlreadyBooked => {
            tracing::info!(out_trade_no = %paid.out_trade_no, "repeated notification: already booked");
            if app.config.bug == Bug::AckFirstCopyOnly {
                // BUG `ack-first-copy-only`: a repeat is refused, as if it were an error.
                return xml(wxpay::ack_fail("already booked"));
            }
            ack()
        }
        Booking::Refused(why) => {
            tracing::error!(out_trade_no = %paid.out_trade_no, "payment not booked: {why}");
            xml(wxpay::ack_fail(&why))
        }
    }
}

/// `POST /notify/{alipay_channel}`: an Alipay payment notification. Booked at most once;
/// answered exactly `success` when done with, `fail` otherwise (Alipay then retries).
pub fn alipay_notify(app: &App, body: &[u8]) -> Response<Full<Bytes>> {
    let answer = |t: &'static str| {
        if t == "success" && app.config.bug == Bug::AlipayAckXml {
            // BUG `alipay-ack-xml`: WeChat's acknowledgement, which Alipay reads as a failure.
            return response(StatusCode::OK, "text/xml", wxpay::ack_success());
        }
        response(StatusCode::OK, "text/plain", t)
    };
    let paid = match alipay::read_notification(&app.config, body) {
        Ok(Some(p)) => p,
        // BUG `alipay-refund-notify-not-acked`: a refund notification is not an error.
        Ok(None) if app.config.bug == Bug::AlipayRefundNotifyNotAcked => return answer("fail"),
        Ok(None) => return answer("success"),
        Err(why) => {
            tracing::warn!("Alipay notification refused: {why}");
            return answer("fail");
        }
    };
    let booking = app.lock().book(&paid);
    match booking {
        Booking::Booked => {
            tracing::info!(out_trade_no = %paid.out_trade_no, trade_no = %paid.transaction_id, business_date = %paid.time_end.date(), "Alipay payment booked");
            answer("success")
        }
        Booking::AlreadyBooked => answer("success"),
        Booking::Refused(why) => {
            tracing::error!(out_trade_no = %paid.out_trade_no, "Alipay payment not booked: {why}");
            answer("fail")
        }
    }
}
