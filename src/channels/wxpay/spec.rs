//! A WeChat Pay v2 channel's scenario section: `fee_rate`, `max_orders` and
//! `[[channels.merchants]]`.

use super::order::{MAX_ORDERS_DEFAULT, MAX_ORDERS_LIMIT};
use crate::config::{ScenarioError, Section};
use crate::directory::{Account, Family, Instance};
use crate::money::{Currency, Money};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::sync::Arc;

/// The kind's name in scenario files.
pub const KIND: &str = "wechatpay-v2";

/// Every operation name of the channel, as fault rules and the journal spell them: the
/// APIs it serves and the payment notification it sends.
pub const OPS: &[&str] = &[
    "pay/unifiedorder",
    "pay/orderquery",
    "pay/downloadbill",
    crate::faults::CALLBACK_OP,
];

/// The section's own fields as parsed (`id` and `kind` are read by the scenario).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    /// Fee rate as a decimal fraction, e.g. `"0.006"`.
    fee_rate: Option<String>,
    /// Merchants with their credentials.
    #[serde(default)]
    merchants: Vec<RawMerchant>,
    /// Most orders held; past it the oldest are forgotten.
    max_orders: Option<i64>,
}

/// `[[channels.merchants]]` as parsed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMerchant {
    appid: Option<String>,
    mch_id: Option<String>,
    key: Option<String>,
}

/// A validated WeChat Pay v2 channel.
#[derive(Debug, Clone, Serialize)]
pub struct Spec {
    /// Mount id.
    pub id: String,
    /// The channel's fee on each payment, as a fraction (0.006 = 0.60 %), rounded per
    /// payment to the fen (`Money::times_rate_rounded`).
    pub fee_rate: Decimal,
    /// The merchants that may call it, with their credentials.
    pub merchants: Vec<Arc<Merchant>>,
    /// The most orders it holds (1 – [`MAX_ORDERS_LIMIT`], default [`MAX_ORDERS_DEFAULT`]);
    /// creating one more forgets the oldest (see [`super::order`]).
    pub max_orders: usize,
}

/// A WeChat Pay merchant's credentials.
#[derive(Debug, Clone, Serialize)]
pub struct Merchant {
    /// The app id its orders are created under (`appid`).
    pub appid: String,
    /// Merchant id (`mch_id`).
    pub mch_id: String,
    /// The 32-character API key both sides sign with.
    pub key: String,
}

impl Spec {
    /// The merchant with `mch_id`.
    pub fn merchant(&self, mch_id: &str) -> Option<&Arc<Merchant>> {
        self.merchants.iter().find(|m| m.mch_id == mch_id)
    }

    /// What a person needs to call it: one line for the channel, one per merchant.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "channel /{}/  kind {KIND}, fee rate {}\n",
            self.id, self.fee_rate
        );
        for m in &self.merchants {
            s.push_str(&format!(
                "    appid {}  mch_id {}  key {}\n",
                m.appid, m.mch_id, m.key
            ));
        }
        s
    }

    /// The channel as the directory shows it: one account per merchant.
    pub fn instance(&self) -> Instance {
        Instance {
            id: self.id.clone(),
            family: Family::Channel,
            kind: KIND,
            ops: OPS,
            accounts: self
                .merchants
                .iter()
                .map(|m| Account {
                    number: m.mch_id.clone(),
                    name: format!("merchant {}", m.mch_id),
                    currency: Currency::Cny,
                    opening: Money::zero(Currency::Cny),
                })
                .collect(),
        }
    }
}

/// Validate the section at `section` for channel `id`.
pub fn validate(
    id: &str,
    table: toml::Table,
    section: &Section<'_>,
) -> Result<Spec, ScenarioError> {
    let raw: RawSection = section.read(table)?;
    let fee_rate = match &raw.fee_rate {
        None => Decimal::ZERO,
        Some(r) => Decimal::from_str(r)
            .ok()
            .filter(|d| *d >= Decimal::ZERO && *d < Decimal::ONE)
            .ok_or_else(|| {
                section.err(
                    "fee_rate",
                    format!("`{r}` is not a fraction between 0 and 1 (e.g. \"0.006\")"),
                )
            })?,
    };
    let max_orders = match raw.max_orders {
        None => MAX_ORDERS_DEFAULT,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_ORDERS_LIMIT).contains(n))
            .ok_or_else(|| {
                section.err(
                    "max_orders",
                    format!("`{n}` is not between 1 and {MAX_ORDERS_LIMIT}"),
                )
            })?,
    };
    if raw.merchants.is_empty() {
        return Err(section.err("merchants", "a channel needs at least one merchant"));
    }
    let mut merchants: Vec<Arc<Merchant>> = Vec::new();
    for (j, m) in raw.merchants.iter().enumerate() {
        let s = section.item("merchants", j);
        let key = s.need("key", &m.key)?;
        if key.len() != 32 || !key.is_ascii() {
            return Err(s.err("key", "a WeChat Pay v2 API key is 32 ASCII characters"));
        }
        let mch_id = s.need("mch_id", &m.mch_id)?;
        if merchants.iter().any(|x| x.mch_id == mch_id) {
            return Err(s.err("mch_id", format!("`{mch_id}` is listed twice")));
        }
        merchants.push(Arc::new(Merchant {
            appid: s.need("appid", &m.appid)?.to_string(),
            mch_id: mch_id.to_string(),
            key: key.to_string(),
        }));
    }
    Ok(Spec {
        id: id.to_string(),
        fee_rate,
        merchants,
        max_orders,
    })
}
