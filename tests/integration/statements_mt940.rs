//! MT940 inside the SWIFT rules. Every statement below is checked line by line by a checker
//! written here from the SWIFT field formats, not from the writer: only bytes of the `x`
//! character set and CrLf; each field's lines, line lengths and line count (`:20:` 16x,
//! `:25:` 35x, `:28C:` 5n[/5n], balances with 15d amounts, `:61:` with its 16x references
//! and 34x second line, `:86:` 6×65x); no line inside a field starting with `:` or `-`; the
//! fields in MT940's order; a message ending with `-`. The files: the fixture world's two
//! days (a returned payout), synthetic days with returns and with refunds, and a world of
//! two accounts at one bank whose payees have Chinese names and whose order numbers contain
//! `_` — served over TCP, where the two statements of one day must have different `:20:`.
//!
//! Then the rule by which sandbank carries what the `x` set cannot hold (docs/statements.md,
//! "MT940 and the SWIFT character set"), decoded here independently: join a `:86:`'s lines,
//! split at `/` into `/CODE/value`, turn each `?XX` back into its byte — and the order
//! number, refund number, payee account and name come back exactly as the ledger, the
//! payout request and the camt.053 of the same day have them.

use crate::common::*;
use hyper::StatusCode;
use regex::Regex;
use sandbank::statements::render::{write_format, Format};
use sandbank::statements::synthetic;
use sandbank::testing as fixture;
use serde_json::json;

/// One `:61:` and its `:86:`.
#[derive(Debug, Clone)]
struct Line {
    /// `C`, `D`, `RC` or `RD`.
    mark: String,
    /// As written (`100,00`).
    amount: String,
    customer_reference: String,
    bank_reference: Option<String>,
    /// The `:86:` lines.
    info: Vec<String>,
}

/// One message.
#[derive(Debug, Clone)]
struct Statement {
    reference: String,
    account: String,
    lines: Vec<Line>,
}

/// The fields of one message: `(tag, lines)`.
type Fields = Vec<(String, Vec<String>)>;

fn x_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"/-?:().,'+ ".contains(&b)
}

/// 16x as a reference: no `/` at either end and no `//` (SWIFT network validated rule T26).
fn reference_16x(what: &str, r: &str) -> Result<(), String> {
    if !(1..=16).contains(&r.len()) || r.starts_with('/') || r.ends_with('/') || r.contains("//") {
        return Err(format!("{what} `{r}` is not a 16x reference"));
    }
    Ok(())
}

/// `[CD]YYMMDDCCC` and a 15d amount.
fn balance(tag: &str, v: &str) -> Result<(), String> {
    let re = Regex::new(r"^[CD][0-9]{6}[A-Z]{3}([0-9]+,[0-9]*)$").unwrap();
    match re.captures(v) {
        Some(c) if c[1].len() <= 15 => Ok(()),
        _ => Err(format!(
            ":{tag}: `{v}` is not [CD]YYMMDD, a currency and a 15d amount"
        )),
    }
}

fn single_line<'a>(tag: &str, lines: &'a [String]) -> Result<&'a str, String> {
    match lines {
        [one] => Ok(one),
        _ => Err(format!(":{tag}: has {} lines, 1 allowed", lines.len())),
    }
}

