//! Statements: a business day's movements rendered as the files channels and banks hand out.
//!
//! One model, several writers (ripgrep's searcher/printer split):
//!
//! - **The model** (this file): a [`DayWindow`] fixes the business day and its cut-off in a
//!   time zone (the Chinese channels and our banks cut at 00:00 Asia/Shanghai); a [`Source`]
//!   names one account (a channel merchant, a bank account); [`ledger_entries`] walks the
//!   ledger for that account and window and yields one [`Entry`] per booked movement — the
//!   truth; a [`StatementHead`] carries the account, the opening and closing balances and the
//!   [`Totals`] that a writer prints before or after the entries.
//! - **The seam to the kinds**: what a line says beyond the ledger (the payer, the product,
//!   the bank's reference) only the kind knows, so rendering reads [`Books`] — the ledger,
//!   the mismatch book, the directory, the clock — and asks a [`Describe`] for each line.
//!   Statements import no channel or bank.
//! - **The writers**, one module per format, each taking a head, an iterator of entries and
//!   a `std::io::Write`: [`wechat`], [`alipay`], [`camt053`] (`.001.02` and `.001.08`),
//!   [`mt940`] (formats: `docs/protocols.md`). They never collect the day: memory is bounded
//!   by [`WRITE_BUFFER_BYTES`] and the encoders' chunk sizes, not by the number of entries.
//! - **Mismatches** ([`mismatch`]): the world's injected mismatches
//!   ([`crate::mismatches`]) applied to the entry stream (or to the file), and the
//!   *expected discrepancies* they stand for, which the harness holds the SUT against.
//! - [`render`] ties them together for one account and day; [`encode`] holds the streaming
//!   byte transformers (GBK, UTF-16, truncation); [`zipstream`] writes the Alipay bill's ZIP
//!   as a stream; [`synthetic`] makes deterministic days of any size for golden files and
//!   benchmarks.
//!
//! Because the head (balances, totals) comes before the entries in camt.053 and MT940, a
//! statement is walked twice: once to total it, once to write it. Both walks are streams.

pub mod alipay;
pub mod books;
pub mod camt053;
pub mod encode;
pub mod mismatch;
pub mod mt940;
pub mod render;
pub mod synthetic;
pub mod wechat;
pub mod zipstream;

pub use books::{account_info, ledger_entries, opening_balance, Books, Describe, Phantom};
pub use mismatch::{expected_discrepancies, ExpectedDiscrepancy};

pub use crate::clock::{day_window, DayWindow};
pub use crate::mismatches::EntryStatus;

use crate::clock::Instant;
use crate::directory::{Directory, Family};
use crate::ledger::accounts;
use crate::money::{Currency, Money};
use rust_decimal::Decimal;

/// Capacity of the one output buffer a writer puts in front of the caller's `Write`. Rows
/// are a few hundred bytes; 64 KiB amortises the system calls of a file or socket without
/// holding more than a sliver of a million-row day.
pub const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// What a statement line records; one vocabulary across formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A customer paid an order (a credit to the merchant).
    Payment,
    /// A refund of an order to its customer (a debit to the merchant).
    Refund,
    /// A bank paid a beneficiary out of the account (a debit).
    Payout,
    /// The bank returned (退票) a payout: the money comes back (a credit, booked as the
    /// reversal of the payout).
    PayoutReturn,
    /// Any other movement of the account.
    Other,
}

/// Descriptive fields some formats print; empty where the source has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    /// WeChat `appid` (公众账号ID).
    pub app_id: String,
    /// The channel's merchant id (商户号).
    pub merchant_id: String,
    /// The payer: WeChat openid, Alipay 对方账户.
    pub payer: String,
    /// WeChat trade type (JSAPI, NATIVE, …).
    pub trade_type: String,
    /// Product description (商品名称) or the payout's remittance text.
    pub subject: String,
    /// Merchant data echoed back (商户数据包).
    pub attach: String,
    /// Device info (设备号).
    pub device_info: String,
    /// The counterparty's account number (a payout's beneficiary).
    pub counterparty_account: String,
    /// The counterparty's name.
    pub counterparty_name: String,
    /// The channel's fee rate on the entry (0.006 = 0.60 %).
    pub fee_rate: Decimal,
    /// When the order was paid, if the source knows (a refund line of the WeChat REFUND
    /// bill shows it as 交易时间).
    pub paid_at: Option<Instant>,
    /// When a refund was requested (WeChat 退款申请时间), if the source knows.
    pub refund_requested_at: Option<Instant>,
}

