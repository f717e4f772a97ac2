//! Fault rules: the one mechanism by which the world misbehaves on command.
//!
//! Every inbound request passes one gate, after it has been decoded (so a rule can match on
//! the order number and amount) and before its effect is applied. Every outbound callback
//! passes one gate before it is sent. A rule matches on the instance, the operation, an
//! order-number pattern, an amount, the nth match and a seeded probability, and picks an
//! [`Action`]. The first rule that fires wins; each firing is journalled with the rule's id.
//!
//! Actions on inbound requests: `delay`, `hang`, `reset`, `http_error`, `protocol_error`,
//! `commit_then_fail`, `outcome`. Actions on callbacks (operations `notify` and
//! `refund.notify`): `duplicate`, `delay`, `drop`. New kinds of fault are new [`Action`] variants; matching does not change.

pub mod rule;

pub use rule::{is_callback_op, RawRule, RuleError};

use rule::rule_err;

use crate::clock::format_duration;
use crate::rng::Chance;
use chrono::Duration;
use rust_decimal::Decimal;
use serde::Serialize;

/// Longest a `hang` holds a request. Clients give up long before (WeChat SDKs default to
/// a few seconds); the cap only guarantees that nothing hangs forever.
pub const HANG_MAX_MS: u64 = 300_000;

/// How a `commit_then_fail` loses its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LostReply {
    /// The connection stays open with no reply until the client gives up.
    Hang,
    /// The connection is closed with no reply.
    Reset,
}

/// What a fired rule does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Inbound: reply after a real-time delay. Callback: send later on the world clock.
    Delay {
        /// How long, in milliseconds.
        delay_ms: i64,
    },
    /// Inbound: no effect, no reply until the client gives up.
    Hang,
    /// Inbound: no effect, the connection is closed without a reply.
    Reset,
    /// Inbound: no effect, a bare HTTP error.
    HttpError {
        /// HTTP status.
        status: u16,
        /// Body text.
        body: String,
    },
    /// Inbound: no effect, the protocol's own error reply (e.g. WeChat `SYSTEMERROR`).
    ProtocolError {
        /// Error code.
        code: String,
        /// Error message.
        message: String,
    },
    /// Inbound: the effect is applied, then the reply is lost.
    CommitThenFail {
        /// How the reply is lost.
        then: LostReply,
    },
    /// Callback: send `count` extra copies.
    Duplicate {
        /// Extra copies.
        count: u32,
    },
    /// Callback: this attempt is not sent (the channel will retry on its ladder).
    Drop,
    /// Inbound: the request is applied, and what it starts ends as `outcome` says (a refund
    /// `CHANGE`, `REFUNDCLOSE`, or `SUCCESS` only after `delay_ms`; a barcode payment
    /// `USERPAYING`, paid `delay_ms` later), on the world clock.
    Outcome {
        /// One of [`OUTCOMES`].
        outcome: String,
        /// How long until it happens, in milliseconds; the kind's own timing when `None`.
        delay_ms: Option<i64>,
    },
}

/// The statuses an `outcome` rule may name.
pub const OUTCOMES: &[&str] = &["SUCCESS", "CHANGE", "REFUNDCLOSE", "USERPAYING"];

impl Action {
    /// True for the actions that only make sense on an outbound callback.
    fn callback_only(&self) -> bool {
        matches!(self, Action::Duplicate { .. } | Action::Drop)
    }
    /// True for the actions that only make sense on an inbound request.
    fn inbound_only(&self) -> bool {
        matches!(
            self,
            Action::Hang
                | Action::Reset
                | Action::HttpError { .. }
                | Action::ProtocolError { .. }
                | Action::CommitThenFail { .. }
                | Action::Outcome { .. }
        )
    }
}

