//! Statement writers: entries per second and peak memory, per format, for one synthetic day
//! of 1,000,000 entries streamed to `io::sink()`.
//!
//! ```text
//! cargo bench --bench statements            # 1,000,000 entries
//! STATEMENT_BENCH_ENTRIES=100000 cargo bench --bench statements
//! ```
//!
//! Each format is timed over the writing pass only; the totals pass that precedes it (the
//! head: balances and counts, which camt.053 and MT940 print before the entries) is timed
//! separately. Peak memory is `VmHWM` from `/proc/self/status`, reset before each format
//! (`/proc/self/clear_refs`), next to `VmRSS` before the run: a flat profile shows the peak
//! barely above the resident size, whatever the number of entries.

use sandbank::statements::camt053::Version;
use sandbank::statements::render::{write_format, BillType, Format};
use sandbank::statements::synthetic::{self, memory_kib, reset_peak_memory, Flavour};
use std::time::Instant;

/// Entries in the benchmark's day.
const DEFAULT_ENTRIES: u64 = 1_000_000;

fn main() {
    let n: u64 = std::env::var("STATEMENT_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ENTRIES);
    println!("statement writers, {n} synthetic entries each, streamed to io::sink()");
    println!(
        "{:<14} {:>10} {:>14} {:>12} {:>14} {:>14}",
        "format", "write s", "entries/s", "totals s", "VmRSS before", "peak VmHWM"
    );
    for (name, flavour, format) in [
        ("wechat", Flavour::Channel, Format::Wechat(BillType::All)),
        ("alipay", Flavour::Channel, Format::Alipay),
        ("camt053.02", Flavour::Bank, Format::Camt053(Version::V02)),
        ("camt053.08", Flavour::Bank, Format::Camt053(Version::V08)),
        ("mt940", Flavour::Bank, Format::Mt940),
    ] {
        let reset = reset_peak_memory();
        let rss_before = memory_kib("VmRSS").unwrap_or(0);
        let t0 = Instant::now();
        let head = synthetic::head(flavour, n, |e| format.includes(e));
        let totals_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        write_format(
            format,
            std::io::sink(),
            &head,
            synthetic::entries(flavour, n).filter(|e| format.includes(e)),
        )
        .expect("writing to a sink cannot fail");
        let write_s = t1.elapsed().as_secs_f64();
        let peak = memory_kib("VmHWM").unwrap_or(0);
        println!(
            "{name:<14} {write_s:>10.2} {:>14.0} {totals_s:>12.2} {:>11} KiB {:>11} KiB{}",
            n as f64 / write_s,
            rss_before,
            peak,
            if reset {
                ""
            } else {
                " (peak not reset: cumulative)"
            }
        );
    }
}
