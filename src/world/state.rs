//! The whole mutable world, and what may be done to it besides serving requests and
//! firing timers: the simulated customer and bank actions, fault rules and mismatches added
//! at run time, and statements read from it.

use crate::banks::{Bank, Payout};
use crate::channels::Channel;
use crate::clock::{Clock, ClockMode, Instant};
use crate::core::{ActionError, Core, OrderStats, OrderView};
use crate::faults::{FaultPlan, RawRule, Rule};
use crate::journal::{EntryKind, Record};
use crate::ledger::{accounts, Posting, PostingKind};
use crate::mismatches::{Mismatch, MismatchBook, RawMismatch};
use crate::money::Money;
use crate::scenario::{check_mismatch, check_rule, WorldSpec};
use crate::statements::render::{self, Format, RenderError};
use crate::statements::{
    expected_discrepancies, Books, Describe, Entry, ExpectedDiscrepancy, Phantom, Source,
    StatementHead,
};
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The whole mutable world: the services every kind shares, the fault plan, and each
/// channel's and bank's own state.
#[derive(Debug)]
pub struct WorldState {
    /// The validated scenario the world was built from.
    pub spec: Arc<WorldSpec>,
    /// Bumped on every reset or load, so work begun in an older world is discarded.
    pub generation: u64,
    /// Clock, timers, generator, ledger, journal, mismatches, directory.
    pub core: Core,
    /// Active fault rules.
    pub faults: FaultPlan,
    /// Channels by mount id. Private: the world hands a channel to its verbs, nobody else
    /// reaches into it.
    pub(super) channels: BTreeMap<String, Channel>,
    /// Banks by mount id.
    pub(super) banks: BTreeMap<String, Bank>,
}

/// Why a rule or mismatch could not be added at run time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddError {
    /// It does not validate, or names something this world does not have.
    #[error("{0}")]
    Invalid(String),
    /// It clashes with one already there (an id in use, a full book).
    #[error("{0}")]
    Conflict(String),
}

impl WorldState {
    /// A fresh world from `spec`, with opening balances posted.
    pub fn new(spec: Arc<WorldSpec>, generation: u64) -> WorldState {
        let clock = match spec.clock {
            ClockMode::Manual => Clock::manual(spec.start.unwrap_or_else(chrono::Utc::now)),
            ClockMode::Real => Clock::real(spec.start),
        };
        let core = Core::new(
            clock,
            spec.seed,
            spec.directory.clone(),
            MismatchBook::new(spec.mismatches.clone()),
            spec.journal_bytes,
        );
        let mut st = WorldState {
            generation,
            core,
            faults: FaultPlan::default(),
            channels: spec
                .channels
                .iter()
                .map(|c| (c.id().to_string(), Channel::new(c)))
                .collect(),
            banks: spec
                .banks
                .iter()
                .map(|b| (b.id().to_string(), Bank::new(b)))
                .collect(),
            spec: spec.clone(),
        };
        for rule in &spec.faults {
            // Ids were checked unique when the scenario was validated.
            let _ = st.faults.add(rule.clone());
        }
        let now = st.core.now();
        st.core.record(
            EntryKind::World,
            Record {
                instance: "world".into(),
                op: "load".into(),
                message: format!(
                    "world `{}` loaded: seed {}, {} clock at {}",
                    spec.name,
                    spec.seed,
                    if spec.clock == ClockMode::Manual {
                        "manual"
                    } else {
                        "real"
                    },
                    crate::clock::beijing_time(now)
                ),
                ..Default::default()
            },
        );
        st.open_accounts();
        st
    }

    /// Post every account's opening balance from `world:funding`.
    fn open_accounts(&mut self) {
        let directory = self.core.directory.clone();
        for instance in directory.all() {
            for acct in instance
                .accounts
                .iter()
                .filter(|a| !a.opening.amount.is_zero())
            {
                let to = instance.ledger_account(&acct.number);
                // Two legs of the same amount and currency: balances by construction.
                let _ = self.core.transfer(
                    PostingKind::Opening,
                    &instance.id,
                    &acct.number,
                    accounts::FUNDING,
                    &to,
                    acct.opening,
                    Some("opening balance"),
                );
            }
        }
    }

    /// The world clock's instant.
    pub fn now(&self) -> Instant {
        self.core.now()
    }

    /// The customer pays order `reference` at channel `channel` (under merchant `account`
    /// when several merchants use the number).
    pub fn customer_pay(
        &mut self,
        channel: &str,
        reference: &str,
        account: Option<&str>,
    ) -> Result<serde_json::Value, ActionError> {
        let WorldState { core, channels, .. } = self;
        let c = channels
            .get_mut(channel)
            .ok_or_else(|| ActionError::NotFound(format!("no channel `{channel}`")))?;
        c.customer_pay(core, reference, account)
    }

    /// Order `reference` as channel `channel` holds it.
    pub fn order(&self, channel: &str, reference: &str) -> Result<OrderView, ActionError> {
        let c = self
            .channels
            .get(channel)
            .ok_or_else(|| ActionError::NotFound(format!("no channel `{channel}`")))?;
        c.order(&self.core, reference)
            .ok_or_else(|| ActionError::NotFound(format!("no order `{reference}` at `{channel}`")))
    }

    /// How many orders channel `channel` holds, its bound, and the work of its lookups.
    pub fn order_stats(&self, channel: &str) -> Option<OrderStats> {
        self.channels.get(channel).map(Channel::order_stats)
    }