/// A validated rule with its counters.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    /// Name, unique in the plan.
    pub id: String,
    /// Instance id it applies to.
    pub target: String,
    /// Operation, or `None` for any.
    pub op: Option<String>,
    /// Order-number glob.
    pub order: Option<String>,
    /// Exact amount (major units).
    pub amount: Option<Decimal>,
    /// Fire only on this match (1-based).
    pub nth: Option<u64>,
    /// Fire at most this often.
    pub times: Option<u64>,
    /// Probability in parts per million.
    pub probability_ppm: Option<u32>,
    /// What it does.
    pub action: Action,
    /// How many requests or callbacks matched so far.
    pub matched: u64,
    /// How many times it fired.
    pub fired: u64,
}

/// The operation name payment notifications are matched under.
pub const CALLBACK_OP: &str = "notify";

/// The operation name refund notifications are matched under.
pub const REFUND_CALLBACK_OP: &str = "refund.notify";

/// What a request or callback is, for matching.
#[derive(Debug, Clone, Copy)]
pub struct GateKey<'a> {
    /// Channel or bank id.
    pub instance: &'a str,
    /// Operation name.
    pub op: &'a str,
    /// Order number, if the request names one.
    pub order: Option<&'a str>,
    /// Amount in major units, if the request carries one.
    pub amount: Option<Decimal>,
}

/// A fired rule: which, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The rule's id.
    pub rule: String,
    /// The action.
    pub action: Action,
}

impl Fired {
    /// A one-line description for the journal.
    pub fn describe(&self) -> String {
        let what = match &self.action {
            Action::Delay { delay_ms } => format!(
                "delay {}",
                format_duration(Duration::milliseconds(*delay_ms))
            ),
            Action::Hang => "hang until the client gives up".into(),
            Action::Reset => "reset the connection".into(),
            Action::HttpError { status, .. } => format!("HTTP {status}"),
            Action::ProtocolError { code, .. } => format!("protocol error {code}"),
            Action::CommitThenFail {
                then: LostReply::Hang,
            } => "commit, then lose the reply (hang)".into(),
            Action::CommitThenFail {
                then: LostReply::Reset,
            } => "commit, then lose the reply (reset)".into(),
            Action::Duplicate { count } => format!("duplicate ×{count}"),
            Action::Drop => "drop".into(),
            Action::Outcome { outcome, delay_ms } => match delay_ms {
                Some(ms) => format!(
                    "outcome {outcome} after {}",
                    format_duration(Duration::milliseconds(*ms))
                ),
                None => format!("outcome {outcome}"),
            },
        };
        format!("rule `{}` fired: {what}", self.rule)
    }
}

/// Match `text` against a glob where `*` matches any run of characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Classic two-pointer wildcard match with backtracking to the last star.
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The world's rules, in the order they were added.
#[derive(Debug, Default, Clone, Serialize)]
pub struct FaultPlan {
    rules: Vec<Rule>,
}

impl FaultPlan {
    /// Add a rule; its id must be unique.
    pub fn add(&mut self, rule: Rule) -> Result<(), RuleError> {
        if self.rules.iter().any(|r| r.id == rule.id) {
            return Err(rule_err(
                "id",
                format!("a rule named `{}` already exists", rule.id),
            ));
        }
        self.rules.push(rule);
        Ok(())
    }

    /// A fresh default id.
    pub fn next_id(&self) -> String {
        let mut n = self.rules.len() + 1;
        loop {
            let id = format!("rule-{n}");
            if !self.rules.iter().any(|r| r.id == id) {
                return id;
            }
            n += 1;
        }
    }

