//! The Alipay bill, fetched the real way and read strictly: ask
//! `alipay.data.dataservice.bill.downloadurl.query` (RSA2-signed, the answer's signature
//! checked) for the day's `trade` bill, GET the ZIP behind the link it answers (good for
//! 30 s), find its two members by their GBK names (`…_业务明细.csv`, the detail, and
//! `…_业务明细(汇总).csv`, the summary), decode them from GBK, and cut each table out between
//! its opening and closing rule lines, as public readers of real bills do.
//!
//! The result is the same [`Bill`] the WeChat bill reads into: one row per trade (`交易`,
//! status `SUCCESS`, its `订单金额（元）` and fee) or refund (`退款`, status `REFUND`, order
//! amount 0 like WeChat's refund rows, the refund's amount apart), and the footer's and the
//! summary's totals. A bill that cannot be read whole (not a ZIP, a member missing, not GBK,
//! a rule line missing, a row of the wrong width, an amount that is not one) is unreadable.

use crate::alipay::{call, field};
use crate::recon::{Bill, BillError, BillRow};
use crate::wxpay::{BillAnswer, CallError};
use crate::Config;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sandbank::money::{Currency, Money};
use std::io::Read;
use std::str::FromStr;

/// The detail table's rule lines and the summary's, as Alipay writes them.
const DETAIL_OPEN: &str = "业务明细列表";
const DETAIL_CLOSE: &str = "业务明细列表结束";
const SUMMARY_OPEN: &str = "业务汇总列表";
const SUMMARY_CLOSE: &str = "业务汇总列表结束";

/// Largest member we inflate: a day's bill of a busy merchant is tens of MB.
const MAX_MEMBER_BYTES: u64 = 256 * 1024 * 1024;

/// Ask for the day's bill link and download the ZIP behind it. `NotReady` when Alipay says
/// the bill does not exist yet (`isp.bill_not_exist`: it is generated after 09:00 the next
/// day).
pub async fn download(cfg: &Config, date: NaiveDate) -> Result<BillAnswer, CallError> {
    let biz = serde_json::json!({ "bill_type": "trade", "bill_date": date.format("%Y-%m-%d").to_string() });
    let r = call(cfg, "alipay.data.dataservice.bill.downloadurl.query", biz).await?;
    if field(&r, "code") != "10000" {
        if field(&r, "sub_code") == "isp.bill_not_exist" {
            if cfg.bug == crate::Bug::ReconNoBillAsEmpty {
                // BUG `recon-no-bill-as-empty`: 账单不存在 read as "no trades that day",
                // when it means the bill is not generated yet.
                return Ok(BillAnswer::NoTrades);
            }
            return Ok(BillAnswer::NotReady);
        }
        return Err(CallError::Unknown(format!(
            "bill link: {} {} {}",
            field(&r, "code"),
            field(&r, "sub_code"),
            field(&r, "sub_msg")
        )));
    }
    let url = field(&r, "bill_download_url");
    if !url.starts_with("http://") {
        return Err(CallError::Unknown(format!(
            "bill link `{url}` is not http://"
        )));
    }
    let reply = sandbank::http::get(url, cfg.bill_timeout).await?;
    if !reply.status.is_success() {
        return Err(CallError::Unknown(format!(
            "HTTP {} downloading the bill: {}",
            reply.status,
            reply.text()
        )));
    }
    Ok(BillAnswer::Bill(reply.body.to_vec()))
}

fn bad(line: usize, reason: impl Into<String>) -> BillError {
    BillError::BadLine {
        line,
        reason: reason.into(),
    }
}

/// A member's text: GBK, strictly (a byte sequence GBK does not have is an error).
fn gbk_text(bytes: &[u8]) -> Result<String, BillError> {
    encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|t| t.into_owned())
        .ok_or(BillError::NotGbk)
}

