//! Fault rules as written — in a scenario file or POSTed to the control API — and their
//! validation into a [`Rule`], each problem naming its field.

use super::{Action, LostReply, Rule, CALLBACK_OP, REFUND_CALLBACK_OP};
use crate::clock::parse_duration;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// A fault rule as written in a scenario file or POSTed to the control API.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// A name for the rule; defaults to `rule-N`.
    pub id: Option<String>,
    /// The channel or bank id the rule applies to.
    pub target: Option<String>,
    /// Operation name (`pay/unifiedorder`, `pay/orderquery`, `payout.submit`, `notify`, …) or `*`.
    pub op: Option<String>,
    /// Order-number pattern; `*` matches any run of characters.
    pub order: Option<String>,
    /// Exact amount in major units, e.g. `100.00`.
    pub amount: Option<String>,
    /// Fire only on the nth match (1-based).
    pub nth: Option<u64>,
    /// Fire at most this many times.
    pub times: Option<u64>,
    /// Fire with this probability (0..=1), drawn from the world's seeded generator.
    pub probability: Option<f64>,
    /// `delay`, `hang`, `reset`, `http_error`, `protocol_error`, `commit_then_fail`,
    /// `duplicate` or `drop`.
    pub action: Option<String>,
    /// For `delay`: how long (`2s`, `15m`). On callbacks it is world-clock time.
    pub delay: Option<String>,
    /// For `commit_then_fail`: how the reply is lost, `hang` (a timeout) or `reset`.
    pub then: Option<String>,
    /// For `http_error`: the status.
    pub status: Option<u16>,
    /// For `http_error`: the body; for `protocol_error`: the message.
    pub message: Option<String>,
    /// For `protocol_error`: the protocol's error code (`SYSTEMERROR`, `SYSTEM_ERROR`, …).
    pub code: Option<String>,
    /// For `duplicate`: how many extra copies.
    pub count: Option<u32>,
    /// For `outcome`: how what the request starts ends (`SUCCESS`, `CHANGE`,
    /// `REFUNDCLOSE`, `USERPAYING`); `delay` says when.
    pub outcome: Option<String>,
}

/// Why a rule is invalid; `field` names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct RuleError {
    /// The field, e.g. `action` or `delay`.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

pub(super) fn rule_err(field: &str, problem: impl Into<String>) -> RuleError {
    RuleError {
        field: field.to_string(),
        problem: problem.into(),
    }
}

/// Every action, as rules spell them.
const ACTIONS: &str =
    "delay, hang, reset, http_error, protocol_error, commit_then_fail, outcome, duplicate, drop";

impl RawRule {
    /// Validate into a [`Rule`]; `default_id` names it if the rule has no id.
    pub fn validate(&self, default_id: &str) -> Result<Rule, RuleError> {
        let target = self
            .target
            .clone()
            .ok_or_else(|| rule_err("target", "missing (a channel or bank id)"))?;
        let op = self.op.clone().filter(|o| o != "*");
        let action = self.action()?;
        let action_name = self.action.as_deref().unwrap_or("");
        match op.as_deref() {
            Some(o) if is_callback_op(o) && action.inbound_only() => {
                return Err(rule_err(
                    "action",
                    format!(
                        "`{action_name}` applies to inbound requests, not to callbacks (op `{o}`)"
                    ),
                ))
            }
            Some(o) if !is_callback_op(o) && action.callback_only() => {
                return Err(rule_err(
                    "action",
                    format!(
                        "`{action_name}` applies to callbacks (op `{CALLBACK_OP}`), not to `{o}`"
                    ),
                ))
            }
            _ => {}
        }
        let amount = match &self.amount {
            Some(a) => Some(
                Decimal::from_str(a.trim())
                    .ok()
                    .filter(|d| d.abs() <= Decimal::from(crate::money::MAX_MAJOR))
                    .ok_or_else(|| {
                        rule_err(
                            "amount",
                            format!(
                                "`{a}` is not a decimal amount of at most {}",
                                crate::money::MAX_MAJOR
                            ),
                        )
                    })?,
            ),
            None => None,
        };
        if self.nth == Some(0) {
            return Err(rule_err("nth", "counts from 1"));
        }
        Ok(Rule {
            id: self.id.clone().unwrap_or_else(|| default_id.to_string()),
            target,
            op,
            order: self.order.clone(),
            amount,
            nth: self.nth,
            times: self.times,
            probability_ppm: self.probability_ppm()?,
            action,
            matched: 0,
            fired: 0,
        })
    }

