//! Injected mismatches: a day's statement made to differ from the truth, on purpose, and the
//! record of each difference as an *expected discrepancy*.
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
//! | `late` | is not available until `delay` (default 1d) after its usual time; before that WeChat answers `No Bill Exist` and the control API 409 | `statement_late` | the channel's bill job ran late; a bank's end-of-day file held up |
//! | `truncated` | is cut off after `keep_bytes` bytes (default half the file) | `statement_unreadable` | a download interrupted and not retried, a disk full at the channel |
//! | `encoding` | is encoded wrongly: the WeChat bill in GBK, the Alipay CSVs in UTF-8, camt.053 and MT940 in UTF-16LE | `statement_unreadable` | an export tool set to the wrong code page |
//!
//! What cannot be shown is refused rather than faked: a `fee` mismatch at a bank (its
//! statements carry no fee) is refused when added; a `status` mismatch cannot be rendered as
//! MT940 or as the Alipay bill (neither has a status), so those renders fail with a message
//! naming the mismatch.

use super::{day_window, DayWindow, Entry, EntryStatus, Source, StatementHead};
use crate::clock::{parse_duration, parse_instant, Instant, SHANGHAI};
use crate::money::Money;
use crate::world::WorldState;
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

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

/// A mismatch as written in a scenario (`[[mismatches]]`) or posted to the control API.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawMismatch {
    /// A stable id; generated (`mismatch-N`) when omitted.
    pub id: Option<String>,
    /// One of [`KINDS`].
    pub kind: Option<String>,
    /// Channel or bank id (taken from the URL on the control API).
    pub instance: Option<String>,
    /// The business day, `YYYY-MM-DD`.
    pub day: Option<String>,
    /// Merchant id or account number; the instance's first by default.
    pub account: Option<String>,
    /// The entry's reference; for `phantom`, the phantom's reference.
    pub reference: Option<String>,
    /// The entry's position (0-based) in the day.
    pub nth: Option<usize>,
    /// Signed change in major units (`amount`, `fee`, `summary`), e.g. `"-1.00"`.
    pub delta: Option<String>,
    /// A phantom's amount in major units (default `1.00`).
    pub amount: Option<String>,
    /// A phantom's booking time (RFC 3339 or `YYYY-MM-DD HH:MM[:SS]` Beijing time; default
    /// 12:00 of the day).
    pub at: Option<String>,
    /// `pending` or `failed` for a `status` mismatch (default `pending`).
    pub status: Option<String>,
    /// How much later a `late` statement comes (default `1d`).
    pub delay: Option<String>,
    /// Bytes a `truncated` file keeps (default half the file).
    pub keep_bytes: Option<u64>,
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

fn bad(field: &str, problem: impl Into<String>) -> MismatchError {
    MismatchError {
        field: field.to_string(),
        problem: problem.into(),
    }
}

/// Default change for `amount`, `fee` and `summary`: one fen.
pub const DEFAULT_DELTA: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// Default amount of a phantom entry: 1.00.
pub const DEFAULT_PHANTOM_AMOUNT: Decimal = Decimal::from_parts(100, 0, 0, false, 2);

