//! ISO 20022 camt.053 (BankToCustomerStatement), `.001.02` and `.001.08`, per docs/protocols.md,
//! "E.4 camt.053 structure". Written with quick-xml, element by element, as a stream.
//!
//! One `Stmt` per file: group header, statement id and sequence, the reporting window, the
//! account (`Id/Othr/Id`: Chinese account numbers are not IBANs), the `OPBD` and `CLBD`
//! balances (the head's; they agree with the entries unless a `summary` mismatch says
//! otherwise), a `TxsSummry`, then one `Ntry` per booked movement:
//!
//! - `Amt` (absolute) and `CdtDbtInd`; a returned payout (退票) is a `CRDT` entry with
//!   `RvslInd` `true` — the reversal of the payout's debit;
//! - `Sts`: `BOOK` (`.02`) or `<Cd>BOOK</Cd>` (`.08`); an injected status shows `PDNG`/`INFO`;
//! - `BookgDt`, `ValDt`, `AcctSvcrRef` (the bank's reference of the booking);
//! - `BkTxCd` `PMNT`: a payout `ICDT/DMCT` (issued domestic credit transfer), its return
//!   `ICDT/RRTN` (reversal due to a payment return), a credit `RCDT/DMCT`, anything else
//!   `MCOP/OTHR`;
//! - `NtryDtls/TxDtls`: `Refs` with `AcctSvcrRef` and `EndToEndId` = the payout's order
//!   number, the beneficiary under `RltdPties/Cdtr` and `CdtrAcct`, and `RmtInf/Ustrd`.
//!
//! Element order follows the XSDs as far as public sources confirm it (docs/protocols.md,
//! E.4: the ReportEntry2 order of `.02`, `Sts/Cd` in `.08`); `.08` wraps party names in
//! `Pty` (Party40Choice).

use super::{Entry, EntryKind, EntryStatus, StatementHead, WRITE_BUFFER_BYTES};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use rust_decimal::Decimal;
use std::io::{self, BufWriter, Write};

/// The message versions written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `camt.053.001.02`.
    V02,
    /// `camt.053.001.08`.
    V08,
}

impl Version {
    /// The XML namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            Version::V02 => "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02",
            Version::V08 => "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08",
        }
    }
}

struct Xml<W: Write> {
    w: Writer<BufWriter<W>>,
}

impl<W: Write> Xml<W> {
    fn open(&mut self, name: &str) -> io::Result<()> {
        self.w.write_event(Event::Start(BytesStart::new(name)))
    }
    fn close(&mut self, name: &str) -> io::Result<()> {
        self.w.write_event(Event::End(BytesEnd::new(name)))
    }
    fn leaf(&mut self, name: &str, text: &str) -> io::Result<()> {
        self.w
            .create_element(name)
            .write_text_content(BytesText::new(text))
            .map(|_| ())
    }
    fn amount(&mut self, name: &str, ccy: &str, amount: Decimal) -> io::Result<()> {
        self.w
            .create_element(name)
            .with_attribute(("Ccy", ccy))
            .write_text_content(BytesText::new(&fixed2(amount)))
            .map(|_| ())
    }
    /// `<name><Dt>YYYY-MM-DD</Dt></name>`.
    fn date(&mut self, name: &str, date: chrono::NaiveDate) -> io::Result<()> {
        self.open(name)?;
        self.leaf("Dt", &date.format("%Y-%m-%d").to_string())?;
        self.close(name)
    }
    /// `<Cdtr><Nm>…</Nm></Cdtr>` (`.02`) or `<Cdtr><Pty><Nm>…</Nm></Pty></Cdtr>` (`.08`).
    fn party(&mut self, v: Version, name: &str, holder: &str) -> io::Result<()> {
        self.open(name)?;
        if v == Version::V08 {
            self.open("Pty")?;
        }
        self.leaf("Nm", holder)?;
        if v == Version::V08 {
            self.close("Pty")?;
        }
        self.close(name)
    }
    fn account_id(&mut self, name: &str, number: &str) -> io::Result<()> {
        self.open(name)?;
        self.open("Id")?;
        self.open("Othr")?;
        self.leaf("Id", number)?;
        self.close("Othr")?;
        self.close("Id")?;
        self.close(name)
    }
}

