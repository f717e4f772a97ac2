//! The conformance harness: cucumber scenarios in `features/` drive a settlement system
//! under test (SUT) through sandbank's misbehaving world and check, from sandbank's own
//! ledger, that it never double-pays and always reconciles.
//!
//! - [`adapter`] — the adapter file: its config, the template language, the hooks (HTTP or
//!   shell) that talk to the SUT.
//! - [`sut_process`] — the SUT as a child process: spawn, readiness, logs, process-group kill.
//! - [`scene`] — the cucumber `World`: one fresh sandbank (in-process, free port) and one
//!   fresh SUT per scenario; failure messages with seed, amounts and journal lines.
//! - [`steps`] — step definitions, one file per domain concept.
//! - [`library`] — the step library with an example of each (`sandbank steps`).
//! - [`junit`] — the JUnit report amended with each test case's `classname` (its feature).
//! - [`report`] — `--report DIR`: a self-contained HTML page per scenario, with its timeline.
//! - [`checks`] — the invariants as pure functions of the ledger and the SUT's report.
//! - [`recon_checks`] — the reconciliation report's totals and discrepancy amounts, against
//!   the statement as it was served when the SUT reconciled.
//! - [`ack_checks`] — every copy of every notification acknowledged (the copies the SUT could
//!   not answer while the harness had it stopped excepted).
//! - [`notify_checks`] — forgeries refused, paid per business day.
//! - [`refund_checks`] — refunds reach the customer exactly once, never beyond the payment.
//!
//! [`run`] is what `sandbank conform` and `tests/conformance.rs` call.

pub mod ack_checks;
pub mod adapter;
pub mod checks;
pub mod junit;
pub mod library;
pub mod notify_checks;
pub mod payout_checks;
pub mod recon_checks;
pub mod refund_checks;
pub mod report;
pub mod scene;
pub mod steps;
pub mod sut_process;

use cucumber::tag::Ext as _;
use cucumber::{writer, World as _, WriterExt as _};
use futures::FutureExt as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Everything one conformance run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The validated adapter.
    pub adapter: adapter::Adapter,
    /// Seed of every scenario's world.
    pub seed: u64,
    /// The features directory (or one file).
    pub features: PathBuf,
    /// Tag expression filtering scenarios, e.g. `@payout and not @slow`.
    pub tags: Option<String>,
    /// Regular expression selecting scenarios by name.
    pub name: Option<String>,
    /// Where to write a JUnit XML report.
    pub junit: Option<PathBuf>,
    /// Where to write a cucumber JSON report.
    pub json: Option<PathBuf>,
    /// How many scenarios run at once (each has its own sandbank and SUT), at most
    /// [`MAX_CONCURRENCY`].
    pub concurrency: usize,
    /// Run only this share of the scenarios.
    pub shard: Option<Shard>,
    /// The command line that reproduces this run, printed with every failure.
    pub reproduce: String,
    /// Where to write an HTML page per scenario (and `index.html`): `--report DIR`.
    pub report: Option<PathBuf>,
}

/// Most scenarios run at once: each holds a sandbank, a SUT process and their sockets, and
/// the machines this runs on have a few cores; 64 is far past the point of no gain.
pub const MAX_CONCURRENCY: usize = 64;

/// Shard `index` of `count` (1-based): the scenarios whose stable hash of feature and name
/// falls to it, so that `count` runs together run every scenario exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, from 1.
    pub index: u32,
    /// How many shards.
    pub count: u32,
}

