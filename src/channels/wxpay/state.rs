//! All orders of a WeChat Pay v2 channel: kept in order of creation, found by order number,
//! transaction id or refund through hash indexes, at most `max_orders` of them. The indexes
//! hold a 4-byte position per order, not a copy of its key.
//!
//! **Retention**: a channel holds at most `max_orders` orders (the scenario's `max_orders`,
//! default [`MAX_ORDERS_DEFAULT`]). Creating one more forgets the oldest order held, in order
//! of creation whatever its state; the world journals it (`order.forget`). A forgotten
//! order is unknown from then on, as an order the channel never had: `pay/orderquery`
//! answers `ORDERNOTEXIST`, the control API 404, its number may be used again, a
//! notification still due about it is no longer sent, and a bill line of its payment shows
//! the ledger's amounts without the order's details (see `docs/architecture.md`, "Bounds").

use super::order::{Issued, MerchantIds, WxOrder};
use super::refund_record::{RefundStatus, WxRefund};
use super::spec::MAX_ORDERS_DEFAULT;
use crate::channels::shared::FindError;
use crate::clock::Instant;
use crate::money::Money;
use hashbrown::HashTable;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How many recently seen notify URLs a channel remembers to share with new orders.
const RECENT_URLS: usize = 4;

/// All orders of one channel instance.
#[derive(Debug)]
pub struct WxState {
    /// Orders in order of creation; the front one is number `first`.
    orders: VecDeque<WxOrder>,
    /// The number (in order of creation, from 0) of the front order.
    first: u64,
    /// Positions of orders by `out_trade_no` (several merchants may share one), as the low
    /// 32 bits of their number.
    by_number: HashTable<u32>,
    /// Positions of paid orders by `transaction_id`.
    by_transaction: HashTable<u32>,
    /// Refunds by `out_refund_no`, as (position of the order, index among its refunds).
    by_refund_no: HashTable<(u32, u8)>,
    /// Refunds by `refund_id`, likewise.
    by_refund_id: HashTable<(u32, u8)>,
    /// Per merchant, the fen its refunds still PROCESSING will take from its balance (the
    /// refund less the fee it gives back): the channel counts them as spent when it accepts
    /// a refund, so two refunds cannot both draw on the same money.
    in_flight: HashMap<Box<str>, i64>,
    hasher: RandomState,
    /// Each merchant's ids, shared by its orders.
    merchants: Vec<Arc<MerchantIds>>,
    /// The notify URLs last used, shared by orders that repeat one.
    recent_urls: VecDeque<Arc<str>>,
    /// Issued ids that cannot be derived again: an order number used again after its order
    /// was forgotten, while its stream was still remembered (rare; see [`Issued`]).
    reissued: HashMap<(Box<str>, Box<str>), Issued>,
    max_orders: usize,
    forgotten: u64,
    /// Held orders looked at by lookups (a statistic: see [`crate::core::OrderStats`]).
    examined: AtomicU64,
}

impl Default for WxState {
    fn default() -> Self {
        WxState::new(MAX_ORDERS_DEFAULT)
    }
}

