//! The control API under `/_sandbank/` (in the spirit of WireMock's `/__admin`): JSON in and
//! out. It moves the clock, simulates customers, reads the journal and ledger, manages fault
//! rules, and resets or replaces the world. Documented with curl examples in README.md.
//!
//! | route | does |
//! |---|---|
//! | `GET health` | liveness, world name, seed |
//! | `GET clock` / `POST clock` | read; `{"advance":"15s"}`, `{"to":"…"}` (also `tomorrow 10:00`, Beijing time) or `{}` (fire what is due) |
//! | `GET channels`, `GET banks` | the world's channels and banks: id and kind |
//! | `GET channels/{id}` | what a client needs to call the channel: kind, mount, credentials (the kind says which) |
//! | `POST channels/{id}/orders/{no}/pay` | the customer pays (`?mch_id=` if ambiguous) |
//! | `GET channels/{id}/orders/{no}` | an order as the channel holds it |
//! | `POST channels/{id}/orders/{no}/notify` | `{"forge":"signature"\|"amount"\|"unknown_order"}`: send a forged notification to the order's notify URL once |
//! | `GET banks/{id}` | what a client needs to call the bank: kind, mount, credentials (the kind says which) |
//! | `GET banks/{id}/payouts` | a bank's payouts |
//! | `POST banks/{id}/payouts/{no}/return` | the bank returns (退票) a paid payout |
//! | `GET statements/{id}/{date}`, `…/mismatches`, `statements/expected` | statement files, injected mismatches, expected discrepancies (see [`statements`]) |
//! | `GET journal` | `?kind=&instance=&reference=&after=&limit=&format=json\|jsonl\|text`: one JSON page (`next` cursor), or jsonl/text streamed |
//! | `GET timeline` | `?reference=&after=&limit=&format=json\|mermaid`: the journal as a sequence diagram ([`timeline`]) |
//! | `GET ui/` | the inspector page ([`ui`]) |
//! | `GET ledger` | balances and a page of postings (`?account=`; `?postings=none` for balances only; `limit`, `after`, `next` as the journal's) |
//! | `GET/POST/DELETE faults`, `DELETE faults/{id}` | fault rules |
//! | `POST reset`, `POST scenario` | rebuild the world; load a TOML scenario |
//!
//! Every route is guarded first ([`guard`]): foreign `Host`s and cross-origin browsers are
//! refused, and a token is asked for when the server was given one.

pub mod guard;
pub mod journal;
pub mod ledger;

pub use journal::{
    JOURNAL_PAGE_BYTES, JOURNAL_PAGE_DEFAULT, JOURNAL_PAGE_MAX, JOURNAL_SCAN_CHUNK,
    JOURNAL_STREAM_CHUNK,
};
pub mod statements;
pub mod timeline;
pub mod ui;

use crate::clock::{
    check_instant, checked_add, parse_duration, parse_instant, parse_word_instant, ClockError,
    SHANGHAI,
};
use crate::core::{ActionError, Forgery};
use crate::faults::RawRule;
use crate::http::{InboundRequest, Reply};
use crate::scenario;
use crate::world::{AddError, Sandbank};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

fn err(status: StatusCode, msg: impl Into<String>) -> Reply {
    Reply::json(status, &json!({ "error": msg.into() }))
}

/// A whole-number query parameter: `Ok(None)` when absent; `Err` names the parameter.
fn query_number(req: &InboundRequest, name: &str) -> Result<Option<u64>, String> {
    req.query_param(name)
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: `{v}` is not a whole number"))
        })
        .transpose()
}

/// A page's `limit`: `default` when absent, else from 1 to `max` (`what` names the items).
fn page_limit(
    req: &InboundRequest,
    default: usize,
    max: usize,
    what: &str,
) -> Result<usize, String> {
    match query_number(req, "limit")? {
        None => Ok(default),
        Some(n) if n >= 1 && n <= max as u64 => Ok(n as usize),
        Some(_) => Err(format!(
            "limit: from 1 to {max} {what} a page; follow `next` for more"
        )),
    }
}

fn ok(v: Value) -> Reply {
    Reply::json(StatusCode::OK, &v)
}

