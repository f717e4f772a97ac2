//! `GET /_sandbank/ledger`: every balance, and a page of postings — the newest `limit`
//! (1,000 by default, at most [`LEDGER_PAGE_MAX`]) or, with `after` (a posting id), the first
//! `limit` after it with `next` for the page that follows, as the journal pages. Postings are
//! gathered under the world's lock (cloned, at most a page of them) and written after it.

use super::{err, ok, page_limit, query_number};
use crate::http::{InboundRequest, Reply};
use crate::ledger::Posting;
use crate::world::Sandbank;
use hyper::StatusCode;
use serde_json::{json, Value};

/// Postings a page holds unless `limit` says otherwise.
pub const LEDGER_PAGE_DEFAULT: usize = 1000;

/// Most postings a page holds.
pub const LEDGER_PAGE_MAX: usize = 10_000;

/// The ledger route.
pub fn ledger(sb: &Sandbank, req: &InboundRequest) -> Reply {
    let after = match query_number(req, "after") {
        Ok(v) => v,
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    let limit = match page_limit(req, LEDGER_PAGE_DEFAULT, LEDGER_PAGE_MAX, "postings") {
        Ok(n) => n,
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    let with_postings = match req.query_param("postings") {
        None => true,
        Some(p) if p == "none" => false,
        Some(p) => {
            return err(
                StatusCode::BAD_REQUEST,
                format!("postings: `{p}` is not `none` (leave it out for a page of postings)"),
            )
        }
    };
    let account = req.query_param("account");
    let (balances, page, next, total) = {
        let st = sb.lock();
        let ledger = &st.core.ledger;
        let balances: Vec<Value> = ledger
            .balances()
            .into_iter()
            .filter(|(a, _)| account.as_deref().is_none_or(|x| a == x))
            .map(
                |(a, m)| json!({"account": a, "balance": m.major_string(), "currency": m.currency}),
            )
            .collect();
        let touches = |p: &&Posting| {
            account
                .as_deref()
                .is_none_or(|a| p.legs.iter().any(|l| l.account == a))
        };
        let all = ledger.postings();
        let (page, next): (Vec<Posting>, Option<u64>) = if !with_postings {
            (Vec::new(), None)
        } else if let Some(after) = after {
            // Ids run from 1 in posting order, so the first one after `after` is found by
            // bisection; the page reads on from there.
            let start = all.partition_point(|p| p.id <= after);
            let mut page: Vec<Posting> = all[start..]
                .iter()
                .filter(touches)
                .take(limit + 1)
                .cloned()
                .collect();
            let next = (page.len() > limit).then(|| {
                page.truncate(limit);
                page.last().map_or(after, |p| p.id)
            });
            (page, next)
        } else {
            let mut page: Vec<Posting> = all
                .iter()
                .rev()
                .filter(touches)
                .take(limit)
                .cloned()
                .collect();
            page.reverse();
            (page, None)
        };
        let total = if account.is_none() {
            Some(all.len())
        } else {
            None
        };
        (balances, page, next, total)
    };
    let mut body = json!({ "balances": balances, "postings": page, "next": next });
    if let Some(total) = total {
        body["total_postings"] = json!(total);
    }
    ok(body)
}
