//! The adapter file, raw and validated: the TOML shapes as parsed ([`RawAdapter`]), the
//! validated form the harness runs with ([`Adapter`]), and the checks between the two.
//!
//! Validation is kept apart from the hook calls and the SUT process so that every mistake in
//! an adapter file is found when it is loaded, before any SUT is started: each template is
//! checked against the variables it can see, and every error names the field to fix
//! (`hooks.create_order.body`), not a step half-way through a run. Each section of the file
//! has its own validator, run in file order, so the first problem reported is the first one
//! a reader meets.
//!
//! Its tests (one per kind of mistake an adapter author makes) are in `config_tests.rs`.

use super::template::{check_template, is_ident, BUILTIN_VARS};
use crate::clock::parse_duration;
use hyper::Method;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The hooks an adapter must define, with the variables each one gets. A hook's variables
/// are visible only in its own templates.
pub const HOOKS: [(&str, &[&str]); 5] = [
    (
        "onboard_merchant",
        &[
            "merchant_id",
            "account_no",
            "account_name",
            "bank_id",
            "cycle",
        ],
    ),
    (
        "create_order",
        &[
            "merchant_id",
            "channel",
            "amount",
            "amount_minor",
            "currency",
        ],
    ),
    ("run_settlement", &["date"]),
    ("run_reconciliation", &["date", "channel"]),
    ("reconciliation_report", &["date", "channel"]),
];

/// Hooks an adapter may leave out, with their variables. A scenario that needs one the
/// adapter lacks fails naming it (`create_refund`: the refund scenarios).
pub const OPTIONAL_HOOKS: [(&str, &[&str]); 1] = [(
    "create_refund",
    &[
        "merchant_id",
        "channel",
        "out_trade_no",
        "amount",
        "amount_minor",
        "currency",
    ],
)];

/// How the SUT pays for a refund (`refund_policy` in the adapter file). The oracle's idea of
/// what a merchant is owed follows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RefundPolicy {
    /// Refunds come out of the merchant's pre-deposit (a balance the SUT holds for it): its
    /// settlement payouts are its payments, never reduced by refunds. The default.
    #[default]
    PreDeposit,
    /// Refunds are netted against the next settlement: the payout for day D is the payments
    /// of D less the refunds that succeeded on D.
    Netted,
}

impl RefundPolicy {
    /// The name the adapter file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundPolicy::PreDeposit => "pre_deposit",
            RefundPolicy::Netted => "netted",
        }
    }
}

/// Default time a hook may take. Settlement against a bank that hangs takes as long as
/// the SUT's own timeouts; two minutes is far beyond any healthy SUT.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(120);

/// Default time the SUT may take to become ready (the first `cargo run` may compile it).
pub const READY_TIMEOUT: Duration = Duration::from_secs(600);

/// A problem with an adapter file, displayed as `file: field: problem`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}: {field}{sep}{problem}", sep = if field.is_empty() { "" } else { ": " })]
pub struct AdapterError {
    /// The adapter file's path as given, so the message says which file to edit.
    pub file: String,
    /// The dotted path of the offending field, e.g. `hooks.create_order.body`; empty when
    /// the problem is the file as a whole (unreadable, or not TOML).
    pub field: String,
    /// What is wrong with it, in words, e.g. which variables were known there.
    pub problem: String,
}

/// `[start]` as parsed: how the harness starts the SUT for each scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStart {
    /// Shell command template that starts the SUT (run with `sh -c "exec …"`).
    pub command: String,
    /// URL template polled until it answers 2xx; without it the SUT counts as ready as soon
    /// as it is started.
    pub ready: Option<String>,
    /// How long to wait for readiness, as a duration such as `120s`; default
    /// [`READY_TIMEOUT`].
    pub ready_timeout: Option<String>,
}

/// One `[hooks.<name>]` table as parsed: either an HTTP request (`url`, with optional
/// `method`, `body`, `headers`) or a shell `command`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHook {
    /// HTTP method; when absent, POST if a body is given, else GET.
    pub method: Option<String>,
    /// URL template of the HTTP request.
    pub url: Option<String>,
    /// Body template of the HTTP request; a non-empty body is sent with
    /// `content-type: application/json` unless `headers` sets a content type.
    pub body: Option<String>,
    /// Header templates of the HTTP request, by header name.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Shell command template, run instead of an HTTP request.
    pub command: Option<String>,
    /// How long the hook may take, as a duration such as `120s`; default
    /// [`HOOK_TIMEOUT`].
    pub timeout: Option<String>,
}

/// An adapter file as parsed, before any template or name is checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdapter {
    /// `pre_deposit` (default) or `netted`; a template, so `{name}` variables may choose it.
    pub refund_policy: Option<String>,
    /// How to start the SUT; absent when the SUT is started by someone else.
    pub start: Option<RawStart>,
    /// Template variables the file defines (command-line overrides replace them).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// The hook tables by hook name; every name in [`HOOKS`] must appear, and no other.
    #[serde(default)]
    pub hooks: BTreeMap<String, RawHook>,
}

