//! Injected statement mismatches, as data: what a scenario or the control API asks a day's
//! statement to get wrong, validated, and the book a world keeps of them.
//!
//! This is the record; applying a mismatch to a statement (`statements::mismatch::plan`) and
//! the expected discrepancy it stands for (`statements::mismatch::expected`) live with the
//! statements. The split mirrors [`crate::faults`]: the spec is a leaf that anything may read.
//!
//! A [`Mismatch`] names an instance (channel or bank), a business day, optionally an account
//! (merchant id or account number; the instance's first by default) and, for the kinds that
//! touch one entry, which entry: by `reference` (the `out_trade_no` or payout order number)
//! or by position `nth` (0-based, in booking order; default 0). Entries are chosen when the
//! statement is rendered, so a scenario can declare a mismatch before the trades exist.
//! A mismatch whose entry does not exist (yet) changes nothing and expects nothing.
//!
//! | kind | the statement … | expected discrepancy | stands for (real-world cause) |
//! |---|---|---|---|
//! | `missing` | omits the entry | `missing_in_statement` | the channel lost or never recorded a trade the merchant booked (a payment whose callback reached the merchant but whose order the channel later voided; a bank posting dropped from the file) |
//! | `phantom` | lists an entry the world never performed | `missing_in_books` | a trade the merchant never saw: its notification was never delivered and never queried; a bank posting that belongs to another customer |
//! | `amount` | shows the entry with its amount changed by `delta` (default +0.01) | `amount_mismatch` | currency conversion or coupon (代金券) handling, a partial capture, a bank fee netted into the amount |
//! | `status` | shows the entry as `pending` (or `failed`) | `status_mismatch` | the channel's state lagged or changed after the merchant booked it: a payment still USERPAYING at the channel's cut-off, a refund the channel closed, a bank posting still PDNG |
//! | `fee` | shows the entry's fee changed by `delta` (default +0.01) | `fee_mismatch` | a fee rate changed by the channel without notice, a rounding rule different from the contract (尾差) |
//! | `next_day` | moves the entry past the cut-off into the next day's statement (booked 00:00:01) | `missing_in_statement` on its day, `missing_in_books` (id `{id}/moved`) on the next | clock skew or a different cut-off at the channel: a trade at 23:59:59 the channel books at 00:00:01 (跨日) |
//! | `previous_day` | moves the entry into the previous day's statement (booked 23:59:59) | `missing_in_statement` on its day, `missing_in_books` (`{id}/moved`) on the previous | the channel cuts earlier than the merchant (e.g. at 23:59:59 UTC+8 vs a merchant cutting in another zone) |
//! | `duplicate` | lists the entry twice | `duplicate_in_statement` | a channel's export job run twice over an overlapping window; a bank resending a line |
//! | `summary` | states totals that do not add up: the summary/footer amount (WeChat, Alipay) and the closing balance (camt.053 CLBD, MT940 `:62F:`) off by `delta` (default +0.01) | `summary_mismatch` | a summary computed by a separate job from a different snapshot than the detail |
//! | `late` | is not available until `delay` (default 1d) after its usual time; before that WeChat answers `Bill Creating` (not `No Bill Exist`, which means no trades) and the control API 409; once it is available nothing is late, so `statement_late` is expected only while it is held back | `statement_late` | the channel's bill job ran late; a bank's end-of-day file held up |
//! | `truncated` | is cut off after `keep_bytes` bytes (default half the file) | `statement_unreadable` | a download interrupted and not retried, a disk full at the channel |
//! | `encoding` | is encoded wrongly: the WeChat bill in GBK, the Alipay CSVs in UTF-8, camt.053 and MT940 in UTF-16LE | `statement_unreadable` | an export tool set to the wrong code page |
//!
//! What cannot be shown is refused rather than faked: a `fee` mismatch at a bank (its
//! statements carry no fee) is refused when added; a `status` mismatch cannot be rendered as
//! MT940 or as the Alipay bill (neither has a status), so those renders fail with a message
//! naming the mismatch.

pub mod raw;

pub use raw::{phantom_reference, RawMismatch};

use crate::clock::Instant;
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Most mismatches a world holds. Each is resolved by a walk of its day when a statement is
/// rendered; a thousand keeps that cheap and is far more than any scenario needs.
pub const MAX_MISMATCHES: usize = 1000;

