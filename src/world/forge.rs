//! Forged payment notifications: the channel kind builds one (bad signature, wrong amount,
//! unknown order) under the lock; the world sends it once, outside the lock, to the order's
//! notify URL and journals the answer under the op [`FORGED_OP`]. Nothing else changes: no
//! money moves, no retry is scheduled.

use super::notify::{refused_target, CALLBACK_TIMEOUT};
use super::state::WorldState;
use super::Sandbank;
use crate::core::{ActionError, Callback, Forgery};
use crate::http;
use crate::journal::{EntryKind, Record};
use serde::Serialize;

/// The journal's op for a forged notification (not `notify`: fault rules and the
/// "every notification acknowledged" check are about genuine ones).
pub const FORGED_OP: &str = "notify.forged";

/// How the journal message of a forged notification the receiver acknowledged ends.
pub const FORGED_ACCEPTED: &str = ": acknowledged (accepted)";

/// What became of a forged notification.
#[derive(Debug, Clone, Serialize)]
pub struct ForgedOutcome {
    /// The forgery.
    pub forgery: Forgery,
    /// Where it went.
    pub url: String,
    /// The HTTP status of the answer, if there was one.
    pub status: Option<u16>,
    /// The answer's body, or the transport error.
    pub response: String,
    /// True when the answer was the channel's acknowledgement: the receiver accepted it.
    pub acknowledged: bool,
}

impl WorldState {
    /// Channel `channel`'s forged notification about order `reference`, ready to send.
    pub fn forge_notification(
        &mut self,
        channel: &str,
        reference: &str,
        how: Forgery,
    ) -> Result<Callback, ActionError> {
        let WorldState { core, channels, .. } = self;
        let c = channels
            .get(channel)
            .ok_or_else(|| ActionError::NotFound(format!("no channel `{channel}`")))?;
        c.forge_notification(core, reference, how)
    }
}

impl Sandbank {
    /// Send channel `channel`'s forged notification about order `reference` once, journal
    /// the answer, and say what it was.
    pub async fn send_forged_notification(
        &self,
        channel: &str,
        reference: &str,
        how: Forgery,
    ) -> Result<ForgedOutcome, ActionError> {
        let callback = self.with(|st| st.forge_notification(channel, reference, how))?;
        let refused = refused_target(&callback.url);
        let result = match &refused {
            Some(_) => None,
            None => Some(
                self.pool
                    .post_capped(
                        &callback.url,
                        callback.content_type,
                        bytes::Bytes::copy_from_slice(callback.body.as_bytes()),
                        CALLBACK_TIMEOUT,
                        http::MAX_CALLBACK_BODY_BYTES,
                    )
                    .await,
            ),
        };
        let (status, response, acknowledged) = match (&result, &refused) {
            (Some(Ok(r)), _) => (
                Some(r.status.as_u16()),
                r.text(),
                (callback.ack)(r.status, &r.body),
            ),
            (Some(Err(e)), _) => (None, format!("({e})"), false),
            (None, why) => (None, format!("({})", why.as_deref().unwrap_or("")), false),
        };
        let verdict = match &refused {
            Some(why) => format!(": {why}"),
            None if acknowledged => FORGED_ACCEPTED.to_string(),
            None => ": not acknowledged (refused)".to_string(),
        };
        self.with(|st| {
            st.core.record(
                EntryKind::Callback,
                Record {
                    instance: channel.into(),
                    op: FORGED_OP.into(),
                    reference: Some(reference.into()),
                    status,
                    message: format!(
                        "forged notification with {} to {}{verdict}",
                        how.describe(),
                        callback.url
                    ),
                    request: Some(callback.body.as_str().into()),
                    response: Some(response.as_str().into()),
                    acked: refused.is_none().then_some(acknowledged),
                    ..Default::default()
                },
            )
        });
        Ok(ForgedOutcome {
            forgery: how,
            url: callback.url,
            status,
            response,
            acknowledged,
        })
    }
}
