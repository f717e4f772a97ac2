//! What a statement is rendered from ([`Books`]: ledger, mismatch book, directory, clock)
//! and the seam through which the kinds describe their lines ([`Describe`]), so that the
//! statements know no channel or bank.

use super::{AccountInfo, DayWindow, Entry, Source};
use crate::clock::Instant;
use crate::core::Core;
use crate::directory::Directory;
use crate::ledger::{Ledger, Posting, PostingKind};
use crate::mismatches::MismatchBook;
use crate::money::{Currency, Money};
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// How a kind turns its movements into statement lines. The statements know the ledger;
/// only the kind knows the order or payout behind a posting (the payer, the product, the
/// bank's own reference), so it describes each line, and the phantom lines a mismatch
/// invents, in its own terms. This is the seam that keeps statements free of any kind.
pub trait Describe {
    /// The line for `posting` on `source`'s account (`amount` is its leg there), or `None`
    /// when the posting is not a line of its own (a fee folded into its payment).
    fn entry(&self, source: &Source, posting: &Posting, amount: Money) -> Option<Entry>;

    /// A line for a movement the world never performed (a `phantom` mismatch).
    fn phantom(&self, source: &Source, phantom: &Phantom) -> Option<Entry>;
}

/// What a `phantom` mismatch asks to be listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phantom {
    /// The mismatch's id (kinds derive their made-up references from it).
    pub id: String,
    /// The reference the line shows.
    pub reference: String,
    /// The amount, positive.
    pub amount: Money,
    /// When it is booked.
    pub at: Instant,
    /// The business day it shows on.
    pub day: NaiveDate,
}

impl Phantom {
    /// A made-up issuer reference in the shape of a WeChat transaction id: `4200`, the day,
    /// and ten digits derived from the mismatch id, so the same scenario gives the same line.
    pub fn issuer_ref(&self) -> String {
        let digits: String = self
            .id
            .bytes()
            .map(|b| char::from(b'0' + b % 10))
            .chain(std::iter::repeat('0'))
            .take(10)
            .collect();
        format!("4200{}{digits}", self.day.format("%Y%m%d"))
    }
}

/// What a statement is rendered from: the ledger, the mismatches, who is mounted where,
/// the clock, and the kinds' descriptions of their lines.
#[derive(Clone, Copy)]
pub struct Books<'a> {
    /// The truth about money.
    pub ledger: &'a Ledger,
    /// Injected mismatches.
    pub mismatches: &'a MismatchBook,
    /// Instances and their accounts.
    pub directory: &'a Directory,
    /// The world clock's instant: files exist only from their ready time.
    pub now: Instant,
    /// The kinds' line descriptions.
    pub rows: &'a dyn Describe,
}

impl<'a> Books<'a> {
    /// The books of `core`, described by `rows`.
    pub fn of(core: &'a Core, rows: &'a dyn Describe) -> Books<'a> {
        Books {
            ledger: &core.ledger,
            mismatches: &core.mismatches,
            directory: &core.directory,
            now: core.now(),
            rows,
        }
    }
}

/// The account's holder and currency as the world knows them.
pub fn account_info(books: &Books<'_>, source: &Source) -> AccountInfo {
    let account = books
        .directory
        .get(source.instance())
        .and_then(|i| i.account(Some(source.account())));
    AccountInfo {
        instance: source.instance().to_string(),
        number: source.account().to_string(),
        name: account.map(|a| a.name.clone()).unwrap_or_default(),
        currency: account.map(|a| a.currency).unwrap_or(Currency::Cny),
    }
}

/// The account's booked balance at the start of `window`: every movement before it, and
/// the scenario's opening balances (which stand for money held before the world began, so
/// they are brought forward rather than listed as entries).
pub fn opening_balance(books: &Books<'_>, source: &Source, window: &DayWindow) -> Decimal {
    let account = source.ledger_account();
    let currency = account_info(books, source).currency;
    books
        .ledger
        .for_account(&account)
        .filter(|p| p.kind == PostingKind::Opening || p.at < window.start)
        .flat_map(|p| p.legs.iter())
        .filter(|l| l.account == account && l.amount.currency == currency)
        .map(|l| l.amount.amount)
        .sum()
}

/// The truth: one entry per movement of `source`'s account booked in `window`, in ledger
/// order, as the kind describes it. A lazy walk of the ledger; nothing is collected.
pub fn ledger_entries<'a>(
    books: &Books<'a>,
    source: &'a Source,
    window: DayWindow,
) -> impl Iterator<Item = Entry> + 'a {
    let account = source.ledger_account();
    let rows = books.rows;
    books
        .ledger
        .postings()
        .iter()
        .filter(move |p| window.contains(p.at) && p.kind != PostingKind::Opening)
        .filter_map(move |p| {
            let leg = p.legs.iter().find(|l| l.account == account)?;
            rows.entry(source, p, leg.amount)
        })
}