impl RawMismatch {
    /// Validate; `default_id` names it when `id` is omitted. Whether the instance exists and
    /// what kind it is are the caller's to check ([`check_against_world`]).
    pub fn validate(&self, default_id: &str) -> Result<Mismatch, MismatchError> {
        let id = self.id.clone().unwrap_or_else(|| default_id.to_string());
        if id.is_empty()
            || id.len() > 64
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(bad(
                "id",
                format!("`{id}` must be 1–64 characters of A-Z, a-z, 0-9, -, _ and ."),
            ));
        }
        let kind_text = self
            .kind
            .as_deref()
            .ok_or_else(|| bad("kind", format!("missing (one of {KINDS})")))?;
        let kind = MismatchKind::parse(kind_text)
            .ok_or_else(|| bad("kind", format!("`{kind_text}` is not one of {KINDS}")))?;
        let instance = self
            .instance
            .clone()
            .ok_or_else(|| bad("instance", "missing"))?;
        let day_text = self
            .day
            .as_deref()
            .ok_or_else(|| bad("day", "missing (YYYY-MM-DD)"))?;
        let day = NaiveDate::parse_from_str(day_text, "%Y-%m-%d")
            .map_err(|_| bad("day", format!("`{day_text}` is not a date (YYYY-MM-DD)")))?;
        let only = |field: &str, present: bool, kinds: &[MismatchKind], which: &str| {
            if present && !kinds.contains(&kind) {
                Err(bad(
                    field,
                    format!("applies to {which} mismatches only, not `{kind_text}`"),
                ))
            } else {
                Ok(())
            }
        };
        use MismatchKind as K;
        only(
            "delta",
            self.delta.is_some(),
            &[K::Amount, K::Fee, K::Summary],
            "amount, fee and summary",
        )?;
        only("amount", self.amount.is_some(), &[K::Phantom], "phantom")?;
        only("at", self.at.is_some(), &[K::Phantom], "phantom")?;
        only("status", self.status.is_some(), &[K::Status], "status")?;
        only("delay", self.delay.is_some(), &[K::Late], "late")?;
        only(
            "keep_bytes",
            self.keep_bytes.is_some(),
            &[K::Truncated],
            "truncated",
        )?;
        only(
            "nth",
            self.nth.is_some(),
            &[
                K::Missing,
                K::Amount,
                K::Status,
                K::Fee,
                K::NextDay,
                K::PreviousDay,
                K::Duplicate,
            ],
            "entry",
        )?;
        only(
            "reference",
            self.reference.is_some(),
            &[
                K::Missing,
                K::Amount,
                K::Status,
                K::Fee,
                K::NextDay,
                K::PreviousDay,
                K::Duplicate,
                K::Phantom,
            ],
            "entry and phantom",
        )?;
        let target = if kind.targets_entry() {
            match (&self.reference, self.nth) {
                (Some(_), Some(_)) => {
                    return Err(bad("nth", "give `reference` or `nth`, not both"))
                }
                (Some(r), None) => Some(Target::Reference(r.clone())),
                (None, n) => Some(Target::Nth(n.unwrap_or(0))),
            }
        } else {
            None
        };
        let decimal = |field: &str, v: &Option<String>| -> Result<Option<Decimal>, MismatchError> {
            v.as_deref()
                .map(|t| {
                    let d = Decimal::from_str(t.trim())
                        .map_err(|_| bad(field, format!("`{t}` is not a decimal amount")))?;
                    if d.normalize().scale() > 2 {
                        return Err(bad(field, format!("`{t}` has more than 2 decimals")));
                    }
                    Ok(d)
                })
                .transpose()
        };
        let delta = decimal("delta", &self.delta)?;
        if delta.is_some_and(|d| d.is_zero()) {
            return Err(bad("delta", "a zero delta changes nothing"));
        }
        let amount = decimal("amount", &self.amount)?;
        if amount.is_some_and(|a| a <= Decimal::ZERO) {
            return Err(bad("amount", "a phantom's amount must be positive"));
        }
        let at = match &self.at {
            Some(t) => Some(parse_instant(t, SHANGHAI).ok_or_else(|| {
                bad(
                    "at",
                    format!("`{t}` is not an instant (RFC 3339 or `YYYY-MM-DD HH:MM`)"),
                )
            })?),
            None => None,
        };
        if let Some(t) = at {
            if !day_window(day).contains(t) {
                return Err(bad(
                    "at",
                    format!("{} is not on {day} (Beijing time)", t.to_rfc3339()),
                ));
            }
        }
        let status = match self.status.as_deref() {
            Some(s) => match EntryStatus::parse(s) {
                Some(EntryStatus::Booked) | None => {
                    return Err(bad(
                        "status",
                        format!("`{s}` is not one of pending, failed"),
                    ))
                }
                Some(x) => Some(x),
            },
            None => None,
        };
        let delay = match self.delay.as_deref() {
            Some(d) => match parse_duration(d) {
                Ok(d) if d > Duration::zero() => Some(d),
                Ok(_) => return Err(bad("delay", "must be positive")),
                Err(e) => return Err(bad("delay", e.to_string())),
            },
            None => None,
        };
        let phantom_reference = (kind == K::Phantom).then(|| {
            self.reference
                .clone()
                .unwrap_or_else(|| phantom_reference(&id))
        });
        Ok(Mismatch {
            id,
            kind,
            instance,
            day,
            account: self.account.clone(),
            target,
            phantom_reference,
            delta,
            amount,
            at,
            status,
            delay,
            keep_bytes: self.keep_bytes,
        })
    }
}

