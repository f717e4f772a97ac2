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
//! - [`checks`] — the invariants as pure functions of the ledger and the SUT's report.
//!
//! [`run`] is what `sandbank conform` and `tests/conformance.rs` call.

pub mod adapter;
pub mod checks;
pub mod payout_checks;
pub mod scene;
pub mod steps;
pub mod sut_process;

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
    /// The command line that reproduces this run, printed with every failure.
    pub reproduce: String,
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
static RUN_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) fn current_config() -> Option<Arc<RunConfig>> {
    CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Run the features against the SUT. Scenarios run one at a time, each with a fresh
/// sandbank and a fresh SUT; cucumber's own report goes to stdout.
pub async fn run(cfg: RunConfig) -> anyhow::Result<ConformReport> {
    let _guard = RUN_LOCK.lock().await;
    let tags = match &cfg.tags {
        Some(t) => Some(
            t.parse::<cucumber::gherkin::tagexpr::TagOperation>()
                .map_err(|e| anyhow::anyhow!("bad --tags expression `{t}`: {e}"))?,
        ),
        None => None,
    };
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(cfg.clone()));
    OUTCOMES.lock().unwrap_or_else(|p| p.into_inner()).clear();
    let junit_out: Box<dyn std::io::Write> = match &cfg.junit {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
        ),
        None => Box::new(std::io::sink()),
    };
    let re_filter = match &cfg.name {
        Some(n) => Some(
            regex::Regex::new(n).map_err(|e| anyhow::anyhow!("bad --name pattern `{n}`: {e}"))?,
        ),
        None => None,
    };
    let opts: cucumber::cli::Opts<_, _, _, cucumber::cli::Empty> = cucumber::cli::Opts {
        tags_filter: tags,
        re_filter,
        ..Default::default()
    };
    let writer = scene::Scene::cucumber()
        .max_concurrent_scenarios(1)
        .before(|_feature, _rule, scenario, world| {
            async move {
                world.name = scenario.name.clone();
            }
            .boxed_local()
        })
        .after(|feature, _rule, scenario, finished, world| {
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
            async move {
                if let Some(w) = world {
                    w.teardown().await;
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
                .normalized(),
        )
        .fail_on_skipped()
        .with_cli(opts)
        .run(cfg.features.clone())
        .await;
    use cucumber::writer::Stats as _;
    let report = ConformReport {
        scenarios: OUTCOMES.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        failed_steps: writer.failed_steps(),
        parsing_errors: writer.parsing_errors(),
        skipped_steps: writer.skipped_steps(),
    };
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
