//! The promises, checked from sandbank's ledger.

use super::date;
use crate::harness::checks::{self, Report};
use crate::harness::recon_checks::{self, ReconTruth};
use crate::harness::scene::Scene;
use crate::statements::day_window;
use cucumber::then;

fn report<'a>(s: &'a Scene, channel: &str, day: &str) -> &'a Report {
    s.reports
        .get(&(channel.to_string(), day.to_string()))
        .unwrap_or_else(|| panic!("no reconciliation report for {channel} on {day}: add `When the settlement system reconciles \"{channel}\" for \"{day}\"` first"))
}

#[then(regex = r#"^no beneficiary was paid more than it is owed$"#)]
async fn never_double_pays(s: &mut Scene) {
    let positions = s.positions();
    let v = checks::never_double_pays(&positions);
    if !v.is_empty() {
        s.fail(&v, true);
    }
}

#[then(regex = r#"^every beneficiary was paid exactly what it is owed$"#)]
async fn paid_exactly(s: &mut Scene) {
    let positions = s.positions();
    let v = checks::paid_exactly(&positions);
    if !v.is_empty() {
        s.fail(&v, true);
    }
}

#[then(regex = r#"^every payment at "([^"]+)" on "([^"]+)" was booked exactly once$"#)]
async fn booked_once(s: &mut Scene, channel: String, day: String) {
    let window = day_window(date(&day));
    let v = checks::booked_once(
        &s.sb().lock().core.ledger,
        &s.orders,
        &channel,
        window,
        report(s, &channel, &day),
    );
    if !v.is_empty() {
        s.fail(&v, false);
    }
}

#[then(
    regex = r#"^the reconciliation report for "([^"]+)" on "([^"]+)" lists exactly the real discrepancies$"#
)]
async fn reconciles_exactly(s: &mut Scene, channel: String, day: String) {
    let truth = real_discrepancies(s, &channel, &day);
    let report = report(s, &channel, &day);
    let mut v = checks::reconciles_exactly(report, &truth.kinds());
    v.extend(recon_checks::statement_totals(report, truth.lines));
    v.extend(recon_checks::discrepancy_amounts(report, &truth.expected));
    if !v.is_empty() {
        s.fail(&v, false);
    }
}

#[then(
    regex = r#"^the reconciliation report for "([^"]+)" on "([^"]+)" accounts for the day's refunds$"#
)]
async fn reconciles_refunds(s: &mut Scene, channel: String, day: String) {
    let truth = real_discrepancies(s, &channel, &day);
    let held = s.refund_numbers();
    let booked = recon_checks::refunds_on(
        &s.sb().lock().core.ledger,
        &s.orders,
        &held,
        &channel,
        day_window(date(&day)),
    );
    let v = recon_checks::refund_totals(report(s, &channel, &day), truth.lines, booked);
    if !v.is_empty() {
        s.fail(&v, false);
    }
}

/// The discrepancies that really exist between the channel's statement for `day` and the
/// truth, as the statement was when the SUT reconciled: the statement is rendered from the
/// ledger, so they are exactly the mismatches injected into it that the SUT could observe
/// then, each recorded by sandbank as an expected discrepancy.
fn real_discrepancies(s: &Scene, channel: &str, day: &str) -> ReconTruth {
    s.recon_truth
        .get(&(channel.to_string(), day.to_string()))
        .cloned()
        .unwrap_or_else(|| ReconTruth::now(&s.sb().lock(), channel, date(day)))
}