/// Serve one control request.
pub async fn handle(sb: &Sandbank, req: InboundRequest) -> Reply {
    let path = req.path.trim_end_matches('/').to_string();
    let segs: Vec<&str> = path.split('/').collect();
    match (req.method.clone(), segs.as_slice()) {
        (Method::GET, ["health"]) => {
            // The truth: a world whose timer driver has stopped answers requests but never
            // settles, notifies or advances; that is not "ok".
            let alive = sb.driver_alive();
            let st = sb.lock();
            let v = json!({
                "status": if alive { "ok" } else { "driver_stopped" },
                "driver": if alive { "running" } else { "stopped: POST /_sandbank/reset restarts it" },
                "world": st.spec.name,
                "seed": st.core.rng.seed(),
                "now": st.now().to_rfc3339(),
            });
            if alive {
                ok(v)
            } else {
                Reply::json(StatusCode::SERVICE_UNAVAILABLE, &v)
            }
        }
        (Method::GET, ["clock"]) => clock_view(sb),
        (Method::POST, ["clock"]) => post_clock(sb, &req).await,
        (Method::GET, ["channels"]) => {
            let spec = sb.spec();
            let list: Vec<Value> = spec
                .channels
                .iter()
                .map(|c| json!({"id": c.id(), "kind": c.credentials()["kind"]}))
                .collect();
            ok(json!({ "channels": list }))
        }
        (Method::GET, ["banks"]) => {
            let spec = sb.spec();
            let list: Vec<Value> = spec
                .banks
                .iter()
                .map(|b| json!({"id": b.id(), "kind": b.credentials()["kind"]}))
                .collect();
            ok(json!({ "banks": list }))
        }
        (Method::GET, ["channels", id]) => {
            let spec = sb.spec();
            match spec.channels.iter().find(|c| c.id() == *id) {
                Some(c) => ok(c.credentials()),
                None => err(StatusCode::NOT_FOUND, format!("no channel `{id}`")),
            }
        }
        (Method::POST, ["channels", id, "orders", no, "pay"]) => {
            pay(sb, id, no, req.query_param("mch_id").as_deref())
        }
        (Method::GET, ["channels", id, "orders", no]) => get_order(sb, id, no),
        (Method::POST, ["channels", id, "orders", no, "notify"]) => {
            forge_notification(sb, id, no, &req.body).await
        }
        (Method::GET, ["banks", id]) => {
            let spec = sb.spec();
            match spec.banks.iter().find(|b| b.id() == *id) {
                Some(b) => ok(b.credentials()),
                None => err(StatusCode::NOT_FOUND, format!("no bank `{id}`")),
            }
        }
        (Method::GET, ["banks", id, "payouts"]) => {
            let st = sb.lock();
            match st.payouts(id) {
                Some(p) => ok(json!({ "bank": id, "payouts": p })),
                None => err(StatusCode::NOT_FOUND, format!("no bank `{id}`")),
            }
        }
        (Method::POST, ["banks", id, "payouts", no, "return"]) => {
            return_payout(sb, id, no, &req.body)
        }
        (_, ["statements", rest @ ..]) => statements::handle(sb, &req, rest),
        (Method::GET, ["journal"]) => journal::journal(sb, &req),
        (Method::GET, ["timeline"]) => timeline::timeline(sb, &req),
        (Method::GET, ["ui", rest @ ..]) => ui::asset(&rest.join("/")),
        (Method::GET, ["ledger"]) => ledger::ledger(sb, &req),
        (Method::GET, ["faults"]) => {
            let st = sb.lock();
            ok(json!({ "rules": st.faults.rules() }))
        }
        (Method::POST, ["faults"]) => add_fault(sb, &req),
        (Method::DELETE, ["faults"]) => {
            sb.with(|st| st.faults.clear());
            ok(json!({ "rules": [] }))
        }
        (Method::DELETE, ["faults", id]) => {
            if sb.with(|st| st.faults.remove(id)) {
                ok(json!({ "removed": id }))
            } else {
                err(StatusCode::NOT_FOUND, format!("no fault rule `{id}`"))
            }
        }
        (Method::POST, ["reset"]) => {
            let spec = sb.spec();
            sb.load(spec);
            clock_view(sb)
        }
        (Method::POST, ["scenario"]) => {
            let Ok(text) = std::str::from_utf8(&req.body) else {
                return err(StatusCode::BAD_REQUEST, "the scenario must be UTF-8 TOML");
            };
            match scenario::load_str(text, "posted scenario") {
                Ok(spec) => {
                    sb.load(Arc::new(spec));
                    clock_view(sb)
                }
                Err(e) => err(StatusCode::BAD_REQUEST, e.to_string()),
            }
        }
        _ => err(
            StatusCode::NOT_FOUND,
            format!("no control route {} /_sandbank/{}", req.method, req.path),
        ),
    }
}

fn clock_view(sb: &Sandbank) -> Reply {
    let st = sb.lock();
    let now = st.now();
    ok(json!({
        "now": now.to_rfc3339(),
        "now_local": now.with_timezone(&SHANGHAI).format("%Y-%m-%d %H:%M:%S").to_string(),
        "mode": st.core.clock.mode(),
        "pending_timers": st.core.timers.len(),
        "next_due": st.core.timers.next_due().map(|t| t.to_rfc3339()),
    }))
}

