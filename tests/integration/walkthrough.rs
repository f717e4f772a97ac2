//! The README's walk-through, executed: every ```` ```sh walkthrough ```` block, in order,
//! each command as written, against `sandbank serve` of the embedded default world (real
//! clock) on an ephemeral port. Only the port is rewritten (`localhost:8080`,
//! `127.0.0.1:8080`), `cargo run -q --release --` becomes the binary under test, and
//! `SANDBANK_URL` points `sandbank call` at the server. Each step's outcome is checked:
//! the order created, the notification retried, the payout succeeded, the statement
//! carrying the order's row. If the README changes, this runs what it says; a step this
//! test checks that the README no longer shows fails it.
//!
//! (The Python snippets are left unmarked: they need the SDKs of `.ci/run`'s venv.)
//!
//! The walk-through reads "yesterday's" bill after moving the clock to 10:00 tomorrow: on
//! the real clock it would read another day only if Beijing midnight fell in the few
//! seconds between paying the order and moving the clock.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long one command may take (a clock move waits for notifications that fall due to
/// be answered or time out).
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

const BIN: &str = env!("CARGO_BIN_EXE_sandbank");

/// `sandbank serve` as a child process, killed when dropped.
struct Served {
    child: Child,
    port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Served {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sandbank serve starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("serve prints where it listens");
    let port = first
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in `{first}`"));
    Served { child, port }
}

/// The commands of the README's walk-through blocks, in order, continuation lines joined.
fn walkthrough_commands(readme: &str) -> (usize, Vec<String>) {
    let mut blocks = 0;
    let mut out = Vec::new();
    let mut inside = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if !inside {
            if line.trim() == "```sh walkthrough" {
                inside = true;
                blocks += 1;
            }
            continue;
        }
        if line.trim() == "```" {
            inside = false;
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        pending.push_str(line);
        if !pending.trim().is_empty() {
            out.push(std::mem::take(&mut pending));
        }
        pending.clear();
    }
    (blocks, out)
}

fn rewrite(cmd: &str, port: u16) -> String {
    cmd.replace("cargo run -q --release -- ", &format!("{BIN} "))
        .replace("localhost:8080", &format!("localhost:{port}"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
}

/// Run `cmd` with `sh -c`: its exit status and stdout (stderr appended on failure).
fn run(cmd: &str, port: u16) -> (bool, String) {
    let mut child = Command::new("sh")
        .args(["-c", cmd])
        .env("SANDBANK_URL", format!("http://127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waitable") {
            let mut out = String::new();
            let mut err = String::new();
            child.stdout.take().map(|mut o| o.read_to_string(&mut out));
            child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            if !status.success() {
                out.push_str(&err);
            }
            return (status.success(), out);
        }
        if started.elapsed() > STEP_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{cmd}` took more than {STEP_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a step must show: the commands it applies to (every part must appear) and a check
/// of their output.
struct Expect {
    what: &'static str,
    command: &'static [&'static str],
    holds: fn(&str) -> bool,
}

fn count(out: &str, needle: &str) -> usize {
    out.matches(needle).count()
}

const EXPECTED: &[Expect] = &[
    Expect {
        what: "the order created with curl",
        command: &["curl", "/wxpay/pay/unifiedorder", "ORDER20240102001"],
        holds: |o| o.contains("<prepay_id>") && count(o, "<![CDATA[SUCCESS]]>") == 2,
    },
    Expect {
        what: "an order created with sandbank call, its reply signature checked",
        command: &["call wxpay pay/unifiedorder"],
        holds: |o| o.contains("prepay_id") && o.contains("signature: valid"),
    },
    Expect {
        what: "the order queried with sandbank call",
        command: &["call wxpay pay/orderquery"],
        holds: |o| o.contains("NOTPAY") && o.contains("signature: valid"),
    },
    Expect {
        what: "the customer paid",
        command: &["/orders/ORDER20240102001/pay"],
        holds: |o| o.contains("\"trade_state\":\"SUCCESS\""),
    },
    Expect {
        what: "the notification retried",
        command: &["journal?reference=ORDER20240102001"],
        holds: |o| count(o, "to http://127.0.0.1:9/notify: not acknowledged") >= 2,
    },
    Expect {
        what: "a signed payout accepted",
        command: &["call bank agentpay/apply"],
        holds: |o| o.contains("PROCESSING") && o.contains("signature: valid"),
    },
    Expect {
        what: "the payout succeeded",
        command: &["call bank agentpay/query"],
        holds: |o| o.contains("  status           SUCCESS") && o.contains("signature: valid"),
    },
    Expect {
        what: "the clock moved to the next day",
        command: &["_sandbank/clock", "tomorrow"],
        holds: |o| o.contains("\"now_local\""),
    },
    Expect {
        what: "the bill of the order's day has its row",
        command: &["statements/wxpay/yesterday"],
        holds: |o| o.starts_with("交易时间") && o.contains("ORDER20240102001"),
    },
    Expect {
        what: "a mismatch added",
        command: &["statements/wxpay/mismatches"],
        holds: |o| o.contains("\"kind\":\"missing\""),
    },
    Expect {
        what: "the expected discrepancy of the mismatch",
        command: &["statements/expected"],
        holds: |o| o.contains("missing_in_statement") && o.contains("ORDER20240102001"),
    },
];

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let (blocks, commands) = walkthrough_commands(&readme);
    assert!(blocks >= 5, "only {blocks} walkthrough blocks in README.md");
    assert!(
        Command::new("curl").arg("--version").output().is_ok(),
        "the walk-through needs curl on PATH"
    );
    let served = serve();
    let mut seen = vec![0usize; EXPECTED.len()];
    for cmd in &commands {
        let real = rewrite(cmd, served.port);
        assert!(
            !real.contains(":8080"),
            "a port the test did not rewrite: {cmd}"
        );
        let (ok, out) = run(&real, served.port);
        assert!(ok, "`{cmd}` failed:\n{out}");
        assert!(
            !out.contains("\"error\""),
            "`{cmd}` answered an error:\n{out}"
        );
        for (i, e) in EXPECTED.iter().enumerate() {
            if e.command.iter().all(|part| cmd.contains(part)) {
                seen[i] += 1;
                assert!((e.holds)(&out), "{}: `{cmd}` showed:\n{out}", e.what);
            }
        }
    }
    let missing: Vec<&str> = EXPECTED
        .iter()
        .zip(&seen)
        .filter(|(_, n)| **n == 0)
        .map(|(e, _)| e.what)
        .collect();
    assert!(
        missing.is_empty(),
        "the walk-through no longer shows: {missing:?}"
    );
}

#[test]
fn blocks_are_read_in_order_with_continuations() {
    let text = "x\n```sh walkthrough\na 1\nb \\\n  2\n```\n```sh\nnot this\n```\n```sh walkthrough\n\nc\n```\n";
    let (blocks, cmds) = walkthrough_commands(text);
    assert_eq!(blocks, 2);
    assert_eq!(cmds, ["a 1", "b   2", "c"]);
    assert_eq!(
        rewrite("curl localhost:8080/x && cargo run -q --release -- call", 9),
        format!("curl localhost:9/x && {BIN} call")
    );
}
