//! Rendering one statement from the books: model + mismatches + writer + file-level faults.
//!
//! [`render`] resolves the mismatch [`Plan`] for the account and day, checks the file is
//! available on the world clock, totals the (mismatched) entry stream into a
//! [`StatementHead`], and streams the file through the format's writer — re-encoded or cut
//! short when a mismatch says so. The entry stream is walked twice (totals, then file); a
//! default truncation walks it once more to size the file. Nothing is collected.

use super::encode::{CountingSink, Transcode, Truncate, Utf16Le};
use super::mismatch::Plan;
pub use super::wechat::BillType;

use super::{
    account_info, alipay, camt053, day_window, ledger_entries, mt940, opening_balance, wechat,
    Books, Entry, Source, StatementHead,
};
use crate::clock::{DayWindow, Instant};
use chrono::{Duration, NaiveDate};
use std::io::{self, Write};

/// When a bank's statement of a day is available: 06:00 the next day, this long after the
/// cut-off (an end-of-day statement run; our choice, there is no public figure).
pub const BANK_READY_AFTER: Duration = Duration::hours(6);

/// When an Alipay bill of a day is available: 09:00 the next day, as WeChat's (Alipay's docs
/// only say "T+1", docs/protocols.md, B.4; our choice).
pub const ALIPAY_READY_AFTER: Duration = Duration::hours(9);

/// A statement file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The WeChat Pay bill, of a bill type.
    Wechat(BillType),
    /// The Alipay bill (ZIP of GBK CSVs).
    Alipay,
    /// ISO 20022 camt.053, `.001.02` or `.001.08`.
    Camt053(camt053::Version),
    /// SWIFT MT940.
    Mt940,
}

impl Format {
    /// Parse the control API's `format` (`wechat`, `alipay`, `camt053.02`, `camt053.08`,
    /// `mt940`) with the WeChat `bill_type`.
    pub fn parse(name: &str, bill_type: Option<&str>) -> Result<Format, String> {
        let format = match name {
            "wechat" => Format::Wechat(match bill_type {
                None => BillType::All,
                Some(t) => BillType::parse(t).ok_or_else(|| {
                    format!("bill_type: `{t}` is not one of ALL, SUCCESS, REFUND")
                })?,
            }),
            "alipay" => Format::Alipay,
            "camt053.02" | "camt053" => Format::Camt053(camt053::Version::V02),
            "camt053.08" => Format::Camt053(camt053::Version::V08),
            "mt940" => Format::Mt940,
            other => {
                return Err(format!(
                    "format: `{other}` is not one of wechat, alipay, camt053.02, camt053.08, mt940"
                ))
            }
        };
        if bill_type.is_some() && !matches!(format, Format::Wechat(_)) {
            return Err("bill_type: applies to format wechat only".into());
        }
        Ok(format)
    }

    /// True for the channels' bills; false for the banks' statements.
    pub fn is_channel_bill(self) -> bool {
        matches!(self, Format::Wechat(_) | Format::Alipay)
    }

    /// The HTTP content type of the file.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Wechat(_) => "text/plain; charset=utf-8",
            Format::Alipay => "application/zip",
            Format::Camt053(_) => "application/xml",
            Format::Mt940 => "text/plain",
        }
    }

    /// How long after the day's cut-off the file exists.
    pub fn ready_after(self) -> Duration {
        match self {
            Format::Wechat(_) => wechat::BILL_READY_AFTER,
            Format::Alipay => ALIPAY_READY_AFTER,
            Format::Camt053(_) | Format::Mt940 => BANK_READY_AFTER,
        }
    }

    /// True when the format lists `e`.
    pub fn includes(self, e: &Entry) -> bool {
        match self {
            Format::Wechat(t) => wechat::includes(t, e),
            Format::Alipay => alipay::includes(e),
            Format::Camt053(_) | Format::Mt940 => true,
        }
    }

    /// A file name for the statement.
    pub fn file_name(self, head: &StatementHead) -> String {
        let day = head.window.day.format("%Y%m%d");
        match self {
            Format::Wechat(_) => format!("{}_{day}_bill.csv", head.account.number),
            Format::Alipay => format!("{}_{day}.csv.zip", alipay::account_id(&head.account.number)),
            Format::Camt053(camt053::Version::V02) => {
                format!("{}_{day}.camt053.02.xml", head.account.number)
            }
            Format::Camt053(camt053::Version::V08) => {
                format!("{}_{day}.camt053.08.xml", head.account.number)
            }
            Format::Mt940 => format!("{}_{day}.sta", head.account.number),
        }
    }
}

/// Write `entries` in `format` with no mismatch applied: the bare writer dispatch the
/// benchmark, the golden files and [`render`] share. `entries` must be those
/// [`Format::includes`] lists, and `head` totalled over them.
pub fn write_format<W: Write>(
    format: Format,
    out: W,
    head: &StatementHead,
    entries: impl Iterator<Item = Entry>,
) -> io::Result<()> {
    match format {
        Format::Wechat(t) => wechat::write_bill(out, t, head, entries),
        Format::Alipay => alipay::write_bill(out, head, entries, alipay::CsvEncoding::Gbk),
        Format::Camt053(v) => camt053::write_statement(out, v, head, entries),
        Format::Mt940 => mt940::write_statement(out, head, entries),
    }
}

