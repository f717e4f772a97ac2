//! Statements, in-process as `benches/statements.rs` writes them: one synthetic day of
//! [`ENTRIES`] entries, the totals pass (the head: balances and counts) and the writing
//! pass to `io::sink()`, timed together — the WeChat bill of a channel merchant and the
//! camt.053 of a bank account.

use crate::figure::{Better, Figure, Goal};
use sandbank::statements::camt053::Version;
use sandbank::statements::render::{write_format, BillType, Format};
use sandbank::statements::synthetic::{self, Flavour};
use std::time::Instant;

/// Entries of each statement.
const ENTRIES: u64 = 1_000_000;

/// The statement figures.
pub fn run() -> Vec<Figure> {
    vec![
        statement(
            "WeChat bill",
            Flavour::Channel,
            Format::Wechat(BillType::All),
            1.0,
        ),
        statement(
            "camt.053.001.08",
            Flavour::Bank,
            Format::Camt053(Version::V08),
            3.0,
        ),
    ]
}

/// The statement `name` in `format` of [`ENTRIES`] `flavour` entries: totals + writing, in
/// seconds, against a goal of at most `goal_s`.
fn statement(name: &str, flavour: Flavour, format: Format, goal_s: f64) -> Figure {
    let t = Instant::now();
    let head = synthetic::head(flavour, ENTRIES, |e| format.includes(e));
    let totals = t.elapsed().as_secs_f64();
    let result = write_format(
        format,
        std::io::sink(),
        &head,
        synthetic::entries(flavour, ENTRIES).filter(|e| format.includes(e)),
    );
    let total = t.elapsed().as_secs_f64();
    if let Err(e) = result {
        eprintln!("statements: writing the {name} failed: {e}");
    }
    println!(
        "statements: {name} of {ENTRIES} entries: totals {totals:.2} s + writing {:.2} s",
        total - totals
    );
    Figure {
        name: format!("{name}, {ENTRIES} entries (totals + write)"),
        unit: "s",
        value: total,
        baseline: None,
        better: Better::Lower,
        goal: Goal::Absolute(goal_s),
    }
}
