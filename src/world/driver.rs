//! The driver: one task that fires timers one at a time, in (due time, scheduling order).
//!
//! A clock advance is a command to the driver that returns once everything due on the way
//! has fired, so after `advance 15s` the retried notification has been sent and answered
//! (or has timed out after [`CALLBACK_TIMEOUT`](super::CALLBACK_TIMEOUT)).
//!
//! # Callbacks in flight
//! Firing a notification starts its delivery; the driver does not wait for it before firing
//! what else is due, so one merchant's hanging endpoint does not hold up another's. Up to
//! [`MAX_CALLBACKS_IN_FLIGHT`] deliveries run at once, at most
//! [`MAX_CALLBACKS_PER_DESTINATION`] to one destination (host and port: the connections the
//! world keeps to it, see [`crate::http::pool`]), and at most one per order: a later
//! attempt about an order whose delivery is in flight waits for it, so an order's attempts
//! go out in order. An attempt prepared for a destination that has no room waits, in order,
//! for one of its deliveries to finish (at most [`MAX_CALLBACKS_WAITING`] wait in all), so a
//! merchant with many notifications due takes no room from the others. Every firing due at
//! once is prepared under one lock, and every delivery that has finished is taken in before
//! the lock is taken again. On a **manual** clock the clock does not move while deliveries are in
//! flight — only what is due at the current instant joins them — so each answer is
//! journalled, and its retry scheduled, at the instant the attempt was sent, exactly as
//! when deliveries ran one by one. An advance crossing several instants therefore takes
//! about one callback timeout per instant at which some receiver hangs, not one per
//! receiver. On a **real** clock deliveries overlap freely.
//!
//! What is not fixed: the journal entries of deliveries in flight together appear in the
//! order their answers arrive, and retries falling due at the same later instant fire in
//! that order too. Each delivery's own entries stay in order.
//! On a real clock it also sleeps until the next timer is due; anything that schedules an
//! earlier timer wakes it ([`Sandbank::with`] does that for every change), so it never
//! sleeps past a timer it did not know about.

use super::notify::{deliver, order_key_into, Job, OrderKey};
use super::state::WorldState;
use super::Sandbank;
use crate::clock::{format_duration, ClockError, ClockMode, Instant};
use crate::core::Event;
use crate::journal::{EntryKind, Record};
use crate::kind::Kind;
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use tokio::sync::{mpsc, oneshot, watch};

/// Most timers fired by one advance. A world whose callbacks keep scheduling callbacks at
/// the same instant would otherwise spin forever; this bounds it with a clear error.
pub const MAX_FIRINGS_PER_ADVANCE: usize = 1_000_000;

/// Most callback deliveries in flight at once. Each holds a socket and a task for up to
/// [`CALLBACK_TIMEOUT`](super::CALLBACK_TIMEOUT); 32 lets a world with many hanging
/// merchants still deliver to the rest without waiting, while keeping the sockets an
/// advance can open far below a default 1024 file-descriptor limit.
pub const MAX_CALLBACKS_IN_FLIGHT: usize = 32;

/// Most deliveries in flight to one destination (scheme, host and port): as many as the
/// connections the world keeps to it ([`crate::http::MAX_CONNECTIONS_PER_DESTINATION`]).
pub const MAX_CALLBACKS_PER_DESTINATION: usize = crate::http::MAX_CONNECTIONS_PER_DESTINATION;

/// Most prepared attempts waiting for their destination to have room. A merchant with many
/// notifications due at once (a hanging one, say) queues them here instead of filling
/// [`MAX_CALLBACKS_IN_FLIGHT`], so other merchants are still served; past this many the
/// driver prepares nothing more until one goes out. An attempt is a few hundred bytes to a
/// few KB (its body), so the queue stays within a few MB.
pub const MAX_CALLBACKS_WAITING: usize = 1024;

/// Longest the driver sleeps on a real clock before it looks again, whatever is scheduled.
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(3600);

/// What the driver is asked to do.
pub(super) enum DriverCmd {
    /// Fire everything due up to `to` (or now), move the clock there, then answer.
    Advance {
        to: Option<Instant>,
        reply: oneshot::Sender<Result<AdvanceReport, ClockError>>,
    },
    /// Something was scheduled: re-evaluate.
    Wake,
}

impl std::fmt::Debug for DriverCmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DriverCmd::Advance { .. } => "Advance",
            DriverCmd::Wake => "Wake",
        })
    }
}

/// What an advance did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AdvanceReport {
    /// The instant the clock now shows.
    pub now: Instant,
    /// Timers fired on the way.
    pub fired: usize,
}

impl WorldState {
    /// Take the next timer due by `limit`, moving the clock to its due time.
    pub fn pop_due(&mut self, limit: Instant) -> Option<Event> {
        let (due, event) = self.core.timers.pop_due(limit)?;
        if due > self.core.now() {
            let _ = self.core.clock.move_to(due);
        }
        Some(event)
    }

