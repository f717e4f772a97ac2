//! What every request handler shares ([`App`]: the configuration, the books behind their
//! lock, the payout lane) and the one shape of our own errors ([`ApiError`]).

use crate::store::Store;
use crate::{wxpay, Config};
use bytes::Bytes;
use chrono::NaiveDate;
use http_body_util::Full;
use hyper::header::CONTENT_TYPE;
use hyper::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Mutex, MutexGuard};

/// What every request handler shares.
pub struct App {
    /// Configuration.
    pub config: Config,
    /// The books. A std mutex: every critical section is short and synchronous.
    pub store: Mutex<Store>,
    /// Held for a whole settlement run, across `.await`s (hence tokio's mutex): payouts are
    /// serial, and no two runs ever drive the same settlement order at once.
    pub payout_lane: tokio::sync::Mutex<()>,
}

impl App {
    /// The books. A panic while holding the lock cannot leave them half-updated in a way
    /// that matters more than stopping would, so a poisoned lock is simply taken over.
    /// With `--state-dir`, books changed through the guard are written out when it is
    /// dropped, before anyone else can see them (and so before any request they lead to).
    pub fn lock(&self) -> StoreGuard<'_> {
        StoreGuard {
            guard: self.store.lock().unwrap_or_else(|p| p.into_inner()),
            dir: self.config.state_dir.as_deref(),
            dirty: false,
        }
    }
}

/// The books, locked; written to the state directory on drop if they were changed.
pub struct StoreGuard<'a> {
    guard: MutexGuard<'a, Store>,
    dir: Option<&'a std::path::Path>,
    dirty: bool,
}

impl std::ops::Deref for StoreGuard<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.guard
    }
}

impl std::ops::DerefMut for StoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        self.dirty = true;
        &mut self.guard
    }
}

impl Drop for StoreGuard<'_> {
    fn drop(&mut self) {
        if let (true, Some(dir)) = (self.dirty, self.dir) {
            if let Err(e) = self.guard.save(dir) {
                // Carrying on with books that a restart would lose is how payouts are
                // paid twice: stop instead.
                tracing::error!("cannot write the books to {}: {e}; stopping", dir.display());
                std::process::exit(70);
            }
        }
    }
}

/// An error answered to our own callers as `{"error": "…"}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    pub fn into_response(self) -> Response<Full<Bytes>> {
        json_response(self.status, &json!({ "error": self.message }))
    }
}

impl From<wxpay::CallError> for ApiError {
    fn from(e: wxpay::CallError) -> ApiError {
        let status = match e {
            wxpay::CallError::Unknown(_) => StatusCode::GATEWAY_TIMEOUT,
            wxpay::CallError::Refused { .. } => StatusCode::BAD_GATEWAY,
        };
        ApiError::new(status, format!("channel: {e}"))
    }
}

pub fn json_response(status: StatusCode, v: &Value) -> Response<Full<Bytes>> {
    response(
        status,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

pub fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}

pub fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
}

pub fn parse_date(text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_request(format!("`{text}` is not a date (YYYY-MM-DD)")))
}
