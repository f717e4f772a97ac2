//! Checks about notifications and business days, from sandbank's journal and ledger:
//!
//! - every copy of every genuine payment or refund notification that reached the settlement
//!   system was acknowledged, in the channel's own format: in [`super::ack_checks`];
//! - every forged notification was refused (not acknowledged);
//! - per business day: after day D's settlement, a beneficiary has received exactly what the
//!   payments of days up to D owe — nothing of a later day's payments (T+1: day D+1's money
//!   leaves with D+1's settlement, not before).

use super::checks::{paid_in, Merchant, Order, Violation};
use crate::clock::SHANGHAI;
use crate::journal::{Entry, EntryKind};
use crate::ledger::{accounts, Ledger, PostingKind};
use crate::money::{Currency, Money};
use crate::world::forge::{FORGED_ACCEPTED, FORGED_OP};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// **Forged notifications refused**: no forged notification of `channel` was acknowledged;
/// and at least one was sent (else the scenario checks nothing).
pub fn forged_notifications_refused(journal: &[Entry], channel: &str) -> Vec<Violation> {
    let forged: Vec<&Entry> = journal
        .iter()
        .filter(|e| e.kind == EntryKind::Callback && &*e.instance == channel && e.op == FORGED_OP)
        .collect();
    if forged.is_empty() {
        return vec![Violation {
            invariant: "forged notifications refused",
            detail: format!("no forged notification was sent by {channel} in this scenario"),
            references: Vec::new(),
        }];
    }
    forged
        .into_iter()
        .filter(|e| e.message.ends_with(FORGED_ACCEPTED))
        .map(|e| Violation {
            invariant: "forged notifications refused",
            detail: format!(
                "the settlement system acknowledged a {} (it answered `{}`); it must answer FAIL and book nothing",
                e.message.split(" to ").next().unwrap_or("forged notification"),
                e.response.as_ref().map(|b| b.text()).unwrap_or_default().trim()
            ),
            references: e.reference.iter().cloned().collect(),
        })
        .collect()
}

/// The Beijing business day of each paid order's payment, with what it brought in.
fn payments_by_day(ledger: &Ledger, orders: &[&Order]) -> BTreeMap<NaiveDate, Decimal> {
    let mut days: BTreeMap<NaiveDate, Decimal> = BTreeMap::new();
    for o in orders {
        let at = ledger
            .by_reference(&o.out_trade_no)
            .find(|p| p.kind == PostingKind::Payment && p.instance == o.channel)
            .map(|p| p.at);
        if let Some(at) = at {
            let day = at.with_timezone(&SHANGHAI).date_naive();
            *days.entry(day).or_default() += paid_in(ledger, o).amount;
        }
    }
    days
}