/// Check `bytes` against the SWIFT rules and read its messages.
fn swift_check(bytes: &[u8]) -> Result<Vec<Statement>, String> {
    if let Some(b) = bytes.iter().find(|b| !x_char(**b) && !b"\r\n".contains(b)) {
        return Err(format!(
            "byte 0x{b:02X} is outside the SWIFT x character set"
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let Some(body) = text.strip_suffix("\r\n") else {
        return Err("the file does not end with CrLf".into());
    };
    let lines: Vec<&str> = body.split("\r\n").collect();
    if let Some(l) = lines.iter().find(|l| l.contains('\r') || l.contains('\n')) {
        return Err(format!("a lone CR or LF in {l:?}: lines end with CrLf"));
    }
    let tag_re = Regex::new(r"^:([0-9]{2}[A-Z]?):(.*)$").unwrap();
    let mut statements = Vec::new();
    let mut fields: Fields = Vec::new();
    for line in lines {
        if line == "-" {
            statements.push(message(std::mem::take(&mut fields))?);
        } else if let Some(c) = tag_re.captures(line) {
            fields.push((c[1].to_string(), vec![c[2].to_string()]));
        } else if line.starts_with(':') || line.starts_with('-') {
            return Err(format!(
                "{line:?}: a line inside a field starts with `:` or `-`"
            ));
        } else {
            match fields.last_mut() {
                Some((_, ls)) => ls.push(line.to_string()),
                None => return Err(format!("{line:?} comes before any field")),
            }
        }
    }
    if !fields.is_empty() {
        return Err("the last message does not end with a line `-`".into());
    }
    if statements.is_empty() {
        return Err("no message".into());
    }
    Ok(statements)
}

/// One message's fields, in MT940's order: 20 [21] 25 28C 60a {61 [86]} 62a [64] {65} [86].
fn message(fields: Fields) -> Result<Statement, String> {
    let line61 = Regex::new(
        r"^([0-9]{6})([0-9]{4})?(RC|RD|C|D)([A-Z])?([0-9]+,[0-9]*)([NFS][A-Z0-9]{3})(.+)$",
    )
    .unwrap();
    let mut it = fields.into_iter().peekable();
    let mut next = |want: &[&str]| -> Result<(String, Vec<String>), String> {
        match it.next() {
            Some((tag, lines)) if want.contains(&tag.as_str()) => Ok((tag, lines)),
            Some((tag, _)) => Err(format!(":{tag}: where {want:?} belongs")),
            None => Err(format!("the message ends where {want:?} belongs")),
        }
    };
    let (_, l) = next(&["20"])?;
    let reference = single_line("20", &l)?.to_string();
    reference_16x(":20:", &reference)?;
    let (mut tag, mut l) = next(&["21", "25"])?;
    if tag == "21" {
        reference_16x(":21:", single_line("21", &l)?)?;
        (tag, l) = next(&["25"])?;
    }
    let account = single_line(&tag, &l)?.to_string();
    if !(1..=35).contains(&account.len()) {
        return Err(format!(":25: `{account}` is not 35x"));
    }
    let (_, l) = next(&["28C"])?;
    let seq = single_line("28C", &l)?;
    if !Regex::new(r"^[0-9]{1,5}(/[0-9]{1,5})?$")
        .unwrap()
        .is_match(seq)
    {
        return Err(format!(":28C: `{seq}` is not 5n[/5n]"));
    }
    let (tag, l) = next(&["60F", "60M"])?;
    balance(&tag, single_line(&tag, &l)?)?;
    let mut lines: Vec<Line> = Vec::new();
    loop {
        let (tag, l) = next(&["61", "86", "62F", "62M"])?;
        match tag.as_str() {
            "61" => {
                if l.len() > 2 {
                    return Err(format!(":61: has {} lines, 2 allowed", l.len()));
                }
                if let Some(extra) = l.get(1) {
                    if !(1..=34).contains(&extra.len()) {
                        return Err(format!(":61: supplementary details {extra:?} are not 34x"));
                    }
                }
                let c = line61
                    .captures(&l[0])
                    .ok_or_else(|| format!(":61: `{}` does not have the 61 layout", l[0]))?;
                if c[5].len() > 15 {
                    return Err(format!(":61: amount {} is not 15d", &c[5]));
                }
                let refs = &c[7];
                let (customer, bank) = match refs.split_once("//") {
                    Some((cu, ba)) => (cu, Some(ba)),
                    None => (refs, None),
                };
                reference_16x(":61: customer reference", customer)?;
                if let Some(b) = bank {
                    if !(1..=16).contains(&b.len()) {
                        return Err(format!(":61: bank reference `{b}` is not 16x"));
                    }
                }
                lines.push(Line {
                    mark: c[3].to_string(),
                    amount: c[5].to_string(),
                    customer_reference: customer.to_string(),
                    bank_reference: bank.map(str::to_string),
                    info: Vec::new(),
                });
            }
            "86" => {
                if !(1..=6).contains(&l.len()) {
                    return Err(format!(":86: has {} lines, 6 allowed", l.len()));
                }
                if let Some(long) = l.iter().find(|x| !(1..=65).contains(&x.len())) {
                    return Err(format!(
                        ":86: line {long:?} is {} bytes, 1–65 allowed",
                        long.len()
                    ));
                }
                match lines.last_mut() {
                    Some(last) if last.info.is_empty() => last.info = l,
                    _ => return Err(":86: without a :61: of its own".into()),
                }
            }
            _ => {
                balance(&tag, single_line(&tag, &l)?)?;
                break;
            }
        }
    }
    while let Some((tag, l)) = it.next() {
        match tag.as_str() {
            "64" | "65" => balance(&tag, single_line(&tag, &l)?)?,
            "86" if it.peek().is_none() && l.len() <= 6 => {}
            _ => return Err(format!(":{tag}: after the closing balance")),
        }
    }
    Ok(Statement {
        reference,
        account,
        lines,
    })
}

// ------------------------------------------------------------------ the carrying rule

/// The `:86:` subfields as docs/statements.md says to read them: the lines joined, split at
/// `/` into `/CODE/value`, every `?XX` turned back into its byte, the bytes read as UTF-8.
/// Also holds the lines to what keeps readers that trim or squeeze spaces exact: none starts
/// or ends with a space, none has two in a row.
fn decode_86(info: &[String]) -> Vec<(String, String)> {
    for l in info {
        assert!(
            !l.starts_with(' ') && !l.ends_with(' ') && !l.contains("  "),
            "{l:?}"
        );
    }
    let joined = info.concat();
    let mut parts = joined.split('/');
    assert_eq!(parts.next(), Some(""), "{joined}: starts with a code");
    let mut out = Vec::new();
    while let Some(code) = parts.next() {
        let value = parts
            .next()
            .unwrap_or_else(|| panic!("{joined}: `{code}` without value"));
        let mut bytes = Vec::new();
        let mut rest = value.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            if b == b'?' {
                let hex = std::str::from_utf8(&tail[..2]).unwrap();
                bytes.push(u8::from_str_radix(hex, 16).unwrap());
                rest = &tail[2..];
            } else {
                bytes.push(b);
                rest = tail;
            }
        }
        out.push((code.to_string(), String::from_utf8(bytes).unwrap()));
    }
    out
}

fn value_of<'a>(subfields: &'a [(String, String)], code: &str) -> Option<&'a str> {
    subfields
        .iter()
        .find(|(c, _)| c == code)
        .map(|(_, v)| v.as_str())
}

