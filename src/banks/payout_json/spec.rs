//! A payout-json bank's scenario section: duplicate policy, settle delay, clients and the
//! platform accounts they debit.

use crate::clock::parse_duration;
use crate::config::{ScenarioError, Section};
use crate::directory::{Account, Family, Instance};
use crate::money::{Currency, Money};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// The kind's name in scenario files.
pub const KIND: &str = "payout-json";

/// Every operation name of the bank, as fault rules and the journal spell them.
pub const OPS: &[&str] = &["payout.submit", "payout.query"];

/// Longest a payout may stay PROCESSING: a week covers every real bank's slowest rail
/// (cross-border, holidays) and keeps the settle instant far inside the calendar.
pub const SETTLE_AFTER_MAX: Duration = Duration::days(7);

/// The section's own fields as parsed (`id` and `kind` are read by the scenario).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    on_duplicate: Option<String>,
    settle_after: Option<String>,
    #[serde(default)]
    clients: Vec<RawClient>,
    #[serde(default)]
    accounts: Vec<RawAccount>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    mch_id: Option<String>,
    key: Option<String>,
    account: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    no: Option<String>,
    name: Option<String>,
    currency: Option<String>,
    opening: Option<String>,
}

/// What a bank does with a payout under an order number it has already seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDuplicate {
    /// Return the first request's result; pay nothing more (idempotent).
    Replay,
    /// Refuse with a duplicate-order error.
    Reject,
    /// Pay again, as most banks do.
    PayAgain,
}

/// A validated payout-json bank.
#[derive(Debug, Clone, Serialize)]
pub struct Spec {
    /// Mount id.
    pub id: String,
    /// What a repeated order number does.
    pub on_duplicate: OnDuplicate,
    /// PROCESSING → SUCCESS after this long on the world clock (at most
    /// [`SETTLE_AFTER_MAX`]).
    #[serde(serialize_with = "crate::clock::serialize_duration")]
    pub settle_after: Duration,
    /// API clients.
    pub clients: Vec<Client>,
    /// Platform accounts, funded with their opening balances.
    pub accounts: Vec<Account>,
}

/// An API client of the bank.
#[derive(Debug, Clone, Serialize)]
pub struct Client {
    /// Client id (`mchId`).
    pub mch_id: String,
    /// The key requests and replies are signed with.
    pub key: String,
    /// The account number its payouts are debited from.
    pub account: String,
}

impl Spec {
    /// What a person needs to call it: one line for the bank, one per client and account.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "bank /{}/  kind {KIND}, on duplicate order number: {:?}, settles after {}\n",
            self.id,
            self.on_duplicate,
            crate::clock::format_duration(self.settle_after)
        );
        for c in &self.clients {
            s.push_str(&format!(
                "    client mchId {}  key {}  debits account {}\n",
                c.mch_id, c.key, c.account
            ));
        }
        for a in &self.accounts {
            s.push_str(&format!(
                "    account {}  opening {}\n",
                a.number, a.opening
            ));
        }
        s
    }

    /// What a client needs to call the bank, as the control API hands it out: the first
    /// client's `mchId`, key and account at the top, every client under `clients`.
    pub fn credentials(&self) -> serde_json::Value {
        let clients: Vec<serde_json::Value> = self
            .clients
            .iter()
            .map(|c| serde_json::json!({"mch_id": c.mch_id, "key": c.key, "account": c.account}))
            .collect();
        let first = clients.first().cloned().unwrap_or_default();
        serde_json::json!({
            "id": self.id,
            "kind": KIND,
            "base_url": format!("/{}/", self.id),
            "sign_type": "MD5",
            "mch_id": first.get("mch_id"),
            "key": first.get("key"),
            "account": first.get("account"),
            "clients": clients,
            "accounts": self.accounts.iter().map(|a| serde_json::json!({"no": a.number, "name": a.name, "currency": a.currency})).collect::<Vec<_>>(),
        })
    }

    /// The bank as the directory shows it.
    pub fn instance(&self) -> Instance {
        Instance {
            id: self.id.clone(),
            family: Family::Bank,
            kind: KIND,
            accounts: self.accounts.clone(),
            ops: OPS,
        }
    }

    /// The client with id `mch_id`.
    pub fn client(&self, mch_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.mch_id == mch_id)
    }
}

