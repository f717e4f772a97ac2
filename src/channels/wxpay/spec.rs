//! A WeChat Pay v2 channel's scenario section: `fee_rate`, `max_orders` (and its bounds),
//! `close_after`, `refund_after` and `[[channels.merchants]]`.

use crate::channels::shared;
use crate::clock::parse_duration;
use crate::config::{ScenarioError, Section};
use crate::directory::Instance;
use crate::money::{Currency, Money};
use chrono::Duration;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The kind's name in scenario files.
pub const KIND: &str = "wechatpay-v2";

/// Every operation name of the channel, as fault rules and the journal spell them: the
/// APIs it serves and the payment and refund notifications it sends.
pub const OPS: &[&str] = &[
    "pay/unifiedorder",
    "pay/orderquery",
    "pay/downloadbill",
    "pay/closeorder",
    "secapi/pay/refund",
    "pay/refundquery",
    "pay/micropay",
    "secapi/pay/reverse",
    crate::faults::CALLBACK_OP,
    crate::faults::REFUND_CALLBACK_OP,
];

pub use crate::channels::shared::{MAX_ORDERS_DEFAULT, MAX_ORDERS_LIMIT};

/// How soon after creation an order may be closed when the scenario does not say: the
/// channel's documented 5 minutes.
pub const CLOSE_AFTER_DEFAULT: Duration = Duration::minutes(5);

/// The longest `close_after` a scenario may set.
pub const CLOSE_AFTER_MAX: Duration = Duration::days(1);

/// How long a refund stays PROCESSING when the scenario does not say (our choice: refunds
/// to the customer's balance take seconds at the real channel, to a bank card days).
pub const REFUND_AFTER_DEFAULT: Duration = Duration::seconds(10);

/// The longest `refund_after` a scenario may set.
pub const REFUND_AFTER_MAX: Duration = Duration::days(30);

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
    /// How soon after creation `pay/closeorder` may close an order (default 5m).
    close_after: Option<String>,
    /// How long an accepted refund stays PROCESSING (default 10s).
    refund_after: Option<String>,
}

/// `[[channels.merchants]]` as parsed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMerchant {
    appid: Option<String>,
    mch_id: Option<String>,
    key: Option<String>,
    /// The merchant's balance at the channel when the world starts (may be negative).
    opening: Option<String>,
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
    /// creating one more forgets the oldest (see `order`).
    pub max_orders: usize,
    /// How soon after creation an order may be closed (0 – [`CLOSE_AFTER_MAX`], default
    /// [`CLOSE_AFTER_DEFAULT`]); sooner, `pay/closeorder` answers `SYSTEMERROR`.
    #[serde(serialize_with = "crate::clock::serialize_duration")]
    pub close_after: Duration,
    /// How long an accepted refund stays PROCESSING before it ends (0 –
    /// [`REFUND_AFTER_MAX`], default [`REFUND_AFTER_DEFAULT`]); an `outcome` fault rule
    /// may say otherwise for one refund.
    #[serde(serialize_with = "crate::clock::serialize_duration")]
    pub refund_after: Duration,
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
    /// Its balance at the channel when the world starts: what refunds may draw on before
    /// any payment (negative for a merchant that starts short: refunds get `NOTENOUGH`
    /// until payments make it up). Default 0.
    pub opening: Money,
}

impl Spec {
    /// The merchant with `mch_id`.
    pub fn merchant(&self, mch_id: &str) -> Option<&Arc<Merchant>> {
        self.merchants.iter().find(|m| m.mch_id == mch_id)
    }

    /// What a person needs to call it: one line for the channel, one per merchant.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "channel /{}/  kind {KIND}, fee rate {}, close after {}, refunds take {}\n",
            self.id,
            self.fee_rate,
            crate::clock::format_duration(self.close_after),
            crate::clock::format_duration(self.refund_after)
        );
        for m in &self.merchants {
            s.push_str(&format!(
                "    appid {}  mch_id {}  key {}\n",
                m.appid, m.mch_id, m.key
            ));
        }
        s
    }

    /// What a client needs to call the channel, as the control API hands it out: where it
    /// is mounted and each merchant's `appid`, `mch_id` and key (the first one's also at the
    /// top level).
    pub fn credentials(&self) -> serde_json::Value {
        let merchants: Vec<serde_json::Value> = self
            .merchants
            .iter()
            .map(|m| serde_json::json!({"appid": m.appid, "mch_id": m.mch_id, "key": m.key}))
            .collect();
        let first = merchants.first().cloned().unwrap_or_default();
        serde_json::json!({
            "id": self.id,
            "kind": KIND,
            "base_url": format!("/{}/", self.id),
            "appid": first.get("appid"),
            "mch_id": first.get("mch_id"),
            "key": first.get("key"),
            "merchants": merchants,
        })
    }

    /// The channel as the directory shows it: one account per merchant.
    pub fn instance(&self) -> Instance {
        shared::instance(
            &self.id,
            KIND,
            OPS,
            self.merchants.iter().map(|m| (m.mch_id.clone(), m.opening)),
        )
    }
}

/// Validate the section at `section` for channel `id`.
pub fn validate(
    id: &str,
    table: toml::Table,
    section: &Section<'_>,
) -> Result<Spec, ScenarioError> {
    let raw: RawSection = section.read(table)?;
    let fee_rate = shared::fee_rate(section, &raw.fee_rate)?;
    let max_orders = shared::max_orders(section, raw.max_orders)?;
    let duration = |field: &str, given: &Option<String>, default: Duration, max: Duration| {
        let Some(text) = given else {
            return Ok(default);
        };
        let d = parse_duration(text).map_err(|e| section.err(field, e.to_string()))?;
        if d > max {
            return Err(section.err(
                field,
                format!(
                    "`{text}` is longer than the most allowed, {}",
                    crate::clock::format_duration(max)
                ),
            ));
        }
        Ok(d)
    };
    let close_after = duration(
        "close_after",
        &raw.close_after,
        CLOSE_AFTER_DEFAULT,
        CLOSE_AFTER_MAX,
    )?;
    let refund_after = duration(
        "refund_after",
        &raw.refund_after,
        REFUND_AFTER_DEFAULT,
        REFUND_AFTER_MAX,
    )?;
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
        let opening = match &m.opening {
            None => Money::zero(Currency::Cny),
            Some(o) => {
                Money::parse(o, Currency::Cny).map_err(|e| s.err("opening", e.to_string()))?
            }
        };
        merchants.push(Arc::new(Merchant {
            appid: s.need("appid", &m.appid)?.to_string(),
            mch_id: mch_id.to_string(),
            key: key.to_string(),
            opening,
        }));
    }
    Ok(Spec {
        id: id.to_string(),
        fee_rate,
        merchants,
        max_orders,
        close_after,
        refund_after,
    })
}
