//! SWIFT MT940 (customer statement), per docs/protocols.md, "F. MT940", shaped for what the
//! Python `mt-940` package parses ("F.3 What the mt-940 parser needs") and held to the SWIFT
//! field rules that strict readers (mt940-js, mt940-rs) apply ("F.4 Inside the SWIFT rules").
//!
//! ```text
//! :20:2603020001LJ4LVS
//! :25:6222000000000000001
//! :28C:61/1
//! :60F:C260302CNY1000000,00
//! :61:2603020302D100,00NTRFPO20260302001//0302100000167070
//! :86:/EREF/PO20260302001/ACCT/6228480000000000001/NAME/?E5?BC?A0
//! ?E4?B8?89/REMI/payout PO20260302001
//! :62F:C260302CNY999900,00
//! -
//! ```
//!
//! - **Every byte is in the SWIFT `x` character set** (`a–z A–Z 0–9 / - ? : ( ) . , ' +`
//!   and space) or a CrLf line end, so a line's length in bytes is its length in characters.
//! - `:20:` (16x) is unique per account and day: the date, the account's last four letters
//!   or digits and six base-36 characters of a hash of the bank and account ([`statement_reference`]).
//! - `:25:` is the account number (35x).
//! - Amounts use a comma decimal and fit SWIFT's 15d (at most 12 integer digits); balances
//!   carry `C`/`D`, the date and the currency.
//! - Every `:61:` has the transaction type code `NTRF`: without one, `mt-940` merges
//!   consecutive lines into one transaction (docs/protocols.md, F.3).
//! - The customer reference (16x) is the order number when it is 1–16 characters of the
//!   `x` set without `/` or space; otherwise `NONREF`. The bank reference after `//` is the
//!   bank's own reference, its last 16 `x` characters when longer (left out when none is left).
//! - A returned payout (退票) is marked `RD`, the reversal of a debit (a credit).
//! - `:86:` (6×65x) is a run of `/CODE/value` subfields — `EREF` (the order number, in
//!   full), `RFND` (a refund's merchant refund number), `ACCT`, `NAME`, `REMI` — each value
//!   written with [`escape`]: the `x` characters other than `/` and `?` stand for
//!   themselves, every other character is `?` and two hex digits per UTF-8 byte (`_` is
//!   `?5F`, `张` is `?E5?BC?A0`). Lines are cut at 65 bytes, never inside a character; a
//!   line never starts with `:`, `-` or a space and never ends with a space (that character
//!   is escaped instead), and a second space in a row is escaped, so readers that trim or
//!   squeeze spaces keep the value. Joining the lines and undoing the escapes ([`unescape`])
//!   gives back every value exactly, unless 6 lines did not hold it all: the field is then
//!   cut at a character boundary (the order number comes first).
//! - Lines end with `\r\n`; the message ends with a line `-`.
//!
//! MT940 has no entry status, so a `status` mismatch cannot be shown in it (see
//! [`super::mismatch`]).

use super::{Entry, EntryKind, StatementHead, WRITE_BUFFER_BYTES};
use rust_decimal::Decimal;
use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};

/// Longest `:86:` line (SWIFT 65x).
pub const LINE_86_CHARS: usize = 65;
/// Most `:86:` lines (SWIFT 6×65x).
pub const LINES_86: usize = 6;
/// Longest `:20:` transaction reference and `:61:` customer and bank references (16x).
pub const REFERENCE_CHARS: usize = 16;
/// Longest `:25:` account identification (35x).
pub const ACCOUNT_CHARS: usize = 35;
/// Longest amount, decimal comma included (SWIFT 15d).
pub const AMOUNT_CHARS: usize = 15;

/// True for characters of the SWIFT `x` set (CrLf aside).
pub fn swift_x(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/-?:().,'+ ".contains(c)
}

/// True for the characters a `:86:` value carries as themselves: the `x` set less `/` (it
/// opens a subfield code) and `?` (it opens an escape).
fn plain(c: char) -> bool {
    swift_x(c) && c != '/' && c != '?'
}

fn push_escaped(out: &mut String, c: char) {
    let mut utf8 = [0; 4];
    for b in c.encode_utf8(&mut utf8).bytes() {
        // Writing to a String cannot fail.
        let _ = write!(out, "?{b:02X}");
    }
}

/// `value` inside the SWIFT `x` set, reversibly: `plain` characters as themselves, every
/// other character as `?XX` per UTF-8 byte (upper-case hex). `PAY_1/张` → `PAY?5F1?2F?E5?BC?A0`.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if plain(c) {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
    }
    out
}