/// One booked movement on one account: a line of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When it was booked (the ledger posting's instant).
    pub at: Instant,
    /// When the order was created, if the source knows (Alipay 创建时间).
    pub created_at: Option<Instant>,
    /// What it is.
    pub kind: EntryKind,
    /// Its status as the statement shows it.
    pub status: EntryStatus,
    /// The client's reference: the `out_trade_no`, or the payout's order number.
    pub reference: String,
    /// The issuer's reference: WeChat `transaction_id`, Alipay trade number, the bank's own
    /// reference (`AcctSvcrRef`) of the booking.
    pub issuer_ref: String,
    /// A refund's merchant refund number (`out_refund_no` / `out_request_no`).
    pub refund_reference: Option<String>,
    /// A refund's id at the channel (微信退款单号).
    pub refund_id: Option<String>,
    /// Signed amount from the account's point of view: positive credits it.
    pub amount: Money,
    /// The channel's fee on the entry: positive when charged, negative when returned (a
    /// refund gives back the fee of what it refunds). Zero at banks.
    pub fee: Money,
    /// Descriptive fields.
    pub details: Details,
}

impl Entry {
    /// True when the entry credits the account.
    pub fn is_credit(&self) -> bool {
        self.amount.amount >= Decimal::ZERO
    }
}

/// The account a statement is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A merchant at an acquiring channel (the ledger account
    /// `channel:{instance}:merchant:{mch_id}`).
    ChannelMerchant {
        /// Channel id.
        instance: String,
        /// Merchant id.
        mch_id: String,
    },
    /// A platform account at a bank (`bank:{instance}:account:{no}`).
    BankAccount {
        /// Bank id.
        instance: String,
        /// Account number.
        account_no: String,
    },
}

impl Source {
    /// The instance (channel or bank id).
    pub fn instance(&self) -> &str {
        match self {
            Source::ChannelMerchant { instance, .. } | Source::BankAccount { instance, .. } => {
                instance
            }
        }
    }
    /// The merchant id or account number.
    pub fn account(&self) -> &str {
        match self {
            Source::ChannelMerchant { mch_id, .. } => mch_id,
            Source::BankAccount { account_no, .. } => account_no,
        }
    }
    /// The ledger account.
    pub fn ledger_account(&self) -> String {
        match self {
            Source::ChannelMerchant { instance, mch_id } => {
                accounts::channel_merchant(instance, mch_id)
            }
            Source::BankAccount {
                instance,
                account_no,
            } => accounts::bank_account(instance, account_no),
        }
    }

    /// The source for `instance` and `account` (the instance's first when `None`): a
    /// channel's merchant or a bank's account.
    pub fn resolve(
        directory: &Directory,
        instance: &str,
        account: Option<&str>,
    ) -> Result<Source, String> {
        let (inst, acct) = directory.account(instance, account)?;
        Ok(match inst.family {
            Family::Channel => Source::ChannelMerchant {
                instance: instance.into(),
                mch_id: acct.number.clone(),
            },
            Family::Bank => Source::BankAccount {
                instance: instance.into(),
                account_no: acct.number.clone(),
            },
        })
    }
}

/// Who holds the account, as the file's header names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    /// The instance (channel or bank id) that issues the statement.
    pub instance: String,
    /// Account number or merchant id.
    pub number: String,
    /// Holder's name.
    pub name: String,
    /// The account's currency.
    pub currency: Currency,
}

/// Counts and sums over a statement's entries. Sums are of absolute amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Number of entries.
    pub count: u64,
    /// Number of credits.
    pub credit_count: u64,
    /// Sum of credits.
    pub credit_sum: Decimal,
    /// Number of debits.
    pub debit_count: u64,
    /// Sum of debits (positive).
    pub debit_sum: Decimal,
    /// Number of payment entries.
    pub payment_count: u64,
    /// Sum of payments.
    pub payment_sum: Decimal,
    /// Number of refund entries.
    pub refund_count: u64,
    /// Sum of refunds (positive).
    pub refund_sum: Decimal,
    /// Net fee (fees charged less fees returned).
    pub fee_sum: Decimal,
}