    /// Run a due event under the lock. Events with no I/O finish here; a notification
    /// returns the job of sending it.
    pub fn fire(&mut self, event: &Event) -> Option<Job> {
        match event {
            Event::Kind { instance, timer } => {
                let WorldState {
                    core,
                    channels,
                    banks,
                    ..
                } = self;
                if let Some(c) = channels.get_mut(instance) {
                    c.on_timer(core, timer);
                } else if let Some(b) = banks.get_mut(instance) {
                    b.on_timer(core, timer);
                }
                None
            }
            Event::Notify {
                instance,
                id,
                attempt,
                gated,
            } => self.prepare_notification(instance, id, *attempt, *gated),
        }
    }
}

/// The driver loop. Holds only a weak reference so that dropping the last `Arc<Sandbank>`
/// ends it.
pub(super) async fn drive(
    sb: std::sync::Weak<Sandbank>,
    mut rx: mpsc::UnboundedReceiver<DriverCmd>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        // On a real clock, sleep until the next timer is due; on a manual one, until told.
        let sleep_for = {
            let Some(sb) = sb.upgrade() else { return };
            let st = sb.lock();
            match (st.core.clock.mode(), st.core.timers.next_due()) {
                (ClockMode::Real, Some(due)) => {
                    Some((due - st.core.now()).to_std().unwrap_or_default())
                }
                _ => None,
            }
        };
        let sleep = async {
            match sleep_for {
                Some(d) => tokio::time::sleep(d.min(MAX_SLEEP)).await,
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
                        sb.wake_taken();
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

/// Deliveries started by one advance, and what waits for them.
#[derive(Default)]
struct Deliveries {
    /// Orders with an attempt in flight or waiting for its destination.
    busy: HashSet<OrderKey>,
    /// Later attempts about a busy order, put back (in order) when its delivery finishes.
    held: HashMap<OrderKey, Vec<(Instant, Event)>>,
    /// Held attempts whose order is free again, to schedule at the next lock.
    put_back: Vec<(Instant, Event)>,
    /// Deliveries in flight per destination.
    per_destination: HashMap<String, usize>,
    /// Prepared attempts waiting for their destination to have room, in order.
    waiting: HashMap<String, VecDeque<Job>>,
    /// How many attempts are in `waiting`.
    waiting_total: usize,
}

impl Deliveries {
    /// Room to prepare another attempt.
    fn may_start(&self, in_flight: usize, fired: usize) -> bool {
        in_flight < MAX_CALLBACKS_IN_FLIGHT
            && self.waiting_total < MAX_CALLBACKS_WAITING
            && fired < MAX_FIRINGS_PER_ADVANCE
    }

    /// Take `job` on: it goes out now when its destination has room, else it waits.
    fn admit(&mut self, job: Job) -> Option<Job> {
        self.busy.insert(job.order_key().to_string());
        let dest = job.destination();
        let n = self.per_destination.entry(dest.to_string()).or_default();
        if *n < MAX_CALLBACKS_PER_DESTINATION {
            *n += 1;
            Some(job)
        } else {
            self.waiting
                .entry(dest.to_string())
                .or_default()
                .push_back(job);
            self.waiting_total += 1;
            None
        }
    }

    /// A delivery about `key` to `dest` finished: free the order (putting back its held
    /// attempts) and return the next attempt waiting for `dest`, if any.
    fn finished(&mut self, key: &str, dest: &str) -> Option<Job> {
        self.busy.remove(key);
        if let Some(held) = self.held.remove(key) {
            self.put_back.extend(held);
        }
        if let Some(next) = self.waiting.get_mut(dest).and_then(VecDeque::pop_front) {
            self.waiting_total -= 1;
            return Some(next);
        }
        self.waiting.remove(dest);
        match self.per_destination.get_mut(dest) {
            Some(n) if *n > 1 => *n -= 1,
            _ => {
                self.per_destination.remove(dest);
            }
        }
        None
    }
}

/// Fire every timer due up to `to` (default: now), in order, delivering callbacks
/// concurrently (see the module docs), then move the clock to `to`.
async fn run_until(sb: &Sandbank, to: Option<Instant>) -> Result<AdvanceReport, ClockError> {
    let (target, generation, manual) = {
        let st = sb.lock();
        let now = st.core.now();
        let target = to.unwrap_or(now);
        if target < now {
            return Err(ClockError::Backwards { now, to: target });
        }
        (
            target,
            st.generation,
            st.core.clock.mode() == ClockMode::Manual,
        )
    };
    let mut fired = 0;
    let mut in_flight = FuturesUnordered::new();
    let mut d = Deliveries::default();
    // An order's key, written here to look it up without allocating.
    let mut scratch = String::new();
    let start = move |job: Job| async move {
        let r = AssertUnwindSafe(deliver(sb, generation, &job))
            .catch_unwind()
            .await;
        if let Err(p) = r {
            record_failure(&mut sb.lock(), &job.describe(), &panic_text(&*p));
        }
        job
    };
    'work: loop {
        // Under one lock: put back what was held, start everything that is due and may
        // start, and see when the next timer is due.
        let real_wait = {
            let mut st = sb.lock();
            if st.generation != generation {
                break 'work;
            }
            for (due, event) in d.put_back.drain(..) {
                st.core.schedule(due, event);
            }
            while d.may_start(in_flight.len(), fired) {
                // Real clocks keep moving while we work: fire what is due by now, too.
                let mut limit = if manual {
                    target
                } else {
                    target.max(st.core.now())
                };
                // A manual clock stays put while callbacks are in flight (module docs).
                if manual && !in_flight.is_empty() {
                    limit = limit.min(st.core.now());
                }
                let Some((due, event)) = st.core.timers.pop_due(limit) else {
                    break;
                };
                if let Event::Notify { instance, id, .. } = &event {
                    order_key_into(&mut scratch, instance, id);
                    if d.busy.contains(&scratch) {
                        d.held
                            .entry(scratch.clone())
                            .or_default()
                            .push((due, event));
                        continue;
                    }
                }
                if due > st.core.now() {
                    let _ = st.core.clock.move_to(due);
                }
                fired += 1;
                let what = || format!("{event:?}");
                if let Some(job) = guarded(&mut st, what, |st| st.fire(&event)) {
                    if let Some(job) = d.admit(job) {
                        in_flight.push(start(job));
                    }
                }
            }
            // Wait for a delivery to finish, for new work (a wake), or on a real clock for
            // the next timer to come due — unless nothing more may start now, which only a
            // finished delivery changes (waiting on a timer already due would spin).
            match st.core.timers.next_due() {
                Some(due) if !manual && d.may_start(in_flight.len(), fired) => Some(
                    (due - st.core.now())
                        .to_std()
                        .unwrap_or_default()
                        .min(MAX_SLEEP),
                ),
                _ => None,
            }
        };
        if in_flight.is_empty() {
            break;
        }
        let timer = async {
            match real_wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            Some(job) = in_flight.next() => {
                // Take every other delivery that has finished too, before locking again.
                let mut done = vec![job];
                while let Some(Some(job)) = in_flight.next().now_or_never() {
                    done.push(job);
                }
                for job in done {
                    if let Some(next) = d.finished(job.order_key(), job.destination()) {
                        in_flight.push(start(next));
                    }
                }
            }
            _ = sb.woken.notified() => {}
            _ = timer => {}
        }
    }
    // A world replaced meanwhile: what was in flight belongs to the old one (dropped here).
    drop(in_flight);
    let mut st = sb.lock();
    let before = st.core.now();
    if st.generation == generation {
        for (due, event) in d.put_back.drain(..) {
            st.core.schedule(due, event);
        }
    }
    if st.generation == generation && target > before {
        st.core.clock.move_to(target)?;
        st.core.record(
            EntryKind::World,
            Record {
                instance: "world".into(),
                op: "clock".into(),
                message: format!(
                    "clock advanced {} to {}",
                    format_duration(target - before),
                    crate::clock::beijing_time(target)
                ),
                ..Default::default()
            },
        );
    }
    Ok(AdvanceReport {
        now: st.core.now(),
        fired,
    })
}

/// Run one firing; if it fails, journal it and go on. A firing that fails is skipped, the
/// driver carries on with the next; the world is left as the failing step left it (each
/// step completes its own invariants before anything can fail).
fn guarded(
    st: &mut WorldState,
    what: impl FnOnce() -> String,
    fire: impl FnOnce(&mut WorldState) -> Option<Job>,
) -> Option<Job> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| fire(st))) {
        Ok(job) => job,
        Err(p) => {
            record_failure(st, &what(), &panic_text(&*p));
            None
        }
    }
}

/// The message of a caught panic.
fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Journal a timer that failed to fire; the driver goes on with the next.
fn record_failure(st: &mut WorldState, what: &str, why: &str) {
    st.core.record(
        EntryKind::World,
        Record {
            instance: "world".into(),
            op: "timer_failed".into(),
            message: format!("timer {what} failed and was skipped: {why}"),
            ..Default::default()
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::WorldSpec;
    use std::sync::Arc;

    #[test]
    fn a_failing_firing_is_journalled_and_skipped() {
        let mut st = WorldState::new(Arc::new(WorldSpec::default_world()), 1);
        let job = guarded(&mut st, || "test timer".into(), |_| panic!("boom"));
        assert!(job.is_none());
        let last = st.core.journal.select(&Default::default());
        let line = last.last().expect("an entry").line();
        assert!(
            line.contains("timer test timer failed and was skipped: boom"),
            "{line}"
        );
    }
}