fn fixed2(d: Decimal) -> String {
    let mut a = d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    a.rescale(2);
    // A negated zero would print as `-0.00`.
    a.set_sign_positive(a.is_sign_positive() || a.is_zero());
    a.to_string()
}

fn cdt_dbt(d: Decimal) -> &'static str {
    if d >= Decimal::ZERO {
        "CRDT"
    } else {
        "DBIT"
    }
}

/// The statement's message id: instance, account and day.
pub fn message_id(head: &StatementHead) -> String {
    format!(
        "STMT-{}-{}",
        head.window.day.format("%Y%m%d"),
        head.account.number
    )
}

/// Stream the statement.
pub fn write_statement<W: Write>(
    out: W,
    version: Version,
    head: &StatementHead,
    entries: impl Iterator<Item = Entry>,
) -> io::Result<()> {
    let mut x = Xml {
        w: Writer::new_with_indent(BufWriter::with_capacity(WRITE_BUFFER_BYTES, out), b' ', 2),
    };
    let ccy = head.account.currency.code();
    let w = &head.window;
    let created = head
        .created_at
        .with_timezone(&w.tz)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string();
    x.w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    x.w.write_event(Event::Start(
        BytesStart::new("Document").with_attributes([("xmlns", version.namespace())]),
    ))?;
    x.open("BkToCstmrStmt")?;
    x.open("GrpHdr")?;
    let msg_id = message_id(head);
    x.leaf("MsgId", &msg_id)?;
    x.leaf("CreDtTm", &created)?;
    x.open("MsgPgntn")?;
    x.leaf("PgNb", "1")?;
    x.leaf("LastPgInd", "true")?;
    x.close("MsgPgntn")?;
    x.close("GrpHdr")?;

    x.open("Stmt")?;
    x.leaf("Id", &format!("{msg_id}-1"))?;
    x.leaf("ElctrncSeqNb", &head.sequence.to_string())?;
    x.leaf("CreDtTm", &created)?;
    x.open("FrToDt")?;
    x.leaf(
        "FrDtTm",
        &w.start
            .with_timezone(&w.tz)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
    )?;
    x.leaf(
        "ToDtTm",
        &(w.end - chrono::Duration::seconds(1))
            .with_timezone(&w.tz)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
    )?;
    x.close("FrToDt")?;
    x.open("Acct")?;
    x.open("Id")?;
    x.open("Othr")?;
    x.leaf("Id", &head.account.number)?;
    x.close("Othr")?;
    x.close("Id")?;
    x.leaf("Ccy", ccy)?;
    if !head.account.name.is_empty() {
        x.open("Ownr")?;
        x.leaf("Nm", &head.account.name)?;
        x.close("Ownr")?;
    }
    x.open("Svcr")?;
    x.open("FinInstnId")?;
    x.leaf("Nm", &head.account.instance)?;
    x.close("FinInstnId")?;
    x.close("Svcr")?;
    x.close("Acct")?;
    for (code, amount) in [("OPBD", head.opening), ("CLBD", head.closing)] {
        x.open("Bal")?;
        x.open("Tp")?;
        x.open("CdOrPrtry")?;
        x.leaf("Cd", code)?;
        x.close("CdOrPrtry")?;
        x.close("Tp")?;
        x.amount("Amt", ccy, amount.abs())?;
        x.leaf("CdtDbtInd", cdt_dbt(amount))?;
        x.date("Dt", w.day)?;
        x.close("Bal")?;
    }
    let t = &head.totals;
    x.open("TxsSummry")?;
    x.open("TtlNtries")?;
    x.leaf("NbOfNtries", &t.count.to_string())?;
    x.leaf("Sum", &fixed2(t.credit_sum + t.debit_sum))?;
    match version {
        Version::V02 => {
            x.leaf("TtlNetNtryAmt", &fixed2(t.net().abs()))?;
            x.leaf("CdtDbtInd", cdt_dbt(t.net()))?;
        }
        Version::V08 => {
            x.open("TtlNetNtry")?;
            x.leaf("Amt", &fixed2(t.net().abs()))?;
            x.leaf("CdtDbtInd", cdt_dbt(t.net()))?;
            x.close("TtlNetNtry")?;
        }
    }
    x.close("TtlNtries")?;
    for (name, n, sum) in [
        ("TtlCdtNtries", t.credit_count, t.credit_sum),
        ("TtlDbtNtries", t.debit_count, t.debit_sum),
    ] {
        x.open(name)?;
        x.leaf("NbOfNtries", &n.to_string())?;
        x.leaf("Sum", &fixed2(sum))?;
        x.close(name)?;
    }
    x.close("TxsSummry")?;

    for (i, e) in entries.enumerate() {
        write_entry(&mut x, version, head, i + 1, &e)?;
    }
    x.close("Stmt")?;
    x.close("BkToCstmrStmt")?;
    x.close("Document")?;
    let mut out = x.w.into_inner();
    out.write_all(b"\n")?;
    out.flush()
}

