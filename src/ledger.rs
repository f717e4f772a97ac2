//! The ledger: the truth of what money the world moved.
//!
//! Double-entry. A [`Posting`] has two or more legs whose amounts sum to zero per currency;
//! a posting that does not balance is refused (and is a bug in sandbank, so it also trips a
//! debug assertion). Balances are kept per account and currency as postings arrive, so a
//! balance read is a lookup, not a scan.
//!
//! Account names are paths, built by [`accounts`]:
//! - `world:customers` — the payers outside the world (customers of every channel);
//! - `world:funding` — where opening balances come from;
//! - `channel:{id}:merchant:{mch_id}` — what a channel holds for a merchant, not yet settled;
//! - `channel:{id}:fees` — fees a channel earned;
//! - `bank:{id}:account:{no}` — an account the platform holds at a bank (funds payouts);
//! - `bank:{id}:payee:{account_no}` — a beneficiary credited by a payout.
//!
//! The harness reads "paid" and "owed" from here, never from the system under test.

use crate::clock::Instant;
use crate::money::{Currency, Money};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The ledger's account names, built in one place so that every module spells them alike.
pub mod accounts {
    /// The payers outside the world: customers of every channel.
    pub const CUSTOMERS: &str = "world:customers";
    /// Where opening balances come from.
    pub const FUNDING: &str = "world:funding";

    /// What channel `channel` holds for merchant `merchant`, not yet settled.
    pub fn channel_merchant(channel: &str, merchant: &str) -> String {
        format!("channel:{channel}:merchant:{merchant}")
    }

    /// The prefix every merchant account of `channel` starts with.
    pub fn channel_merchant_prefix(channel: &str) -> String {
        format!("channel:{channel}:merchant:")
    }

    /// The fees channel `channel` earned.
    pub fn channel_fees(channel: &str) -> String {
        format!("channel:{channel}:fees")
    }

    /// An account the platform holds at bank `bank` (it funds payouts).
    pub fn bank_account(bank: &str, no: &str) -> String {
        format!("bank:{bank}:account:{no}")
    }

    /// A beneficiary credited by a payout of bank `bank`.
    pub fn bank_payee(bank: &str, account_no: &str) -> String {
        format!("bank:{bank}:payee:{account_no}")
    }
}

/// What kind of movement a posting records; one vocabulary for code, journal and docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PostingKind {
    /// An opening balance from the scenario.
    Opening,
    /// A customer paid an order at a channel.
    Payment,
    /// A channel charged its fee on a payment.
    Fee,
    /// A bank paid a beneficiary out of a platform account.
    Payout,
    /// A bank returned (退票) a payout it had paid: the money comes back.
    PayoutReturn,
    /// A refund to a customer.
    Refund,
}

impl PostingKind {
    /// The snake_case name, as JSON and the journal show it.
    pub fn as_str(self) -> &'static str {
        match self {
            PostingKind::Opening => "opening",
            PostingKind::Payment => "payment",
            PostingKind::Fee => "fee",
            PostingKind::Payout => "payout",
            PostingKind::PayoutReturn => "payout_return",
            PostingKind::Refund => "refund",
        }
    }
}

/// One side of a posting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leg {
    /// The account, a path such as `bank:bank:payee:6222…`.
    pub account: String,
    /// Signed amount: positive credits the account (its balance grows), negative debits it.
    pub amount: Money,
}

/// One balanced movement of money.
#[derive(Debug, Clone, Serialize)]
pub struct Posting {
    /// Sequence number, from 1, in posting order.
    pub id: u64,
    /// World-clock instant of the movement.
    pub at: Instant,
    /// What kind of movement.
    pub kind: PostingKind,
    /// The business reference: an `out_trade_no`, a payout order number, …
    pub reference: String,
    /// The instance (channel or bank id) that performed it.
    pub instance: String,
    /// The legs; they sum to zero per currency.
    pub legs: Vec<Leg>,
}

/// Why a posting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The legs do not sum to zero.
    #[error("posting `{reference}` does not balance: {currency} legs sum to {sum}")]
    Unbalanced {
        /// The posting's reference.
        reference: String,
        /// The currency that does not balance.
        currency: Currency,
        /// What the legs sum to.
        sum: Decimal,
    },
    /// A posting needs at least two legs.
    #[error("posting `{0}` has fewer than two legs")]
    TooFewLegs(String),
}

/// All postings and the balances they produce.
#[derive(Debug, Default)]
pub struct Ledger {
    postings: Vec<Posting>,
    balances: HashMap<(String, Currency), Decimal>,
}

impl Ledger {
    /// Record a posting after checking that it balances. Returns its id.
    pub fn post(
        &mut self,
        at: Instant,
        kind: PostingKind,
        instance: &str,
        reference: &str,
        legs: Vec<Leg>,
    ) -> Result<u64, LedgerError> {
        if legs.len() < 2 {
            return Err(LedgerError::TooFewLegs(reference.to_string()));
        }
        let mut sums: BTreeMap<Currency, Decimal> = BTreeMap::new();
        for leg in &legs {
            *sums.entry(leg.amount.currency).or_default() += leg.amount.amount;
        }
        if let Some((currency, sum)) = sums.into_iter().find(|(_, s)| !s.is_zero()) {
            debug_assert!(false, "unbalanced posting {reference}: {currency} {sum}");
            return Err(LedgerError::Unbalanced {
                reference: reference.to_string(),
                currency,
                sum,
            });
        }
        for leg in &legs {
            *self
                .balances
                .entry((leg.account.clone(), leg.amount.currency))
                .or_default() += leg.amount.amount;
        }
        let id = self.postings.len() as u64 + 1;
        self.postings.push(Posting {
            id,
            at,
            kind,
            reference: reference.to_string(),
            instance: instance.to_string(),
            legs,
        });
        Ok(id)
    }