/// The value [`escape`] (or a `:86:` value, its lines joined) stands for; `None` when an
/// escape is malformed or the bytes are not UTF-8.
pub fn unescape(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'?' {
            let hex = tail.get(..2)?;
            let hex = std::str::from_utf8(hex).ok()?;
            if !hex
                .bytes()
                .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(&h))
            {
                return None;
            }
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// `1234,56`, or an error when it does not fit SWIFT's 15d.
fn amount(d: Decimal) -> io::Result<String> {
    let mut a = d
        .abs()
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    a.rescale(2);
    // A negated zero would print as `-0.00`.
    a.set_sign_positive(a.is_sign_positive() || a.is_zero());
    let text = a.to_string().replace('.', ",");
    if text.len() > AMOUNT_CHARS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("MT940: the amount {a} does not fit SWIFT's 15 characters (15d)"),
        ));
    }
    Ok(text)
}

fn balance_line(tag: &str, date: chrono::NaiveDate, ccy: &str, d: Decimal) -> io::Result<String> {
    Ok(format!(
        ":{tag}:{}{}{ccy}{}\r\n",
        if d >= Decimal::ZERO { 'C' } else { 'D' },
        date.format("%y%m%d"),
        amount(d)?
    ))
}

/// The `:61:` customer reference for `reference`: itself when it is 1–16 characters of the
/// `x` set without `/` or space (strict readers end the customer reference at the first `/`
/// or `//`; a space would be trimmed), else `NONREF`.
pub fn customer_reference(reference: &str) -> &str {
    let fits = (1..=REFERENCE_CHARS).contains(&reference.len())
        && reference
            .chars()
            .all(|c| swift_x(c) && c != '/' && c != ' ');
    if fits {
        reference
    } else {
        "NONREF"
    }
}

/// `//` and the bank's reference, its last 16 characters of the `x` set without `/` or
/// space; nothing when none is left (the bank reference is optional).
fn bank_reference(r: &str) -> String {
    let clean: Vec<char> = r
        .chars()
        .filter(|c| swift_x(*c) && *c != '/' && *c != ' ')
        .collect();
    if clean.is_empty() {
        return String::new();
    }
    let tail = &clean[clean.len().saturating_sub(REFERENCE_CHARS)..];
    std::iter::once('/')
        .chain(std::iter::once('/'))
        .chain(tail.iter().copied())
        .collect()
}

