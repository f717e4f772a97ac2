//! Money: an amount in `rust_decimal` with its currency, and the rounding rules we use.
//!
//! Everything that moves money in sandbank is a [`Money`]. Amounts never pass through floats.
//! Channels speak integer minor units on the wire (WeChat `total_fee` is fen); conversions
//! are exact and reject amounts that do not fit the currency's minor unit.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Largest amount, in major units, sandbank accepts anywhere (balances, payouts,
/// mismatch deltas and phantoms): one trillion yuan. Far above any real transfer or
/// account, and small enough that sums of millions of such amounts stay exact in
/// `rust_decimal` (about 7.9 × 10^28) and in 64-bit minor units (about 9.2 × 10^16 major).
pub const MAX_MAJOR: i64 = 1_000_000_000_000;

/// An ISO 4217 currency that sandbank knows the minor unit of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    /// Chinese yuan; minor unit fen (2 decimals).
    Cny,
    /// Euro; minor unit cent (2 decimals).
    Eur,
    /// US dollar; minor unit cent (2 decimals).
    Usd,
}

impl Currency {
    /// Number of decimals of the minor unit.
    pub fn exponent(self) -> u32 {
        match self {
            Currency::Cny | Currency::Eur | Currency::Usd => 2,
        }
    }
    /// The ISO code, e.g. `CNY`.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Cny => "CNY",
            Currency::Eur => "EUR",
            Currency::Usd => "USD",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "CNY" => Ok(Currency::Cny),
            "EUR" => Ok(Currency::Eur),
            "USD" => Ok(Currency::Usd),
            other => Err(MoneyError::UnknownCurrency(other.to_string())),
        }
    }
}

/// Why an amount could not be built or converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The currency code is not one sandbank knows.
    #[error("unknown currency `{0}` (known: CNY, EUR, USD)")]
    UnknownCurrency(String),
    /// The text is not a decimal amount.
    #[error("`{0}` is not a decimal amount")]
    NotAnAmount(String),
    /// The amount has more decimals than the currency's minor unit.
    #[error("{amount} has more decimals than {currency} allows ({exponent})")]
    TooPrecise {
        /// The offending amount as written.
        amount: String,
        /// Its currency.
        currency: Currency,
        /// Decimals the currency allows.
        exponent: u32,
    },
    /// Two amounts of different currencies were combined.
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    /// The amount does not fit 64-bit minor units, or is larger than [`MAX_MAJOR`].
    #[error("amount out of range (at most {MAX_MAJOR} in major units)")]
    OutOfRange,
}

/// An amount of money in a currency. Always exact; may be negative (a debit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount in major units (yuan), exact.
    pub amount: Decimal,
    /// The currency of the amount.
    pub currency: Currency,
}

impl Money {
    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Money {
        Money {
            amount: Decimal::ZERO,
            currency,
        }
    }

    /// Build from integer minor units (fen, cents). Exact.
    pub fn from_minor(minor: i64, currency: Currency) -> Money {
        Money {
            amount: Decimal::new(minor, currency.exponent()),
            currency,
        }
    }