/// What a validated hook does when it is called.
#[derive(Debug, Clone)]
pub enum HookAction {
    /// Send an HTTP request; 2xx is success and the answer body is the hook's output.
    Http {
        /// The request method, already resolved from the file or its default.
        method: Method,
        /// URL template, rendered unquoted.
        url: String,
        /// Body template, rendered unquoted; `None` sends an empty body.
        body: Option<String>,
        /// Header value templates by header name, rendered unquoted.
        headers: BTreeMap<String, String>,
    },
    /// Run this command template with `sh -c`, its variable values shell-quoted (see
    /// [`render`](super::render)); exit status 0 is success and stdout is the hook's output.
    Shell(String),
}

/// A validated hook: its action and its deadline.
#[derive(Debug, Clone)]
pub struct Hook {
    /// The HTTP request or shell command to run.
    pub action: HookAction,
    /// How long a call may take before it fails.
    pub timeout: Duration,
}

/// Validated `[start]`: how to start the SUT and how to know it is ready.
#[derive(Debug, Clone)]
pub struct Start {
    /// Shell command template that starts the SUT.
    pub command: String,
    /// URL template polled until it answers 2xx, if the SUT has one.
    pub ready: Option<String>,
    /// How long the SUT may take to become ready before the scenario fails.
    pub ready_timeout: Duration,
}

/// A validated adapter: every template is known to use only variables it can see.
#[derive(Debug, Clone)]
pub struct Adapter {
    /// Where it was read from, for messages.
    pub file: String,
    /// How to start the SUT, if the harness should.
    pub start: Option<Start>,
    /// Variables from the file, with command-line overrides applied.
    pub vars: BTreeMap<String, String>,
    /// One validated hook for each name in [`HOOKS`], and those of [`OPTIONAL_HOOKS`] the
    /// file defines.
    pub hooks: BTreeMap<String, Hook>,
    /// How the SUT pays for refunds.
    pub refund_policy: RefundPolicy,
}

/// Read and validate an adapter file. `overrides` replace or add `[vars]`.
pub fn load(path: &Path, overrides: &BTreeMap<String, String>) -> Result<Adapter, AdapterError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| AdapterError {
        file: file.clone(),
        field: String::new(),
        problem: format!("cannot read: {e}"),
    })?;
    load_str(&text, &file, overrides)
}