/// FNV-1a, 64 bits, over `a`, a zero byte and `b`: a stable hash with no seed.
fn fnv1a(a: &str, b: &str) -> u64 {
    a.bytes()
        .chain([0])
        .chain(b.bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, byte| {
            (h ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

/// The `:20:` transaction reference of the statement of `account` at bank `instance` for
/// `day`: `YYMMDD`, the last four letters or digits of the account (upper case, `0`-padded)
/// and six base-36 characters of a hash of the bank and the account — 16 characters of
/// `A–Z 0–9`. Two accounts differ unless they end alike *and* their 31-bit hashes collide.
pub fn statement_reference(instance: &str, account: &str, day: chrono::NaiveDate) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = day.format("%y%m%d").to_string();
    let tail: Vec<char> = account
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let tail = &tail[tail.len().saturating_sub(4)..];
    out.extend(std::iter::repeat_n('0', 4 - tail.len()));
    out.extend(tail);
    let mut h = fnv1a(instance, account) % 36u64.pow(6);
    let mut code = [b'0'; 6];
    for slot in code.iter_mut().rev() {
        *slot = DIGITS[(h % 36) as usize];
        h /= 36;
    }
    out.extend(code.iter().map(|&b| char::from(b)));
    out
}

/// The `:25:` account identification: the account number escaped into the `x` set (a
/// scenario's account numbers are letters and digits, so this is the number itself), cut
/// to 35 characters.
fn account_identification(number: &str) -> String {
    let mut out = String::new();
    for c in number.chars() {
        let before = out.len();
        if plain(c) {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
        if out.len() > ACCOUNT_CHARS {
            out.truncate(before);
            break;
        }
    }
    out
}

/// A `:86:` field being filled: lines of at most 65 bytes, at most 6 of them, joined by
/// CrLf. Characters go in one at a time and are never split across lines.
struct Field86 {
    /// The field's text after `:86:`, CrLf between lines.
    text: String,
    /// Bytes on the current line.
    line: usize,
    /// Lines started.
    lines: usize,
    /// Nothing more fits.
    full: bool,
    /// The last character written was a space written as itself.
    after_space: bool,
}

impl Field86 {
    fn new() -> Self {
        Field86 {
            text: String::with_capacity(LINE_86_CHARS * 2),
            line: 0,
            lines: 1,
            full: false,
            after_space: false,
        }
    }

    fn clear(&mut self) {
        self.text.clear();
        self.line = 0;
        self.lines = 1;
        self.full = false;
        self.after_space = false;
    }

    /// Room for `n` more bytes, on this line or a new one; false when the field is full.
    /// A space the line would end with moves to the new line, escaped.
    fn room(&mut self, n: usize) -> bool {
        if self.full {
            return false;
        }
        if self.line + n <= LINE_86_CHARS {
            return true;
        }
        if self.lines == LINES_86 {
            self.full = true;
            return false;
        }
        let moved = self.text.ends_with(' ');
        if moved {
            self.text.pop();
        }
        self.text.push_str("\r\n");
        self.lines += 1;
        self.line = 0;
        self.after_space = false;
        if moved {
            self.text.push_str("?20");
            self.line = 3;
        }
        true
    }

    /// A subfield code, `/CODE/`, kept on one line.
    fn code(&mut self, code: &str) {
        let n = code.len() + 2;
        if self.room(n) {
            self.text.push('/');
            self.text.push_str(code);
            self.text.push('/');
            self.line += n;
            self.after_space = false;
        }
    }

    /// One character of a value.
    fn char(&mut self, c: char) {
        // `c` goes as itself unless it is outside the plain set, a `:`, `-` or space opening
        // a line, or a second space in a row.
        let as_itself = |f: &Field86| {
            plain(c)
                && !(f.line == 0 && matches!(c, ':' | '-' | ' '))
                && !(c == ' ' && f.after_space)
        };
        let escaped = 3 * c.len_utf8();
        if !self.room(if as_itself(self) { 1 } else { escaped }) {
            return;
        }
        // `room` may have begun a line, where `c` may have to be escaped after all; a fresh
        // line (at most a moved `?20` on it) has room for any escape.
        if as_itself(self) {
            self.text.push(c);
            self.line += 1;
            self.after_space = c == ' ';
        } else {
            debug_assert!(self.line + escaped <= LINE_86_CHARS);
            push_escaped(&mut self.text, c);
            self.line += escaped;
            self.after_space = false;
        }
    }

    /// End the field: a space it would end with is escaped (or dropped when nothing fits).
    fn finish(&mut self) {
        if self.text.ends_with(' ') {
            self.text.pop();
            self.line -= 1;
            self.after_space = false;
            self.full = false;
            if self.room(3) {
                self.text.push_str("?20");
                self.line += 3;
            }
        }
    }
}

/// Fill `field` with the `:86:` subfields of `e`.
fn information(field: &mut Field86, e: &Entry) {
    field.clear();
    let d = &e.details;
    let subfields = [
        ("EREF", Some(e.reference.as_str())),
        ("RFND", e.refund_reference.as_deref()),
        ("ACCT", Some(d.counterparty_account.as_str())),
        ("NAME", Some(d.counterparty_name.as_str())),
        ("REMI", Some(d.subject.as_str())),
    ];
    for (code, value) in subfields {
        let Some(value) = value else { continue };
        if value.is_empty() && code != "EREF" {
            continue;
        }
        field.code(code);
        for c in value.chars() {
            field.char(c);
        }
    }
    field.finish();
}

/// Stream the statement.
pub fn write_statement<W: Write>(
    out: W,
    head: &StatementHead,
    entries: impl Iterator<Item = Entry>,
) -> io::Result<()> {
    let w = &head.window;
    let ccy = head.account.currency.code();
    // Every amount is at most one of these, so checking them first keeps a statement that
    // cannot be written from starting.
    for (what, d) in [
        ("opening balance", head.opening),
        ("closing balance", head.closing),
        ("sum of credits", head.totals.credit_sum),
        ("sum of debits", head.totals.debit_sum),
    ] {
        amount(d).map_err(|e| io::Error::new(e.kind(), format!("{what}: {e}")))?;
    }
    let mut out = BufWriter::with_capacity(WRITE_BUFFER_BYTES, out);
    write!(
        out,
        ":20:{}\r\n:25:{}\r\n:28C:{}/1\r\n",
        statement_reference(&head.account.instance, &head.account.number, w.day),
        account_identification(&head.account.number),
        head.sequence
    )?;
    out.write_all(balance_line("60F", w.day, ccy, head.opening)?.as_bytes())?;
    let mut info = Field86::new();
    for e in entries {
        let date = w.date_of(e.at);
        let mark = match (e.kind, e.is_credit()) {
            (EntryKind::PayoutReturn, _) => "RD",
            (_, true) => "C",
            (_, false) => "D",
        };
        write!(
            out,
            ":61:{}{}{mark}{}NTRF{}{}\r\n",
            date.format("%y%m%d"),
            date.format("%m%d"),
            amount(e.amount.amount)?,
            customer_reference(&e.reference),
            bank_reference(&e.issuer_ref)
        )?;
        information(&mut info, &e);
        out.write_all(b":86:")?;
        out.write_all(info.text.as_bytes())?;
        out.write_all(b"\r\n")?;
    }
    out.write_all(balance_line("62F", w.day, ccy, head.closing)?.as_bytes())?;
    out.write_all(b"-\r\n")?;
    out.flush()
}

#[cfg(test)]
#[path = "mt940_tests.rs"]
mod tests;
