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

/// How long the world waits for a merchant to answer a callback before counting the attempt
/// as failed. WeChat Pay documents no figure for v2; 5 s matches its v3 rule.
pub const CALLBACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A callback about to be sent, decided under the lock.
#[derive(Debug)]
pub struct Job {
    instance: String,
    id: NotificationId,
    attempt: u32,
    callback: Callback,
    copies: u32,
}

impl WorldState {
    /// Prepare attempt `attempt` of notification `id` from channel `instance`: `None` when
    /// nothing is to be sent now (no longer due, dropped or held back by a fault rule).
    /// `gated` is false for an attempt a `delay` rule already held back.
    pub(super) fn prepare_notification(
        &mut self,
        instance: String,
        id: NotificationId,
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
            .get_mut(&instance)?
            .notification(core, &id, attempt)?;
        let op = id.kind.op();
        let key = GateKey {
            instance: &instance,
            op,
            order: Some(&id.reference),
            amount: callback.amount,
        };
        let fired = if gated {
            {
                let stream = format!("faults/{op}/{}", id.reference);
                faults.decide(key, true, &mut core.rng_for(&instance, &stream))
            }
        } else {
            None
        };
        let mut copies = 1;
        if let Some(f) = &fired {
            core.record_fault(&instance, op, Some(&id.reference), f);
            match f.action {
                Action::Drop => {
                    self.record_callback(
                        &instance,
                        &id,
                        None,
                        None,
                        format!("attempt {attempt} not sent (dropped) to {}", callback.url),
                        Some(callback.body.clone()),
                    );
                    self.schedule_retry(&instance, &id, attempt, callback.ladder);
                    return None;
                }
                Action::Delay { delay_ms } => {
                    let at = core.now() + chrono::Duration::milliseconds(delay_ms);
                    core.schedule(
                        at,
                        Event::Notify {
                            instance,
                            id,
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
        Some(Job {
            instance,
            id,
            attempt,
            callback,
            copies,
        })
    }

    fn record_callback(
        &mut self,
        instance: &str,
        id: &NotificationId,
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
                request,
                response,
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
            .map(|s| chrono::Duration::seconds(*s));
        let message = match wait {
            Some(wait) => {
                let at = self.core.now() + wait;
                self.core.schedule(
                    at,
                    Event::Notify {
                        instance: instance.into(),
                        id: id.clone(),
                        attempt: attempt + 1,
                        gated: true,
                    },
                );
                format!(
                    "attempt {} scheduled in {} at {}",
                    attempt + 1,
                    format_duration(wait),
                    at.to_rfc3339()
                )
            }
            None => format!("gave up after {attempt} attempts"),
        };
        self.record_callback(instance, id, None, None, message, None);
    }
}

/// Send a notification (and its duplicates, all at once), outside the lock; then record the
/// answers and either tell the channel it was acknowledged or schedule the next attempt.
pub(super) async fn deliver(sb: &Sandbank, generation: u64, job: Job) {
    // Copies of a duplicated notification go out at once, as a channel's parallel workers
    // send them: a merchant that books on arrival without a lock sees them race.
    let send = |_| {
        http::post(
            &job.callback.url,
            job.callback.content_type,
            job.callback.body.clone(),
            CALLBACK_TIMEOUT,
        )
    };
    let results = futures::future::join_all((1..=job.copies).map(send)).await;
    let mut acked = false;
    let mut st = sb.lock();
    if st.generation != generation {
        return;
    }
    for (copy, result) in (1..=job.copies).zip(results) {
        let (status, response, ok) = match &result {
            Ok(r) => (
                Some(r.status.as_u16()),
                Some(r.text()),
                (job.callback.ack)(r.status, &r.body),
            ),
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
        st.record_callback(
            &job.instance,
            &job.id,
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
