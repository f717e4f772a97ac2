//! The reconciliation report, checked beyond its kinds: the `statement` totals against the
//! bill as sandbank served it, and each discrepancy's amounts against the truth.
//!
//! The truth is taken when the SUT reconciled ([`ReconTruth::now`], the clock is manual), so
//! a bill that was late then and is out by the time the scenario checks is still judged as
//! late: the oracle asks only what the SUT could see on the wire (docs/sut-adapter.md,
//! "The reconciliation report").

use super::checks::{Report, Violation};
use crate::statements::mismatch::StatementLines;
use crate::statements::render::{BillType, Format};
use crate::statements::ExpectedDiscrepancy;
use crate::world::WorldState;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::str::FromStr;

const LATE: &str = "statement_late";

/// What the channel's statement of a day really was when the SUT reconciled it.
#[derive(Debug, Clone)]
pub struct ReconTruth {
    /// The discrepancies a correct reconciliation reports (observable at that instant).
    pub expected: Vec<ExpectedDiscrepancy>,
    /// The bill's detail lines; `None` when there was no bill to read (late, unreadable).
    pub lines: Option<StatementLines>,
}

impl ReconTruth {
    /// The truth about `channel`'s statement of day `d` in world `st` at its current instant.
    pub fn now(st: &WorldState, channel: &str, d: NaiveDate) -> ReconTruth {
        let mut expected = st.expected_discrepancies(channel, d);
        let lines = st.statement_lines_in(channel, d, bill_format(st, channel));
        // No bill to read, yet nothing injected says why: the bill was not generated yet
        // (reconciled before 09:00 the next day). The wire said `Bill Creating`: late.
        let explained = expected
            .iter()
            .any(|e| e.kind == LATE || e.kind == "statement_unreadable");
        if lines.is_none() && !explained {
            if let Ok(source) = st.source(channel, None) {
                expected.push(ExpectedDiscrepancy {
                    id: "not-generated-yet".into(),
                    kind: LATE.into(),
                    reference: None,
                    instance: channel.to_string(),
                    account: source.account().to_string(),
                    date: d,
                    mismatch: crate::mismatches::MismatchKind::Late,
                    books_amount: None,
                    statement_amount: None,
                    cause: "reconciled before the bill's usual time (09:00 the next day)".into(),
                });
            }
        }
        ReconTruth { expected, lines }
    }

    /// The expected discrepancies as (kind, reference) pairs, for
    /// [`super::checks::reconciles_exactly`].
    pub fn kinds(&self) -> Vec<(String, Option<String>)> {
        self.expected
            .iter()
            .map(|d| (d.kind.clone(), d.reference.clone()))
            .collect()
    }
}

/// The bill a channel's reconciliation downloads, as the channel's kind names it (the
/// WeChat ALL bill when `channel` is not a channel of this world: then there is no bill).
fn bill_format(st: &WorldState, channel: &str) -> Format {
    st.spec
        .channel(channel)
        .map_or(Format::Wechat(BillType::All), |c| c.bill_format())
}

/// What sandbank's ledger shows was refunded on `window`'s day for `orders` at `channel`:
/// how many refund postings, and their total (what reached the customers).
pub fn refunds_on(
    ledger: &crate::ledger::Ledger,
    orders: &[super::checks::Order],
    held: &std::collections::BTreeMap<String, Vec<String>>,
    channel: &str,
    window: crate::clock::DayWindow,
) -> (u64, Decimal) {
    let (mut count, mut total) = (0u64, Decimal::ZERO);
    for o in orders.iter().filter(|o| o.channel == channel) {
        let numbers = held.get(&o.out_trade_no).cloned().unwrap_or_default();
        let by_end = super::checks::refunded_before(ledger, o, &numbers, Some(window.end));
        let by_start = super::checks::refunded_before(ledger, o, &numbers, Some(window.start));
        let mut refs: Vec<&str> = vec![o.out_trade_no.as_str()];
        refs.extend(
            numbers
                .iter()
                .map(String::as_str)
                .filter(|n| *n != o.out_trade_no),
        );
        count += refs
            .iter()
            .flat_map(|r| ledger.by_reference(r))
            .filter(|p| {
                p.kind == crate::ledger::PostingKind::Refund
                    && p.instance == o.channel
                    && window.contains(p.at)
            })
            .count() as u64;
        total += by_end.amount - by_start.amount;
    }
    (count, total)
}

