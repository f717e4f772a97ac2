//! Journal reads cost what they return, not what the journal holds: a page of the newest
//! entries, or of the entries after a cursor, examines about as many entries as it answers
//! whatever the journal's size (the answer's `scanned` says how many it examined), and a
//! filtered read walks a big journal over several turns of the lock and still finds every
//! match once, in order. Counted, not timed.

use crate::common::*;
use hyper::StatusCode;
use sandbank::control::JOURNAL_SCAN_CHUNK;
use sandbank::journal::{EntryKind, Journal, Record};

/// Entries in the journal for these tests: several scan chunks.
const FILL: usize = 5 * JOURNAL_SCAN_CHUNK;

/// Journal `FILL` small entries; those at `needles` carry the reference `NEEDLE`. The
/// journal is made big enough to hold them all (a world's `journal_bytes`).
fn fill(w: &TestWorld, needles: &[usize]) -> u64 {
    w.sb.with(|st| {
        st.core.journal = Journal::with_max_bytes(64 << 20);
        for i in 0..FILL {
            st.core.record(
                EntryKind::Inbound,
                Record {
                    instance: "wxpay".into(),
                    op: "pay/orderquery".into(),
                    reference: Some(if needles.contains(&i) {
                        "NEEDLE".into()
                    } else {
                        format!("HAY{i}")
                    }),
                    message: "replied".into(),
                    ..Default::default()
                },
            );
        }
        st.core.journal.last_seq()
    })
}

#[tokio::test]
async fn reading_the_newest_entries_or_a_page_after_a_cursor_examines_only_that_page() {
    let w = start().await;
    let last = fill(&w, &[]);

    let (status, page) = w.ctl_get("journal?limit=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["entries"][0]["seq"], last, "{page}");
    assert_eq!(page["scanned"], 1, "the newest entry costs one: {page}");

    let (_, page) = w.ctl_get("journal?limit=50").await;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(50));
    assert_eq!(page["scanned"], 50, "{page}");

    // A forward page from the middle: its entries and one more (to know there is a next).
    let mid = last / 2;
    let (_, page) = w.ctl_get(&format!("journal?after={mid}&limit=20")).await;
    let seqs: Vec<u64> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (mid + 1..=mid + 20).collect::<Vec<_>>());
    assert_eq!(page["next"], mid + 20);
    assert_eq!(page["scanned"], 21, "{page}");

    // The newest entry of one kind, when the newest entries are of that kind.
    let (_, page) = w.ctl_get("journal?kind=inbound&limit=1").await;
    assert_eq!(page["scanned"], 1, "{page}");
}

#[tokio::test]
async fn a_filtered_read_over_a_big_journal_finds_every_match_once_in_order() {
    let w = start().await;
    // Matches in the first, a middle and the last scan chunk.
    let needles = [3, 2 * JOURNAL_SCAN_CHUNK + 7, FILL - 2];
    fill(&w, &needles);

    let (_, page) = w.ctl_get("journal?reference=NEEDLE&after=0&limit=10").await;
    let found = page["entries"].as_array().unwrap();
    assert_eq!(found.len(), needles.len(), "{page}");
    let seqs: Vec<u64> = found.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    assert_eq!(page["next"], serde_json::Value::Null, "no more: {page}");

    // Newest first, two of them: the last two needles.
    let (_, page) = w.ctl_get("journal?reference=NEEDLE&limit=2").await;
    let latest: Vec<u64> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(latest, seqs[1..].to_vec());

    // The text stream walks the whole journal in chunks and lists each needle once.
    let (status, text) = w.ctl_get_text("journal?reference=NEEDLE&format=text").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text.lines().count(), needles.len(), "{text}");
}
