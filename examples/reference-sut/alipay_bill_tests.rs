//! Tests of `alipay_bill.rs`: the bill sandbank writes, and every way it can be broken.

use super::*;
use sandbank::statements::render::{write_format, Format};
use sandbank::statements::zipstream::ZipStream;
use sandbank::statements::{synthetic, Entry, EntryKind};

/// A day of `n` synthetic entries (every 10th a refund of the one before, Chinese
/// subjects, a comma in one) and the bill sandbank writes for it.
fn day(n: u64) -> (Vec<Entry>, Vec<u8>) {
    let flavour = synthetic::Flavour::Channel;
    let entries: Vec<Entry> = synthetic::entries(flavour, n)
        .filter(|e| Format::Alipay.includes(e))
        .collect();
    let head = synthetic::head(flavour, n, |e| Format::Alipay.includes(e));
    let mut zip = Vec::new();
    write_format(Format::Alipay, &mut zip, &head, entries.iter().cloned()).unwrap();
    (entries, zip)
}

fn minor(e: &Entry) -> i64 {
    e.amount.to_minor().unwrap().abs()
}

/// The members of `zip` as (GBK-decoded name, GBK-decoded text).
fn unzip(zip_bytes: &[u8]) -> Vec<(String, String)> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let name = gbk_text(f.name_raw()).unwrap();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            (name, gbk_text(&bytes).unwrap())
        })
        .collect()
}

/// A ZIP of `members` as Alipay writes it: names and texts as the given bytes.
fn zip_of(members: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut z = ZipStream::new(Vec::new());
    for (name, bytes) in members {
        let mut m = z.member(name).unwrap();
        std::io::Write::write_all(&mut m, bytes).unwrap();
        m.finish().unwrap();
    }
    z.finish().unwrap()
}

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable, "{text} has characters GBK lacks");
    bytes.into_owned()
}

/// The bill of `zip` with each member's text passed through `edit` (by member name),
/// written back in GBK.
fn edited(zip: &[u8], edit: impl Fn(&str, String) -> String) -> Vec<u8> {
    let members: Vec<(Vec<u8>, Vec<u8>)> = unzip(zip)
        .into_iter()
        .map(|(name, text)| (gbk(&name), gbk(&edit(&name, text))))
        .collect();
    zip_of(&members)
}

fn is_detail(name: &str) -> bool {
    name.ends_with("_业务明细.csv")
}

#[test]
fn the_bill_sandbank_writes_is_read_row_by_row() {
    let (entries, zip) = day(40);
    let bill = parse(&zip).unwrap();
    assert_eq!(bill.rows.len(), entries.len());
    for (row, e) in bill.rows.iter().zip(&entries) {
        assert_eq!(row.out_trade_no, e.reference);
        if e.kind == EntryKind::Refund {
            assert_eq!(
                (row.trade_state.as_str(), row.amount_minor, row.refund_minor),
                ("REFUND", 0, minor(e)),
                "{e:?}"
            );
            assert_eq!(row.fee, None);
        } else {
            assert_eq!(
                (row.trade_state.as_str(), row.amount_minor, row.refund_minor),
                ("SUCCESS", minor(e), 0),
                "{e:?}"
            );
            assert_eq!(row.fee, Some(e.fee.amount.abs()), "{e:?}");
        }
    }
    let refunds: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Refund)
        .collect();
    assert!(!refunds.is_empty() && refunds.len() < entries.len());
    let refund_total: i64 = refunds.iter().map(|e| minor(e)).sum();
    let t = bill.refund_totals();
    assert_eq!(
        (t.count, t.amount),
        (refunds.len(), crate::recon::major(refund_total))
    );
    let paid: i64 = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Payment)
        .map(minor)
        .sum();
    assert_eq!(bill.summary_count, Some(entries.len() as u64));
    assert_eq!(bill.summary_amount_minor, Some(paid));
    assert_eq!(bill.summary_refund_minor, Some(refund_total));
    assert!(!bill.summary_disagrees());
}

#[test]
fn members_are_found_by_their_gbk_names() {
    let (_, zip) = day(3);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&zip[..])).unwrap();
    for i in 0..archive.len() {
        // GBK bytes, not UTF-8: the reader must decode them itself.
        assert!(std::str::from_utf8(archive.by_index(i).unwrap().name_raw()).is_err());
    }
    assert_eq!(parse(&zip).unwrap().rows.len(), 3);
    // The same members under UTF-8 names: names that are not GBK.
    let utf8_names: Vec<(Vec<u8>, Vec<u8>)> = unzip(&zip)
        .into_iter()
        .map(|(name, text)| (name.into_bytes(), gbk(&text)))
        .collect();
    assert_eq!(parse(&zip_of(&utf8_names)), Err(BillError::NotGbk));
    // Without its summary member the bill is not whole.
    let detail_only: Vec<(Vec<u8>, Vec<u8>)> = unzip(&zip)
        .into_iter()
        .filter(|(name, _)| is_detail(name))
        .map(|(name, text)| (gbk(&name), gbk(&text)))
        .collect();
    assert!(matches!(
        parse(&zip_of(&detail_only)),
        Err(BillError::CutOff(_))
    ));
}

