//! What every channel kind does the same way, whatever its wire: the scenario fields all
//! channels have (fee rate, order bound) and the directory entry of a channel with its
//! merchants' accounts; finding an order by number for the control API; the customer's
//! payment on the books (the payment in, the fee out, the first notification due); the
//! journal entry of an order forgotten past the bound; what a forged notification claims
//! whatever the kind (whose order, which wrong amount, which unknown order number); and the
//! parts of a bill line that do not depend on the kind (which postings are lines, a
//! `phantom` mismatch's made-up payment).
//!
//! The orders a channel holds, numbered in order of creation and bounded, are an
//! [`OrderStore`] (see `store`).
//!
//! A kind keeps its own words — order or trade, `mch_id` or partner id — and passes them
//! in; nothing here names a kind.

use crate::config::{ScenarioError, Section};
use crate::core::{ActionError, Core, Event, NotificationId, NotificationKind};
use crate::directory::{Account, Family, Instance};
use crate::journal::{EntryKind as JournalKind, Record};
use crate::ledger::{accounts, Posting, PostingKind};
use crate::money::{Currency, Money};
use crate::statements::{Details, Entry, EntryKind, EntryStatus, Phantom};
use rust_decimal::Decimal;
use std::str::FromStr;

mod store;
pub use store::OrderStore;

/// Orders a channel holds when its scenario section sets no `max_orders`.
pub const MAX_ORDERS_DEFAULT: usize = 1_000_000;

/// The largest `max_orders` a scenario may set.
pub const MAX_ORDERS_LIMIT: usize = 10_000_000;

// ---------------------------------------------------------------- scenario and directory

/// The section's `fee_rate`: a fraction in [0, 1) given as a string (`"0.006"`), 0 when
/// not given.
pub fn fee_rate(section: &Section<'_>, given: &Option<String>) -> Result<Decimal, ScenarioError> {
    match given {
        None => Ok(Decimal::ZERO),
        Some(r) => Decimal::from_str(r)
            .ok()
            .filter(|d| *d >= Decimal::ZERO && *d < Decimal::ONE)
            .ok_or_else(|| {
                section.err(
                    "fee_rate",
                    format!("`{r}` is not a fraction between 0 and 1 (e.g. \"0.006\")"),
                )
            }),
    }
}

/// The section's `max_orders`: 1 to [`MAX_ORDERS_LIMIT`], [`MAX_ORDERS_DEFAULT`] when not
/// given.
pub fn max_orders(section: &Section<'_>, given: Option<i64>) -> Result<usize, ScenarioError> {
    match given {
        None => Ok(MAX_ORDERS_DEFAULT),
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_ORDERS_LIMIT).contains(n))
            .ok_or_else(|| {
                section.err(
                    "max_orders",
                    format!("`{n}` is not between 1 and {MAX_ORDERS_LIMIT}"),
                )
            }),
    }
}

/// Channel `id` of `kind` as the directory shows it: one CNY account per merchant number
/// (each number once, in the order given), with its opening balance.
pub fn instance(
    id: &str,
    kind: &'static str,
    ops: &'static [&'static str],
    merchants: impl IntoIterator<Item = (String, Money)>,
) -> Instance {
    let mut accounts: Vec<Account> = Vec::new();
    for (number, opening) in merchants {
        if accounts.iter().any(|a| a.number == number) {
            continue;
        }
        accounts.push(Account {
            name: format!("merchant {number}"),
            number,
            currency: Currency::Cny,
            opening,
        });
    }
    Instance {
        id: id.to_string(),
        family: Family::Channel,
        kind,
        ops,
        accounts,
    }
}

// ---------------------------------------------------------------- orders

/// Why an order lookup failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindError {
    /// No such order.
    NotFound,
    /// Several merchants have that order number: say which.
    Ambiguous,
}

impl FindError {
    /// The control API's answer: 404 with `not_found`, or 409 with `ambiguous`.
    pub fn into_action(
        self,
        not_found: impl FnOnce() -> String,
        ambiguous: impl FnOnce() -> String,
    ) -> ActionError {
        match self {
            FindError::NotFound => ActionError::NotFound(not_found()),
            FindError::Ambiguous => ActionError::Conflict(ambiguous()),
        }
    }
}

/// What the journal says of an order the channel forgot to stay within its bound.
#[derive(Debug, Clone, Copy)]
pub struct Forgotten<'a> {
    /// The kind's word for an order (`order`, `trade`).
    pub noun: &'a str,
    /// Its number.
    pub number: &'a str,
    /// Its merchant.
    pub merchant: &'a str,
    /// Its state when forgotten, in the kind's terms.
    pub state: &'a str,
    /// The channel's bound.
    pub max_orders: usize,
}

/// Journal that channel `instance` forgot an order (op `order.forget`).
pub fn record_forgotten(core: &mut Core, instance: &str, f: Forgotten<'_>) {
    let Forgotten {
        noun,
        number,
        merchant,
        state,
        max_orders,
    } = f;
    core.record(
        JournalKind::World,
        Record {
            instance: instance.into(),
            op: "order.forget".into(),
            reference: Some(number.into()),
            message: format!(
                "{noun} {number} of merchant {merchant} ({state}) forgotten: the channel holds at most max_orders = {max_orders} {noun}s"
            ),
            ..Default::default()
        },
    );
}

// ---------------------------------------------------------------- forged notifications

