//! Tests of `recon.rs`: the report, from bills read by `wechat_bill.rs`.

use super::*;
use crate::wechat_bill::fixtures::*;
use crate::wechat_bill::parse_bill;

#[test]
fn an_empty_statement_and_empty_books_agree() {
    let r = reconcile(
        "2026-03-02",
        "wxpay",
        &[],
        &Bill::default(),
        Some(rate()),
        Mistakes::default(),
    );
    assert_eq!(
        r.booked,
        Totals {
            count: 0,
            amount: "0.00".into()
        }
    );
    assert!(r.discrepancies.is_empty());
}

#[test]
fn every_kind_of_difference_is_found() {
    let b = parse_bill(
        bill(&[
            row("RS01", "SUCCESS", "100.00"),
            row("RS02", "SUCCESS", "99.00"),
            row("RS03", "REVOKED", "3.00"),
            row("RS04", "SUCCESS", "4.00"),
            row("RS04", "SUCCESS", "4.00"),
            row("RS05", "SUCCESS", "5.00"),
        ])
        .as_bytes(),
    )
    .unwrap();
    let books = vec![
        ("RS01".to_string(), 10000),
        ("RS02".to_string(), 10000),
        ("RS03".to_string(), 300),
        ("RS04".to_string(), 400),
        ("RS06".to_string(), 600),
    ];
    let r = reconcile("2026-03-02", "wxpay", &books, &b, None, Mistakes::default());
    let kinds: Vec<(Kind, &str)> = r
        .discrepancies
        .iter()
        .map(|d| (d.kind, d.reference.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Kind::AmountMismatch, "RS02"),
            (Kind::StatusMismatch, "RS03"),
            (Kind::DuplicateInStatement, "RS04"),
            (Kind::MissingInBooks, "RS05"),
            (Kind::MissingInStatement, "RS06"),
        ]
    );
    assert_eq!(r.discrepancies[0].books_amount.as_deref(), Some("100.00"));
    assert_eq!(
        r.discrepancies[0].statement_amount.as_deref(),
        Some("99.00")
    );
    assert_eq!(r.discrepancies[4].statement_amount, None);
    assert_eq!(
        r.statement,
        Some(Totals {
            count: 6,
            amount: "215.00".into()
        })
    );
    assert_eq!(
        r.booked,
        Totals {
            count: 5,
            amount: "213.00".into()
        }
    );
}

#[test]
fn fees_are_checked_against_the_contract_rate() {
    // 0.6 % of 100.00 is 0.60; of 2.50 it is 0.015, rounded half away from zero: 0.02.
    let b = parse_bill(
        bill(&[
            row_with_fee("RS01", "SUCCESS", "100.00", "0.60000"),
            row_with_fee("RS02", "SUCCESS", "2.50", "0.02000"),
            row_with_fee("RS03", "SUCCESS", "100.00", "0.61000"),
        ])
        .as_bytes(),
    )
    .unwrap();
    let books = vec![
        ("RS01".to_string(), 10000),
        ("RS02".to_string(), 250),
        ("RS03".to_string(), 10000),
    ];
    let r = reconcile(
        "2026-03-02",
        "wxpay",
        &books,
        &b,
        Some(rate()),
        Mistakes::default(),
    );
    assert_eq!(
        r.discrepancies,
        vec![Discrepancy {
            kind: Kind::FeeMismatch,
            reference: Some("RS03".into()),
            books_amount: Some("0.60".into()),
            statement_amount: Some("0.61".into())
        }]
    );
    assert!(
        reconcile("2026-03-02", "wxpay", &books, &b, None, Mistakes::default())
            .discrepancies
            .is_empty()
    );
}

#[test]
fn refund_rows_are_not_payments_and_not_duplicates() {
    let b = parse_bill(
        bill(&[
            row("RS01", "SUCCESS", "100.00"),
            row_with_fee("RS01", "REFUND", "0.00", "-0.60000").replacen(
                ",`0,`0,`0.00,",
                ",`500001,`RF1,`30.00,",
                1,
            ),
        ])
        .as_bytes(),
    )
    .unwrap();
    let r = reconcile(
        "2026-03-02",
        "wxpay",
        &[("RS01".to_string(), 10000)],
        &b,
        Some(rate()),
        Mistakes::default(),
    );
    assert!(r.discrepancies.is_empty(), "{:?}", r.discrepancies);
    assert_eq!(r.statement.map(|t| t.count), Some(2));
    assert_eq!(
        b.refund_totals(),
        Totals {
            count: 1,
            amount: "30.00".into()
        }
    );
}

#[test]
fn the_report_serialises_in_the_documented_form() {
    let r = reconcile(
        "2026-03-02",
        "wxpay",
        &[("ORD1".into(), 10000)],
        &Bill::default(),
        None,
        Mistakes::default(),
    );
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "business_date": "2026-03-02",
            "channel": "wxpay",
            "booked": {"count": 1, "amount": "100.00"},
            "statement": {"count": 0, "amount": "0.00"},
            "discrepancies": [
                {"kind": "missing_in_statement", "reference": "ORD1", "books_amount": "100.00", "statement_amount": null}
            ],
            "refunds": {"booked": {"count": 0, "amount": "0.00"}, "statement": {"count": 0, "amount": "0.00"}}
        })
    );
}

#[test]
fn a_summary_that_does_not_add_up_is_one_summary_mismatch() {
    let r1 = row("RS01", "SUCCESS", "1.00");
    let text =
        format!("{HEADER}\r\n{r1}\r\n{SUMMARY}\r\n`1,`1.01,`0.00,`0.00,`0.00600,`1.01,`0.00\r\n");
    let b = parse_bill(text.as_bytes()).unwrap();
    assert_eq!(
        (b.summary_count, b.summary_amount_minor),
        (Some(1), Some(101))
    );
    let books = [("RS01".to_string(), 100)];
    let r = reconcile("2026-03-02", "wxpay", &books, &b, None, Mistakes::default());
    assert_eq!(r.discrepancies.len(), 1);
    assert_eq!(
        (
            r.discrepancies[0].kind,
            r.discrepancies[0].reference.as_deref()
        ),
        (Kind::SummaryMismatch, None)
    );
    let b = parse_bill(bill(&[r1]).as_bytes()).unwrap();
    let r = reconcile("2026-03-02", "wxpay", &books, &b, None, Mistakes::default());
    assert!(r.discrepancies.is_empty(), "{:?}", r.discrepancies);
}

#[test]
fn without_a_statement_the_report_says_why_and_nothing_else() {
    let r = without_statement(
        "2026-03-02",
        "wxpay",
        &[("ORD1".into(), 10000)],
        Kind::StatementLate,
    );
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        serde_json::json!({
            "business_date": "2026-03-02",
            "channel": "wxpay",
            "booked": {"count": 1, "amount": "100.00"},
            "statement": null,
            "discrepancies": [
                {"kind": "statement_late", "reference": null, "books_amount": null, "statement_amount": null}
            ],
            "refunds": {"booked": {"count": 0, "amount": "0.00"}, "statement": null}
        })
    );
}
