//! `GET /_sandbank/journal`: the timeline, filtered, read a page at a time (JSON) or
//! streamed through a spool (jsonl, text) — never a copy of the whole journal in memory, and
//! never the lock held for more than one chunk of entries.

use super::{err, query_number};
use crate::http::{InboundRequest, Reply};
use crate::journal::{Entry, EntryKind, Filter, Scan};
use crate::world::Sandbank;
use hyper::StatusCode;
use serde_json::json;
use std::sync::Arc;

/// Default entries in one JSON page of `GET journal`: enough for any one scenario's story,
/// small enough to read at a glance.
pub const JOURNAL_PAGE_DEFAULT: usize = 1000;

/// Most entries one JSON page of `GET journal` may ask for (`limit`). With bodies clipped at
/// 4 KB, a page can never be more than [`JOURNAL_PAGE_BYTES`] anyway.
pub const JOURNAL_PAGE_MAX: usize = 10_000;

/// Most bytes of entries' JSON in one page, whatever `limit` says (a page always holds at
/// least one entry). A full journal once serialised to 444 MB in one answer and peaked the
/// process at 2.26 GB; a page costs at most this.
pub const JOURNAL_PAGE_BYTES: usize = 4 << 20;

/// Entries the `jsonl`/`text` formats gather per turn of the world's lock and render (after
/// releasing it) before writing them to the spool: memory is one chunk plus the spool's.
pub const JOURNAL_STREAM_CHUNK: usize = 1000;

