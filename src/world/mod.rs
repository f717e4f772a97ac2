//! The world: everything one running sandbank holds, and the ways it changes.
//!
//! [`WorldState`] is the whole mutable world — the services kinds share
//! ([`crate::core::Core`]: clock, timers, seeded generator, ledger, journal, mismatches),
//! the fault plan, and each channel's and bank's state. It sits behind one `std` mutex in
//! [`Sandbank`]. Every change is a short synchronous critical section: decide under the
//! lock, then wait (sleep, send a callback) outside it. No lock is ever held across an
//! `.await`.
//!
//! # Layout
//! - [`state`] — the world and its actions (customer pays, bank returns, rules and
//!   mismatches added at run time, statements read from it).
//! - [`gate`] — the one inbound path: route, decode, decide faults, apply, journal.
//! - [`driver`] — the task that fires timers in order; clock advances; callbacks delivered
//!   concurrently across orders, one at a time per order.
//! - [`notify`] — notifications: prepare under the lock, send outside it, retry.
//! - [`forge`] — forged notifications, sent once on request.
//!
//! Changes go through [`Sandbank::with`], which wakes the driver whenever the earliest
//! timer moved: a kind that schedules something (a payout settling, a notification) cannot
//! be left waiting on a driver that computed its sleep before the timer existed.

pub mod driver;
pub mod forge;
pub mod gate;
pub mod notify;
pub mod state;

pub use driver::{
    AdvanceReport, MAX_CALLBACKS_IN_FLIGHT, MAX_CALLBACKS_PER_DESTINATION, MAX_CALLBACKS_WAITING,
    MAX_FIRINGS_PER_ADVANCE,
};
pub use notify::CALLBACK_TIMEOUT;
pub use state::{AddError, WorldState};

use crate::clock::{ClockError, Instant};
use crate::http::{InboundRequest, Outcome};
use crate::scenario::WorldSpec;
use driver::DriverCmd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use tokio::sync::{mpsc, oneshot, watch};

/// The next [`Sandbank::id`].
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// One running sandbank: the world behind its lock, and the driver that fires its timers.
#[derive(Debug)]
pub struct Sandbank {
    state: Mutex<WorldState>,
    /// The world's generation and spec, readable without the world's lock: requests are
    /// decoded against it before the lock is taken. Written under the world's lock.
    current: RwLock<(u64, Arc<WorldSpec>)>,
    /// The generation in `current`, readable without taking its lock: a thread that decoded
    /// for this generation before uses the spec it kept ([`with_current`]).
    generation: std::sync::atomic::AtomicU64,
    /// Which sandbank this is, among those of the process (tests run many), for
    /// [`with_current`]'s per-thread copy.
    id: u64,
    driver: Mutex<DriverLink>,
    /// Also signalled by [`Sandbank::wake`]: a driver busy delivering callbacks listens to
    /// it, so work scheduled meanwhile (another merchant's notification) joins those in
    /// flight instead of waiting for them.
    woken: tokio::sync::Notify,
    /// True while a [`DriverCmd::Wake`] is queued and not yet taken: a burst of changes (a
    /// payment each) queues one, not one each.
    wake_queued: std::sync::atomic::AtomicBool,
    shutdown_tx: watch::Sender<bool>,
    /// Itself, weakly: what a restarted driver holds.
    me: Weak<Sandbank>,
    /// Kept-alive connections callbacks go out over, per destination; they outlive a reset.
    pub(crate) pool: crate::http::Pool,
}

