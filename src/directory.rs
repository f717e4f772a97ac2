//! Who is mounted where: each channel's and bank's id, family, kind and accounts.
//!
//! This is the part of a world's spec that modules below the kinds may read. Statements
//! resolve "the merchant `10000100` of `wxpay`" or "account `6222…` of `bank`" here; the
//! fault and mismatch checks ask whether a target exists; the server and the control API
//! ask whether an id is a channel or a bank. None of them needs to know what a WeChat
//! merchant or a payout client looks like, so none of them names a kind: each kind
//! describes its own instance as an [`Instance`] when its scenario section is validated.

use crate::ledger::accounts;
use crate::money::{Currency, Money};
use serde::Serialize;

/// Which side of the settlement system an instance stands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// An acquiring channel: money comes in from customers to merchants.
    Channel,
    /// A payout bank: money goes out of platform accounts to beneficiaries.
    Bank,
}

impl Family {
    /// `channel` or `bank`, as messages say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Channel => "channel",
            Family::Bank => "bank",
        }
    }
}

/// An account a statement can be issued for: a merchant at a channel, a platform account
/// at a bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// The merchant id or the account number.
    pub number: String,
    /// The holder's name as statements print it.
    pub name: String,
    /// The account's currency.
    pub currency: Currency,
    /// What the account holds when the world begins (zero for channel merchants).
    pub opening: Money,
}

/// One mounted channel or bank, as every module may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instance {
    /// The mount id (`/{id}/`).
    pub id: String,
    /// Channel or bank.
    pub family: Family,
    /// The kind's name as scenario files spell it (`wechatpay-v2`, `payout-json`).
    pub kind: &'static str,
    /// Its accounts, the first being the default one.
    pub accounts: Vec<Account>,
    /// The operation names a fault rule's `op` may name on it: the requests it serves and
    /// the callbacks it sends (each kind lists its own).
    pub ops: &'static [&'static str],
}

impl Instance {
    /// The account numbered `number`, or the first when `None`.
    pub fn account(&self, number: Option<&str>) -> Option<&Account> {
        match number {
            Some(n) => self.accounts.iter().find(|a| a.number == n),
            None => self.accounts.first(),
        }
    }

    /// The ledger account of account `number` of this instance.
    pub fn ledger_account(&self, number: &str) -> String {
        match self.family {
            Family::Channel => accounts::channel_merchant(&self.id, number),
            Family::Bank => accounts::bank_account(&self.id, number),
        }
    }

    /// What an account of this instance is called in messages.
    pub fn account_noun(&self) -> &'static str {
        match self.family {
            Family::Channel => "a merchant",
            Family::Bank => "an account",
        }
    }
}

/// Every instance of a world, in scenario order (channels first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Directory {
    instances: Vec<Instance>,
}

impl Directory {
    /// A directory of `instances`; ids were checked unique by the scenario.
    pub fn new(instances: Vec<Instance>) -> Directory {
        Directory { instances }
    }

    /// The instance mounted at `id`.
    pub fn get(&self, id: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.id == id)
    }

    /// True when something is mounted at `id`.
    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// Every instance.
    pub fn all(&self) -> &[Instance] {
        &self.instances
    }

    /// The instance at `id` and its account `number` (the first when `None`), or a message
    /// naming what does not exist.
    pub fn account(&self, id: &str, number: Option<&str>) -> Result<(&Instance, &Account), String> {
        let instance = self
            .get(id)
            .ok_or_else(|| format!("`{id}` is not a channel or bank of this world"))?;
        let account = instance.account(number).ok_or_else(|| {
            format!(
                "account: `{}` is not {} of {} `{id}`",
                number.unwrap_or(""),
                instance.account_noun(),
                instance.family.as_str()
            )
        })?;
        Ok((instance, account))
    }
}
