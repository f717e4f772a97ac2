//! The Alipay bill (`alipay.data.dataservice.bill.downloadurl.query`, `bill_type=trade`),
//! per docs/protocols.md, "B.6 Bill file": a ZIP of two CSVs encoded in GBK.
//!
//! - `{account}_{yyyymmdd}_业务明细.csv`: `#支付宝业务明细查询`, the account, the window, a
//!   rule line, the 25-column header, one row per trade or refund, the closing rule, the
//!   `#交易合计` and `#退款合计` footer and `#导出时间`. Text fields end with a TAB before the
//!   comma (Alipay's counterpart of WeChat's backtick); nothing is quoted, so a comma, line
//!   break or double quote inside one is written as a space (docs/statements.md, "Text
//!   fields neither bill can carry"). Refunds are `退款` rows with negative amounts and the
//!   refund request number in `退款批次号/请求号`.
//! - `{account}_{yyyymmdd}_业务明细(汇总).csv`: `#支付宝业务汇总查询`, the same preamble, one
//!   `合计` row of counts and sums, the closing rule and `#导出时间`. Public readers read its
//!   12 columns by name and position; what the amounts in the `合计` row are is our reading
//!   (UNCONFIRMED; docs/protocols.md, B.6).
//!
//! Every fixed line (titles, account, period, the four rule lines, headers, totals, export
//! time) is as public readers of real bills split on it: docs/statements.md, "The Alipay
//! bill's fixed lines".
//!
//! The account (`#账号`) is the partner id plus `0156` (docs/protocols.md, B.6); a channel merchant id is turned
//! into a 16-digit partner id `2088…` by zero-padding. `服务费（元）` is negative on trades
//! (the fee is taken) and positive on refunds (given back) — our reading, UNCONFIRMED.
//! Lines end with `\r\n` (the files come from a Windows ANSI export). Product names that
//! GBK cannot encode come out as `&#NNNN;` references, as the Encoding Standard specifies.
//!
//! The ZIP is written as a stream ([`super::zipstream`]: data descriptors after each member),
//! so nothing but the deflate window and [`super::WRITE_BUFFER_BYTES`] is held. Its member
//! names are GBK bytes without the UTF-8 flag, as in the real downloads (docs/statements.md,
//! "ZIP member names"); [`member_names`] gives them as text.

use super::encode::Transcode;
use super::zipstream::ZipStream;
use super::{Entry, EntryKind, StatementHead, WRITE_BUFFER_BYTES};
use rust_decimal::Decimal;
use std::io::{self, BufWriter, Write};

/// The detail header (25 columns).
pub const DETAIL_HEADER: &str = "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注";

/// The summary header (12 columns, as public readers read them; see the module doc).
pub const SUMMARY_HEADER: &str = "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）";

// The rule lines, byte for byte as public readers of real bills split on them
// (docs/statements.md, "The Alipay bill's fixed lines"): `#`, 41 dashes, the words, then 40
// dashes (`业务明细列表`, `业务汇总列表`) or 36 (`业务明细列表结束`); the summary's closing rule
// alone has 40 dashes before `业务汇总列表结束` and 37 after.
const RULE_OPEN: &str = "#-----------------------------------------业务明细列表----------------------------------------";
const RULE_CLOSE: &str = "#-----------------------------------------业务明细列表结束------------------------------------";
const SUMMARY_RULE_OPEN: &str = "#-----------------------------------------业务汇总列表----------------------------------------";
const SUMMARY_RULE_CLOSE: &str = "#----------------------------------------业务汇总列表结束-------------------------------------";

/// Whether the CSVs inside are GBK (the real bill) or left in UTF-8 (the `encoding`
/// mismatch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvEncoding {
    /// GBK, as Alipay sends it.
    Gbk,
    /// UTF-8: wrong for this bill.
    Utf8,
}

/// The Alipay account a statement is headed with: a partner id (`2088` + 12 digits) plus
/// `0156`.
pub fn account_id(number: &str) -> String {
    if number.starts_with("2088")
        && number.len() == 16
        && number.bytes().all(|b| b.is_ascii_digit())
    {
        return format!("{number}0156");
    }
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let tail = if digits.len() >= 12 {
        digits[digits.len() - 12..].to_string()
    } else {
        format!("{digits:0>12}")
    };
    format!("2088{tail}0156")
}

/// The names of the two members.
pub fn member_names(head: &StatementHead) -> (String, String) {
    let base = format!(
        "{}_{}",
        account_id(&head.account.number),
        head.window.day.format("%Y%m%d")
    );
    (
        format!("{base}_业务明细.csv"),
        format!("{base}_业务明细(汇总).csv"),
    )
}

