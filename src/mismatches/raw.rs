//! Mismatches as written — a `[[mismatches]]` section of a scenario, or JSON posted to the
//! control API — and their validation into a [`Mismatch`], each problem naming its field.

use super::{bad, EntryStatus, Mismatch, MismatchError, MismatchKind, Target, KINDS};
use crate::clock::{day_window, parse_duration, parse_instant, SHANGHAI};
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
}