fn check(bytes: &[u8]) -> Vec<Statement> {
    swift_check(bytes).unwrap_or_else(|e| {
        panic!(
            "outside the SWIFT rules: {e}\n{}",
            String::from_utf8_lossy(bytes)
        )
    })
}

fn world_mt940(day: chrono::NaiveDate) -> Vec<u8> {
    let mut out = Vec::new();
    fixture::world()
        .statement(&fixture::bank_account(), day, Format::Mt940, &mut out)
        .unwrap();
    out
}

fn synthetic_mt940(flavour: synthetic::Flavour, n: u64) -> Vec<u8> {
    let head = synthetic::head(flavour, n, |_| true);
    let mut out = Vec::new();
    write_format(
        Format::Mt940,
        &mut out,
        &head,
        synthetic::entries(flavour, n),
    )
    .unwrap();
    out
}

// ------------------------------------------------------------------------- tests

#[test]
fn the_fixture_days_are_inside_the_swift_rules_and_carry_the_payees_exactly() {
    let day1 = fixture::day();
    let (s,) = match check(&world_mt940(day1)).as_slice() {
        [s] => (s.clone(),),
        other => panic!("{} messages", other.len()),
    };
    assert_eq!(s.account, "6222000000000000001");
    let names: Vec<String> = s
        .lines
        .iter()
        .map(|l| {
            let sub = decode_86(&l.info);
            assert_eq!(value_of(&sub, "EREF"), Some(l.customer_reference.as_str()));
            value_of(&sub, "NAME").unwrap().to_string()
        })
        .collect();
    assert_eq!(names, ["张三", "李四", "王五", "李四"]);
    assert_eq!(s.lines[3].mark, "RD", "the return");
    let day2 = check(&world_mt940(day1.succ_opt().unwrap()));
    assert_ne!(day2[0].reference, s.reference, "one :20: per day");
}

