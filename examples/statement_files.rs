//! Write the statement files of the fixture world, and of a synthetic day with refunds, into
//! a directory, with `truth.json` — what the ledger says they must contain, read straight
//! from the ledger postings (not through the statement model) — for the parser tests in
//! `tests/parsers/` to hold the files against.
//!
//! ```text
//! cargo run --example statement_files -- OUTDIR
//! ```

use sandbank::clock::SHANGHAI;
use sandbank::ledger::PostingKind;
use sandbank::statements::render::{write_format, BillType, Format};
use sandbank::statements::{camt053, day_window, synthetic, Entry, EntryKind};
use sandbank::testing as fixture;
use serde_json::{json, Value};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// Entries of the synthetic day: small enough to read, with refunds.
const SYNTHETIC_ENTRIES: u64 = 25;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: statement_files OUTDIR"))?;
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir)?;
    let st = fixture::world();
    let days = [
        fixture::day(),
        fixture::day().succ_opt().unwrap_or_default(),
    ];

    let mut files = Vec::new();
    for day in days {
        let d = day.format("%Y%m%d");
        for (name, source, format) in [
            (
                format!("wechat_all_{d}.csv"),
                fixture::merchant(),
                Format::Wechat(BillType::All),
            ),
            (
                format!("alipay_{d}.zip"),
                fixture::merchant(),
                Format::Alipay,
            ),
            (
                format!("camt053_02_{d}.xml"),
                fixture::bank_account(),
                Format::Camt053(camt053::Version::V02),
            ),
            (
                format!("camt053_08_{d}.xml"),
                fixture::bank_account(),
                Format::Camt053(camt053::Version::V08),
            ),
            (
                format!("mt940_{d}.sta"),
                fixture::bank_account(),
                Format::Mt940,
            ),
        ] {
            st.statement(
                &source,
                day,
                format,
                BufWriter::new(File::create(dir.join(&name))?),
            )?;
            files.push(name);
        }
    }

    // The truth, from the ledger's postings.
    let mut world = serde_json::Map::new();
    for day in days {
        let w = day_window(day);
        let merchant = "channel:wxpay:merchant:10000100";
        let payments: Vec<Value> = st
            .core
            .ledger
            .for_account(merchant)
            .filter(|p| w.contains(p.at) && p.kind == PostingKind::Payment)
            .map(|p| {
                let amount = p
                    .legs
                    .iter()
                    .find(|l| l.account == merchant)
                    .map(|l| l.amount.amount)
                    .unwrap_or_default();
                let fee: rust_decimal::Decimal = st
                    .core
                    .ledger
                    .by_reference(&p.reference)
                    .filter(|q| q.kind == PostingKind::Fee && q.instance == p.instance)
                    .flat_map(|q| q.legs.iter())
                    .filter(|l| l.account == merchant)
                    .map(|l| -l.amount.amount)
                    .sum();
                json!({
                    "out_trade_no": p.reference,
                    "amount": amount.to_string(),
                    "fee": fee.to_string(),
                    "time": p.at.with_timezone(&SHANGHAI).format("%Y-%m-%d %H:%M:%S").to_string(),
                })
            })
            .collect();
        let account = "bank:bank:account:6222000000000000001";
        let opening: rust_decimal::Decimal = st
            .core
            .ledger
            .for_account(account)
            .filter(|p| p.kind == PostingKind::Opening || p.at < w.start)
            .flat_map(|p| p.legs.iter())
            .filter(|l| l.account == account)
            .map(|l| l.amount.amount)
            .sum();
        let movements: Vec<Value> = st
            .core
            .ledger
            .for_account(account)
            .filter(|p| w.contains(p.at) && p.kind != PostingKind::Opening)
            .map(|p| {
                let amount = p.legs.iter().find(|l| l.account == account).map(|l| l.amount.amount).unwrap_or_default();
                json!({"reference": p.reference, "amount": amount.to_string(), "kind": p.kind, "date": p.at.with_timezone(&SHANGHAI).date_naive()})
            })
            .collect();
        let closing = opening
            + movements
                .iter()
                .map(|m| {
                    m["amount"]
                        .as_str()
                        .unwrap_or("0")
                        .parse::<rust_decimal::Decimal>()
                        .unwrap_or_default()
                })
                .sum::<rust_decimal::Decimal>();
        world.insert(
            day.format("%Y%m%d").to_string(),
            json!({
                "wechat_payments": payments,
                "bank": {"account": "6222000000000000001", "currency": "CNY", "opening": opening.to_string(), "closing": closing.to_string(), "movements": movements},
            }),
        );
    }

    // A synthetic channel day with refunds (the world makes none yet).
    let synth: Vec<Entry> =
        synthetic::entries(synthetic::Flavour::Channel, SYNTHETIC_ENTRIES).collect();
    for (name, format) in [
        ("synthetic_wechat_all.csv", Format::Wechat(BillType::All)),
        (
            "synthetic_wechat_success.csv",
            Format::Wechat(BillType::Success),
        ),
        (
            "synthetic_wechat_refund.csv",
            Format::Wechat(BillType::Refund),
        ),
        ("synthetic_alipay.zip", Format::Alipay),
    ] {
        let head = synthetic::head(synthetic::Flavour::Channel, SYNTHETIC_ENTRIES, |e| {
            format.includes(e)
        });
        write_format(
            format,
            BufWriter::new(File::create(dir.join(name))?),
            &head,
            synth.iter().filter(|e| format.includes(e)).cloned(),
        )?;
        files.push(name.to_string());
    }
    let synthetic_rows: Vec<Value> = synth
        .iter()
        .map(|e| {
            json!({
                "kind": if e.kind == EntryKind::Refund { "refund" } else { "payment" },
                "out_trade_no": e.reference,
                "transaction_id": e.issuer_ref,
                "out_refund_no": e.refund_reference,
                "amount": e.amount.amount.to_string(),
                "fee": e.fee.amount.to_string(),
                "subject": e.subject_for_csv(),
                "time": local(e.at),
                "refund_requested": e.details.refund_requested_at.map(local),
            })
        })
        .collect();

    let truth = json!({ "files": files, "world": world, "synthetic": synthetic_rows });
    std::fs::write(
        dir.join("truth.json"),
        serde_json::to_string_pretty(&truth)?,
    )?;
    println!(
        "wrote {} files and truth.json to {}",
        files.len(),
        dir.display()
    );
    Ok(())
}

/// `t` as the bills print it, in Beijing time.
fn local(t: sandbank::clock::Instant) -> String {
    t.with_timezone(&SHANGHAI)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The product name as the bills print it (commas become spaces).
trait SubjectForCsv {
    fn subject_for_csv(&self) -> String;
}

impl SubjectForCsv for Entry {
    fn subject_for_csv(&self) -> String {
        self.details.subject.replace(',', " ")
    }
}
