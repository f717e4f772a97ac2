//! Scenario files: a world written down in TOML.
//!
//! Two stages, as in ripgrep's flags: [`RawScenario`] is what serde reads (every field
//! optional where the file may omit it, unknown fields refused), and [`WorldSpec`] is the
//! validated world the rest of the crate sees. Errors name the file, the field and the
//! problem: `scenarios/x.toml: banks[0].on_duplicate: \`pay-again\` is not one of …`.
//!
//! The embedded default world is `scenarios/default.toml`, compiled in.

use crate::clock::{parse_duration, parse_instant, ClockMode, Instant, SHANGHAI};
use crate::faults::{RawRule, Rule};
use crate::money::{Currency, Money};
use chrono::Duration;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

/// The default world's TOML, embedded at build time.
pub const DEFAULT_WORLD: &str = include_str!("../scenarios/default.toml");

/// Instant a manual clock starts at when the scenario names none: a fixed Monday, so that
/// runs without a start are still reproducible.
pub const DEFAULT_MANUAL_START: &str = "2026-03-02T10:00:00+08:00";

/// A problem with a scenario: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The file name, or what the scenario came from.
    pub source_name: String,
    /// The field path, e.g. `banks[0].on_duplicate`; empty for a parse error.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.source_name, self.problem)
        } else {
            write!(f, "{}: {}: {}", self.source_name, self.field, self.problem)
        }
    }
}

// ---------------------------------------------------------------- raw (as parsed)

/// A scenario file as parsed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// World-wide settings.
    #[serde(default)]
    pub world: RawWorld,
    /// Acquiring channels.
    #[serde(default)]
    pub channels: Vec<RawChannel>,
    /// Payout banks.
    #[serde(default)]
    pub banks: Vec<RawBank>,
    /// Fault rules active from the start.
    #[serde(default)]
    pub faults: Vec<RawRule>,
    /// Statement mismatches to inject (see `statements::mismatch`).
    #[serde(default)]
    pub mismatches: Vec<crate::statements::mismatch::RawMismatch>,
}

/// `[world]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorld {
    /// A name for logs.
    pub name: Option<String>,
    /// The seed of the world's one random generator.
    pub seed: Option<u64>,
    /// `real` or `manual`.
    pub clock: Option<String>,
    /// Where the clock starts (RFC 3339, or `YYYY-MM-DD HH:MM` in the time zone).
    pub start: Option<String>,
    /// Time zone of business days; only `Asia/Shanghai` is supported so far.
    pub timezone: Option<String>,
}

/// `[[channels]]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    /// Mount id, e.g. `wxpay`.
    pub id: Option<String>,
    /// `wechatpay-v2`.
    pub kind: Option<String>,
    /// Fee rate as a decimal fraction, e.g. `"0.006"`.
    pub fee_rate: Option<String>,
    /// Merchants with their credentials.
    #[serde(default)]
    pub merchants: Vec<RawWxMerchant>,
}

/// `[[channels.merchants]]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawWxMerchant {
    /// App id.
    pub appid: Option<String>,
    /// Merchant id.
    pub mch_id: Option<String>,
    /// 32-character API key.
    pub key: Option<String>,
}

/// `[[banks]]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawBank {
    /// Mount id, e.g. `bank`.
    pub id: Option<String>,
    /// `payout-json`.
    pub kind: Option<String>,
    /// `replay`, `reject` or `pay_again`.
    pub on_duplicate: Option<String>,
    /// How long a payout stays PROCESSING.
    pub settle_after: Option<String>,
    /// API clients.
    #[serde(default)]
    pub clients: Vec<RawBankClient>,
    /// Accounts the platform holds here.
    #[serde(default)]
    pub accounts: Vec<RawBankAccount>,
}

/// `[[banks.clients]]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawBankClient {
    /// Client (merchant) id.
    pub mch_id: Option<String>,
    /// Signing key.
    pub key: Option<String>,
    /// The account its payouts are debited from.
    pub account: Option<String>,
}