async fn post_clock(sb: &Sandbank, req: &InboundRequest) -> Reply {
    let body: Value = if req.body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => return err(StatusCode::BAD_REQUEST, format!("body is not JSON: {e}")),
        }
    };
    // Refuse what we cannot read rather than answer 200 without moving the clock.
    let Some(fields) = body.as_object() else {
        return err(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object: {\"advance\":\"15s\"}, {\"to\":\"…\"} or {}",
        );
    };
    if let Some((k, _)) = fields
        .iter()
        .find(|(k, v)| !matches!(k.as_str(), "advance" | "to") || !v.is_string())
    {
        return err(StatusCode::BAD_REQUEST, format!("`{k}`: expected `advance` (a duration such as \"15s\") or `to` (an instant), as a string"));
    }
    let now = sb.lock().now();
    let to = match (
        body.get("advance").and_then(Value::as_str),
        body.get("to").and_then(Value::as_str),
    ) {
        (Some(_), Some(_)) => {
            return err(StatusCode::BAD_REQUEST, "give `advance` or `to`, not both")
        }
        (Some(d), None) => match parse_duration(d) {
            Ok(d) if d >= chrono::Duration::zero() => {
                match checked_add(now, d).and_then(check_instant) {
                    Ok(t) => Some(t),
                    Err(e) => return err(StatusCode::BAD_REQUEST, format!("advance: {e}")),
                }
            }
            Ok(_) => {
                return err(
                    StatusCode::BAD_REQUEST,
                    "advance: the clock cannot go backwards",
                )
            }
            Err(e) => return err(StatusCode::BAD_REQUEST, format!("advance: {e}")),
        },
        (None, Some(t)) => match parse_instant(t, SHANGHAI)
            .or_else(|| parse_word_instant(t, now))
            .map(check_instant)
        {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => return err(StatusCode::BAD_REQUEST, format!("to: {e}")),
            None => {
                return err(
                    StatusCode::BAD_REQUEST,
                    format!("to: `{t}` is not an instant (RFC 3339, `YYYY-MM-DD HH:MM` or `tomorrow 10:00` in Beijing time)"),
                )
            }
        },
        (None, None) => None,
    };
    match sb.advance(to).await {
        Ok(report) => {
            let mut v = serde_json::from_slice::<Value>(&clock_view(sb).body).unwrap_or_default();
            v["fired"] = json!(report.fired);
            ok(v)
        }
        Err(e @ (ClockError::Stopped | ClockError::DriverStopped)) => {
            err(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        Err(e @ ClockError::OutOfRange { .. }) => err(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => err(StatusCode::CONFLICT, e.to_string()),
    }
}

/// The status an action error answers with.
fn action_err(e: ActionError) -> Reply {
    match e {
        ActionError::NotFound(m) => err(StatusCode::NOT_FOUND, m),
        ActionError::Conflict(m) => err(StatusCode::CONFLICT, m),
    }
}

fn pay(sb: &Sandbank, channel: &str, reference: &str, account: Option<&str>) -> Reply {
    match sb.with(|st| st.customer_pay(channel, reference, account)) {
        Ok(v) => ok(v),
        Err(e) => action_err(e),
    }
}

fn get_order(sb: &Sandbank, channel: &str, reference: &str) -> Reply {
    match sb.lock().order(channel, reference) {
        Ok(o) => ok(o.detail),
        Err(e) => action_err(e),
    }
}

/// `POST /_sandbank/channels/{channel}/orders/{no}/notify` with `{"forge": "signature" |
/// "amount" | "unknown_order"}`: the channel sends a forged payment notification to the
/// order's notify URL once; the answer says whether the receiver acknowledged it.
async fn forge_notification(sb: &Sandbank, channel: &str, reference: &str, body: &[u8]) -> Reply {
    let how = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        v.get("forge")
            .and_then(Value::as_str)
            .and_then(Forgery::parse)
    });
    let Some(how) = how else {
        return err(
            StatusCode::BAD_REQUEST,
            format!(
                "the body must be {{\"forge\": …}}, one of {}",
                Forgery::NAMES
            ),
        );
    };
    match sb.send_forged_notification(channel, reference, how).await {
        Ok(outcome) => ok(serde_json::to_value(&outcome).unwrap_or_default()),
        Err(e) => action_err(e),
    }
}

/// `POST /_sandbank/banks/{bank}/payouts/{order_no}/return` with an optional JSON body
/// `{"reason": "ACCOUNT_FROZEN", "payout_id": "AP…"}`.
fn return_payout(sb: &Sandbank, bank: &str, order_no: &str, body: &[u8]) -> Reply {
    let v: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return err(
                    StatusCode::BAD_REQUEST,
                    "the body must be a JSON object like {\"reason\": \"ACCOUNT_FROZEN\"}",
                )
            }
        }
    };
    let result = sb.with(|st| {
        st.return_payout(
            bank,
            order_no,
            v.get("payout_id").and_then(Value::as_str),
            v.get("reason").and_then(Value::as_str),
        )
    });
    match result {
        Ok(p) => ok(json!({ "bank": bank, "payout": p })),
        Err(e) => action_err(e),
    }
}

fn add_fault(sb: &Sandbank, req: &InboundRequest) -> Reply {
    let raw: RawRule = match serde_json::from_slice(&req.body) {
        Ok(r) => r,
        Err(e) => return err(StatusCode::BAD_REQUEST, format!("not a fault rule: {e}")),
    };
    match sb.with(|st| st.add_fault(&raw)) {
        Ok(rule) => Reply::json(
            StatusCode::CREATED,
            &serde_json::to_value(&rule).unwrap_or_default(),
        ),
        Err(e @ AddError::Invalid(_)) => err(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ AddError::Conflict(_)) => err(StatusCode::CONFLICT, e.to_string()),
    }
}