/// True when the bill lists `e` (trades and refunds; other movements are not in it).
pub fn includes(e: &Entry) -> bool {
    matches!(e.kind, EntryKind::Payment | EntryKind::Refund)
}

fn yuan(d: Decimal) -> String {
    let mut a = d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    a.rescale(2);
    // A negated zero would print as `-0.00`.
    a.set_sign_positive(a.is_sign_positive() || a.is_zero());
    a.to_string()
}

fn chinese_time(head: &StatementHead, t: crate::clock::Instant) -> String {
    t.with_timezone(&head.window.tz)
        .format("%Y年%m月%d日 %H:%M:%S")
        .to_string()
}

/// The characters a text field cannot carry: the bill does not quote its fields, so a comma
/// or a line break would split one, and a double quote would start (or break) a quoted field
/// in a CSV reader.
const UNQUOTABLE: [char; 4] = [',', '\r', '\n', '"'];

/// A text field as the bill writes it: [`UNQUOTABLE`] characters become spaces.
fn text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(UNQUOTABLE) {
        s.replace(UNQUOTABLE, " ").into()
    } else {
        s.into()
    }
}

fn preamble(out: &mut impl Write, head: &StatementHead, title: &str) -> io::Result<()> {
    write!(
        out,
        "{title}\r\n#账号：[{}]\r\n#起始日期：[{}]   终止日期：[{}]\r\n",
        account_id(&head.account.number),
        chinese_time(head, head.window.start),
        chinese_time(head, head.window.end)
    )
}

/// Stream the detail CSV (UTF-8; the caller encodes).
pub fn write_detail<W: Write>(
    out: W,
    head: &StatementHead,
    entries: impl Iterator<Item = Entry>,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(WRITE_BUFFER_BYTES, out);
    preamble(&mut out, head, "#支付宝业务明细查询")?;
    write!(out, "{RULE_OPEN}\r\n{DETAIL_HEADER}\r\n")?;
    let w = &head.window;
    for e in entries {
        let refund = e.kind == EntryKind::Refund;
        let signed = if refund {
            -e.amount.amount.abs()
        } else {
            e.amount.amount.abs()
        };
        let created = e
            .created_at
            .map(|t| w.local_time(t))
            .unwrap_or_else(|| w.local_time(e.at));
        let d = &e.details;
        write!(
            out,
            "{}\t,{}\t,{}\t,{},{},{},\t,\t,\t,\t,{}\t,{},{},0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,{}\t,{},0.00,{}\r\n",
            text(&e.issuer_ref),
            text(&e.reference),
            if refund { "退款" } else { "交易" },
            text(&d.subject),
            created,
            w.local_time(e.at),
            text(&d.payer),
            yuan(signed),
            yuan(signed),
            text(e.refund_reference.as_deref().unwrap_or("")),
            yuan(-e.fee.amount),
            text(&d.attach),
        )?;
    }
    let t = &head.totals;
    write!(
        out,
        "{RULE_CLOSE}\r\n#交易合计：{}笔，商家实收共{}元，商家优惠共0.00元\r\n#退款合计：{}笔，商家实收退款共{}元，商家优惠退款共0.00元\r\n#导出时间：[{}]\r\n",
        t.payment_count,
        yuan(t.payment_sum),
        t.refund_count,
        yuan(-t.refund_sum),
        chinese_time(head, head.created_at)
    )?;
    out.flush()
}

/// Write the summary CSV (UTF-8; the caller encodes).
pub fn write_summary<W: Write>(mut out: W, head: &StatementHead) -> io::Result<()> {
    let t = &head.totals;
    preamble(&mut out, head, "#支付宝业务汇总查询")?;
    let orders = t.payment_sum - t.refund_sum;
    write!(
        out,
        "{SUMMARY_RULE_OPEN}\r\n{SUMMARY_HEADER}\r\n合计\t,\t,{},{},{},{},0.00,0.00,0.00,{},0.00,{}\r\n{SUMMARY_RULE_CLOSE}\r\n#导出时间：[{}]\r\n",
        t.payment_count,
        t.refund_count,
        yuan(orders),
        yuan(orders),
        yuan(-t.fee_sum),
        yuan(orders - t.fee_sum),
        chinese_time(head, head.created_at)
    )?;
    out.flush()
}

/// A member name as the bill stores it: GBK bytes (docs/statements.md, "ZIP member names").
fn gbk_name(name: &str) -> io::Result<Vec<u8>> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(name);
    if unmappable {
        return Err(io::Error::other(format!(
            "{name}: not representable in GBK"
        )));
    }
    Ok(bytes.into_owned())
}

