//! An Alipay gateway channel's scenario section: `fee_rate`, `max_orders` and
//! `barcode_password_above` (with their defaults and bounds), sandbank's "Alipay" private
//! key, and `[[channels.apps]]` with each app's id, partner id and key pair.
//!
//! Every key may be given inline (`…_key = "-----BEGIN …"`, or the base64 of the DER) or by
//! path (`…_key_file = "keys/app.pem"`, relative to the directory sandbank runs in); a key
//! given neither way is the shipped TEST key (`scenarios/keys/`). Keys are read and checked
//! when the scenario loads, and an error names the field.

use super::keys::{self, PrivateKey, PublicKey};
use super::link::DOWNLOAD_OP;
use crate::channels::shared;
use crate::config::{ScenarioError, Section};
use crate::directory::Instance;
use crate::money::{Currency, Money};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, Serializer};
use std::sync::Arc;

/// The kind's name in scenario files: the Alipay open platform's gateway (`gateway.do`).
pub const KIND: &str = "alipay-gateway";

/// The app id of the default world: in the shape of an Alipay sandbox app id (`2021…`).
pub const DEFAULT_APP_ID: &str = "2021000000000001";

/// The partner id (PID, `seller_id`) of the default world's merchant: `2088` + 12 digits.
pub const DEFAULT_PID: &str = "2088000000000001";

/// Every operation name of the channel, as fault rules and the journal spell them: the
/// gateway methods, the bill download and the notifications it sends.
pub const OPS: &[&str] = &[
    "alipay.trade.precreate",
    "alipay.trade.pay",
    "alipay.trade.query",
    "alipay.trade.close",
    "alipay.trade.cancel",
    "alipay.trade.refund",
    "alipay.trade.fastpay.refund.query",
    "alipay.data.dataservice.bill.downloadurl.query",
    DOWNLOAD_OP,
    crate::faults::CALLBACK_OP,
    crate::faults::REFUND_CALLBACK_OP,
];

pub use crate::channels::shared::{MAX_ORDERS_DEFAULT, MAX_ORDERS_LIMIT};

/// A barcode payment above this many yuan waits for the buyer's password unless the
/// scenario says otherwise (`barcode_password_above`): small payments go through at once,
/// as password-free payments do.
pub const PASSWORD_ABOVE_DEFAULT: &str = "1000.00";

/// The section's own fields as parsed (`id` and `kind` are read by the scenario).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    fee_rate: Option<String>,
    max_orders: Option<i64>,
    barcode_password_above: Option<String>,
    alipay_private_key: Option<String>,
    alipay_private_key_file: Option<String>,
    #[serde(default)]
    apps: Vec<RawApp>,
}

/// `[[channels.apps]]` as parsed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    app_id: Option<String>,
    pid: Option<String>,
    app_public_key: Option<String>,
    app_public_key_file: Option<String>,
    app_private_key: Option<String>,
    app_private_key_file: Option<String>,
}

/// A validated Alipay gateway channel.
#[derive(Debug, Clone, Serialize)]
pub struct Spec {
    /// Mount id.
    pub id: String,
    /// The channel's fee on each payment (0.006 = 0.60 %), rounded per payment to the fen.
    pub fee_rate: Decimal,
    /// The most orders it holds; creating one more forgets the oldest.
    pub max_orders: usize,
    /// A barcode payment (`alipay.trade.pay`) above this amount waits for the customer's
    /// password (code 10003, WAIT_BUYER_PAY) instead of succeeding at once.
    pub barcode_password_above: Money,
    /// sandbank's "Alipay" private key: it signs responses and notifications.
    #[serde(serialize_with = "public_of")]
    pub alipay_key: Arc<PrivateKey>,
    /// The apps that may call it.
    pub apps: Vec<Arc<App>>,
}

