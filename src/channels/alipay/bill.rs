//! Bills: `alipay.data.dataservice.bill.downloadurl.query` hands out a link, and the link
//! serves the day's bill ZIP (written by `statements::alipay`, with the world's mismatches
//! applied) for 30 seconds of the world clock (docs/protocols.md, "B.4", "B.6").
//!
//! The link points back at this channel's mount, in the shape of Alipay's own
//! (`downloadBillFile.resource?bizType=trade&userId=…0156&fileType=csv.zip&bizDates=…&
//! downloadFileName=…&fileId=…&timestamp=…&token=…`), on the host the query was sent to. A
//! link past its 30 s answers 404 `下载超时，请重新下载`; a token the channel never handed
//! out, 404 too. Only daily `trade` bills are served. What a link is (its path, lifetime,
//! what the channel remembers of it) is in [`super::link`]; a request to one is read by
//! `request`.

use super::link::{Download, DOWNLOAD_PATH, LINK_VALID_SECS, MAX_LINKS};
use super::order::AliState;
use super::request::GatewayCall;
use super::response::Code;
use super::spec::Spec;
use crate::clock::Instant;
use crate::core::Core;
use crate::http::{Reply, Spool};
use crate::statements::render::{self, Format, RenderError};
use crate::statements::{alipay as bill_file, Books, Source};
use chrono::NaiveDate;
use hyper::StatusCode;

/// The day a `alipay.data.dataservice.bill.downloadurl.query` asks for, or its error.
pub fn read_query(call: &GatewayCall) -> Result<NaiveDate, Reply> {
    let invalid = |msg: &str| call.fail(Code::Invalid, "isv.invalid-parameter", msg, Vec::new());
    match call.biz_str("bill_type").as_deref() {
        Some("trade") => {}
        Some("signcustomer") => return Err(invalid(
            "参数无效: bill_type signcustomer (the fund bill) is not served by sandbank; use trade",
        )),
        _ => return Err(invalid("参数无效: bill_type (trade or signcustomer)")),
    }
    let Some(date) = call.biz_str("bill_date") else {
        return Err(invalid("参数无效: bill_date 不能为空"));
    };
    NaiveDate::parse_from_str(&date, "%Y-%m-%d")
        .ok()
        .and_then(|d| crate::clock::check_date(d).ok())
        .ok_or_else(|| {
            if date.len() == 7 {
                invalid("参数无效: bill_date yyyy-MM (monthly bills) is not served by sandbank; use yyyy-MM-dd")
            } else {
                invalid("参数无效: bill_date (yyyy-MM-dd)")
            }
        })
}

/// When the calling merchant's bill of `day` exists (after 09:00 the next day, later when
/// a `late` mismatch holds it back).
pub fn ready_at(books: &Books<'_>, call: &GatewayCall, day: NaiveDate) -> Instant {
    let source = Source::ChannelMerchant {
        instance: call.instance.clone(),
        mch_id: call.app.pid.clone(),
    };
    render::available_at(books, &source, day, Format::Alipay)
}

/// Answer the query: `isp.bill_not_exist` before the bill exists (`ready`), else a link to
/// it that works for [`LINK_VALID_SECS`].
pub fn issue_link(
    state: &mut AliState,
    core: &mut Core,
    call: &GatewayCall,
    day: NaiveDate,
    ready: Instant,
) -> Reply {
    let now = core.now();
    if ready > now {
        return call.business("isp.bill_not_exist", "账单不存在");
    }
    let pid = call.app.pid.clone();
    let (token, file_id) = {
        let mut rng = core.rng_for(&call.instance, &format!("bill/{pid}/{day}"));
        (rng.alnum(32), rng.digits(12))
    };
    let user_id = bill_file::account_id(&pid);
    let ymd = day.format("%Y%m%d");
    let url = format!(
        "{}/{}/{DOWNLOAD_PATH}?bizType=trade&userId={user_id}&fileType=csv.zip&bizDates={ymd}&downloadFileName={user_id}_{ymd}.csv.zip&fileId=%2Ftrade%2F{user_id}%2F{ymd}%2F{file_id}&timestamp={}&token={token}",
        call.origin,
        call.instance,
        now.timestamp()
    );
    if state.downloads.len() >= MAX_LINKS {
        state.downloads.pop_front();
    }
    state.downloads.push_back(Download {
        token,
        pid,
        day,
        expires_at: now + chrono::Duration::seconds(LINK_VALID_SECS),
    });
    call.success(vec![("bill_download_url", url.into())])
}

/// Serve the bill behind `token`, if the link is one the channel handed out and its 30 s
/// have not passed on the world clock.
pub fn download(books: &Books<'_>, spec: &Spec, state: &AliState, token: &str) -> Reply {
    let Some(d) = state.downloads.iter().rev().find(|d| d.token == token) else {
        return Reply::text(StatusCode::NOT_FOUND, "下载链接无效");
    };
    if books.now > d.expires_at {
        return Reply::text(StatusCode::NOT_FOUND, "下载超时，请重新下载");
    }
    let source = Source::ChannelMerchant {
        instance: spec.id.clone(),
        mch_id: d.pid.clone(),
    };
    let mut spool = Spool::new();
    let result = render::render(books, &source, d.day, Format::Alipay, &mut spool)
        .and_then(|head| spool.finish().map(|b| (head, b)).map_err(RenderError::Io));
    match result {
        Ok((head, body)) => {
            let mut reply = Reply::from_spool(StatusCode::OK, "application/zip", body);
            reply.headers.push((
                "content-disposition",
                format!(
                    "attachment; filename=\"{}\"",
                    Format::Alipay.file_name(&head)
                ),
            ));
            reply
        }
        Err(RenderError::NotAvailable { .. }) => Reply::text(StatusCode::NOT_FOUND, "账单不存在"),
        Err(e) => Reply::text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
