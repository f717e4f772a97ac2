//! The statements part of the control API, under `/_sandbank/statements/`.
//!
//! | route | does |
//! |---|---|
//! | `GET statements/{instance}/{date}?format=&account=&bill_type=` | the statement file of a channel merchant or bank account for a business day (`YYYY-MM-DD`, or `today`, `yesterday`, `tomorrow` on the world clock), mismatches applied. `format`: `wechat` (default for WeChat channels; `bill_type` ALL/SUCCESS/REFUND), `alipay` (default for Alipay channels), `camt053.02` (default for banks), `camt053.08`, `mt940`. 409 with `available_at` before the file exists on the world clock, 404 for a WeChat bill without rows, 400 for a format that does not fit. |
//! | `POST statements/{instance}/mismatches` | add a mismatch (JSON of [`RawMismatch`] fields; `instance` from the URL; `day` may be a day word) → 201 with the validated mismatch; 409 when it targets an entry its day does not have and the day is over |
//! | `GET statements/{instance}/mismatches` | the instance's mismatches |
//! | `GET statements/expected?date=[&instance=]` | the expected discrepancies of a day (all instances unless one is named) |

use crate::clock::{self, check_date};
use crate::http::{InboundRequest, Reply, Spool};
use crate::journal::{EntryKind, Record};
use crate::mismatches::RawMismatch;
use crate::statements::render::{Format, RenderError};
use crate::statements::Source;
use crate::world::{AddError, Sandbank};
use chrono::NaiveDate;
use hyper::{Method, StatusCode};
use serde_json::json;

fn err(status: StatusCode, msg: impl Into<String>) -> Reply {
    Reply::json(status, &json!({ "error": msg.into() }))
}

/// A statement date (`YYYY-MM-DD`, `YYYYMMDD`, or `today`, `yesterday`, `tomorrow`: the
/// Beijing business day on the world clock now), within the years the world clock can show
/// (2000–2999): a day outside them has no statement, and its window would not be
/// representable.
fn parse_day(sb: &Sandbank, text: &str) -> Option<NaiveDate> {
    clock::parse_day(text, sb.lock().now()).and_then(|d| check_date(d).ok())
}

/// What a date that did not parse is told.
fn bad_date(text: &str) -> String {
    format!(
        "date: `{text}` is not a date (YYYY-MM-DD, years 2000–2999, or one of {})",
        clock::DAY_WORDS
    )
}

/// Serve `/_sandbank/statements/{segs…}`.
pub fn handle(sb: &Sandbank, req: &InboundRequest, segs: &[&str]) -> Reply {
    match (req.method.clone(), segs) {
        (Method::GET, ["expected"]) => expected(sb, req),
        (Method::GET, [instance, "mismatches"]) => {
            let st = sb.lock();
            if !st.core.directory.contains(instance) {
                return err(
                    StatusCode::NOT_FOUND,
                    format!("no channel or bank `{instance}`"),
                );
            }
            let list: Vec<_> = st
                .core
                .mismatches
                .all()
                .iter()
                .filter(|m| m.instance == *instance)
                .collect();
            Reply::json(
                StatusCode::OK,
                &json!({ "instance": instance, "mismatches": list }),
            )
        }
        (Method::POST, [instance, "mismatches"]) => add_mismatch(sb, req, instance),
        (Method::GET, [instance, date]) => statement(sb, req, instance, date),
        _ => err(
            StatusCode::NOT_FOUND,
            format!("no control route {} /_sandbank/{}", req.method, req.path),
        ),
    }
}

fn add_mismatch(sb: &Sandbank, req: &InboundRequest, instance: &str) -> Reply {
    let mut raw: RawMismatch = match serde_json::from_slice(&req.body) {
        Ok(r) => r,
        Err(e) => return err(StatusCode::BAD_REQUEST, format!("not a mismatch: {e}")),
    };
    if raw.instance.as_deref().is_some_and(|i| i != instance) {
        return err(
            StatusCode::BAD_REQUEST,
            format!(
                "instance: `{}` differs from the URL's `{instance}`",
                raw.instance.unwrap_or_default()
            ),
        );
    }
    raw.instance = Some(instance.to_string());
    // A day word names the business day on the world clock now.
    if let Some(day) = raw
        .day
        .as_deref()
        .and_then(|d| clock::day_word(d, sb.lock().now()))
    {
        raw.day = Some(day.to_string());
    }
    match sb.with(|st| st.add_mismatch(&raw)) {
        Ok(m) => Reply::json(
            StatusCode::CREATED,
            &serde_json::to_value(&m).unwrap_or_default(),
        ),
        Err(e @ AddError::Invalid(_)) => err(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ AddError::Conflict(_)) => err(StatusCode::CONFLICT, e.to_string()),
    }
}

