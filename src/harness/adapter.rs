//! The SUT adapter: how the harness starts and talks to a settlement system under test.
//!
//! A small TOML file (format in `docs/sut-adapter.md`): an optional `[start]` command,
//! `[vars]`, and five hooks, each an HTTP request or a shell command with `{name}`
//! templates. Read in two stages like scenarios: [`RawAdapter`] as parsed, [`Adapter`]
//! validated — every template is checked against the variables it can see, so a typo is
//! reported when the file is loaded, naming the hook and field, not half-way through a run.

use crate::clock::parse_duration;
use crate::http;
use bytes::Bytes;
use hyper::Method;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The hooks an adapter must define, with the variables each one gets.
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

/// Variables every template can use.
pub const BUILTIN_VARS: [&str; 3] = ["sandbank_url", "sut_addr", "seed"];

/// Default time a hook may take. Settlement against a bank that hangs takes as long as
/// the SUT's own timeouts; two minutes is far beyond any healthy SUT.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(120);

/// Default time the SUT may take to become ready (the first `cargo run` may compile it).
pub const READY_TIMEOUT: Duration = Duration::from_secs(600);

/// A problem with an adapter file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}: {field}{sep}{problem}", sep = if field.is_empty() { "" } else { ": " })]
pub struct AdapterError {
    /// The file.
    pub file: String,
    /// The field path, e.g. `hooks.create_order.body`.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

/// `[start]` as parsed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStart {
    /// Shell command that starts the SUT.
    pub command: String,
    /// URL polled until it answers 2xx.
    pub ready: Option<String>,
    /// How long to wait for readiness (`120s`).
    pub ready_timeout: Option<String>,
}

/// A hook as parsed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHook {
    /// HTTP method (default POST when a body is given, else GET).
    pub method: Option<String>,
    /// HTTP URL.
    pub url: Option<String>,
    /// HTTP body.
    pub body: Option<String>,
    /// HTTP headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Shell command instead of HTTP.
    pub command: Option<String>,
    /// How long the hook may take (`120s`).
    pub timeout: Option<String>,
}

/// An adapter file as parsed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdapter {
    /// How to start the SUT.
    pub start: Option<RawStart>,
    /// Template variables.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// The hooks by name.
    #[serde(default)]
    pub hooks: BTreeMap<String, RawHook>,
}

/// What a hook does.
#[derive(Debug, Clone)]
pub enum HookAction {
    /// An HTTP request.
    Http {
        /// Method.
        method: Method,
        /// URL template.
        url: String,
        /// Body template.
        body: Option<String>,
        /// Header templates.
        headers: BTreeMap<String, String>,
    },
    /// A shell command template (`sh -c`).
    Shell(String),
}

/// A validated hook.
#[derive(Debug, Clone)]
pub struct Hook {
    /// What it does.
    pub action: HookAction,
    /// How long it may take.
    pub timeout: Duration,
}

/// How to start the SUT.
#[derive(Debug, Clone)]
pub struct Start {
    /// Command template.
    pub command: String,
    /// Readiness URL template.
    pub ready: Option<String>,
    /// Readiness deadline.
    pub ready_timeout: Duration,
}