/// `[[banks.accounts]]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawBankAccount {
    /// Account number.
    pub no: Option<String>,
    /// Holder name.
    pub name: Option<String>,
    /// Currency code.
    pub currency: Option<String>,
    /// Opening balance, major units.
    pub opening: Option<String>,
}

// ---------------------------------------------------------------- validated

/// A validated world.
#[derive(Debug, Clone, Serialize)]
pub struct WorldSpec {
    /// Name for logs.
    pub name: String,
    /// Seed of the world's generator.
    pub seed: u64,
    /// Clock mode.
    pub clock: ClockMode,
    /// Where the clock starts; `None` is "now" for a real clock.
    pub start: Option<Instant>,
    /// Channels.
    pub channels: Vec<ChannelSpec>,
    /// Banks.
    pub banks: Vec<BankSpec>,
    /// Rules active from the start.
    pub faults: Vec<Rule>,
    /// Statement mismatches injected from the start.
    pub mismatches: Vec<crate::statements::mismatch::Mismatch>,
}

/// The kinds of acquiring channel sandbank fakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ChannelKind {
    /// WeChat Pay API v2 (XML, MD5/HMAC-SHA256 signatures).
    #[serde(rename = "wechatpay-v2")]
    WechatPayV2,
}

/// A channel instance.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelSpec {
    /// Mount id.
    pub id: String,
    /// Kind.
    pub kind: ChannelKind,
    /// Fee rate as a fraction (0.006 = 0.60 %).
    pub fee_rate: Decimal,
    /// Merchants.
    pub merchants: Vec<WxMerchant>,
}

/// A WeChat Pay merchant's credentials.
#[derive(Debug, Clone, Serialize)]
pub struct WxMerchant {
    /// App id.
    pub appid: String,
    /// Merchant id.
    pub mch_id: String,
    /// API key.
    pub key: String,
}

/// The kinds of payout bank sandbank fakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BankKind {
    /// A JSON single-payout API in the style of Chinese PSP 代付 APIs.
    #[serde(rename = "payout-json")]
    PayoutJson,
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

/// A bank instance.
#[derive(Debug, Clone, Serialize)]
pub struct BankSpec {
    /// Mount id.
    pub id: String,
    /// Kind.
    pub kind: BankKind,
    /// Repeated order number behaviour.
    pub on_duplicate: OnDuplicate,
    /// PROCESSING → SUCCESS after this long on the world clock.
    #[serde(serialize_with = "crate::clock::serialize_duration")]
    pub settle_after: Duration,
    /// API clients.
    pub clients: Vec<BankClient>,
    /// Platform accounts.
    pub accounts: Vec<BankAccount>,
}

/// An API client of a bank.
#[derive(Debug, Clone, Serialize)]
pub struct BankClient {
    /// Client id.
    pub mch_id: String,
    /// Signing key.
    pub key: String,
    /// Debited account number.
    pub account: String,
}

/// A platform account at a bank.
#[derive(Debug, Clone, Serialize)]
pub struct BankAccount {
    /// Account number.
    pub no: String,
    /// Holder name.
    pub name: String,
    /// Opening balance.
    pub opening: Money,
}

impl WorldSpec {
    /// The channel with mount id `id`.
    pub fn channel(&self, id: &str) -> Option<&ChannelSpec> {
        self.channels.iter().find(|c| c.id == id)
    }
    /// The bank with mount id `id`.
    pub fn bank(&self, id: &str) -> Option<&BankSpec> {
        self.banks.iter().find(|b| b.id == id)
    }
    /// The embedded default world.
    pub fn default_world() -> WorldSpec {
        // The embedded file is checked by a unit test, so parsing it cannot fail at run time.
        load_str(DEFAULT_WORLD, "default world").expect("the embedded default world is valid")
    }
}

