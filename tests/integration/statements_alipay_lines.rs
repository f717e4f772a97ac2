//! The fixed lines of the Alipay bill, pinned byte for byte: the title, account and period
//! lines, the rule lines around each table (dash counts spelled out as counts, since a reader
//! that splits on them compares whole lines), the table headers, the detail's totals lines
//! and `#导出时间`. Each is sourced in docs/statements.md, "The Alipay bill's fixed lines".
//!
//! Unlike the golden files (which pin whole members), this names each line, so a change to a
//! line that real readers depend on fails here with the line's name, and the counts can be
//! read off the test.

use sandbank::statements::render::{write_format, Format};
use sandbank::statements::synthetic;
use sandbank::testing as fixture;
use std::io::Read;

/// `#`, `lead` dashes, the words, `tail` dashes.
fn rule(lead: usize, words: &str, tail: usize) -> String {
    format!("#{}{words}{}", "-".repeat(lead), "-".repeat(tail))
}

/// The 25 columns of the detail table.
const DETAIL_HEADER: &str = "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注";

/// The 12 columns of the summary table.
const SUMMARY_HEADER: &str = "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）";

/// The two members (name, text), CSVs decoded from GBK.
fn members(zip_bytes: &[u8]) -> Vec<(String, String)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).expect("a readable ZIP");
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            // The name is GBK bytes without the UTF-8 flag (bit 11 of the general purpose
            // flags, in the local and in the central header), as in the real downloads.
            let flags = |at: u64| {
                let at = at as usize;
                u16::from_le_bytes([zip_bytes[at], zip_bytes[at + 1]])
            };
            assert_eq!(flags(f.header_start() + 6) & (1 << 11), 0, "local header");
            assert_eq!(
                flags(f.central_header_start() + 8) & (1 << 11),
                0,
                "central"
            );
            assert!(std::str::from_utf8(f.name_raw()).is_err(), "not UTF-8");
            let (name, _, bad_name) = encoding_rs::GBK.decode(f.name_raw());
            assert!(!bad_name, "{:?} is not a GBK name", f.name_raw());
            let (text, _, had_errors) = encoding_rs::GBK.decode(&bytes);
            assert!(!had_errors, "{name} is not valid GBK");
            (name.into_owned(), text.into_owned())
        })
        .collect()
}

/// The lines of a member; every line, the last included, ends with CRLF.
fn lines(text: &str) -> Vec<&str> {
    let body = text.strip_suffix("\r\n").expect("the file ends with CRLF");
    let lines: Vec<&str> = body.split("\r\n").collect();
    for l in &lines {
        assert!(!l.contains(['\r', '\n']), "a bare CR or LF in {l:?}");
    }
    lines
}

/// `[YYYY年MM月DD日 HH:MM:SS]`, the bracketed time of the period and export lines.
fn is_bracketed_time(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return false;
    };
    let c: Vec<char> = inner.chars().collect();
    let digits = |r: std::ops::Range<usize>| r.clone().all(|i| c[i].is_ascii_digit());
    c.len() == 20
        && digits(0..4)
        && c[4] == '年'
        && digits(5..7)
        && c[7] == '月'
        && digits(8..10)
        && c[10] == '日'
        && c[11] == ' '
        && digits(12..14)
        && c[14] == ':'
        && digits(15..17)
        && c[17] == ':'
        && digits(18..20)
}

/// What the bill of one day must say in its fixed lines.
struct Expect {
    account: &'static str,
    day: &'static str,
    start: &'static str,
    end: &'static str,
    exported: &'static str,
    trades: usize,
    refunds: usize,
}

