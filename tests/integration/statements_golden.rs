//! Golden files: each statement format pinned byte for byte (the Alipay ZIP by its decoded
//! members, since deflate output is the compressor's business), from the fixture world and
//! from synthetic days with refunds and returns. A difference prints the first differing
//! lines; `UPDATE_GOLDEN=1 cargo test --test integration statements_golden` rewrites the files.

use sandbank::statements::render::{write_format, BillType, Format};
use sandbank::statements::{alipay, camt053, synthetic, Source};
use sandbank::testing as fixture;
use std::io::Read;
use std::path::PathBuf;

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/statements")
        .join(name)
}

/// Compare `actual` with the golden file `name`, with a readable line diff on failure.
fn assert_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let (e, a): (Vec<&str>, Vec<&str>) =
        (expected.split('\n').collect(), actual.split('\n').collect());
    let first = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    let mut report = format!(
        "{name} differs from its golden file at line {}:\n",
        first + 1
    );
    for i in first.saturating_sub(2)..(first + 3).min(e.len().max(a.len())) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => report.push_str(&format!("   {x}\n")),
            (x, y) => {
                if let Some(x) = x {
                    report.push_str(&format!(" - {x}\n"));
                }
                if let Some(y) = y {
                    report.push_str(&format!(" + {y}\n"));
                }
            }
        }
    }
    report.push_str("(UPDATE_GOLDEN=1 rewrites the golden files if the change is intended)");
    panic!("{report}");
}

fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("the file is UTF-8")
}

/// The two members of an Alipay bill, decoded from GBK.
fn alipay_members(zip_bytes: &[u8]) -> Vec<(String, String)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).expect("a readable ZIP");
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            // The name is GBK bytes without the UTF-8 flag, as in the real downloads.
            let (name, _, bad_name) = encoding_rs::GBK.decode(f.name_raw());
            assert!(!bad_name, "{:?} is not a GBK name", f.name_raw());
            let (text, _, had_errors) = encoding_rs::GBK.decode(&bytes);
            assert!(!had_errors, "{name} is not valid GBK");
            (name.into_owned(), text.into_owned())
        })
        .collect()
}

fn world_file(source: &Source, format: Format) -> Vec<u8> {
    let st = fixture::world();
    let mut out = Vec::new();
    st.statement(source, fixture::day(), format, &mut out)
        .expect("the fixture day renders");
    out
}

fn synthetic_file(flavour: synthetic::Flavour, n: u64, format: Format) -> Vec<u8> {
    let head = synthetic::head(flavour, n, |e| format.includes(e));
    let mut out = Vec::new();
    write_format(
        format,
        &mut out,
        &head,
        synthetic::entries(flavour, n).filter(|e| format.includes(e)),
    )
    .unwrap();
    out
}

#[test]
fn wechat_bill_of_the_fixture_day() {
    assert_golden(
        "wechat_all_20260302.csv",
        &utf8(world_file(
            &fixture::merchant(),
            Format::Wechat(BillType::All),
        )),
    );
}

#[test]
fn wechat_bills_with_refunds() {
    use synthetic::Flavour::Channel;
    assert_golden(
        "wechat_all_synthetic.csv",
        &utf8(synthetic_file(Channel, 20, Format::Wechat(BillType::All))),
    );
    assert_golden(
        "wechat_success_synthetic.csv",
        &utf8(synthetic_file(
            Channel,
            20,
            Format::Wechat(BillType::Success),
        )),
    );
    assert_golden(
        "wechat_refund_synthetic.csv",
        &utf8(synthetic_file(
            Channel,
            20,
            Format::Wechat(BillType::Refund),
        )),
    );
}

#[test]
fn alipay_bill_of_the_fixture_day() {
    let members = alipay_members(&world_file(&fixture::merchant(), Format::Alipay));
    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "20880000100001000156_20260302_业务明细.csv",
            "20880000100001000156_20260302_业务明细(汇总).csv"
        ]
    );
    assert_golden("alipay_detail_20260302.csv", &members[0].1);
    assert_golden("alipay_summary_20260302.csv", &members[1].1);
}

#[test]
fn alipay_bill_with_refunds() {
    let members = alipay_members(&synthetic_file(
        synthetic::Flavour::Channel,
        20,
        Format::Alipay,
    ));
    assert_golden("alipay_detail_synthetic.csv", &members[0].1);
    assert_golden("alipay_summary_synthetic.csv", &members[1].1);
    let (detail, _) =
        alipay::member_names(&synthetic::head(synthetic::Flavour::Channel, 20, |e| {
            Format::Alipay.includes(e)
        }));
    assert_eq!(members[0].0, detail);
}

#[test]
fn camt053_of_the_fixture_day() {
    assert_golden(
        "camt053_02_20260302.xml",
        &utf8(world_file(
            &fixture::bank_account(),
            Format::Camt053(camt053::Version::V02),
        )),
    );
    assert_golden(
        "camt053_08_20260302.xml",
        &utf8(world_file(
            &fixture::bank_account(),
            Format::Camt053(camt053::Version::V08),
        )),
    );
}

#[test]
fn mt940_of_the_fixture_day() {
    assert_golden(
        "mt940_20260302.sta",
        &utf8(world_file(&fixture::bank_account(), Format::Mt940)),
    );
}

#[test]
fn bank_statements_with_returns() {
    use synthetic::Flavour::Bank;
    assert_golden(
        "camt053_02_synthetic.xml",
        &utf8(synthetic_file(
            Bank,
            20,
            Format::Camt053(camt053::Version::V02),
        )),
    );
    assert_golden(
        "mt940_synthetic.sta",
        &utf8(synthetic_file(Bank, 20, Format::Mt940)),
    );
}

/// The ZIP itself is reproducible too: a fixed member timestamp, no randomness.
#[test]
fn alipay_zip_is_reproducible() {
    let a = world_file(&fixture::merchant(), Format::Alipay);
    let b = world_file(&fixture::merchant(), Format::Alipay);
    assert_eq!(a, b);
    assert_eq!(&a[..4], b"PK\x03\x04");
}