/// Why a statement could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Not produced yet on the world clock (WeChat answers `Bill Creating`).
    #[error("the statement of {day} is not available before {available_at}")]
    NotAvailable {
        /// The day.
        day: NaiveDate,
        /// When it will be.
        available_at: Instant,
    },
    /// A WeChat bill with no rows (WeChat answers `No Bill Exist`: no trades that day).
    #[error("no bill: no rows of this type on that day")]
    Empty,
    /// The format does not fit the account, or cannot show a mismatch in effect.
    #[error("{0}")]
    Unsupported(String),
    /// Writing failed.
    #[error("writing the statement failed: {0}")]
    Io(#[from] io::Error),
}

/// When `source`'s statement of `day` in `format` is available, mismatches included.
pub fn available_at(books: &Books<'_>, source: &Source, day: NaiveDate, format: Format) -> Instant {
    let window = day_window(day);
    let plan = Plan::build(books, source, window);
    ready_at(&window, format, &plan)
}

/// The end of the day plus the format's delay plus any `late` mismatches; checked, and
/// "never" (the last instant chrono knows) when the sum leaves the calendar.
fn ready_at(window: &DayWindow, format: Format, plan: &Plan) -> Instant {
    window
        .end
        .checked_add_signed(format.ready_after())
        .and_then(|t| t.checked_add_signed(plan.late_by.unwrap_or_else(Duration::zero)))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// Render `source`'s statement of `day` in `format` into `out`, as the world (and its
/// mismatches) has it now. Returns the head the file was written with.
pub fn render(
    books: &Books<'_>,
    source: &Source,
    day: NaiveDate,
    format: Format,
    out: impl Write,
) -> Result<StatementHead, RenderError> {
    let is_channel = matches!(source, Source::ChannelMerchant { .. });
    if format.is_channel_bill() != is_channel {
        return Err(RenderError::Unsupported(format!(
            "format: `{}` is a {} account; use {}",
            source.instance(),
            if is_channel { "channel" } else { "bank" },
            if is_channel {
                "wechat or alipay"
            } else {
                "camt053.02, camt053.08 or mt940"
            }
        )));
    }
    let window = day_window(day);
    let plan = Plan::build(books, source, window);
    if !plan.status_ids.is_empty() && matches!(format, Format::Mt940 | Format::Alipay) {
        return Err(RenderError::Unsupported(format!(
            "status mismatch `{}` cannot be shown in {} (it has no entry status); fetch {} instead",
            plan.status_ids.join("`, `"),
            if format == Format::Mt940 {
                "MT940"
            } else {
                "the Alipay bill"
            },
            if format == Format::Mt940 {
                "camt053.02"
            } else {
                "wechat"
            }
        )));
    }
    let available_at = ready_at(&window, format, &plan);
    let now = books.now;
    if now < available_at {
        return Err(RenderError::NotAvailable { day, available_at });
    }
    let entries = || {
        plan.apply(ledger_entries(books, source, window))
            .filter(move |e| format.includes(e))
    };
    let opening = if is_channel {
        Default::default()
    } else {
        opening_balance(books, source, &window)
    };
    let mut head =
        StatementHead::summarise(account_info(books, source), window, now, opening, entries());
    plan.adjust_head(&mut head);
    if head.totals.count == 0 && matches!(format, Format::Wechat(_)) {
        return Err(RenderError::Empty);
    }
    let keep = match plan.truncate {
        None => None,
        Some(Some(k)) => Some(k),
        Some(None) => {
            let mut sink = CountingSink::default();
            write_encoded(format, plan.wrong_encoding, &mut sink, &head, entries())?;
            Some(sink.bytes / 2)
        }
    };
    match keep {
        Some(k) => write_encoded(
            format,
            plan.wrong_encoding,
            Truncate::new(out, k),
            &head,
            entries(),
        )?,
        None => write_encoded(format, plan.wrong_encoding, out, &head, entries())?,
    }
    Ok(head)
}

/// The writer, in the right encoding or (for the `encoding` mismatch) the wrong one.
fn write_encoded<W: Write>(
    format: Format,
    wrong: bool,
    out: W,
    head: &StatementHead,
    entries: impl Iterator<Item = Entry>,
) -> io::Result<()> {
    if !wrong {
        return write_format(format, out, head, entries);
    }
    match format {
        Format::Wechat(t) => {
            let mut enc = Transcode::new(out, encoding_rs::GBK);
            wechat::write_bill(&mut enc, t, head, entries)?;
            enc.finish().map(|_| ())
        }
        Format::Alipay => alipay::write_bill(out, head, entries, alipay::CsvEncoding::Utf8),
        Format::Camt053(_) | Format::Mt940 => {
            let mut enc = Utf16Le::new(out);
            write_format(format, &mut enc, head, entries)?;
            enc.finish().map(|_| ())
        }
    }
}
