//! The invariants, computed from sandbank's ledger — never from what the SUT says.
//!
//! Each check is a pure function from the truth (ledger amounts) and, where the check is
//! about the SUT's report, that report; it returns the violations it finds. The scene turns
//! a violation into a failure message with the seed and the journal lines behind it.
//!
//! Its tests (one per way each check can go wrong) are in `checks_tests.rs`; the checks of
//! later concerns live beside it (`notify_checks`,
//! `payout_checks`, `recon_checks`, `refund_checks`; what the ledger says an order took in
//! and gave back is here, for all of them).

use crate::clock::Instant;
use crate::ledger::accounts;
use crate::ledger::{Ledger, PostingKind};
use crate::money::{Currency, Money};
use crate::statements::{day_window, DayWindow};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A merchant the scenario onboarded at the SUT.
#[derive(Debug, Clone)]
pub struct Merchant {
    /// The label the feature file uses (`M1`).
    pub label: String,
    /// The fresh id the SUT knows it by.
    pub merchant_id: String,
    /// Bank id its settlement goes through.
    pub bank: String,
    /// Its settlement (beneficiary) account number.
    pub account_no: String,
    /// Account holder name.
    pub account_name: String,
}

/// An order the SUT created for a merchant.
#[derive(Debug, Clone)]
pub struct Order {
    /// Channel id.
    pub channel: String,
    /// The SUT's order number at the channel.
    pub out_trade_no: String,
    /// The merchant's label.
    pub merchant: String,
    /// Amount asked for.
    pub amount: Money,
}

/// A broken promise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The invariant's name, as the docs and feature files say it.
    pub invariant: &'static str,
    /// What is wrong, with the amounts.
    pub detail: String,
    /// Journal references (order numbers) that show how it happened.
    pub references: Vec<String>,
}

/// What the customers got back for `order` by refunds booked before `cutoff` (all without
/// one): the `refund` postings of its channel under its number or one of `refund_nos`,
/// counted by what they credited `world:customers`.
pub fn refunded_before(
    ledger: &Ledger,
    order: &Order,
    refund_nos: &[String],
    cutoff: Option<Instant>,
) -> Money {
    let mut refs: Vec<&str> = vec![order.out_trade_no.as_str()];
    refs.extend(
        refund_nos
            .iter()
            .map(String::as_str)
            .filter(|n| *n != order.out_trade_no),
    );
    let merchant_prefix = accounts::channel_merchant_prefix(&order.channel);
    let amount: Decimal = refs
        .iter()
        .flat_map(|r| ledger.by_reference(r))
        .filter(|p| {
            p.kind == PostingKind::Refund
                && p.instance == order.channel
                && cutoff.is_none_or(|c| p.at < c)
                && p.legs
                    .iter()
                    .any(|l| l.account.starts_with(&merchant_prefix))
        })
        .flat_map(|p| p.legs.iter())
        .filter(|l| l.account == accounts::CUSTOMERS && l.amount.amount.is_sign_positive())
        .map(|l| l.amount.amount)
        .sum();
    Money {
        amount,
        currency: order.amount.currency,
    }
}

/// What the ledger says a merchant's order brought in: the gross of its payment postings.
pub fn paid_in(ledger: &Ledger, order: &Order) -> Money {
    paid_in_before(ledger, order, None)
}

/// What `order` brought in by payments booked before `cutoff` (all of them without one).
fn paid_in_before(ledger: &Ledger, order: &Order, cutoff: Option<Instant>) -> Money {
    let amount = ledger
        .by_reference(&order.out_trade_no)
        .filter(|p| {
            p.kind == PostingKind::Payment
                && p.instance == order.channel
                && cutoff.is_none_or(|c| p.at < c)
        })
        .flat_map(|p| p.legs.iter())
        .filter(|l| {
            l.amount.amount.is_sign_positive()
                && l.account
                    .starts_with(&accounts::channel_merchant_prefix(&order.channel))
        })
        .map(|l| l.amount.amount)
        .sum();
    Money {
        amount,
        currency: order.amount.currency,
    }
}

/// Owed to and paid to one beneficiary.
#[derive(Debug, Clone)]
pub struct Position {
    /// The merchant.
    pub merchant: Merchant,
    /// What its orders brought in (the settlement terms are gross, T+1, no merchant fee).
    pub owed: Money,
    /// What its beneficiary account received from the bank (payouts less returns).
    pub paid: Money,
}

