//! A 1,000,000-entry day renders in every format with flat memory: the peak resident size
//! while writing stays within [`MEMORY_GROWTH_LIMIT_KIB`] of what it was before, whatever
//! the number of entries. One test in its own binary, so no other test's allocations share
//! the process while it measures.

use sandbank::statements::camt053::Version;
use sandbank::statements::encode::CountingSink;
use sandbank::statements::render::{write_format, BillType, Format};
use sandbank::statements::synthetic::{self, memory_kib, reset_peak_memory, Flavour};

/// Entries in the day.
const ENTRIES: u64 = 1_000_000;

/// How far the peak may rise above the resident size before writing. The writers hold a
/// 64 KiB buffer, a 16 KiB encoder chunk and the deflate state; 32 MiB is generous for that
/// and far below what a collected day would take (a million rows are 200–700 MB of text).
const MEMORY_GROWTH_LIMIT_KIB: u64 = 32 * 1024;

#[test]
fn a_million_entries_render_in_constant_memory() {
    for (flavour, format) in [
        (Flavour::Channel, Format::Wechat(BillType::All)),
        (Flavour::Channel, Format::Alipay),
        (Flavour::Bank, Format::Camt053(Version::V02)),
        (Flavour::Bank, Format::Camt053(Version::V08)),
        (Flavour::Bank, Format::Mt940),
    ] {
        let reset = reset_peak_memory();
        let before = memory_kib("VmRSS").expect("/proc/self/status is readable on Linux");
        let peak_before = memory_kib("VmHWM").unwrap_or(before);
        let head = synthetic::head(flavour, ENTRIES, |e| format.includes(e));
        let mut sink = CountingSink::default();
        write_format(
            format,
            &mut sink,
            &head,
            synthetic::entries(flavour, ENTRIES).filter(|e| format.includes(e)),
        )
        .unwrap();
        let peak = memory_kib("VmHWM").unwrap();
        // Without a reset the peak is cumulative: measure against the earlier peak instead.
        let base = if reset {
            before
        } else {
            peak_before.max(before)
        };
        let growth = peak.saturating_sub(base);
        assert_eq!(head.totals.count, ENTRIES);
        // Every entry reached the output (the Alipay ZIP compresses to ~20 bytes an entry).
        assert!(
            sink.bytes > ENTRIES * 10,
            "{format:?} wrote {} bytes",
            sink.bytes
        );
        assert!(
            growth < MEMORY_GROWTH_LIMIT_KIB,
            "{format:?}: peak {peak} KiB is {growth} KiB above {base} KiB"
        );
        println!(
            "{format:?}: {} bytes, peak {peak} KiB ({growth} KiB above the start)",
            sink.bytes
        );
    }
}
