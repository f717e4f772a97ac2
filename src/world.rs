//! The world: everything one running sandbank holds, and the two ways it changes.
//!
//! [`WorldState`] is the whole mutable world — clock, timers, seeded generator, ledger,
//! journal, fault plan, and each channel's and bank's state. It sits behind one `std`
//! mutex in [`Sandbank`]. Every change is a short synchronous critical section: decide
//! under the lock, then wait (sleep, send a callback) outside it. No lock is ever held
//! across an `.await`.
//!
//! Changes come from two places:
//! - **Inbound requests** go through [`Sandbank::gate`]: the fault plan decides first, then
//!   the protocol handler's effect is applied (or not), and the exchange is journalled.
//! - **Timers** (notification attempts, payouts settling) are fired by one driver task, in
//!   (due time, scheduling order), one at a time. A clock advance is a command to the driver
//!   that returns once everything due on the way has fired — so after `advance 15s` the
//!   retried notification has been sent and answered. A real clock also fires on its own.

use crate::banks::{self, BankState};
use crate::channels::{self, Callback, ChannelState};
use crate::clock::{format_duration, Clock, ClockError, ClockMode, Instant, Timers};
use crate::faults::{Action, FaultPlan, Fired, GateKey, CALLBACK_OP};
use crate::http::{self, Delivery, Outcome, Reply};
use crate::journal::{EntryKind, Journal, Record};
use crate::ledger::{Ledger, PostingKind};
use crate::rng::WorldRng;
use crate::scenario::WorldSpec;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, oneshot, watch};

/// How long the world waits for a merchant to answer a callback before counting the attempt
/// as failed. WeChat Pay documents no figure for v2; 5 s matches its v3 rule.
pub const CALLBACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Most timers fired by one advance. A world whose callbacks keep scheduling callbacks at
/// the same instant would otherwise spin forever; this bounds it with a clear error.
pub const MAX_FIRINGS_PER_ADVANCE: usize = 1_000_000;

/// Scheduled work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Attempt `attempt` (from 1) of the payment notification for order `reference`.
    Notify {
        /// Channel id.
        instance: String,
        /// Order key (channel-specific, usually the out_trade_no).
        reference: String,
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// Attempt `attempt` of a notification that a `delay` rule held back: it has been through
    /// the fault gate already, so it is sent as it is (otherwise the rule would hold it back
    /// again each time it came due, and it would never be sent).
    DelayedNotify {
        /// Channel id.
        instance: String,
        /// Order key (channel-specific, usually the out_trade_no).
        reference: String,
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// Payout number `payout` at `bank` stops processing.
    PayoutSettle {
        /// Bank id.
        bank: String,
        /// Index of the payout in the bank's record.
        payout: usize,
    },
}

/// The whole mutable world.
#[derive(Debug)]
pub struct WorldState {
    /// The validated scenario the world was built from.
    pub spec: Arc<WorldSpec>,
    /// Bumped on every reset or load, so work begun in an older world is discarded.
    pub generation: u64,
    /// Virtual time.
    pub clock: Clock,
    /// Scheduled work.
    pub timers: Timers<Event>,
    /// The one random generator.
    pub rng: WorldRng,
    /// The truth about money.
    pub ledger: Ledger,
    /// The timeline.
    pub journal: Journal,
    /// Active fault rules.
    pub faults: FaultPlan,
    /// Channel state by id.
    pub channels: HashMap<String, ChannelState>,
    /// Bank state by id.
    pub banks: HashMap<String, BankState>,
    /// Injected statement mismatches (from the scenario and the control API).
    pub statements: crate::statements::mismatch::MismatchBook,
}

impl WorldState {
    /// A fresh world from `spec`, with opening balances posted.
    pub fn new(spec: Arc<WorldSpec>, generation: u64) -> WorldState {
        let clock = match spec.clock {
            ClockMode::Manual => Clock::manual(spec.start.unwrap_or_else(chrono::Utc::now)),
            ClockMode::Real => Clock::real(spec.start),
        };
        let mut st = WorldState {
            rng: WorldRng::new(spec.seed),
            generation,
            clock,
            timers: Timers::default(),
            ledger: Ledger::default(),
            journal: Journal::default(),
            faults: FaultPlan::default(),
            channels: spec
                .channels
                .iter()
                .map(|c| (c.id.clone(), ChannelState::new(c)))
                .collect(),
            banks: spec
                .banks
                .iter()
                .map(|b| (b.id.clone(), BankState::default()))
                .collect(),
            statements: crate::statements::mismatch::MismatchBook::from_spec(&spec),
            spec: spec.clone(),
        };
        for rule in &spec.faults {
            // Ids were checked unique when the scenario was validated.
            let _ = st.faults.add(rule.clone());
        }
        let now = st.clock.now();
        for bank in &spec.banks {
            for acct in &bank.accounts {
                if acct.opening.amount.is_zero() {
                    continue;
                }
                let to = banks::account_path(&bank.id, &acct.no);
                // Two legs of the same amount and currency: balances by construction.
                let _ = st.ledger.transfer(
                    now,
                    PostingKind::Opening,
                    &bank.id,
                    &acct.no,
                    "world:funding",
                    &to,
                    acct.opening,
                );
            }
        }
        st.record(
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
                    now.to_rfc3339()
                ),
                ..Default::default()
            },
        );
        st
    }

    /// Journal an entry at the current virtual instant.
    pub fn record(&mut self, kind: EntryKind, r: Record) -> u64 {
        let now = self.clock.now();
        self.journal.push(now, kind, r)
    }

    /// Journal a fired fault.
    pub fn record_fault(&mut self, instance: &str, op: &str, order: Option<&str>, fired: &Fired) {
        self.record(
            EntryKind::Fault,
            Record {
                instance: instance.into(),
                op: op.into(),
                reference: order.map(str::to_string),
                message: fired.describe(),
                ..Default::default()
            },
        );
    }
}

