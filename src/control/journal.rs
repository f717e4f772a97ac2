//! `GET /_sandbank/journal`: the timeline, filtered, read a page at a time (JSON) or
//! streamed through a spool (jsonl, text) — never a copy of the whole journal in memory, and
//! never the lock held for more than one chunk of entries.

use super::err;
use crate::http::{InboundRequest, Reply};
use crate::journal::{EntryKind, Filter};
use crate::world::Sandbank;
use hyper::StatusCode;
use serde_json::json;

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

/// Entries the `jsonl`/`text` formats render per turn of the world's lock before writing them
/// to the spool: the lock is held for one chunk, and memory is one chunk plus the spool's.
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
    let number = |name: &str| {
        req.query_param(name).map(|v| {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: `{v}` is not a whole number"))
        })
    };
    let after = match number("after").transpose() {
        Ok(v) => v,
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    let format = req
        .query_param("format")
        .unwrap_or_else(|| "json".to_string());
    let limit = match number("limit").transpose() {
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

/// One JSON page, serialised under the lock entry by entry and cut at `limit` entries or
/// [`JOURNAL_PAGE_BYTES`].
fn journal_page(sb: &Sandbank, filter: &Filter, after: Option<u64>, limit: usize) -> Reply {
    let st = sb.lock();
    let journal = &st.core.journal;
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    let mut bytes = 0usize;
    let mut last_seq = None;
    let mut more = false;
    {
        let mut take = |e: &crate::journal::Entry| -> bool {
            if pieces.len() >= limit {
                more = true;
                return false;
            }
            let piece = serde_json::to_vec(e).unwrap_or_default();
            if !pieces.is_empty() && bytes.saturating_add(piece.len()) > JOURNAL_PAGE_BYTES {
                more = true;
                return false;
            }
            bytes = bytes.saturating_add(piece.len() + 1);
            last_seq = Some(e.seq);
            pieces.push(piece);
            true
        };
        match after {
            Some(a) => {
                for e in journal.after(filter, a) {
                    if !take(e) {
                        break;
                    }
                }
            }
            None => {
                for e in journal.latest(filter) {
                    if !take(e) {
                        break;
                    }
                }
            }
        }
    }
    // Forward pages continue after their last entry; the latest page is the end already.
    let next = match (after, more) {
        (Some(_), true) => last_seq,
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
        "last_seq": journal.last_seq(),
        "dropped": journal.dropped(),
        "held": journal.len(),
        "bytes": journal.bytes(),
    });
    out.extend_from_slice(b"],");
    // `tail` is an object: splice its members after `entries`.
    let tail = serde_json::to_vec(&tail).unwrap_or_default();
    out.extend_from_slice(tail.get(1..).unwrap_or(b"}"));
    Reply::new(StatusCode::OK, "application/json", out)
}

/// Every matching entry after `after` (or the latest `limit`) rendered by `render` into a
/// spool, [`JOURNAL_STREAM_CHUNK`] entries per turn of the lock. Entries appended meanwhile
/// are left for the next read; `x-sandbank-next` carries the cursor when `limit` cut it short.
fn journal_stream(
    sb: &Sandbank,
    filter: &Filter,
    after: Option<u64>,
    limit: Option<usize>,
    content_type: &'static str,
    render: impl Fn(&crate::journal::Entry) -> Vec<u8>,
) -> Reply {
    use std::io::Write;
    let (mut cursor, end) = {
        let st = sb.lock();
        let journal = &st.core.journal;
        let start = match (after, limit) {
            (Some(a), _) => a,
            (None, None) => 0,
            // The latest `limit`: start just before the oldest of them.
            (None, Some(n)) => journal
                .latest(filter)
                .take(n)
                .last()
                .map_or(0, |e| e.seq.saturating_sub(1)),
        };
        (start, journal.last_seq())
    };
    let mut left = limit.unwrap_or(usize::MAX);
    let mut spool = crate::http::Spool::new();
    let mut next = None;
    loop {
        let (chunk, last, more) = {
            let st = sb.lock();
            let mut chunk = Vec::new();
            let mut last = None;
            let mut n = 0;
            let mut iter = st
                .core
                .journal
                .after(filter, cursor)
                .take_while(|e| e.seq <= end);
            for e in iter.by_ref().take(JOURNAL_STREAM_CHUNK.min(left)) {
                chunk.extend_from_slice(&render(e));
                last = Some(e.seq);
                n += 1;
            }
            left -= n;
            (chunk, last, iter.next().is_some())
        };
        if let Err(e) = spool.write_all(&chunk) {
            return err(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("journal: could not spool the answer: {e}"),
            );
        }
        match last {
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