/// Validate the section at `section` for bank `id`.
pub fn validate(
    id: &str,
    table: toml::Table,
    section: &Section<'_>,
) -> Result<Spec, ScenarioError> {
    let raw: RawSection = section.read(table)?;
    let on_duplicate = match raw.on_duplicate.as_deref().unwrap_or("replay") {
        "replay" => OnDuplicate::Replay,
        "reject" => OnDuplicate::Reject,
        "pay_again" => OnDuplicate::PayAgain,
        other => {
            return Err(section.err(
                "on_duplicate",
                format!("`{other}` is not one of replay, reject, pay_again"),
            ))
        }
    };
    let settle_after = match &raw.settle_after {
        None => Duration::zero(),
        Some(d) => {
            let d = parse_duration(d).map_err(|e| section.err("settle_after", e.to_string()))?;
            if d > SETTLE_AFTER_MAX {
                return Err(section.err(
                    "settle_after",
                    format!(
                        "`{}` is longer than the maximum of 7d",
                        raw.settle_after.as_deref().unwrap_or("")
                    ),
                ));
            }
            d
        }
    };
    let accounts = accounts(&raw.accounts, section)?;
    let clients = clients(&raw.clients, &accounts, section)?;
    Ok(Spec {
        id: id.to_string(),
        on_duplicate,
        settle_after,
        clients,
        accounts,
    })
}

fn accounts(raw: &[RawAccount], section: &Section<'_>) -> Result<Vec<Account>, ScenarioError> {
    let mut accounts: Vec<Account> = Vec::new();
    for (j, a) in raw.iter().enumerate() {
        let s = section.item("accounts", j);
        let currency = Currency::from_str(a.currency.as_deref().unwrap_or("CNY"))
            .map_err(|e| s.err("currency", e.to_string()))?;
        let opening = Money::parse(a.opening.as_deref().unwrap_or("0"), currency)
            .map_err(|e| s.err("opening", e.to_string()))?;
        let no = s.need("no", &a.no)?.to_string();
        // The statements carry it whole: camt.053 `Othr/Id` (Max34Text), MT940 `:25:` (35x
        // of the SWIFT `x` set); and it is part of ledger account names (`…:account:{no}`).
        if !(1..=34).contains(&no.len()) || !no.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(s.err(
                "no",
                format!("`{no}` is not 1–34 letters and digits (an account number)"),
            ));
        }
        if accounts.iter().any(|x| x.number == no) {
            return Err(s.err("no", format!("account `{no}` is listed twice")));
        }
        accounts.push(Account {
            number: no,
            name: a.name.clone().unwrap_or_default(),
            currency,
            opening,
        });
    }
    Ok(accounts)
}

fn clients(
    raw: &[RawClient],
    accounts: &[Account],
    section: &Section<'_>,
) -> Result<Vec<Client>, ScenarioError> {
    let mut clients: Vec<Client> = Vec::new();
    for (j, c) in raw.iter().enumerate() {
        let s = section.item("clients", j);
        let account = s.need("account", &c.account)?.to_string();
        if !accounts.iter().any(|a| a.number == account) {
            return Err(s.err(
                "account",
                format!("`{account}` is not one of this bank's accounts"),
            ));
        }
        let mch_id = s.need("mch_id", &c.mch_id)?.to_string();
        if clients.iter().any(|x| x.mch_id == mch_id) {
            return Err(s.err("mch_id", format!("`{mch_id}` is listed twice")));
        }
        clients.push(Client {
            mch_id,
            key: s.need("key", &c.key)?.to_string(),
            account,
        });
    }
    if clients.is_empty() {
        return Err(section.err("clients", "a bank needs at least one client"));
    }
    Ok(clients)
}