/// The two members of the ZIP, as text: (detail, summary).
fn members(zip_bytes: &[u8]) -> Result<(String, String), BillError> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes))
        .map_err(|_| BillError::CutOff("not a whole ZIP"))?;
    let (mut detail, mut summary) = (None, None);
    for i in 0..zip.len() {
        let mut f = zip
            .by_index(i)
            .map_err(|e| bad(0, format!("ZIP member {i}: {e}")))?;
        // Member names are GBK bytes without the UTF-8 flag, as in real downloads.
        let name = gbk_text(f.name_raw())?;
        let mut bytes = Vec::new();
        (&mut f)
            .take(MAX_MEMBER_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| bad(0, format!("{name}: {e}")))?;
        if name.ends_with("_业务明细(汇总).csv") {
            summary = Some(gbk_text(&bytes)?);
        } else if name.ends_with("_业务明细.csv") {
            detail = Some(gbk_text(&bytes)?);
        }
    }
    match (detail, summary) {
        (Some(d), Some(s)) => Ok((d, s)),
        _ => Err(BillError::CutOff(
            "a member (业务明细 or 业务明细(汇总)) is missing",
        )),
    }
}

/// A table's lines (numbered from 1) and the lines after its closing rule.
type Table<'a> = (Vec<(usize, &'a str)>, Vec<&'a str>);

/// The lines between the rule line holding `open` and the one holding `close` (both
/// `#---…---` lines), with their 1-based numbers, and the lines after the closing rule.
fn table<'a>(text: &'a str, open: &str, close: &str) -> Result<Table<'a>, BillError> {
    let is_rule = |l: &str, words: &str| {
        l.starts_with("#-") && l.trim_matches(|c| c == '#' || c == '-') == words
    };
    let lines: Vec<(usize, &str)> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    let start = lines
        .iter()
        .position(|(_, l)| is_rule(l, open))
        .ok_or(BillError::CutOff("no opening rule line"))?;
    let end = lines[start..]
        .iter()
        .position(|(_, l)| is_rule(l, close))
        .map(|i| start + i)
        .ok_or(BillError::CutOff("no closing rule line"))?;
    let after = lines[end + 1..].iter().map(|(_, l)| *l).collect();
    Ok((lines[start + 1..end].to_vec(), after))
}

fn cells(line: &str) -> Vec<&str> {
    line.split(',').map(str::trim).collect()
}

fn fen(text: &str, line: usize, what: &str) -> Result<i64, BillError> {
    Money::parse(text, Currency::Cny)
        .and_then(|m| m.to_minor())
        .map_err(|e| bad(line, format!("{what} `{text}`: {e}")))
}

/// `#交易合计：2笔，商家实收共123.45元，…`: the count and the amount.
fn footer(lines: &[&str], prefix: &str) -> Result<(u64, i64), BillError> {
    let line = lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .ok_or(BillError::CutOff("a #交易合计/#退款合计 line is missing"))?;
    let (count, rest) = line
        .split_once('笔')
        .ok_or_else(|| bad(0, format!("{prefix}{line}")))?;
    let amount = rest
        .split_once('共')
        .and_then(|(_, a)| a.split_once('元'))
        .map(|(a, _)| a)
        .ok_or_else(|| bad(0, format!("{prefix}{line}")))?;
    let count = count
        .parse()
        .map_err(|_| bad(0, format!("{prefix}: count `{count}`")))?;
    Ok((count, fen(amount, 0, prefix)?))
}

/// The detail table's columns we read, found in its header by name.
struct Columns {
    width: usize,
    no: usize,
    kind: usize,
    amount: usize,
    fee: usize,
}

impl Columns {
    fn find(header: &str) -> Result<Columns, BillError> {
        let columns = cells(header);
        let col = |name: &'static str| {
            columns
                .iter()
                .position(|c| *c == name)
                .ok_or(BillError::MissingColumn(name))
        };
        Ok(Columns {
            width: columns.len(),
            no: col("商户订单号")?,
            kind: col("业务类型")?,
            amount: col("订单金额（元）")?,
            fee: col("服务费（元）")?,
        })
    }

    /// Detail line `n`: a trade (`交易`) or a refund (`退款`), or why it is neither.
    fn row(&self, n: usize, line: &str) -> Result<BillRow, BillError> {
        let f = cells(line);
        if f.len() != self.width {
            return Err(bad(
                n,
                format!("{} fields where the header has {}", f.len(), self.width),
            ));
        }
        let amount = fen(f[self.amount], n, "订单金额")?;
        let fee = Decimal::from_str(f[self.fee])
            .map_err(|_| bad(n, format!("服务费 `{}`", f[self.fee])))?;
        match f[self.kind] {
            "交易" => Ok(BillRow {
                out_trade_no: f[self.no].to_string(),
                trade_state: "SUCCESS".into(),
                amount_minor: amount,
                // The service fee is printed negative on a trade: it is taken.
                fee: Some(-fee),
                refund_minor: 0,
            }),
            "退款" => Ok(BillRow {
                out_trade_no: f[self.no].to_string(),
                trade_state: "REFUND".into(),
                amount_minor: 0,
                fee: None,
                refund_minor: amount.saturating_abs(),
            }),
            other => Err(bad(n, format!("业务类型 `{other}`"))),
        }
    }
}

