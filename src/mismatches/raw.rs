//! Mismatches as written — a `[[mismatches]]` section of a scenario, or JSON posted to the
//! control API — and their validation into a [`Mismatch`], each problem naming its field.

use super::{bad, EntryStatus, Mismatch, MismatchError, MismatchKind, Target, KINDS};
use crate::clock::{
    check_date, check_instant, day_window, parse_duration, parse_instant, Instant, SHANGHAI,
};
use crate::money::MAX_MAJOR;
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

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

impl RawMismatch {
    /// Validate; `default_id` names it when `id` is omitted. Whether the instance exists and
    /// what kind it is are the caller's to check (`scenario::check_mismatch`).
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
        let day = check_date(day).map_err(|e| bad("day", e.to_string()))?;
        self.fields_fit(kind, kind_text)?;
        let target = self.target(kind)?;
        let (delta, amount) = (self.decimal("delta")?, self.decimal("amount")?);
        let at = self.at(day)?;
        let status = self.status()?;
        let delay = self.delay()?;
        let phantom_reference = (kind == MismatchKind::Phantom).then(|| {
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

    /// Refuse a field given for a kind it does not apply to.
    fn fields_fit(&self, kind: MismatchKind, kind_text: &str) -> Result<(), MismatchError> {
        use MismatchKind as K;
        const ENTRY: [MismatchKind; 7] = [
            K::Missing,
            K::Amount,
            K::Status,
            K::Fee,
            K::NextDay,
            K::PreviousDay,
            K::Duplicate,
        ];
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
        let entry_or_phantom: Vec<MismatchKind> =
            ENTRY.iter().copied().chain([K::Phantom]).collect();
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
        only("nth", self.nth.is_some(), &ENTRY, "entry")?;
        only(
            "reference",
            self.reference.is_some(),
            &entry_or_phantom,
            "entry and phantom",
        )
    }

    /// Which entry an entry mismatch touches: by reference, or by position (first by default).
    fn target(&self, kind: MismatchKind) -> Result<Option<Target>, MismatchError> {
        if !kind.targets_entry() {
            return Ok(None);
        }
        match (&self.reference, self.nth) {
            (Some(_), Some(_)) => Err(bad("nth", "give `reference` or `nth`, not both")),
            (Some(r), None) => Ok(Some(Target::Reference(r.clone()))),
            (None, n) => Ok(Some(Target::Nth(n.unwrap_or(0)))),
        }
    }

    /// `delta` or `amount`: a decimal with at most 2 places; a delta is not zero, an amount
    /// is positive.
    fn decimal(&self, field: &str) -> Result<Option<Decimal>, MismatchError> {
        let text = if field == "delta" {
            &self.delta
        } else {
            &self.amount
        };
        let Some(t) = text.as_deref() else {
            return Ok(None);
        };
        let d = Decimal::from_str(t.trim())
            .map_err(|_| bad(field, format!("`{t}` is not a decimal amount")))?;
        if d.normalize().scale() > 2 {
            return Err(bad(field, format!("`{t}` has more than 2 decimals")));
        }
        if d.abs() > Decimal::from(MAX_MAJOR) {
            return Err(bad(
                field,
                format!("`{t}` is larger than the maximum of {MAX_MAJOR}"),
            ));
        }
        if field == "delta" && d.is_zero() {
            return Err(bad("delta", "a zero delta changes nothing"));
        }
        if field == "amount" && d <= Decimal::ZERO {
            return Err(bad("amount", "a phantom's amount must be positive"));
        }
        Ok(Some(d))
    }

    /// A phantom's booking time, which must fall on its day.
    fn at(&self, day: NaiveDate) -> Result<Option<Instant>, MismatchError> {
        let Some(t) = &self.at else {
            return Ok(None);
        };
        let at = parse_instant(t, SHANGHAI).ok_or_else(|| {
            bad(
                "at",
                format!("`{t}` is not an instant (RFC 3339 or `YYYY-MM-DD HH:MM`)"),
            )
        })?;
        let at = check_instant(at).map_err(|e| bad("at", e.to_string()))?;
        if !day_window(day).contains(at) {
            return Err(bad(
                "at",
                format!("{} is not on {day} (Beijing time)", at.to_rfc3339()),
            ));
        }
        Ok(Some(at))
    }

    /// The status a `status` mismatch shows: anything but the truth's `booked`.
    fn status(&self) -> Result<Option<EntryStatus>, MismatchError> {
        match self.status.as_deref() {
            None => Ok(None),
            Some(s) => match EntryStatus::parse(s) {
                Some(EntryStatus::Booked) | None => Err(bad(
                    "status",
                    format!("`{s}` is not one of pending, failed"),
                )),
                Some(x) => Ok(Some(x)),
            },
        }
    }

    /// How much later a `late` statement comes: a positive duration.
    fn delay(&self) -> Result<Option<Duration>, MismatchError> {
        match self.delay.as_deref() {
            None => Ok(None),
            Some(d) => match parse_duration(d) {
                Ok(d) if d > Duration::zero() => Ok(Some(d)),
                Ok(_) => Err(bad("delay", "must be positive")),
                Err(e) => Err(bad("delay", e.to_string())),
            },
        }
    }
}

/// A phantom's default reference: `PHANTOM` and the id's letters and digits, at most 32
/// characters (the WeChat `out_trade_no` limit).
pub fn phantom_reference(id: &str) -> String {
    let mut r: String = "PHANTOM"
        .chars()
        .chain(id.chars().filter(|c| c.is_ascii_alphanumeric()))
        .collect();
    r.truncate(32);
    r
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
        // (what is wrong, the raw mismatch, the field the error must name)
        let cases = [
            (
                "a delta on a missing entry",
                RawMismatch {
                    delta: Some("1".into()),
                    ..raw("missing")
                },
                "delta",
            ),
            ("an unknown kind", raw("vanish"), "kind"),
            (
                "a day that is not ISO",
                RawMismatch {
                    day: Some("02/03/2026".into()),
                    ..raw("late")
                },
                "day",
            ),
            (
                "both a reference and a position",
                RawMismatch {
                    reference: Some("A".into()),
                    nth: Some(1),
                    ..raw("amount")
                },
                "nth",
            ),
            (
                "a status the truth already has",
                RawMismatch {
                    status: Some("booked".into()),
                    ..raw("status")
                },
                "status",
            ),
            (
                "a phantom booked on another day",
                RawMismatch {
                    at: Some("2026-03-03 10:00".into()),
                    ..raw("phantom")
                },
                "at",
            ),
            (
                "a negative amount",
                RawMismatch {
                    amount: Some("-1.00".into()),
                    ..raw("phantom")
                },
                "amount",
            ),
        ];
        for (what, raw, field) in cases {
            let e = raw
                .validate("m")
                .expect_err(&format!("{what} must be refused"));
            assert_eq!(e.field, field, "{what}: {e}");
        }
        let e = raw("vanish").validate("m").unwrap_err();
        assert!(
            e.problem.contains("missing, phantom"),
            "lists the kinds: {e}"
        );
    }

    #[test]
    fn defaults_target_the_first_entry_and_name_phantoms_after_the_id() {
        let m = raw("duplicate").validate("dup-1").unwrap();
        assert_eq!(m.target, Some(Target::Nth(0)));
        let p = raw("phantom").validate("ph-1").unwrap();
        assert_eq!(p.phantom_reference.as_deref(), Some("PHANTOMph1"));
        assert_eq!(p.target, None);
    }
}
