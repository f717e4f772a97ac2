//! Invariants about payouts that go wrong at the bank (FAILED, RETURNED), computed from the
//! bank's own payout records and sandbank's ledger — never from what the SUT says.
//!
//! A payout that the bank reports FAILED, or that the beneficiary's bank returns (退票), is
//! where the automatic part of settlement stops: paying that beneficiary again, under a new
//! order number, is a human decision (the account may be closed, the name wrong, the
//! platform account empty). So the promise checked here is that after a payout to a
//! beneficiary FAILED or was RETURNED, the SUT sent that beneficiary no further payout.

use super::checks::{Merchant, Violation};
use crate::banks::{Payout, PayoutStatus};
use crate::clock::Instant;
use crate::ledger::{Ledger, PostingKind};

/// When payout `p` stopped for good, if it did: FAILED from the moment it was created,
/// RETURNED from the moment its money came back (the `PayoutReturn` posting).
fn stopped_at(ledger: &Ledger, bank: &str, p: &Payout) -> Option<Instant> {
    match p.status {
        PayoutStatus::Failed => Some(p.created_at),
        PayoutStatus::Returned => ledger
            .by_reference(&p.order_no)
            .filter(|x| x.kind == PostingKind::PayoutReturn && x.instance == bank)
            .map(|x| x.at)
            .min()
            .or(Some(p.created_at)),
        PayoutStatus::Processing | PayoutStatus::Success => None,
    }
}

/// **No automatic re-pay after FAILED or RETURNED**: for each merchant paid through `bank`,
/// no payout to its account was submitted after (in the bank's order of submission, and not
/// earlier in time than) a payout to that account that FAILED or was RETURNED.
pub fn no_payout_after_stop(
    ledger: &Ledger,
    bank: &str,
    payouts: &[Payout],
    merchants: &[Merchant],
) -> Vec<Violation> {
    let mut out = Vec::new();
    for m in merchants.iter().filter(|m| m.bank == bank) {
        let mine: Vec<&Payout> = payouts
            .iter()
            .filter(|p| p.payee_account_no == m.account_no)
            .collect();
        let Some((i, first, at)) = mine
            .iter()
            .enumerate()
            .find_map(|(i, p)| stopped_at(ledger, bank, p).map(|at| (i, *p, at)))
        else {
            continue;
        };
        let later: Vec<&Payout> = mine[i + 1..]
            .iter()
            .filter(|p| p.created_at >= at)
            .copied()
            .collect();
        if later.is_empty() {
            continue;
        }
        let shown: Vec<String> = later
            .iter()
            .map(|p| format!("{} ({}, {})", p.order_no, p.amount, p.status.as_str()))
            .collect();
        out.push(Violation {
            invariant: "no automatic re-pay after a FAILED or RETURNED payout",
            detail: format!(
                "payout {} of {} to account {} of merchant {} ({}) was {}{}, yet the SUT sent it {} more payout(s): {}; paying again under a new number is a human decision",
                first.order_no,
                first.amount,
                m.account_no,
                m.label,
                m.merchant_id,
                first.status.as_str(),
                first
                    .reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                later.len(),
                shown.join(", ")
            ),
            references: std::iter::once(first.order_no.clone())
                .chain(later.iter().map(|p| p.order_no.clone()))
                .chain(std::iter::once(m.account_no.clone()))
                .collect(),
        });
    }
    out
}

