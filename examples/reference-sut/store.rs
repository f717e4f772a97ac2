//! The books: everything the reference settlement system knows, in memory behind one std
//! `Mutex` (see `App` in `main.rs`). Every method here is synchronous and short: callers
//! decide under the lock, drop it, then talk to the network, then lock again to record
//! what happened. A real system keeps these tables in a database; the unique keys below are
//! the constraints it would declare. Here, with `--state-dir`, every change is written to a
//! JSON file there before the lock is released (see `App::lock` in `main.rs`), so the books
//! survive a restart: a payout marked `unknown` before its request went out is still
//! `unknown` afterwards, and is queried, not paid again.

use crate::recon::Report;
use crate::Bug;
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// A merchant we settle to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merchant {
    /// Our id for it (from onboarding); unique.
    pub merchant_id: String,
    /// The bank account its settlement is paid to.
    pub account_no: String,
    /// The account holder's name, as the bank wants it.
    pub account_name: String,
    /// Settlement cycle; only `T+1` is supported.
    pub cycle: String,
}

/// Where one of our orders stands at the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// `unifiedorder` sent, no answer yet.
    Creating,
    /// The channel accepted it; the customer can pay.
    Open,
    /// The channel refused it; it cannot be paid.
    Rejected,
    /// We never learnt whether the channel accepted it (timeouts). It may still be paid:
    /// a signed notification for it is booked like any other.
    Unconfirmed,
    /// A payment for it is booked.
    Paid,
}

/// Which kind of channel an order was created at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// WeChat Pay v2.
    #[default]
    Wxpay,
    /// Alipay (`gateway.do`).
    Alipay,
}

/// An order we created at the channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    /// The channel it was created at.
    #[serde(default)]
    pub kind: ChannelKind,
    /// Our order number, sent as `out_trade_no`; unique.
    pub out_trade_no: String,
    /// Whose order it is.
    pub merchant_id: String,
    /// Amount in fen.
    pub amount_minor: i64,
    /// Where it stands.
    pub state: OrderState,
}

/// A payment the channel told us about (a verified notification), as booked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payment {
    /// Our order number.
    pub out_trade_no: String,
    /// The channel's transaction id.
    pub transaction_id: String,
    /// Whose money it is.
    pub merchant_id: String,
    /// Amount in fen.
    pub amount_minor: i64,
    /// The Beijing date of `time_end`: the day it is settled and reconciled under.
    pub business_date: NaiveDate,
}

/// Where a settlement order's payout stands. The vocabulary of the bank, plus the two
/// states only we know: not yet submitted, and submitted with an unknown outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutState {
    /// Never sent, or the bank definitely refused it (it did not take the order).
    NotSubmitted,
    /// Sent, and we do not know whether the bank took it (timeout, lost reply, system
    /// error). The next step is always a query, never a submit.
    Unknown,
    /// The bank took it; the money is on its way.
    Processing,
    /// Paid. Final for driving; each later run for the day asks the bank once more, since
    /// a paid payout can still be returned (退票).
    Success,
    /// The bank says it is not paid. Final here: re-paying under a new number is a human
    /// decision, never an automatic one.
    Failed,
    /// Paid, then returned by the beneficiary's bank (退票): the money is back in the
    /// platform account and the merchant is owed again. Final here, like `Failed`: the
    /// account details may be wrong, so paying again is a human decision.
    Returned,
}

impl PayoutState {
    /// True when nothing more will be done automatically.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            PayoutState::Success | PayoutState::Failed | PayoutState::Returned
        )
    }
}

