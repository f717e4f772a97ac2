//! The SUT adapter: how the harness starts and talks to a settlement system under test.
//!
//! A small TOML file (format in `docs/sut-adapter.md`): an optional `[start]` command,
//! `[vars]`, and five hooks (a sixth, `create_refund`, optional), each an HTTP request or a shell command with `{name}`
//! templates. Read in two stages like scenarios: [`RawAdapter`] as parsed, [`Adapter`]
//! validated — every template is checked against the variables it can see, so a typo is
//! reported when the file is loaded, naming the hook and field, not half-way through a run.
//!
//! This module is the public face; the work is split by job so each part can be read and
//! tested alone:
//!
//! - `config` — the file, raw and validated ([`load`], [`Adapter`], [`HOOKS`]).
//! - `template` — the `{name}` language ([`render`], [`placeholders`], [`shell_quote`]).
//! - `hooks` — calling a hook over HTTP or `sh` ([`Adapter::call`], [`HookError`]).
//! - [`sut_process`](super::sut_process) — spawning, readiness and stopping of the SUT.
//!
//! Everything is re-exported here, so callers keep writing `adapter::load` and
//! `adapter::SutProcess` without knowing the split. [`Adapter::start`] lives here because it
//! is the one seam between the adapter and the process: it renders the `[start]` templates
//! and hands the finished command and URL to [`SutProcess`].

mod config;
mod hooks;
mod template;

pub use super::sut_process::SutProcess;
pub use config::{
    load, load_str, Adapter, AdapterError, Hook, HookAction, RawAdapter, RawHook, RawStart,
    RefundPolicy, Start, HOOKS, HOOK_TIMEOUT, OPTIONAL_HOOKS, READY_TIMEOUT,
};
pub use hooks::HookError;
pub use template::{placeholders, render, shell_quote, BUILTIN_VARS};

use std::collections::BTreeMap;
use std::path::PathBuf;

impl Adapter {
    /// The variables for a call: the file's `[vars]`, the built-ins, the hook's own. Later
    /// sources win, so a hook's own variable hides a file variable of the same name.
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

    /// Start the SUT if the adapter says how, with its output in `log`; wait until it is
    /// ready. `Ok(None)` means the adapter has no `[start]` (the SUT is already running).
    pub async fn start(
        &self,
        vars: &BTreeMap<String, String>,
        log: PathBuf,
    ) -> Result<Option<SutProcess>, String> {
        let Some(start) = &self.start else {
            return Ok(None);
        };
        let cmd = render(&start.command, vars, true)?;
        let mut sut = SutProcess::spawn(cmd, log)?;
        if let Some(ready) = &start.ready {
            let url = render(ready, vars, false)?;
            sut.wait_ready(&url, start.ready_timeout).await?;
        }
        Ok(Some(sut))
    }
}