impl WxState {
    /// No orders yet; at most `max_orders` (at least 1) held.
    pub fn new(max_orders: usize) -> WxState {
        WxState {
            orders: VecDeque::new(),
            first: 0,
            by_number: HashTable::new(),
            by_transaction: HashTable::new(),
            by_refund_no: HashTable::new(),
            by_refund_id: HashTable::new(),
            in_flight: HashMap::new(),
            hasher: RandomState::new(),
            merchants: Vec::new(),
            recent_urls: VecDeque::new(),
            reissued: HashMap::new(),
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

    /// Orders forgotten so far to stay within [`WxState::max_orders`].
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    /// Held orders looked at by lookups so far.
    pub fn examined(&self) -> u64 {
        self.examined.load(Ordering::Relaxed)
    }

    /// Every order held, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &WxOrder> + '_ {
        self.orders.iter()
    }

    fn hash(&self, s: &str) -> u64 {
        self.hasher.hash_one(s)
    }

    /// The position in `orders` of the order whose number's low 32 bits are `slot`.
    fn position(first: u64, slot: u32) -> usize {
        slot.wrapping_sub(first as u32) as usize
    }

    fn at(&self, slot: u32) -> Option<&WxOrder> {
        self.examined.fetch_add(1, Ordering::Relaxed);
        self.orders.get(Self::position(self.first, slot))
    }

    fn slot_of(&self, mch_id: &str, out_trade_no: &str) -> Option<u32> {
        self.by_number
            .find(self.hash(out_trade_no), |&s| {
                self.at(s)
                    .is_some_and(|o| o.out_trade_no() == out_trade_no && o.mch_id() == mch_id)
            })
            .copied()
    }

    /// Merchant `mch_id`'s order `out_trade_no`.
    pub fn get(&self, mch_id: &str, out_trade_no: &str) -> Option<&WxOrder> {
        let slot = self.slot_of(mch_id, out_trade_no)?;
        self.orders.get(Self::position(self.first, slot))
    }

    /// Merchant `mch_id`'s order `out_trade_no`, to change.
    pub fn get_mut(&mut self, mch_id: &str, out_trade_no: &str) -> Option<&mut WxOrder> {
        let slot = self.slot_of(mch_id, out_trade_no)?;
        self.orders.get_mut(Self::position(self.first, slot))
    }

    /// The order with `out_trade_no` (under `mch_id` when given).
    pub fn find(&self, out_trade_no: &str, mch_id: Option<&str>) -> Result<&WxOrder, FindError> {
        let mut hits = self
            .by_number
            .iter_hash(self.hash(out_trade_no))
            .filter_map(|&s| self.at(s))
            .filter(|o| o.out_trade_no() == out_trade_no && mch_id.is_none_or(|m| o.mch_id() == m));
        match (hits.next(), hits.next()) {
            (Some(o), None) => Ok(o),
            (None, _) => Err(FindError::NotFound),
            (Some(_), Some(_)) => Err(FindError::Ambiguous),
        }
    }

    /// The paid order with `transaction_id`.
    pub fn by_transaction(&self, transaction_id: &str) -> Option<&WxOrder> {
        let slot = self
            .by_transaction
            .find(self.hash(transaction_id), |&s| {
                self.at(s)
                    .is_some_and(|o| o.transaction_id() == Some(transaction_id))
            })
            .copied()?;
        self.orders.get(Self::position(self.first, slot))
    }

    /// The shared ids of merchant `mch_id` under `appid`.
    pub fn merchant(&mut self, appid: &str, mch_id: &str) -> Arc<MerchantIds> {
        if let Some(m) = self
            .merchants
            .iter()
            .find(|m| &*m.mch_id == mch_id && &*m.appid == appid)
        {
            return m.clone();
        }
        let m = Arc::new(MerchantIds {
            appid: appid.into(),
            mch_id: mch_id.into(),
        });
        self.merchants.push(m.clone());
        m
    }

    /// `url`, shared with the orders that used it lately.
    pub fn notify_url(&mut self, url: &str) -> Arc<str> {
        if let Some(i) = self.recent_urls.iter().position(|u| &**u == url) {
            let u = self.recent_urls.remove(i).unwrap_or_else(|| url.into());
            self.recent_urls.push_front(u.clone());
            return u;
        }
        let u: Arc<str> = url.into();
        self.recent_urls.push_front(u.clone());
        self.recent_urls.truncate(RECENT_URLS);
        u
    }

    /// Hold `order`, which must not be held yet (look it up first). When `max_orders` are
    /// held, the oldest is forgotten first and returned.
    pub fn insert(&mut self, order: WxOrder) -> Option<WxOrder> {
        let forgotten = if self.orders.len() >= self.max_orders {
            self.forget_oldest()
        } else {
            None
        };
        let slot = (self.first + self.orders.len() as u64) as u32;
        let hash = self.hash(order.out_trade_no());
        self.orders.push_back(order);
        let WxState {
            orders,
            first,
            by_number,
            hasher,
            ..
        } = self;
        by_number.insert_unique(hash, slot, |&s| {
            orders
                .get(Self::position(*first, s))
                .map_or(0, |o| hasher.hash_one(o.out_trade_no()))
        });
        forgotten
    }

    /// Forget the oldest order held.
    fn forget_oldest(&mut self) -> Option<WxOrder> {
        let slot = self.first as u32;
        let order = self.orders.pop_front()?;
        self.first += 1;
        self.forgotten += 1;
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

    fn refund_at(&self, (slot, index): (u32, u8)) -> Option<(&WxOrder, usize)> {
        let o = self.at(slot)?;
        let i = usize::from(index);
        (i < o.refunds().len()).then_some((o, i))
    }

    /// Merchant `mch_id`'s order holding the refund numbered `out_refund_no`, and the
    /// refund's position among the order's refunds.
    pub fn refund_by_no(&self, mch_id: &str, out_refund_no: &str) -> Option<(&WxOrder, usize)> {
        self.by_refund_no
            .iter_hash(self.hash(out_refund_no))
            .filter_map(|&k| self.refund_at(k))
            .find(|(o, i)| {
                o.mch_id() == mch_id
                    && o.refunds()
                        .get(*i)
                        .is_some_and(|r| &*r.out_refund_no == out_refund_no)
            })
    }

    /// The order holding the refund with WeChat's id `refund_id`, and its position.
    pub fn refund_by_id(&self, refund_id: &str) -> Option<(&WxOrder, usize)> {
        self.by_refund_id
            .iter_hash(self.hash(refund_id))
            .filter_map(|&k| self.refund_at(k))
            .find(|(o, i)| {
                o.refunds()
                    .get(*i)
                    .is_some_and(|r| &*r.refund_id == refund_id)
            })
    }

    /// Add `refund` to merchant `mch_id`'s paid order `out_trade_no` (indexed by its
    /// numbers; its net amount counted in flight while it is PROCESSING). False when the
    /// order is not held, not paid, or has [`MAX_REFUNDS`] refunds already.
    pub fn add_refund(&mut self, mch_id: &str, out_trade_no: &str, refund: WxRefund) -> bool {
        let Some(slot) = self.slot_of(mch_id, out_trade_no) else {
            return false;
        };
        let (no_hash, id_hash) = (
            self.hash(&refund.out_refund_no),
            self.hash(&refund.refund_id),
        );
        let net = refund.net_fen;
        let processing = refund.status == RefundStatus::Processing;
        let WxState {
            orders,
            first,
            by_refund_no,
            by_refund_id,
            hasher,
            ..
        } = self;
        let Some(index) = orders
            .get_mut(Self::position(*first, slot))
            .and_then(|o| o.push_refund(refund))
        else {
            return false;
        };
        let first = *first;
        by_refund_no.insert_unique(no_hash, (slot, index), |&k| {
            refund_key(orders, first, k, |r| &r.out_refund_no).map_or(0, |k| hasher.hash_one(k))
        });
        by_refund_id.insert_unique(id_hash, (slot, index), |&k| {
            refund_key(orders, first, k, |r| &r.refund_id).map_or(0, |k| hasher.hash_one(k))
        });
        if processing {
            *self.in_flight.entry(mch_id.into()).or_default() += net;
        }
        true
    }

    /// Merchant `mch_id`'s order `out_trade_no`, to change its refund `index`.
    pub fn refund_mut(
        &mut self,
        mch_id: &str,
        out_trade_no: &str,
        index: usize,
    ) -> Option<&mut WxRefund> {
        self.get_mut(mch_id, out_trade_no)?
            .refunds_mut()
            .get_mut(index)
    }

    /// Fen merchant `mch_id`'s PROCESSING refunds will still take from its balance.
    pub fn in_flight(&self, mch_id: &str) -> i64 {
        self.in_flight.get(mch_id).copied().unwrap_or(0)
    }

    /// A refund of merchant `mch_id` is PROCESSING again: `net_fen` more in flight.
    pub fn hold_in_flight(&mut self, mch_id: &str, net_fen: i64) {
        *self.in_flight.entry(mch_id.into()).or_default() += net_fen;
    }

    /// A refund of merchant `mch_id` left PROCESSING: its `net_fen` is no longer in flight.
    pub fn release(&mut self, mch_id: &str, net_fen: i64) {
        if let Some(v) = self.in_flight.get_mut(mch_id) {
            *v -= net_fen;
            if *v <= 0 {
                self.in_flight.remove(mch_id);
            }
        }
    }

    /// Merchant `mch_id`'s order `out_trade_no` was paid: SUCCESS, with its transaction id
    /// (indexed), payment time, fee and, when it had none, the payer's openid.
    pub fn mark_paid(
        &mut self,
        mch_id: &str,
        out_trade_no: &str,
        transaction_id: &str,
        openid: &str,
        paid_at: Instant,
        fee: Money,
    ) {
        let Some(slot) = self.slot_of(mch_id, out_trade_no) else {
            return;
        };
        let hash = self.hash(transaction_id);
        let WxState {
            orders,
            first,
            by_transaction,
            hasher,
            ..
        } = self;
        let Some(o) = orders.get_mut(Self::position(*first, slot)) else {
            return;
        };
        o.set_paid(transaction_id, openid, paid_at, fee);
        by_transaction.insert_unique(hash, slot, |&s| {
            orders
                .get(Self::position(*first, s))
                .and_then(|o| o.transaction_id())
                .map_or(0, |t| hasher.hash_one(t))
        });
    }
}

/// The key `key` gives of refund `(slot, index)`, for rehashing a refund index.
fn refund_key<'a>(
    orders: &'a VecDeque<WxOrder>,
    first: u64,
    (slot, index): (u32, u8),
    key: impl Fn(&'a WxRefund) -> &'a str,
) -> Option<&'a str> {
    orders
        .get(WxState::position(first, slot))
        .and_then(|o| o.refunds().get(usize::from(index)))
        .map(key)
}

#[cfg(test)]
mod tests {
    use super::super::order::{OrderText, TradeType};
    use super::*;
    use crate::protocol::sign::SignType;
    use chrono::TimeZone;