#[test]
fn a_missing_closing_rule_makes_the_bill_unreadable() {
    let (_, zip) = day(5);
    assert!(parse(&edited(&zip, |_, t| t)).is_ok());
    for member in ["detail", "summary"] {
        let cut = edited(&zip, |name, text| {
            if is_detail(name) != (member == "detail") {
                return text;
            }
            let close = if member == "detail" {
                DETAIL_CLOSE
            } else {
                SUMMARY_CLOSE
            };
            text.lines()
                .filter(|l| !l.contains(close))
                .map(|l| format!("{l}\r\n"))
                .collect()
        });
        assert_eq!(
            parse(&cut),
            Err(BillError::CutOff("no closing rule line")),
            "{member}"
        );
    }
}

#[test]
fn a_truncated_zip_is_unreadable() {
    let (_, zip) = day(20);
    for keep in [0, 30, zip.len() / 2, zip.len() - 1] {
        assert_eq!(
            parse(&zip[..keep]),
            Err(BillError::CutOff("not a whole ZIP")),
            "kept {keep} of {} bytes",
            zip.len()
        );
    }
}

#[test]
fn a_summary_that_does_not_add_up_is_read_as_such() {
    let (entries, zip) = day(12);
    let paid: i64 = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Payment)
        .map(minor)
        .sum();
    // The footer states one fen more than the rows add up to.
    let footer_off = edited(&zip, |name, text| {
        if !is_detail(name) {
            return text;
        }
        let stated = format!("商家实收共{}元", crate::recon::major(paid));
        assert!(text.contains(&stated), "{text}");
        text.replace(
            &stated,
            &format!("商家实收共{}元", crate::recon::major(paid + 1)),
        )
    });
    let bill = parse(&footer_off).unwrap();
    assert_eq!(bill.summary_amount_minor, Some(paid + 1));
    assert!(bill.summary_disagrees());
    // The summary member counts another trade than the footer.
    let trades = entries.len() as u64 - 1; // one refund in 12
    let count_off = edited(&zip, |name, text| {
        if is_detail(name) {
            return text;
        }
        let row = format!("合计\t,\t,{trades},1,");
        assert!(text.contains(&row), "{text}");
        text.replace(&row, &format!("合计\t,\t,{},1,", trades + 1))
    });
    assert!(parse(&count_off).unwrap().summary_disagrees());
    assert!(!parse(&zip).unwrap().summary_disagrees());
}

#[test]
fn a_bill_not_in_gbk_is_unreadable() {
    let (_, zip) = day(4);
    // Both CSVs left in UTF-8 (an export on the wrong code page).
    let utf8: Vec<(Vec<u8>, Vec<u8>)> = unzip(&zip)
        .into_iter()
        .map(|(name, text)| (gbk(&name), text.into_bytes()))
        .collect();
    assert_eq!(parse(&zip_of(&utf8)), Err(BillError::NotGbk));
    // A byte GBK does not have (0x80, 0xFF) in the detail.
    let mut members: Vec<(Vec<u8>, Vec<u8>)> = unzip(&zip)
        .into_iter()
        .map(|(name, text)| (gbk(&name), gbk(&text)))
        .collect();
    for (name, bytes) in members.iter_mut() {
        if is_detail(&gbk_text(name).unwrap()) {
            bytes.extend_from_slice(&[0xff, 0x80]);
        }
    }
    assert_eq!(parse(&zip_of(&members)), Err(BillError::NotGbk));
}

#[test]
fn a_row_that_is_not_one_makes_the_bill_unreadable() {
    let (entries, zip) = day(3);
    let first = &entries[0].reference;
    for (what, edit) in [
        ("a field more", ",extra\r\n"),
        ("an amount that is not one", "1.005"),
    ] {
        let broken = edited(&zip, |name, text| {
            if !is_detail(name) {
                return text;
            }
            text.lines()
                .map(|l| {
                    if !l.contains(first.as_str()) {
                        return format!("{l}\r\n");
                    }
                    match edit {
                        ",extra\r\n" => format!("{l},extra\r\n"),
                        _ => {
                            let yuan = crate::recon::major(minor(&entries[0]));
                            format!("{}\r\n", l.replacen(&format!(",{yuan},"), ",1.005,", 1))
                        }
                    }
                })
                .collect()
        });
        assert!(
            matches!(parse(&broken), Err(BillError::BadLine { .. })),
            "{what}: {:?}",
            parse(&broken)
        );
    }
}

#[test]
fn the_lenient_mutant_reads_a_broken_bill_as_fewer_rows() {
    let (entries, zip) = day(10);
    assert_eq!(parse_lenient(&zip).rows.len(), entries.len());
    let cut = parse_lenient(&zip[..zip.len() / 2]);
    assert!(cut.rows.is_empty() && cut.summary_count.is_none());
}
