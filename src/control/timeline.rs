//! `GET /_sandbank/timeline`: the journal as a sequence diagram ([`crate::timeline`]), as
//! JSON (what the inspector page draws) or Mermaid text (to paste into a document).
//!
//! `?reference=` keeps the entries whose reference contains it (as the journal's filter);
//! `after=SEQ` gives the first `limit` entries after that seq and `next`, the `after` of the
//! following page (`null` at the end), as `GET journal` does; without `after`, the latest
//! `limit`. `limit` defaults to [`TIMELINE_PAGE_DEFAULT`], at most [`TIMELINE_PAGE_MAX`]; a
//! page also stops at [`super::JOURNAL_PAGE_BYTES`] of entries. `format=json` (default) or
//! `mermaid`.

use super::journal::gather;
use super::{err, page_limit, query_number};
use crate::http::{InboundRequest, Reply};
use crate::journal::{Filter, Scan};
use crate::timeline::{mermaid, Timeline};
use crate::world::Sandbank;
use hyper::StatusCode;
use serde_json::json;

/// Entries a timeline page draws unless `limit` says otherwise: a scenario's whole story.
pub const TIMELINE_PAGE_DEFAULT: usize = 1000;

/// Most entries one timeline page may ask for.
pub const TIMELINE_PAGE_MAX: usize = 10_000;

/// `GET timeline`.
pub fn timeline(sb: &Sandbank, req: &InboundRequest) -> Reply {
    let after = match query_number(req, "after") {
        Ok(v) => v,
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    let limit = match page_limit(req, TIMELINE_PAGE_DEFAULT, TIMELINE_PAGE_MAX, "entries") {
        Ok(n) => n,
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    let format = req.query_param("format").unwrap_or_else(|| "json".into());
    if !matches!(format.as_str(), "json" | "mermaid") {
        return err(
            StatusCode::BAD_REQUEST,
            format!("format: `{format}` is not one of json, mermaid"),
        );
    }
    let reference = req.query_param("reference").filter(|r| !r.is_empty());
    let filter = Filter {
        reference: reference.clone(),
        ..Default::default()
    };
    let (mut found, _) = match after {
        Some(a) => gather(sb, &filter, Scan::After(a), limit.saturating_add(1)),
        None => gather(sb, &filter, Scan::Before(u64::MAX), limit),
    };
    // Cut at `limit` entries or the byte budget, whichever comes first (in the order
    // gathered: the latest page keeps its newest entries).
    let mut bytes = 0usize;
    let mut take = 0;
    for e in &found {
        if take >= limit
            || (take > 0 && bytes.saturating_add(e.weight()) > super::JOURNAL_PAGE_BYTES)
        {
            break;
        }
        bytes = bytes.saturating_add(e.weight());
        take += 1;
    }
    let more = take < found.len();
    let next = match (after, more) {
        (Some(_), true) => found.get(take.wrapping_sub(1)).map(|e| e.seq),
        _ => None,
    };
    found.truncate(take);
    if after.is_none() {
        found.reverse();
    }
    let (directory, last_seq) = {
        let st = sb.lock();
        (st.core.directory.clone(), st.core.journal.last_seq())
    };
    let t = Timeline::build(&directory, reference.as_deref(), found.iter().map(|e| &**e));
    if format == "mermaid" {
        return Reply::new(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            mermaid::render(&t),
        );
    }
    let mut v = serde_json::to_value(&t).unwrap_or_default();
    v["next"] = json!(next);
    v["last_seq"] = json!(last_seq);
    Reply::json(StatusCode::OK, &v)
}