/// A validated adapter.
#[derive(Debug, Clone)]
pub struct Adapter {
    /// Where it was read from (for messages).
    pub file: String,
    /// How to start the SUT, if the harness should.
    pub start: Option<Start>,
    /// Variables from the file (overridable).
    pub vars: BTreeMap<String, String>,
    /// Hooks by name.
    pub hooks: BTreeMap<String, Hook>,
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

/// Parse and validate adapter text.
pub fn load_str(
    text: &str,
    file: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<Adapter, AdapterError> {
    let err = |field: &str, problem: String| AdapterError {
        file: file.to_string(),
        field: field.to_string(),
        problem,
    };
    let raw: RawAdapter =
        toml::from_str(text).map_err(|e| err("", e.to_string().trim_end().replace('\n', " ")))?;
    let mut vars = raw.vars.clone();
    for (k, v) in overrides {
        vars.insert(k.clone(), v.clone());
    }
    for name in vars.keys() {
        if !is_ident(name) {
            return Err(err(
                &format!("vars.{name}"),
                "variable names are letters, digits and _".into(),
            ));
        }
        if BUILTIN_VARS.contains(&name.as_str()) {
            return Err(err(
                &format!("vars.{name}"),
                "is a built-in variable and cannot be set".into(),
            ));
        }
    }
    let mut known: Vec<String> = BUILTIN_VARS
        .iter()
        .map(|s| s.to_string())
        .chain(vars.keys().cloned())
        .collect();
    for (name, value) in &vars {
        check_template(value, &known).map_err(|e| err(&format!("vars.{name}"), e))?;
    }
    let start = match &raw.start {
        None => None,
        Some(s) => {
            check_template(&s.command, &known).map_err(|e| err("start.command", e))?;
            if let Some(r) = &s.ready {
                check_template(r, &known).map_err(|e| err("start.ready", e))?;
            }
            let ready_timeout = match &s.ready_timeout {
                Some(t) => parse_duration(t)
                    .map_err(|e| err("start.ready_timeout", e.to_string()))?
                    .to_std()
                    .unwrap_or(READY_TIMEOUT),
                None => READY_TIMEOUT,
            };
            Some(Start {
                command: s.command.clone(),
                ready: s.ready.clone(),
                ready_timeout,
            })
        }
    };
    for name in raw.hooks.keys() {
        if !HOOKS.iter().any(|(h, _)| h == name) {
            let names: Vec<&str> = HOOKS.iter().map(|(h, _)| *h).collect();
            return Err(err(
                &format!("hooks.{name}"),
                format!("unknown hook (the hooks are {})", names.join(", ")),
            ));
        }
    }
    let mut hooks = BTreeMap::new();
    for (name, hook_vars) in HOOKS {
        let field = |f: &str| format!("hooks.{name}.{f}");
        let Some(h) = raw.hooks.get(name) else {
            return Err(err(
                &format!("hooks.{name}"),
                "missing: every hook must be defined".into(),
            ));
        };
        let base = known.len();
        known.extend(hook_vars.iter().map(|s| s.to_string()));
        let action = match (&h.command, &h.url) {
            (Some(_), Some(_)) => {
                return Err(err(
                    &format!("hooks.{name}"),
                    "give either `url` or `command`, not both".into(),
                ))
            }
            (None, None) => {
                return Err(err(
                    &format!("hooks.{name}"),
                    "give `url` (HTTP) or `command` (shell)".into(),
                ))
            }
            (Some(cmd), None) => {
                check_template(cmd, &known).map_err(|e| err(&field("command"), e))?;
                HookAction::Shell(cmd.clone())
            }
            (None, Some(url)) => {
                check_template(url, &known).map_err(|e| err(&field("url"), e))?;
                if let Some(b) = &h.body {
                    check_template(b, &known).map_err(|e| err(&field("body"), e))?;
                }
                for (k, v) in &h.headers {
                    check_template(v, &known)
                        .map_err(|e| err(&field(&format!("headers.{k}")), e))?;
                }
                let method = match h.method.as_deref() {
                    Some(m) => {
                        Method::from_bytes(m.to_ascii_uppercase().as_bytes()).map_err(|_| {
                            err(&field("method"), format!("`{m}` is not an HTTP method"))
                        })?
                    }
                    None if h.body.is_some() => Method::POST,
                    None => Method::GET,
                };
                HookAction::Http {
                    method,
                    url: url.clone(),
                    body: h.body.clone(),
                    headers: h.headers.clone(),
                }
            }
        };
        let timeout = match &h.timeout {
            Some(t) => parse_duration(t)
                .map_err(|e| err(&field("timeout"), e.to_string()))?
                .to_std()
                .unwrap_or(HOOK_TIMEOUT),
            None => HOOK_TIMEOUT,
        };
        known.truncate(base);
        hooks.insert(name.to_string(), Hook { action, timeout });
    }
    Ok(Adapter {
        file: file.to_string(),
        start,
        vars,
        hooks,
    })
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// The `{name}` placeholders in a template, in order. Braces around anything that is not an
/// identifier (JSON, say) are not placeholders.
pub fn placeholders(template: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let bytes = template.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' {
            if let Some(len) = template[i + 1..].find('}') {
                let name = &template[i + 1..i + 1 + len];
                if is_ident(name) {
                    out.push((i, i + len + 2, name));
                    i += len + 2;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

fn check_template(template: &str, known: &[String]) -> Result<(), String> {
    for (_, _, name) in placeholders(template) {
        if !known.iter().any(|k| k == name) {
            return Err(format!(
                "unknown variable `{{{name}}}` (known here: {})",
                known.join(", ")
            ));
        }
    }
    Ok(())
}

/// Quote a value for `sh`.
pub fn shell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

/// Render `template` with `vars`. Variable values may themselves contain templates (e.g.
/// `sut = "http://{sut_addr}"`); they are expanded up to a fixed depth.
pub fn render(
    template: &str,
    vars: &BTreeMap<String, String>,
    quote: bool,
) -> Result<String, String> {
    render_depth(template, vars, quote, 0)
}

fn render_depth(
    template: &str,
    vars: &BTreeMap<String, String>,
    quote: bool,
    depth: usize,
) -> Result<String, String> {
    if depth > 8 {
        return Err("variables refer to each other in a loop".into());
    }
    let mut out = String::with_capacity(template.len());
    let mut last = 0;
    for (start, end, name) in placeholders(template) {
        out.push_str(&template[last..start]);
        let raw = vars
            .get(name)
            .ok_or_else(|| format!("variable `{name}` has no value"))?;
        // Values of variables are expanded unquoted; only the final value is quoted, once.
        let value = render_depth(raw, vars, false, depth + 1)?;
        if quote && !BUILTIN_VARS.contains(&name) && !is_command_var(name) {
            out.push_str(&shell_quote(&value));
        } else {
            out.push_str(&value);
        }
        last = end;
    }
    out.push_str(&template[last..]);
    Ok(out)
}

/// Variables that hold command text (`sut_bin`) are spliced in unquoted on purpose.
fn is_command_var(name: &str) -> bool {
    name.ends_with("_bin") || name.ends_with("_cmd")
}

/// Why a hook failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("hook `{hook}` failed: {problem}\n  request: {request}\n  answer: {answer}")]
pub struct HookError {
    /// The hook.
    pub hook: String,
    /// What went wrong.
    pub problem: String,
    /// What was sent (rendered).
    pub request: String,
    /// What came back.
    pub answer: String,
}

impl Adapter {
    /// The variables for a call: the file's `[vars]`, the built-ins, the hook's own.
    pub fn vars_with(
        &self,
        builtins: &BTreeMap<String, String>,
        own: &[(&str, String)],
    ) -> BTreeMap<String, String> {
        let mut v = self.vars.clone();
        v.extend(builtins.iter().map(|(k, x)| (k.clone(), x.clone())));
        v.extend(own.iter().map(|(k, x)| (k.to_string(), x.clone())));
        v
    }

    /// Call hook `name` with `vars`; returns its output (HTTP body or stdout).
    pub async fn call(
        &self,
        name: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<String, HookError> {
        let fail = |problem: String, request: String, answer: String| HookError {
            hook: name.to_string(),
            problem,
            request,
            answer,
        };
        let Some(hook) = self.hooks.get(name) else {
            return Err(fail("not defined".into(), String::new(), String::new()));
        };
        match &hook.action {
            HookAction::Http {
                method,
                url,
                body,
                headers,
            } => {
                let url =
                    render(url, vars, false).map_err(|e| fail(e, String::new(), String::new()))?;
                let body = match body {
                    Some(b) => {
                        render(b, vars, false).map_err(|e| fail(e, url.clone(), String::new()))?
                    }
                    None => String::new(),
                };
                let mut hs: Vec<(String, String)> = Vec::new();
                for (k, v) in headers {
                    hs.push((
                        k.clone(),
                        render(v, vars, false).map_err(|e| fail(e, url.clone(), String::new()))?,
                    ));
                }
                if !body.is_empty()
                    && !hs
                        .iter()
                        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    hs.push(("content-type".into(), "application/json".into()));
                }
                let header_refs: Vec<(&str, &str)> =
                    hs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let request = format!("{method} {url} {body}");
                match http::send(
                    method.clone(),
                    &url,
                    &header_refs,
                    Bytes::from(body.clone()),
                    hook.timeout,
                )
                .await
                {
                    Ok(r) if r.status.is_success() => Ok(r.text()),
                    Ok(r) => Err(fail(format!("HTTP {}", r.status), request, r.text())),
                    Err(e) => Err(fail(e.to_string(), request, String::new())),
                }
            }
            HookAction::Shell(cmd) => {
                let cmd =
                    render(cmd, vars, true).map_err(|e| fail(e, String::new(), String::new()))?;
                let run = tokio::process::Command::new("sh")
                    .arg("-c")
                    .arg(&cmd)
                    .kill_on_drop(true)
                    .output();
                match tokio::time::timeout(hook.timeout, run).await {
                    Err(_) => Err(fail(
                        format!("timed out after {:?}", hook.timeout),
                        cmd,
                        String::new(),
                    )),
                    Ok(Err(e)) => Err(fail(format!("cannot run sh: {e}"), cmd, String::new())),
                    Ok(Ok(out)) if out.status.success() => {
                        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
                    }
                    Ok(Ok(out)) => Err(fail(
                        format!("exited with {}", out.status),
                        cmd,
                        format!(
                            "{}{}",
                            String::from_utf8_lossy(&out.stdout),
                            String::from_utf8_lossy(&out.stderr)
                        ),
                    )),
                }
            }
        }
    }

    /// Start the SUT if the adapter says how; wait until it is ready.
    pub async fn start(
        &self,
        vars: &BTreeMap<String, String>,
        log: PathBuf,
    ) -> Result<Option<SutProcess>, String> {
        let Some(start) = &self.start else {
            return Ok(None);
        };
        let cmd = render(&start.command, vars, true)?;
        let log_file = std::fs::File::create(&log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
        let child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(format!("exec {cmd}"))
            .stdin(std::process::Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start `{cmd}`: {e}"))?;
        let mut sut = SutProcess {
            child,
            command: cmd.clone(),
            log,
        };
        if let Some(ready) = &start.ready {
            let url = render(ready, vars, false)?;
            let deadline = tokio::time::Instant::now() + start.ready_timeout;
            loop {
                if let Ok(Some(status)) = sut.child.try_wait() {
                    return Err(format!("the SUT exited with {status} before it was ready\n  command: {cmd}\n  log:\n{}", sut.log_tail()));
                }
                if let Ok(r) = http::get(&url, Duration::from_secs(2)).await {
                    if r.status.is_success() {
                        break;
                    }
                }
                if tokio::time::Instant::now() > deadline {
                    let tail = sut.log_tail();
                    sut.stop().await;
                    return Err(format!("the SUT was not ready at {url} within {:?}\n  command: {cmd}\n  log:\n{tail}", start.ready_timeout));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(Some(sut))
    }
}

/// A running SUT process (in its own process group, so that `cargo run` and its child go
/// together).
#[derive(Debug)]
pub struct SutProcess {
    child: tokio::process::Child,
    /// The command that started it.
    pub command: String,
    /// Its stdout and stderr.
    pub log: PathBuf,
}

impl SutProcess {
    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..]
            .iter()
            .map(|l| format!("    {l}\n"))
            .collect()
    }

    /// Stop it: TERM to its process group, then KILL after a grace period.
    pub async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            let group = format!("-{pid}");
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", "--", &group])
                .status()
                .await;
            if tokio::time::timeout(Duration::from_secs(3), self.child.wait())
                .await
                .is_err()
            {
                let _ = tokio::process::Command::new("kill")
                    .args(["-KILL", "--", &group])
                    .status()
                    .await;
                let _ = self.child.wait().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[start]
command = "{sut_bin} --listen {sut_addr} --sandbank {sandbank_url} --bug {bug}"
ready = "http://{sut_addr}/health"
[vars]
sut_bin = "cargo run --example x --"
bug = "none"
sut = "http://{sut_addr}"
[hooks.onboard_merchant]
url = "{sut}/merchants"
body = '{"merchant_id":"{merchant_id}","account_no":"{account_no}"}'
[hooks.create_order]
url = "{sut}/orders"
body = '{"merchant_id":"{merchant_id}","amount_minor":{amount_minor}}'
[hooks.run_settlement]
command = "echo {date}"
[hooks.run_reconciliation]
url = "{sut}/rec"
body = '{"date":"{date}"}'
[hooks.reconciliation_report]
url = "{sut}/rec/{date}"
"#;

    #[test]
    fn a_good_adapter_loads_and_renders() {
        let a = load_str(GOOD, "a.toml", &BTreeMap::new()).unwrap();
        assert!(a.start.is_some());
        let mut builtins = BTreeMap::new();
        builtins.insert("sut_addr".to_string(), "127.0.0.1:9".to_string());
        builtins.insert("sandbank_url".to_string(), "http://127.0.0.1:8".to_string());
        let v = a.vars_with(
            &builtins,
            &[("merchant_id", "M1".into()), ("amount_minor", "100".into())],
        );
        let HookAction::Http { url, body, .. } = &a.hooks["create_order"].action else {
            panic!()
        };
        assert_eq!(render(url, &v, false).unwrap(), "http://127.0.0.1:9/orders");
        assert_eq!(
            render(body.as_ref().unwrap(), &v, false).unwrap(),
            r#"{"merchant_id":"M1","amount_minor":100}"#
        );
        let cmd = render(&a.start.as_ref().unwrap().command, &v, true).unwrap();
        assert_eq!(cmd, "cargo run --example x -- --listen 127.0.0.1:9 --sandbank http://127.0.0.1:8 --bug 'none'");
        assert_eq!(a.hooks["run_settlement"].timeout, HOOK_TIMEOUT);
    }

    #[test]
    fn overrides_replace_vars() {
        let mut o = BTreeMap::new();
        o.insert("bug".to_string(), "new-order-no-on-retry".to_string());
        let a = load_str(GOOD, "a.toml", &o).unwrap();
        assert_eq!(a.vars["bug"], "new-order-no-on-retry");
    }

    #[test]
    fn errors_name_the_hook_and_field() {
        let e = load_str(
            &GOOD.replace("{merchant_id}\",\"amount", "{merchant}\",\"amount"),
            "a.toml",
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(e.field, "hooks.create_order.body");
        assert!(e.problem.contains("unknown variable `{merchant}`"), "{e}");
        let e = load_str(
            &GOOD.replace("[hooks.run_settlement]\ncommand = \"echo {date}\"", ""),
            "a.toml",
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(e.field, "hooks.run_settlement");
        let e = load_str(
            &GOOD.replace("reconciliation_report]", "reconcile_report]"),
            "a.toml",
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(e.field, "hooks.reconcile_report");
        let e = load_str("[hooks.x", "a.toml", &BTreeMap::new()).unwrap_err();
        assert!(e.to_string().starts_with("a.toml: "), "{e}");
        // A hook variable is not visible in another hook.
        let e = load_str(
            &GOOD.replace("/rec/{date}", "/rec/{merchant_id}"),
            "a.toml",
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(e.field, "hooks.reconciliation_report.url");
    }

    #[test]
    fn shell_values_are_quoted() {
        let mut v = BTreeMap::new();
        v.insert("x".to_string(), "a'b; rm -rf /".to_string());
        assert_eq!(
            render("echo {x}", &v, true).unwrap(),
            r#"echo 'a'\''b; rm -rf /'"#
        );
        assert_eq!(placeholders(r#"{"a":{b}}"#).len(), 1);
    }
}