/// A phantom's default reference: `PHANTOM` and the id's letters and digits, at most 32
/// characters (the WeChat `out_trade_no` limit).
fn phantom_reference(id: &str) -> String {
    let mut r: String = "PHANTOM"
        .chars()
        .chain(id.chars().filter(|c| c.is_ascii_alphanumeric()))
        .collect();
    r.truncate(32);
    r
}

/// Check a mismatch against the world it is added to: the instance exists, the account is
/// one of its own, and the kind can be shown by its statements.
pub fn check_against_world(
    spec: &crate::scenario::WorldSpec,
    m: &Mismatch,
) -> Result<(), MismatchError> {
    let is_bank = if let Some(c) = spec.channel(&m.instance) {
        if let Some(a) = &m.account {
            if !c.merchants.iter().any(|x| &x.mch_id == a) {
                return Err(bad(
                    "account",
                    format!("`{a}` is not a merchant of channel `{}`", m.instance),
                ));
            }
        }
        false
    } else if let Some(b) = spec.bank(&m.instance) {
        if let Some(a) = &m.account {
            if !b.accounts.iter().any(|x| &x.no == a) {
                return Err(bad(
                    "account",
                    format!("`{a}` is not an account of bank `{}`", m.instance),
                ));
            }
        }
        true
    } else {
        return Err(bad(
            "instance",
            format!("`{}` is not a channel or bank of this world", m.instance),
        ));
    };
    if is_bank && m.kind == MismatchKind::Fee {
        return Err(bad(
            "kind",
            "`fee` mismatches apply to channel statements only: bank statements carry no fee",
        ));
    }
    Ok(())
}

/// The mismatches of a world, in the order they were added.
#[derive(Debug, Default, Clone)]
pub struct MismatchBook {
    mismatches: Vec<Mismatch>,
}

impl MismatchBook {
    /// The book a world starts with: its scenario's mismatches.
    pub fn from_spec(spec: &crate::scenario::WorldSpec) -> MismatchBook {
        MismatchBook {
            mismatches: spec.mismatches.clone(),
        }
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

/// True when `m` is about `source`'s account (its own, or the instance's default).
fn about(st: &WorldState, m: &Mismatch, source: &Source) -> bool {
    m.instance == source.instance()
        && Source::resolve(st, &m.instance, m.account.as_deref())
            .is_ok_and(|s| s.account() == source.account())
}

/// Find `target` among the truth of `window`: its position and the entry.
fn locate(
    st: &WorldState,
    source: &Source,
    window: DayWindow,
    target: &Target,
) -> Option<(usize, Entry)> {
    let mut entries = super::ledger_entries(st, source, window).enumerate();
    match target {
        Target::Reference(r) => entries.find(|(_, e)| &e.reference == r),
        Target::Nth(n) => entries.nth(*n),
    }
}

/// A change to one entry of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Drop,
    Amount(Decimal),
    Fee(Decimal),
    Status(EntryStatus),
    Duplicate,
}

/// Everything the mismatches do to one statement (one account, one day): resolved once,
/// then applied to the stream. Its size is bounded by the number of mismatches.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Changes to entries of the truth, by position.
    actions: Vec<(usize, Action)>,
    /// Entries that are not in the truth of the day, in booking order.
    inserts: Vec<Entry>,
    /// Change to the stated totals.
    pub summary_delta: Option<Decimal>,
    /// How much later than usual the statement is available.
    pub late_by: Option<Duration>,
    /// `Some(keep)` when the file is truncated: `Some(None)` keeps half.
    pub truncate: Option<Option<u64>>,
    /// True when the file is wrongly encoded.
    pub wrong_encoding: bool,
    /// Ids of status mismatches in effect (some formats cannot show them).
    pub status_ids: Vec<String>,
}