fn totals_text(t: &super::checks::Totals) -> String {
    format!("{} totalling {}", t.count, t.amount)
}

/// **Reconciles the refunds**: the report's `refunds` states the day's refunds on both
/// sides as they are — `booked` what sandbank's ledger shows was refunded that day for the
/// SUT's orders (`booked_truth`), `statement` the refund rows of the bill as served (count,
/// and what they refunded), null when there was no bill to read.
pub fn refund_totals(
    report: &Report,
    lines: Option<StatementLines>,
    booked_truth: (u64, Decimal),
) -> Vec<Violation> {
    let day = &report.business_date;
    let Some(r) = &report.refunds else {
        return vec![Violation {
            invariant: "reconciles the refunds",
            detail: format!(
                "the reconciliation report for {day} has no `refunds`: it must state the refunds it booked for the day and the bill's refund rows (docs/sut-adapter.md)"
            ),
            references: Vec::new(),
        }];
    };
    let same = |t: &super::checks::Totals, count: u64, a: Decimal| {
        t.count == count && amount(&t.amount) == Some(a)
    };
    let mut wrong = Vec::new();
    if !same(&r.booked, booked_truth.0, booked_truth.1) {
        wrong.push(format!(
            "`refunds.booked` is {} but sandbank's ledger shows {} refund(s) totalling {:.2} reached the customers that day",
            totals_text(&r.booked),
            booked_truth.0,
            booked_truth.1
        ));
    }
    match (&r.statement, lines) {
        (None, None) => {}
        (Some(t), Some(l)) if same(t, l.refund_count, l.refund_amount) => {}
        (got, want) => wrong.push(format!(
            "`refunds.statement` is {} but {}",
            got.as_ref()
                .map(totals_text)
                .unwrap_or_else(|| "null".into()),
            match want {
                Some(l) => format!(
                    "the bill sandbank served lists {} refund row(s) totalling {:.2}",
                    l.refund_count, l.refund_amount
                ),
                None => "sandbank served no bill to read, so it must be null".into(),
            }
        )),
    }
    if wrong.is_empty() {
        return Vec::new();
    }
    vec![Violation {
        invariant: "reconciles the refunds",
        detail: format!("for {day}: {}", wrong.join("; ")),
        references: Vec::new(),
    }]
}

fn amount(text: &str) -> Option<Decimal> {
    Decimal::from_str(text.trim()).ok()
}

fn show(a: Option<&str>) -> String {
    a.map(|t| format!("\"{t}\""))
        .unwrap_or_else(|| "null".into())
}

/// **Statement totals**: `statement` is the bill's detail rows as served — their count and
/// the sum of their order amounts — or null when there was no bill to read (late or
/// unreadable). Never the books' figures, never the summary row's.
pub fn statement_totals(report: &Report, lines: Option<StatementLines>) -> Vec<Violation> {
    let got = report
        .statement
        .as_ref()
        .map(|t| (t.count, amount(&t.amount), t.amount.clone()));
    let ok = match (&got, lines) {
        (None, None) => true,
        (Some((count, Some(a), _)), Some(l)) => *count == l.count && *a == l.amount,
        _ => false,
    };
    if ok {
        return Vec::new();
    }
    let want = match lines {
        Some(l) => format!(
            "the bill sandbank served lists {} row(s) totalling {:.2}",
            l.count, l.amount
        ),
        None => "sandbank served no bill to read (late or unreadable), so it must be null".into(),
    };
    let said = match got {
        Some((count, _, text)) => format!("{count} row(s) totalling {text}"),
        None => "null".into(),
    };
    vec![Violation {
        invariant: "reports the statement as served",
        detail: format!(
            "for {} the report's `statement` is {said}, but {want}",
            report.business_date
        ),
        references: Vec::new(),
    }]
}