/// The kinds of injected difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    /// An entry missing from the statement.
    Missing,
    /// An entry the world never performed.
    Phantom,
    /// An amount that differs.
    Amount,
    /// A status that differs.
    Status,
    /// A fee that differs.
    Fee,
    /// An entry moved across the cut-off into the next day.
    NextDay,
    /// An entry moved across the cut-off into the previous day.
    PreviousDay,
    /// A duplicated line.
    Duplicate,
    /// Summary totals that do not add up.
    Summary,
    /// A file that is late.
    Late,
    /// A file that is truncated.
    Truncated,
    /// A file that is wrongly encoded.
    Encoding,
}

/// Every kind, for error messages and docs.
pub const KINDS: &str = "missing, phantom, amount, status, fee, next_day, previous_day, duplicate, summary, late, truncated, encoding";

impl MismatchKind {
    /// Parse the snake_case name.
    pub fn parse(s: &str) -> Option<MismatchKind> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }

    /// The discrepancy kind (docs/sut-adapter.md) recorded on the mismatch's own day.
    pub fn discrepancy(self) -> &'static str {
        match self {
            MismatchKind::Missing | MismatchKind::NextDay | MismatchKind::PreviousDay => {
                "missing_in_statement"
            }
            MismatchKind::Phantom => "missing_in_books",
            MismatchKind::Amount => "amount_mismatch",
            MismatchKind::Status => "status_mismatch",
            MismatchKind::Fee => "fee_mismatch",
            MismatchKind::Duplicate => "duplicate_in_statement",
            MismatchKind::Summary => "summary_mismatch",
            MismatchKind::Late => "statement_late",
            MismatchKind::Truncated | MismatchKind::Encoding => "statement_unreadable",
        }
    }

    /// True for the kinds that change one entry of the truth.
    pub fn targets_entry(self) -> bool {
        matches!(
            self,
            MismatchKind::Missing
                | MismatchKind::Amount
                | MismatchKind::Status
                | MismatchKind::Fee
                | MismatchKind::NextDay
                | MismatchKind::PreviousDay
                | MismatchKind::Duplicate
        )
    }

    /// The real-world cause the kind stands for (one line, for the expected discrepancy).
    pub fn cause(self) -> &'static str {
        match self {
            MismatchKind::Missing => "the channel or bank did not record a movement the books have",
            MismatchKind::Phantom => "the statement lists a movement the world never performed",
            MismatchKind::Amount => "the statement shows a different amount",
            MismatchKind::Status => "the statement shows the movement in a different status",
            MismatchKind::Fee => "the statement shows a different fee",
            MismatchKind::NextDay => {
                "the issuer booked the movement after the cut-off, on the next day"
            }
            MismatchKind::PreviousDay => {
                "the issuer booked the movement before the cut-off, on the previous day"
            }
            MismatchKind::Duplicate => "the statement lists the same movement twice",
            MismatchKind::Summary => "the statement's totals do not add up to its lines",
            MismatchKind::Late => "the statement was not available at its usual time",
            MismatchKind::Truncated => "the statement file is cut off",
            MismatchKind::Encoding => "the statement file is in the wrong character encoding",
        }
    }
}

/// Which entry a mismatch touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The first entry of the day with this reference.
    Reference(String),
    /// The entry at this position (0-based) of the day, in booking order.
    Nth(usize),
}

/// A validated mismatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// Stable id; the expected discrepancy carries it.
    pub id: String,
    /// What kind of difference.
    pub kind: MismatchKind,
    /// Channel or bank id.
    pub instance: String,
    /// Business day.
    pub day: NaiveDate,
    /// Merchant id or account number; `None` is the instance's first.
    pub account: Option<String>,
    /// The entry, for kinds that touch one.
    pub target: Option<Target>,
    /// A phantom's reference.
    pub phantom_reference: Option<String>,
    /// Change in major units (`amount`, `fee`, `summary`).
    pub delta: Option<Decimal>,
    /// A phantom's amount in major units.
    pub amount: Option<Decimal>,
    /// A phantom's booking time.
    pub at: Option<Instant>,
    /// The status a `status` mismatch shows.
    pub status: Option<EntryStatus>,
    /// How much later a `late` statement comes.
    #[serde(serialize_with = "serialize_opt_duration")]
    pub delay: Option<Duration>,
    /// Bytes a `truncated` file keeps.
    pub keep_bytes: Option<u64>,
}

fn serialize_opt_duration<S: serde::Serializer>(
    d: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => crate::clock::serialize_duration(d, s),
        None => s.serialize_none(),
    }
}