enum DriverCmd {
    /// Fire everything due up to `to` (or now), move the clock there, then answer.
    Advance {
        to: Option<Instant>,
        reply: oneshot::Sender<Result<AdvanceReport, ClockError>>,
    },
    /// Something was scheduled: re-evaluate.
    Wake,
}

/// What an advance did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AdvanceReport {
    /// The instant the clock now shows.
    pub now: Instant,
    /// Timers fired on the way.
    pub fired: usize,
}

/// One running sandbank: the world behind its lock, and the driver that fires its timers.
#[derive(Debug)]
pub struct Sandbank {
    state: Mutex<WorldState>,
    driver: mpsc::UnboundedSender<DriverCmd>,
    shutdown_tx: watch::Sender<bool>,
}

impl std::fmt::Debug for DriverCmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DriverCmd::Advance { .. } => "Advance",
            DriverCmd::Wake => "Wake",
        })
    }
}

impl Sandbank {
    /// Build the world from `spec` and start its driver. Needs a tokio runtime.
    pub fn start(spec: WorldSpec) -> Arc<Sandbank> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let sb = Arc::new(Sandbank {
            state: Mutex::new(WorldState::new(Arc::new(spec), 1)),
            driver: tx,
            shutdown_tx,
        });
        tokio::spawn(drive(Arc::downgrade(&sb), rx, shutdown_rx));
        sb
    }

    /// Lock the world. A panic while holding the lock would poison it; the world's state is
    /// still the last consistent one (every critical section completes its own invariants
    /// before it can panic), so the poison is cleared rather than propagated.
    pub fn lock(&self) -> MutexGuard<'_, WorldState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current spec.
    pub fn spec(&self) -> Arc<WorldSpec> {
        self.lock().spec.clone()
    }

    /// Replace the world with a fresh one built from `spec` (reset when it is the same spec).
    pub fn load(&self, spec: Arc<WorldSpec>) {
        let mut st = self.lock();
        let generation = st.generation + 1;
        *st = WorldState::new(spec, generation);
        drop(st);
        self.wake();
    }

    /// Tell the driver something was scheduled.
    pub fn wake(&self) {
        let _ = self.driver.send(DriverCmd::Wake);
    }

    /// Move the clock to `to` (or stay at now when `None`), firing everything due on the way,
    /// and return once it has all fired.
    pub async fn advance(&self, to: Option<Instant>) -> Result<AdvanceReport, ClockError> {
        let (reply, rx) = oneshot::channel();
        // Either failure means the driver has stopped (shutdown): say so rather than pretend
        // the clock moved.
        if self.driver.send(DriverCmd::Advance { to, reply }).is_err() {
            return Err(ClockError::Stopped);
        }
        rx.await.unwrap_or(Err(ClockError::Stopped))
    }

    /// A receiver that turns true when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// Stop the driver and release anything hanging.
    pub fn shutdown(&self) {
        let _ = self.shutdown_tx.send(true);
    }

    /// Answer a request the protocol refused before it could mean anything (unparsable,
    /// badly signed, unknown merchant): journalled, but not matched against fault rules, so
    /// that rules count and hit only requests the channel or bank would act on.
    pub fn refuse(&self, key: GateKey<'_>, request_text: &str, reply: Reply) -> Outcome {
        let mut st = self.lock();
        record_inbound(&mut st, key, request_text, &reply, Delivery::Now);
        reply.into()
    }

    /// The one fault gate for inbound requests.
    ///
    /// `key` says what the request is (for matching). `apply` performs the request's effect
    /// and builds its reply; it runs unless the fired action forbids it. `protocol_error`
    /// builds the protocol's own error reply for a `protocol_error` action. The exchange and
    /// any fault are journalled; `request_text` is the body as the journal shows it.
    pub fn gate(
        &self,
        key: GateKey<'_>,
        request_text: &str,
        apply: impl FnOnce(&mut WorldState) -> Reply,
        protocol_error: impl FnOnce(&mut WorldState, &str, &str) -> Reply,
    ) -> Outcome {
        let mut guard = self.lock();
        let st = &mut *guard;
        let fired = st.faults.decide(key, false, &mut st.rng);
        if let Some(f) = &fired {
            st.record_fault(key.instance, key.op, key.order, f);
        }
        let (reply, delivery) = match fired.map(|f| f.action) {
            None => (apply(st), Delivery::Now),
            Some(Action::Delay { delay_ms }) => (
                apply(st),
                Delivery::After(std::time::Duration::from_millis(delay_ms.max(0) as u64)),
            ),
            Some(Action::Hang) => (
                Reply::text(hyper::StatusCode::GATEWAY_TIMEOUT, ""),
                Delivery::Hang,
            ),
            Some(Action::Reset) => (
                Reply::text(hyper::StatusCode::BAD_GATEWAY, ""),
                Delivery::Reset,
            ),
            Some(Action::HttpError { status, body }) => {
                let status = hyper::StatusCode::from_u16(status)
                    .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
                (Reply::text(status, body), Delivery::Now)
            }
            Some(Action::ProtocolError { code, message }) => {
                (protocol_error(st, &code, &message), Delivery::Now)
            }
            Some(Action::CommitThenFail { then }) => {
                let reply = apply(st);
                let delivery = match then {
                    crate::faults::LostReply::Hang => Delivery::Hang,
                    crate::faults::LostReply::Reset => Delivery::Reset,
                };
                (reply, delivery)
            }
            // Callback-only actions never match an inbound request (see `FaultPlan::decide`).
            Some(Action::Duplicate { .. } | Action::Drop) => (apply(st), Delivery::Now),
        };
        record_inbound(st, key, request_text, &reply, delivery);
        Outcome { reply, delivery }
    }
}