/// Each merchant's position, from the ledger. What a merchant is owed follows its cycle
/// (T+1, gross): the payments whose business day (the Beijing date they were booked at the
/// channel) is on or before `settled_through`, the latest day the suite asked the SUT to
/// settle; nothing before any settlement run.
pub fn positions(
    ledger: &Ledger,
    merchants: &[Merchant],
    orders: &[Order],
    settled_through: Option<NaiveDate>,
) -> Vec<Position> {
    positions_netting(ledger, merchants, orders, settled_through, None)
}

/// [`positions`], and with `netted` (each order's refund numbers at its channel) under the
/// `netted` refund policy: what a merchant is owed is then its payments up to the settled
/// day less the refunds that reached its customers up to that day (by the Beijing date of
/// the refund's ledger posting), never below zero. Under `pre_deposit` (`None`) refunds
/// come out of the merchant's pre-deposit and do not change what it is owed.
pub fn positions_netting(
    ledger: &Ledger,
    merchants: &[Merchant],
    orders: &[Order],
    settled_through: Option<NaiveDate>,
    netted: Option<&BTreeMap<String, Vec<String>>>,
) -> Vec<Position> {
    let cutoff = settled_through.map(|d| day_window(d).end);
    merchants
        .iter()
        .map(|m| {
            let currency = orders
                .iter()
                .find(|o| o.merchant == m.label)
                .map(|o| o.amount.currency)
                .unwrap_or(Currency::Cny);
            let owed = orders
                .iter()
                .filter(|o| o.merchant == m.label)
                // Nothing is owed before the first settlement run.
                .map(|o| match cutoff {
                    Some(c) => paid_in_before(ledger, o, Some(c)),
                    None => Money::zero(o.amount.currency),
                })
                .fold(Money::zero(currency), |a, b| a.checked_add(b).unwrap_or(a));
            let owed = match (netted, cutoff) {
                (Some(refund_nos), Some(c)) => {
                    let refunded: rust_decimal::Decimal = orders
                        .iter()
                        .filter(|o| o.merchant == m.label)
                        .map(|o| {
                            let nos = refund_nos.get(&o.out_trade_no).map_or(&[][..], |v| v);
                            refunded_before(ledger, o, nos, Some(c)).amount
                        })
                        .sum();
                    Money {
                        amount: (owed.amount - refunded).max(rust_decimal::Decimal::ZERO),
                        currency,
                    }
                }
                _ => owed,
            };
            let paid = ledger.balance(&accounts::bank_payee(&m.bank, &m.account_no), currency);
            Position {
                merchant: m.clone(),
                owed,
                paid,
            }
        })
        .collect()
}

/// **Never double-pays**: no beneficiary received more than it is owed.
pub fn never_double_pays(positions: &[Position]) -> Vec<Violation> {
    positions
        .iter()
        .filter(|p| p.paid.amount > p.owed.amount)
        .map(|p| Violation {
            invariant: "never double-pays",
            detail: format!(
                "beneficiary account {} of merchant {} ({}) received {} but is owed {}: overpaid by {}",
                p.merchant.account_no,
                p.merchant.label,
                p.merchant.merchant_id,
                p.paid,
                p.owed,
                Money { amount: p.paid.amount - p.owed.amount, currency: p.paid.currency }
            ),
            references: vec![p.merchant.account_no.clone()],
        })
        .collect()
}

/// **Paid exactly**: once faults heal, each beneficiary received exactly what it is owed.
pub fn paid_exactly(positions: &[Position]) -> Vec<Violation> {
    positions
        .iter()
        .filter(|p| p.paid.amount != p.owed.amount)
        .map(|p| Violation {
            invariant: "paid exactly what is owed",
            detail: format!(
                "beneficiary account {} of merchant {} ({}) received {} but is owed {}",
                p.merchant.account_no, p.merchant.label, p.merchant.merchant_id, p.paid, p.owed
            ),
            references: vec![p.merchant.account_no.clone()],
        })
        .collect()
}