fn expected(sb: &Sandbank, req: &InboundRequest) -> Reply {
    let Some(date) = req.query_param("date") else {
        return err(StatusCode::BAD_REQUEST, "date: missing (YYYY-MM-DD)");
    };
    let Some(day) = parse_day(sb, &date) else {
        return err(StatusCode::BAD_REQUEST, bad_date(&date));
    };
    let st = sb.lock();
    let instances: Vec<String> = match req.query_param("instance") {
        Some(i) if !st.core.directory.contains(&i) => {
            return err(StatusCode::NOT_FOUND, format!("no channel or bank `{i}`"));
        }
        Some(i) => vec![i],
        None => st
            .core
            .directory
            .all()
            .iter()
            .map(|i| i.id.clone())
            .collect(),
    };
    let list: Vec<_> = instances
        .iter()
        .flat_map(|i| st.expected_discrepancies(i, day))
        .collect();
    Reply::json(StatusCode::OK, &json!({ "date": day, "expected": list }))
}

fn statement(sb: &Sandbank, req: &InboundRequest, instance: &str, date: &str) -> Reply {
    let Some(day) = parse_day(sb, date) else {
        return err(StatusCode::BAD_REQUEST, bad_date(date));
    };
    let mut st = sb.lock();
    let source = match st.source(instance, req.query_param("account").as_deref()) {
        Ok(s) => s,
        Err(e) => return err(StatusCode::NOT_FOUND, e),
    };
    // Without `format`, a channel's own bill (the WeChat bill of a WeChat channel, the Alipay
    // bill of an Alipay one) or a bank's camt.053.
    let default_format = match (&source, st.spec.channel(instance).map(|c| c.bill_format())) {
        (Source::ChannelMerchant { .. }, Some(Format::Alipay)) => "alipay",
        (Source::ChannelMerchant { .. }, _) => "wechat",
        _ => "camt053.02",
    };
    let format = match Format::parse(
        req.query_param("format")
            .as_deref()
            .unwrap_or(default_format),
        req.query_param("bill_type").as_deref(),
    ) {
        Ok(f) => f,
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    // The file streams into a spool: memory if small, an unlinked file the server streams in
    // chunks if large (see `http::Spool`).
    let mut spool = Spool::new();
    let result = st
        .statement(&source, day, format, &mut spool)
        .and_then(|head| {
            spool
                .finish()
                .map(|body| (head, body))
                .map_err(RenderError::Io)
        });
    let reply = match result {
        Ok((head, body)) => {
            let mut r = Reply::from_spool(StatusCode::OK, format.content_type(), body);
            r.headers.push((
                "content-disposition",
                format!("attachment; filename=\"{}\"", format.file_name(&head)),
            ));
            let message = format!(
                "{format:?} statement of {day} for {}: {} entries",
                source.account(),
                head.totals.count
            );
            st.core.record(
                EntryKind::World,
                Record {
                    instance: instance.into(),
                    op: "statement".into(),
                    message,
                    ..Default::default()
                },
            );
            r
        }
        Err(RenderError::NotAvailable { available_at, .. }) => Reply::json(
            StatusCode::CONFLICT,
            &json!({"error": format!("the statement of {day} is not available yet"), "available_at": available_at.to_rfc3339()}),
        ),
        Err(RenderError::Empty) => err(
            StatusCode::NOT_FOUND,
            "No Bill Exist: no rows of this bill type on that day",
        ),
        Err(e @ RenderError::Unsupported(_)) => err(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ RenderError::Io(_)) => err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    reply
}