/// **Discrepancy amounts**: each reported discrepancy about an order carries the amounts the
/// truth gives (`books_amount`, `statement_amount`; for `fee_mismatch` the fees), null where
/// a side has none. Compared as decimals (`0.6` = `0.60000`). File-level discrepancies
/// (no reference) carry no amounts that are checked. A discrepancy whose kind and reference
/// are not real is left to *always reconciles*.
pub fn discrepancy_amounts(report: &Report, expected: &[ExpectedDiscrepancy]) -> Vec<Violation> {
    let same = |a: Option<&str>, b: Option<&str>| match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => amount(a).is_some() && amount(a) == amount(b),
        _ => false,
    };
    let mut wrong = Vec::new();
    let mut refs = Vec::new();
    for d in report
        .discrepancies
        .iter()
        .filter(|d| d.reference.is_some())
    {
        let candidates: Vec<&ExpectedDiscrepancy> = expected
            .iter()
            .filter(|e| e.kind == d.kind && e.reference == d.reference)
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let fits = candidates.iter().any(|e| {
            same(d.books_amount.as_deref(), e.books_amount.as_deref())
                && same(d.statement_amount.as_deref(), e.statement_amount.as_deref())
        });
        if !fits {
            let e = candidates[0];
            let reference = d.reference.clone().unwrap_or_default();
            wrong.push(format!(
                "{} {reference}: reported books {} / statement {}, but the truth is books {} / statement {}",
                d.kind,
                show(d.books_amount.as_deref()),
                show(d.statement_amount.as_deref()),
                show(e.books_amount.as_deref()),
                show(e.statement_amount.as_deref()),
            ));
            refs.push(reference);
        }
    }
    if wrong.is_empty() {
        return Vec::new();
    }
    vec![Violation {
        invariant: "reports each discrepancy's amounts",
        detail: format!(
            "the reconciliation report for {} gives wrong amounts: {}",
            report.business_date,
            wrong.join("; ")
        ),
        references: refs,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::checks::{Discrepancy, Totals};
    use crate::mismatches::MismatchKind;

    fn report(
        statement: Option<(u64, &str)>,
        ds: &[(&str, &str, Option<&str>, Option<&str>)],
    ) -> Report {
        Report {
            business_date: "2026-03-02".into(),
            channel: Some("wxpay".into()),
            booked: Totals {
                count: 2,
                amount: "30.00".into(),
            },
            statement: statement.map(|(count, a)| Totals {
                count,
                amount: a.into(),
            }),
            discrepancies: ds
                .iter()
                .map(|(k, r, b, s)| Discrepancy {
                    kind: k.to_string(),
                    reference: Some(r.to_string()),
                    books_amount: b.map(str::to_string),
                    statement_amount: s.map(str::to_string),
                })
                .collect(),
            refunds: None,
        }
    }

    fn expected(
        kind: &str,
        reference: &str,
        books: Option<&str>,
        shown: Option<&str>,
    ) -> ExpectedDiscrepancy {
        ExpectedDiscrepancy {
            id: "m".into(),
            kind: kind.into(),
            reference: Some(reference.into()),
            instance: "wxpay".into(),
            account: "10000100".into(),
            date: chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            mismatch: MismatchKind::Amount,
            books_amount: books.map(str::to_string),
            statement_amount: shown.map(str::to_string),
            cause: String::new(),
        }
    }

    fn lines(count: u64, amount: &str) -> Option<StatementLines> {
        Some(StatementLines {
            count,
            amount: Decimal::from_str(amount).unwrap(),
            refund_count: 0,
            refund_amount: Decimal::ZERO,
        })
    }

    #[test]
    fn the_statement_totals_are_the_bill_as_served() {
        assert!(statement_totals(&report(Some((1, "10.0")), &[]), lines(1, "10.00")).is_empty());
        assert!(statement_totals(&report(None, &[]), None).is_empty());
        let v = statement_totals(&report(Some((2, "30.00")), &[]), lines(1, "10.00"));
        assert!(
            v[0].detail.contains("`statement` is 2 row(s) totalling 30.00, but the bill sandbank served lists 1 row(s) totalling 10.00"),
            "{}",
            v[0].detail
        );
        assert_eq!(
            statement_totals(&report(Some((0, "0.00")), &[]), None).len(),
            1
        );
        assert_eq!(statement_totals(&report(None, &[]), lines(0, "0")).len(), 1);
        assert_eq!(
            statement_totals(&report(Some((1, "ten")), &[]), lines(1, "10")).len(),
            1
        );
    }

    #[test]
    fn the_refunds_are_the_ledgers_and_the_bills() {
        use crate::harness::checks::RefundTotals;
        let t = |count, a: &str| Totals {
            count,
            amount: a.into(),
        };
        let bill = Some(StatementLines {
            count: 3,
            amount: Decimal::from(70),
            refund_count: 1,
            refund_amount: Decimal::from(50),
        });
        let mut r = report(Some((3, "70.00")), &[]);
        assert_eq!(
            refund_totals(&r, bill, (1, Decimal::from(50)))[0].invariant,
            "reconciles the refunds"
        );
        r.refunds = Some(RefundTotals {
            booked: t(1, "50.00"),
            statement: Some(t(1, "50")),
        });
        assert!(refund_totals(&r, bill, (1, Decimal::from(50))).is_empty());
        // A system that forgot the refunds.
        r.refunds = Some(RefundTotals {
            booked: t(0, "0.00"),
            statement: Some(t(0, "0.00")),
        });
        let v = refund_totals(&r, bill, (1, Decimal::from(50)));
        assert!(v[0].detail.contains("`refunds.booked` is 0 totalling 0.00 but sandbank's ledger shows 1 refund(s) totalling 50.00 reached the customers that day; `refunds.statement` is 0 totalling 0.00 but the bill sandbank served lists 1 refund row(s) totalling 50.00"), "{}", v[0].detail);
        // No bill to read: the statement side must be null.
        assert_eq!(refund_totals(&r, None, (0, Decimal::ZERO)).len(), 1);
        r.refunds = Some(RefundTotals {
            booked: t(0, "0"),
            statement: None,
        });
        assert!(refund_totals(&r, None, (0, Decimal::ZERO)).is_empty());
    }

    #[test]
    fn discrepancy_amounts_follow_the_truth() {
        let want = [
            expected("amount_mismatch", "O1", Some("10.00"), Some("10.01")),
            expected("missing_in_statement", "O2", Some("20.00"), None),
        ];
        let good = report(
            None,
            &[
                ("amount_mismatch", "O1", Some("10"), Some("10.010")),
                ("missing_in_statement", "O2", Some("20.00"), None),
            ],
        );
        assert!(discrepancy_amounts(&good, &want).is_empty());
        let bad = report(
            None,
            &[
                ("amount_mismatch", "O1", Some("10.00"), Some("10.00")),
                ("missing_in_statement", "O2", Some("20.00"), Some("0.00")),
                ("duplicate_in_statement", "O9", None, None),
            ],
        );
        let v = discrepancy_amounts(&bad, &want);
        assert_eq!(v.len(), 1);
        assert!(v[0].detail.contains("amount_mismatch O1: reported books \"10.00\" / statement \"10.00\", but the truth is books \"10.00\" / statement \"10.01\""), "{}", v[0].detail);
        assert!(v[0].detail.contains("missing_in_statement O2"));
        assert!(
            !v[0].detail.contains("O9"),
            "unreal kinds are left to always reconciles"
        );
    }
}