fn write_entry<W: Write>(
    x: &mut Xml<W>,
    version: Version,
    head: &StatementHead,
    n: usize,
    e: &Entry,
) -> io::Result<()> {
    let w = &head.window;
    let ccy = e.amount.currency.code();
    let booked = w.date_of(e.at);
    x.open("Ntry")?;
    x.leaf("NtryRef", &n.to_string())?;
    x.amount("Amt", ccy, e.amount.amount.abs())?;
    x.leaf("CdtDbtInd", cdt_dbt(e.amount.amount))?;
    if e.kind == EntryKind::PayoutReturn {
        x.leaf("RvslInd", "true")?;
    }
    let status = match e.status {
        EntryStatus::Booked => "BOOK",
        EntryStatus::Pending => "PDNG",
        EntryStatus::Failed => "INFO",
    };
    match version {
        Version::V02 => x.leaf("Sts", status)?,
        Version::V08 => {
            x.open("Sts")?;
            x.leaf("Cd", status)?;
            x.close("Sts")?;
        }
    }
    x.date("BookgDt", booked)?;
    x.date("ValDt", booked)?;
    x.leaf("AcctSvcrRef", &e.issuer_ref)?;
    let (family, sub) = match e.kind {
        EntryKind::Payout => ("ICDT", "DMCT"),
        EntryKind::PayoutReturn => ("ICDT", "RRTN"),
        _ if e.is_credit() && e.kind != EntryKind::Other => ("RCDT", "DMCT"),
        _ => ("MCOP", "OTHR"),
    };
    x.open("BkTxCd")?;
    x.open("Domn")?;
    x.leaf("Cd", "PMNT")?;
    x.open("Fmly")?;
    x.leaf("Cd", family)?;
    x.leaf("SubFmlyCd", sub)?;
    x.close("Fmly")?;
    x.close("Domn")?;
    x.close("BkTxCd")?;
    x.open("NtryDtls")?;
    x.open("TxDtls")?;
    x.open("Refs")?;
    x.leaf("AcctSvcrRef", &e.issuer_ref)?;
    x.leaf("EndToEndId", &e.reference)?;
    x.close("Refs")?;
    let d = &e.details;
    if !d.counterparty_account.is_empty() || !d.counterparty_name.is_empty() {
        x.open("RltdPties")?;
        if !d.counterparty_name.is_empty() {
            x.party(version, "Cdtr", &d.counterparty_name)?;
        }
        if !d.counterparty_account.is_empty() {
            x.account_id("CdtrAcct", &d.counterparty_account)?;
        }
        x.close("RltdPties")?;
    }
    if !d.subject.is_empty() {
        x.open("RmtInf")?;
        x.leaf("Ustrd", &d.subject)?;
        x.close("RmtInf")?;
    }
    x.close("TxDtls")?;
    x.close("NtryDtls")?;
    x.close("Ntry")
}
