//! Notifications: build an attempt under the lock (asking the channel once), pass it
//! through the callback fault gate, send it outside the lock, record the answers, then tell
//! the channel it was acknowledged or schedule the next attempt on the ladder the callback
//! carries.

use super::state::WorldState;
use super::Sandbank;
use crate::clock::format_duration;
use crate::core::{Callback, Event, NotificationId};
use crate::faults::{Action, GateKey};
use crate::http;
use crate::journal::{EntryKind, Record};
use crate::kind::Kind;
use crate::rng::Chance;

/// How long the world waits for a merchant to answer a callback before counting the attempt
/// as failed. WeChat Pay documents no figure for v2; 5 s matches its v3 rule.
pub const CALLBACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The first path segment of sandbank's control API. A callback whose URL path starts with
/// it is refused, not sent: a merchant's `notify_url` must not be able to reset the world
/// or pay an order (on this sandbank or another on the same machine).
pub const CONTROL_PREFIX: &str = "_sandbank";

/// Why a callback to `url` is refused before it is sent, if it is: its path is under
/// `/_sandbank/`. The server routes by the first non-empty segment (leading slashes
/// trimmed), so `//_sandbank/reset` counts too.
pub fn refused_target(url: &str) -> Option<String> {
    let uri: hyper::Uri = url.parse().ok()?;
    let first = uri.path().trim_start_matches('/').split('/').next()?;
    (first == CONTROL_PREFIX).then(|| {
        format!("refused, not sent: {url} is under /{CONTROL_PREFIX}/, sandbank's control API")
    })
}

/// Which order a notification is about, for delivering one at a time per order: the
/// channel, the merchant and the order (or refund) number, joined by NULs (none of them
/// holds one).
pub(super) type OrderKey = String;

/// Write the [`OrderKey`] of notification `id` from channel `instance` into `key`.
pub(super) fn order_key_into(key: &mut OrderKey, instance: &str, id: &NotificationId) {
    key.clear();
    key.push_str(instance);
    key.push('\0');
    key.push_str(&id.account);
    key.push('\0');
    key.push_str(&id.reference);
}

/// Where a journal entry about a callback stands on its retry ladder (the journal's
/// `attempt`, `next_at` and `acked`, which the inspector's timeline reads).
#[derive(Debug, Clone, Copy)]
struct Ladder {
    attempt: u32,
    next_at: Option<crate::clock::Instant>,
    acked: Option<bool>,
}

impl Ladder {
    /// Attempt `attempt`, not (or not yet) answered.
    fn at(attempt: u32) -> Ladder {
        Ladder {
            attempt,
            next_at: None,
            acked: None,
        }
    }
}

/// A callback about to be sent, decided under the lock.
#[derive(Debug)]
pub struct Job {
    instance: String,
    id: NotificationId,
    attempt: u32,
    callback: Callback,
    copies: u32,
    /// The order it is about.
    key: OrderKey,
    /// Where it goes, as connections are pooled ([`http::pool::destination`]); the URL
    /// itself when it is not one the client can send to.
    destination: String,
}

impl Job {
    /// What the job is, for the journal.
    pub(super) fn describe(&self) -> String {
        format!(
            "notification {} attempt {} from {}",
            self.id.reference, self.attempt, self.instance
        )
    }

    /// The order it is about.
    pub(super) fn order_key(&self) -> &str {
        &self.key
    }

    /// Where it goes (host and port).
    pub(super) fn destination(&self) -> &str {
        &self.destination
    }
}

impl WorldState {
    /// Prepare attempt `attempt` of notification `id` from channel `instance`: `None` when
    /// nothing is to be sent now (no longer due, dropped or held back by a fault rule).
    /// `gated` is false for an attempt a `delay` rule already held back.
    pub(super) fn prepare_notification(
        &mut self,
        instance: &str,
        id: &NotificationId,
        attempt: u32,
        gated: bool,
    ) -> Option<Job> {
        let WorldState {
            core,
            faults,
            channels,
            ..
        } = self;
        let callback = channels
            .get_mut(instance)?
            .notification(core, id, attempt)?;
        let op = id.kind.op();
        let key = GateKey {
            instance,
            op,
            order: Some(&id.reference),
            amount: callback.amount,
        };
        // The order's fault stream is derived only when a rule draws from it.
        let fired = if gated {
            faults.decide(key, true, &mut |ppm| {
                core.rng_for(instance, &format!("faults/{op}/{}", id.reference))
                    .chance_ppm(ppm)
            })
        } else {
            None
        };
        let mut copies = 1;
        if let Some(f) = &fired {
            core.record_fault(instance, op, Some(&id.reference), f);
            match f.action {
                Action::Drop => {
                    self.record_callback(
                        instance,
                        id,
                        Ladder::at(attempt),
                        None,
                        None,
                        format!("attempt {attempt} not sent (dropped) to {}", callback.url),
                        Some(callback.body.clone()),
                    );
                    self.schedule_retry(instance, id, attempt, callback.ladder);
                    return None;
                }
                Action::Delay { delay_ms } => {
                    // Delays are bounded when the rule is read; an overflow here would be a
                    // bug, and fires the attempt now rather than killing the driver.
                    let now = core.now();
                    let at = crate::clock::checked_add(
                        now,
                        chrono::Duration::try_milliseconds(delay_ms).unwrap_or_default(),
                    )
                    .unwrap_or(now);
                    core.schedule(
                        at,
                        Event::Notify {
                            instance: instance.into(),
                            id: id.clone(),
                            attempt,
                            gated: false,
                        },
                    );
                    return None;
                }
                Action::Duplicate { count } => copies += count,
                _ => {}
            }
        }
        let destination =
            http::pool::destination(&callback.url).unwrap_or_else(|| callback.url.clone());
        let mut key = OrderKey::new();
        order_key_into(&mut key, instance, id);
        Some(Job {
            instance: instance.into(),
            id: id.clone(),
            attempt,
            callback,
            copies,
            key,
            destination,
        })
    }