/// **Paid per business day**: after day `day`'s settlement, `merchant`'s beneficiary has
/// received exactly what the payments of days up to `day` (Beijing dates of the payments)
/// owe — no less (day `day` is settled), no more (later days are not due yet).
pub fn paid_through_day(
    ledger: &Ledger,
    merchant: &Merchant,
    orders: &[Order],
    day: NaiveDate,
) -> Vec<Violation> {
    let mine: Vec<&Order> = orders
        .iter()
        .filter(|o| o.merchant == merchant.label)
        .collect();
    let currency = mine
        .first()
        .map(|o| o.amount.currency)
        .unwrap_or(Currency::Cny);
    let days = payments_by_day(ledger, &mine);
    let through: Decimal = days.range(..=day).map(|(_, a)| *a).sum();
    let on_day = days.get(&day).copied().unwrap_or_default();
    let later: Decimal = days
        .range(day.succ_opt().unwrap_or(day)..)
        .map(|(_, a)| *a)
        .sum();
    let paid = ledger.balance(
        &accounts::bank_payee(&merchant.bank, &merchant.account_no),
        currency,
    );
    if paid.amount == through {
        return Vec::new();
    }
    let m = |a: Decimal| Money {
        amount: a,
        currency,
    };
    let why = if paid.amount > through {
        format!(
            "overpaid by {}: money of later days ({} in payments after {day}) left before its cycle, or was paid twice",
            m(paid.amount - through),
            m(later)
        )
    } else {
        format!("underpaid by {}", m(through - paid.amount))
    };
    vec![Violation {
        invariant: "paid per business day",
        detail: format!(
            "after the settlement of {day}, beneficiary account {} of merchant {} ({}) has received {} but the payments up to {day} owe {} ({} of them on {day}): {why}",
            merchant.account_no,
            merchant.label,
            merchant.merchant_id,
            paid,
            m(through),
            m(on_day),
        ),
        references: vec![merchant.account_no.clone()],
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_instant;
    use crate::journal::{Journal, Record};

    fn cny(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Cny)
    }

    fn callback(
        j: &mut Journal,
        op: &'static str,
        reference: &str,
        response: Option<&str>,
        message: &str,
    ) {
        let at = parse_instant("2026-03-02 10:00", SHANGHAI).unwrap();
        j.push(
            at,
            EntryKind::Callback,
            Record {
                instance: "wxpay".into(),
                op: op.into(),
                reference: Some(reference.into()),
                status: response.map(|_| 200),
                message: message.into(),
                request: None,
                response: response.map(Into::into),
                ..Default::default()
            },
        );
    }

    fn entries(j: &Journal) -> Vec<Entry> {
        j.select(&crate::journal::Filter::default())
    }

    #[test]
    fn a_forged_notification_must_be_refused_and_must_exist() {
        let mut j = Journal::default();
        assert_eq!(forged_notifications_refused(&entries(&j), "wxpay").len(), 1);
        callback(
            &mut j,
            FORGED_OP,
            "O1",
            Some("<xml>FAIL</xml>"),
            "forged notification with a bad signature to http://x: not acknowledged (refused)",
        );
        assert!(forged_notifications_refused(&entries(&j), "wxpay").is_empty());
        callback(
            &mut j,
            FORGED_OP,
            "O1",
            Some("<xml>OK</xml>"),
            "forged notification with a bad signature to http://x: acknowledged (accepted)",
        );
        let v = forged_notifications_refused(&entries(&j), "wxpay");
        assert_eq!(v.len(), 1);
        assert!(
            v[0].detail
                .contains("acknowledged a forged notification with a bad signature"),
            "{}",
            v[0].detail
        );
    }

    #[test]
    fn paid_per_day_counts_payments_by_their_beijing_date() {
        let mut l = Ledger::default();
        // 23:59 Beijing on the 2nd, and 07:00 Beijing on the 3rd (23:00 UTC on the 2nd).
        for (no, at, fen) in [
            ("O1", "2026-03-02 23:59", 1000),
            ("O2", "2026-03-03 07:00", 500),
        ] {
            let at = parse_instant(at, SHANGHAI).unwrap();
            l.transfer(
                at,
                PostingKind::Payment,
                "wxpay",
                no,
                "world:customers",
                "channel:wxpay:merchant:1",
                cny(fen),
            )
            .unwrap();
        }
        let m = Merchant {
            label: "M1".into(),
            merchant_id: "m1".into(),
            bank: "bank".into(),
            account_no: "622".into(),
            account_name: "A".into(),
        };
        let orders: Vec<Order> = ["O1", "O2"]
            .iter()
            .zip([1000, 500])
            .map(|(no, fen)| Order {
                channel: "wxpay".into(),
                out_trade_no: no.to_string(),
                merchant: "M1".into(),
                amount: cny(fen),
            })
            .collect();
        let d2 = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let d3 = NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
        assert_eq!(
            paid_through_day(&l, &m, &orders, d2).len(),
            1,
            "nothing paid yet"
        );
        let pay = |l: &mut Ledger, r: &str, fen| {
            let at = parse_instant("2026-03-03 10:00", SHANGHAI).unwrap();
            l.transfer(
                at,
                PostingKind::Payout,
                "bank",
                r,
                "bank:bank:account:P",
                "bank:bank:payee:622",
                cny(fen),
            )
            .unwrap();
        };
        pay(&mut l, "S1", 1000);
        assert!(paid_through_day(&l, &m, &orders, d2).is_empty());
        assert_eq!(paid_through_day(&l, &m, &orders, d3).len(), 1);
        pay(&mut l, "S2", 500);
        let v = paid_through_day(&l, &m, &orders, d2);
        assert!(
            v[0].detail.contains("overpaid by 5.00 CNY"),
            "{}",
            v[0].detail
        );
        assert!(paid_through_day(&l, &m, &orders, d3).is_empty());
    }
}
