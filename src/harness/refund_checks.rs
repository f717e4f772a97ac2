//! The refund invariants, from sandbank's ledger and the channel's own records of each
//! order's refunds — never from what the SUT says, except the refund number it answered.
//!
//! What a refund is on the wire: the channel holds it under the SUT's refund number
//! (WeChat `out_refund_no`, Alipay `out_request_no`) in the order's view, and when it
//! succeeds the ledger moves its amount from the channel's merchant account to
//! `world:customers` (a `refund` posting, under the refund number at WeChat and under the
//! order number at Alipay). So "the customer got back" is the sum of those postings, and
//! "refunded twice" is either more money than was asked for or a refund number at the
//! channel that no requested refund was answered with.

use super::checks::{refunded_before, Order, Violation};

use crate::ledger::Ledger;
use crate::money::Money;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// One refund the scenario asked the SUT for (one `create_refund` call).
#[derive(Debug, Clone)]
pub struct RequestedRefund {
    /// The order's channel.
    pub channel: String,
    /// The order refunded.
    pub out_trade_no: String,
    /// The merchant's label.
    pub merchant: String,
    /// How much was asked for.
    pub amount: Money,
    /// The refund number the SUT answered.
    pub out_refund_no: String,
}

/// The refund numbers the channel holds for an order, from its order view (`refunds[]`,
/// each with `out_refund_no` at WeChat or `out_request_no` at Alipay).
pub fn channel_refund_numbers(detail: &serde_json::Value) -> Vec<String> {
    detail
        .get("refunds")
        .and_then(|r| r.as_array())
        .map(|rs| {
            rs.iter()
                .filter_map(|r| {
                    r.get("out_refund_no")
                        .or_else(|| r.get("out_request_no"))
                        .and_then(|n| n.as_str())
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// **Never refunds twice** and **every refund reaches the customer**: for each order the
/// scenario refunded, the customer got back exactly the sum of the refunds asked for, each
/// requested refund reached the channel under the one number the SUT answered with, no
/// other number, and no order was refunded more than it brought in.
pub fn refunds_exactly_once(
    ledger: &Ledger,
    orders: &[Order],
    requested: &[RequestedRefund],
    held: &BTreeMap<String, Vec<String>>,
) -> Vec<Violation> {
    let mut v = Vec::new();
    for o in orders {
        let asked: Vec<&RequestedRefund> = requested
            .iter()
            .filter(|r| r.out_trade_no == o.out_trade_no && r.channel == o.channel)
            .collect();
        let numbers = held.get(&o.out_trade_no).cloned().unwrap_or_default();
        if asked.is_empty() && numbers.is_empty() {
            continue;
        }
        let want: Decimal = asked.iter().map(|r| r.amount.amount).sum();
        let got = refunded_before(ledger, o, &numbers, None);
        let paid = super::checks::paid_in(ledger, o);
        let mut refs = vec![o.out_trade_no.clone()];
        refs.extend(numbers.iter().cloned());
        let extra: Vec<&String> = numbers
            .iter()
            .filter(|n| !asked.iter().any(|r| &r.out_refund_no == *n))
            .collect();
        if got.amount > want || !extra.is_empty() {
            let mut detail = format!(
                "order {} of merchant {}: {} refund(s) totalling {} were asked for, but the customer got back {}",
                o.out_trade_no,
                o.merchant,
                asked.len(),
                Money { amount: want, currency: got.currency },
                got
            );
            if got.amount > want {
                detail.push_str(&format!(
                    ": refunded {} too much",
                    Money {
                        amount: got.amount - want,
                        currency: got.currency
                    }
                ));
            }
            if !extra.is_empty() {
                let answered: Vec<&str> = asked.iter().map(|r| r.out_refund_no.as_str()).collect();
                detail.push_str(&format!(
                    "; the channel holds refund number(s) {} that no requested refund was answered with (the SUT answered {}): a second refund number for one refund",
                    extra.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                    answered.join(", ")
                ));
            }
            v.push(Violation {
                invariant: "never refunds twice",
                detail,
                references: refs.clone(),
            });
        } else if got.amount < want {
            v.push(Violation {
                invariant: "every refund reaches the customer",
                detail: format!(
                    "order {} of merchant {}: {} refund(s) totalling {} were asked for, but the customer got back only {}",
                    o.out_trade_no,
                    o.merchant,
                    asked.len(),
                    Money { amount: want, currency: got.currency },
                    got
                ),
                references: refs.clone(),
            });
        }
        if got.amount > paid.amount {
            v.push(Violation {
                invariant: "no refund exceeds its payment",
                detail: format!(
                    "order {} brought in {} but {} was refunded",
                    o.out_trade_no, paid, got
                ),
                references: refs,
            });
        }
    }
    v
}

/// **Every refund reaches the customer**, when the settlement system refused the refund
/// outright (`create_refund` failed): a violation if the refund was one it had to make — the
/// order is paid in sandbank's ledger and this refund, with the ones asked for before
/// (`requested`), stays within what it brought in. `None` when the refusal was right (an
/// unpaid order, or more than was paid), which leaves the hook's failure to stand as such.
pub fn refused_refund(
    ledger: &Ledger,
    order: &Order,
    requested: &[RequestedRefund],
    amount: Money,
    refusal: &str,
) -> Option<Violation> {
    let paid = super::checks::paid_in(ledger, order);
    let asked_before: Decimal = requested
        .iter()
        .filter(|r| r.out_trade_no == order.out_trade_no && r.channel == order.channel)
        .map(|r| r.amount.amount)
        .sum();
    if paid.amount <= Decimal::ZERO || asked_before + amount.amount > paid.amount {
        return None;
    }
    Some(Violation {
        invariant: "every refund reaches the customer",
        detail: format!(
            "the settlement system refused to refund {amount} of order {} of merchant {}, which sandbank's ledger shows paid ({paid} brought in, {} asked back before): the customer never gets the money back. create_refund: {refusal}",
            order.out_trade_no,
            order.merchant,
            Money { amount: asked_before, currency: paid.currency },
        ),
        references: vec![order.out_trade_no.clone()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{accounts, PostingKind};
    use crate::money::Currency;

    fn cny(s: &str) -> Money {
        Money::parse(s, Currency::Cny).unwrap()
    }

    fn setup() -> (Ledger, Order) {
        let mut l = Ledger::default();
        let at = chrono::DateTime::from_timestamp(1_772_400_000, 0).unwrap();
        let m = accounts::channel_merchant("wxpay", "10000100");
        l.transfer(
            at,
            PostingKind::Payment,
            "wxpay",
            "O1",
            accounts::CUSTOMERS,
            &m,
            cny("100.00"),
        )
        .unwrap();
        l.transfer(
            at,
            PostingKind::Refund,
            "wxpay",
            "R1",
            &m,
            accounts::CUSTOMERS,
            cny("30.00"),
        )
        .unwrap();
        let o = Order {
            channel: "wxpay".into(),
            out_trade_no: "O1".into(),
            merchant: "M1".into(),
            amount: cny("100.00"),
        };
        (l, o)
    }

    fn asked(no: &str, amount: &str) -> RequestedRefund {
        RequestedRefund {
            channel: "wxpay".into(),
            out_trade_no: "O1".into(),
            merchant: "M1".into(),
            amount: cny(amount),
            out_refund_no: no.into(),
        }
    }

    #[test]
    fn a_refund_made_once_passes_and_twice_fails() {
        let (mut l, o) = setup();
        let held = BTreeMap::from([("O1".to_string(), vec!["R1".to_string()])]);
        assert!(
            refunds_exactly_once(&l, std::slice::from_ref(&o), &[asked("R1", "30.00")], &held)
                .is_empty()
        );
        // Asked for more than reached the customer.
        let v = refunds_exactly_once(&l, std::slice::from_ref(&o), &[asked("R1", "50.00")], &held);
        assert_eq!(v[0].invariant, "every refund reaches the customer");
        // A second number for the same refund, paid too.
        let at = chrono::DateTime::from_timestamp(1_772_400_100, 0).unwrap();
        let m = accounts::channel_merchant("wxpay", "10000100");
        l.transfer(
            at,
            PostingKind::Refund,
            "wxpay",
            "R2",
            &m,
            accounts::CUSTOMERS,
            cny("30.00"),
        )
        .unwrap();
        let held = BTreeMap::from([("O1".to_string(), vec!["R1".to_string(), "R2".to_string()])]);
        let v = refunds_exactly_once(&l, &[o], &[asked("R1", "30.00")], &held);
        assert_eq!(v[0].invariant, "never refunds twice");
        assert!(
            v[0].detail
                .contains("got back 60.00 CNY: refunded 30.00 CNY too much"),
            "{}",
            v[0].detail
        );
        assert!(
            v[0].detail.contains("refund number(s) R2"),
            "{}",
            v[0].detail
        );
    }

    #[test]
    fn a_refused_refund_of_a_paid_order_never_reaches_the_customer() {
        let (l, o) = setup();
        let v = refused_refund(&l, &o, &[], cny("50.00"), "HTTP 409 `not paid`").unwrap();
        assert_eq!(v.invariant, "every refund reaches the customer");
        assert!(
            v.detail.contains("refused to refund 50.00 CNY of order O1 of merchant M1, which sandbank's ledger shows paid (100.00 CNY brought in, 0.00 CNY asked back before): the customer never gets the money back. create_refund: HTTP 409 `not paid`"),
            "{}",
            v.detail
        );
        // Beyond what the order brought in, a refusal is right.
        assert!(refused_refund(&l, &o, &[asked("R1", "60.00")], cny("50.00"), "409").is_none());
        assert!(refused_refund(&l, &o, &[asked("R1", "50.00")], cny("50.00"), "409").is_some());
        // An order nobody paid cannot be refunded.
        let unpaid = Order {
            out_trade_no: "O2".into(),
            ..o
        };
        assert!(refused_refund(&l, &unpaid, &[], cny("1.00"), "409").is_none());
    }

    #[test]
    fn refund_numbers_are_read_from_either_channel() {
        let wx = serde_json::json!({"refunds": [{"out_refund_no": "A"}]});
        let ali = serde_json::json!({"refunds": [{"out_request_no": "B"}]});
        assert_eq!(channel_refund_numbers(&wx), vec!["A"]);
        assert_eq!(channel_refund_numbers(&ali), vec!["B"]);
        assert!(channel_refund_numbers(&serde_json::json!({})).is_empty());
    }
}
