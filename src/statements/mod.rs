//! Statements: a business day's movements rendered as the files channels and banks hand out.
//!
//! One model, several writers (ripgrep's searcher/printer split; STYLE.md item 12):
//!
//! - **The model** (this file): a [`DayWindow`] fixes the business day and its cut-off in a
//!   time zone (the Chinese channels and our banks cut at 00:00 Asia/Shanghai); a [`Source`]
//!   names one account (a channel merchant, a bank account); [`ledger_entries`] walks the
//!   ledger for that account and window and yields one [`Entry`] per booked movement — the
//!   truth; a [`StatementHead`] carries the account, the opening and closing balances and the
//!   [`Totals`] that a writer prints before or after the entries.
//! - **The writers**, one module per format, each taking a head, an iterator of entries and
//!   a `std::io::Write`: [`wechat`] (PROTOCOLS.md A.5), [`alipay`] (B.6), [`camt053`] (E.4,
//!   `.001.02` and `.001.08`), [`mt940`] (F). They never collect the day: memory is bounded
//!   by [`WRITE_BUFFER_BYTES`] and the encoders' chunk sizes, not by the number of entries.
//! - **Mismatches** ([`mismatch`]): a scenario or the control API asks for a day's statement
//!   to differ from the truth; the differences are applied to the entry stream (or to the
//!   file) and recorded as the *expected discrepancies* the harness holds the SUT against.
//! - [`render`] ties them together for one world; [`routes`] serves them on the control API;
//!   [`encode`] holds the streaming byte transformers (GBK, UTF-16, truncation);
//!   [`synthetic`] makes deterministic days of any size for golden files and benchmarks;
//!   [`fixture`] builds the small deterministic world the parser tests read.
//!
//! Because the head (balances, totals) comes before the entries in camt.053 and MT940, a
//! statement is walked twice: once to total it, once to write it. Both walks are streams.

pub mod alipay;
pub mod camt053;
pub mod encode;
pub mod fixture;
pub mod mismatch;
pub mod mt940;
pub mod render;
pub mod routes;
pub mod synthetic;
pub mod wechat;

pub use mismatch::{expected_discrepancies, ExpectedDiscrepancy};

use crate::banks::{self, PayoutStatus};
use crate::channels::wxpay;
use crate::channels::ChannelState;
use crate::clock::{business_day, Instant, SHANGHAI};
use crate::ledger::{Posting, PostingKind};
use crate::money::{Currency, Money};
use crate::world::WorldState;
use chrono::NaiveDate;
use chrono_tz::Tz;
use rust_decimal::Decimal;

/// Capacity of the one output buffer a writer puts in front of the caller's `Write`. Rows
/// are a few hundred bytes; 64 KiB amortises the system calls of a file or socket without
/// holding more than a sliver of a million-row day.
pub const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// A business day and the instants that bound it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayWindow {
    /// The day.
    pub day: NaiveDate,
    /// First instant of the day (inclusive).
    pub start: Instant,
    /// First instant of the next day (exclusive): the cut-off.
    pub end: Instant,
    /// The time zone the day is cut in; dates and times in files are printed in it.
    pub tz: Tz,
}

impl DayWindow {
    /// Business day `day` cut at local midnight in `tz`.
    pub fn new(day: NaiveDate, tz: Tz) -> DayWindow {
        let (start, end) = business_day(day, tz);
        DayWindow {
            day,
            start,
            end,
            tz,
        }
    }

    /// True when `t` falls in the day.
    pub fn contains(&self, t: Instant) -> bool {
        self.start <= t && t < self.end
    }

    /// The calendar date of `t` in the window's time zone.
    pub fn date_of(&self, t: Instant) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// `t` as `YYYY-MM-DD HH:MM:SS` in the window's time zone (the bills' time format).
    pub fn local_time(&self, t: Instant) -> String {
        t.with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// The window of the next day.
    pub fn next(&self) -> DayWindow {
        DayWindow::new(self.day.succ_opt().unwrap_or(self.day), self.tz)
    }

    /// The window of the previous day.
    pub fn previous(&self) -> DayWindow {
        DayWindow::new(self.day.pred_opt().unwrap_or(self.day), self.tz)
    }
}

/// The Chinese channels' business day `day`, cut at 00:00 Asia/Shanghai.
pub fn day_window(day: NaiveDate) -> DayWindow {
    DayWindow::new(day, SHANGHAI)
}

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

/// Where a movement stands, as the statement shows it. The truth is always `Booked`; the
/// other values appear only through an injected `status` mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Done: WeChat `SUCCESS`, camt `BOOK`.
    Booked,
    /// Not final: WeChat `USERPAYING` (refund `PROCESSING`), camt `PDNG`.
    Pending,
    /// Failed: WeChat `PAYERROR` (refund `REFUNDCLOSE`), camt `INFO`.
    Failed,
}

