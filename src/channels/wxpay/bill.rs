//! `pay/downloadbill`: a merchant's bill of a day, rendered by the statements module from
//! the ledger with this channel describing its lines, and answered the way the channel
//! answers: the bill as text (or gzip), or an XML `return_code=FAIL` with an `error_code`:
//! `No Bill Exist` (no trades that day: an empty statement) or `Bill Creating` (not
//! generated yet: a late statement), never one for the other.

use super::codec::Call;
use super::spec::Spec;
use super::xml;
use crate::http::{Reply, Spool};
use crate::statements::render::{self, BillType, Format, RenderError};
use crate::statements::{Books, Source};
use chrono::NaiveDate;
use hyper::StatusCode;

/// `No Bill Exist` / `20002`: the merchant had no trades that day, so no bill is generated
/// (docs/protocols.md, A.5). A day whose bill has no rows is a statement with no rows.
fn no_bill() -> Reply {
    Reply::xml(xml::write([
        ("return_code", "FAIL"),
        ("return_msg", "No Bill Exist"),
        ("error_code", "20002"),
    ]))
}

/// `Bill Creating`: the bill of that day is not generated yet — before 09:00 the next day, or
/// while a `late` mismatch holds it back. WeChat documents the message (账单未生成) but no
/// `error_code` for it; `20003` is ours (docs/protocols.md, A.5).
fn bill_creating() -> Reply {
    Reply::xml(xml::write([
        ("return_code", "FAIL"),
        ("return_msg", "Bill Creating"),
        ("error_code", "20003"),
    ]))
}

fn bill_fail(msg: &str) -> Reply {
    Reply::xml(xml::write([
        ("return_code", "FAIL"),
        ("return_msg", msg),
        ("error_code", "20001"),
    ]))
}

/// Serve `pay/downloadbill` for the calling merchant: the statement of the merchant's
/// account for `bill_date`, with the world's mismatches applied.
pub fn downloadbill(books: &Books<'_>, spec: &Spec, call: &Call) -> Reply {
    let (merchant, f) = (&call.merchant, &call.fields);
    let Some(date) = f
        .get("bill_date")
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok())
        .and_then(|d| crate::clock::check_date(d).ok())
    else {
        return bill_fail("invalid bill_date");
    };
    let bill_type = match BillType::parse(
        f.get("bill_type")
            .map(String::as_str)
            .filter(|t| !t.is_empty())
            .unwrap_or("ALL"),
    ) {
        Some(t) => t,
        None => return bill_fail("invalid bill_type"),
    };
    let gzip = match f.get("tar_type").map(String::as_str) {
        None | Some("") => false,
        Some("GZIP") => true,
        Some(_) => return bill_fail("invalid tar_type"),
    };
    let source = Source::ChannelMerchant {
        instance: spec.id.clone(),
        mch_id: merchant.mch_id.clone(),
    };
    let format = Format::Wechat(bill_type);
    // The bill streams into a spool (through the gzip encoder when asked): a small bill stays
    // in memory, a large one goes to an unlinked file that the server streams in chunks.
    let result = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Spool::new(), flate2::Compression::default());
        render::render(books, &source, date, format, &mut enc).and_then(|_| {
            enc.finish()
                .and_then(Spool::finish)
                .map_err(RenderError::Io)
        })
    } else {
        let mut spool = Spool::new();
        render::render(books, &source, date, format, &mut spool)
            .and_then(|_| spool.finish().map_err(RenderError::Io))
    };
    match result {
        Ok(body) if gzip => Reply::from_spool(StatusCode::OK, "application/x-gzip", body),
        Ok(body) => Reply::from_spool(StatusCode::OK, "text/plain; charset=utf-8", body),
        Err(RenderError::NotAvailable { .. }) => bill_creating(),
        Err(RenderError::Empty) => no_bill(),
        Err(e) => bill_fail(&e.to_string()),
    }
}