/// `GET journal`. JSON answers one page: with `after`, the first `limit` matching entries
/// after that seq, and `next` (the cursor for the following page, or null at the end);
/// without, the latest `limit`. `jsonl` and `text` stream every matching entry (or `limit`)
/// through a [`crate::http::Spool`], a chunk at a time.
/// `GET journal`: one page as JSON, or the matching entries as jsonl/text.
pub fn journal(sb: &Sandbank, req: &InboundRequest) -> Reply {
    let kind = match req.query_param("kind") {
        Some(k) => match EntryKind::parse(&k) {
            Some(k) => Some(k),
            None => {
                return err(
                    StatusCode::BAD_REQUEST,
                    format!(
                    "kind: `{k}` is not one of inbound, callback, fault, posting, world, customer"
                ),
                )
            }
        },
        None => None,
    };
    let number = |name: &str| query_number(req, name);
    let after = match number("after") {
        Ok(v) => v,
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    let format = req
        .query_param("format")
        .unwrap_or_else(|| "json".to_string());
    let limit = match number("limit") {
        Ok(Some(0)) => return err(StatusCode::BAD_REQUEST, "limit: must be at least 1"),
        Ok(Some(n)) if format == "json" && n > JOURNAL_PAGE_MAX as u64 => {
            return err(
                StatusCode::BAD_REQUEST,
                format!("limit: at most {JOURNAL_PAGE_MAX} entries a page; follow `next` for more"),
            )
        }
        Ok(v) => v.map(|v| usize::try_from(v).unwrap_or(usize::MAX)),
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    let filter = Filter {
        kind,
        instance: req.query_param("instance"),
        reference: req.query_param("reference"),
        after: None,
        limit: None,
    };
    match format.as_str() {
        "json" => journal_page(sb, &filter, after, limit.unwrap_or(JOURNAL_PAGE_DEFAULT)),
        "jsonl" => journal_stream(sb, &filter, after, limit, "application/x-ndjson", |e| {
            let mut line = serde_json::to_vec(e).unwrap_or_default();
            line.push(b'\n');
            line
        }),
        "text" => journal_stream(
            sb,
            &filter,
            after,
            limit,
            "text/plain; charset=utf-8",
            |e| (e.line() + "\n").into_bytes(),
        ),
        other => err(
            StatusCode::BAD_REQUEST,
            format!("format: `{other}` is not one of json, jsonl, text"),
        ),
    }
}

/// Entries examined per turn of the world's lock when a read filters: a page or a stream
/// takes as many turns as it needs, and the lock is never held for more than this many.
pub const JOURNAL_SCAN_CHUNK: usize = 10_000;

/// Up to `want` entries matching `filter` from `from`, gathered over as many turns of the
/// lock as needed ([`JOURNAL_SCAN_CHUNK`] entries examined per turn), with the number of
/// entries examined in all. Only handles are copied under the lock.
pub(super) fn gather(
    sb: &Sandbank,
    filter: &Filter,
    from: Scan,
    want: usize,
) -> (Vec<Arc<Entry>>, usize) {
    let mut found = Vec::new();
    let mut scanned = 0;
    let mut at = Some(from);
    while let Some(from) = at {
        if found.len() >= want {
            break;
        }
        let turn =
            sb.lock()
                .core
                .journal
                .scan(filter, from, want - found.len(), JOURNAL_SCAN_CHUNK);
        scanned += turn.scanned;
        found.extend(turn.found);
        at = turn.resume;
    }
    (found, scanned)
}

/// One JSON page, cut at `limit` entries or [`JOURNAL_PAGE_BYTES`]: the entries gathered
/// under the lock (handles only, [`gather`]) and serialised after it is released. `scanned`
/// in the answer says how many entries were examined to make it.
fn journal_page(sb: &Sandbank, filter: &Filter, after: Option<u64>, limit: usize) -> Reply {
    // One more than the page, to know whether a forward page has a next.
    let (found, scanned) = match after {
        Some(a) => gather(sb, filter, Scan::After(a), limit.saturating_add(1)),
        None => gather(sb, filter, Scan::Before(u64::MAX), limit),
    };
    let (last_seq, dropped, held, journal_bytes, max_bytes) = {
        let st = sb.lock();
        let j = &st.core.journal;
        (j.last_seq(), j.dropped(), j.len(), j.bytes(), j.max_bytes())
    };
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    let mut bytes = 0usize;
    let mut last = None;
    let mut more = false;
    for e in &found {
        if pieces.len() >= limit {
            more = true;
            break;
        }
        let piece = serde_json::to_vec(&**e).unwrap_or_default();
        if !pieces.is_empty() && bytes.saturating_add(piece.len()) > JOURNAL_PAGE_BYTES {
            more = true;
            break;
        }
        bytes = bytes.saturating_add(piece.len() + 1);
        last = Some(e.seq);
        pieces.push(piece);
    }
    // Forward pages continue after their last entry; the latest page is the end already.
    let next = match (after, more) {
        (Some(_), true) => last,
        _ => None,
    };
    if after.is_none() {
        pieces.reverse();
    }
    let mut out = Vec::with_capacity(bytes.saturating_add(256));
    out.extend_from_slice(b"{\"entries\":[");
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(p);
    }
    let tail = json!({
        "next": next,
        "last_seq": last_seq,
        "dropped": dropped,
        "held": held,
        "bytes": journal_bytes,
        "max_bytes": max_bytes,
        "scanned": scanned,
    });
    out.extend_from_slice(b"],");
    // `tail` is an object: splice its members after `entries`.
    let tail = serde_json::to_vec(&tail).unwrap_or_default();
    out.extend_from_slice(tail.get(1..).unwrap_or(b"}"));
    Reply::new(StatusCode::OK, "application/json", out)
}

/// Every matching entry after `after` (or the latest `limit`) rendered by `render` into a
/// spool, [`JOURNAL_STREAM_CHUNK`] entries gathered per turn of the lock and rendered after
/// it is released. Entries appended meanwhile are left for the next read; `x-sandbank-next`
/// carries the cursor when `limit` cut it short.
fn journal_stream(
    sb: &Sandbank,
    filter: &Filter,
    after: Option<u64>,
    limit: Option<usize>,
    content_type: &'static str,
    render: impl Fn(&Entry) -> Vec<u8>,
) -> Reply {
    use std::io::Write;
    let end = sb.lock().core.journal.last_seq();
    let mut cursor = match (after, limit) {
        (Some(a), _) => a,
        (None, None) => 0,
        // The latest `limit`: start just before the oldest of them.
        (None, Some(n)) => gather(sb, filter, Scan::Before(end.saturating_add(1)), n)
            .0
            .last()
            .map_or(0, |e| e.seq.saturating_sub(1)),
    };
    let mut left = limit.unwrap_or(usize::MAX);
    let mut spool = crate::http::Spool::new();
    let mut next = None;
    loop {
        let want = JOURNAL_STREAM_CHUNK.min(left);
        // One more than wanted, to know whether there is more.
        let (mut chunk, _) = gather(sb, filter, Scan::After(cursor), want + 1);
        chunk.retain(|e| e.seq <= end);
        let more = chunk.len() > want;
        chunk.truncate(want);
        let mut text = Vec::new();
        for e in &chunk {
            text.extend_from_slice(&render(e));
        }
        left -= chunk.len();
        if let Err(e) = spool.write_all(&text) {
            return err(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("journal: could not spool the answer: {e}"),
            );
        }
        match chunk.last().map(|e| e.seq) {
            Some(l) if more && left > 0 => cursor = l,
            Some(l) if more => {
                next = Some(l);
                break;
            }
            _ => break,
        }
    }
    match spool.finish() {
        Ok(body) => {
            let mut reply = Reply::from_spool(StatusCode::OK, content_type, body);
            if let Some(n) = next {
                reply.headers.push(("x-sandbank-next", n.to_string()));
            }
            reply
        }
        Err(e) => err(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("journal: could not spool the answer: {e}"),
        ),
    }
}
