//! Synthetic days: deterministic entries of any number, made one at a time (the benchmark
//! streams a million of them without holding any), with the kinds the world cannot yet
//! produce (refunds). Used by the golden files, the benchmark, the streaming test and the
//! parser fixtures.

use super::{AccountInfo, DayWindow, Details, Entry, EntryKind, EntryStatus, StatementHead};
use crate::clock::Instant;
use crate::money::{Currency, Money};
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;

/// Which account the day is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// A WeChat/Alipay merchant: payments, every 10th entry a refund of the one before.
    Channel,
    /// A bank account: payouts, every 20th entry the return (退票) of the one before.
    Bank,
}

/// The fee rate of synthetic channel days (0.60 %).
pub const FEE_RATE: Decimal = Decimal::from_parts(6, 0, 0, false, 3);

/// The day synthetic statements are of.
pub fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default()
}

const SUBJECTS: [&str; 4] = ["测试商品", "Coffee, large", "会员充值", "T-shirt"];

/// `prefix`, then `v` zero-padded to at least `width` (≤ 20) digits: `format!("{prefix}{v:0width$}")`
/// without the formatting machinery, which a million-entry day would otherwise spend most
/// of its time in.
fn padded(prefix: &str, v: u64, width: usize) -> String {
    let mut digits = [b'0'; 20];
    let (mut i, mut x) = (digits.len(), v);
    loop {
        i -= 1;
        digits[i] = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    let start = i.min(digits.len().saturating_sub(width));
    let mut s = String::with_capacity(prefix.len() + digits.len() - start);
    s.push_str(prefix);
    // Only ASCII digits: always UTF-8.
    s.push_str(std::str::from_utf8(&digits[start..]).unwrap_or_default());
    s
}

fn minor(i: u64) -> i64 {
    // 0.01 … 1 000.00, spread irregularly.
    ((i.wrapping_mul(7_919) % 100_000) + 1) as i64
}

/// When entry `i` of a synthetic day of `n` entries is booked.
fn at_of(window: &DayWindow, i: u64, n: u64) -> Instant {
    let span = (window.end - window.start).num_seconds() as u64 - 1;
    window.start + Duration::seconds((i * span / n.max(1)) as i64)
}

/// Entry `i` of a synthetic day of `n` entries.
pub fn entry(flavour: Flavour, window: &DayWindow, i: u64, n: u64) -> Entry {
    let at = at_of(window, i, n);
    match flavour {
        Flavour::Channel => {
            let refund = i % 10 == 9;
            let order = if refund { i - 1 } else { i };
            let paid = if refund { at_of(window, order, n) } else { at };
            let gross = Money::from_minor(minor(order), Currency::Cny);
            let (amount, fee) = if refund {
                let part = Money::from_minor(minor(order) / 2 + 1, Currency::Cny);
                (-part, -part.times_rate_rounded(FEE_RATE))
            } else {
                (gross, gross.times_rate_rounded(FEE_RATE))
            };
            Entry {
                at,
                created_at: Some(at - Duration::seconds(7)),
                kind: if refund {
                    EntryKind::Refund
                } else {
                    EntryKind::Payment
                },
                status: EntryStatus::Booked,
                reference: padded("ORD", order, 13),
                issuer_ref: padded("4200002026030", order, 15),
                refund_reference: refund.then(|| padded("RF", order, 13)),
                refund_id: refund.then(|| padded("5030002026030", order, 15)),
                amount,
                fee,
                details: Details {
                    app_id: "wx2421b1c4370ec43b".into(),
                    merchant_id: "10000100".into(),
                    payer: padded("oUpF8uMuAJO_M2pxb1Q9zN", order % 1_000_000, 6),
                    trade_type: if order % 3 == 0 { "JSAPI" } else { "NATIVE" }.into(),
                    subject: SUBJECTS[(order % 4) as usize].into(),
                    attach: if order % 5 == 0 {
                        "shop=1".into()
                    } else {
                        String::new()
                    },
                    fee_rate: FEE_RATE,
                    // A refund's order was paid by the entry before it; the refund was
                    // asked for a few seconds before it succeeded.
                    paid_at: Some(paid),
                    refund_requested_at: refund.then(|| (at - Duration::seconds(3)).max(paid)),
                    ..Details::default()
                },
            }
        }
        Flavour::Bank => {
            let ret = i % 20 == 19;
            let order = if ret { i - 1 } else { i };
            let amount = Money::from_minor(minor(order), Currency::Cny);
            let payout_id = padded("AP20260302", order, 12);
            Entry {
                at,
                created_at: Some(at),
                kind: if ret {
                    EntryKind::PayoutReturn
                } else {
                    EntryKind::Payout
                },
                status: EntryStatus::Booked,
                reference: padded("PO", order, 12),
                issuer_ref: if ret {
                    format!("{payout_id}R")
                } else {
                    payout_id
                },
                refund_reference: None,
                refund_id: None,
                amount: if ret { amount } else { -amount },
                fee: Money::zero(Currency::Cny),
                details: Details {
                    merchant_id: "20000100".into(),
                    counterparty_account: padded("62220200", order % 1000, 11),
                    counterparty_name: format!("收款人 {}", order % 1000),
                    subject: if ret {
                        format!("return of payout PO{order:012}")
                    } else {
                        format!("payout PO{order:012}")
                    },
                    ..Details::default()
                },
            }
        }
    }
}

/// The `n` entries of a synthetic day, made lazily.
pub fn entries(flavour: Flavour, n: u64) -> impl Iterator<Item = Entry> + Clone {
    let window = super::day_window(day());
    (0..n).map(move |i| entry(flavour, &window, i, n))
}

/// The account of a synthetic day.
pub fn account(flavour: Flavour) -> AccountInfo {
    match flavour {
        Flavour::Channel => AccountInfo {
            instance: "wxpay".into(),
            number: "10000100".into(),
            name: "merchant 10000100".into(),
            currency: Currency::Cny,
        },
        Flavour::Bank => AccountInfo {
            instance: "bank".into(),
            number: "6222000000000000001".into(),
            name: "sandbank platform reserve".into(),
            currency: Currency::Cny,
        },
    }
}

/// The head of a synthetic day of `n` entries (walks them once), produced at 06:00 the next
/// day; the bank account opens with 1 000 000.00.
pub fn head(flavour: Flavour, n: u64, filter: impl Fn(&Entry) -> bool) -> StatementHead {
    let window = super::day_window(day());
    let opening = match flavour {
        Flavour::Channel => Decimal::ZERO,
        Flavour::Bank => Decimal::from(1_000_000),
    };
    StatementHead::summarise(
        account(flavour),
        window,
        window.end + Duration::hours(6),
        opening,
        entries(flavour, n).filter(|e| filter(e)),
    )
}

/// A field of `/proc/self/status` in KiB (`VmHWM`: peak resident memory, `VmRSS`: resident
/// memory now), for the benchmark and the streaming test. `None` off Linux.
pub fn memory_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Reset the peak (`VmHWM`) to the current resident size, so that the next peak measures
/// one piece of work (Linux: writing `5` to `/proc/self/clear_refs`). False when the kernel
/// does not allow it; peaks are then cumulative.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::padded;

    #[test]
    fn padded_numbers_print_as_format_does() {
        for v in [0, 7, 42, 999_999, 1_000_000, 1234567890123, u64::MAX] {
            for w in [0, 1, 6, 13, 15, 20] {
                assert_eq!(padded("ORD", v, w), format!("ORD{v:0w$}"), "{v} {w}");
            }
        }
    }
}