/// Read and validate a scenario file.
pub fn load_file(path: &std::path::Path) -> Result<WorldSpec, ScenarioError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        source_name: name.clone(),
        field: String::new(),
        problem: format!("cannot read: {e}"),
    })?;
    load_str(&text, &name)
}

/// Parse and validate scenario text; `source_name` names it in errors.
pub fn load_str(text: &str, source_name: &str) -> Result<WorldSpec, ScenarioError> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| ScenarioError {
        source_name: source_name.to_string(),
        field: String::new(),
        problem: e.to_string().trim_end().replace('\n', " "),
    })?;
    raw.validate(source_name)
}

struct V<'a> {
    source: &'a str,
}

impl V<'_> {
    fn err(&self, field: impl Into<String>, problem: impl Into<String>) -> ScenarioError {
        ScenarioError {
            source_name: self.source.to_string(),
            field: field.into(),
            problem: problem.into(),
        }
    }
    fn need<'b>(&self, field: String, v: &'b Option<String>) -> Result<&'b str, ScenarioError> {
        v.as_deref().ok_or_else(|| self.err(field, "missing"))
    }
}

/// Mount ids become URL path segments: keep them to a safe alphabet.
fn check_id(
    v: &V<'_>,
    field: String,
    id: &str,
    seen: &mut HashSet<String>,
) -> Result<(), ScenarioError> {
    if id.is_empty()
        || id.len() > 32
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        || id.starts_with('_')
    {
        return Err(v.err(
            field,
            format!("`{id}` must be 1–32 characters of a-z, 0-9, - and _, not starting with _"),
        ));
    }
    if !seen.insert(id.to_string()) {
        return Err(v.err(field, format!("`{id}` is used by another channel or bank")));
    }
    Ok(())
}