impl EntryStatus {
    /// Parse the snake_case name.
    pub fn parse(s: &str) -> Option<EntryStatus> {
        match s {
            "booked" => Some(EntryStatus::Booked),
            "pending" => Some(EntryStatus::Pending),
            "failed" => Some(EntryStatus::Failed),
            _ => None,
        }
    }
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Booked => "booked",
            EntryStatus::Pending => "pending",
            EntryStatus::Failed => "failed",
        }
    }
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
                wxpay::merchant_account(instance, mch_id)
            }
            Source::BankAccount {
                instance,
                account_no,
            } => banks::account_path(instance, account_no),
        }
    }

    /// The source for `instance` and `account` in `st`'s world: a channel's merchant or a
    /// bank's account; `account` defaults to the first one.
    pub fn resolve(
        st: &WorldState,
        instance: &str,
        account: Option<&str>,
    ) -> Result<Source, String> {
        if let Some(c) = st.spec.channel(instance) {
            let mch = match account {
                Some(a) => c
                    .merchants
                    .iter()
                    .find(|m| m.mch_id == a)
                    .map(|m| m.mch_id.clone()),
                None => c.merchants.first().map(|m| m.mch_id.clone()),
            };
            return mch
                .map(|mch_id| Source::ChannelMerchant {
                    instance: instance.into(),
                    mch_id,
                })
                .ok_or_else(|| {
                    format!(
                        "account: `{}` is not a merchant of channel `{instance}`",
                        account.unwrap_or("")
                    )
                });
        }
        if let Some(b) = st.spec.bank(instance) {
            let no = match account {
                Some(a) => b.accounts.iter().find(|x| x.no == a).map(|x| x.no.clone()),
                None => b.accounts.first().map(|x| x.no.clone()),
            };
            return no
                .map(|account_no| Source::BankAccount {
                    instance: instance.into(),
                    account_no,
                })
                .ok_or_else(|| {
                    format!(
                        "account: `{}` is not an account of bank `{instance}`",
                        account.unwrap_or("")
                    )
                });
        }
        Err(format!(
            "`{instance}` is not a channel or bank of this world"
        ))
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

/// The account's holder and currency as the world knows them.
pub fn account_info(st: &WorldState, source: &Source) -> AccountInfo {
    match source {
        Source::ChannelMerchant { instance, mch_id } => AccountInfo {
            instance: instance.clone(),
            number: mch_id.clone(),
            name: format!("merchant {mch_id}"),
            currency: Currency::Cny,
        },
        Source::BankAccount {
            instance,
            account_no,
        } => {
            let acct = st
                .spec
                .bank(instance)
                .and_then(|b| b.accounts.iter().find(|a| &a.no == account_no));
            AccountInfo {
                instance: instance.clone(),
                number: account_no.clone(),
                name: acct.map(|a| a.name.clone()).unwrap_or_default(),
                currency: acct.map(|a| a.opening.currency).unwrap_or(Currency::Cny),
            }
        }
    }
}

/// The account's booked balance at the start of `window`: every movement before it, and
/// the scenario's opening balances (which stand for money held before the world began, so
/// they are brought forward rather than listed as entries).
pub fn opening_balance(st: &WorldState, source: &Source, window: &DayWindow) -> Decimal {
    let account = source.ledger_account();
    let currency = account_info(st, source).currency;
    st.ledger
        .for_account(&account)
        .filter(|p| p.kind == PostingKind::Opening || p.at < window.start)
        .flat_map(|p| p.legs.iter())
        .filter(|l| l.account == account && l.amount.currency == currency)
        .map(|l| l.amount.amount)
        .sum()
}

/// The truth: one entry per movement of `source`'s account booked in `window`, in ledger
/// order. A lazy walk of the ledger; nothing is collected.
pub fn ledger_entries<'a>(
    st: &'a WorldState,
    source: &'a Source,
    window: DayWindow,
) -> impl Iterator<Item = Entry> + 'a {
    let account = source.ledger_account();
    st.ledger
        .postings()
        .iter()
        .filter(move |p| window.contains(p.at) && p.kind != PostingKind::Opening)
        .filter_map(move |p| {
            let leg = p.legs.iter().find(|l| l.account == account)?;
            match source {
                Source::ChannelMerchant { instance, mch_id } => {
                    channel_entry(st, instance, mch_id, p, leg.amount)
                }
                Source::BankAccount { instance, .. } => {
                    Some(bank_entry(st, instance, p, leg.amount))
                }
            }
        })
}

