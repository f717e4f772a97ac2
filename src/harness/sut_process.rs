//! The SUT's process lifecycle: spawn it in a process group of its own with its output in a
//! log file, wait until it answers its readiness URL, and stop the whole group.
//!
//! It is separate from the adapter because it knows nothing about adapter files or
//! templates: it is given a finished command line and URL. What it does own is the part
//! that is easy to get wrong: a SUT started through `cargo run` is two processes, and
//! killing only the one the harness spawned would leave the real server running after its
//! scenario, so every signal goes to the process group.

use crate::http;
use std::path::PathBuf;
use std::time::Duration;

/// How many lines of the SUT's log a failure message quotes.
const LOG_TAIL_LINES: usize = 20;

/// How long one readiness probe may take; a SUT that is still starting may accept the
/// connection and answer late.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long to wait between readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(50);

/// How long the SUT has to exit after TERM before it gets KILL.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// A running SUT process (in its own process group, so that `cargo run` and its child go
/// together).
#[derive(Debug)]
pub struct SutProcess {
    child: tokio::process::Child,
    /// The command that started it, as run (rendered), for failure messages.
    pub command: String,
    /// The file that receives its stdout and stderr, kept for [`SutProcess::log_tail`] and
    /// for the reader of a failed scenario.
    pub log: PathBuf,
}

impl SutProcess {
    /// Start `command` with `sh -c "exec …"`, so that the shell becomes the SUT, in a new
    /// process group, with stdin closed and stdout and stderr written to a new file at
    /// `log`. The error says which file or command failed.
    pub fn spawn(command: String, log: PathBuf) -> Result<SutProcess, String> {
        let log_file = std::fs::File::create(&log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
        let child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .stdin(std::process::Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start `{command}`: {e}"))?;
        Ok(SutProcess {
            child,
            command,
            log,
        })
    }

    /// Poll `url` until it answers 2xx. Fails at once if the SUT exits first, and after
    /// `timeout` stops it and fails; either message carries the command and the log's last
    /// lines, since that is where a SUT says why it did not start.
    pub async fn wait_ready(&mut self, url: &str, timeout: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the SUT exited with {status} before it was ready\n  command: {}\n  log:\n{}",
                    self.command,
                    self.log_tail()
                ));
            }
            if let Ok(r) = http::get(url, PROBE_TIMEOUT).await {
                if r.status.is_success() {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() > deadline {
                let tail = self.log_tail();
                self.stop().await;
                return Err(format!(
                    "the SUT was not ready at {url} within {timeout:?}\n  command: {}\n  log:\n{tail}",
                    self.command
                ));
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    /// The last lines of its log, indented for quoting in a failure message; empty if the
    /// log cannot be read.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..]
            .iter()
            .map(|l| format!("    {l}\n"))
            .collect()
    }

    /// Stop it: TERM to its process group, then KILL after a grace period.
    pub async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            let group = format!("-{pid}");
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", "--", &group])
                .status()
                .await;
            if tokio::time::timeout(STOP_GRACE, self.child.wait())
                .await
                .is_err()
            {
                let _ = tokio::process::Command::new("kill")
                    .args(["-KILL", "--", &group])
                    .status()
                    .await;
                let _ = self.child.wait().await;
            }
        }
    }
}