    fn order(st: &mut WxState, mch: &str, no: &str) -> WxOrder {
        let m = st.merchant("wx1", mch);
        let url = st.notify_url("http://127.0.0.1:9/notify");
        WxOrder::new(
            m,
            OrderText {
                out_trade_no: no,
                body: "body",
                openid: None,
                product_id: Some("SKU1"),
                attach: None,
                device_info: Some("POS1"),
            },
            100,
            TradeType::Native,
            url,
            SignType::Md5,
            chrono::Utc.with_ymd_and_hms(2026, 3, 2, 2, 0, 0).unwrap(),
        )
    }

    #[test]
    fn texts_read_back() {
        let mut st = WxState::default();
        let o = order(&mut st, "M1", "ORDER001");
        assert_eq!(
            (o.out_trade_no(), o.body(), o.openid(), o.product_id()),
            ("ORDER001", "body", None, Some("SKU1"))
        );
        assert_eq!((o.attach(), o.device_info()), (None, Some("POS1")));
        assert_eq!((o.appid(), o.mch_id()), ("wx1", "M1"));
    }

    #[test]
    fn a_number_two_merchants_share_is_ambiguous_without_the_merchant() {
        let mut st = WxState::default();
        for mch in ["M1", "M2"] {
            let o = order(&mut st, mch, "SHARED01");
            assert!(st.insert(o).is_none());
        }
        let o = order(&mut st, "M1", "ALONE001");
        st.insert(o);
        assert_eq!(st.find("SHARED01", None).err(), Some(FindError::Ambiguous));
        assert_eq!(
            st.find("SHARED01", Some("M2")).map(|o| o.mch_id()),
            Ok("M2")
        );
        assert_eq!(st.find("ALONE001", None).map(|o| o.mch_id()), Ok("M1"));
        assert_eq!(st.find("NOPE0001", None).err(), Some(FindError::NotFound));
        assert!(st.get("M2", "ALONE001").is_none());
    }

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
        assert_eq!((st.len(), st.forgotten()), (3, 1));
        assert!(st.get("M1", "ORDER000").is_none());
        assert!(st.by_transaction("4200001").is_none());
        for i in 1..=3 {
            assert!(st.get("M1", &format!("ORDER{i:03}")).is_some(), "{i}");
        }
    }

    #[test]
    fn lookups_examine_a_handful_of_orders_however_many_are_held() {
        let mut st = WxState::default();
        for i in 0..20_000 {
            let o = order(&mut st, "M1", &format!("ORDER{i:06}"));
            st.insert(o);
        }
        let before = st.examined();
        assert!(st.find("ORDER012345", None).is_ok());
        assert!(st.get("M1", "ORDER000007").is_some());
        assert!(st.find("ORDER999999", None).is_err());
        assert!(st.examined() - before <= 6, "{}", st.examined() - before);
    }

    #[test]
    fn an_order_holds_little() {
        assert!(
            std::mem::size_of::<WxOrder>() <= 96,
            "{}",
            std::mem::size_of::<WxOrder>()
        );
    }
}
