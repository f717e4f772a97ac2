//! The conformance suite proves itself: it passes against the reference settlement system
//! and fails against a deliberately broken variant, on the scenario that targets the bug,
//! with a message that names the invariant, the amounts, the seed and the journal lines.
//!
//! `harness = false`: this is a plain program. It runs `features/` twice through
//! `sandbank::harness::run` with the adapter `examples/reference-sut/sut.toml`, pointing its
//! `sut_bin` at the reference SUT example, which it builds itself first (`cargo build
//! --example reference-sut`, same profile and target directory as this test), so that any
//! filtered `cargo test` works, not only the plain one that happens to build examples.

#[path = "support/reference_sut.rs"]
mod reference_sut;

use reference_sut::reference_sut;
use sandbank::harness::{adapter, run, ConformReport, RunConfig};
use std::collections::BTreeMap;
use std::path::Path;

const SEED: u64 = 42;

fn config(bug: &str) -> RunConfig {
    config_with("examples/reference-sut/sut.toml", bug, None)
}

fn config_with(adapter_file: &str, bug: &str, tags: Option<&str>) -> RunConfig {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut vars = BTreeMap::new();
    // `sut_bin` is command text, spliced into the start command unquoted: quote the path.
    let sut_bin = adapter::shell_quote(&reference_sut().display().to_string());
    vars.insert("sut_bin".to_string(), sut_bin);
    vars.insert("bug".to_string(), bug.to_string());
    let file = root.join(adapter_file);
    let adapter = adapter::load(&file, &vars).unwrap_or_else(|e| panic!("{e}"));
    RunConfig {
        adapter,
        seed: SEED,
        features: root.join("features"),
        tags: tags.map(str::to_string),
        name: None,
        junit: None,
        json: None,
        concurrency: 2,
        shard: None,
        reproduce: format!("sandbank conform --sut {adapter_file} --seed {SEED} --var bug={bug}"),
    }
}

struct Checks {
    passed: usize,
    failed: usize,
}

impl Checks {
    fn check(&mut self, what: &str, ok: bool, detail: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
            println!("ok   — {what}");
        } else {
            self.failed += 1;
            println!("FAIL — {what}\n{}", detail());
        }
    }
}

fn summary(r: &ConformReport) -> String {
    r.scenarios
        .iter()
        .map(|s| {
            format!(
                "  {}: {}\n",
                s.scenario,
                s.failure.as_deref().unwrap_or("passed")
            )
        })
        .collect()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut c = Checks {
        passed: 0,
        failed: 0,
    };

    // Arrange/Act: the whole suite against the correct reference system.
    let good = rt.block_on(run(config("none"))).expect("the run starts");
    c.check(
        "the suite passes against the reference settlement system",
        good.passed() && good.scenarios.len() >= 3,
        || summary(&good),
    );

    // Act: the same suite against the system that re-numbers a payout after a timeout.
    let bad = rt
        .block_on(run(config("new-order-no-on-retry")))
        .expect("the run starts");
    let mut failed: Vec<&str> = bad.failed().iter().map(|s| s.scenario.as_str()).collect();
    failed.sort();
    c.check(
        "the suite fails against --bug new-order-no-on-retry, on the lost-payout-reply scenarios only",
        failed
            == [
                "A payout that times out after the bank executed it is paid exactly once",
                "A payout whose connection is reset after the bank executed it is paid exactly once",
            ],
        || summary(&bad),
    );
    let msg = bad
        .failed()
        .iter()
        .find(|s| s.scenario.contains("times out"))
        .and_then(|s| s.failure.clone())
        .unwrap_or_default();
    for (what, needle) in [
        ("names the invariant", "invariant violated: never double-pays"),
        ("gives the amounts", "received 500.00 CNY but is owed 250.00 CNY: overpaid by 250.00 CNY"),
        ("gives the seed", "seed: 42"),
        ("shows the lost reply in the journal", "no reply: held until the client gave up (the effect was applied)"),
        ("shows the fault that fired", "commit, then lose the reply (hang)"),
        ("says how to reproduce", "reproduce: sandbank conform --sut examples/reference-sut/sut.toml --seed 42 --var bug=new-order-no-on-retry"),
    ] {
        c.check(&format!("the failure message {what}"), msg.contains(needle), || format!("  missing `{needle}` in:\n{msg}"));
    }

    // Act: a system that books every copy of a duplicated notification.
    let bad = rt
        .block_on(run(config("book-every-notification")))
        .expect("the run starts");
    let failed: Vec<&str> = bad.failed().iter().map(|s| s.scenario.as_str()).collect();
    c.check(
        "the suite fails against --bug book-every-notification, on the duplicated-notification scenario only",
        failed == ["A duplicated payment notification is booked once"],
        || summary(&bad),
    );
    let msg = bad
        .failed()
        .first()
        .and_then(|s| s.failure.clone())
        .unwrap_or_default();
    c.check(
        "… naming the invariant and the amounts",
        msg.contains("invariant violated: every payment booked exactly once")
            && msg.contains("booked 4 payment(s) totalling 352.00"),
        || msg.clone(),
    );

    // Act: a system whose report hides the discrepancies it found (a shell-command hook).
    let bad = rt
        .block_on(run(config_with(
            "tests/adapters/hides-discrepancies.toml",
            "none",
            Some("@reconciliation"),
        )))
        .expect("the run starts");
    let msgs: Vec<String> = bad
        .failed()
        .iter()
        .filter_map(|s| s.failure.clone())
        .collect();
    c.check(
        "the suite fails a report that hides real discrepancies, in both reconciliation scenarios",
        bad.scenarios.len() == 2 && msgs.len() == 2,
        || summary(&bad),
    );
    c.check(
        "… naming what was real but not reported",
        msgs.iter().all(|m| {
            m.contains("invariant violated: always reconciles")
                && m.contains("real but not reported: ")
        }) && msgs.iter().any(|m| m.contains("missing_in_statement"))
            && msgs
                .iter()
                .any(|m| m.contains("amount_mismatch") && m.contains("duplicate_in_statement")),
        || msgs.join("\n---\n"),
    );

    println!("\n{} passed, {} failed", c.passed, c.failed);
    if c.failed > 0 {
        std::process::exit(1);
    }
}