impl Plan {
    /// Resolve the mismatches that concern `source`'s statement for `window`.
    pub fn build(st: &WorldState, source: &Source, window: DayWindow) -> Plan {
        let mut plan = Plan::default();
        let currency = super::account_info(st, source).currency;
        for m in st.statements.all().iter().filter(|m| about(st, m, source)) {
            let own_day = m.day == window.day;
            match m.kind {
                MismatchKind::NextDay | MismatchKind::PreviousDay if !own_day => {
                    let from = day_window(m.day);
                    let lands = if m.kind == MismatchKind::NextDay {
                        from.next()
                    } else {
                        from.previous()
                    };
                    if lands.day != window.day {
                        continue;
                    }
                    if let Some((_, mut e)) =
                        m.target.as_ref().and_then(|t| locate(st, source, from, t))
                    {
                        e.at = if m.kind == MismatchKind::NextDay {
                            from.end + Duration::seconds(1)
                        } else {
                            from.start - Duration::seconds(1)
                        };
                        plan.inserts.push(e);
                    }
                }
                _ if !own_day => {}
                MismatchKind::Phantom => {
                    plan.inserts.push(phantom(st, source, window, m, currency))
                }
                MismatchKind::Summary => {
                    *plan.summary_delta.get_or_insert(Decimal::ZERO) +=
                        m.delta.unwrap_or(DEFAULT_DELTA)
                }
                MismatchKind::Late => {
                    plan.late_by = Some(
                        plan.late_by.unwrap_or_else(Duration::zero)
                            + m.delay.unwrap_or(Duration::days(1)),
                    )
                }
                MismatchKind::Truncated => plan.truncate = Some(m.keep_bytes),
                MismatchKind::Encoding => plan.wrong_encoding = true,
                _ => {
                    let Some((pos, _)) = m
                        .target
                        .as_ref()
                        .and_then(|t| locate(st, source, window, t))
                    else {
                        continue;
                    };
                    let action = match m.kind {
                        MismatchKind::Missing
                        | MismatchKind::NextDay
                        | MismatchKind::PreviousDay => Action::Drop,
                        MismatchKind::Amount => Action::Amount(m.delta.unwrap_or(DEFAULT_DELTA)),
                        MismatchKind::Fee => Action::Fee(m.delta.unwrap_or(DEFAULT_DELTA)),
                        MismatchKind::Status => {
                            plan.status_ids.push(m.id.clone());
                            Action::Status(m.status.unwrap_or(EntryStatus::Pending))
                        }
                        _ => Action::Duplicate,
                    };
                    plan.actions.push((pos, action));
                }
            }
        }
        plan.actions.sort_by_key(|(p, _)| *p);
        plan.inserts.sort_by_key(|e| e.at);
        plan
    }

    /// The statement's entries: `truth` with the plan applied. Lazy; holds only the plan.
    pub fn apply<'a>(
        &'a self,
        truth: impl Iterator<Item = Entry> + 'a,
    ) -> impl Iterator<Item = Entry> + 'a {
        let mut inserts = self.inserts.iter().peekable();
        let mut out: Vec<Entry> = Vec::new();
        let mut truth = truth.enumerate();
        let mut done = false;
        // `out` holds at most the entries produced from one truth entry (itself, its
        // duplicate, and the inserts due before it): bounded by the number of mismatches.
        std::iter::from_fn(move || loop {
            if let Some(e) = out.pop() {
                return Some(e);
            }
            if done {
                return inserts.next().cloned();
            }
            match truth.next() {
                None => done = true,
                Some((pos, mut e)) => {
                    let mut batch: Vec<Entry> = Vec::new();
                    while let Some(i) = inserts.next_if(|i| i.at <= e.at) {
                        batch.push(i.clone());
                    }
                    let mut keep = 1;
                    let start = self.actions.partition_point(|(p, _)| *p < pos);
                    for (_, action) in self.actions[start..].iter().take_while(|(p, _)| *p == pos) {
                        match *action {
                            Action::Drop => keep = 0,
                            Action::Amount(d) => {
                                e.amount.amount += if e.is_credit() { d } else { -d }
                            }
                            Action::Fee(d) => e.fee.amount += d,
                            Action::Status(s) => e.status = s,
                            Action::Duplicate => keep += 1,
                        }
                    }
                    for _ in 0..keep {
                        batch.push(e.clone());
                    }
                    batch.reverse();
                    out = batch;
                }
            }
        })
    }

    /// Apply the summary change to a head.
    pub fn adjust_head(&self, head: &mut StatementHead) {
        if let Some(d) = self.summary_delta {
            head.closing += d;
            head.totals.payment_sum += d;
        }
    }
}