#[test]
fn synthetic_days_with_returns_and_with_refunds_are_inside_the_swift_rules() {
    use synthetic::Flavour::{Bank, Channel};
    let bank = check(&synthetic_mt940(Bank, 200));
    let entries: Vec<_> = synthetic::entries(Bank, 200).collect();
    assert_eq!(bank[0].lines.len(), entries.len());
    let returns = bank[0].lines.iter().filter(|l| l.mark == "RD").count();
    assert_eq!(returns, 10);
    for (l, e) in bank[0].lines.iter().zip(&entries) {
        let sub = decode_86(&l.info);
        assert_eq!(value_of(&sub, "EREF"), Some(e.reference.as_str()));
        assert_eq!(
            value_of(&sub, "NAME"),
            Some(e.details.counterparty_name.as_str())
        );
        assert_eq!(value_of(&sub, "REMI"), Some(e.details.subject.as_str()));
    }
    // A merchant's day, as a bank statement would list it: refunds carry their refund
    // number, products with Chinese names.
    let channel = check(&synthetic_mt940(Channel, 200));
    let entries: Vec<_> = synthetic::entries(Channel, 200).collect();
    let mut refunds = 0;
    for (l, e) in channel[0].lines.iter().zip(&entries) {
        let sub = decode_86(&l.info);
        assert_eq!(value_of(&sub, "EREF"), Some(e.reference.as_str()));
        assert_eq!(value_of(&sub, "RFND"), e.refund_reference.as_deref());
        assert_eq!(value_of(&sub, "REMI"), Some(e.details.subject.as_str()));
        if e.refund_reference.is_some() {
            refunds += 1;
            assert_eq!(l.mark, "D");
        }
        assert_eq!(
            l.amount.replace(',', "."),
            e.amount.amount.abs().to_string()
        );
    }
    assert_eq!(refunds, 20);
}

/// What the two clients pay out: (client, key, order number, fen, payee account, payee name).
const PAYOUTS: [(&str, &str, &str, i64, &str, &str); 5] = [
    (
        "20000100",
        BANK_KEY,
        "PAYOUT_2026_03_02_0001",
        10_000,
        "6228480000000000011",
        "欧阳娜娜",
    ),
    (
        "20000100",
        BANK_KEY,
        "PAYOUT_2026_03_02_0002",
        25_050,
        "6228480000000000012",
        "上海某某网络科技有限公司",
    ),
    (
        "20000100",
        BANK_KEY,
        "PO20260302A03",
        888,
        "6228480000000000013",
        "Li Si",
    ),
    (
        "20000200",
        SECOND_KEY,
        "B_20260302_0001",
        12_345,
        "6228480000000000021",
        "张三",
    ),
    (
        "20000200",
        SECOND_KEY,
        "B_20260302_0002",
        100,
        "6228480000000000022",
        "王五/Wang Wu?  (李)",
    ),
];
const SECOND_KEY: &str = "5d41402abc4b2a76b9719d911017c592";
const FIRST_ACCOUNT: &str = "6222000000000000001";
const SECOND_ACCOUNT: &str = "6222020000000000001";
/// The payout the beneficiary's bank returns (退票).
const RETURNED: &str = "PAYOUT_2026_03_02_0002";