impl Shard {
    /// Parse `I/N` with 1 ≤ I ≤ N ≤ 1000.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("--shard: `{text}` is not I/N with 1 ≤ I ≤ N ≤ 1000 (e.g. 2/4)");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<u32>().map_err(|_| bad())?,
            n.trim().parse::<u32>().map_err(|_| bad())?,
        );
        if index == 0 || count == 0 || index > count || count > 1000 {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// True when the scenario `scenario` of feature `feature` belongs to this shard. The hash
    /// (FNV-1a) is fixed here, so the same names fall to the same shard on every machine.
    pub fn holds(&self, feature: &str, scenario: &str) -> bool {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in feature.bytes().chain([0]).chain(scenario.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h % u64::from(self.count) == u64::from(self.index - 1)
    }
}

/// How one scenario ended.
#[derive(Debug, Clone)]
pub struct ScenarioOutcome {
    /// Feature name.
    pub feature: String,
    /// Scenario name.
    pub scenario: String,
    /// `None` if it passed; else the failure message.
    pub failure: Option<String>,
}

/// What a run found.
#[derive(Debug, Clone, Default)]
pub struct ConformReport {
    /// Each scenario that ran.
    pub scenarios: Vec<ScenarioOutcome>,
    /// Steps that failed (cucumber's count).
    pub failed_steps: usize,
    /// Feature files that did not parse.
    pub parsing_errors: usize,
    /// Steps that matched no definition (a failure: `fail_on_skipped`).
    pub skipped_steps: usize,
}

impl ConformReport {
    /// True when every scenario passed and nothing failed to parse.
    pub fn passed(&self) -> bool {
        self.failed_steps == 0
            && self.parsing_errors == 0
            && self.scenarios.iter().all(|s| s.failure.is_none())
            && !self.scenarios.is_empty()
    }
    /// Names of failed scenarios.
    pub fn failed(&self) -> Vec<&ScenarioOutcome> {
        self.scenarios
            .iter()
            .filter(|s| s.failure.is_some())
            .collect()
    }
}

/// The configuration of the run in progress. Cucumber builds each scenario's world with a
/// zero-argument constructor, so the run's configuration reaches it through here. Runs in
/// one process are sequential (`run` holds [`RUN_LOCK`]).
static CURRENT: Mutex<Option<Arc<RunConfig>>> = Mutex::new(None);
static OUTCOMES: Mutex<Vec<ScenarioOutcome>> = Mutex::new(Vec::new());
/// The report pages written so far in this run (without their timelines), for the index.
static PAGES: Mutex<Vec<(String, report::ScenarioPage)>> = Mutex::new(Vec::new());
static RUN_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) fn current_config() -> Option<Arc<RunConfig>> {
    CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Run the features against the SUT. Scenarios run `concurrency` at a time, each with a
/// fresh sandbank and a fresh SUT; cucumber's own report goes to stdout.
pub async fn run(cfg: RunConfig) -> anyhow::Result<ConformReport> {
    let _guard = RUN_LOCK.lock().await;
    let tags = match &cfg.tags {
        Some(t) => Some(
            t.parse::<cucumber::gherkin::tagexpr::TagOperation>()
                .map_err(|e| anyhow::anyhow!("bad --tags expression `{t}`: {e}"))?,
        ),
        None => None,
    };
    if !cfg.features.exists() {
        anyhow::bail!(
            "no features at {} (the current directory is {}): run from the sandbank checkout or give --features",
            cfg.features.display(),
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "unknown".into())
        );
    }
    if !(1..=MAX_CONCURRENCY).contains(&cfg.concurrency) {
        anyhow::bail!("--concurrency must be between 1 and {MAX_CONCURRENCY}");
    }
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(cfg.clone()));
    OUTCOMES.lock().unwrap_or_else(|p| p.into_inner()).clear();
    PAGES.lock().unwrap_or_else(|p| p.into_inner()).clear();
    if let Some(dir) = &cfg.report {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("--report: cannot create {}: {e}", dir.display()))?;
    }
    let report_dir = cfg.report.clone();
    let junit_out: Box<dyn std::io::Write> = match &cfg.junit {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
        ),
        None => Box::new(std::io::sink()),
    };
    let json_out: Box<dyn std::io::Write> = match &cfg.json {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
        ),
        None => Box::new(std::io::sink()),
    };
    let shard = cfg.shard;
    let re_filter = match &cfg.name {
        Some(n) => Some(
            regex::Regex::new(n).map_err(|e| anyhow::anyhow!("bad --name pattern `{n}`: {e}"))?,
        ),
        None => None,
    };
    // Tags, name and shard are combined in one filter below: cucumber's own CLI filters
    // would replace a custom filter rather than add to it.
    let opts: cucumber::cli::Opts<_, _, _, cucumber::cli::Empty> = Default::default();
    let writer = scene::Scene::cucumber()
        .max_concurrent_scenarios(cfg.concurrency)
        .before(|_feature, _rule, scenario, world| {
            async move {
                world.name = scenario.name.clone();
            }
            .boxed_local()
        })
        .after(move |feature, _rule, scenario, finished, world| {
            let feature = feature.name.clone();
            let scenario_name = scenario.name.clone();
            let failure = match finished {
                cucumber::event::ScenarioFinished::StepFailed(_, _, err) => {
                    Some(step_error_text(err))
                }
                cucumber::event::ScenarioFinished::BeforeHookFailed(_) => {
                    Some("the before hook failed".to_string())
                }
                _ => None,
            };
            let report_dir = report_dir.clone();
            async move {
                let mut failure = failure;
                // The page's facts are taken before the world stops.
                let page = match (&report_dir, &world) {
                    (Some(_), Some(w)) => Some(report::ScenarioPage {
                        feature: feature.clone(),
                        scenario: scenario_name.clone(),
                        failure: None,
                        violations: w
                            .violations
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .clone(),
                        reproduce: w.reproduce_command(),
                        timeline: w
                            .running
                            .as_ref()
                            .map(|r| report::timeline_of(r.sandbank())),
                    }),
                    _ => None,
                };
                if let Some(w) = world {
                    if let Some(log) = w.teardown(failure.is_some()).await {
                        let note =
                            format!("the settlement system's log is kept at {}", log.display());
                        println!("      {note}");
                        if let Some(f) = failure.as_mut() {
                            f.push_str(&format!("\n  {note}"));
                        }
                    }
                }
                if let (Some(dir), Some(mut page)) = (&report_dir, page) {
                    page.failure = failure.clone();
                    match report::write_page(dir, &page) {
                        Ok(path) => {
                            if page.failure.is_some() {
                                println!("      report: {}", path.display());
                            }
                            page.timeline = None;
                            let file = report::file_name(&page.feature, &page.scenario);
                            PAGES
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push((file, page));
                        }
                        Err(e) => eprintln!("--report: cannot write into {}: {e}", dir.display()),
                    }
                }
                OUTCOMES
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(ScenarioOutcome {
                        feature,
                        scenario: scenario_name,
                        failure,
                    });
            }
            .boxed_local()
        })
        .with_writer(
            writer::Basic::raw(std::io::stdout(), writer::Coloring::Auto, 0)
                .summarized()
                .tee::<scene::Scene, _>(writer::JUnit::for_tee(junit_out, 0))
                .tee::<scene::Scene, _>(writer::Json::for_tee(json_out))
                .normalized(),
        )
        .fail_on_skipped()
        .with_cli(opts)
        .filter_run(cfg.features.clone(), move |feature, rule, scenario| {
            let tagged = feature
                .tags
                .iter()
                .chain(rule.iter().flat_map(|r| &r.tags))
                .chain(scenario.tags.iter());
            tags.as_ref().is_none_or(|t| t.eval(tagged))
                && re_filter
                    .as_ref()
                    .is_none_or(|re| re.is_match(&scenario.name))
                && shard.is_none_or(|s| s.holds(&feature.name, &scenario.name))
        })
        .await;
    use cucumber::writer::Stats as _;
    let report = ConformReport {
        scenarios: OUTCOMES.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        failed_steps: writer.failed_steps(),
        parsing_errors: writer.parsing_errors(),
        skipped_steps: writer.skipped_steps(),
    };
    // The writers own the report files; close them before the JUnit file is amended.
    drop(writer);
    if let Some(path) = &cfg.junit {
        junit::add_classnames(path)
            .map_err(|e| anyhow::anyhow!("cannot amend {}: {e}", path.display()))?;
    }
    if let Some(dir) = &cfg.report {
        let pages = std::mem::take(&mut *PAGES.lock().unwrap_or_else(|p| p.into_inner()));
        std::fs::write(dir.join("index.html"), report::index(&pages))
            .map_err(|e| anyhow::anyhow!("--report: cannot write {}: {e}", dir.display()))?;
    }
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = None;
    Ok(report)
}

fn step_error_text(err: &cucumber::event::StepError) -> String {
    match err {
        cucumber::event::StepError::Panic(info) => info
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "step panicked".into()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_deal_out_every_scenario_exactly_once() {
        let names: Vec<String> = (0..200).map(|i| format!("scenario {i}")).collect();
        for count in [1, 2, 3, 7] {
            let shards: Vec<Shard> = (1..=count)
                .map(|i| Shard::parse(&format!("{i}/{count}")).unwrap())
                .collect();
            for name in &names {
                let holders = shards.iter().filter(|s| s.holds("Feature", name)).count();
                assert_eq!(holders, 1, "`{name}` in {count} shards");
            }
            // Every shard of a few gets work from two hundred names.
            if count <= 3 {
                for s in &shards {
                    assert!(
                        names.iter().any(|n| s.holds("Feature", n)),
                        "{s:?} is empty"
                    );
                }
            }
        }
    }

    #[test]
    fn shard_specs_are_checked() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "2", "a/b", "1/0", "1/1001", ""] {
            assert!(Shard::parse(bad).is_err(), "`{bad}` accepted");
        }
    }
}