/// Read a downloaded Alipay bill ZIP whole, or say why not.
pub fn parse(zip_bytes: &[u8]) -> Result<Bill, BillError> {
    let (detail, summary) = members(zip_bytes)?;
    let (rows, after) = table(&detail, DETAIL_OPEN, DETAIL_CLOSE)?;
    let Some(((_, header), rows)) = rows.split_first() else {
        return Err(BillError::CutOff("no detail header"));
    };
    let columns = Columns::find(header)?;
    let mut bill = Bill::default();
    for (n, line) in rows.iter().filter(|(_, l)| !l.trim().is_empty()) {
        bill.rows.push(columns.row(*n, line)?);
    }
    let (trades, trade_sum) = footer(&after, "#交易合计：")?;
    let (refunds, refund_sum) = footer(&after, "#退款合计：")?;
    // The summary member's 合计 row: its trade and refund counts must agree with the footer.
    let (srows, _) = table(&summary, SUMMARY_OPEN, SUMMARY_CLOSE)?;
    let total = srows
        .iter()
        .find(|(_, l)| l.starts_with("合计"))
        .ok_or(BillError::CutOff("the summary has no 合计 row"))?;
    let t = cells(total.1);
    let count = |i: usize| {
        t.get(i)
            .and_then(|c| c.parse::<u64>().ok())
            .ok_or_else(|| bad(total.0, format!("summary count in column {}", i + 1)))
    };
    let (s_trades, s_refunds) = (count(2)?, count(3)?);
    // The footer is the statement's own summary; a summary member that disagrees with it
    // counts as a summary that does not add up (one more row than there is).
    let agree = s_trades == trades && s_refunds == refunds;
    bill.summary_count = Some(trades + refunds + u64::from(!agree));
    bill.summary_amount_minor = Some(trade_sum);
    bill.summary_refund_minor = Some(refund_sum.saturating_abs());
    Ok(bill)
}

/// BUG `recon-skips-bad-lines`: read what can be read of the bill and skip the rest — a
/// ZIP that does not open is "no rows", a member that is not GBK is decoded anyway, a
/// missing rule line means "read to the end", a row that does not parse is skipped, and a
/// summary that cannot be found is not checked. A cut-off download then reconciles as a
/// bill with fewer trades (or none), and its trades show as missing at the channel.
pub fn parse_lenient(zip_bytes: &[u8]) -> Bill {
    if let Ok(bill) = parse(zip_bytes) {
        return bill;
    }
    let mut bill = Bill::default();
    let Ok(mut zip) = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)) else {
        return bill;
    };
    for i in 0..zip.len() {
        let Ok(mut f) = zip.by_index(i) else { continue };
        let (name, _, _) = encoding_rs::GBK.decode(f.name_raw());
        if !name.ends_with("_业务明细.csv") {
            continue;
        }
        let mut bytes = Vec::new();
        let _ = (&mut f).take(MAX_MEMBER_BYTES).read_to_end(&mut bytes);
        let (text, _, _) = encoding_rs::GBK.decode(&bytes);
        let lines: Vec<&str> = text.lines().collect();
        let Some(h) = lines.iter().position(|l| l.contains("商户订单号")) else {
            continue;
        };
        let Ok(columns) = Columns::find(lines[h]) else {
            continue;
        };
        for (n, line) in lines.iter().enumerate().skip(h + 1) {
            if line.starts_with('#') {
                break;
            }
            if let Ok(row) = columns.row(n + 1, line) {
                bill.rows.push(row);
            }
        }
    }
    bill
}

#[cfg(test)]
#[path = "alipay_bill_tests.rs"]
mod tests;