/// Journal an inbound exchange: what came in, what went out (or that nothing did).
fn record_inbound(
    st: &mut WorldState,
    key: GateKey<'_>,
    request_text: &str,
    reply: &Reply,
    delivery: Delivery,
) {
    let (status, response, message) = match delivery {
        Delivery::Hang => (
            None,
            None,
            "no reply: held until the client gave up".to_string(),
        ),
        Delivery::Reset => (None, None, "no reply: connection closed".to_string()),
        Delivery::After(d) => (
            Some(reply.status.as_u16()),
            Some(reply.body_text()),
            format!("replied after {d:?}"),
        ),
        Delivery::Now => (
            Some(reply.status.as_u16()),
            Some(reply.body_text()),
            "replied".to_string(),
        ),
    };
    let effect =
        if matches!(delivery, Delivery::Hang | Delivery::Reset) && reply.status.is_success() {
            format!("{message} (the effect was applied)")
        } else {
            message
        };
    st.record(
        EntryKind::Inbound,
        Record {
            instance: key.instance.into(),
            op: key.op.into(),
            reference: key.order.map(str::to_string),
            status,
            message: effect,
            request: Some(request_text.to_string()),
            response,
        },
    );
}

/// The driver: fires timers one at a time, in order. Holds only a weak reference so that
/// dropping the last `Arc<Sandbank>` ends it.
async fn drive(
    sb: std::sync::Weak<Sandbank>,
    mut rx: mpsc::UnboundedReceiver<DriverCmd>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        // In real mode, sleep until the next timer is due; in manual mode, until told.
        let sleep_for = {
            let Some(sb) = sb.upgrade() else { return };
            let st = sb.lock();
            match (st.clock.mode(), st.timers.next_due()) {
                (ClockMode::Real, Some(due)) => {
                    Some((due - st.clock.now()).to_std().unwrap_or_default())
                }
                _ => None,
            }
        };
        let sleep = async {
            match sleep_for {
                Some(d) => tokio::time::sleep(d.min(std::time::Duration::from_secs(3600))).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            cmd = rx.recv() => {
                let Some(sb) = sb.upgrade() else { return };
                match cmd {
                    None => return,
                    Some(DriverCmd::Advance { to, reply }) => {
                        let r = run_until(&sb, to).await;
                        let _ = reply.send(r);
                    }
                    Some(DriverCmd::Wake) => {
                        let _ = run_until(&sb, None).await;
                    }
                }
            }
            _ = sleep => {
                let Some(sb) = sb.upgrade() else { return };
                let _ = run_until(&sb, None).await;
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// Fire every timer due up to `to` (default: now), in order, then move the clock to `to`.
async fn run_until(sb: &Sandbank, to: Option<Instant>) -> Result<AdvanceReport, ClockError> {
    let (target, generation) = {
        let st = sb.lock();
        let now = st.clock.now();
        let target = to.unwrap_or(now);
        if target < now {
            return Err(ClockError::Backwards { now, to: target });
        }
        (target, st.generation)
    };
    let mut fired = 0;
    while fired < MAX_FIRINGS_PER_ADVANCE {
        let job = {
            let mut st = sb.lock();
            if st.generation != generation {
                break;
            }
            // Real clocks keep moving while we work: fire what is due by now, too.
            let limit = target.max(if st.clock.mode() == ClockMode::Real {
                st.clock.now()
            } else {
                target
            });
            let Some((due, event)) = st.timers.pop_due(limit) else {
                break;
            };
            if due > st.clock.now() {
                let _ = st.clock.move_to(due);
            }
            fired += 1;
            prepare(&mut st, event)
        };
        if let Some(job) = job {
            deliver(sb, generation, job).await;
        }
    }
    let mut st = sb.lock();
    let before = st.clock.now();
    if st.generation == generation && target > before {
        st.clock.move_to(target)?;
        let moved = target - before;
        st.record(
            EntryKind::World,
            Record {
                instance: "world".into(),
                op: "clock".into(),
                message: format!(
                    "clock advanced {} to {}",
                    format_duration(moved),
                    target.to_rfc3339()
                ),
                ..Default::default()
            },
        );
    }
    Ok(AdvanceReport {
        now: st.clock.now(),
        fired,
    })
}

/// A callback about to be sent, decided under the lock.
struct Job {
    instance: String,
    reference: String,
    attempt: u32,
    callback: Callback,
    copies: u32,
}

/// Run a due event under the lock. Events with no I/O finish here; a notification returns
/// the job of sending it.
fn prepare(st: &mut WorldState, event: Event) -> Option<Job> {
    let gated = !matches!(event, Event::DelayedNotify { .. });
    match event {
        Event::PayoutSettle { bank, payout } => {
            banks::settle(st, &bank, payout);
            None
        }
        Event::Notify {
            instance,
            reference,
            attempt,
        }
        | Event::DelayedNotify {
            instance,
            reference,
            attempt,
        } => {
            let callback = channels::prepare_notification(st, &instance, &reference, attempt)?;
            let key = GateKey {
                instance: &instance,
                op: CALLBACK_OP,
                order: Some(&callback.order),
                amount: callback.amount,
            };
            let fired = if gated {
                st.faults.decide(key, true, &mut st.rng)
            } else {
                None
            };
            let mut copies = 1;
            if let Some(f) = &fired {
                st.record_fault(&instance, CALLBACK_OP, Some(&callback.order), f);
                match f.action {
                    Action::Drop => {
                        st.record(
                            EntryKind::Callback,
                            Record {
                                instance: instance.clone(),
                                op: CALLBACK_OP.into(),
                                reference: Some(callback.order.clone()),
                                message: format!(
                                    "attempt {attempt} not sent (dropped) to {}",
                                    callback.url
                                ),
                                request: Some(callback.body.clone()),
                                ..Default::default()
                            },
                        );
                        schedule_retry(st, &instance, &reference, &callback.order, attempt);
                        return None;
                    }
                    Action::Delay { delay_ms } => {
                        let at = st.clock.now() + chrono::Duration::milliseconds(delay_ms);
                        st.timers.schedule(
                            at,
                            Event::DelayedNotify {
                                instance,
                                reference,
                                attempt,
                            },
                        );
                        return None;
                    }
                    Action::Duplicate { count } => copies += count,
                    _ => {}
                }
            }
            Some(Job {
                instance,
                reference,
                attempt,
                callback,
                copies,
            })
        }
    }
}

/// Send a notification (and its duplicates), outside the lock; then record the answers and
/// either mark it acknowledged or schedule the next attempt on the channel's ladder.
async fn deliver(sb: &Sandbank, generation: u64, job: Job) {
    let mut acked = false;
    for copy in 1..=job.copies {
        let result = http::post(
            &job.callback.url,
            job.callback.content_type,
            job.callback.body.clone(),
            CALLBACK_TIMEOUT,
        )
        .await;
        let (status, response, ok) = match &result {
            Ok(r) => (
                Some(r.status.as_u16()),
                Some(r.text()),
                job.callback.ack.accepts(r.status, &r.body),
            ),
            Err(e) => (None, Some(format!("({e})")), false),
        };
        acked |= ok;
        let mut st = sb.lock();
        if st.generation != generation {
            return;
        }
        let copy_note = if job.copies > 1 {
            format!(" (copy {copy} of {})", job.copies)
        } else {
            String::new()
        };
        let verdict = if ok {
            "acknowledged"
        } else {
            "not acknowledged"
        };
        st.record(
            EntryKind::Callback,
            Record {
                instance: job.instance.clone(),
                op: CALLBACK_OP.into(),
                reference: Some(job.callback.order.clone()),
                status,
                message: format!(
                    "attempt {}{copy_note} to {}: {verdict}",
                    job.attempt, job.callback.url
                ),
                request: Some(job.callback.body.clone()),
                response,
            },
        );
    }
    let mut st = sb.lock();
    if st.generation != generation {
        return;
    }
    if acked {
        channels::notification_acked(&mut st, &job.instance, &job.reference);
    } else {
        schedule_retry(
            &mut st,
            &job.instance,
            &job.reference,
            &job.callback.order,
            job.attempt,
        );
    }
}

/// Schedule the attempt after `attempt` on the channel's ladder, or record that it gave up.
/// `reference` is the timer's key; the journal names the order by `order`, as the attempts do.
fn schedule_retry(st: &mut WorldState, instance: &str, reference: &str, order: &str, attempt: u32) {
    let ladder = channels::retry_ladder(st, instance);
    match ladder.get(attempt as usize - 1) {
        Some(wait) => {
            let at = st.clock.now() + *wait;
            st.timers.schedule(
                at,
                Event::Notify {
                    instance: instance.into(),
                    reference: reference.into(),
                    attempt: attempt + 1,
                },
            );
            st.record(
                EntryKind::Callback,
                Record {
                    instance: instance.into(),
                    op: CALLBACK_OP.into(),
                    reference: Some(order.into()),
                    message: format!(
                        "attempt {} scheduled in {} at {}",
                        attempt + 1,
                        format_duration(*wait),
                        at.to_rfc3339()
                    ),
                    ..Default::default()
                },
            );
        }
        None => {
            st.record(
                EntryKind::Callback,
                Record {
                    instance: instance.into(),
                    op: CALLBACK_OP.into(),
                    reference: Some(order.into()),
                    message: format!("gave up after {attempt} attempts"),
                    ..Default::default()
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ClockError;

    #[tokio::test]
    async fn advancing_a_stopped_world_says_so() {
        let sb = Sandbank::start(WorldSpec::default_world());
        assert!(sb.advance(None).await.is_ok());
        sb.shutdown();
        // The driver ends on the shutdown signal; give it a moment to drop its receiver.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(matches!(sb.advance(None).await, Err(ClockError::Stopped)));
    }
}