/// Stream the whole bill: a ZIP holding the detail and the summary, each in `encoding`, the
/// member names in GBK without the UTF-8 flag whatever the CSVs' encoding.
pub fn write_bill<W: Write>(
    out: W,
    head: &StatementHead,
    entries: impl Iterator<Item = Entry>,
    encoding: CsvEncoding,
) -> io::Result<()> {
    let mut zip = ZipStream::new(out);
    let (detail, summary) = member_names(head);
    let mut member = zip.member(&gbk_name(&detail)?)?;
    match encoding {
        CsvEncoding::Gbk => {
            let mut enc = Transcode::new(&mut member, encoding_rs::GBK);
            write_detail(&mut enc, head, entries)?;
            enc.finish()?;
        }
        CsvEncoding::Utf8 => write_detail(&mut member, head, entries)?,
    }
    member.finish()?;
    let mut member = zip.member(&gbk_name(&summary)?)?;
    match encoding {
        CsvEncoding::Gbk => {
            let mut enc = Transcode::new(&mut member, encoding_rs::GBK);
            write_summary(&mut enc, head)?;
            enc.finish()?;
        }
        CsvEncoding::Utf8 => write_summary(&mut member, head)?,
    }
    member.finish()?;
    zip.finish()?.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_partner_ids_with_0156() {
        assert_eq!(account_id("10000100"), "20880000100001000156");
        assert_eq!(account_id("2088021109625633"), "20880211096256330156");
        assert_eq!(account_id("2088021109625633").len(), 20);
    }

    /// `#`, `lead` dashes, the words, `tail` dashes.
    fn rule(lead: usize, words: &str, tail: usize) -> String {
        format!("#{}{words}{}", "-".repeat(lead), "-".repeat(tail))
    }

    #[test]
    fn the_rule_lines_have_the_dash_counts_of_the_real_files() {
        assert_eq!(RULE_OPEN, rule(41, "业务明细列表", 40));
        assert_eq!(RULE_CLOSE, rule(41, "业务明细列表结束", 36));
        assert_eq!(SUMMARY_RULE_OPEN, rule(41, "业务汇总列表", 40));
        assert_eq!(SUMMARY_RULE_CLOSE, rule(40, "业务汇总列表结束", 37));
    }

    /// A line read as an RFC 4180 reader reads it: a field that starts with `"` is quoted up
    /// to the next lone `"` (`""` inside is one quote), and only a comma may follow it;
    /// `None` when the line is not well-formed CSV.
    fn csv_fields(line: &str) -> Option<Vec<String>> {
        let mut fields = Vec::new();
        let mut chars = line.chars().peekable();
        loop {
            let mut field = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next()? {
                        '"' if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        '"' => break,
                        c => field.push(c),
                    }
                }
                if !matches!(chars.peek(), None | Some(',')) {
                    return None;
                }
            } else {
                while let Some(c) = chars.next_if(|c| *c != ',') {
                    if c == '"' {
                        return None;
                    }
                    field.push(c);
                }
            }
            fields.push(field);
            if chars.next().is_none() {
                return Some(fields);
            }
        }
    }

    #[test]
    fn a_csv_reader_reads_text_fields_with_quotes_commas_and_line_breaks_in_place() {
        let (head, e) = crate::statements::one_payment(
            "2088021109625633",
            crate::statements::Details {
                subject: "\"Big\" tea, 2\r\npcs".into(),
                attach: "say \"hi".into(),
                ..Default::default()
            },
        );
        let mut out = Vec::new();
        write_detail(&mut out, &head, std::iter::once(e)).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        let at = lines.iter().position(|l| *l == DETAIL_HEADER).unwrap();
        assert_eq!(lines[at + 2], RULE_CLOSE, "one row: {text}");
        let row = csv_fields(lines[at + 1]).expect("well-formed CSV");
        let columns: Vec<&str> = DETAIL_HEADER.split(',').collect();
        assert_eq!(row.len(), columns.len(), "{row:?}");
        let column = |name: &str| &row[columns.iter().position(|c| *c == name).unwrap()];
        assert_eq!(column("商品名称"), " Big  tea  2  pcs");
        assert_eq!(column("备注"), "say  hi");
        assert_eq!(column("商户订单号"), "ORDER1\t");
    }

    #[test]
    fn the_header_has_25_columns() {
        assert_eq!(DETAIL_HEADER.split(',').count(), 25);
    }
}