/// Why a raw mismatch was refused: the field and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct MismatchError {
    /// The field, e.g. `delta`.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

pub(crate) fn bad(field: &str, problem: impl Into<String>) -> MismatchError {
    MismatchError {
        field: field.to_string(),
        problem: problem.into(),
    }
}

/// Default change for `amount`, `fee` and `summary`: one fen.
pub const DEFAULT_DELTA: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// Default amount of a phantom entry: 1.00.
pub const DEFAULT_PHANTOM_AMOUNT: Decimal = Decimal::from_parts(100, 0, 0, false, 2);

/// The mismatches of a world, in the order they were added.
#[derive(Debug, Default, Clone)]
pub struct MismatchBook {
    mismatches: Vec<Mismatch>,
}

impl MismatchBook {
    /// The book a world starts with: its scenario's mismatches (already validated, with
    /// unique ids).
    pub fn new(mismatches: Vec<Mismatch>) -> MismatchBook {
        MismatchBook { mismatches }
    }

    /// Every mismatch.
    pub fn all(&self) -> &[Mismatch] {
        &self.mismatches
    }

    /// An id for a mismatch added without one.
    pub fn next_id(&self) -> String {
        let mut n = self.mismatches.len() + 1;
        loop {
            let id = format!("mismatch-{n}");
            if !self.mismatches.iter().any(|m| m.id == id) {
                return id;
            }
            n += 1;
        }
    }

    /// Add one; ids are unique and the book is bounded by [`MAX_MISMATCHES`].
    pub fn add(&mut self, m: Mismatch) -> Result<(), MismatchError> {
        if self.mismatches.iter().any(|x| x.id == m.id) {
            return Err(bad("id", format!("`{}` is already used", m.id)));
        }
        if self.mismatches.len() >= MAX_MISMATCHES {
            return Err(bad(
                "id",
                format!("a world holds at most {MAX_MISMATCHES} mismatches"),
            ));
        }
        self.mismatches.push(m);
        Ok(())
    }
}

/// Where a movement stands, as the statement shows it. The truth is always `Booked`; the
/// other values appear only through an injected `status` mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Done: WeChat `SUCCESS`, camt `BOOK`.
    Booked,
    /// Not final: WeChat `USERPAYING` (refund `PROCESSING`), camt `PDNG`.
    Pending,
    /// Failed: WeChat `PAYERROR` (refund `REFUNDCLOSE`), camt `INFO`.
    Failed,
}

impl EntryStatus {
    /// Parse the snake_case name.
    pub fn parse(s: &str) -> Option<EntryStatus> {
        match s {
            "booked" => Some(EntryStatus::Booked),
            "pending" => Some(EntryStatus::Pending),
            "failed" => Some(EntryStatus::Failed),
            _ => None,
        }
    }
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Booked => "booked",
            EntryStatus::Pending => "pending",
            EntryStatus::Failed => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_and_documented_with_its_discrepancy() {
        // The adapter contract lists the discrepancy kinds a SUT reports, and the statements
        // guide the mismatch kinds: a kind the code knows but the docs do not name (or a
        // renamed discrepancy) would leave SUT authors guessing.
        let contract = include_str!("../../docs/sut-adapter.md");
        let guide = include_str!("../../docs/statements.md");
        let listed: Vec<&str> = KINDS.split(", ").collect();
        let all = [
            MismatchKind::Missing,
            MismatchKind::Phantom,
            MismatchKind::Amount,
            MismatchKind::Status,
            MismatchKind::Fee,
            MismatchKind::NextDay,
            MismatchKind::PreviousDay,
            MismatchKind::Duplicate,
            MismatchKind::Summary,
            MismatchKind::Late,
            MismatchKind::Truncated,
            MismatchKind::Encoding,
        ];
        assert_eq!(listed.len(), all.len(), "KINDS lists every kind once");
        for (name, kind) in listed.iter().zip(all) {
            assert_eq!(MismatchKind::parse(name), Some(kind), "`{name}` in KINDS");
            assert!(
                guide.contains(&format!("`{name}`")),
                "docs/statements.md does not document mismatch kind `{name}`"
            );
            assert!(
                contract.contains(&format!("`{}`", kind.discrepancy())),
                "docs/sut-adapter.md does not name discrepancy `{}` (from `{name}`)",
                kind.discrepancy()
            );
        }
    }
}