/// The reconciliation report a SUT returns (see `docs/sut-adapter.md`).
#[derive(Debug, Clone, Deserialize)]
pub struct Report {
    /// Business day.
    pub business_date: String,
    /// Channel id.
    #[serde(default)]
    pub channel: Option<String>,
    /// What the SUT booked that day.
    pub booked: Totals,
    /// What the statement listed.
    #[serde(default)]
    pub statement: Option<Totals>,
    /// The differences it found.
    pub discrepancies: Vec<Discrepancy>,
    /// The day's refunds on both sides (optional: docs/sut-adapter.md, "refunds").
    #[serde(default)]
    pub refunds: Option<RefundTotals>,
}

/// The refunds of the reconciled day, as the report states them.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundTotals {
    /// The refunds the SUT booked as succeeded that day.
    pub booked: Totals,
    /// The bill's refund rows; null when there was no bill to read.
    #[serde(default)]
    pub statement: Option<Totals>,
}

/// A count and a total.
#[derive(Debug, Clone, Deserialize)]
pub struct Totals {
    /// Number of entries.
    pub count: u64,
    /// Total in major units, as text (`"123.45"`).
    pub amount: String,
}

/// One reported difference.
#[derive(Debug, Clone, Deserialize)]
pub struct Discrepancy {
    /// Its kind.
    pub kind: String,
    /// The order number it concerns.
    #[serde(default)]
    pub reference: Option<String>,
    /// The books' amount, major units (for `fee_mismatch`, the fee); null when none.
    #[serde(default)]
    pub books_amount: Option<String>,
    /// The statement's amount, major units (for `fee_mismatch`, its fee); null when none.
    #[serde(default)]
    pub statement_amount: Option<String>,
}

/// **Booked once**: the SUT booked exactly the payments the ledger shows for the day.
pub fn booked_once(
    ledger: &Ledger,
    orders: &[Order],
    channel: &str,
    window: DayWindow,
    report: &Report,
) -> Vec<Violation> {
    let mut count = 0u64;
    let mut total = rust_decimal::Decimal::ZERO;
    let mut refs = Vec::new();
    for o in orders.iter().filter(|o| o.channel == channel) {
        let paid: Vec<_> = ledger
            .by_reference(&o.out_trade_no)
            .filter(|p| {
                p.kind == PostingKind::Payment && p.instance == channel && window.contains(p.at)
            })
            .collect();
        if !paid.is_empty() {
            count += 1;
            total += paid_in(ledger, o).amount;
            refs.push(o.out_trade_no.clone());
        }
    }
    let reported: Option<rust_decimal::Decimal> = report.booked.amount.trim().parse().ok();
    if report.booked.count == count && reported == Some(total) {
        return Vec::new();
    }
    vec![Violation {
        invariant: "every payment booked exactly once",
        detail: format!(
            "for {} the SUT booked {} payment(s) totalling {} but sandbank's ledger shows {} payment(s) totalling {:.2}",
            window.day, report.booked.count, report.booked.amount, count, total
        ),
        references: refs,
    }]
}

/// **Reconciles exactly**: the report lists exactly the discrepancies that really exist
/// (`expected`, as (kind, reference) pairs), no more and no less.
pub fn reconciles_exactly(
    report: &Report,
    expected: &[(String, Option<String>)],
) -> Vec<Violation> {
    let mut want: BTreeMap<(String, Option<String>), i64> = BTreeMap::new();
    for e in expected {
        *want.entry(e.clone()).or_default() += 1;
    }
    for d in &report.discrepancies {
        *want
            .entry((d.kind.clone(), d.reference.clone()))
            .or_default() -= 1;
    }
    let show = |(k, r): &(String, Option<String>)| {
        format!("{k} {}", r.as_deref().unwrap_or("(no reference)"))
    };
    let missed: Vec<String> = want
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, _)| show(k))
        .collect();
    let invented: Vec<String> = want
        .iter()
        .filter(|(_, n)| **n < 0)
        .map(|(k, _)| show(k))
        .collect();
    if missed.is_empty() && invented.is_empty() {
        return Vec::new();
    }
    let mut detail = format!(
        "the reconciliation report for {} is not exactly the real discrepancies",
        report.business_date
    );
    if !missed.is_empty() {
        detail.push_str(&format!("; real but not reported: {}", missed.join(", ")));
    }
    if !invented.is_empty() {
        detail.push_str(&format!("; reported but not real: {}", invented.join(", ")));
    }
    let references = want.keys().filter_map(|(_, r)| r.clone()).collect();
    vec![Violation {
        invariant: "always reconciles",
        detail,
        references,
    }]
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
