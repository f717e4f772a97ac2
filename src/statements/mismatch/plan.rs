//! The plan of one statement: which entries of the truth the mismatches drop, change or
//! repeat, and which they add, resolved once and applied lazily to the entry stream.

use super::{
    about, locate, phantom_reference, Mismatch, MismatchKind, DEFAULT_DELTA, DEFAULT_PHANTOM_AMOUNT,
};
use crate::money::{Currency, Money};
use crate::statements::{
    account_info, day_window, Books, DayWindow, Entry, EntryStatus, Phantom, Source, StatementHead,
};
use chrono::Duration;
use rust_decimal::Decimal;

/// A change to one entry of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
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
    actions: Vec<(usize, Change)>,
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
    pub fn build(books: &Books<'_>, source: &Source, window: DayWindow) -> Plan {
        let mut plan = Plan::default();
        let currency = account_info(books, source).currency;
        for m in books
            .mismatches
            .all()
            .iter()
            .filter(|m| about(books, m, source))
        {
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
                    if let Some((_, mut e)) = m
                        .target
                        .as_ref()
                        .and_then(|t| locate(books, source, from, t))
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
                MismatchKind::Phantom => plan
                    .inserts
                    .extend(phantom(books, source, window, m, currency)),
                MismatchKind::Summary => {
                    *plan.summary_delta.get_or_insert(Decimal::ZERO) +=
                        m.delta.unwrap_or(DEFAULT_DELTA)
                }
                MismatchKind::Late => {
                    plan.late_by = Some(
                        plan.late_by
                            .unwrap_or_else(Duration::zero)
                            .checked_add(&m.delay.unwrap_or(Duration::days(1)))
                            .unwrap_or(Duration::MAX),
                    )
                }
                MismatchKind::Truncated => plan.truncate = Some(m.keep_bytes),
                MismatchKind::Encoding => plan.wrong_encoding = true,
                _ => {
                    let Some((pos, _)) = m
                        .target
                        .as_ref()
                        .and_then(|t| locate(books, source, window, t))
                    else {
                        continue;
                    };
                    let action = match m.kind {
                        MismatchKind::Missing
                        | MismatchKind::NextDay
                        | MismatchKind::PreviousDay => Change::Drop,
                        MismatchKind::Amount => Change::Amount(m.delta.unwrap_or(DEFAULT_DELTA)),
                        MismatchKind::Fee => Change::Fee(m.delta.unwrap_or(DEFAULT_DELTA)),
                        MismatchKind::Status => {
                            plan.status_ids.push(m.id.clone());
                            Change::Status(m.status.unwrap_or(EntryStatus::Pending))
                        }
                        _ => Change::Duplicate,
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
                            Change::Drop => keep = 0,
                            Change::Amount(d) => {
                                e.amount.amount += if e.is_credit() { d } else { -d }
                            }
                            Change::Fee(d) => e.fee.amount += d,
                            Change::Status(s) => e.status = s,
                            Change::Duplicate => keep += 1,
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

/// A phantom entry for `m`, described by the kind of `source`'s instance.
fn phantom(
    books: &Books<'_>,
    source: &Source,
    window: DayWindow,
    m: &Mismatch,
    currency: Currency,
) -> Option<Entry> {
    let amount = m.amount.unwrap_or(DEFAULT_PHANTOM_AMOUNT);
    let phantom = Phantom {
        id: m.id.clone(),
        reference: m
            .phantom_reference
            .clone()
            .unwrap_or_else(|| phantom_reference(&m.id)),
        amount: Money { amount, currency },
        at: m.at.unwrap_or(window.start + Duration::hours(12)),
        day: window.day,
    };
    books.rows.phantom(source, &phantom)
}
