//! The reconciliation routes: download the day's bill from its channel, read it, compare it
//! with the books, store and answer the report.

use crate::app::{parse_date, parse_json};
use crate::routes::{check_channel, DateBody};
use crate::store::ChannelKind;
use crate::{alipay_bill, catchup, recon, refunds, wechat_bill, wxpay, ApiError, App, Bug};
use serde_json::Value;

/// `POST /reconciliations/run`: download the day's bill, compare it with the books, store
/// the report.
pub async fn run_reconciliation(app: &App, body: &[u8]) -> Result<Value, ApiError> {
    let b: DateBody = parse_json(body)?;
    let date = parse_date(&b.date)?;
    let (channel, kind) = check_channel(app, b.channel.as_deref())?;
    // Orders paid whose notification never reached us are in the bill: book them first.
    catchup::query_unheard(app).await;
    let bug = app.config.bug;
    // What the channel answered decides what can be reconciled (docs/sut-adapter.md):
    // `No Bill Exist` is a day without trades (a statement with no rows), `Bill Creating` a
    // bill not there yet (late), and a file we cannot read whole is unreadable.
    let answer = match kind {
        ChannelKind::Wxpay => wxpay::download_bill(&app.config, date).await?,
        ChannelKind::Alipay => alipay_bill::download(&app.config, date).await?,
    };
    let bill = match answer {
        wxpay::BillAnswer::NoTrades => Ok(recon::Bill::default()),
        wxpay::BillAnswer::NotReady => {
            tracing::warn!(%date, "the channel's bill is not generated yet (Bill Creating): reported late");
            Err(recon::Kind::StatementLate)
        }
        wxpay::BillAnswer::Bill(bytes) => {
            let lenient = bug == Bug::ReconSkipsBadLines;
            let parsed = match kind {
                // BUG (recon-skips-bad-lines): whatever can be read is reconciled, the rest
                // skipped.
                ChannelKind::Alipay if lenient => Ok(alipay_bill::parse_lenient(&bytes)),
                ChannelKind::Alipay => alipay_bill::parse(&bytes),
                ChannelKind::Wxpay if lenient => {
                    wechat_bill::parse_bill_text(&String::from_utf8_lossy(&bytes), true)
                }
                ChannelKind::Wxpay => wechat_bill::parse_bill(&bytes),
            };
            parsed.map_err(|e| {
                tracing::warn!(%date, "the channel's bill cannot be read: {e}");
                recon::Kind::StatementUnreadable
            })
        }
    };
    if let Ok(b) = &bill {
        if b.summary_disagrees() {
            tracing::warn!(%date, "the bill's summary ({:?} trades, {:?} fen) does not add up to its {} detail rows", b.summary_count, b.summary_amount_minor, b.rows.len());
        }
    }
    let mut st = app.lock();
    let of_channel = |no: &str| st.orders.get(no).is_some_and(|o| o.kind == kind);
    let books: Vec<(String, i64)> = st
        .payments_on(date)
        .filter(|p| of_channel(&p.out_trade_no))
        .map(|p| (p.out_trade_no.clone(), p.amount_minor))
        .collect();
    let refunds: Vec<i64> = st
        .refunds
        .values()
        .filter(|r| {
            r.state == refunds::RefundState::Success
                && r.business_date == Some(date)
                && of_channel(&r.out_trade_no)
        })
        .map(|r| r.amount_minor)
        .collect();
    let mut report = match &bill {
        Err(kind) => recon::without_statement(&date.to_string(), &channel, &books, *kind),
        Ok(bill) => {
            let mistakes = recon::Mistakes {
                ignore_duplicates: bug == Bug::ReconIgnoresDuplicates,
                ignore_fees: bug == Bug::ReconIgnoresFees,
                amount_tolerance: bug == Bug::ReconAmountTolerance,
                statement_total_from_books: bug == Bug::ReconStatementTotalFromBooks,
                ignore_summary: bug == Bug::ReconIgnoresSummary,
                fee_mismatch_shows_amounts: bug == Bug::ReconFeeMismatchShowsAmounts,
            };
            recon::reconcile(
                &date.to_string(),
                &channel,
                &books,
                bill,
                app.config.fee_rate,
                mistakes,
            )
        }
    };
    report.refunds = recon::RefundReport::new(&refunds, bill.as_ref().ok());
    if bug == Bug::ReconForgetsRefunds {
        // BUG `recon-forgets-refunds`: refunds are left out of the reconciliation.
        let nothing = recon::Bill::default();
        report.refunds = recon::RefundReport::new(&[], bill.as_ref().ok().map(|_| &nothing));
    }
    if let Some(s) = &report.refunds.statement {
        if *s != report.refunds.booked {
            tracing::warn!(%date, booked = ?report.refunds.booked, statement = ?s, "the bill's refunds differ from the refunds booked for the day");
        }
    }
    tracing::info!(%date, booked = report.booked.count, statement = ?report.statement.as_ref().map(|t| t.count), discrepancies = report.discrepancies.len(), "reconciled");
    let v = serde_json::to_value(&report).unwrap_or_default();
    st.reports.insert((date, channel), report);
    Ok(v)
}

/// `GET /reconciliations/{date}[?channel=…]`: the stored report.
pub fn reconciliation_report(app: &App, date: &str, query: &str) -> Result<Value, ApiError> {
    let date = parse_date(date)?;
    let channel = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "channel")
        .map(|(_, v)| sandbank::http::percent_decode(v));
    let (channel, _) = check_channel(app, channel.as_deref())?;
    let st = app.lock();
    let report = st.reports.get(&(date, channel.clone())).ok_or_else(|| {
        ApiError::not_found(format!(
            "no reconciliation of {channel} for {date} yet: POST /reconciliations/run first"
        ))
    })?;
    Ok(serde_json::to_value(report).unwrap_or_default())
}