    // The facts of one journal entry; a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    fn record_callback(
        &mut self,
        instance: &str,
        id: &NotificationId,
        ladder: Ladder,
        status: Option<u16>,
        response: Option<String>,
        message: String,
        request: Option<String>,
    ) {
        self.core.record(
            EntryKind::Callback,
            Record {
                instance: instance.into(),
                op: id.kind.op().into(),
                reference: Some(id.reference.clone()),
                status,
                message,
                request: request.map(Into::into),
                response: response.map(Into::into),
                attempt: Some(ladder.attempt),
                next_at: ladder.next_at,
                acked: ladder.acked,
            },
        );
    }

    /// Schedule the attempt after `attempt` on `ladder`, or record that the channel gave up.
    fn schedule_retry(
        &mut self,
        instance: &str,
        id: &NotificationId,
        attempt: u32,
        ladder: &[i64],
    ) {
        let wait = (attempt as usize)
            .checked_sub(1)
            .and_then(|i| ladder.get(i))
            .and_then(|s| chrono::Duration::try_seconds(*s));
        let (ladder, message) = match wait {
            Some(wait) => {
                let now = self.core.now();
                let at = crate::clock::checked_add(now, wait).unwrap_or(now);
                self.core.schedule(
                    at,
                    Event::Notify {
                        instance: instance.into(),
                        id: id.clone(),
                        attempt: attempt + 1,
                        gated: true,
                    },
                );
                (
                    Ladder {
                        next_at: Some(at),
                        ..Ladder::at(attempt + 1)
                    },
                    format!(
                        "attempt {} scheduled in {} at {}",
                        attempt + 1,
                        format_duration(wait),
                        crate::clock::beijing_time(at)
                    ),
                )
            }
            None => (
                Ladder::at(attempt),
                format!("gave up after {attempt} attempts"),
            ),
        };
        self.record_callback(instance, id, ladder, None, None, message, None);
    }
}

/// Send a notification (and its duplicates, all at once) over the world's pooled
/// connections, outside the lock; then record the answers and either tell the channel it was
/// acknowledged or schedule the next attempt.
pub(super) async fn deliver(sb: &Sandbank, generation: u64, job: &Job) {
    if let Some(why) = refused_target(&job.callback.url) {
        let mut st = sb.lock();
        if st.generation == generation {
            st.record_callback(
                &job.instance,
                &job.id,
                Ladder::at(job.attempt),
                None,
                None,
                format!("attempt {} {why}", job.attempt),
                Some(job.callback.body.clone()),
            );
            st.schedule_retry(&job.instance, &job.id, job.attempt, job.callback.ladder);
        }
        return;
    }
    // One copy of the body for every copy sent (shared, not cloned).
    let body = bytes::Bytes::copy_from_slice(job.callback.body.as_bytes());
    // Copies of a duplicated notification go out at once, as a channel's parallel workers
    // send them: a merchant that books on arrival without a lock sees them race.
    let send = |_| {
        sb.pool.post_capped(
            &job.callback.url,
            job.callback.content_type,
            body.clone(),
            CALLBACK_TIMEOUT,
            http::MAX_CALLBACK_BODY_BYTES,
        )
    };
    let results = if job.copies == 1 {
        vec![send(1).await]
    } else {
        futures::future::join_all((1..=job.copies).map(send)).await
    };
    // Judge the answers and word the entries before taking the lock.
    let mut acked = false;
    let entries: Vec<_> = (1..=job.copies)
        .zip(results)
        .map(|(copy, result)| {
            let (status, response, ok) = match result {
                Ok(r) => {
                    let ok = (job.callback.ack)(r.status, &r.body);
                    (Some(r.status.as_u16()), Some(r.text()), ok)
                }
                Err(e) => (None, Some(format!("({e})")), false),
            };
            acked |= ok;
            let copy_note = if job.copies > 1 {
                format!(" (copy {copy} of {}, sent together)", job.copies)
            } else {
                String::new()
            };
            let verdict = if ok {
                "acknowledged"
            } else {
                "not acknowledged"
            };
            let message = format!(
                "attempt {}{copy_note} to {}: {verdict}",
                job.attempt, job.callback.url
            );
            (status, response, message, ok)
        })
        .collect();
    let mut st = sb.lock();
    if st.generation != generation {
        return;
    }
    for (status, response, message, ok) in entries {
        st.record_callback(
            &job.instance,
            &job.id,
            Ladder {
                acked: Some(ok),
                ..Ladder::at(job.attempt)
            },
            status,
            response,
            message,
            Some(job.callback.body.clone()),
        );
    }
    if acked {
        if let Some(c) = st.channels.get_mut(&job.instance) {
            c.notification_acked(&job.id);
        }
    } else {
        st.schedule_retry(&job.instance, &job.id, job.attempt, job.callback.ladder);
    }
}
