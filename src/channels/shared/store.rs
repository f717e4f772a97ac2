//! The orders a channel holds, whatever its kind: kept in order of creation and numbered
//! from 0 that way (a number is never given twice), at most `max_orders` of them, with the
//! counts [`OrderStats`] reports: how many were forgotten to stay within the bound, and how
//! many held orders lookups have looked at.
//!
//! A kind keeps its own indexes from its keys (order number, transaction id, refund number)
//! to these numbers, and its own words for what an order is; forgetting the oldest order is
//! the store's ([`OrderStore::pop_oldest`]), removing it from the indexes the kind's.

use crate::core::OrderStats;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

/// A channel's orders in order of creation, at most `max_orders` of them.
#[derive(Debug)]
pub struct OrderStore<T> {
    /// Held orders, oldest first; the front one is number `first`.
    orders: VecDeque<T>,
    /// The number of the front order.
    first: u64,
    max_orders: usize,
    forgotten: u64,
    /// Held orders looked at by lookups (a statistic: see [`OrderStats`]).
    examined: AtomicU64,
}

impl<T> OrderStore<T> {
    /// No orders yet; at most `max_orders` (at least 1) held.
    pub fn new(max_orders: usize) -> OrderStore<T> {
        OrderStore {
            orders: VecDeque::new(),
            first: 0,
            max_orders: max_orders.max(1),
            forgotten: 0,
            examined: AtomicU64::new(0),
        }
    }

    /// Orders held.
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    /// True when none is held.
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// The most orders held.
    pub fn max_orders(&self) -> usize {
        self.max_orders
    }

    /// Orders forgotten so far to stay within [`OrderStore::max_orders`].
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    /// Held orders looked at by lookups so far.
    pub fn examined(&self) -> u64 {
        self.examined.load(Ordering::Relaxed)
    }

    /// How many orders are held, the bound, and the work of the lookups.
    pub fn stats(&self) -> OrderStats {
        OrderStats {
            held: self.len(),
            max_orders: self.max_orders,
            forgotten: self.forgotten,
            examined: self.examined(),
        }
    }

    /// Every order held, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.orders.iter()
    }

    /// True when [`OrderStore::max_orders`] are held: one more means forgetting the oldest.
    pub fn is_full(&self) -> bool {
        self.orders.len() >= self.max_orders
    }

    /// Hold `order` as the newest; its number. Make room first ([`OrderStore::is_full`],
    /// [`OrderStore::pop_oldest`]): the store itself never forgets.
    pub fn push(&mut self, order: T) -> u64 {
        let number = self.first + self.orders.len() as u64;
        self.orders.push_back(order);
        number
    }

    /// Forget the oldest order held (counted in [`OrderStore::forgotten`]): its number and
    /// the order, for the kind to take out of its indexes.
    pub fn pop_oldest(&mut self) -> Option<(u64, T)> {
        let order = self.orders.pop_front()?;
        let number = self.first;
        self.first += 1;
        self.forgotten += 1;
        Some((number, order))
    }

    /// The position in `orders` of order `number`, if it is held.
    fn position(&self, number: u64) -> Option<usize> {
        usize::try_from(number.checked_sub(self.first)?).ok()
    }

    /// Order `number`, looked at by a lookup (counted in [`OrderStore::examined`], held or
    /// not).
    pub fn examine(&self, number: u64) -> Option<&T> {
        self.examined.fetch_add(1, Ordering::Relaxed);
        self.get(number)
    }

    /// Order `number` to change, looked at by a lookup (counted as
    /// [`OrderStore::examine`] counts).
    pub fn examine_mut(&mut self, number: u64) -> Option<&mut T> {
        self.examined.fetch_add(1, Ordering::Relaxed);
        self.get_mut(number)
    }

    /// Order `number`, not counted: what a lookup already found, or an index rehashing.
    pub fn get(&self, number: u64) -> Option<&T> {
        self.orders.get(self.position(number)?)
    }

    /// Order `number` to change, not counted.
    pub fn get_mut(&mut self, number: u64) -> Option<&mut T> {
        let i = self.position(number)?;
        self.orders.get_mut(i)
    }

    /// The number of the order whose number's low 32 bits are `low`, for indexes that keep
    /// 4 bytes an order: exact while fewer than 2^32 orders are held (the bound is far
    /// below).
    pub fn number_of(&self, low: u32) -> u64 {
        self.first + u64::from(low.wrapping_sub(self.first as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_numbered_in_order_of_creation_and_forgotten_oldest_first() {
        let mut s: OrderStore<&str> = OrderStore::new(2);
        assert!(s.is_empty() && !s.is_full());
        assert_eq!((s.push("a"), s.push("b")), (0, 1));
        assert!(s.is_full());
        assert_eq!(s.pop_oldest(), Some((0, "a")));
        assert_eq!(s.push("c"), 2);
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(
            (s.get(0), s.get(1), s.get(2), s.get(3)),
            (None, Some(&"b"), Some(&"c"), None)
        );
        assert_eq!(
            s.stats(),
            OrderStats {
                held: 2,
                max_orders: 2,
                forgotten: 1,
                examined: 0
            }
        );
    }

    #[test]
    fn only_lookups_are_counted_as_examined() {
        let mut s: OrderStore<u8> = OrderStore::new(0);
        assert_eq!(s.max_orders(), 1);
        s.push(7);
        assert_eq!(s.get(0), Some(&7));
        assert_eq!(s.examine(0), Some(&7));
        assert_eq!(s.examine(9), None);
        if let Some(o) = s.examine_mut(0) {
            *o = 8;
        }
        assert_eq!(s.get_mut(0).copied(), Some(8));
        assert_eq!(s.examined(), 3);
    }

    #[test]
    fn a_low_32_bit_number_finds_its_order_across_the_wrap() {
        let mut s: OrderStore<u64> = OrderStore::new(4);
        s.first = u64::from(u32::MAX) - 1;
        for _ in 0..4 {
            let n = s.first + s.len() as u64;
            assert_eq!(s.push(n), n);
        }
        for n in s.iter().copied().collect::<Vec<_>>() {
            assert_eq!(s.number_of(n as u32), n);
            assert_eq!(s.get(s.number_of(n as u32)), Some(&n));
        }
    }
}
