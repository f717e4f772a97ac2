//! The journal: the timeline of everything that crossed the world's edge and everything it
//! did — each inbound request and its reply, each outbound callback and the answer, each
//! fault fired, each posting, each clock move — in order, with virtual and real timestamps.
//!
//! It is what a person reads to understand a run and what a failing scenario prints. It is
//! bounded ([`JOURNAL_CAPACITY`]): past that the oldest entries are dropped and counted.

use crate::clock::Instant;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::VecDeque;

/// Most entries kept. 100k entries of a few hundred bytes each is tens of MB at most, enough
/// for a day of heavy scenario traffic; a soak run loses its oldest history, never memory.
pub const JOURNAL_CAPACITY: usize = 100_000;

/// Longest body text kept per entry. Bills can be megabytes; the journal keeps their head.
pub const JOURNAL_BODY_MAX: usize = 4096;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A request that reached a channel or bank, with the reply it got.
    Inbound,
    /// A callback the world sent (a payment notification), with the answer.
    Callback,
    /// A fault rule fired.
    Fault,
    /// Money moved (a ledger posting).
    Posting,
    /// The clock moved, or the world was loaded or reset.
    World,
    /// A customer action simulated through the control API.
    Customer,
}

impl EntryKind {
    /// Parse the snake_case name used in filters.
    pub fn parse(s: &str) -> Option<EntryKind> {
        Some(match s {
            "inbound" => EntryKind::Inbound,
            "callback" => EntryKind::Callback,
            "fault" => EntryKind::Fault,
            "posting" => EntryKind::Posting,
            "world" => EntryKind::World,
            "customer" => EntryKind::Customer,
            _ => return None,
        })
    }
}

/// One line of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Position in the journal, from 1; never reused, even after old entries are dropped.
    pub seq: u64,
    /// World-clock instant.
    pub at: Instant,
    /// Wall-clock instant. Not part of the deterministic record.
    pub real_at: DateTime<Utc>,
    /// What it records.
    pub kind: EntryKind,
    /// The channel or bank id, or `world`.
    pub instance: String,
    /// The operation (`pay/unifiedorder`, `notify`, `payout.submit`, …).
    pub op: String,
    /// The business reference (order number) when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// HTTP status of the reply, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// A one-line human summary.
    pub message: String,
    /// The request body (or callback body), cut at [`JOURNAL_BODY_MAX`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// The reply body, cut likewise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

/// What a new entry says; the journal adds the sequence number and timestamps.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The channel or bank id, or `world`.
    pub instance: String,
    /// The operation.
    pub op: String,
    /// The business reference.
    pub reference: Option<String>,
    /// HTTP status.
    pub status: Option<u16>,
    /// Summary.
    pub message: String,
    /// Request body text.
    pub request: Option<String>,
    /// Reply body text.
    pub response: Option<String>,
}

/// Which entries to return.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this kind.
    pub kind: Option<EntryKind>,
    /// Only this instance.
    pub instance: Option<String>,
    /// Only entries whose reference contains this text.
    pub reference: Option<String>,
    /// Only entries with `seq` greater than this.
    pub after: Option<u64>,
    /// At most this many (the last ones).
    pub limit: Option<usize>,
}

/// The bounded timeline.
#[derive(Debug, Default)]
pub struct Journal {
    entries: VecDeque<Entry>,
    next_seq: u64,
    /// Entries dropped because the journal was full.
    dropped: u64,
}

/// Cut `text` to at most [`JOURNAL_BODY_MAX`] bytes on a character boundary.
pub fn clip(text: &str) -> String {
    if text.len() <= JOURNAL_BODY_MAX {
        return text.to_string();
    }
    let mut end = JOURNAL_BODY_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…({} bytes in all)", &text[..end], text.len())
}

impl Journal {
    /// Append an entry at virtual instant `at`.
    pub fn push(&mut self, at: Instant, kind: EntryKind, r: Record) -> u64 {
        self.next_seq += 1;
        if self.entries.len() == JOURNAL_CAPACITY {
            self.entries.pop_front();
            self.dropped += 1;
        }
        self.entries.push_back(Entry {
            seq: self.next_seq,
            at,
            real_at: Utc::now(),
            kind,
            instance: r.instance,
            op: r.op,
            reference: r.reference,
            status: r.status,
            message: r.message,
            request: r.request.as_deref().map(clip),
            response: r.response.as_deref().map(clip),
        });
        self.next_seq
    }

    /// Entries dropped for lack of room.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries matching `f`, oldest first.
    pub fn select(&self, f: &Filter) -> Vec<Entry> {
        let matching = self.entries.iter().filter(|e| {
            f.kind.is_none_or(|k| e.kind == k)
                && f.instance.as_deref().is_none_or(|i| e.instance == i)
                && f.reference
                    .as_deref()
                    .is_none_or(|r| e.reference.as_deref().is_some_and(|x| x.contains(r)))
                && f.after.is_none_or(|a| e.seq > a)
        });
        let mut out: Vec<Entry> = matching.cloned().collect();
        if let Some(limit) = f.limit {
            let skip = out.len().saturating_sub(limit);
            out.drain(..skip);
        }
        out
    }
}

impl Entry {
    /// One readable line: `#12 2026-03-02 10:00:15 callback wxpay notify ORDER1 [200] message`.
    pub fn line(&self) -> String {
        let at = self
            .at
            .with_timezone(&crate::clock::SHANGHAI)
            .format("%Y-%m-%d %H:%M:%S%.3f");
        let kind = serde_json::to_value(self.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut s = format!(
            "#{} {} {} {} {}",
            self.seq, at, kind, self.instance, self.op
        );
        if let Some(r) = &self.reference {
            s.push(' ');
            s.push_str(r);
        }
        if let Some(st) = self.status {
            s.push_str(&format!(" [{st}]"));
        }
        s.push_str(" — ");
        s.push_str(&self.message);
        s
    }

    /// The entry as JSON without its wall-clock time: the deterministic record, equal
    /// between two runs with the same seed and inputs.
    pub fn deterministic_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(obj) = v.as_object_mut() {
            obj.remove("real_at");
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{parse_instant, SHANGHAI};

    #[test]
    fn journal_is_bounded_and_keeps_sequence_numbers() {
        let at = parse_instant("2026-03-02 10:00", SHANGHAI).unwrap();
        let mut j = Journal::default();
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
        assert_eq!(j.select(&f)[0].instance, "bank");
    }

    #[test]
    fn long_bodies_are_clipped_on_a_char_boundary() {
        let body = "分".repeat(JOURNAL_BODY_MAX);
        let c = clip(&body);
        assert!(c.len() < body.len());
        assert!(c.ends_with("bytes in all)"));
    }
}