/// One settlement order: what one merchant is paid for one business day.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SettlementOrder {
    /// The settlement order number; unique and deterministic (see `settlement::order_no`).
    pub order_no: String,
    /// The business day settled.
    pub business_date: NaiveDate,
    /// The merchant paid.
    pub merchant_id: String,
    /// Payee account.
    pub account_no: String,
    /// Payee name.
    pub account_name: String,
    /// What the merchant is owed for the day, in fen; fixed when the order is created.
    pub amount_minor: i64,
    /// The bank order number in use. Equal to `order_no` in the correct system: a retry
    /// reuses it. Only the `new-order-no-on-retry` bug changes it.
    pub bank_order_no: String,
    /// Every bank order number ever submitted for this settlement order, in order.
    pub bank_order_nos: Vec<String>,
    /// Where the payout stands.
    pub state: PayoutState,
    /// How many times a payout request was sent.
    pub submissions: u32,
    /// The last thing worth a human's attention (a refusal, a failure reason, an anomaly).
    pub note: Option<String>,
}

/// Why a settlement order could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("settlement order number {order_no} already belongs to merchant {other_merchant} on {other_date}")]
pub struct OrderNoTaken {
    /// The number.
    pub order_no: String,
    /// Its owner.
    pub other_merchant: String,
    /// Its day.
    pub other_date: NaiveDate,
}

/// A paid notification, verified and decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidNotification {
    /// Our order number.
    pub out_trade_no: String,
    /// The channel's transaction id.
    pub transaction_id: String,
    /// Amount paid, in fen.
    pub total_fee: i64,
    /// When it was paid, Beijing time.
    pub time_end: NaiveDateTime,
}

/// What booking a notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Booking {
    /// A new payment is booked.
    Booked,
    /// It was booked before (a repeated notification): nothing changed.
    AlreadyBooked,
    /// Not booked, for the reason given (answered with FAIL, so the channel retries and
    /// the journal shows why).
    Refused(String),
}

/// The whole state: in memory, and in `{state-dir}/books.json` when persisted.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Store {
    /// Merchants by id.
    pub merchants: BTreeMap<String, Merchant>,
    /// Orders by `out_trade_no`.
    pub orders: BTreeMap<String, Order>,
    /// Booked payments, in the order they were booked.
    pub payments: Vec<Payment>,
    /// Index into `payments` by `out_trade_no`: the unique constraint that makes booking
    /// idempotent.
    payment_by_trade: HashMap<String, usize>,
    /// Settlement orders by order number (the unique constraint on the number).
    pub settlements: BTreeMap<String, SettlementOrder>,
    /// The latest reconciliation report by (business day, channel). Not persisted: a
    /// report is made again by running the reconciliation again.
    #[serde(skip)]
    pub reports: BTreeMap<(NaiveDate, String), Report>,
    /// Last order sequence number handed out.
    order_seq: u64,
    /// Refunds by our refund number (the unique constraint on it).
    #[serde(default)]
    pub refunds: BTreeMap<String, crate::refunds::Refund>,
    /// Last refund sequence number handed out.
    #[serde(default)]
    refund_seq: u64,
    /// How refunds are paid for (the running program's, from its command line).
    #[serde(skip)]
    pub refund_policy: crate::refunds::Policy,
    /// The deliberate bug, if any (`Bug::None` in the correct system). Not persisted: it
    /// is the running program's, given on its command line.
    #[serde(skip)]
    pub bug: Bug,
}

/// The file the books are kept in, under `--state-dir`.
pub const BOOKS_FILE: &str = "books.json";

impl Store {
    /// Empty books for a system with `bug` (`Bug::None`: the correct one).
    pub fn with_bug(bug: Bug) -> Store {
        Store {
            bug,
            ..Store::default()
        }
    }

    /// True when a payment for order `out_trade_no` is booked.
    pub fn is_booked(&self, out_trade_no: &str) -> bool {
        self.payment_by_trade.contains_key(out_trade_no)
    }

    /// The books kept in `dir`, or empty books if there are none yet.
    pub fn load(dir: &std::path::Path) -> anyhow::Result<Store> {
        let path = dir.join(BOOKS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("{} is not this system's books: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Store::default()),
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
        }
    }

    /// Write the books to `dir`, whole, through a temporary file and a rename, so that a
    /// crash leaves either the old books or the new ones, never half of them.
    pub fn save(&self, dir: &std::path::Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        let tmp = dir.join(format!("{BOOKS_FILE}.tmp"));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, dir.join(BOOKS_FILE))
    }

