//! SWIFT MT940 (customer statement), per docs/protocols.md, "F. MT940", shaped for what the
//! Python `mt-940` package parses ("F.3 What the mt-940 parser needs").
//!
//! ```text
//! :20:STMT260302
//! :25:6222000000000000001
//! :28C:61/1
//! :60F:C260302CNY1000000,00
//! :61:2603020302D100,00NTRFPO20260302001//0302100000123456
//! :86:/EREF/PO20260302001/ACCT/6222…/NAME/…/REMI/payout PO20260302001
//! :62F:C260302CNY999900,00
//! -
//! ```
//!
//! - Amounts use a comma decimal; balances carry `C`/`D`, the date and the currency.
//! - Every `:61:` has the transaction type code `NTRF`: without one, `mt-940` merges
//!   consecutive lines into one transaction (docs/protocols.md, F.3).
//! - The customer reference (16x) is the payout's order number when it fits 16 characters
//!   of the SWIFT `x` set; otherwise `NONREF`. The `:86:` always carries the full order
//!   number as `/EREF/…`. The bank reference after `//` is the bank's own reference, its last
//!   16 characters when longer (SWIFT 16x).
//! - A returned payout (退票) is marked `RD`, the reversal of a debit (a credit).
//! - `:86:` is wrapped at 65 characters and cut at 6 lines (6×65x).
//! - Lines end with `\r\n`; the message ends with a line `-`.
//!
//! MT940 has no entry status, so a `status` mismatch cannot be shown in it (see
//! [`super::mismatch`]).

use super::{Entry, EntryKind, StatementHead, WRITE_BUFFER_BYTES};
use rust_decimal::Decimal;
use std::io::{self, BufWriter, Write};

/// Longest `:86:` line (SWIFT 65x).
pub const LINE_86_CHARS: usize = 65;
/// Most `:86:` lines (SWIFT 6×65x).
pub const LINES_86: usize = 6;

/// `1234,56`.
fn amount(d: Decimal) -> String {
    let mut a = d
        .abs()
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    a.rescale(2);
    // A negated zero would print as `-0.00`.
    a.set_sign_positive(a.is_sign_positive() || a.is_zero());
    a.to_string().replace('.', ",")
}

fn balance_line(tag: &str, date: chrono::NaiveDate, ccy: &str, d: Decimal) -> String {
    format!(
        ":{tag}:{}{}{ccy}{}\r\n",
        if d >= Decimal::ZERO { 'C' } else { 'D' },
        date.format("%y%m%d"),
        amount(d)
    )
}

/// True for characters of the SWIFT `x` set.
fn swift_x(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/-?:().,'+ ".contains(c)
}

/// The `:61:` customer reference for `reference`.
pub fn customer_reference(reference: &str) -> &str {
    let fits = (1..=16).contains(&reference.len())
        && reference.chars().all(swift_x)
        && !reference.contains("//")
        && !reference.starts_with('/')
        && !reference.ends_with('/');
    if fits {
        reference
    } else {
        "NONREF"
    }
}

fn bank_reference(r: &str) -> String {
    let clean: String = r.chars().filter(|c| swift_x(*c) && *c != '/').collect();
    let skip = clean.chars().count().saturating_sub(16);
    clean.chars().skip(skip).collect()
}

/// Stream the statement.
pub fn write_statement<W: Write>(
    out: W,
    head: &StatementHead,
    entries: impl Iterator<Item = Entry>,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(WRITE_BUFFER_BYTES, out);
    let w = &head.window;
    let ccy = head.account.currency.code();
    write!(
        out,
        ":20:STMT{}\r\n:25:{}\r\n:28C:{}/1\r\n",
        w.day.format("%y%m%d"),
        head.account.number,
        head.sequence
    )?;
    out.write_all(balance_line("60F", w.day, ccy, head.opening).as_bytes())?;
    let mut info = String::new();
    for e in entries {
        let date = w.date_of(e.at);
        let mark = match (e.kind, e.is_credit()) {
            (EntryKind::PayoutReturn, _) => "RD",
            (_, true) => "C",
            (_, false) => "D",
        };
        write!(
            out,
            ":61:{}{}{mark}{}NTRF{}//{}\r\n",
            date.format("%y%m%d"),
            date.format("%m%d"),
            amount(e.amount.amount),
            customer_reference(&e.reference),
            bank_reference(&e.issuer_ref)
        )?;
        info.clear();
        info.push_str("/EREF/");
        info.push_str(&e.reference);
        let d = &e.details;
        for (code, value) in [
            ("ACCT", &d.counterparty_account),
            ("NAME", &d.counterparty_name),
            ("REMI", &d.subject),
        ] {
            if !value.is_empty() {
                info.push('/');
                info.push_str(code);
                info.push('/');
                info.extend(
                    value
                        .chars()
                        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c }),
                );
            }
        }
        out.write_all(b":86:")?;
        let chars: Vec<char> = info.chars().take(LINE_86_CHARS * LINES_86).collect();
        for (i, line) in chars.chunks(LINE_86_CHARS).enumerate() {
            if i > 0 {
                out.write_all(b"\r\n")?;
            }
            out.write_all(line.iter().collect::<String>().as_bytes())?;
        }
        out.write_all(b"\r\n")?;
    }
    out.write_all(balance_line("62F", w.day, ccy, head.closing).as_bytes())?;
    out.write_all(b"-\r\n")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_use_a_comma() {
        assert_eq!(amount(Decimal::new(-12345, 2)), "123,45");
        assert_eq!(amount(Decimal::new(1, 0)), "1,00");
    }

    #[test]
    fn long_or_odd_references_become_nonref() {
        assert_eq!(customer_reference("PO20260302001"), "PO20260302001");
        assert_eq!(customer_reference("PAYOUT_2026_03_02_0001"), "NONREF");
        assert_eq!(customer_reference("A_B"), "NONREF");
        assert_eq!(bank_reference("AP20260302100000123456"), "0302100000123456");
    }
}
