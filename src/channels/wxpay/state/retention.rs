//! Which orders a WeChat Pay v2 channel keeps.
//!
//! A channel holds at most `max_orders` orders (the scenario's `max_orders`, default
//! [`MAX_ORDERS_DEFAULT`](super::super::spec::MAX_ORDERS_DEFAULT)). Creating one more
//! forgets the oldest order held, in order of creation whatever its state; the world
//! journals it (`order.forget`). A forgotten order is unknown from then on, as an order the
//! channel never had: `pay/orderquery` answers `ORDERNOTEXIST`, the control API 404, its
//! number may be used again, a notification still due about it is no longer sent, and a
//! bill line of its payment shows the ledger's amounts without the order's details (see
//! `docs/architecture.md`, "Bounds").
//!
//! Forgetting takes the order out of every index (order number, transaction id, its
//! refunds' numbers), gives back what its PROCESSING refunds held in flight, and drops the
//! ids kept for it when its number had been used again ([`WxState::keep_issued`]).

use super::super::order::{Issued, WxOrder};
use super::super::refund_record::RefundStatus;
use super::WxState;
use std::hash::BuildHasher;

impl WxState {
    /// Hold `order`, which must not be held yet (look it up first). When `max_orders` are
    /// held, the oldest is forgotten first and returned.
    pub fn insert(&mut self, order: WxOrder) -> Option<WxOrder> {
        let forgotten = if self.orders.is_full() {
            self.forget_oldest()
        } else {
            None
        };
        let hash = self.hash(order.out_trade_no());
        let slot = self.orders.push(order) as u32;
        let WxState {
            orders,
            by_number,
            hasher,
            ..
        } = self;
        by_number.insert_unique(hash, slot, |&s| {
            Self::in_slot(orders, s).map_or(0, |o| hasher.hash_one(o.out_trade_no()))
        });
        forgotten
    }

    /// Forget the oldest order held.
    fn forget_oldest(&mut self) -> Option<WxOrder> {
        let (number, order) = self.orders.pop_oldest()?;
        let slot = number as u32;
        let hash = self.hash(order.out_trade_no());
        if let Ok(e) = self.by_number.find_entry(hash, |&s| s == slot) {
            e.remove();
        }
        if let Some(t) = order.transaction_id() {
            let hash = self.hash(t);
            if let Ok(e) = self.by_transaction.find_entry(hash, |&s| s == slot) {
                e.remove();
            }
        }
        for r in order.refunds() {
            for (table, key) in [
                (&mut self.by_refund_no, &*r.out_refund_no),
                (&mut self.by_refund_id, &*r.refund_id),
            ] {
                let hash = self.hasher.hash_one(key);
                if let Ok(e) = table.find_entry(hash, |&(s, _)| s == slot) {
                    e.remove();
                }
            }
            if r.status == RefundStatus::Processing {
                self.release(order.mch_id(), r.net_fen);
            }
        }
        if !self.reissued.is_empty() {
            self.reissued
                .remove(&(order.mch_id().into(), order.out_trade_no().into()));
        }
        Some(order)
    }

    /// Record that merchant `mch_id`'s order `out_trade_no` was issued `issued`, which its
    /// stream from its start would not give again.
    pub fn keep_issued(&mut self, mch_id: &str, out_trade_no: &str, issued: Issued) {
        self.reissued
            .insert((mch_id.into(), out_trade_no.into()), issued);
    }

    /// What the order was issued, when it could not be derived again.
    pub fn kept_issued(&self, order: &WxOrder) -> Option<&Issued> {
        if self.reissued.is_empty() {
            return None;
        }
        self.reissued
            .get(&(order.mch_id().into(), order.out_trade_no().into()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::order;
    use super::*;
    use crate::money::Money;

    #[test]
    fn past_the_bound_the_oldest_is_forgotten() {
        let mut st = WxState::new(3);
        for i in 0..3 {
            let o = order(&mut st, "M1", &format!("ORDER{i:03}"));
            assert!(st.insert(o).is_none());
        }
        st.mark_paid(
            "M1",
            "ORDER000",
            "4200001",
            "oPAYER",
            chrono::Utc::now(),
            Money::zero(crate::money::Currency::Cny),
        );
        assert!(st.by_transaction("4200001").is_some());
        let o = order(&mut st, "M1", "ORDER003");
        let gone = st.insert(o).expect("the oldest is forgotten");
        assert_eq!(gone.out_trade_no(), "ORDER000");
        assert_eq!((st.orders().len(), st.orders().forgotten()), (3, 1));
        assert!(st.get("M1", "ORDER000").is_none());
        assert!(st.by_transaction("4200001").is_none());
        for i in 1..=3 {
            assert!(st.get("M1", &format!("ORDER{i:03}")).is_some(), "{i}");
        }
    }
}
