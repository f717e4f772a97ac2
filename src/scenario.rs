//! Scenario files: a world written down in TOML.
//!
//! Two stages, as in ripgrep's flags: [`RawScenario`] is what serde reads (unknown fields
//! refused), and [`WorldSpec`] is the validated world the rest of the crate sees. Each
//! `[[channels]]` and `[[banks]]` section is validated by its kind (`channels::validate`,
//! `banks::validate`), which is why this module sits above the kinds; the world settings,
//! ids, fault rules and mismatches are checked here. Errors name the file, the field and
//! the problem: `scenarios/x.toml: banks[0].on_duplicate: \`pay-again\` is not one of …`.
//!
//! The embedded default world is `scenarios/default.toml`, compiled in.

pub use crate::config::ScenarioError;

use crate::banks::{self, BankSpec};
use crate::channels::{self, ChannelSpec};
use crate::clock::{check_instant, parse_instant, ClockMode, Instant, SHANGHAI};
use crate::config::Section;
use crate::directory::{Directory, Family};
use crate::faults::{RawRule, Rule};
use crate::journal::{JOURNAL_BYTES_DEFAULT, JOURNAL_BYTES_LIMIT, JOURNAL_BYTES_MIN};
use crate::mismatches::{Mismatch, MismatchError, MismatchKind, RawMismatch};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;

/// The default world's TOML, embedded at build time.
pub const DEFAULT_WORLD: &str = include_str!("../scenarios/default.toml");

/// Instant a manual clock starts at when the scenario names none: a fixed Monday, so that
/// runs without a start are still reproducible.
pub const DEFAULT_MANUAL_START: &str = "2026-03-02T10:00:00+08:00";

/// Most channels plus banks a world may mount: each is a mount point, a state and a row in
/// every directory lookup; a hundred is far beyond any settlement topology.
pub const MAX_INSTANCES: usize = 100;

/// A scenario file as parsed. Channel and bank sections stay tables until their kind reads
/// them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// World-wide settings.
    #[serde(default)]
    pub world: RawWorld,
    /// Acquiring channels, each `id`, `kind` and the kind's own fields.
    #[serde(default)]
    pub channels: Vec<toml::Table>,
    /// Payout banks, each `id`, `kind` and the kind's own fields.
    #[serde(default)]
    pub banks: Vec<toml::Table>,
    /// Fault rules active from the start.
    #[serde(default)]
    pub faults: Vec<RawRule>,
    /// Statement mismatches to inject (see [`crate::mismatches`]).
    #[serde(default)]
    pub mismatches: Vec<RawMismatch>,
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
    /// Most bytes the journal holds (see [`crate::journal::JOURNAL_BYTES_DEFAULT`]).
    pub journal_bytes: Option<i64>,
}

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
    /// Most bytes the journal holds.
    pub journal_bytes: usize,
    /// Channels, each as its kind validated it.
    pub channels: Vec<ChannelSpec>,
    /// Banks, each as its kind validated it.
    pub banks: Vec<BankSpec>,
    /// Rules active from the start.
    pub faults: Vec<Rule>,
    /// Statement mismatches injected from the start.
    pub mismatches: Vec<Mismatch>,
    /// Who is mounted where, as every module may read it (derived from the kinds' specs).
    #[serde(skip)]
    pub directory: Arc<Directory>,
}

impl WorldSpec {
    /// The embedded default world.
    pub fn default_world() -> WorldSpec {
        // The embedded file is checked by a unit test, so parsing it cannot fail at run time.
        load_str(DEFAULT_WORLD, "default world").expect("the embedded default world is valid")
    }

    /// The channel mounted at `id`.
    pub fn channel(&self, id: &str) -> Option<&ChannelSpec> {
        self.channels.iter().find(|c| c.id() == id)
    }