impl Totals {
    /// Nothing yet.
    pub const ZERO: Totals = Totals {
        count: 0,
        credit_count: 0,
        credit_sum: Decimal::ZERO,
        debit_count: 0,
        debit_sum: Decimal::ZERO,
        payment_count: 0,
        payment_sum: Decimal::ZERO,
        refund_count: 0,
        refund_sum: Decimal::ZERO,
        fee_sum: Decimal::ZERO,
    };

    /// Count `e` in.
    pub fn add(&mut self, e: &Entry) {
        let abs = e.amount.amount.abs();
        self.count += 1;
        if e.is_credit() {
            self.credit_count += 1;
            self.credit_sum += abs;
        } else {
            self.debit_count += 1;
            self.debit_sum += abs;
        }
        match e.kind {
            EntryKind::Payment => {
                self.payment_count += 1;
                self.payment_sum += abs;
            }
            EntryKind::Refund => {
                self.refund_count += 1;
                self.refund_sum += abs;
            }
            _ => {}
        }
        self.fee_sum += e.fee.amount;
    }

    /// Totals of a stream of entries (one pass, constant memory).
    pub fn of(entries: impl Iterator<Item = Entry>) -> Totals {
        let mut t = Totals::ZERO;
        for e in entries {
            t.add(&e);
        }
        t
    }

    /// Credits less debits.
    pub fn net(&self) -> Decimal {
        self.credit_sum - self.debit_sum
    }
}

/// Everything a writer prints besides the entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementHead {
    /// The account.
    pub account: AccountInfo,
    /// The business day.
    pub window: DayWindow,
    /// When the file was produced (GrpHdr/CreDtTm, 导出时间).
    pub created_at: Instant,
    /// Booked balance at the start of the day.
    pub opening: Decimal,
    /// Booked balance at the end of the day as the statement states it.
    pub closing: Decimal,
    /// Totals as the statement states them.
    pub totals: Totals,
    /// A sequence number for the statement (MT940 `:28C:`, camt `ElctrncSeqNb`): the day of
    /// the year, so consecutive days number consecutively.
    pub sequence: u32,
}

impl StatementHead {
    /// A head whose totals and closing balance agree with `entries` (walks them once).
    pub fn summarise(
        account: AccountInfo,
        window: DayWindow,
        created_at: Instant,
        opening: Decimal,
        entries: impl Iterator<Item = Entry>,
    ) -> StatementHead {
        let totals = Totals::of(entries);
        StatementHead {
            account,
            window,
            created_at,
            opening,
            closing: opening + totals.net(),
            totals,
            sequence: chrono::Datelike::ordinal(&window.day),
        }
    }
}

/// For the writers' tests: one booked payment of 10.00 CNY (fee 0.06) to account `number`
/// at 03:00 on 2 March 2026, Beijing time, with `details`, and the head of that day's
/// statement holding it alone.
#[cfg(test)]
pub(crate) fn one_payment(number: &str, details: Details) -> (StatementHead, Entry) {
    let w = day_window(chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
    let e = Entry {
        at: w.start + chrono::Duration::hours(3),
        created_at: None,
        kind: EntryKind::Payment,
        status: EntryStatus::Booked,
        reference: "ORDER1".into(),
        issuer_ref: "4200001".into(),
        refund_reference: None,
        refund_id: None,
        amount: Money::from_minor(1000, Currency::Cny),
        fee: Money::from_minor(6, Currency::Cny),
        details,
    };
    let account = AccountInfo {
        instance: "channel".into(),
        number: number.into(),
        name: "merchant".into(),
        currency: Currency::Cny,
    };
    let head =
        StatementHead::summarise(account, w, w.end, Decimal::ZERO, std::iter::once(e.clone()));
    (head, e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn the_shanghai_day_is_cut_at_local_midnight() {
        let w = day_window(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        assert_eq!(w.start.to_rfc3339(), "2026-03-01T16:00:00+00:00");
        assert_eq!(w.local_time(w.start), "2026-03-02 00:00:00");
        assert!(!w.contains(w.end));
        assert_eq!(w.next().start, w.end);
        assert_eq!(w.previous().end, w.start);
    }
}