/// A phantom entry for `m`: a payment to a channel merchant, a payout from a bank account.
fn phantom(
    st: &WorldState,
    source: &Source,
    window: DayWindow,
    m: &Mismatch,
    currency: crate::money::Currency,
) -> Entry {
    let amount = m.amount.unwrap_or(DEFAULT_PHANTOM_AMOUNT);
    let at = m.at.unwrap_or(window.start + Duration::hours(12));
    let reference = m
        .phantom_reference
        .clone()
        .unwrap_or_else(|| phantom_reference(&m.id));
    let mut details = super::Details::default();
    let (kind, signed, fee) = match source {
        Source::ChannelMerchant { instance, mch_id } => {
            let rate = st
                .spec
                .channel(instance)
                .map(|c| c.fee_rate)
                .unwrap_or_default();
            let merchant = st
                .spec
                .channel(instance)
                .and_then(|c| c.merchants.iter().find(|x| &x.mch_id == mch_id));
            details.app_id = merchant.map(|x| x.appid.clone()).unwrap_or_default();
            details.merchant_id = mch_id.clone();
            details.trade_type = "NATIVE".into();
            details.subject = "phantom".into();
            details.fee_rate = rate;
            let gross = Money { amount, currency };
            (
                super::EntryKind::Payment,
                amount,
                gross.times_rate_rounded(rate),
            )
        }
        Source::BankAccount { .. } => {
            details.subject = format!("payout {reference}");
            (super::EntryKind::Payout, -amount, Money::zero(currency))
        }
    };
    let digits: String =
        m.id.bytes()
            .map(|b| char::from(b'0' + b % 10))
            .chain(std::iter::repeat('0'))
            .take(10)
            .collect();
    Entry {
        at,
        created_at: Some(at),
        kind,
        status: EntryStatus::Booked,
        issuer_ref: format!("4200{}{digits}", window.day.format("%Y%m%d")),
        reference,
        refund_reference: None,
        refund_id: None,
        amount: Money {
            amount: signed,
            currency,
        },
        fee,
        details,
    }
}

/// A difference the harness must find in the SUT's reconciliation report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedDiscrepancy {
    /// Stable id: the mismatch's id (`{id}/moved` for the other day of a moved entry).
    pub id: String,
    /// The discrepancy kind of docs/sut-adapter.md.
    pub kind: String,
    /// The merchant order number (`out_trade_no`) or payout order number; `None` for
    /// file-level discrepancies.
    pub reference: Option<String>,
    /// The channel or bank.
    pub instance: String,
    /// The merchant id or account number.
    pub account: String,
    /// The business day the discrepancy shows on.
    pub date: NaiveDate,
    /// The injected mismatch kind that caused it.
    pub mismatch: MismatchKind,
    /// The true amount (absolute, major units); for `fee_mismatch`, the true fee.
    pub books_amount: Option<String>,
    /// What the statement shows (absolute, major units); for `fee_mismatch`, its fee.
    pub statement_amount: Option<String>,
    /// The real-world cause this stands for.
    pub cause: String,
}