/// Sum of the 商家实收（元） column (index 12) of `rows`, as the bill prints yuan.
fn received(rows: &[&str]) -> String {
    let sum: rust_decimal::Decimal = rows
        .iter()
        .map(|r| {
            r.split(',')
                .nth(12)
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    format!("{sum:.2}")
}

fn check(zip_bytes: &[u8], e: &Expect) {
    let m = members(zip_bytes);
    assert_eq!(m.len(), 2, "the detail and the summary");
    assert_eq!(
        [m[0].0.as_str(), m[1].0.as_str()],
        [
            format!("{}_{}_业务明细.csv", e.account, e.day),
            format!("{}_{}_业务明细(汇总).csv", e.account, e.day)
        ],
        "member names"
    );
    let (detail, summary) = (lines(&m[0].1), lines(&m[1].1));

    // The preamble, the same three lines in both but for the title.
    let account = format!("#账号：[{}]", e.account);
    let period = format!(
        "#起始日期：[{}]{}终止日期：[{}]",
        e.start,
        " ".repeat(3),
        e.end
    );
    assert!(is_bracketed_time(&format!("[{}]", e.start)));
    assert!(is_bracketed_time(&format!("[{}]", e.end)));
    assert_eq!(detail[0], "#支付宝业务明细查询", "detail title");
    assert_eq!(summary[0], "#支付宝业务汇总查询", "summary title");
    for (name, l) in [("detail", &detail), ("summary", &summary)] {
        assert_eq!(l[1], account, "{name} account line");
        assert_eq!(l[2], period, "{name} period line (three spaces)");
    }

    // The detail: open rule, header, one row per trade or refund, close rule, totals, export.
    assert_eq!(
        detail[3],
        rule(41, "业务明细列表", 40),
        "detail open rule: # + 41 dashes + 业务明细列表 + 40 dashes"
    );
    assert_eq!(detail[4], DETAIL_HEADER, "detail header");
    let n = e.trades + e.refunds;
    let rows = &detail[5..5 + n];
    assert!(
        rows.iter().all(|r| !r.starts_with('#')),
        "{n} rows, no rule among them"
    );
    assert_eq!(
        detail[5 + n],
        rule(41, "业务明细列表结束", 36),
        "detail close rule: # + 41 dashes + 业务明细列表结束 + 36 dashes"
    );
    let (trades, refunds): (Vec<&str>, Vec<&str>) = rows
        .iter()
        .partition(|r| r.split(',').nth(2) == Some("交易\t"));
    assert_eq!((trades.len(), refunds.len()), (e.trades, e.refunds));
    assert!(refunds
        .iter()
        .all(|r| r.split(',').nth(2) == Some("退款\t")));
    assert_eq!(
        detail[6 + n],
        format!(
            "#交易合计：{}笔，商家实收共{}元，商家优惠共0.00元",
            e.trades,
            received(&trades)
        ),
        "trade totals line"
    );
    assert_eq!(
        detail[7 + n],
        format!(
            "#退款合计：{}笔，商家实收退款共{}元，商家优惠退款共0.00元",
            e.refunds,
            received(&refunds)
        ),
        "refund totals line (the sum is negative or 0.00)"
    );
    let exported = format!("#导出时间：[{}]", e.exported);
    assert!(is_bracketed_time(&exported["#导出时间：".len()..]));
    assert_eq!(detail[8 + n], exported, "detail export line");
    assert_eq!(detail.len(), 9 + n, "nothing after the export line");

    // The summary: open rule, header, the 合计 row, close rule, export.
    assert_eq!(
        summary[3],
        rule(41, "业务汇总列表", 40),
        "summary open rule: # + 41 dashes + 业务汇总列表 + 40 dashes"
    );
    assert_eq!(summary[4], SUMMARY_HEADER, "summary header");
    assert!(
        summary[5].starts_with(&format!("合计\t,\t,{},{},", e.trades, e.refunds)),
        "the 合计 row: {}",
        summary[5]
    );
    assert_eq!(
        summary[6],
        rule(40, "业务汇总列表结束", 37),
        "summary close rule: # + 40 dashes + 业务汇总列表结束 + 37 dashes (not the detail's 41/36)"
    );
    assert_eq!(summary[7], exported, "summary export line");
    assert_eq!(summary.len(), 8, "nothing after the export line");
}

#[test]
fn the_fixed_lines_of_the_fixture_day() {
    let mut zip = Vec::new();
    fixture::world()
        .statement(
            &fixture::merchant(),
            fixture::day(),
            Format::Alipay,
            &mut zip,
        )
        .expect("the fixture day renders");
    check(
        &zip,
        &Expect {
            account: "20880000100001000156",
            day: "20260302",
            start: "2026年03月02日 00:00:00",
            end: "2026年03月03日 00:00:00",
            exported: "2026年03月04日 10:00:00",
            trades: 4,
            refunds: 0,
        },
    );
}

#[test]
fn the_fixed_lines_of_a_day_with_refunds() {
    use synthetic::Flavour::Channel;
    let head = synthetic::head(Channel, 20, |e| Format::Alipay.includes(e));
    let mut zip = Vec::new();
    write_format(
        Format::Alipay,
        &mut zip,
        &head,
        synthetic::entries(Channel, 20).filter(|e| Format::Alipay.includes(e)),
    )
    .unwrap();
    check(
        &zip,
        &Expect {
            account: "20880000100001000156",
            day: "20260302",
            start: "2026年03月02日 00:00:00",
            end: "2026年03月03日 00:00:00",
            exported: "2026年03月03日 06:00:00",
            trades: 18,
            refunds: 2,
        },
    );
}