/// The precondition of a scenario about a bank behaviour: the bank holds a payout in
/// `status` to the merchant's account. Without it the scenario did not create its situation
/// (the SUT never paid, or the bank never got that far), and its other checks prove nothing.
pub fn holds_payout_in(payouts: &[Payout], m: &Merchant, status: PayoutStatus) -> Vec<Violation> {
    if payouts
        .iter()
        .any(|p| p.payee_account_no == m.account_no && p.status == status)
    {
        return Vec::new();
    }
    let seen: Vec<String> = payouts
        .iter()
        .filter(|p| p.payee_account_no == m.account_no)
        .map(|p| format!("{} {}", p.order_no, p.status.as_str()))
        .collect();
    vec![Violation {
        invariant: "the scenario's situation happened",
        detail: format!(
            "bank `{}` holds no {} payout to account {} of merchant {}; its payouts to that account: {}",
            m.bank,
            status.as_str(),
            m.account_no,
            m.label,
            if seen.is_empty() { "none".to_string() } else { seen.join(", ") }
        ),
        references: vec![m.account_no.clone()],
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{parse_instant, SHANGHAI};
    use crate::money::{Currency, Money};

    fn at(t: &str) -> Instant {
        parse_instant(t, SHANGHAI).unwrap()
    }

    fn merchant() -> Merchant {
        Merchant {
            label: "M1".into(),
            merchant_id: "m1".into(),
            bank: "bank".into(),
            account_no: "622".into(),
            account_name: "A".into(),
        }
    }

    fn payout(no: &str, status: PayoutStatus, created: &str) -> Payout {
        Payout {
            payout_id: format!("AP{no}"),
            mch_id: "20000100".into(),
            order_no: no.into(),
            amount: Money::from_minor(25000, Currency::Cny),
            from_account: "P".into(),
            payee_account_no: "622".into(),
            payee_name: "A".into(),
            status,
            reason: (status == PayoutStatus::Failed).then(|| "INSUFFICIENT_FUNDS".into()),
            created_at: at(created),
            succeeded_at: None,
            first_reply: None,
            posting: None,
            return_posting: None,
        }
    }

    #[test]
    fn a_failed_payout_left_alone_passes() {
        let l = Ledger::default();
        let ps = [payout("S1", PayoutStatus::Failed, "2026-03-03 10:00")];
        assert!(no_payout_after_stop(&l, "bank", &ps, &[merchant()]).is_empty());
        assert!(holds_payout_in(&ps, &merchant(), PayoutStatus::Failed).is_empty());
        assert_eq!(
            holds_payout_in(&ps, &merchant(), PayoutStatus::Success).len(),
            1
        );
    }

    #[test]
    fn a_new_number_after_failed_is_a_violation_with_the_numbers() {
        let l = Ledger::default();
        let ps = [
            payout("S1", PayoutStatus::Failed, "2026-03-03 10:00"),
            payout("S1R1", PayoutStatus::Failed, "2026-03-03 10:00"),
        ];
        let v = no_payout_after_stop(&l, "bank", &ps, &[merchant()]);
        assert_eq!(v.len(), 1);
        assert!(
            v[0].detail.contains("payout S1 of 250.00 CNY"),
            "{}",
            v[0].detail
        );
        assert!(v[0].detail.contains("FAILED (INSUFFICIENT_FUNDS)"));
        assert!(v[0].detail.contains("1 more payout(s): S1R1"));
    }

    #[test]
    fn a_payout_before_the_return_is_not_a_repay_but_one_after_it_is() {
        let mut l = Ledger::default();
        l.transfer(
            at("2026-03-05 10:00"),
            PostingKind::PayoutReturn,
            "bank",
            "S1",
            "bank:bank:payee:622",
            "bank:bank:account:P",
            Money::from_minor(25000, Currency::Cny),
        )
        .unwrap();
        // Day 2's payout, sent before day 1's was returned: fine.
        let ps = [
            payout("S1", PayoutStatus::Returned, "2026-03-03 10:00"),
            payout("S2", PayoutStatus::Success, "2026-03-04 10:00"),
        ];
        assert!(no_payout_after_stop(&l, "bank", &ps, &[merchant()]).is_empty());
        let ps = [
            payout("S1", PayoutStatus::Returned, "2026-03-03 10:00"),
            payout("S1R1", PayoutStatus::Processing, "2026-03-05 10:00"),
        ];
        let v = no_payout_after_stop(&l, "bank", &ps, &[merchant()]);
        assert_eq!(v.len(), 1);
        assert!(v[0].detail.contains("was RETURNED"), "{}", v[0].detail);
    }
}