/// The order a forged notification is about, as `found` by the kind's lookup by number
/// `no`, or the control API's answer: 404 when there is none (`noun` is the kind's word for
/// an order, `article` the one it takes: `an order`, `a trade`), 409 when several merchants
/// have that number.
pub fn forgery_target<T>(
    found: Result<T, FindError>,
    no: &str,
    article: &str,
    noun: &str,
) -> Result<T, ActionError> {
    found.map_err(|e| {
        e.into_action(
            || format!("no {noun} `{no}` at this channel (a forged notification goes to {article} {noun}'s notify_url)"),
            || format!("order number `{no}` exists under several merchants"),
        )
    })
}

/// The seeded stream a forgery about merchant `merchant`'s order `no` draws from.
pub fn forgery_stream(merchant: &str, no: &str) -> String {
    format!("forge/{merchant}/{no}")
}

/// The amount a `wrong_amount` forgery claims for an order of `total`: one minor unit, or
/// two when the order is of one.
pub fn forged_amount(total: Money) -> Money {
    let one = Money::from_minor(1, total.currency);
    if total.amount == one.amount {
        Money::from_minor(2, total.currency)
    } else {
        one
    }
}

/// The order number an `unknown_order` forgery claims: `FORGED` and 14 digits drawn from
/// the forgery's `stream` at channel `instance`.
pub fn forged_order_number(core: &mut Core, instance: &str, stream: &str) -> String {
    format!("FORGED{}", core.rng_for(instance, stream).digits(14))
}

// ---------------------------------------------------------------- the customer pays

/// Book a customer's payment of `amount` for order `reference` into merchant `merchant`'s
/// account at channel `instance`, and the channel's `fee` out of it (no fee posting when it
/// is zero).
pub fn book_payment(
    core: &mut Core,
    instance: &str,
    merchant: &str,
    reference: &str,
    amount: Money,
    fee: Money,
) {
    let account = accounts::channel_merchant(instance, merchant);
    // Two-leg transfers of one amount in one currency always balance, so these cannot fail.
    let _ = core.transfer(
        PostingKind::Payment,
        instance,
        reference,
        accounts::CUSTOMERS,
        &account,
        amount,
        None,
    );
    if !fee.amount.is_zero() {
        let _ = core.transfer(
            PostingKind::Fee,
            instance,
            reference,
            &account,
            &accounts::channel_fees(instance),
            fee,
            None,
        );
    }
}

/// The first attempt of the payment notification of merchant `merchant`'s order
/// `reference` at channel `instance` is due now.
pub fn payment_notification_due(core: &mut Core, instance: &str, merchant: &str, reference: &str) {
    let now = core.now();
    core.schedule(
        now,
        Event::Notify {
            instance: instance.to_string(),
            id: NotificationId {
                kind: NotificationKind::Payment,
                account: merchant.to_string(),
                reference: reference.to_string(),
            },
            attempt: 1,
            gated: true,
        },
    );
}

// ---------------------------------------------------------------- bill lines

/// What kind of bill line posting `p` is, or `None` for a fee posting, which a channel's
/// bill folds into the payment or refund it belongs to.
pub fn entry_kind(p: &Posting) -> Option<EntryKind> {
    match p.kind {
        PostingKind::Payment => Some(EntryKind::Payment),
        PostingKind::Refund => Some(EntryKind::Refund),
        PostingKind::Fee => None,
        _ => Some(EntryKind::Other),
    }
}

/// The line of a payment the channel never took (a `phantom` mismatch): `details` as the
/// kind fills them, `issuer_ref` its made-up transaction number, the fee the details' rate
/// gives.
pub fn phantom_entry(ph: &Phantom, issuer_ref: String, details: Details) -> Entry {
    Entry {
        at: ph.at,
        created_at: Some(ph.at),
        kind: EntryKind::Payment,
        status: EntryStatus::Booked,
        issuer_ref,
        reference: ph.reference.clone(),
        refund_reference: None,
        refund_id: None,
        amount: ph.amount,
        fee: ph.amount.times_rate_rounded(details.fee_rate),
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_amount_is_one_minor_unit_or_two_for_an_order_of_one() {
        let cny = |minor| Money::from_minor(minor, Currency::Cny);
        assert_eq!(forged_amount(cny(10_000)), cny(1));
        assert_eq!(forged_amount(cny(2)), cny(1));
        assert_eq!(forged_amount(cny(1)), cny(2));
        assert_eq!(forged_amount(cny(1)).major_string(), "0.02");
    }

    #[test]
    fn a_forgery_about_no_order_is_refused_in_the_kinds_words() {
        let not_found = |article, noun| {
            forgery_target::<()>(Err(FindError::NotFound), "X1", article, noun).unwrap_err()
        };
        assert_eq!(
            not_found("an", "order"),
            ActionError::NotFound(
                "no order `X1` at this channel (a forged notification goes to an order's notify_url)"
                    .into()
            )
        );
        assert_eq!(
            not_found("a", "trade"),
            ActionError::NotFound(
                "no trade `X1` at this channel (a forged notification goes to a trade's notify_url)"
                    .into()
            )
        );
        assert_eq!(
            forgery_target::<()>(Err(FindError::Ambiguous), "X1", "a", "trade"),
            Err(ActionError::Conflict(
                "order number `X1` exists under several merchants".into()
            ))
        );
        assert_eq!(forgery_target(Ok(7), "X1", "a", "trade"), Ok(7));
    }
}