    /// The next refund sequence number.
    pub fn next_refund_seq(&mut self) -> u64 {
        self.refund_seq += 1;
        self.refund_seq
    }

    /// The next order sequence number.
    pub fn next_order_seq(&mut self) -> u64 {
        self.order_seq += 1;
        self.order_seq
    }

    /// Book the payment a verified notification (or order query) reports, exactly once per
    /// `out_trade_no`, for the amount of our order, under the Beijing date of `time_end`.
    pub fn book(&mut self, n: &PaidNotification) -> Booking {
        let Some(order) = self.orders.get(&n.out_trade_no) else {
            return Booking::Refused(format!("unknown order {}", n.out_trade_no));
        };
        // BUG `trust-notify-amount`: skips this comparison and books what the notification
        // says, so a correctly signed notification for another amount is booked as is.
        if order.amount_minor != n.total_fee && self.bug != Bug::TrustNotifyAmount {
            return Booking::Refused(format!(
                "order {} is for {} fen but the notification says {} fen",
                n.out_trade_no, order.amount_minor, n.total_fee
            ));
        }
        // BUG `book-every-notification`: skips this check, so a repeated notification
        // (the channel re-sends until acknowledged, and sometimes twice anyway) is booked
        // again and the merchant is settled twice. BUG `book-without-lock` made its check
        // before an `.await` (see `notify` in main.rs) and skips it here.
        // BUG `alipay-book-every-notification`: the same, for Alipay orders only.
        let check = match self.bug {
            Bug::BookEveryNotification | Bug::BookWithoutLock => false,
            Bug::AlipayBookEveryNotification => order.kind != ChannelKind::Alipay,
            _ => true,
        };
        if check {
            if let Some(&i) = self.payment_by_trade.get(&n.out_trade_no) {
                let booked = &self.payments[i];
                if booked.transaction_id != n.transaction_id {
                    // One order paid by two transactions: the channel should never do this.
                    // Booked once; the second shows in reconciliation as a duplicate row.
                    tracing::error!(
                        out_trade_no = %n.out_trade_no,
                        booked = %booked.transaction_id,
                        notified = %n.transaction_id,
                        "a second transaction for a paid order: not booked, needs a human"
                    );
                }
                return Booking::AlreadyBooked;
            }
        }
        // `time_end` is Beijing time: its date is the business day.
        let business_date = if self.bug == Bug::UtcDay {
            // BUG `utc-day`: the day is cut in UTC, 8 hours behind Beijing: a payment at
            // 07:00 Beijing on the 3rd is 23:00 UTC on the 2nd, and is booked on the 2nd.
            (n.time_end - chrono::Duration::hours(8)).date()
        } else {
            n.time_end.date()
        };
        let payment = Payment {
            out_trade_no: n.out_trade_no.clone(),
            transaction_id: n.transaction_id.clone(),
            merchant_id: order.merchant_id.clone(),
            amount_minor: n.total_fee,
            business_date,
        };
        self.payment_by_trade
            .insert(n.out_trade_no.clone(), self.payments.len());
        self.payments.push(payment);
        if let Some(o) = self.orders.get_mut(&n.out_trade_no) {
            o.state = OrderState::Paid;
        }
        Booking::Booked
    }

    /// Payments booked on `date`.
    pub fn payments_on(&self, date: NaiveDate) -> impl Iterator<Item = &Payment> {
        self.payments
            .iter()
            .filter(move |p| p.business_date == date)
    }