    /// A simple two-leg transfer of `amount` from `from` to `to`.
    // A transfer is exactly these facts; bundling them in a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub fn transfer(
        &mut self,
        at: Instant,
        kind: PostingKind,
        instance: &str,
        reference: &str,
        from: &str,
        to: &str,
        amount: Money,
    ) -> Result<u64, LedgerError> {
        self.post(
            at,
            kind,
            instance,
            reference,
            vec![
                Leg {
                    account: from.to_string(),
                    amount: -amount,
                },
                Leg {
                    account: to.to_string(),
                    amount,
                },
            ],
        )
    }

    /// The balance of `account` in `currency` (zero if it never moved).
    pub fn balance(&self, account: &str, currency: Currency) -> Money {
        let amount = self
            .balances
            .get(&(account.to_string(), currency))
            .copied()
            .unwrap_or_default();
        Money { amount, currency }
    }

    /// Every account with a balance, sorted by name.
    pub fn balances(&self) -> Vec<(String, Money)> {
        let mut out: Vec<(String, Money)> = self
            .balances
            .iter()
            .map(|((a, c), amt)| {
                (
                    a.clone(),
                    Money {
                        amount: *amt,
                        currency: *c,
                    },
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.currency.cmp(&b.1.currency)));
        out
    }

    /// All postings in order.
    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }

    /// Postings that touch `account`.
    pub fn for_account<'a>(&'a self, account: &'a str) -> impl Iterator<Item = &'a Posting> + 'a {
        self.postings
            .iter()
            .filter(move |p| p.legs.iter().any(|l| l.account == account))
    }

    /// Postings with business reference `reference`.
    pub fn by_reference<'a>(
        &'a self,
        reference: &'a str,
    ) -> impl Iterator<Item = &'a Posting> + 'a {
        self.postings
            .iter()
            .filter(move |p| p.reference == reference)
    }

    /// Sum of the legs on `account` in `currency` across postings of `kind`.
    pub fn moved(&self, account: &str, kind: PostingKind, currency: Currency) -> Money {
        let amount = self
            .for_account(account)
            .filter(|p| p.kind == kind)
            .flat_map(|p| p.legs.iter())
            .filter(|l| l.account == account && l.amount.currency == currency)
            .map(|l| l.amount.amount)
            .sum();
        Money { amount, currency }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{parse_instant, SHANGHAI};

    fn cny(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Cny)
    }

    #[test]
    fn transfers_move_balances_and_keep_the_sum_zero() {
        let at = parse_instant("2026-03-02 10:00", SHANGHAI).unwrap();
        let mut l = Ledger::default();
        l.transfer(
            at,
            PostingKind::Payment,
            "wxpay",
            "O1",
            "world:customers",
            "channel:wxpay:merchant:1",
            cny(101),
        )
        .unwrap();
        l.transfer(
            at,
            PostingKind::Payment,
            "wxpay",
            "O2",
            "world:customers",
            "channel:wxpay:merchant:1",
            cny(99),
        )
        .unwrap();
        assert_eq!(
            l.balance("channel:wxpay:merchant:1", Currency::Cny),
            cny(200)
        );
        assert_eq!(l.balance("world:customers", Currency::Cny), cny(-200));
        assert_eq!(l.balance("nobody", Currency::Cny), cny(0));
        let total: Decimal = l.balances().iter().map(|(_, m)| m.amount).sum();
        assert!(total.is_zero());
        assert_eq!(l.by_reference("O2").count(), 1);
        assert_eq!(
            l.moved(
                "channel:wxpay:merchant:1",
                PostingKind::Payment,
                Currency::Cny
            ),
            cny(200)
        );
    }

    #[test]
    #[cfg(not(debug_assertions))]
    fn unbalanced_postings_are_refused() {
        let at = parse_instant("2026-03-02 10:00", SHANGHAI).unwrap();
        let mut l = Ledger::default();
        let legs = vec![
            Leg {
                account: "a".into(),
                amount: cny(-100),
            },
            Leg {
                account: "b".into(),
                amount: cny(99),
            },
        ];
        assert!(matches!(
            l.post(at, PostingKind::Payment, "x", "R", legs),
            Err(LedgerError::Unbalanced { .. })
        ));
        assert!(l.postings().is_empty());
    }

    #[test]
    fn a_single_leg_is_refused() {
        let at = parse_instant("2026-03-02 10:00", SHANGHAI).unwrap();
        let mut l = Ledger::default();
        let legs = vec![Leg {
            account: "a".into(),
            amount: cny(0),
        }];
        assert!(matches!(
            l.post(at, PostingKind::Payment, "x", "R", legs),
            Err(LedgerError::TooFewLegs(_))
        ));
    }
}
