//! The deliberate bugs (`--bug NAME`): each switches on one classic way of settling
//! unsafely, so the conformance suite can prove it catches it (README.md, "The deliberate
//! bugs").

use clap::ValueEnum;

/// The deliberate bugs (`--bug`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Bug {
    /// The correct system.
    #[default]
    None,
    /// After a payout timeout, re-submit at once under a new order number instead of
    /// querying: pays twice when the bank executed the first request and the reply was lost.
    NewOrderNoOnRetry,
    /// Book every payment notification, repeats included: a repeated notification is
    /// booked (and settled) twice.
    BookEveryNotification,
    /// Read a trade the bill lists twice as one: the duplicate goes unreported.
    ReconIgnoresDuplicates,
    /// Never compare the channel's fee with the contract rate.
    ReconIgnoresFees,
    /// Treat amounts within 0.01 of each other as equal.
    ReconAmountTolerance,
    /// Report the statement's totals from the books instead of the bill's rows.
    ReconStatementTotalFromBooks,
    /// Read every refusal of `downloadbill`, `Bill Creating` included, as `No Bill Exist`:
    /// a late bill becomes an empty one, and every booked payment "missing".
    ReconNoBillAsEmpty,
    /// Never check the bill's summary row against its lines.
    ReconIgnoresSummary,
    /// Read what it can of a broken bill, skipping what it cannot: a cut-off bill is
    /// reconciled from its first half.
    ReconSkipsBadLines,
    /// Give a fee mismatch the payment's amounts instead of the fees.
    ReconFeeMismatchShowsAmounts,
    /// Book payments only from notifications, never query the channel: a notification lost
    /// for good means a payment never booked and a merchant never paid.
    NotifyOnly,
    /// Skip the notification's signature check: a forged "paid" notification is booked.
    AcceptForged,
    /// Book the amount the notification states without comparing it with the order's: a
    /// correctly signed notification for another amount is booked as it says.
    TrustNotifyAmount,
    /// Check "already booked?" and insert the booking in two steps with an `.await` between:
    /// copies of a notification arriving together are all booked.
    BookWithoutLock,
    /// Acknowledge a notification with the plain text `success` instead of the channel's XML
    /// acknowledgement: the channel never hears it was received and retries for 24 hours.
    AckPlainText,
    /// Cut the business day in UTC instead of Beijing time: a payment at 07:00 Beijing is
    /// booked (and settled, and reconciled) under the day before.
    UtcDay,
    /// Sum a day's amounts in binary floating point and truncate to fen: 19.99 + 9.99 +
    /// 0.10 + 0.20 is paid as 30.27, a fen short.
    FloatMoney,
    /// Settle orders that were created but never paid, as if creating an order were being
    /// paid.
    SettleUnpaid,
    /// A settlement run for day D also pays the payments of later days already booked:
    /// money leaves before its cycle (T+1), and each later day's run pays it again.
    PayEarly,
    /// After a payout's reply is lost, re-submit at once under the SAME number instead of
    /// querying: harmless at a bank that replays a repeated number, a second payment at a
    /// bank that pays it again.
    BlindResubmit,
    /// Take a failed payout query (a system error, a timeout) for "no such order" and pay
    /// again under a new number: pays twice when the first payout went through.
    QueryErrorAsMissing,
    /// No run lock: two settlement runs at once both drive the same settlement order, and
    /// both submit it after both queries found nothing.
    NoRunLock,
    /// Take a payout still PROCESSING when a later run queries it for a failed one, and pay
    /// again under a new number: pays twice when the bank is merely slow.
    ProcessingAsFailed,
    /// Pay a FAILED payout again at once under a new number, without a human.
    FailedRetried,
    /// Pay a RETURNED (退票) payout again at once under a new number, without a human.
    ReturnedRepaid,
    /// Forget, on restart, the payouts that were in flight (their write-ahead record is not
    /// kept): the next run creates and submits them again.
    RestartForgets,
    /// After a refund's reply is lost, give it up and queue it again under a new refund
    /// number: the customer is refunded twice when the first request went through.
    NewRefundNoOnRetry,
    /// Take an unknown refund outcome (`SYSTEMERROR`, a timeout) as final and never send it
    /// again: the customer never gets the money back.
    RefundGivesUpOnSystemerror,
    /// Take a refund still PROCESSING for a failed one and send it again under a new number.
    ProcessingRefundAsFailed,
    /// One refund number per order: a second partial refund of the same amount is answered
    /// with the first, and the customer gets back only one of them.
    RefundNoPerOrder,
    /// Refuse to refund an order until its payment notification arrived, instead of asking
    /// the channel: a refund racing a late payment notification is refused.
    RefundNeedsNotifiedPayment,
    /// Apply the other refund policy than the one configured: net refunds against
    /// settlement under `pre_deposit`, or not under `netted`.
    RefundIgnoresPolicy,
    /// Book every Alipay payment notification, repeats included: a repeated Alipay
    /// notification is booked (and settled) twice.
    AlipayBookEveryNotification,
    /// Skip the RSA2 check of Alipay notifications: a forged "paid" notification is booked.
    AlipayTrustsUnsignedNotify,
    /// Acknowledge Alipay notifications with WeChat's XML acknowledgement instead of the
    /// plain `success` Alipay wants: Alipay keeps re-sending for a day.
    AlipayAckXml,
    /// Answer every WeChat refund notification with FAIL, after booking what it says: the
    /// channel never hears it was received and keeps re-sending it.
    RefundNotifyNotAcked,
    /// Acknowledge only the first copy of a notification and answer FAIL ("already
    /// booked") to every repeat, payment and refund notifications alike: the channel counts
    /// each refused copy as a failed delivery and keeps re-sending.
    AckFirstCopyOnly,
    /// Answer `fail` to every Alipay notification that books no payment (refund
    /// notifications among them), as if "nothing to book" were an error: Alipay re-sends
    /// each refund notification for a day.
    AlipayRefundNotifyNotAcked,
    /// Reconcile payments only: the report's refunds say none were booked and the bill
    /// listed none, whatever the bill's refund rows and the books say.
    ReconForgetsRefunds,
}

impl Bug {
    /// The flag value, e.g. `new-order-no-on-retry`.
    pub fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}
