//! The journal: the timeline of everything that crossed the world's edge and everything it
//! did — each inbound request and its reply, each outbound callback and the answer, each
//! fault fired, each posting, each clock move — in order, with virtual and real timestamps.
//!
//! It is what a person reads to understand a run and what a failing scenario prints. It is
//! bounded by count ([`JOURNAL_CAPACITY`]) and by bytes (the world's `journal_bytes`,
//! [`JOURNAL_BYTES_DEFAULT`] unless set): past either
//! the oldest entries are dropped and counted. Readers take it a page at a time
//! ([`Journal::after`], [`Journal::latest`]) so no read copies the whole of it.

use crate::clock::Instant;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

mod body;
pub use body::{clip, Body};
use body::{clip_cow, clip_owned};

/// Most entries kept. 100k entries of a few hundred bytes each is tens of MB at most, enough
/// for a day of heavy scenario traffic; a soak run loses its oldest history, never memory.
pub const JOURNAL_CAPACITY: usize = 100_000;

/// Most bytes the held entries weigh in all, unless the world sets `journal_bytes` (their
/// text and bodies plus [`ENTRY_OVERHEAD_BYTES`] each; see [`Entry::weight`]). The count cap
/// alone let 110,000 refused 8 KB requests grow the process to 855 MB. 8 MiB holds every
/// entry of any scenario run (a conformance scenario writes a few hundred) and the last
/// ~9,000 exchanges of a load test (a signed orderquery and its reply weigh about 950
/// bytes). It was 32 MiB: under sustained load every request writes a fresh entry and frees
/// the oldest, and the larger ring made each request ~4% dearer and doubled the server's
/// memory (`cargo bench --bench wire`, figures in README "Performance").
pub const JOURNAL_BYTES_DEFAULT: usize = 8 << 20;

/// The smallest `journal_bytes` a world may set: room for a few hundred entries.
pub const JOURNAL_BYTES_MIN: usize = 64 << 10;

/// The largest `journal_bytes` a world may set.
pub const JOURNAL_BYTES_LIMIT: usize = 1 << 30;

/// What an entry costs beyond its text and bodies: the entry itself (about 200 bytes in the
/// ring), and the headers and slack of its three or four allocations.
pub const ENTRY_OVERHEAD_BYTES: usize = 256;

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
    /// The channel or bank id, or `world` (shared between entries, not copied per entry).
    pub instance: Arc<str>,
    /// The operation (`pay/unifiedorder`, `notify`, `payout.submit`, …).
    pub op: Cow<'static, str>,
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
    pub request: Option<Body>,
    /// The reply body, cut likewise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Body>,
    /// For a callback: which attempt of its retry ladder this entry is about (the next
    /// one, for an entry that schedules it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// For a callback that failed: when the next attempt is due (world clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_at: Option<Instant>,
    /// For a callback sent: whether the receiver acknowledged it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked: Option<bool>,
}

/// What a new entry says; the journal adds the sequence number and timestamps.
#[derive(Debug, Clone, Default)]
pub struct Record<'a> {
    /// The channel or bank id, or `world` (borrowed: the journal keeps its own shared copy).
    pub instance: Cow<'a, str>,
    /// The operation.
    pub op: Cow<'static, str>,
    /// The business reference.
    pub reference: Option<String>,
    /// HTTP status.
    pub status: Option<u16>,
    /// Summary.
    pub message: String,
    /// Request body.
    pub request: Option<Body>,
    /// Reply body.
    pub response: Option<Body>,
    /// A callback's attempt number ([`Entry::attempt`]).
    pub attempt: Option<u32>,
    /// When a callback's next attempt is due ([`Entry::next_at`]).
    pub next_at: Option<Instant>,
    /// Whether a callback was acknowledged ([`Entry::acked`]).
    pub acked: Option<bool>,
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
    /// At most this many (the last ones; used by [`Journal::select`] only).
    pub limit: Option<usize>,
}

impl Filter {
    /// True when `e` passes the kind, instance and reference filters (not `after`/`limit`).
    pub fn matches(&self, e: &Entry) -> bool {
        self.kind.is_none_or(|k| e.kind == k)
            && self.instance.as_deref().is_none_or(|i| &*e.instance == i)
            && self
                .reference
                .as_deref()
                .is_none_or(|r| e.reference.as_deref().is_some_and(|x| x.contains(r)))
    }
}

/// Where a [`Journal::scan`] starts, and which way it walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// Oldest first, from the entry after this seq.
    After(u64),
    /// Newest first, from the entry before this seq (`u64::MAX`: the newest).
    Before(u64),
}

/// What one [`Journal::scan`] found.
#[derive(Debug)]
pub struct Scanned {
    /// The matching entries, in the order walked.
    pub found: Vec<Arc<Entry>>,
    /// Entries examined.
    pub scanned: usize,
    /// Where to go on when the scan stopped before the journal's end (for want or budget).
    pub resume: Option<Scan>,
}

/// The bounded timeline.
#[derive(Debug)]
pub struct Journal {
    /// Shared, so a reader copies a page of handles under the world's lock and formats
    /// them after releasing it.
    entries: VecDeque<Arc<Entry>>,
    next_seq: u64,
    /// Entries dropped because the journal was full.
    dropped: u64,
    /// Sum of [`Entry::weight`] over `entries`.
    bytes: usize,
    /// Most `bytes` may be.
    max_bytes: usize,
    /// Instance names, each held once and shared by the entries that name it.
    names: Vec<Arc<str>>,
}

/// Most distinct instance names the journal shares; past it, names are held per entry.
const NAMES_MAX: usize = 64;

impl Default for Journal {
    fn default() -> Journal {
        Journal::with_max_bytes(JOURNAL_BYTES_DEFAULT)
    }
}

