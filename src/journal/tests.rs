//! The journal's unit tests.

use super::*;
use crate::clock::{parse_instant, SHANGHAI};

#[test]
fn journal_is_bounded_and_keeps_sequence_numbers() {
    let at = parse_instant("2026-03-02 10:00", SHANGHAI).unwrap();
    // Room for more than the count cap, so the count cap is what bounds it.
    let mut j = Journal::with_max_bytes(JOURNAL_BYTES_LIMIT);
    for i in 0..(JOURNAL_CAPACITY + 5) {
        j.push(
            at,
            EntryKind::World,
            Record {
                message: format!("e{i}"),
                ..Default::default()
            },
        );
    }
    assert_eq!(j.len(), JOURNAL_CAPACITY);
    assert_eq!(j.dropped(), 5);
    let last = j.select(&Filter {
        limit: Some(1),
        ..Default::default()
    });
    assert_eq!(last[0].seq as usize, JOURNAL_CAPACITY + 5);
}

#[test]
fn filters_by_kind_instance_and_reference() {
    let at = parse_instant("2026-03-02 10:00", SHANGHAI).unwrap();
    let mut j = Journal::default();
    j.push(
        at,
        EntryKind::Inbound,
        Record {
            instance: "wxpay".into(),
            reference: Some("ORDER1".into()),
            ..Default::default()
        },
    );
    j.push(
        at,
        EntryKind::Callback,
        Record {
            instance: "wxpay".into(),
            reference: Some("ORDER1".into()),
            ..Default::default()
        },
    );
    j.push(
        at,
        EntryKind::Inbound,
        Record {
            instance: "bank".into(),
            reference: Some("S1".into()),
            ..Default::default()
        },
    );
    let f = Filter {
        kind: Some(EntryKind::Inbound),
        ..Default::default()
    };
    assert_eq!(j.select(&f).len(), 2);
    let f = Filter {
        instance: Some("wxpay".into()),
        reference: Some("ORDER".into()),
        ..Default::default()
    };
    assert_eq!(j.select(&f).len(), 2);
    let f = Filter {
        after: Some(2),
        ..Default::default()
    };
    assert_eq!(&*j.select(&f)[0].instance, "bank");
}

#[test]
fn journal_is_bounded_by_bytes_and_pages_walk_it_without_gaps_or_repeats() {
    let at = parse_instant("2026-03-02 10:00", SHANGHAI).unwrap();
    let mut j = Journal::default();
    // Bodies of 8 KB, clipped to 4 KB each: past the byte budget long before the count cap.
    let body = "x".repeat(8 << 10);
    let n = JOURNAL_BYTES_DEFAULT / JOURNAL_BODY_MAX * 2;
    for i in 0..n {
        j.push(
            at,
            EntryKind::Inbound,
            Record {
                instance: "bank".into(),
                message: format!("e{i}"),
                request: Some(body.clone().into()),
                response: Some(body.clone().into()),
                ..Default::default()
            },
        );
        assert!(j.bytes() <= JOURNAL_BYTES_DEFAULT);
    }
    assert!(j.len() < n && j.len() < JOURNAL_CAPACITY, "{}", j.len());
    assert_eq!(j.dropped() as usize + j.len(), n);
    assert!(j.bytes() > JOURNAL_BYTES_DEFAULT - 3 * JOURNAL_BODY_MAX);
    let held: usize = j.entries.iter().map(|e| e.weight()).sum();
    assert_eq!(held, j.bytes(), "the running total is exact");

    // Walk it in pages of 1,000: every held entry once, in order.
    let f = Filter::default();
    let mut cursor = 0;
    let mut seen = Vec::new();
    loop {
        let page: Vec<u64> = j.after(&f, cursor).take(1000).map(|e| e.seq).collect();
        let Some(&last) = page.last() else { break };
        seen.extend(page);
        cursor = last;
    }
    let first = j.dropped() + 1;
    assert_eq!(seen, (first..=n as u64).collect::<Vec<_>>());
    let latest: Vec<u64> = j.latest(&f).take(3).map(|e| e.seq).collect();
    assert_eq!(latest, vec![n as u64, n as u64 - 1, n as u64 - 2]);
}

#[test]
fn a_huge_message_is_clipped_too() {
    let at = parse_instant("2026-03-02 10:00", SHANGHAI).unwrap();
    let mut j = Journal::default();
    j.push(
        at,
        EntryKind::World,
        Record {
            message: "m".repeat(1 << 20),
            ..Default::default()
        },
    );
    assert!(j.bytes() < 2 * JOURNAL_BODY_MAX);
}

#[test]
fn long_bodies_are_clipped_on_a_char_boundary() {
    let body = "分".repeat(JOURNAL_BODY_MAX);
    let c = clip(&body);
    assert!(c.len() < body.len());
    assert!(c.ends_with("bytes in all)"));
}