/// A merchant's app at the gateway.
#[derive(Debug, Clone, Serialize)]
pub struct App {
    /// `app_id`.
    pub app_id: String,
    /// The merchant's partner id (`seller_id`, `2088` + 12 digits): its account, so its
    /// statements and ledger account are the merchant's whatever app took the payment.
    pub pid: String,
    /// The app's public key: the gateway checks request signatures with it.
    #[serde(serialize_with = "pem_of")]
    pub public_key: PublicKey,
    /// The app's private key when the scenario gives it (the shipped test key by default),
    /// only to hand to whoever asks the control API: the gateway never signs with it.
    #[serde(skip)]
    pub private_key: Option<Arc<PrivateKey>>,
}

fn public_of<S: Serializer>(k: &Arc<PrivateKey>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&k.public().to_pem())
}

fn pem_of<S: Serializer>(k: &PublicKey, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&k.to_pem())
}

impl Spec {
    /// The app with `app_id`.
    pub fn app(&self, app_id: &str) -> Option<&Arc<App>> {
        self.apps.iter().find(|a| a.app_id == app_id)
    }

    /// The first app of merchant `pid`.
    pub fn app_of_pid(&self, pid: &str) -> Option<&Arc<App>> {
        self.apps.iter().find(|a| a.pid == pid)
    }

    /// What a person needs to call it: one line for the channel, one per app.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "channel /{}/  kind {KIND}, fee rate {}; gateway /{}/gateway.do; keys: GET /_sandbank/channels/{}\n",
            self.id, self.fee_rate, self.id, self.id
        );
        for a in &self.apps {
            s.push_str(&format!("    app_id {}  pid {}\n", a.app_id, a.pid));
        }
        s
    }

    /// What a client needs to call the channel, as the control API hands it out: each app's
    /// id, partner id and key pair, and the Alipay public key, all as PEM.
    pub fn credentials(&self) -> serde_json::Value {
        let alipay_public_key = self.alipay_key.public().to_pem();
        let apps: Vec<serde_json::Value> = self
            .apps
            .iter()
            .map(|a| {
                serde_json::json!({
                    "app_id": a.app_id,
                    "pid": a.pid,
                    "app_private_key": a.private_key.as_ref().map(|k| k.to_pem()),
                    "app_public_key": a.public_key.to_pem(),
                    "alipay_public_key": alipay_public_key,
                })
            })
            .collect();
        let first = apps.first().cloned().unwrap_or_default();
        serde_json::json!({
            "id": self.id,
            "kind": KIND,
            "gateway": format!("/{}/gateway.do", self.id),
            "sign_type": "RSA2",
            "app_id": first.get("app_id"),
            "pid": first.get("pid"),
            "app_private_key": first.get("app_private_key"),
            "app_public_key": first.get("app_public_key"),
            "alipay_public_key": alipay_public_key,
            "apps": apps,
        })
    }

    /// The channel as the directory shows it: one account per merchant (partner id).
    pub fn instance(&self) -> Instance {
        shared::instance(
            &self.id,
            KIND,
            OPS,
            self.apps
                .iter()
                .map(|a| (a.pid.clone(), Money::zero(Currency::Cny))),
        )
    }
}

/// The text of a key given inline (`field`) or by path (`field_file`), or `None` for neither.
fn key_text(
    s: &Section<'_>,
    field: &str,
    inline: &Option<String>,
    file: &Option<String>,
) -> Result<Option<String>, ScenarioError> {
    match (inline, file) {
        (Some(_), Some(_)) => {
            Err(s.err(field, format!("give `{field}` or `{field}_file`, not both")))
        }
        (Some(text), None) => Ok(Some(text.clone())),
        (None, Some(path)) => std::fs::read_to_string(path).map(Some).map_err(|e| {
            s.err(
                &format!("{field}_file"),
                format!("cannot read `{path}`: {e}"),
            )
        }),
        (None, None) => Ok(None),
    }
}

/// The field a key came from, for errors.
fn key_field(field: &str, file: &Option<String>) -> String {
    if file.is_some() {
        format!("{field}_file")
    } else {
        field.to_string()
    }
}

