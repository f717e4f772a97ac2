//! Unit tests of `mt940.rs`.

use super::*;
use crate::money::{Currency, Money};
use crate::statements::{Details, EntryStatus};

#[test]
fn amounts_use_a_comma_and_fit_15d() {
    assert_eq!(amount(Decimal::new(-12345, 2)).unwrap(), "123,45");
    assert_eq!(amount(Decimal::new(1, 0)).unwrap(), "1,00");
    assert_eq!(
        amount(Decimal::new(99_999_999_999_999, 2)).unwrap(),
        "999999999999,99"
    );
    assert!(amount(Decimal::new(1_000_000_000_000, 0)).is_err());
}

#[test]
fn long_or_odd_references_become_nonref() {
    assert_eq!(customer_reference("PO20260302001"), "PO20260302001");
    assert_eq!(customer_reference("PAYOUT_2026_03_02_0001"), "NONREF");
    assert_eq!(customer_reference("A_B"), "NONREF");
    assert_eq!(customer_reference("A/B"), "NONREF");
    assert_eq!(customer_reference(""), "NONREF");
    assert_eq!(customer_reference("A B"), "NONREF");
    assert_eq!(
        bank_reference("AP20260302100000123456"),
        "//0302100000123456"
    );
    assert_eq!(bank_reference("bank-7"), "//bank-7");
    assert_eq!(bank_reference("张_/ "), "");
}

#[test]
fn escapes_round_trip_and_stay_in_the_x_set() {
    for value in [
        "PAYOUT_2026_03_02_0001",
        "张三",
        "欧阳 娜娜",
        "a/b?c",
        "tab\there\r\n",
        "emoji 😀",
        "",
    ] {
        let e = escape(value);
        assert!(e.chars().all(swift_x), "{e}");
        assert_eq!(unescape(&e).as_deref(), Some(value));
    }
    assert_eq!(escape("A_1"), "A?5F1");
    assert_eq!(escape("张"), "?E5?BC?A0");
    assert_eq!(unescape("?5"), None);
    assert_eq!(unescape("?zz"), None);
    assert_eq!(unescape("?FF"), None, "not UTF-8");
}

#[test]
fn statement_references_differ_per_account_and_day() {
    let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let a = statement_reference("bank", "6222000000000000001", day);
    let b = statement_reference("bank", "6222000000000000002", day);
    let c = statement_reference("bank", "6222010000000000001", day);
    let d = statement_reference("bank2", "6222000000000000001", day);
    assert!(
        a.starts_with("2603020001") && b.starts_with("2603020002"),
        "{a} {b}"
    );
    for r in [&a, &b, &c, &d] {
        assert_eq!(r.len(), 16);
        assert!(r
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    }
    assert!(a != b && a != c && a != d && c != d);
    assert_eq!(a, statement_reference("bank", "6222000000000000001", day));
    assert_eq!(&statement_reference("b", "X", day)[6..10], "000X");
}

fn entry(reference: &str, name: &str, subject: &str) -> Entry {
    Entry {
        at: crate::clock::day_window(chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()).start,
        created_at: None,
        kind: EntryKind::Payout,
        status: EntryStatus::Booked,
        reference: reference.into(),
        issuer_ref: "AP1".into(),
        refund_reference: None,
        refund_id: None,
        amount: Money::from_minor(-100, Currency::Cny),
        fee: Money::zero(Currency::Cny),
        details: Details {
            counterparty_name: name.into(),
            subject: subject.into(),
            ..Details::default()
        },
    }
}

/// The `:86:` text of `e`, and its value per code after joining and unescaping.
fn field_of(e: &Entry) -> (String, Vec<(String, String)>) {
    let mut f = Field86::new();
    information(&mut f, e);
    let joined = f.text.replace("\r\n", "");
    let mut parts = joined.split('/');
    assert_eq!(parts.next(), Some(""));
    let mut values = Vec::new();
    while let (Some(code), Some(value)) = (parts.next(), parts.next()) {
        values.push((code.to_string(), unescape(value).expect("well-formed")));
    }
    (f.text, values)
}

#[test]
fn the_86_field_keeps_its_lines_inside_the_rules_and_its_values_whole() {
    let long_name = "上海某某网络科技有限公司".repeat(2);
    let cases = [
        entry(
            "PAYOUT_2026_03_02_0001",
            "张三",
            "payout PAYOUT_2026_03_02_0001",
        ),
        entry("PO1", &long_name, "x"),
        // Spaces at the cut, a double space, and `:`/`-` where a line would begin.
        entry("PO2", &format!("{}  b", "a".repeat(58)), &"-:".repeat(40)),
    ];
    for e in &cases {
        let (text, values) = field_of(e);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert!((1..=LINES_86).contains(&lines.len()), "{text}");
        for (i, line) in lines.iter().enumerate() {
            assert!((1..=LINE_86_CHARS).contains(&line.len()), "{line:?}");
            assert!(line.chars().all(swift_x), "{line:?}");
            assert!(!line.starts_with(' ') && !line.ends_with(' '), "{line:?}");
            assert!(!line.contains("  "), "{line:?}");
            if i > 0 {
                assert!(!line.starts_with(':') && !line.starts_with('-'), "{line:?}");
            }
        }
        assert_eq!(values[0], ("EREF".into(), e.reference.clone()));
        let name = &values.iter().find(|(c, _)| c == "NAME").unwrap().1;
        assert_eq!(name, &e.details.counterparty_name);
    }
    // Six lines cannot hold it all: the field is cut at a character, and what is there
    // still decodes.
    let e = entry("PO3", &"张".repeat(60), "never shown");
    let (text, values) = field_of(&e);
    assert_eq!(text.split("\r\n").count(), LINES_86);
    let name = &values[1].1;
    assert!(
        name.chars().all(|c| c == '张') && name.len() < 60 * 3,
        "{name}"
    );
    assert_eq!(values.len(), 2);
}