    /// What each merchant is owed for `date`, in fen, by merchant id: the sum of its
    /// payments booked on that business day, in whole fen.
    pub fn owed_on(&self, date: NaiveDate) -> BTreeMap<String, i64> {
        let mut owed: BTreeMap<String, i64> = BTreeMap::new();
        // BUG `pay-early`: takes the payments booked on `date` *or later*, so a run for day
        // D also pays day D+1's payments booked by then, before their cycle.
        let payments = self.payments.iter().filter(|p| {
            p.business_date == date || (self.bug == Bug::PayEarly && p.business_date > date)
        });
        if self.bug == Bug::FloatMoney {
            // BUG `float-money`: yuan in binary floating point, truncated back to fen.
            // 19.99 is 19.989999…, so sums come out a fen short. Largest first, so the sum
            // does not depend on the order notifications were booked in (a float sum does:
            // 0.10 + 0.20 + 9.99 + 19.99 happens to land on 30.28).
            let mut amounts: BTreeMap<String, Vec<i64>> = BTreeMap::new();
            for p in payments {
                amounts
                    .entry(p.merchant_id.clone())
                    .or_default()
                    .push(p.amount_minor);
            }
            return amounts
                .into_iter()
                .map(|(m, mut fen)| {
                    fen.sort_unstable_by(|a, b| b.cmp(a));
                    let yuan: f64 = fen.iter().map(|f| *f as f64 / 100.0).sum();
                    (m, (yuan * 100.0) as i64)
                })
                .collect();
        }
        for p in payments {
            let sum = owed.entry(p.merchant_id.clone()).or_insert(0);
            *sum = sum.saturating_add(p.amount_minor);
        }
        // Policy `netted`: the refunds that succeeded on `date` come off the day's payout.
        // BUG `refund-ignores-policy`: applies the other policy than the configured one.
        let netted = (self.refund_policy == crate::refunds::Policy::Netted)
            != (self.bug == Bug::RefundIgnoresPolicy);
        if netted {
            for (m, r) in crate::refunds::refunded_on(&self.refunds, date) {
                let sum = owed.entry(m).or_insert(0);
                *sum = (*sum - r).max(0);
            }
            owed.retain(|_, v| *v > 0);
        }
        if self.bug == Bug::SettleUnpaid {
            // BUG `settle-unpaid`: counts every open order as money in, paid or not.
            for o in self.orders.values().filter(|o| o.state == OrderState::Open) {
                let sum = owed.entry(o.merchant_id.clone()).or_insert(0);
                *sum = sum.saturating_add(o.amount_minor);
            }
        }
        owed
    }

    /// Insert a new settlement order, refusing a number that is already taken: the unique
    /// constraint a database would enforce.
    pub fn insert_settlement(&mut self, order: SettlementOrder) -> Result<(), OrderNoTaken> {
        if let Some(other) = self.settlements.get(&order.order_no) {
            return Err(OrderNoTaken {
                order_no: order.order_no.clone(),
                other_merchant: other.merchant_id.clone(),
                other_date: other.business_date,
            });
        }
        self.settlements.insert(order.order_no.clone(), order);
        Ok(())
    }