fn private_key(
    s: &Section<'_>,
    field: &str,
    inline: &Option<String>,
    file: &Option<String>,
    default: &str,
) -> Result<PrivateKey, ScenarioError> {
    let text = key_text(s, field, inline, file)?;
    PrivateKey::parse(text.as_deref().unwrap_or(default))
        .map_err(|e| s.err(&key_field(field, file), e.to_string()))
}

/// `2088` and 12 more digits.
pub fn valid_pid(pid: &str) -> bool {
    pid.len() == 16 && pid.starts_with("2088") && pid.bytes().all(|b| b.is_ascii_digit())
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
    let barcode_password_above = match &raw.barcode_password_above {
        None => Money::parse(PASSWORD_ABOVE_DEFAULT, Currency::Cny)
            .unwrap_or(Money::zero(Currency::Cny)),
        Some(t) => Money::parse(t, Currency::Cny)
            .ok()
            .filter(|m| m.amount >= Decimal::ZERO)
            .ok_or_else(|| {
                section.err(
                    "barcode_password_above",
                    format!("`{t}` is not an amount in yuan (e.g. \"1000.00\")"),
                )
            })?,
    };
    let alipay_key = private_key(
        section,
        "alipay_private_key",
        &raw.alipay_private_key,
        &raw.alipay_private_key_file,
        keys::TEST_ALIPAY_PRIVATE_KEY,
    )?;
    if raw.apps.is_empty() {
        return Err(section.err("apps", "an Alipay channel needs at least one app"));
    }
    let mut apps: Vec<Arc<App>> = Vec::new();
    for (j, a) in raw.apps.iter().enumerate() {
        let s = section.item("apps", j);
        let app_id = s.need("app_id", &a.app_id)?;
        if app_id.is_empty() || app_id.len() > 32 || !app_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(s.err(
                "app_id",
                format!("`{app_id}` is not an app id (digits, e.g. \"{DEFAULT_APP_ID}\")"),
            ));
        }
        if apps.iter().any(|x| x.app_id == app_id) {
            return Err(s.err("app_id", format!("`{app_id}` is listed twice")));
        }
        let pid = s.need("pid", &a.pid)?;
        if !valid_pid(pid) {
            return Err(s.err(
                "pid",
                format!("`{pid}` is not a partner id (`2088` and 12 digits)"),
            ));
        }
        let given_public = key_text(
            &s,
            "app_public_key",
            &a.app_public_key,
            &a.app_public_key_file,
        )?;
        let given_private = key_text(
            &s,
            "app_private_key",
            &a.app_private_key,
            &a.app_private_key_file,
        )?;
        let private_key = match (&given_public, &given_private) {
            // A public key alone: the merchant keeps its private key to itself.
            (Some(_), None) => None,
            _ => Some(Arc::new(
                PrivateKey::parse(
                    given_private
                        .as_deref()
                        .unwrap_or(keys::TEST_APP_PRIVATE_KEY),
                )
                .map_err(|e| {
                    s.err(
                        &key_field("app_private_key", &a.app_private_key_file),
                        e.to_string(),
                    )
                })?,
            )),
        };
        let public_key = match (&given_public, &private_key) {
            (Some(text), _) => PublicKey::parse(text).map_err(|e| {
                s.err(
                    &key_field("app_public_key", &a.app_public_key_file),
                    e.to_string(),
                )
            })?,
            (None, Some(k)) => k.public(),
            // Unreachable: no public key means a private key was read above.
            (None, None) => return Err(s.err("app_public_key", "missing")),
        };
        if let Some(k) = &private_key {
            if k.public() != public_key {
                return Err(s.err(
                    &key_field("app_private_key", &a.app_private_key_file),
                    "is not the private key of app_public_key",
                ));
            }
        }
        apps.push(Arc::new(App {
            app_id: app_id.to_string(),
            pid: pid.to_string(),
            public_key,
            private_key,
        }));
    }
    Ok(Spec {
        id: id.to_string(),
        fee_rate,
        max_orders,
        barcode_password_above,
        alipay_key: Arc::new(alipay_key),
        apps,
    })
}