    /// Parse a major-unit amount such as `123.45`; rejects more decimals than the currency has.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let amount = Decimal::from_str(text.trim())
            .map_err(|_| MoneyError::NotAnAmount(text.to_string()))?;
        if amount.normalize().scale() > currency.exponent() {
            return Err(MoneyError::TooPrecise {
                amount: text.to_string(),
                currency,
                exponent: currency.exponent(),
            });
        }
        Money { amount, currency }.bounded()
    }

    /// `self` if its size is at most [`MAX_MAJOR`] major units.
    pub fn bounded(self) -> Result<Money, MoneyError> {
        if self.amount.abs() > Decimal::from(MAX_MAJOR) {
            Err(MoneyError::OutOfRange)
        } else {
            Ok(self)
        }
    }

    /// Integer minor units; errors if the amount has sub-minor precision or does not fit.
    pub fn to_minor(&self) -> Result<i64, MoneyError> {
        let scaled = self
            .amount
            .checked_mul(Decimal::from(10i64.pow(self.currency.exponent())))
            .ok_or(MoneyError::OutOfRange)?;
        if scaled.normalize().scale() != 0 {
            return Err(MoneyError::TooPrecise {
                amount: self.amount.to_string(),
                currency: self.currency,
                exponent: self.currency.exponent(),
            });
        }
        i64::try_from(scaled).map_err(|_| MoneyError::OutOfRange)
    }

    /// Sum, refusing to mix currencies.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        Ok(Money {
            amount: self
                .amount
                .checked_add(other.amount)
                .ok_or(MoneyError::OutOfRange)?,
            currency: self.currency,
        })
    }

    /// Multiply by a rate and round to the minor unit, half away from zero (四舍五入), which
    /// is how the Chinese channels round fees. The one rounding rule for fees in sandbank.
    pub fn times_rate_rounded(self, rate: Decimal) -> Money {
        // Saturates rather than panics; bounded amounts times a fee rate never reach it.
        let raw = self.amount.saturating_mul(rate);
        Money {
            amount: raw.round_dp_with_strategy(
                self.currency.exponent(),
                RoundingStrategy::MidpointAwayFromZero,
            ),
            currency: self.currency,
        }
    }

    /// The amount with exactly `dp` decimals, e.g. `0.60` or a fee as `0.00600` (5 dp).
    pub fn fixed(&self, dp: u32) -> String {
        let mut a = self
            .amount
            .round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
        a.rescale(dp);
        a.to_string()
    }

    /// The amount with the currency's decimals, e.g. `123.40`.
    pub fn major_string(&self) -> String {
        self.fixed(self.currency.exponent())
    }
}

impl std::ops::Neg for Money {
    type Output = Money;
    /// The same amount with the opposite sign (a debit leg of a credit).
    fn neg(self) -> Money {
        Money {
            amount: -self.amount,
            currency: self.currency,
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.major_string(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_round_trip_exactly() {
        let m = Money::from_minor(12345, Currency::Cny);
        assert_eq!(m.major_string(), "123.45");
        assert_eq!(m.to_minor().unwrap(), 12345);
    }

    #[test]
    fn parse_rejects_sub_fen_precision() {
        assert!(matches!(
            Money::parse("1.005", Currency::Cny),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert_eq!(
            Money::parse("1.50", Currency::Cny)
                .unwrap()
                .to_minor()
                .unwrap(),
            150
        );
        assert!(Money::parse("abc", Currency::Cny).is_err());
    }

    #[test]
    fn fee_rounding_is_half_away_from_zero() {
        // 0.6% of 0.75 = 0.0045 -> 0.00 ; of 2.50 = 0.015 -> 0.02 (not banker's 0.02/0.01)
        let rate = Decimal::new(6, 3);
        assert_eq!(
            Money::from_minor(75, Currency::Cny)
                .times_rate_rounded(rate)
                .to_minor()
                .unwrap(),
            0
        );
        assert_eq!(
            Money::from_minor(250, Currency::Cny)
                .times_rate_rounded(rate)
                .to_minor()
                .unwrap(),
            2
        );
        assert_eq!(
            Money::from_minor(-250, Currency::Cny)
                .times_rate_rounded(rate)
                .to_minor()
                .unwrap(),
            -2
        );
        assert_eq!(Money::from_minor(3, Currency::Cny).fixed(5), "0.03000");
    }

    #[test]
    fn amounts_are_bounded_and_sums_checked() {
        assert!(Money::parse("1000000000000", Currency::Cny).is_ok());
        assert_eq!(
            Money::parse("1000000000000.01", Currency::Cny),
            Err(MoneyError::OutOfRange)
        );
        assert_eq!(
            Money::parse("-79228162514264337593543950335", Currency::Cny),
            Err(MoneyError::OutOfRange)
        );
        let max = Money {
            amount: Decimal::MAX,
            currency: Currency::Cny,
        };
        assert_eq!(max.checked_add(max), Err(MoneyError::OutOfRange));
        assert_eq!(max.to_minor(), Err(MoneyError::OutOfRange));
    }

    #[test]
    fn currencies_do_not_mix() {
        let a = Money::from_minor(1, Currency::Cny);
        let b = Money::from_minor(1, Currency::Eur);
        assert!(a.checked_add(b).is_err());
    }
}