    /// Remove a rule by id; true if it existed.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        before != self.rules.len()
    }

    /// Remove every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The rules with their counters.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Decide what happens to a request or callback. `callback` says which side of the world
    /// edge it is on, so that a rule for `*` operations picks only actions that apply.
    /// `rng` is asked only when a rule with a probability is reached (a closure can open an
    /// order's stream then: deriving it costs a hash, and most requests match no such rule).
    pub fn decide(
        &mut self,
        key: GateKey<'_>,
        callback: bool,
        rng: &mut impl Chance,
    ) -> Option<Fired> {
        for rule in &mut self.rules {
            if rule.target != key.instance
                || rule.op.as_deref().is_some_and(|o| o != key.op)
                || (callback && rule.action.inbound_only())
                || (!callback && rule.action.callback_only())
            {
                continue;
            }
            if let Some(pattern) = &rule.order {
                if !key.order.is_some_and(|o| glob_match(pattern, o)) {
                    continue;
                }
            }
            if rule.amount.is_some() && rule.amount != key.amount {
                continue;
            }
            rule.matched += 1;
            if rule.nth.is_some_and(|n| n != rule.matched)
                || rule.times.is_some_and(|t| rule.fired >= t)
            {
                continue;
            }
            if let Some(ppm) = rule.probability_ppm {
                if !rng.chance_ppm(ppm) {
                    continue;
                }
            }
            rule.fired += 1;
            return Some(Fired {
                rule: rule.id.clone(),
                action: rule.action.clone(),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::WorldRng;

    fn raw(action: &str) -> RawRule {
        RawRule {
            target: Some("bank".into()),
            action: Some(action.into()),
            ..Default::default()
        }
    }

    fn key<'a>(op: &'a str, order: Option<&'a str>) -> GateKey<'a> {
        GateKey {
            instance: "bank",
            op,
            order,
            amount: None,
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("S*", "S2026"));
        assert!(glob_match("*-1", "PAYOUT-1"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b", "ac"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("abc", "abcd"));
    }

    #[test]
    fn nth_and_times_pick_exact_occurrences() {
        let mut plan = FaultPlan::default();
        let mut r = raw("reset");
        r.nth = Some(2);
        plan.add(r.validate("r1").unwrap()).unwrap();
        let mut rng = WorldRng::new(1);
        assert!(plan
            .decide(key("payout.submit", Some("A")), false, &mut rng)
            .is_none());
        assert!(plan
            .decide(key("payout.submit", Some("B")), false, &mut rng)
            .is_some());
        assert!(plan
            .decide(key("payout.submit", Some("C")), false, &mut rng)
            .is_none());

        let mut plan = FaultPlan::default();
        let mut r = raw("hang");
        r.times = Some(1);
        r.order = Some("S*".into());
        plan.add(r.validate("r2").unwrap()).unwrap();
        assert!(plan.decide(key("x", Some("T1")), false, &mut rng).is_none());
        assert_eq!(
            plan.decide(key("x", Some("S1")), false, &mut rng)
                .unwrap()
                .action,
            Action::Hang
        );
        assert!(plan.decide(key("x", Some("S1")), false, &mut rng).is_none());
    }

    #[test]
    fn callback_and_inbound_actions_do_not_mix() {
        let mut r = raw("duplicate");
        r.op = Some("payout.submit".into());
        assert_eq!(r.validate("x").unwrap_err().field, "action");
        let mut r = raw("hang");
        r.op = Some("notify".into());
        assert_eq!(r.validate("x").unwrap_err().field, "action");
        let mut plan = FaultPlan::default();
        plan.add(raw("drop").validate("d").unwrap()).unwrap();
        let mut rng = WorldRng::new(1);
        assert!(plan
            .decide(key("payout.submit", None), false, &mut rng)
            .is_none());
        assert!(plan.decide(key("notify", None), true, &mut rng).is_some());
    }

    #[test]
    fn invalid_rules_name_the_field() {
        assert_eq!(
            RawRule::default().validate("x").unwrap_err().field,
            "target"
        );
        assert_eq!(raw("explode").validate("x").unwrap_err().field, "action");
        assert_eq!(raw("delay").validate("x").unwrap_err().field, "delay");
        let mut r = raw("http_error");
        r.status = Some(200);
        assert_eq!(r.validate("x").unwrap_err().field, "status");
        let mut r = raw("reset");
        r.probability = Some(1.5);
        assert_eq!(r.validate("x").unwrap_err().field, "probability");
    }

    #[test]
    fn probability_is_seeded() {
        let run = |seed| {
            let mut plan = FaultPlan::default();
            let mut r = raw("reset");
            r.probability = Some(0.5);
            plan.add(r.validate("p").unwrap()).unwrap();
            let mut rng = WorldRng::new(seed);
            (0..64)
                .map(|_| plan.decide(key("x", None), false, &mut rng).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }
}