    /// Settlement orders for `date`.
    pub fn settlements_on(&self, date: NaiveDate) -> impl Iterator<Item = &SettlementOrder> {
        self.settlements
            .values()
            .filter(move |s| s.business_date == date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_order() -> Store {
        let mut s = Store::default();
        s.orders.insert(
            "RS0001".into(),
            Order {
                kind: ChannelKind::Wxpay,
                out_trade_no: "RS0001".into(),
                merchant_id: "M1".into(),
                amount_minor: 10000,
                state: OrderState::Open,
            },
        );
        s
    }

    fn paid(total_fee: i64) -> PaidNotification {
        PaidNotification {
            out_trade_no: "RS0001".into(),
            transaction_id: "4200001".into(),
            total_fee,
            // 23:59:59 Beijing on 2 March: booked under 2 March, not the UTC date.
            time_end: NaiveDateTime::parse_from_str("20260302235959", "%Y%m%d%H%M%S").unwrap(),
        }
    }

    #[test]
    fn a_repeated_notification_is_booked_once() {
        let mut s = store_with_order();
        assert_eq!(s.book(&paid(10000)), Booking::Booked);
        assert_eq!(s.book(&paid(10000)), Booking::AlreadyBooked);
        assert_eq!(s.payments.len(), 1);
        assert_eq!(
            s.payments[0].business_date,
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
        );
        assert_eq!(s.orders["RS0001"].state, OrderState::Paid);
    }

    #[test]
    fn bug_book_every_notification_books_twice() {
        let mut s = store_with_order();
        s.bug = Bug::BookEveryNotification;
        assert_eq!(s.book(&paid(10000)), Booking::Booked);
        assert_eq!(s.book(&paid(10000)), Booking::Booked);
        assert_eq!(
            s.owed_on(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap())["M1"],
            20000
        );
    }

    #[test]
    fn bug_alipay_book_every_notification_books_alipay_repeats_only() {
        let mut s = store_with_order();
        s.bug = Bug::AlipayBookEveryNotification;
        assert_eq!(s.book(&paid(10000)), Booking::Booked);
        assert_eq!(s.book(&paid(10000)), Booking::AlreadyBooked);
        if let Some(o) = s.orders.get_mut("RS0001") {
            o.kind = ChannelKind::Alipay;
        }
        assert_eq!(s.book(&paid(10000)), Booking::Booked);
    }

    #[test]
    fn the_books_survive_a_save_and_a_load() {
        let dir = std::env::temp_dir().join(format!("ref-sut-books-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = store_with_order();
        assert_eq!(s.book(&paid(10000)), Booking::Booked);
        let seq = s.next_order_seq();
        s.save(&dir).unwrap();
        let mut back = Store::load(&dir).unwrap();
        // The unique index came back too: the repeat is still recognised.
        assert_eq!(back.book(&paid(10000)), Booking::AlreadyBooked);
        assert_eq!(back.payments.len(), 1);
        assert_eq!(back.next_order_seq(), seq + 1);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(Store::load(&dir).unwrap().payments.is_empty());
    }

    #[test]
    fn a_wrong_amount_or_unknown_order_is_not_booked() {
        let mut s = store_with_order();
        assert!(matches!(s.book(&paid(9999)), Booking::Refused(_)));
        let mut other = paid(10000);
        other.out_trade_no = "NOPE01".into();
        assert!(matches!(s.book(&other), Booking::Refused(_)));
        assert!(s.payments.is_empty());
    }

    #[test]
    fn bug_float_money_pays_a_fen_short() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        // Booked in either order (notifications arrive concurrently): the same sums.
        for (bug, booked) in [
            (Bug::None, [1999, 999, 10, 20]),
            (Bug::FloatMoney, [1999, 999, 10, 20]),
            (Bug::FloatMoney, [10, 20, 999, 1999]),
        ] {
            let mut s = Store::with_bug(bug);
            for (i, fen) in booked.into_iter().enumerate() {
                let no = format!("RS000{i}");
                s.orders.insert(
                    no.clone(),
                    Order {
                        kind: ChannelKind::Wxpay,
                        out_trade_no: no.clone(),
                        merchant_id: "M1".into(),
                        amount_minor: fen,
                        state: OrderState::Open,
                    },
                );
                let mut n = paid(fen);
                n.out_trade_no = no;
                assert_eq!(s.book(&n), Booking::Booked);
            }
            let want = if bug == Bug::None { 3028 } else { 3027 };
            assert_eq!(s.owed_on(day)["M1"], want, "{bug:?}");
        }
    }

    #[test]
    fn bug_utc_day_books_an_early_morning_payment_the_day_before() {
        let mut n = paid(10000);
        n.time_end = NaiveDateTime::parse_from_str("20260303070000", "%Y%m%d%H%M%S").unwrap();
        for (bug, day) in [(Bug::None, 3), (Bug::UtcDay, 2)] {
            let mut s = store_with_order();
            s.bug = bug;
            assert_eq!(s.book(&n), Booking::Booked);
            assert_eq!(
                s.payments[0].business_date,
                NaiveDate::from_ymd_opt(2026, 3, day).unwrap()
            );
        }
    }
}
