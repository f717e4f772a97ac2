//! The whole conformance suite against the reference settlement system, timed: what a
//! payment team's CI pays for a run. `cargo bench --bench conformance` (release build of
//! sandbank and of the reference system); prints the wall time of a run at concurrency 1
//! and at the number of cores, against the goal of 30 s on 2 cores.
//!
//! The suite must pass: a benchmark of a failing run would measure the wrong thing.

#[path = "../tests/support/reference_sut.rs"]
mod reference_sut;

use sandbank::harness::{adapter, run, RunConfig};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// The goal the suite's wall time is held to on a 2-core machine.
const GOAL_SECS: f64 = 30.0;

fn config(concurrency: usize) -> RunConfig {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut vars = BTreeMap::new();
    let bin = reference_sut::reference_sut().display().to_string();
    vars.insert("sut_bin".to_string(), adapter::shell_quote(&bin));
    vars.insert("bug".to_string(), "none".to_string());
    let adapter = adapter::load(&root.join("examples/reference-sut/sut.toml"), &vars)
        .unwrap_or_else(|e| panic!("{e}"));
    RunConfig {
        adapter,
        seed: 42,
        features: root.join("features"),
        tags: None,
        name: None,
        junit: None,
        json: None,
        concurrency,
        shard: None,
        report: None,
        reproduce: "cargo bench --bench conformance".into(),
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // Build first, so the timings measure the suite, not the compiler.
    let _ = reference_sut::reference_sut();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut levels = vec![1, cores.max(2)];
    levels.dedup();
    for concurrency in levels {
        let started = Instant::now();
        let report = rt
            .block_on(run(config(concurrency)))
            .expect("the run starts");
        let secs = started.elapsed().as_secs_f64();
        assert!(
            report.passed(),
            "the suite must pass against the reference system to be timed: {:#?}",
            report.failed()
        );
        println!(
            "conformance suite: {} scenarios at concurrency {concurrency} on {cores} cores: {secs:.1} s wall (goal ≤ {GOAL_SECS} s on 2 cores)",
            report.scenarios.len()
        );
    }
}