#[tokio::test]
async fn two_accounts_with_chinese_payees_and_underscored_orders_over_tcp() {
    let w = start_toml(include_str!("../../scenarios/statements-two-accounts.toml")).await;
    for (client, key, order, fen, account, name) in PAYOUTS {
        let fields = json!({
            "mchId": client,
            "mchOrderNo": order,
            "amount": fen,
            "accountAttr": "0",
            "bankName": "中国工商银行",
            "accountName": name,
            "accountNo": account,
            "bankNumber": "102100099996",
            "reqTime": "20260302100000",
            "version": "1.0",
        });
        let r = w
            .bank_raw("agentpay/apply", bank_request(fields, key), REQUEST_TIMEOUT)
            .await
            .unwrap();
        assert_eq!(json_of(&r)["status"], "PROCESSING", "{}", r.text());
    }
    w.advance("1m").await;
    let (status, v) = w
        .ctl_post(
            &format!("banks/bank/payouts/{RETURNED}/return"),
            json!({"reason": "ACCOUNT_FROZEN"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = w.ctl_post("clock", json!({"to": "2026-03-03 10:00"})).await;
    assert_eq!(status, StatusCode::OK, "{v}");

    let mut references = Vec::new();
    for (account, client) in [(FIRST_ACCOUNT, "20000100"), (SECOND_ACCOUNT, "20000200")] {
        let r = w
            .ctl_get_raw(&format!(
                "statements/bank/2026-03-02?format=mt940&account={account}"
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let statements = check(&r.body);
        let [s] = statements.as_slice() else {
            panic!("{} messages", statements.len())
        };
        assert_eq!(s.account, account);
        references.push(s.reference.clone());

        // The lines in booking order: the client's payouts, then the return.
        let mut expected: Vec<_> = PAYOUTS
            .iter()
            .filter(|p| p.0 == client)
            .map(|p| (p, "D"))
            .collect();
        if let Some(p) = PAYOUTS.iter().find(|p| p.0 == client && p.2 == RETURNED) {
            expected.push((p, "RD"));
        }
        assert_eq!(s.lines.len(), expected.len(), "{s:?}");
        let (_, camt) = w
            .ctl_get_text(&format!(
                "statements/bank/2026-03-02?format=camt053.08&account={account}"
            ))
            .await;
        for (line, ((_, _, order, fen, payee, name), mark)) in s.lines.iter().zip(&expected) {
            assert_eq!(line.mark, *mark, "{order}");
            assert_eq!(line.amount, format!("{},{:02}", fen / 100, fen % 100));
            let customer = if order.contains('_') { "NONREF" } else { order };
            assert_eq!(line.customer_reference, customer);
            assert!(line.bank_reference.is_some());
            let sub = decode_86(&line.info);
            assert_eq!(value_of(&sub, "EREF"), Some(*order), "{sub:?}");
            assert_eq!(value_of(&sub, "ACCT"), Some(*payee), "{sub:?}");
            assert_eq!(value_of(&sub, "NAME"), Some(*name), "{sub:?}");
            // The camt.053 of the same day has the same values as they are (UTF-8 XML).
            assert!(camt.contains(&format!("<EndToEndId>{order}</EndToEndId>")));
            assert!(camt.contains(&format!("<Nm>{name}</Nm>")), "{name}");
        }
    }
    assert_ne!(
        references[0], references[1],
        "two accounts' statements of one day share a :20:"
    );
}

/// Any text in any of an entry's fields — references, payee, remittance text: control
/// characters, `/`, `?`, `:` and `-` where a line would begin, runs of spaces, CJK, emoji —
/// gives a file inside the SWIFT rules whose `:86:` values read back as the text itself, or
/// as its beginning when six lines could not hold the field.
#[test]
fn any_text_stays_inside_the_rules_and_reads_back() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    use sandbank::money::{Currency, Money};
    use sandbank::statements::{Details, Entry, EntryKind, EntryStatus};

    let text = prop_oneof![
        "[a-zA-Z0-9 :/?()._,'+-]{0,70}",
        "[ :?/_张三😀\t-]{0,40}",
        any::<String>(),
    ];
    let entry = (
        text.clone(),
        proptest::option::of(text.clone()),
        text.clone(),
        text.clone(),
        text.clone(),
        text,
    )
        .prop_map(|(reference, refund, account, name, subject, issuer)| {
            let day = synthetic::day();
            Entry {
                at: sandbank::statements::day_window(day).start,
                created_at: None,
                kind: if refund.is_some() {
                    EntryKind::Refund
                } else {
                    EntryKind::Payout
                },
                status: EntryStatus::Booked,
                reference,
                issuer_ref: issuer,
                refund_reference: refund,
                refund_id: None,
                amount: Money::from_minor(-1234, Currency::Cny),
                fee: Money::zero(Currency::Cny),
                details: Details {
                    counterparty_account: account,
                    counterparty_name: name,
                    subject,
                    ..Details::default()
                },
            }
        });
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(512);
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
    .run(&proptest::collection::vec(entry, 1..4), |entries| {
        let head = synthetic::head(synthetic::Flavour::Bank, 0, |_| true);
        let mut out = Vec::new();
        write_format(Format::Mt940, &mut out, &head, entries.iter().cloned()).unwrap();
        let statements = swift_check(&out)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&out))))?;
        prop_assert_eq!(statements[0].lines.len(), entries.len());
        for (line, e) in statements[0].lines.iter().zip(&entries) {
            let got = decode_86(&line.info);
            let want: Vec<(&str, &str)> = [
                ("EREF", Some(e.reference.as_str())),
                ("RFND", e.refund_reference.as_deref()),
                ("ACCT", Some(e.details.counterparty_account.as_str())),
                ("NAME", Some(e.details.counterparty_name.as_str())),
                ("REMI", Some(e.details.subject.as_str())),
            ]
            .into_iter()
            .filter_map(|(c, v)| Some((c, v?)))
            .filter(|(c, v)| *c == "EREF" || !v.is_empty())
            .collect();
            prop_assert!(got.len() <= want.len());
            let whole = line.info.len() < 6;
            for ((code, value), (want_code, want_value)) in got.iter().zip(&want) {
                prop_assert_eq!(code, want_code);
                if whole {
                    prop_assert_eq!(value, want_value);
                } else {
                    prop_assert!(want_value.starts_with(value.as_str()), "{value:?}");
                }
            }
            if whole {
                prop_assert_eq!(got.len(), want.len());
            }
            let customer = &line.customer_reference;
            prop_assert!(customer == "NONREF" || customer == &e.reference);
        }
        Ok(())
    })
    .unwrap();
}

