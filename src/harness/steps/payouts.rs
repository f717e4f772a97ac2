//! Steps about payouts under faults and bank behaviours: choosing the world (a bank that
//! pays again, rejects, settles slowly, or cannot pay), two settlement runs at once, a
//! payout returned (退票), the settlement system restarting or crashing mid-payout, and the
//! checks that go with them.

use super::{date, instant};
use crate::banks::PayoutStatus;
use crate::harness::payout_checks;
use crate::harness::scene::Scene;
use crate::scenario;
use cucumber::{given, then, when};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the crash step waits for the SUT's payout to reach the bank.
const CRASH_WAIT: Duration = Duration::from_secs(20);

/// Where scenario `name` lives: `scenarios/NAME.toml` beside the features directory (the
/// project layout), else under the working directory.
fn scenario_path(features: &Path, name: &str) -> PathBuf {
    let file = format!("{name}.toml");
    let root = if features.is_dir() {
        features.parent()
    } else {
        features.parent().and_then(Path::parent)
    };
    let beside = root.map(|r| r.join("scenarios").join(&file));
    match beside {
        Some(p) if p.exists() => p,
        _ => PathBuf::from("scenarios").join(file),
    }
}

#[given(regex = r#"^a sandbank world from the scenario "([^"]+)" with the clock at "([^"]+)"$"#)]
async fn world_from_scenario(s: &mut Scene, name: String, start: String) {
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        panic!(
            "a scenario name is a file name without `.toml`, like `payout-pay-again`, not `{name}`"
        );
    }
    let path = scenario_path(&s.cfg.features, &name);
    let spec = scenario::load_file(&path).unwrap_or_else(|e| {
        panic!(
            "cannot load the world `{name}` from {} (cwd {}): {e}",
            path.display(),
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        )
    });
    s.start_world_from(spec, instant(&start)).await;
}

/// Call `run_settlement` for `day`; a failed hook fails the step.
fn settle_vars(s: &Scene, day: &str) -> std::collections::BTreeMap<String, String> {
    s.cfg
        .adapter
        .vars_with(&s.builtins(), &[("date", day.to_string())])
}

#[when(regex = r#"^the settlement system runs settlement for "([^"]+)" twice at once$"#)]
async fn run_settlement_twice_at_once(s: &mut Scene, day: String) {
    date(&day);
    // Two calls in flight together, as two schedulers (or a scheduler and an operator)
    // would make them.
    let first = [("date", day.clone())];
    let second = [("date", day.clone())];
    tokio::join!(s.hook("run_settlement", &first), async {
        // Let the first request reach the SUT first, as it would in life.
        tokio::time::sleep(Duration::from_millis(20)).await;
        s.hook("run_settlement", &second).await
    });
    s.sb().advance(None).await.unwrap_or_else(|e| panic!("{e}"));
}

#[when(regex = r#"^the settlement system restarts$"#)]
async fn sut_restarts(s: &mut Scene) {
    s.restart_sut().await;
}

#[when(
    regex = r#"^the settlement system crashes while its payout for "([^"]+)" is at the bank "([^"]+)"$"#
)]
async fn sut_crashes_mid_payout(s: &mut Scene, day: String, bank: String) {
    date(&day);
    let before = s.sb().lock().payouts(&bank).map_or(0, <[_]>::len);
    let cfg = s.cfg.clone();
    let vars = settle_vars(s, &day);
    let call = cfg.adapter.call("run_settlement", &vars);
    tokio::pin!(call);
    let deadline = tokio::time::Instant::now() + CRASH_WAIT;
    loop {
        tokio::select! {
            out = &mut call => panic!(
                "the settlement run ended before the bank `{bank}` received a payout, so there was nothing to crash in the middle of (arm a fault that holds the bank's reply); the hook answered: {}",
                match out { Ok(o) => o, Err(e) => e.to_string() }
            ),
            _ = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
        let now = s.sb().lock().payouts(&bank).map_or(0, <[_]>::len);
        if now > before {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("the bank `{bank}` received no payout within {CRASH_WAIT:?} of the settlement run for {day}");
        }
    }
    // The bank holds the payout; the SUT has not heard back. Kill it now (TERM, then KILL).
    s.mark_sut_down();
    match s.sut.as_mut() {
        Some(p) => p.stop().await,
        None => panic!("the harness did not start the settlement system (the adapter has no [start]), so it cannot crash it"),
    }
    // The hook's request died with the SUT; its error is expected and dropped.
    let _ = tokio::time::timeout(Duration::from_secs(5), call).await;
}

fn status(text: &str) -> PayoutStatus {
    match text {
        "PROCESSING" => PayoutStatus::Processing,
        "SUCCESS" => PayoutStatus::Success,
        "FAILED" => PayoutStatus::Failed,
        "RETURNED" => PayoutStatus::Returned,
        other => panic!("`{other}` is not a payout status"),
    }
}

#[when(
    regex = r#"^the beneficiary's bank returns the payout to merchant "([^"]+)" with the reason "([^"]+)"$"#
)]
async fn payout_returned(s: &mut Scene, label: String, reason: String) {
    let m = s.merchant(&label).clone();
    let found = s.sb().lock().payouts(&m.bank).and_then(|ps| {
        ps.iter()
            .rev()
            .find(|p| p.payee_account_no == m.account_no && p.status == PayoutStatus::Success)
            .map(|p| (p.order_no.clone(), p.payout_id.clone()))
    });
    let Some((order_no, payout_id)) = found else {
        panic!(
            "bank `{}` holds no SUCCESS payout to merchant {label}'s account {}: nothing to return",
            m.bank, m.account_no
        );
    };
    s.sb()
        .with(|st| st.return_payout(&m.bank, &order_no, Some(&payout_id), Some(&reason)))
        .unwrap_or_else(|e| panic!("the bank could not return payout {order_no}: {e}"));
}

#[then(
    regex = r#"^the bank holds a (PROCESSING|SUCCESS|FAILED|RETURNED) payout to merchant "([^"]+)"$"#
)]
async fn bank_holds(s: &mut Scene, st: String, label: String) {
    let m = s.merchant(&label).clone();
    let v = {
        let world = s.sb().lock();
        let payouts = world.payouts(&m.bank).unwrap_or(&[]);
        payout_checks::holds_payout_in(payouts, &m, status(&st))
    };
    if !v.is_empty() {
        s.fail(&v, true);
    }
}

#[then(regex = r#"^no beneficiary was paid again after its payout failed or was returned$"#)]
async fn no_repay_after_stop(s: &mut Scene) {
    let mut banks: Vec<String> = s.merchants.iter().map(|m| m.bank.clone()).collect();
    banks.dedup();
    let mut v = Vec::new();
    {
        let world = s.sb().lock();
        for bank in &banks {
            let payouts = world.payouts(bank).unwrap_or(&[]);
            v.extend(payout_checks::no_payout_after_stop(
                &world.core.ledger,
                bank,
                payouts,
                &s.merchants,
            ));
        }
    }
    if !v.is_empty() {
        s.fail(&v, true);
    }
}