/// The way to the driver task, and the task itself (to see whether it is still running).
#[derive(Debug)]
struct DriverLink {
    tx: mpsc::UnboundedSender<DriverCmd>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Sandbank {
    /// Build the world from `spec` and start its driver. Needs a tokio runtime.
    pub fn start(spec: WorldSpec) -> Arc<Sandbank> {
        let (shutdown_tx, _) = watch::channel(false);
        let spec = Arc::new(spec);
        let sb = Arc::new_cyclic(|me| Sandbank {
            state: Mutex::new(WorldState::new(spec.clone(), 1)),
            current: RwLock::new((1, spec)),
            generation: std::sync::atomic::AtomicU64::new(1),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            driver: Mutex::new(DriverLink {
                tx: mpsc::unbounded_channel().0,
                task: None,
            }),
            woken: tokio::sync::Notify::new(),
            wake_queued: std::sync::atomic::AtomicBool::new(false),
            shutdown_tx,
            me: me.clone(),
            pool: crate::http::Pool::new(),
        });
        sb.spawn_driver();
        sb
    }

    /// Start a driver task (replacing a dead one), unless the world is shutting down.
    fn spawn_driver(&self) {
        if *self.shutdown_tx.borrow() {
            return;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(driver::drive(
            self.me.clone(),
            rx,
            self.shutdown_tx.subscribe(),
        ));
        let mut link = self.driver.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = link.task.take() {
            old.abort();
        }
        // A wake queued to the old driver died with it.
        self.wake_queued.store(false, Ordering::SeqCst);
        *link = DriverLink {
            tx,
            task: Some(task),
        };
    }

    /// True while the driver task runs. It catches and journals a timer that fails, so it
    /// ends only on shutdown or on a bug outside any one firing; `GET /_sandbank/health`
    /// reports this, and [`Sandbank::load`] (reset) starts a new one.
    pub fn driver_alive(&self) -> bool {
        let link = self.driver.lock().unwrap_or_else(|p| p.into_inner());
        link.task.as_ref().is_some_and(|t| !t.is_finished()) && !link.tx.is_closed()
    }

    /// Test support: end the driver task as a bug would, to see it reported and restarted.
    #[cfg(any(test, feature = "testing"))]
    pub fn kill_driver_for_test(&self) {
        let link = self.driver.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = &link.task {
            t.abort();
        }
    }

    fn driver_tx(&self) -> mpsc::UnboundedSender<DriverCmd> {
        self.driver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tx
            .clone()
    }

    /// Lock the world, to read it. Change it through [`Sandbank::with`], which also wakes
    /// the driver when needed. A panic while holding the lock would poison it; the world's
    /// state is still the last consistent one (every critical section completes its own
    /// invariants before it can panic), so the poison is cleared rather than propagated.
    pub fn lock(&self) -> MutexGuard<'_, WorldState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Change the world under its lock, then wake the driver if the earliest timer moved.
    pub fn with<R>(&self, change: impl FnOnce(&mut WorldState) -> R) -> R {
        let (result, moved) = {
            let mut st = self.lock();
            let before = st.core.timers.next_due();
            let result = change(&mut st);
            (result, st.core.timers.next_due() != before)
        };
        if moved {
            self.wake();
        }
        result
    }

    /// Serve a request to the channel or bank mounted at `mount`; `None` when nothing is.
    /// The request is decoded and authenticated before the lock is taken, against the
    /// current spec; under the lock it is applied only if the world is still the one it was
    /// decoded for (else decoded again there), so a world replaced meanwhile cannot see half
    /// a request.
    pub fn serve(&self, mount: &str, req: &InboundRequest) -> Option<Outcome> {
        let (generation, decoded) =
            self.with_current(|generation, spec| (generation, gate::predecode(spec, mount, req)));
        self.with(|st| match decoded {
            Some(d) if st.generation == generation => st.serve_predecoded(mount, req, d),
            None if st.generation == generation => None,
            _ => st.serve(mount, req),
        })
    }

    /// Run `f` with the current generation and spec, without the world's lock. Each thread
    /// keeps the spec it last read, per sandbank: while the generation has not moved (one
    /// atomic read) it is used as is, so requests on different threads do not contend on
    /// the `current` lock and the spec's reference count (measured: `cargo bench --bench wire`).
    fn with_current<R>(&self, f: impl FnOnce(u64, &WorldSpec) -> R) -> R {
        thread_local! {
            static KEPT: std::cell::RefCell<Option<(u64, u64, Arc<WorldSpec>)>> =
                const { std::cell::RefCell::new(None) };
        }
        let generation = self.generation.load(Ordering::Acquire);
        KEPT.with(|kept| {
            let mut kept = kept.borrow_mut();
            let (_, g, spec) = match kept.take() {
                Some(k) if k.0 == self.id && k.1 == generation => kept.insert(k),
                _ => {
                    let current = self.current.read().unwrap_or_else(|p| p.into_inner());
                    kept.insert((self.id, current.0, current.1.clone()))
                }
            };
            f(*g, spec)
        })
    }

    /// The current spec.
    pub fn spec(&self) -> Arc<WorldSpec> {
        self.lock().spec.clone()
    }

    /// Replace the world with a fresh one built from `spec` (reset when it is the same spec).
    /// A driver that has died is started again.
    pub fn load(&self, spec: Arc<WorldSpec>) {
        let mut st = self.lock();
        let generation = st.generation + 1;
        *st = WorldState::new(spec.clone(), generation);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = (generation, spec);
        self.generation.store(generation, Ordering::Release);
        drop(st);
        if !self.driver_alive() {
            self.spawn_driver();
        }
        self.wake();
    }

    /// Tell the driver something was scheduled.
    pub fn wake(&self) {
        self.woken.notify_one();
        // One queued wake is enough: the driver takes it (clearing the flag) before it looks
        // at the timers, so it sees every change made before a wake that found it queued.
        if !self.wake_queued.swap(true, Ordering::SeqCst)
            && self.driver_tx().send(DriverCmd::Wake).is_err()
        {
            self.wake_queued.store(false, Ordering::SeqCst);
        }
    }

    /// The driver took the queued wake.
    fn wake_taken(&self) {
        self.wake_queued.store(false, Ordering::SeqCst);
    }

    /// Move the clock to `to` (or stay at now when `None`), firing everything due on the way,
    /// and return once it has all fired.
    pub async fn advance(&self, to: Option<Instant>) -> Result<AdvanceReport, ClockError> {
        let (reply, rx) = oneshot::channel();
        // Either failure means the driver has stopped (shutdown, or a bug ended it): say so
        // rather than pretend the clock moved.
        let stopped = || {
            if *self.shutdown_tx.borrow() {
                ClockError::Stopped
            } else {
                ClockError::DriverStopped
            }
        };
        if self
            .driver_tx()
            .send(DriverCmd::Advance { to, reply })
            .is_err()
        {
            return Err(stopped());
        }
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// A receiver that turns true when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// Stop the driver and release anything hanging.
    pub fn shutdown(&self) {
        let _ = self.shutdown_tx.send(true);
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
        // The driver ends on the shutdown signal; it then drops its receiver. Wait for that
        // (bounded), rather than for a guessed interval.
        for _ in 0..1000 {
            if !sb.driver_alive() {
                break;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert!(matches!(sb.advance(None).await, Err(ClockError::Stopped)));
    }
}