/// Every expected discrepancy of `instance` (a channel or bank) on `day`, over all of its
/// accounts, in the order the mismatches were added. The harness holds the SUT's
/// reconciliation report against this list.
pub fn expected_discrepancies(
    st: &WorldState,
    instance: &str,
    day: NaiveDate,
) -> Vec<ExpectedDiscrepancy> {
    let mut out = Vec::new();
    for m in st
        .statements
        .all()
        .iter()
        .filter(|m| m.instance == instance)
    {
        let Ok(source) = Source::resolve(st, instance, m.account.as_deref()) else {
            continue;
        };
        let own = day_window(m.day);
        let moved_to = match m.kind {
            MismatchKind::NextDay => Some(own.next()),
            MismatchKind::PreviousDay => Some(own.previous()),
            _ => None,
        };
        let base = |kind: &str, id: String, reference: Option<String>, date: NaiveDate| {
            ExpectedDiscrepancy {
                id,
                kind: kind.to_string(),
                reference,
                instance: instance.to_string(),
                account: source.account().to_string(),
                date,
                mismatch: m.kind,
                books_amount: None,
                statement_amount: None,
                cause: m.kind.cause().to_string(),
            }
        };
        if m.day == day {
            let mut d = base(m.kind.discrepancy(), m.id.clone(), None, day);
            if m.kind == MismatchKind::Phantom {
                d.reference = m.phantom_reference.clone();
                d.statement_amount = Some(fmt2(m.amount.unwrap_or(DEFAULT_PHANTOM_AMOUNT)));
            } else if let Some(t) = &m.target {
                let Some((_, e)) = locate(st, &source, own, t) else {
                    continue;
                };
                d.reference = Some(e.reference.clone());
                let abs = e.amount.amount.abs();
                let (books, shown) = match m.kind {
                    MismatchKind::Amount => (abs, Some(abs + m.delta.unwrap_or(DEFAULT_DELTA))),
                    MismatchKind::Fee => (
                        e.fee.amount,
                        Some(e.fee.amount + m.delta.unwrap_or(DEFAULT_DELTA)),
                    ),
                    MismatchKind::Missing | MismatchKind::NextDay | MismatchKind::PreviousDay => {
                        (abs, None)
                    }
                    _ => (abs, Some(abs)),
                };
                d.books_amount = Some(fmt2(books));
                d.statement_amount = shown.map(fmt2);
            }
            out.push(d);
        } else if moved_to.is_some_and(|w| w.day == day) {
            let Some((_, e)) = m.target.as_ref().and_then(|t| locate(st, &source, own, t)) else {
                continue;
            };
            let mut d = base(
                "missing_in_books",
                format!("{}/moved", m.id),
                Some(e.reference.clone()),
                day,
            );
            d.statement_amount = Some(fmt2(e.amount.amount.abs()));
            out.push(d);
        }
    }
    out
}

fn fmt2(d: Decimal) -> String {
    Money {
        amount: d,
        currency: crate::money::Currency::Cny,
    }
    .major_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(kind: &str) -> RawMismatch {
        RawMismatch {
            kind: Some(kind.into()),
            instance: Some("wxpay".into()),
            day: Some("2026-03-02".into()),
            ..Default::default()
        }
    }

    #[test]
    fn validation_names_the_field() {
        let e = RawMismatch {
            delta: Some("1".into()),
            ..raw("missing")
        }
        .validate("m")
        .unwrap_err();
        assert_eq!(e.field, "delta");
        let e = raw("vanish").validate("m").unwrap_err();
        assert_eq!(e.field, "kind");
        assert!(e.problem.contains("missing, phantom"), "{e}");
        let e = RawMismatch {
            day: Some("02/03/2026".into()),
            ..raw("late")
        }
        .validate("m")
        .unwrap_err();
        assert_eq!(e.field, "day");
        let e = RawMismatch {
            reference: Some("A".into()),
            nth: Some(1),
            ..raw("amount")
        }
        .validate("m")
        .unwrap_err();
        assert_eq!(e.field, "nth");
        let e = RawMismatch {
            status: Some("booked".into()),
            ..raw("status")
        }
        .validate("m")
        .unwrap_err();
        assert_eq!(e.field, "status");
        let e = RawMismatch {
            at: Some("2026-03-03 10:00".into()),
            ..raw("phantom")
        }
        .validate("m")
        .unwrap_err();
        assert_eq!(e.field, "at");
    }

    #[test]
    fn defaults_target_the_first_entry_and_name_phantoms_after_the_id() {
        let m = raw("duplicate").validate("dup-1").unwrap();
        assert_eq!(m.target, Some(Target::Nth(0)));
        let p = raw("phantom").validate("ph-1").unwrap();
        assert_eq!(p.phantom_reference.as_deref(), Some("PHANTOMph1"));
        assert_eq!(p.target, None);
    }

    #[test]
    fn every_kind_maps_to_a_documented_discrepancy() {
        for k in KINDS.split(", ") {
            let kind = MismatchKind::parse(k).unwrap();
            assert!(!kind.discrepancy().is_empty());
        }
    }
}