    /// A one-line-per-fact summary of the world: instances and their credentials, rules.
    pub fn summary(&self) -> String {
        let clock = match self.clock {
            ClockMode::Real => "real",
            ClockMode::Manual => "manual",
        };
        let mut s = format!(
            "world `{}` (seed {}, {clock} clock)\n",
            self.name, self.seed
        );
        for c in &self.channels {
            s.push_str("  ");
            s.push_str(&c.summary());
        }
        for b in &self.banks {
            s.push_str("  ");
            s.push_str(&b.summary());
        }
        for r in &self.faults {
            s.push_str(&format!("  fault rule `{}` on {}\n", r.id, r.target));
        }
        s
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

/// Mount ids become URL path segments: keep them to a safe alphabet.
fn check_id(s: &Section<'_>, id: &str, seen: &mut HashSet<String>) -> Result<(), ScenarioError> {
    if id.is_empty()
        || id.len() > 32
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        || id.starts_with('_')
    {
        return Err(s.err(
            "id",
            format!("`{id}` must be 1–32 characters of a-z, 0-9, - and _, not starting with _"),
        ));
    }
    if !seen.insert(id.to_string()) {
        return Err(s.err("id", format!("`{id}` is used by another channel or bank")));
    }
    Ok(())
}

/// Take the `id` and `kind` of an instance section out of its table; the rest is the kind's.
fn id_and_kind(
    s: &Section<'_>,
    table: &mut toml::Table,
    seen: &mut HashSet<String>,
) -> Result<(String, String), ScenarioError> {
    let mut text = |name: &str| match table.remove(name) {
        None => Err(s.err(name, "missing")),
        Some(toml::Value::String(v)) => Ok(v),
        Some(other) => Err(s.err(
            name,
            format!("expected a string, found {}", other.type_str()),
        )),
    };
    let id = text("id")?;
    let kind = text("kind")?;
    check_id(s, &id, seen)?;
    Ok((id, kind))
}

impl RawScenario {
    /// Validate into a [`WorldSpec`].
    pub fn validate(&self, source_name: &str) -> Result<WorldSpec, ScenarioError> {
        let root = Section::root(source_name);
        let (clock, start) = self.world.validate(&root)?;
        if self.channels.len() + self.banks.len() > MAX_INSTANCES {
            return Err(root.err(
                "channels",
                format!("a world mounts at most {MAX_INSTANCES} channels and banks"),
            ));
        }
        let mut seen = HashSet::new();
        let mut channels = Vec::new();
        for (i, table) in self.channels.iter().enumerate() {
            let s = root.item("channels", i);
            let mut table = table.clone();
            let (id, kind) = id_and_kind(&s, &mut table, &mut seen)?;
            channels.push(channels::validate(&id, &kind, table, &s)?);
        }
        let mut banks = Vec::new();
        for (i, table) in self.banks.iter().enumerate() {
            let s = root.item("banks", i);
            let mut table = table.clone();
            let (id, kind) = id_and_kind(&s, &mut table, &mut seen)?;
            banks.push(banks::validate(&id, &kind, table, &s)?);
        }
        let directory = Directory::new(
            channels
                .iter()
                .map(ChannelSpec::instance)
                .chain(banks.iter().map(BankSpec::instance))
                .collect(),
        );
        let faults = self.validate_faults(&root, &directory)?;
        let mismatches = self.validate_mismatches(&root, &directory)?;
        Ok(WorldSpec {
            name: self.world.name.clone().unwrap_or_else(|| "unnamed".into()),
            seed: self.world.seed.unwrap_or(0),
            clock,
            start,
            journal_bytes: check_journal_bytes(self.world.journal_bytes)
                .map_err(|e| root.err("world.journal_bytes", e))?,
            channels,
            banks,
            faults,
            mismatches,
            directory: Arc::new(directory),
        })
    }

    fn validate_faults(
        &self,
        root: &Section<'_>,
        directory: &Directory,
    ) -> Result<Vec<Rule>, ScenarioError> {
        let mut faults: Vec<Rule> = Vec::new();
        for (i, r) in self.faults.iter().enumerate() {
            let s = root.item("faults", i);
            let rule = check_rule(r, &format!("rule-{}", i + 1), directory)
                .map_err(|(field, problem)| s.err(&field, problem))?;
            if faults.iter().any(|x| x.id == rule.id) {
                return Err(s.err("id", format!("`{}` is used twice", rule.id)));
            }
            faults.push(rule);
        }
        Ok(faults)
    }

    fn validate_mismatches(
        &self,
        root: &Section<'_>,
        directory: &Directory,
    ) -> Result<Vec<Mismatch>, ScenarioError> {
        let mut out: Vec<Mismatch> = Vec::new();
        for (i, raw) in self.mismatches.iter().enumerate() {
            let s = root.item("mismatches", i);
            let m = raw
                .validate(&format!("mismatch-{}", i + 1))
                .and_then(|m| check_mismatch(directory, &m).map(|_| m))
                .map_err(|e| s.err(&e.field, e.problem))?;
            if out.iter().any(|x| x.id == m.id) {
                return Err(s.err("id", format!("`{}` is used twice", m.id)));
            }
            out.push(m);
        }
        Ok(out)
    }
}

impl RawWorld {
    fn validate(&self, root: &Section<'_>) -> Result<(ClockMode, Option<Instant>), ScenarioError> {
        let clock = match self.clock.as_deref().unwrap_or("real") {
            "real" => ClockMode::Real,
            "manual" => ClockMode::Manual,
            other => {
                return Err(root.err(
                    "world.clock",
                    format!("`{other}` is not one of real, manual"),
                ))
            }
        };
        if let Some(tz) = &self.timezone {
            if tz != "Asia/Shanghai" {
                return Err(root.err(
                    "world.timezone",
                    format!("`{tz}` is not supported (only Asia/Shanghai so far)"),
                ));
            }
        }
        let start = match (&self.start, clock) {
            (Some(s), _) => {
                let t = parse_instant(s, SHANGHAI).ok_or_else(|| {
                    root.err(
                        "world.start",
                        format!("`{s}` is not an instant (RFC 3339 or `YYYY-MM-DD HH:MM`)"),
                    )
                })?;
                Some(check_instant(t).map_err(|e| root.err("world.start", e.to_string()))?)
            }
            (None, ClockMode::Manual) => parse_instant(DEFAULT_MANUAL_START, SHANGHAI),
            (None, ClockMode::Real) => None,
        };
        Ok((clock, start))
    }
}

/// Check a `journal_bytes` value: [`JOURNAL_BYTES_MIN`] to [`JOURNAL_BYTES_LIMIT`], or the
/// default when not given. `Err` is the problem.
pub fn check_journal_bytes(n: Option<i64>) -> Result<usize, String> {
    let Some(n) = n else {
        return Ok(JOURNAL_BYTES_DEFAULT);
    };
    match usize::try_from(n) {
        Ok(b) if (JOURNAL_BYTES_MIN..=JOURNAL_BYTES_LIMIT).contains(&b) => Ok(b),
        _ => Err(format!(
            "{n} is out of range: from {JOURNAL_BYTES_MIN} (64 KiB) to {JOURNAL_BYTES_LIMIT} (1 GiB) bytes"
        )),
    }
}

/// Validate a fault rule for a world with `directory`: its fields, and that its target is
/// mounted. `Err` carries the field and the problem.
pub fn check_rule(
    raw: &RawRule,
    default_id: &str,
    directory: &Directory,
) -> Result<Rule, (String, String)> {
    let rule = raw.validate(default_id).map_err(|e| (e.field, e.problem))?;
    let Some(instance) = directory.get(&rule.target) else {
        return Err((
            "target".into(),
            format!("`{}` is not a channel or bank of this world", rule.target),
        ));
    };
    // A misspelt op (`payout.sumbit`) would be accepted and never fire.
    if let Some(op) = rule.op.as_deref() {
        if !instance.ops.contains(&op) {
            return Err((
                "op".into(),
                format!(
                    "`{op}` is not an operation of {} `{}` (one of {}, or `*`)",
                    instance.family.as_str(),
                    instance.id,
                    instance.ops.join(", ")
                ),
            ));
        }
    }
    Ok(rule)
}

/// Check a mismatch against the world it is added to: the instance exists, the account is
/// one of its own, and the kind can be shown by its statements.
pub fn check_mismatch(directory: &Directory, m: &Mismatch) -> Result<(), MismatchError> {
    let bad = |field: &str, problem: String| MismatchError {
        field: field.into(),
        problem,
    };
    let Some(instance) = directory.get(&m.instance) else {
        return Err(bad(
            "instance",
            format!("`{}` is not a channel or bank of this world", m.instance),
        ));
    };
    if let Some(a) = &m.account {
        if instance.account(Some(a)).is_none() {
            return Err(bad(
                "account",
                format!(
                    "`{a}` is not {} of {} `{}`",
                    instance.account_noun(),
                    instance.family.as_str(),
                    m.instance
                ),
            ));
        }
    }
    if instance.family == Family::Bank && m.kind == MismatchKind::Fee {
        return Err(bad(
            "kind",
            "`fee` mismatches apply to channel statements only: bank statements carry no fee"
                .into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_world_is_valid_and_has_the_documented_credentials() {
        let w = WorldSpec::default_world();
        let wx = w.directory.get("wxpay").unwrap();
        assert_eq!(wx.accounts[0].number, "10000100");
        let summary = w.channels[0].summary();
        assert!(summary.contains("appid wx2421b1c4370ec43b"), "{summary}");
        assert!(
            summary.contains("key 192006250b4c09247ec02edce69f6a2d"),
            "{summary}"
        );
        let bank = w.directory.get("bank").unwrap();
        assert!(bank.accounts[0].opening.amount > rust_decimal::Decimal::ZERO);
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
        let e = err_of("[[banks]]\nid = \"b\"\nkind = \"payout-json\"\n[[banks.accounts]]\nno = \"6222_0001\"\n");
        assert_eq!(
            e,
            "x.toml: banks[0].accounts[0].no: `6222_0001` is not 1–34 letters and digits (an account number)"
        );
    }

    #[test]
    fn journal_bytes_is_bounded_and_named_when_out_of_range() {
        assert_eq!(
            err_of("[world]\njournal_bytes = 1000\n"),
            "x.toml: world.journal_bytes: 1000 is out of range: from 65536 (64 KiB) to 1073741824 (1 GiB) bytes"
        );
        assert!(err_of("[world]\njournal_bytes = -1\n")
            .contains("world.journal_bytes: -1 is out of range"));
        assert!(err_of("[world]\njournal_bytes = 1073741825\n").contains("world.journal_bytes"));
        let w = load_str("[world]\njournal_bytes = 65536\n", "x.toml").unwrap();
        assert_eq!(w.journal_bytes, 65536);
        let w = load_str("[world]\n", "x.toml").unwrap();
        assert_eq!(w.journal_bytes, JOURNAL_BYTES_DEFAULT);
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
