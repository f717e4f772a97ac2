//! Calling a hook: render its templates with one call's variables, then send the HTTP
//! request or run the shell command, and turn what happened into the hook's output or a
//! [`HookError`].
//!
//! This is the only place that talks to the SUT on the harness's behalf, so it is kept apart
//! from loading (which never performs I/O) and from the SUT's process lifecycle (which
//! never calls hooks). Every failure carries the rendered request and whatever came back,
//! because a failed step is debugged from its message alone.

use super::config::{Adapter, HookAction};
use super::template::render;
use crate::http;
use bytes::Bytes;
use hyper::Method;
use std::collections::BTreeMap;
use std::time::Duration;

/// Why a hook failed, with enough of the exchange to see whose fault it was.
#[derive(Debug, Clone, thiserror::Error)]
#[error("hook `{hook}` failed: {problem}\n  request: {request}\n  answer: {answer}")]
pub struct HookError {
    /// The hook's name, one of [`HOOKS`](super::HOOKS).
    pub hook: String,
    /// What went wrong: an undefined hook, a template that did not render, a transport
    /// error, a timeout, a non-2xx status or a non-zero exit.
    pub problem: String,
    /// What was sent, rendered: `METHOD url body` or the shell command; empty when the
    /// failure came before anything could be sent.
    pub request: String,
    /// What came back: the HTTP answer body, or the command's stdout and stderr; empty
    /// when nothing did.
    pub answer: String,
}

impl HookError {
    fn new(
        hook: &str,
        problem: impl Into<String>,
        request: impl Into<String>,
        answer: impl Into<String>,
    ) -> Self {
        HookError {
            hook: hook.to_string(),
            problem: problem.into(),
            request: request.into(),
            answer: answer.into(),
        }
    }
}

impl Adapter {
    /// Call hook `name` with `vars`; returns its output (HTTP body or stdout).
    pub async fn call(
        &self,
        name: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<String, HookError> {
        let Some(hook) = self.hooks.get(name) else {
            return Err(HookError::new(name, "not defined", "", ""));
        };
        match &hook.action {
            HookAction::Http {
                method,
                url,
                body,
                headers,
            } => {
                let request = render_http(name, url, body.as_deref(), headers, vars)?;
                send_http(name, method, request, hook.timeout).await
            }
            HookAction::Shell(cmd) => run_shell(name, cmd, hook.timeout, vars).await,
        }
    }
}

/// An HTTP hook's templates rendered with one call's variables.
struct HttpRequest {
    url: String,
    body: String,
    headers: Vec<(String, String)>,
}

/// Render an HTTP hook's URL, body and headers (unquoted: they are not shell text). A
/// non-empty body without a content type is sent as JSON.
fn render_http(
    name: &str,
    url: &str,
    body: Option<&str>,
    headers: &BTreeMap<String, String>,
    vars: &BTreeMap<String, String>,
) -> Result<HttpRequest, HookError> {
    let url = render(url, vars, false).map_err(|e| HookError::new(name, e, "", ""))?;
    let body = match body {
        Some(b) => render(b, vars, false).map_err(|e| HookError::new(name, e, url.clone(), ""))?,
        None => String::new(),
    };
    let mut hs: Vec<(String, String)> = Vec::new();
    for (k, v) in headers {
        hs.push((
            k.clone(),
            render(v, vars, false).map_err(|e| HookError::new(name, e, url.clone(), ""))?,
        ));
    }
    if !body.is_empty()
        && !hs
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        hs.push(("content-type".into(), "application/json".into()));
    }
    Ok(HttpRequest {
        url,
        body,
        headers: hs,
    })
}

/// Send a rendered request; a 2xx answer's body is the hook's output.
async fn send_http(
    name: &str,
    method: &Method,
    request: HttpRequest,
    timeout: Duration,
) -> Result<String, HookError> {
    let header_refs: Vec<(&str, &str)> = request
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let sent = format!("{method} {} {}", request.url, request.body);
    let body = Bytes::from(request.body);
    match http::send(method.clone(), &request.url, &header_refs, body, timeout).await {
        Ok(r) if r.status.is_success() => Ok(r.text()),
        Ok(r) => Err(HookError::new(
            name,
            format!("HTTP {}", r.status),
            sent,
            r.text(),
        )),
        Err(e) => Err(HookError::new(name, e.to_string(), sent, "")),
    }
}

/// Render a shell hook's command (values quoted) and run it with `sh -c`; exit status 0
/// makes its stdout the hook's output. The command is killed if it outlives `timeout`.
async fn run_shell(
    name: &str,
    cmd: &str,
    timeout: Duration,
    vars: &BTreeMap<String, String>,
) -> Result<String, HookError> {
    let cmd = render(cmd, vars, true).map_err(|e| HookError::new(name, e, "", ""))?;
    let run = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(timeout, run).await {
        Err(_) => Err(HookError::new(
            name,
            format!("timed out after {timeout:?}"),
            cmd,
            "",
        )),
        Ok(Err(e)) => Err(HookError::new(name, format!("cannot run sh: {e}"), cmd, "")),
        Ok(Ok(out)) if out.status.success() => {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Ok(Ok(out)) => Err(HookError::new(
            name,
            format!("exited with {}", out.status),
            cmd,
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )),
    }
}