    /// The action and the fields it needs.
    fn action(&self) -> Result<Action, RuleError> {
        let name = self
            .action
            .as_deref()
            .ok_or_else(|| rule_err("action", format!("missing (one of {ACTIONS})")))?;
        let need = |field: &str, v: &Option<String>| {
            v.clone()
                .ok_or_else(|| rule_err(field, format!("required by action `{name}`")))
        };
        Ok(match name {
            "delay" => {
                let d = parse_duration(&need("delay", &self.delay)?)
                    .map_err(|e| rule_err("delay", e.to_string()))?;
                Action::Delay {
                    delay_ms: d.num_milliseconds(),
                }
            }
            "hang" => Action::Hang,
            "reset" => Action::Reset,
            "http_error" => {
                let status = self
                    .status
                    .ok_or_else(|| rule_err("status", "required by action `http_error`"))?;
                if !(400..=599).contains(&status) {
                    return Err(rule_err(
                        "status",
                        format!("{status} is not an HTTP error status (400–599)"),
                    ));
                }
                Action::HttpError {
                    status,
                    body: self.message.clone().unwrap_or_default(),
                }
            }
            "protocol_error" => Action::ProtocolError {
                code: need("code", &self.code)?,
                message: self.message.clone().unwrap_or_default(),
            },
            "commit_then_fail" => {
                let then = match self.then.as_deref().unwrap_or("hang") {
                    "hang" | "timeout" => LostReply::Hang,
                    "reset" => LostReply::Reset,
                    other => {
                        return Err(rule_err(
                            "then",
                            format!("`{other}` is not one of hang, reset"),
                        ))
                    }
                };
                Action::CommitThenFail { then }
            }
            "duplicate" => {
                let count = self.count.unwrap_or(1);
                if count == 0 || count > 100 {
                    return Err(rule_err("count", "must be between 1 and 100"));
                }
                Action::Duplicate { count }
            }
            "drop" => Action::Drop,
            "outcome" => {
                let outcome = need("outcome", &self.outcome)?;
                if !super::OUTCOMES.contains(&outcome.as_str()) {
                    return Err(rule_err(
                        "outcome",
                        format!("`{outcome}` is not one of {}", super::OUTCOMES.join(", ")),
                    ));
                }
                let delay_ms = match &self.delay {
                    None => None,
                    Some(d) => Some(
                        parse_duration(d)
                            .map_err(|e| rule_err("delay", e.to_string()))?
                            .num_milliseconds(),
                    ),
                };
                Action::Outcome { outcome, delay_ms }
            }
            other => {
                return Err(rule_err(
                    "action",
                    format!("`{other}` is not one of {ACTIONS}"),
                ))
            }
        })
    }

    /// The probability as integer parts per million, converted once, here: every draw is
    /// an integer comparison.
    fn probability_ppm(&self) -> Result<Option<u32>, RuleError> {
        match self.probability {
            Some(p) if !(0.0..=1.0).contains(&p) || p.is_nan() => Err(rule_err(
                "probability",
                format!("{p} is not between 0 and 1"),
            )),
            Some(p) => Ok(Some((p * 1_000_000.0).round() as u32)),
            None => Ok(None),
        }
    }
}

/// True for the operations callbacks are matched under: payment notifications (`notify`)
/// and refund notifications (`refund.notify`).
pub fn is_callback_op(op: &str) -> bool {
    op == CALLBACK_OP || op == REFUND_CALLBACK_OP
}