impl Journal {
    /// An empty journal holding at most `max_bytes` (clamped to
    /// [`JOURNAL_BYTES_MIN`]..=[`JOURNAL_BYTES_LIMIT`]; scenarios are checked at load).
    pub fn with_max_bytes(max_bytes: usize) -> Journal {
        Journal {
            entries: VecDeque::new(),
            next_seq: 0,
            dropped: 0,
            bytes: 0,
            max_bytes: max_bytes.clamp(JOURNAL_BYTES_MIN, JOURNAL_BYTES_LIMIT),
            names: Vec::new(),
        }
    }

    /// Most bytes the held entries may weigh.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Append an entry at virtual instant `at`.
    pub fn push(&mut self, at: Instant, kind: EntryKind, r: Record<'_>) -> u64 {
        self.next_seq += 1;
        let entry = Entry {
            seq: self.next_seq,
            at,
            real_at: Utc::now(),
            kind,
            instance: self.name(r.instance),
            op: clip_cow(r.op),
            reference: r.reference.map(clip_owned),
            status: r.status,
            message: clip_owned(r.message),
            request: r.request.map(Body::clipped),
            response: r.response.map(Body::clipped),
            attempt: r.attempt,
            next_at: r.next_at,
            acked: r.acked,
        };
        let weight = entry.weight();
        while !self.entries.is_empty()
            && (self.entries.len() >= JOURNAL_CAPACITY
                || self.bytes.saturating_add(weight) > self.max_bytes)
        {
            if let Some(old) = self.entries.pop_front() {
                self.bytes = self.bytes.saturating_sub(old.weight());
                self.dropped += 1;
            }
        }
        self.bytes = self.bytes.saturating_add(weight);
        self.entries.push_back(Arc::new(entry));
        self.next_seq
    }

    /// The shared copy of instance name `name` (instances are few: a world's channels and
    /// banks, and `world`).
    fn name(&mut self, name: Cow<'_, str>) -> Arc<str> {
        if let Some(n) = self.names.iter().find(|n| ***n == *name) {
            return n.clone();
        }
        let n: Arc<str> = if name.len() <= JOURNAL_BODY_MAX {
            Arc::from(&*name)
        } else {
            Arc::from(clip(&name))
        };
        if self.names.len() < NAMES_MAX {
            self.names.push(n.clone());
        }
        n
    }

    /// Bytes the held entries weigh ([`Entry::weight`]); at most [`Journal::max_bytes`].
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The newest sequence number given out (0 before the first entry).
    pub fn last_seq(&self) -> u64 {
        self.next_seq
    }

    /// Entries matching `f` with `seq` greater than `after`, oldest first: a forward page
    /// is `.take(n)` of this. Finding the start is a binary search, so paging a full journal
    /// costs each page its own length, not the journal's.
    pub fn after<'a>(&'a self, f: &'a Filter, after: u64) -> impl Iterator<Item = &'a Entry> + 'a {
        let start = self.entries.partition_point(|e| e.seq <= after);
        self.entries
            .range(start..)
            .map(|e| &**e)
            .filter(move |e| f.matches(e))
    }

    /// At most `budget` entries examined, from just after seq `from.0` forwards (or just
    /// before it backwards), keeping those matching `f` until `want` are found: what one turn
    /// of the world's lock costs a reader, whatever the journal's size. Finding the start is
    /// a binary search.
    pub fn scan(&self, f: &Filter, from: Scan, want: usize, budget: usize) -> Scanned {
        let mut found = Vec::new();
        let mut scanned = 0;
        let mut last = None;
        let mut visit = |e: &Arc<Entry>| -> bool {
            if found.len() >= want || scanned >= budget {
                return false;
            }
            scanned += 1;
            last = Some(e.seq);
            if f.matches(e) {
                found.push(e.clone());
            }
            true
        };
        let exhausted = match from {
            Scan::After(after) => {
                let start = self.entries.partition_point(|e| e.seq <= after);
                self.entries.range(start..).all(&mut visit)
            }
            Scan::Before(before) => {
                let end = self.entries.partition_point(|e| e.seq < before);
                self.entries.range(..end).rev().all(&mut visit)
            }
        };
        Scanned {
            found,
            scanned,
            resume: match (exhausted, last) {
                (false, Some(seq)) => Some(match from {
                    Scan::After(_) => Scan::After(seq),
                    Scan::Before(_) => Scan::Before(seq),
                }),
                _ => None,
            },
        }
    }

    /// Entries matching `f`, newest first: the latest page is `.take(n)` of this, reversed.
    pub fn latest<'a>(&'a self, f: &'a Filter) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries
            .iter()
            .rev()
            .map(|e| &**e)
            .filter(move |e| f.matches(e))
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
        let mut out: Vec<Entry> = self.after(f, f.after.unwrap_or(0)).cloned().collect();
        if let Some(limit) = f.limit {
            let skip = out.len().saturating_sub(limit);
            out.drain(..skip);
        }
        out
    }
}

impl Entry {
    /// What the entry counts against [`Journal::max_bytes`]: its text plus
    /// [`ENTRY_OVERHEAD_BYTES`].
    pub fn weight(&self) -> usize {
        let body = |o: &Option<Body>| o.as_ref().map_or(0, Body::len);
        ENTRY_OVERHEAD_BYTES
            + self.instance.len()
            + self.op.len()
            + self.message.len()
            + self.reference.as_ref().map_or(0, String::len)
            + body(&self.request)
            + body(&self.response)
    }

    /// One readable line: `#12 2026-03-02 10:00:15 callback wxpay notify ORDER1 [200] message`.
    /// The time stamp is Beijing time (UTC+8), and so is every instant the message names
    /// (`clock::beijing_time`): one zone per line. JSON carries RFC 3339 UTC instead.
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
mod tests;