impl RawScenario {
    /// Validate into a [`WorldSpec`].
    pub fn validate(&self, source_name: &str) -> Result<WorldSpec, ScenarioError> {
        let v = V {
            source: source_name,
        };
        let clock = match self.world.clock.as_deref().unwrap_or("real") {
            "real" => ClockMode::Real,
            "manual" => ClockMode::Manual,
            other => {
                return Err(v.err(
                    "world.clock",
                    format!("`{other}` is not one of real, manual"),
                ))
            }
        };
        if let Some(tz) = &self.world.timezone {
            if tz != "Asia/Shanghai" {
                return Err(v.err(
                    "world.timezone",
                    format!("`{tz}` is not supported (only Asia/Shanghai so far)"),
                ));
            }
        }
        let start = match (&self.world.start, clock) {
            (Some(s), _) => Some(parse_instant(s, SHANGHAI).ok_or_else(|| {
                v.err(
                    "world.start",
                    format!("`{s}` is not an instant (RFC 3339 or `YYYY-MM-DD HH:MM`)"),
                )
            })?),
            (None, ClockMode::Manual) => parse_instant(DEFAULT_MANUAL_START, SHANGHAI),
            (None, ClockMode::Real) => None,
        };
        let mut seen = HashSet::new();
        let mut channels = Vec::new();
        for (i, c) in self.channels.iter().enumerate() {
            let f = |name: &str| format!("channels[{i}].{name}");
            let id = v.need(f("id"), &c.id)?;
            check_id(&v, f("id"), id, &mut seen)?;
            let kind = match v.need(f("kind"), &c.kind)? {
                "wechatpay-v2" => ChannelKind::WechatPayV2,
                other => {
                    return Err(v.err(f("kind"), format!("`{other}` is not one of wechatpay-v2")))
                }
            };
            let fee_rate = match &c.fee_rate {
                None => Decimal::ZERO,
                Some(r) => Decimal::from_str(r)
                    .ok()
                    .filter(|d| *d >= Decimal::ZERO && *d < Decimal::ONE)
                    .ok_or_else(|| {
                        v.err(
                            f("fee_rate"),
                            format!("`{r}` is not a fraction between 0 and 1 (e.g. \"0.006\")"),
                        )
                    })?,
            };
            if c.merchants.is_empty() {
                return Err(v.err(f("merchants"), "a channel needs at least one merchant"));
            }
            let mut merchants = Vec::new();
            for (j, m) in c.merchants.iter().enumerate() {
                let g = |name: &str| format!("channels[{i}].merchants[{j}].{name}");
                let key = v.need(g("key"), &m.key)?;
                if key.len() != 32 || !key.is_ascii() {
                    return Err(v.err(g("key"), "a WeChat Pay v2 API key is 32 ASCII characters"));
                }
                merchants.push(WxMerchant {
                    appid: v.need(g("appid"), &m.appid)?.to_string(),
                    mch_id: v.need(g("mch_id"), &m.mch_id)?.to_string(),
                    key: key.to_string(),
                });
            }
            channels.push(ChannelSpec {
                id: id.to_string(),
                kind,
                fee_rate,
                merchants,
            });
        }
        let mut banks = Vec::new();
        for (i, b) in self.banks.iter().enumerate() {
            let f = |name: &str| format!("banks[{i}].{name}");
            let id = v.need(f("id"), &b.id)?;
            check_id(&v, f("id"), id, &mut seen)?;
            let kind = match v.need(f("kind"), &b.kind)? {
                "payout-json" => BankKind::PayoutJson,
                other => {
                    return Err(v.err(f("kind"), format!("`{other}` is not one of payout-json")))
                }
            };
            let on_duplicate = match b.on_duplicate.as_deref().unwrap_or("replay") {
                "replay" => OnDuplicate::Replay,
                "reject" => OnDuplicate::Reject,
                "pay_again" => OnDuplicate::PayAgain,
                other => {
                    return Err(v.err(
                        f("on_duplicate"),
                        format!("`{other}` is not one of replay, reject, pay_again"),
                    ))
                }
            };
            let settle_after = match &b.settle_after {
                None => Duration::zero(),
                Some(d) => {
                    parse_duration(d).map_err(|e| v.err(f("settle_after"), e.to_string()))?
                }
            };
            let mut accounts = Vec::new();
            for (j, a) in b.accounts.iter().enumerate() {
                let g = |name: &str| format!("banks[{i}].accounts[{j}].{name}");
                let currency = Currency::from_str(a.currency.as_deref().unwrap_or("CNY"))
                    .map_err(|e| v.err(g("currency"), e.to_string()))?;
                let opening = Money::parse(a.opening.as_deref().unwrap_or("0"), currency)
                    .map_err(|e| v.err(g("opening"), e.to_string()))?;
                let no = v.need(g("no"), &a.no)?.to_string();
                if accounts.iter().any(|x: &BankAccount| x.no == no) {
                    return Err(v.err(g("no"), format!("account `{no}` is listed twice")));
                }
                accounts.push(BankAccount {
                    no,
                    name: a.name.clone().unwrap_or_default(),
                    opening,
                });
            }
            let mut clients = Vec::new();
            for (j, c) in b.clients.iter().enumerate() {
                let g = |name: &str| format!("banks[{i}].clients[{j}].{name}");
                let account = v.need(g("account"), &c.account)?.to_string();
                if !accounts.iter().any(|a| a.no == account) {
                    return Err(v.err(
                        g("account"),
                        format!("`{account}` is not one of this bank's accounts"),
                    ));
                }
                clients.push(BankClient {
                    mch_id: v.need(g("mch_id"), &c.mch_id)?.to_string(),
                    key: v.need(g("key"), &c.key)?.to_string(),
                    account,
                });
            }
            if clients.is_empty() {
                return Err(v.err(f("clients"), "a bank needs at least one client"));
            }
            banks.push(BankSpec {
                id: id.to_string(),
                kind,
                on_duplicate,
                settle_after,
                clients,
                accounts,
            });
        }
        let mut faults = Vec::new();
        for (i, r) in self.faults.iter().enumerate() {
            let rule = r
                .validate(&format!("rule-{}", i + 1))
                .map_err(|e| v.err(format!("faults[{i}].{}", e.field), e.problem))?;
            if !seen.contains(&rule.target) {
                return Err(v.err(
                    format!("faults[{i}].target"),
                    format!("`{}` is not a channel or bank of this world", rule.target),
                ));
            }
            if faults.iter().any(|x: &Rule| x.id == rule.id) {
                return Err(v.err(
                    format!("faults[{i}].id"),
                    format!("`{}` is used twice", rule.id),
                ));
            }
            faults.push(rule);
        }
        let mut spec = WorldSpec {
            name: self.world.name.clone().unwrap_or_else(|| "unnamed".into()),
            seed: self.world.seed.unwrap_or(0),
            clock,
            start,
            channels,
            banks,
            faults,
            mismatches: Vec::new(),
        };
        for (i, raw) in self.mismatches.iter().enumerate() {
            let m = raw
                .validate(&format!("mismatch-{}", i + 1))
                .and_then(|m| {
                    crate::statements::mismatch::check_against_world(&spec, &m).map(|_| m)
                })
                .map_err(|e| v.err(format!("mismatches[{i}].{}", e.field), e.problem))?;
            if spec
                .mismatches
                .iter()
                .any(|x: &crate::statements::mismatch::Mismatch| x.id == m.id)
            {
                return Err(v.err(
                    format!("mismatches[{i}].id"),
                    format!("`{}` is used twice", m.id),
                ));
            }
            spec.mismatches.push(m);
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_world_is_valid_and_has_the_documented_credentials() {
        let w = WorldSpec::default_world();
        let wx = w.channel("wxpay").unwrap();
        assert_eq!(wx.merchants[0].appid, "wx2421b1c4370ec43b");
        assert_eq!(wx.merchants[0].mch_id, "10000100");
        assert_eq!(wx.merchants[0].key, "192006250b4c09247ec02edce69f6a2d");
        let bank = w.bank("bank").unwrap();
        assert!(bank.accounts[0].opening.amount > Decimal::ZERO);
    }

    fn err_of(text: &str) -> String {
        load_str(text, "x.toml").unwrap_err().to_string()
    }

    #[test]
    fn errors_name_file_field_and_problem() {
        let e = err_of("[world]\nclock = \"fast\"\n");
        assert_eq!(e, "x.toml: world.clock: `fast` is not one of real, manual");
        let e = err_of("[[banks]]\nid = \"b\"\nkind = \"payout-json\"\non_duplicate = \"twice\"\n");
        assert!(
            e.starts_with("x.toml: banks[0].on_duplicate: `twice`"),
            "{e}"
        );
        let e = err_of("[[channels]]\nid = \"wx\"\nkind = \"wechatpay-v2\"\n[[channels.merchants]]\nappid=\"a\"\nmch_id=\"1\"\nkey=\"short\"\n");
        assert!(e.contains("channels[0].merchants[0].key"), "{e}");
        let e = err_of("[world]\nsede = 1\n");
        assert!(e.starts_with("x.toml: ") && e.contains("sede"), "{e}");
        let e = err_of("[[faults]]\ntarget = \"nowhere\"\naction = \"reset\"\n");
        assert_eq!(
            e,
            "x.toml: faults[0].target: `nowhere` is not a channel or bank of this world"
        );
        let e = err_of("[[faults]]\ntarget = \"x\"\naction = \"delay\"\n");
        assert_eq!(e, "x.toml: faults[0].delay: required by action `delay`");
        let e = err_of("[[channels]]\nid = \"Bad Id\"\nkind = \"wechatpay-v2\"\n");
        assert!(e.contains("channels[0].id"), "{e}");
    }

    #[test]
    fn every_shipped_scenario_is_valid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                load_file(&path).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n >= 1);
    }
}