/// The checker itself fails on what it exists to catch.
#[test]
fn the_checker_refuses_what_strict_readers_garble() {
    let good = ":20:REF\r\n:25:1\r\n:28C:1/1\r\n:60F:C260302CNY1,00\r\n\
                :61:2603020302D1,00NTRFPO1//B1\r\n:86:/EREF/PO1\r\n:62F:C260302CNY0,00\r\n-\r\n";
    assert!(swift_check(good.as_bytes()).is_ok());
    for (bad, why) in [
        (good.replace("/EREF/PO1", "/NAME/张三"), "0xE5"),
        (good.replace("/EREF/PO1", "/EREF/PO_1"), "0x5F"),
        (
            good.replace("/EREF/PO1", &format!("/EREF/{}", "A".repeat(60))),
            "66 bytes",
        ),
        (good.replace("/EREF/PO1", &["A"; 7].join("\r\n")), "7 lines"),
        (good.replace("/EREF/PO1", "A\r\n-B"), "starts with"),
        (good.replace(":20:REF", ":20:REFERENCE-TOO-LONG"), "16x"),
        (good.replace("\r\n:25", "\n:25"), "lone CR or LF"),
        (good.replace("CNY1,00", "CNY1234567890123,00"), "15d"),
    ] {
        let e = swift_check(bad.as_bytes()).expect_err(&bad);
        assert!(e.contains(why), "{why}: {e}");
    }
}