/// Parse and validate adapter text; `file` names it in errors. `overrides` replace or add
/// `[vars]`.
pub fn load_str(
    text: &str,
    file: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<Adapter, AdapterError> {
    validate(text, file, overrides).map_err(|invalid| AdapterError {
        file: file.to_string(),
        field: invalid.field,
        problem: invalid.problem,
    })
}

/// A problem found by a validator: the field and what is wrong. [`load_str`] adds the file.
struct Invalid {
    field: String,
    problem: String,
}

impl Invalid {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// Every section's validator, in file order: the first problem is the one reported.
fn validate(
    text: &str,
    file: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<Adapter, Invalid> {
    let raw: RawAdapter = toml::from_str(text)
        .map_err(|e| Invalid::new("", e.to_string().trim_end().replace('\n', " ")))?;
    let mut vars = raw.vars.clone();
    for (k, v) in overrides {
        vars.insert(k.clone(), v.clone());
    }
    check_var_names(&vars)?;
    let known: Vec<String> = BUILTIN_VARS
        .iter()
        .map(|s| s.to_string())
        .chain(vars.keys().cloned())
        .collect();
    for (name, value) in &vars {
        check_template(value, &known).map_err(|e| Invalid::new(format!("vars.{name}"), e))?;
    }
    let start = match &raw.start {
        None => None,
        Some(s) => Some(validate_start(s, &known)?),
    };
    let refund_policy = validate_refund_policy(raw.refund_policy.as_deref(), &vars, &known)?;
    check_hook_names(&raw.hooks)?;
    let hooks = validate_hooks(&raw.hooks, &known)?;
    Ok(Adapter {
        file: file.to_string(),
        start,
        vars,
        hooks,
        refund_policy,
    })
}

/// Variable names must be identifiers (or no template could name them) and must not take a
/// built-in's name (the harness sets those).
fn check_var_names(vars: &BTreeMap<String, String>) -> Result<(), Invalid> {
    for name in vars.keys() {
        if !is_ident(name) {
            return Err(Invalid::new(
                format!("vars.{name}"),
                "variable names are letters, digits and _",
            ));
        }
        if BUILTIN_VARS.contains(&name.as_str()) {
            return Err(Invalid::new(
                format!("vars.{name}"),
                "is a built-in variable and cannot be set",
            ));
        }
    }
    Ok(())
}

fn validate_start(s: &RawStart, known: &[String]) -> Result<Start, Invalid> {
    check_template(&s.command, known).map_err(|e| Invalid::new("start.command", e))?;
    if let Some(r) = &s.ready {
        check_template(r, known).map_err(|e| Invalid::new("start.ready", e))?;
    }
    let ready_timeout = timeout_or(
        s.ready_timeout.as_deref(),
        "start.ready_timeout",
        READY_TIMEOUT,
    )?;
    Ok(Start {
        command: s.command.clone(),
        ready: s.ready.clone(),
        ready_timeout,
    })
}

/// A duration field, or `default` when it is absent (or negative).
fn timeout_or(text: Option<&str>, field: &str, default: Duration) -> Result<Duration, Invalid> {
    match text {
        Some(t) => Ok(parse_duration(t)
            .map_err(|e| Invalid::new(field, e.to_string()))?
            .to_std()
            .unwrap_or(default)),
        None => Ok(default),
    }
}

/// `refund_policy`, rendered with the file's variables (so `--var` can choose it).
fn validate_refund_policy(
    text: Option<&str>,
    vars: &BTreeMap<String, String>,
    known: &[String],
) -> Result<RefundPolicy, Invalid> {
    let Some(text) = text else {
        return Ok(RefundPolicy::default());
    };
    let field = "refund_policy";
    let vars_only: Vec<String> = known
        .iter()
        .filter(|k| !BUILTIN_VARS.contains(&k.as_str()))
        .cloned()
        .collect();
    check_template(text, &vars_only).map_err(|e| Invalid::new(field, e))?;
    let value = super::template::render(text, vars, false).map_err(|e| Invalid::new(field, e))?;
    match value.trim() {
        "pre_deposit" => Ok(RefundPolicy::PreDeposit),
        "netted" => Ok(RefundPolicy::Netted),
        other => Err(Invalid::new(
            field,
            format!("`{other}` is not a refund policy (`pre_deposit` or `netted`)"),
        )),
    }
}

/// A misspelt hook name is reported as such, not as the correct name being missing.
fn check_hook_names(raw: &BTreeMap<String, RawHook>) -> Result<(), Invalid> {
    for name in raw.keys() {
        if !HOOKS
            .iter()
            .chain(OPTIONAL_HOOKS.iter())
            .any(|(h, _)| h == name)
        {
            let names: Vec<&str> = HOOKS
                .iter()
                .chain(OPTIONAL_HOOKS.iter())
                .map(|(h, _)| *h)
                .collect();
            return Err(Invalid::new(
                format!("hooks.{name}"),
                format!("unknown hook (the hooks are {})", names.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Validate every hook in [`HOOKS`] order; each sees the adapter's variables plus its own.
fn validate_hooks(
    raw: &BTreeMap<String, RawHook>,
    known: &[String],
) -> Result<BTreeMap<String, Hook>, Invalid> {
    let mut hooks = BTreeMap::new();
    for (name, hook_vars) in HOOKS {
        let Some(h) = raw.get(name) else {
            return Err(Invalid::new(
                format!("hooks.{name}"),
                "missing: every hook must be defined",
            ));
        };
        let known_here: Vec<String> = known
            .iter()
            .cloned()
            .chain(hook_vars.iter().map(|s| s.to_string()))
            .collect();
        hooks.insert(name.to_string(), validate_hook(name, h, &known_here)?);
    }
    for (name, hook_vars) in OPTIONAL_HOOKS {
        let Some(h) = raw.get(name) else { continue };
        let known_here: Vec<String> = known
            .iter()
            .cloned()
            .chain(hook_vars.iter().map(|s| s.to_string()))
            .collect();
        hooks.insert(name.to_string(), validate_hook(name, h, &known_here)?);
    }
    Ok(hooks)
}

fn validate_hook(name: &str, h: &RawHook, known: &[String]) -> Result<Hook, Invalid> {
    let action = match (&h.command, &h.url) {
        (Some(_), Some(_)) => {
            return Err(Invalid::new(
                format!("hooks.{name}"),
                "give either `url` or `command`, not both",
            ))
        }
        (None, None) => {
            return Err(Invalid::new(
                format!("hooks.{name}"),
                "give `url` (HTTP) or `command` (shell)",
            ))
        }
        (Some(cmd), None) => {
            check_template(cmd, known)
                .map_err(|e| Invalid::new(format!("hooks.{name}.command"), e))?;
            HookAction::Shell(cmd.clone())
        }
        (None, Some(url)) => validate_http(name, h, url, known)?,
    };
    let field = format!("hooks.{name}.timeout");
    let timeout = timeout_or(h.timeout.as_deref(), &field, HOOK_TIMEOUT)?;
    Ok(Hook { action, timeout })
}

fn validate_http(
    name: &str,
    h: &RawHook,
    url: &str,
    known: &[String],
) -> Result<HookAction, Invalid> {
    let field = |f: &str| format!("hooks.{name}.{f}");
    check_template(url, known).map_err(|e| Invalid::new(field("url"), e))?;
    if let Some(b) = &h.body {
        check_template(b, known).map_err(|e| Invalid::new(field("body"), e))?;
    }
    for (k, v) in &h.headers {
        check_template(v, known).map_err(|e| Invalid::new(field(&format!("headers.{k}")), e))?;
    }
    let method = match h.method.as_deref() {
        Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| Invalid::new(field("method"), format!("`{m}` is not an HTTP method")))?,
        None if h.body.is_some() => Method::POST,
        None => Method::GET,
    };
    Ok(HookAction::Http {
        method,
        url: url.to_string(),
        body: h.body.clone(),
        headers: h.headers.clone(),
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
