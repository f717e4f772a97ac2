//! `cargo bench --bench wire`: sandbank over real sockets, beside an in-tree bare hyper
//! server doing the least an HTTP server can (and wiremock-rs), in one run; every figure
//! printed with its baseline, the ratio and the goal. Servers run as child processes (their
//! CPU and memory read from /proc); the load generator is this process, on loopback only,
//! and every phase is bounded in time and count.
//!
//! ```text
//! cargo bench --bench wire
//! WIRE_BENCH_SECONDS=2 WIRE_BENCH_ROUNDS=1 WIRE_BENCH_LONG=200000 cargo bench --bench wire  # quick look
//! cargo bench --bench wire -- statements                                                   # one part
//! ```
//!
//! Parts: `requests`, `orders` (`ORDERS_BENCH_N`), `notify` (`NOTIFY_BENCH_BURST`,
//! `NOTIFY_BENCH_PAYS`), `statements` (in-process, no sockets).

mod baseline;
mod figure;
mod load;
mod notify;
mod orders;
mod procs;
mod requests;
mod sign;
mod statements;
mod world;

fn main() {
    match std::env::var("WIRE_BENCH_ROLE").as_deref() {
        Ok("hyper") => return baseline::hyper_server(),
        Ok("wiremock") => return baseline::wiremock_server(),
        _ => {}
    }
    // `cargo bench` passes `--bench`; a filter word runs only the parts it names.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |part: &str| only.is_empty() || only.iter().any(|o| part.contains(o.as_str()));
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_sandbank"));
    println!(
        "sandbank wire benchmark: {} cores, servers as child processes, loopback",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut figures = Vec::new();
    if wants("requests") {
        eprintln!("requests: signed orderquery/unifiedorder beside bare hyper and wiremock-rs");
        figures.extend(requests::run(bin));
    }
    if wants("orders") {
        eprintln!("orders: memory per order held, control-API pay");
        figures.extend(orders::run(bin));
    }
    if wants("statements") {
        eprintln!("statements: the WeChat bill and camt.053, in-process");
        figures.extend(statements::run());
    }
    if wants("notify") {
        eprintln!("notifications: a burst, and pays while notifications flow");
        figures.extend(notify::run(bin));
    }
    let missed = figure::print(&figures);
    println!("\n{missed} goal(s) missed");
}

/// The environment variable `name` parsed, else `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
