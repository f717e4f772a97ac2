//! The cucumber `World` of the conformance suite: one scenario's sandbank, SUT and notes.
//!
//! Each scenario gets a fresh sandbank (in-process, on a free port, manual clock, the run's
//! seed) and, if the adapter says how, a freshly started SUT. Merchant ids and accounts are
//! derived from the seed and the scenario name, so they are fresh per scenario yet the same
//! on every run with that seed. Steps panic to fail; [`Scene::fail`] builds the message a
//! person needs: the invariant, the amounts, the seed, the journal lines, how to reproduce.

use super::adapter::SutProcess;
use super::checks::{Merchant, Order, Report, Violation};
use super::RunConfig;
use crate::journal::{EntryKind, Filter};
use crate::scenario::WorldSpec;
use crate::world::Sandbank;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One scenario's state.
#[derive(Debug, cucumber::World)]
#[world(init = Self::new)]
pub struct Scene {
    /// The run's configuration.
    pub cfg: Arc<RunConfig>,
    /// The scenario's name.
    pub name: String,
    /// The running sandbank, once a world step started it (stopped when dropped).
    pub running: Option<crate::Running>,
    /// Its base URL, `http://127.0.0.1:PORT`, once it runs.
    pub url: String,
    /// The running SUT, if the harness started one.
    pub sut: Option<SutProcess>,
    /// The address chosen for the SUT.
    pub sut_addr: String,
    /// Merchants onboarded, by label.
    pub merchants: Vec<Merchant>,
    /// Orders the SUT created.
    pub orders: Vec<Order>,
    /// Refunds the scenario asked the SUT for (`create_refund`), with the numbers it answered.
    pub refunds: Vec<super::refund_checks::RequestedRefund>,
    /// Reconciliation reports fetched, by (channel, date).
    pub reports: BTreeMap<(String, String), Report>,
    /// What the statement really was when each reconciliation ran, by (channel, date).
    pub recon_truth: BTreeMap<(String, String), super::recon_checks::ReconTruth>,
    /// The latest business day a settlement run completed for (the `run_settlement` hook
    /// answered): what is owed is what the payments up to that day brought in. Set by
    /// [`Scene::hook`], which concurrent steps call through a shared reference.
    pub settled_through: std::sync::Mutex<Option<chrono::NaiveDate>>,
    /// When the harness had the SUT stopped, as journal positions: closed windows, and the
    /// start of an open one (stopped or crashed, not started again yet).
    pub sut_down: super::ack_checks::SutDown,
    sut_down_since: Option<u64>,
    /// The invariants [`Scene::fail`] found broken, for the run's report pages.
    pub violations: std::sync::Mutex<Vec<Violation>>,
}

