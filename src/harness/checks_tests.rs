//! Unit tests of `checks.rs`.

use super::*;
use crate::clock::{parse_instant, SHANGHAI};

fn cny(minor: i64) -> Money {
    Money::from_minor(minor, Currency::Cny)
}

/// March `day`, 2026.
fn d(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, day).unwrap()
}

fn setup() -> (Ledger, Vec<Merchant>, Vec<Order>) {
    let at = parse_instant("2026-03-02 10:00", SHANGHAI).unwrap();
    let mut l = Ledger::default();
    l.transfer(
        at,
        PostingKind::Payment,
        "wxpay",
        "O1",
        "world:customers",
        "channel:wxpay:merchant:1",
        cny(10000),
    )
    .unwrap();
    l.transfer(
        at,
        PostingKind::Fee,
        "wxpay",
        "O1",
        "channel:wxpay:merchant:1",
        "channel:wxpay:fees",
        cny(60),
    )
    .unwrap();
    let m = Merchant {
        label: "M1".into(),
        merchant_id: "m1".into(),
        bank: "bank".into(),
        account_no: "622".into(),
        account_name: "A".into(),
    };
    let orders = vec![
        Order {
            channel: "wxpay".into(),
            out_trade_no: "O1".into(),
            merchant: "M1".into(),
            amount: cny(10000),
        },
        // Created but never paid: owes nothing.
        Order {
            channel: "wxpay".into(),
            out_trade_no: "O2".into(),
            merchant: "M1".into(),
            amount: cny(500),
        },
    ];
    (l, vec![m], orders)
}

#[test]
fn owed_follows_the_cycle_nothing_before_a_settlement_run_nothing_of_later_days() {
    let (l, ms, os) = setup();
    // The payment was booked on the 2nd (Beijing).
    assert_eq!(positions(&l, &ms, &os, None)[0].owed, cny(0));
    assert_eq!(positions(&l, &ms, &os, Some(d(1)))[0].owed, cny(0));
    assert_eq!(positions(&l, &ms, &os, Some(d(2)))[0].owed, cny(10000));
    assert_eq!(positions(&l, &ms, &os, Some(d(3)))[0].owed, cny(10000));
}

#[test]
fn owed_counts_only_paid_orders_gross() {
    let (l, ms, os) = setup();
    let p = positions(&l, &ms, &os, Some(d(2)));
    assert_eq!(p[0].owed, cny(10000));
    assert_eq!(p[0].paid, cny(0));
    assert!(never_double_pays(&p).is_empty());
    assert_eq!(paid_exactly(&p).len(), 1);
}

#[test]
fn a_double_payout_breaks_never_double_pays_with_the_amounts() {
    let (mut l, ms, os) = setup();
    let at = parse_instant("2026-03-03 10:00", SHANGHAI).unwrap();
    for r in ["S1", "S1-R1"] {
        l.transfer(
            at,
            PostingKind::Payout,
            "bank",
            r,
            "bank:bank:account:P",
            "bank:bank:payee:622",
            cny(10000),
        )
        .unwrap();
    }
    let v = never_double_pays(&positions(&l, &ms, &os, Some(d(2))));
    assert_eq!(v.len(), 1);
    assert!(
        v[0].detail
            .contains("received 200.00 CNY but is owed 100.00 CNY: overpaid by 100.00 CNY"),
        "{}",
        v[0].detail
    );
}

fn report(count: u64, amount: &str, discrepancies: &[(&str, &str)]) -> Report {
    Report {
        business_date: "2026-03-02".into(),
        channel: Some("wxpay".into()),
        booked: Totals {
            count,
            amount: amount.into(),
        },
        statement: None,
        discrepancies: discrepancies
            .iter()
            .map(|(k, r)| Discrepancy {
                kind: k.to_string(),
                reference: Some(r.to_string()),
                books_amount: None,
                statement_amount: None,
            })
            .collect(),
        refunds: None,
    }
}

#[test]
fn booked_once_compares_with_the_ledger() {
    let (l, _, os) = setup();
    let w = day_window(chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
    assert!(booked_once(&l, &os, "wxpay", w, &report(1, "100.00", &[])).is_empty());
    assert_eq!(
        booked_once(&l, &os, "wxpay", w, &report(2, "200.00", &[])).len(),
        1
    );
    let next = day_window(chrono::NaiveDate::from_ymd_opt(2026, 3, 3).unwrap());
    assert_eq!(
        booked_once(&l, &os, "wxpay", next, &report(1, "100.00", &[])).len(),
        1
    );
}

#[test]
fn reconciliation_must_match_exactly() {
    let expected = vec![("missing_in_statement".to_string(), Some("O1".to_string()))];
    assert!(reconciles_exactly(
        &report(1, "1", &[("missing_in_statement", "O1")]),
        &expected
    )
    .is_empty());
    let v = reconciles_exactly(&report(1, "1", &[]), &expected);
    assert!(v[0]
        .detail
        .contains("real but not reported: missing_in_statement O1"));
    let v = reconciles_exactly(
        &report(
            1,
            "1",
            &[("missing_in_statement", "O1"), ("amount_mismatch", "O9")],
        ),
        &expected,
    );
    assert!(v[0]
        .detail
        .contains("reported but not real: amount_mismatch O9"));
    assert!(reconciles_exactly(&report(1, "1", &[]), &[]).is_empty());
}
