//! Servers under test as child processes, and what /proc says of them.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A server in a child process, killed when dropped.
pub struct Server {
    /// What it is (`sandbank`, `bare hyper`).
    pub name: &'static str,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

impl Server {
    /// Start `cmd` and read its address from the first stdout line that holds `http://ADDR`
    /// (or `ADDR` alone), within 30 s.
    pub fn start(name: &'static str, mut cmd: Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let out = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let text = line.split("http://").nth(1).unwrap_or(&line);
                let word = text.split(['/', ' ']).next().unwrap_or("");
                if let Ok(a) = word.parse::<SocketAddr>() {
                    let _ = tx.send(a);
                }
                // Keep reading (and discarding) so the child never blocks on a full pipe.
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{name} printed no address within 30 s"));
        Server { name, addr, child }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system) the process has used so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name.
        (ticks(11) + ticks(12)) / clock_ticks()
    }

    /// A `/proc/<pid>/status` figure in KiB (`VmRSS`, `VmHWM`).
    pub fn kib(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when it cannot be asked).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// `sandbank serve` on an ephemeral loopback port, with `scenario` when given.
pub fn sandbank(bin: &Path, scenario: Option<&Path>) -> Server {
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    if let Some(s) = scenario {
        cmd.arg("--scenario").arg(s);
    }
    // To compare journal sizes (the default is the product's; see README "Performance").
    if let Some(b) = std::env::var_os("WIRE_BENCH_JOURNAL_BYTES") {
        cmd.arg("--journal-bytes").arg(b);
    }
    Server::start("sandbank", cmd)
}

/// This bench binary again, in the role `role` (see `main`).
pub fn role(name: &'static str, role: &str) -> Server {
    let me = std::env::current_exe().expect("the bench binary's path");
    let mut cmd = Command::new(me);
    cmd.env("WIRE_BENCH_ROLE", role);
    Server::start(name, cmd)
}