/// A channel merchant's movement as a bill row. Payments carry their fee (the separate fee
/// posting is folded into its payment, as the bills show it); fee postings are not rows.
fn channel_entry(
    st: &WorldState,
    instance: &str,
    mch_id: &str,
    p: &Posting,
    amount: Money,
) -> Option<Entry> {
    let kind = match p.kind {
        PostingKind::Payment => EntryKind::Payment,
        PostingKind::Refund => EntryKind::Refund,
        PostingKind::Fee => return None,
        _ => EntryKind::Other,
    };
    let fee_rate = st
        .spec
        .channel(instance)
        .map(|c| c.fee_rate)
        .unwrap_or_default();
    let order = match st.channels.get(instance) {
        Some(ChannelState::WechatPayV2(ws)) => {
            ws.orders.get(&(mch_id.to_string(), p.reference.clone()))
        }
        None => None,
    };
    let zero = Money::zero(amount.currency);
    let mut details = Details {
        merchant_id: mch_id.to_string(),
        fee_rate,
        ..Details::default()
    };
    let (mut issuer_ref, mut created_at, mut fee) = (String::new(), None, zero);
    if let Some(o) = order {
        details.app_id = o.appid.clone();
        details.payer = o.openid.clone().unwrap_or_default();
        details.trade_type = o.trade_type.clone();
        details.subject = o.body.clone();
        details.attach = o.attach.clone().unwrap_or_default();
        details.device_info = o.device_info.clone().unwrap_or_default();
        issuer_ref = o.transaction_id.clone().unwrap_or_default();
        created_at = Some(o.created_at);
        if kind == EntryKind::Payment {
            fee = o.fee.unwrap_or(zero);
        }
    }
    Some(Entry {
        at: p.at,
        created_at,
        kind,
        status: EntryStatus::Booked,
        reference: p.reference.clone(),
        issuer_ref,
        refund_reference: None,
        refund_id: None,
        amount,
        fee,
        details,
    })
}

/// A bank account's movement. Payouts and their returns are joined with the bank's payout
/// record for the beneficiary and the bank's own reference.
fn bank_entry(st: &WorldState, instance: &str, p: &Posting, amount: Money) -> Entry {
    let kind = match p.kind {
        PostingKind::Payout => EntryKind::Payout,
        PostingKind::PayoutReturn => EntryKind::PayoutReturn,
        _ => EntryKind::Other,
    };
    let payout = match kind {
        EntryKind::Payout | EntryKind::PayoutReturn => payout_of(st, instance, p, kind),
        _ => None,
    };
    let mut details = Details::default();
    let mut issuer_ref = format!("{instance}-{}", p.id);
    if let Some(po) = payout {
        details.merchant_id = po.mch_id.clone();
        details.counterparty_account = po.payee_account_no.clone();
        details.counterparty_name = po.payee_name.clone();
        details.subject = match kind {
            EntryKind::PayoutReturn => format!("return of payout {}", po.order_no),
            _ => format!("payout {}", po.order_no),
        };
        issuer_ref = match kind {
            EntryKind::PayoutReturn => format!("{}R", po.payout_id),
            _ => po.payout_id.clone(),
        };
    }
    Entry {
        at: p.at,
        created_at: payout.map(|po| po.created_at),
        kind,
        status: EntryStatus::Booked,
        reference: p.reference.clone(),
        issuer_ref,
        refund_reference: None,
        refund_id: None,
        amount,
        fee: Money::zero(amount.currency),
        details,
    }
}

/// The bank's payout record behind posting `p`. Payouts and postings are made in the same
/// order, so the k-th posting of this kind for an order number belongs to the k-th payout
/// under that number that moved money (a bank that pays a repeated order number again has
/// several); the ordinal is only computed when there is more than one candidate.
fn payout_of<'a>(
    st: &'a WorldState,
    instance: &str,
    p: &Posting,
    kind: EntryKind,
) -> Option<&'a banks::Payout> {
    let bank = st.banks.get(instance)?;
    let candidates = || {
        bank.payouts.iter().filter(move |po| {
            po.order_no == p.reference
                && match kind {
                    EntryKind::PayoutReturn => po.status == PayoutStatus::Returned,
                    _ => po.status != PayoutStatus::Failed,
                }
        })
    };
    let mut c = candidates();
    let first = c.next()?;
    if c.next().is_none() {
        return Some(first);
    }
    let ordinal = st
        .ledger
        .postings()
        .iter()
        .take_while(|q| q.id != p.id)
        .filter(|q| q.kind == p.kind && q.instance == p.instance && q.reference == p.reference)
        .count();
    candidates().nth(ordinal).or(Some(first))
}

#[cfg(test)]
mod tests {
    use super::*;

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
