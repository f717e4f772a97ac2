//! All orders of a WeChat Pay v2 channel: kept in order of creation (an [`OrderStore`], as
//! every channel kind keeps them), found by order number, transaction id or refund through
//! hash indexes, at most `max_orders` of them. The indexes hold a 4-byte position per order
//! (the low 32 bits of its number), not a copy of its key.
//!
//! **Retention** (at most `max_orders` held, the oldest forgotten first) is in `retention`.

use super::order::{Issued, MerchantIds, WxOrder};
use super::refund_record::{RefundStatus, WxRefund};
use super::spec::MAX_ORDERS_DEFAULT;
use crate::channels::shared::{FindError, OrderStore};
use crate::clock::Instant;
use crate::money::Money;
use hashbrown::HashTable;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

mod retention;

/// How many recently seen notify URLs a channel remembers to share with new orders.
const RECENT_URLS: usize = 4;

/// All orders of one channel instance.
#[derive(Debug)]
pub struct WxState {
    /// Orders in order of creation, numbered that way.
    orders: OrderStore<WxOrder>,
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
            orders: OrderStore::new(max_orders),
            by_number: HashTable::new(),
            by_transaction: HashTable::new(),
            by_refund_no: HashTable::new(),
            by_refund_id: HashTable::new(),
            in_flight: HashMap::new(),
            hasher: RandomState::new(),
            merchants: Vec::new(),
            recent_urls: VecDeque::new(),
            reissued: HashMap::new(),
        }
    }

    /// The orders held: how many, the bound, the counts (see [`OrderStore::stats`]).
    pub fn orders(&self) -> &OrderStore<WxOrder> {
        &self.orders
    }

    fn hash(&self, s: &str) -> u64 {
        self.hasher.hash_one(s)
    }

    /// The order in `slot` (the low 32 bits of its number), looked at by a lookup.
    fn at(&self, slot: u32) -> Option<&WxOrder> {
        self.orders.examine(self.orders.number_of(slot))
    }

    /// The order in `slot`, not counted (what a lookup found; an index rehashing).
    fn in_slot(orders: &OrderStore<WxOrder>, slot: u32) -> Option<&WxOrder> {
        orders.get(orders.number_of(slot))
    }

    /// The order in `slot` to change, not counted.
    fn in_slot_mut(&mut self, slot: u32) -> Option<&mut WxOrder> {
        let n = self.orders.number_of(slot);
        self.orders.get_mut(n)
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
        Self::in_slot(&self.orders, slot)
    }

    /// Merchant `mch_id`'s order `out_trade_no`, to change.
    pub fn get_mut(&mut self, mch_id: &str, out_trade_no: &str) -> Option<&mut WxOrder> {
        let slot = self.slot_of(mch_id, out_trade_no)?;
        self.in_slot_mut(slot)
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
        Self::in_slot(&self.orders, slot)
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
        let Some(index) = self.in_slot_mut(slot).and_then(|o| o.push_refund(refund)) else {
            return false;
        };
        let WxState {
            orders,
            by_refund_no,
            by_refund_id,
            hasher,
            ..
        } = self;
        by_refund_no.insert_unique(no_hash, (slot, index), |&k| {
            refund_key(orders, k, |r| &r.out_refund_no).map_or(0, |k| hasher.hash_one(k))
        });
        by_refund_id.insert_unique(id_hash, (slot, index), |&k| {
            refund_key(orders, k, |r| &r.refund_id).map_or(0, |k| hasher.hash_one(k))
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
        let Some(o) = self.in_slot_mut(slot) else {
            return;
        };
        o.set_paid(transaction_id, openid, paid_at, fee);
        let WxState {
            orders,
            by_transaction,
            hasher,
            ..
        } = self;
        by_transaction.insert_unique(hash, slot, |&s| {
            Self::in_slot(orders, s)
                .and_then(|o| o.transaction_id())
                .map_or(0, |t| hasher.hash_one(t))
        });
    }
}

/// The key `key` gives of refund `(slot, index)`, for rehashing a refund index.
fn refund_key<'a>(
    orders: &'a OrderStore<WxOrder>,
    (slot, index): (u32, u8),
    key: impl Fn(&'a WxRefund) -> &'a str,
) -> Option<&'a str> {
    WxState::in_slot(orders, slot)
        .and_then(|o| o.refunds().get(usize::from(index)))
        .map(key)
}

#[cfg(test)]
mod tests {
    use super::super::order::{OrderText, TradeType};
    use super::*;
    use crate::protocol::sign::SignType;
    use chrono::TimeZone;

    /// A NATIVE order `no` of merchant `mch` (not held yet).
    pub(super) fn order(st: &mut WxState, mch: &str, no: &str) -> WxOrder {
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
    fn lookups_examine_a_handful_of_orders_however_many_are_held() {
        let mut st = WxState::default();
        for i in 0..20_000 {
            let o = order(&mut st, "M1", &format!("ORDER{i:06}"));
            st.insert(o);
        }
        let before = st.orders().examined();
        assert!(st.find("ORDER012345", None).is_ok());
        assert!(st.get("M1", "ORDER000007").is_some());
        assert!(st.find("ORDER999999", None).is_err());
        assert!(
            st.orders().examined() - before <= 6,
            "{}",
            st.orders().examined() - before
        );
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