    /// Make channel `channel` hold `n` unpaid orders numbered `{prefix}{i:08}` without
    /// sending requests (tests that need many orders held).
    #[cfg(any(test, feature = "testing"))]
    pub fn hold_orders(&mut self, channel: &str, prefix: &str, n: usize) -> bool {
        let WorldState { core, channels, .. } = self;
        match channels.get_mut(channel) {
            Some(c) => {
                c.hold_orders(core, prefix, n);
                true
            }
            None => false,
        }
    }

    /// Bank `bank`'s payouts, in order of submission.
    pub fn payouts(&self, bank: &str) -> Option<&[Payout]> {
        self.banks.get(bank).map(Bank::payouts)
    }

    /// The beneficiary's bank returns (退票) paid payout `order_no` of bank `bank`.
    pub fn return_payout(
        &mut self,
        bank: &str,
        order_no: &str,
        payout_id: Option<&str>,
        reason: Option<&str>,
    ) -> Result<Payout, ActionError> {
        let WorldState { core, banks, .. } = self;
        match banks.get_mut(bank) {
            Some(b) => b.return_payout(core, order_no, payout_id, reason),
            None => Err(ActionError::NotFound(format!("no bank `{bank}`"))),
        }
    }

    /// Add a fault rule at run time (validated, its target checked), journalled.
    pub fn add_fault(&mut self, raw: &RawRule) -> Result<Rule, AddError> {
        let default_id = self.faults.next_id();
        let rule = check_rule(raw, &default_id, &self.core.directory)
            .map_err(|(field, problem)| AddError::Invalid(format!("{field}: {problem}")))?;
        self.faults
            .add(rule.clone())
            .map_err(|e| AddError::Conflict(e.to_string()))?;
        self.core.record(
            EntryKind::World,
            Record {
                instance: rule.target.as_str().into(),
                op: "fault.add".into(),
                message: format!("fault rule `{}` added", rule.id),
                ..Default::default()
            },
        );
        Ok(rule)
    }

    /// Add a statement mismatch at run time (validated, checked against the world),
    /// journalled.
    pub fn add_mismatch(&mut self, raw: &RawMismatch) -> Result<Mismatch, AddError> {
        let default_id = self.core.mismatches.next_id();
        let m = raw
            .validate(&default_id)
            .and_then(|m| check_mismatch(&self.core.directory, &m).map(|_| m))
            .map_err(|e| AddError::Invalid(e.to_string()))?;
        if let Some(problem) = crate::statements::mismatch::never_applies(&self.books(), &m) {
            return Err(AddError::Conflict(problem));
        }
        self.core
            .mismatches
            .add(m.clone())
            .map_err(|e| AddError::Conflict(e.to_string()))?;
        self.core.record(
            EntryKind::World,
            Record {
                instance: m.instance.as_str().into(),
                op: "statement.mismatch".into(),
                message: format!("mismatch `{}` ({:?}) on {} added", m.id, m.kind, m.day),
                ..Default::default()
            },
        );
        Ok(m)
    }

    /// What statements are rendered from: the books, described by this world's kinds.
    pub fn books(&self) -> Books<'_> {
        Books::of(&self.core, self)
    }

    /// Render `source`'s statement of `day` in `format` into `out`, mismatches applied.
    pub fn statement(
        &self,
        source: &Source,
        day: NaiveDate,
        format: Format,
        out: impl std::io::Write,
    ) -> Result<StatementHead, RenderError> {
        render::render(&self.books(), source, day, format, out)
    }

    /// When `source`'s statement of `day` in `format` exists, mismatches included.
    pub fn statement_available_at(
        &self,
        source: &Source,
        day: NaiveDate,
        format: Format,
    ) -> Instant {
        render::available_at(&self.books(), source, day, format)
    }

    /// The discrepancies a correct reconciliation of `instance` for `day` reports.
    pub fn expected_discrepancies(
        &self,
        instance: &str,
        day: NaiveDate,
    ) -> Vec<ExpectedDiscrepancy> {
        expected_discrepancies(&self.books(), instance, day)
    }

    /// What `instance`'s bill of `day` lists now, mismatches applied; `None` when there is
    /// no bill to read (not available yet, or unreadable).
    pub fn statement_lines(
        &self,
        instance: &str,
        day: NaiveDate,
    ) -> Option<crate::statements::mismatch::StatementLines> {
        crate::statements::mismatch::statement_lines(&self.books(), instance, day)
    }

    /// [`WorldState::statement_lines`] of the bill in `format` (WeChat ALL or Alipay).
    pub fn statement_lines_in(
        &self,
        instance: &str,
        day: NaiveDate,
        format: crate::statements::render::Format,
    ) -> Option<crate::statements::mismatch::StatementLines> {
        crate::statements::mismatch::statement_lines_in(&self.books(), instance, day, format)
    }

    /// The statement source for `instance` and `account` (its first when `None`).
    pub fn source(&self, instance: &str, account: Option<&str>) -> Result<Source, String> {
        Source::resolve(&self.core.directory, instance, account)
    }
}

impl Describe for WorldState {
    fn entry(&self, source: &Source, posting: &Posting, amount: Money) -> Option<Entry> {
        match source {
            Source::ChannelMerchant { instance, .. } => {
                self.channels.get(instance)?.entry(source, posting, amount)
            }
            Source::BankAccount { instance, .. } => {
                self.banks.get(instance)?.entry(source, posting, amount)
            }
        }
    }

    fn phantom(&self, source: &Source, phantom: &Phantom) -> Option<Entry> {
        match source {
            Source::ChannelMerchant { instance, .. } => {
                self.channels.get(instance)?.phantom(source, phantom)
            }
            Source::BankAccount { instance, .. } => {
                self.banks.get(instance)?.phantom(source, phantom)
            }
        }
    }
}