impl Scene {
    fn new() -> Scene {
        // Cucumber only builds worlds inside `harness::run`, which sets the configuration.
        let cfg = super::current_config()
            .expect("the conformance suite runs through sandbank::harness::run");
        Scene {
            cfg,
            name: String::new(),
            running: None,
            url: String::new(),
            sut: None,
            sut_addr: String::new(),
            merchants: Vec::new(),
            orders: Vec::new(),
            refunds: Vec::new(),
            reports: BTreeMap::new(),
            settled_through: std::sync::Mutex::new(None),
            recon_truth: BTreeMap::new(),
            sut_down: Default::default(),
            sut_down_since: None,
            violations: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The running world; a step that needs one before it exists is a feature-file error.
    pub fn sb(&self) -> &Arc<Sandbank> {
        self.running
            .as_ref()
            .expect("no sandbank world yet: start the scenario with `Given a sandbank world …`")
            .sandbank()
    }

    /// The base URL of the running sandbank.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Start a fresh sandbank on the default world with a manual clock at `start` and the
    /// run's seed.
    pub async fn start_world(&mut self, start: crate::clock::Instant) {
        self.start_world_from(WorldSpec::default_world(), start)
            .await;
    }

    /// Start a fresh sandbank on `spec` (e.g. a scenario file's world), with the scene's
    /// overrides: its name, the run's seed, a manual clock at `start`. The spec's banks,
    /// channels, fault rules and mismatches are kept.
    pub async fn start_world_from(&mut self, mut spec: WorldSpec, start: crate::clock::Instant) {
        spec.name = format!("conformance: {}", self.name);
        spec.seed = self.cfg.seed;
        spec.clock = crate::clock::ClockMode::Manual;
        spec.start = Some(start);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0 for sandbank");
        let running =
            crate::Running::start(listener, spec).expect("a bound listener has an address");
        self.url = running.url();
        self.running = Some(running);
    }

    /// The built-in template variables.
    pub fn builtins(&self) -> BTreeMap<String, String> {
        let mut v = BTreeMap::new();
        v.insert("sandbank_url".to_string(), self.url().to_string());
        v.insert("sut_addr".to_string(), self.sut_addr.clone());
        v.insert("seed".to_string(), self.cfg.seed.to_string());
        v.insert(
            "state_dir".to_string(),
            self.state_dir().display().to_string(),
        );
        v
    }

    /// A directory of the scenario's own where the SUT may keep its books across a restart
    /// (the built-in variable `state_dir`); created on first use, removed at teardown.
    pub fn state_dir(&self) -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "sandbank-sut-state-{}-{}",
            std::process::id(),
            self.fresh("state", false)
        ))
    }

    /// Start the SUT (if the adapter says how) on a free port.
    pub async fn start_sut(&mut self) {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
        self.sut_addr = probe.local_addr().expect("bound").to_string();
        drop(probe);
        self.spawn_sut().await;
    }

    /// Stop the SUT (TERM, then KILL after a grace period) and start it again through the
    /// adapter's `[start]`, on the same address and with the same `state_dir`: what a
    /// settlement system's own books must survive. Without `[start]` this is an error.
    pub async fn restart_sut(&mut self) {
        let Some(mut old) = self.sut.take() else {
            panic!("the harness did not start the settlement system (the adapter has no [start]), so it cannot restart it");
        };
        self.mark_sut_down();
        old.stop().await;
        let _ = std::fs::remove_file(&old.log);
        self.spawn_sut().await;
        self.mark_sut_up();
    }

    /// Note that the harness is about to stop (or kill) the SUT: from here until
    /// [`Scene::mark_sut_up`], a notification it could not answer is not its failure.
    pub fn mark_sut_down(&mut self) {
        if self.sut_down_since.is_none() {
            let next = self.sb().lock().core.journal.last_seq() + 1;
            self.sut_down_since = Some(next);
        }
    }

    /// Note that the SUT is running again (its readiness URL answered).
    fn mark_sut_up(&mut self) {
        if let Some(from) = self.sut_down_since.take() {
            let to = self.sb().lock().core.journal.last_seq();
            self.sut_down.0.push((from, to));
        }
    }

    /// The windows the SUT was stopped in, an open one running to the end of the journal.
    pub fn sut_down_windows(&self) -> super::ack_checks::SutDown {
        let mut d = self.sut_down.clone();
        if let Some(from) = self.sut_down_since {
            d.0.push((from, u64::MAX));
        }
        d
    }

    async fn spawn_sut(&mut self) {
        let _ = std::fs::create_dir_all(self.state_dir());
        let vars = self.cfg.adapter.vars_with(&self.builtins(), &[]);
        let log = std::env::temp_dir().join(format!(
            "sandbank-sut-{}-{}.log",
            std::process::id(),
            self.sut_addr.replace([':', '.'], "-")
        ));
        match self.cfg.adapter.start(&vars, log).await {
            Ok(p) => self.sut = p,
            Err(e) => panic!("could not start the settlement system under test: {e}"),
        }
    }

    /// Call a hook; a failing hook fails the step with the hook's request and answer.
    pub async fn hook(&self, name: &str, own: &[(&str, String)]) -> String {
        match self.try_hook(name, own).await {
            Ok(out) => out,
            Err(e) => self.hook_failed(&e),
        }
    }

    /// Fail the step with a hook's failure: its request and answer, the SUT's log, how to
    /// reproduce.
    pub fn hook_failed(&self, e: &super::adapter::HookError) -> ! {
        let log = self
            .sut
            .as_ref()
            .map(|s| format!("\n  SUT log (last lines):\n{}", s.log_tail()))
            .unwrap_or_default();
        panic!("{e}{log}\n{}", self.reproduce_line())
    }

    /// Call a hook and hand back its failure instead of failing the step (for a step that
    /// judges what a refusal means).
    pub async fn try_hook(
        &self,
        name: &str,
        own: &[(&str, String)],
    ) -> Result<String, super::adapter::HookError> {
        let vars = self.cfg.adapter.vars_with(&self.builtins(), own);
        let out = self.cfg.adapter.call(name, &vars).await?;
        if name == "run_settlement" {
            self.settled(own);
        }
        Ok(out)
    }

    /// Note that a settlement run for the `date` among `own` completed.
    fn settled(&self, own: &[(&str, String)]) {
        let day = own
            .iter()
            .find(|(k, _)| *k == "date")
            .and_then(|(_, v)| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").ok());
        let mut through = self
            .settled_through
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if day > *through {
            *through = day;
        }
    }

    /// The latest business day a settlement run completed for, if any.
    pub fn settled_through(&self) -> Option<chrono::NaiveDate> {
        *self
            .settled_through
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh, seed-determined id for `label`: the same on every run with this seed.
    pub fn fresh(&self, label: &str, digits_only: bool) -> String {
        // FNV-1a over seed, scenario and label: stable across runs and platforms.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in self
            .cfg
            .seed
            .to_le_bytes()
            .iter()
            .chain(self.name.as_bytes())
            .chain(label.as_bytes())
        {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100000001b3);
        }
        if digits_only {
            format!("{:015}", h % 1_000_000_000_000_000)
        } else {
            format!("{label}{:08x}", h as u32)
        }
    }

    /// Each order's refund numbers as its channel holds them, by order number.
    pub fn refund_numbers(&self) -> BTreeMap<String, Vec<String>> {
        let st = self.sb().lock();
        self.orders
            .iter()
            .map(|o| {
                let nos = st
                    .order(&o.channel, &o.out_trade_no)
                    .map(|v| super::refund_checks::channel_refund_numbers(&v.detail))
                    .unwrap_or_default();
                (o.out_trade_no.clone(), nos)
            })
            .collect()
    }

    /// Each merchant's position (owed and paid) from the ledger, under the adapter's refund
    /// policy.
    pub fn positions(&self) -> Vec<super::checks::Position> {
        let netted = match self.cfg.adapter.refund_policy {
            super::adapter::RefundPolicy::Netted => Some(self.refund_numbers()),
            super::adapter::RefundPolicy::PreDeposit => None,
        };
        super::checks::positions_netting(
            &self.sb().lock().core.ledger,
            &self.merchants,
            &self.orders,
            self.settled_through(),
            netted.as_ref(),
        )
    }

    /// The merchant with `label`.
    pub fn merchant(&self, label: &str) -> &Merchant {
        self.merchants
            .iter()
            .find(|m| m.label == label)
            .unwrap_or_else(|| panic!("merchant `{label}` was not onboarded in this scenario"))
    }

    fn reproduce_line(&self) -> String {
        format!("  reproduce: {}", self.reproduce_command())
    }

    /// The command that runs this scenario alone again, with the run's seed and variables.
    pub fn reproduce_command(&self) -> String {
        format!(
            "{} --name '^{}$'",
            self.cfg.reproduce,
            self.name.replace('\'', ".")
        )
    }

    /// Fail the step with `violations`: each invariant with its amounts, then the seed,
    /// the journal lines behind it, and the command that reproduces it.
    pub fn fail(&self, violations: &[Violation], payouts: bool) -> ! {
        self.violations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(violations);
        let mut msg = String::new();
        for v in violations {
            msg.push_str(&format!(
                "invariant violated: {}\n  {}\n",
                v.invariant, v.detail
            ));
        }
        msg.push_str(&format!("  seed: {}\n", self.cfg.seed));
        let st = self.sb().lock();
        let refs: Vec<&String> = violations
            .iter()
            .flat_map(|v| v.references.iter())
            .collect();
        let banks: Vec<&str> = self.merchants.iter().map(|m| m.bank.as_str()).collect();
        let lines: Vec<String> = st
            .core
            .journal
            .select(&Filter::default())
            .into_iter()
            .filter(|e| {
                let about_ref = refs.iter().any(|r| {
                    e.reference.as_deref() == Some(r.as_str()) || e.message.contains(r.as_str())
                });
                let about_payouts =
                    payouts && banks.contains(&&*e.instance) && e.kind != EntryKind::World;
                (about_ref || about_payouts) || (payouts && e.kind == EntryKind::Fault)
            })
            .map(|e| format!("    {}", e.line()))
            .collect();
        drop(st);
        msg.push_str("  how it happened (sandbank journal):\n");
        let skip = lines.len().saturating_sub(40);
        if skip > 0 {
            msg.push_str(&format!("    … {skip} earlier lines\n"));
        }
        for l in &lines[skip..] {
            msg.push_str(l);
            msg.push('\n');
        }
        msg.push_str(&format!(
            "  full journal: {}/_sandbank/journal?format=text (while the scenario runs)\n",
            self.url()
        ));
        if let Some(sut) = &self.sut {
            msg.push_str(&format!(
                "  the settlement system's log (kept at {}), last lines:\n{}",
                sut.log.display(),
                sut.log_tail()
            ));
        }
        msg.push_str(&self.reproduce_line());
        panic!("{msg}")
    }

    /// Stop the SUT and the sandbank. The SUT's log is removed when the scenario passed and
    /// kept when it failed; the kept log's path is returned.
    pub async fn teardown(&mut self, failed: bool) -> Option<std::path::PathBuf> {
        let mut kept = None;
        if let Some(mut sut) = self.sut.take() {
            sut.stop().await;
            if failed {
                kept = Some(sut.log.clone());
            } else {
                let _ = std::fs::remove_file(&sut.log);
            }
        }
        let _ = std::fs::remove_dir_all(self.state_dir());
        if let Some(r) = self.running.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), r.stop()).await;
        }
        kept
    }
}
