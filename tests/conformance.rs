//! The conformance suite proves itself: it passes against the reference settlement system
//! and fails against each deliberately broken variant ([`KILLS`]), on the scenarios that
//! target the bug, with a message that names the invariant, the amounts, the seed and the
//! journal lines.
//!
//! `harness = false`: this is a plain program. It runs `features/` through
//! `sandbank::harness::run` with the adapter `examples/reference-sut/sut.toml`, pointing its
//! `sut_bin` at the reference SUT example, which it builds itself first (`cargo build
//! --example reference-sut`, same profile and target directory as this test), so that any
//! filtered `cargo test` works, not only the plain one that happens to build examples.

use sandbank::harness::{adapter, run, ConformReport, RunConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const SEED: u64 = 42;

/// The reference SUT binary, built on first use by the cargo that runs this test (`CARGO`).
///
/// `cargo test` releases its build-directory lock before it runs test binaries, so the nested
/// build does not wait on it; when everything is fresh it only checks and takes a second.
fn reference_sut() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(build_reference_sut)
}

fn build_reference_sut() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows where it runs from");
    // Test binaries live in <target-dir>/<profile-dir>/deps/conformance-HASH.
    let profile_dir = exe
        .parent()
        .filter(|deps| deps.file_name().is_some_and(|n| n == "deps"))
        .and_then(Path::parent);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--example", "reference-sut"])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        // JSON on stdout says where the binary is; warnings and errors go, rendered, to stderr.
        .arg("--message-format=json-render-diagnostics");
    // The same profile as this test: target/debug is dev (or test), target/release is release
    // (or bench), any other directory is the custom profile of that name.
    match profile_dir
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
    {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(custom) => {
            cmd.args(["--profile", custom]);
        }
        None if cfg!(debug_assertions) => {}
        None => {
            cmd.arg("--release");
        }
    }
    // The same target directory: CARGO_TARGET_DIR if set (and absolute: a relative one was
    // relative to wherever `cargo test` was started), else the one this test was built in.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .or_else(|| profile_dir.and_then(Path::parent).map(Path::to_path_buf));
    if let Some(dir) = &target_dir {
        cmd.arg("--target-dir").arg(dir);
    }
    let shown = format!(
        "{} {}",
        Path::new(&cargo).display(),
        cmd.get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("building the reference SUT: {shown}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{shown}`: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "building the reference SUT failed ({}): `{shown}`\n{stderr}",
        out.status
    );
    // The artifact message of the example names its executable.
    let bin = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "reference-sut")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| {
            panic!("`{shown}` succeeded but named no reference-sut executable\n{stderr}")
        });
    assert!(
        bin.exists(),
        "`{shown}` reported {} but it does not exist",
        bin.display()
    );
    bin
}

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
        reproduce: format!("sandbank conform --sut {adapter_file} --seed {SEED} --var bug={bug}"),
    }
}

const DOUBLE_PAY: &str = "invariant violated: never double-pays";
const REPAY: &str = "invariant violated: no automatic re-pay after a FAILED or RETURNED payout";

/// The kill matrix: each deliberate bug of the reference system, the tag of the scenario(s)
/// aimed at it (every scenario with that tag must fail), and what each failure message must
/// say. A bug may fail other scenarios too; only its own are required.
const KILLS: &[(&str, &str, &[&str])] = &[
    (
        "new-order-no-on-retry",
        "@payout-timeout",
        &[
            DOUBLE_PAY,
            "received 500.00 CNY but is owed 250.00 CNY: overpaid by 250.00 CNY",
            "seed: 42",
            "no reply: held until the client gave up (the effect was applied)",
            "commit, then lose the reply (hang)",
            "reproduce: sandbank conform --sut examples/reference-sut/sut.toml --seed 42 --var bug=new-order-no-on-retry",
        ],
    ),
    (
        "book-every-notification",
        "@notifications",
        &[
            "invariant violated: every payment booked exactly once",
            "booked 4 payment(s) totalling 352.00",
        ],
    ),
    (
        "blind-resubmit",
        "@blind-resubmit",
        &[DOUBLE_PAY, "overpaid by 250.00 CNY"],
    ),
    (
        "query-error-as-missing",
        "@query-error or @query-timeout",
        &[DOUBLE_PAY, "overpaid by"],
    ),
    (
        "no-run-lock",
        "@concurrent-runs",
        &[DOUBLE_PAY, "overpaid by 420.00 CNY"],
    ),
    (
        "processing-as-failed",
        "@processing-for-hours",
        &[DOUBLE_PAY, "owed 480.00 CNY: overpaid by"],
    ),
    (
        "failed-retried",
        "@payout-failed",
        &[REPAY, "was FAILED (INSUFFICIENT_FUNDS)"],
    ),
    (
        "returned-repaid",
        "@payout-returned",
        &[REPAY, "was RETURNED (ACCOUNT_CLOSED)"],
    ),
    (
        "restart-forgets",
        "@restart-mid-payout",
        &[DOUBLE_PAY, "overpaid by 333.33 CNY"],
    ),
];

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

    // Act: each deliberate bug against the scenario(s) aimed at it (the kill matrix).
    for (bug, tag, needles) in KILLS {
        let bad = rt
            .block_on(run(config_with(
                "examples/reference-sut/sut.toml",
                bug,
                Some(tag),
            )))
            .expect("the run starts");
        c.check(
            &format!("--bug {bug} fails every scenario tagged {tag}"),
            !bad.scenarios.is_empty() && bad.failed().len() == bad.scenarios.len(),
            || summary(&bad),
        );
        for f in bad.failed() {
            let msg = f.failure.as_deref().unwrap_or_default();
            for needle in *needles {
                c.check(
                    &format!("… `{}` says `{needle}`", f.scenario),
                    msg.contains(needle),
                    || format!("  missing `{needle}` in:\n{msg}"),
                );
            }
        }
    }

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
