//! Signed channel requests: sandbank beside the bare hyper and wiremock-rs baselines, in
//! interleaved rounds (median of each), then the memory a long run leaves and the cost of
//! reading a full journal.

use crate::env_or;
use crate::figure::{median, Better, Figure, Goal};
use crate::load::{self, Make, Run};
use crate::procs::{self, Server};
use crate::sign;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Connections, as in the measurements (wrk -c64).
const CONNS: usize = 64;

/// How the run is sized: `WIRE_BENCH_SECONDS` per round (default 5), `WIRE_BENCH_ROUNDS`
/// (default 3), `WIRE_BENCH_LONG` orderqueries for the memory figure (default 3,400,000).
struct Sizes {
    round: Duration,
    rounds: usize,
    long: u64,
}

fn sizes() -> Sizes {
    Sizes {
        round: Duration::from_secs_f64(env_or("WIRE_BENCH_SECONDS", 5.0)),
        rounds: env_or("WIRE_BENCH_ROUNDS", 3),
        long: env_or("WIRE_BENCH_LONG", 3_400_000),
    }
}

/// What a round sends: one fixed request (wrk when installed, else the built-in generator),
/// or requests built per connection and number (the built-in generator).
#[derive(Clone)]
enum Load {
    Fixed { path: &'static str, body: Vec<u8> },
    Made(Make),
}

/// One round against `server`: requests per second, and server CPU µs per request.
fn round(server: &Server, what: &str, round: Duration, load: &Load) -> (Run, f64) {
    let cpu0 = server.cpu_seconds();
    let run = match load {
        Load::Fixed { path, body } => load::wrk(server.addr, path, body, CONNS, round)
            .unwrap_or_else(|| {
                let req = load::post(path, "text/xml", body);
                load::drive(
                    server.addr,
                    CONNS,
                    round,
                    u64::MAX,
                    Arc::new(move |_, _| req.clone()),
                )
            }),
        Load::Made(make) => load::drive(server.addr, CONNS, round, u64::MAX, make.clone()),
    };
    let cpu = server.cpu_seconds() - cpu0;
    assert!(
        run.ok > 0 && run.failed == 0,
        "{} answered {} {what} requests and failed {}",
        server.name,
        run.ok,
        run.failed
    );
    (run, cpu * 1e6 / run.ok.max(1) as f64)
}

fn orderquery_requests() -> Make {
    let reqs: Vec<Vec<u8>> = (0..CONNS)
        .map(|c| {
            load::post(
                "/wxpay/pay/orderquery",
                "text/xml",
                &sign::orderquery(&format!("BENCHQ{c:04}"), "bench0nonce0str0"),
            )
        })
        .collect();
    let reqs = Arc::new(reqs);
    Arc::new(move |conn, _| reqs[conn % reqs.len()].clone())
}

/// Create the orders the orderqueries ask for.
fn create_orders(server: &Server) {
    let make: Make = Arc::new(|conn, _| {
        load::post(
            "/wxpay/pay/unifiedorder",
            "text/xml",
            &sign::unifiedorder(&format!("BENCHQ{conn:04}"), "100", "http://127.0.0.1:9/n"),
        )
    });
    let run = load::drive(
        server.addr,
        CONNS,
        Duration::from_secs(10),
        CONNS as u64,
        make,
    );
    assert!(
        run.ok >= CONNS as u64,
        "creating the orders failed: {run:?}"
    );
}

/// The figures of this part.
pub fn run(bin: &Path) -> Vec<Figure> {
    let s = sizes();
    let sandbank = procs::sandbank(bin, None);
    let hyper = procs::role("bare hyper", "hyper");
    create_orders(&sandbank);
    let oq = orderquery_requests();
    // The same signed orderquery for sandbank and the baselines (which ignore it).
    let body = sign::orderquery("BENCHQ0000", "bench0nonce0str0");
    let query = Load::Fixed {
        path: "/wxpay/pay/orderquery",
        body: body.clone(),
    };
    let fixed = Load::Fixed { path: "/", body };
    eprintln!(
        "  load generator: {}",
        if load::wrk_available() {
            "wrk -t2 (fixed requests), built-in (the rest)"
        } else {
            "built-in, 2 threads (install wrk for the generator the goals were set with)"
        }
    );
    let (mut sb_rps, mut sb_cpu, mut hy_rps, mut hy_cpu, mut wm_rps, mut wm_cpu) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    // A warm-up round each, not counted: the first seconds of a fresh world fill its
    // journal (allocating rather than reusing) and its stream table.
    let mut served = 0u64;
    for (server, load) in [(&sandbank, &query), (&hyper, &fixed)] {
        let (run, _) = round(server, "warm-up", Duration::from_secs(3), load);
        if std::ptr::eq(server, &sandbank) {
            served += run.ok;
        }
    }
    for r in 0..s.rounds {
        // wiremock-rs fresh each round, as the goal was set: it slows down as it serves
        // (from ~80k to ~33k req/s after about a million requests, its memory growing to
        // gigabytes, request recording off), which would flatter sandbank.
        let wiremock = procs::role("wiremock-rs", "wiremock");
        round(&wiremock, "warm-up", Duration::from_secs(1), &fixed);
        let (run, cpu) = round(&sandbank, "orderquery", s.round, &query);
        assert!(run.failed == 0, "sandbank failed requests: {run:?}");
        served += run.ok;
        sb_rps.push(run.per_second());
        sb_cpu.push(cpu);
        let (run, cpu) = round(&hyper, "/", s.round, &fixed);
        hy_rps.push(run.per_second());
        hy_cpu.push(cpu);
        let (run, cpu) = round(&wiremock, "/", s.round, &fixed);
        wm_rps.push(run.per_second());
        wm_cpu.push(cpu);
        eprintln!(
            "  round {}: sandbank {:.0}/s {:.1} µs, hyper {:.0}/s {:.1} µs, wiremock {:.0}/s {:.1} µs",
            r + 1,
            sb_rps[r],
            sb_cpu[r],
            hy_rps[r],
            hy_cpu[r],
            wm_rps[r],
            wm_cpu[r]
        );
    }
    // The machine's speed drifts between rounds (a shared host): a ratio is judged within
    // a round, as the round with the median ratio; CPU per request as the median.
    let at_median_ratio = |base: &[f64]| {
        let mut rounds: Vec<usize> = (0..base.len()).collect();
        rounds.sort_by(|&a, &b| (sb_rps[a] / base[a]).total_cmp(&(sb_rps[b] / base[b])));
        let r = rounds[rounds.len() / 2];
        (sb_rps[r], base[r])
    };
    let (sb_vs_hy, hy_rps) = at_median_ratio(&hy_rps);
    let (sb_vs_wm, wm_rps) = at_median_ratio(&wm_rps);
    let (sb_cpu, hy_cpu, wm_cpu) = (median(sb_cpu), median(hy_cpu), median(wm_cpu));
    let mut figures = vec![
        Figure {
            name: format!("signed pay/orderquery, c{CONNS}, req/s"),
            unit: "req/s",
            value: sb_vs_hy,
            baseline: Some(("bare hyper", hy_rps)),
            better: Better::Higher,
            goal: Goal::Ratio(0.6),
        },
        Figure {
            name: format!("signed pay/orderquery, c{CONNS}, req/s"),
            unit: "req/s",
            value: sb_vs_wm,
            baseline: Some(("wiremock-rs", wm_rps)),
            better: Better::Higher,
            goal: Goal::Ratio(1.2),
        },
        Figure {
            name: "server CPU per orderquery".into(),
            unit: "µs/req",
            value: sb_cpu,
            baseline: Some(("bare hyper", hy_cpu)),
            better: Better::Lower,
            goal: Goal::Absolute(12.0),
        },
        Figure {
            name: "server CPU per request, wiremock-rs".into(),
            unit: "µs/req",
            value: wm_cpu,
            baseline: Some(("bare hyper", hy_cpu)),
            better: Better::Lower,
            goal: Goal::None,
        },
    ];

    // A long run: what memory the journal and the allocator settle at.
    let rest = s.long.saturating_sub(served);
    let t = Instant::now();
    let long = load::drive(sandbank.addr, CONNS, Duration::from_secs(120), rest, oq);
    eprintln!(
        "  long run: {} more orderqueries in {:.1} s ({} in all)",
        long.ok,
        t.elapsed().as_secs_f64(),
        served + long.ok
    );
    figures.push(Figure {
        name: format!(
            "RSS after {:.1}M orderqueries",
            (served + long.ok) as f64 / 1e6
        ),
        unit: "MiB",
        value: sandbank.kib("VmRSS") as f64 / 1024.0,
        baseline: None,
        better: Better::Lower,
        goal: Goal::Absolute(64.0),
    });
    figures.push(Figure {
        name: "peak RSS (VmHWM) over that run".into(),
        unit: "MiB",
        value: sandbank.kib("VmHWM") as f64 / 1024.0,
        baseline: None,
        better: Better::Lower,
        goal: Goal::Absolute(64.0),
    });

    // Reading the newest entry of a full journal, idle and while 64 clients query.
    figures.push(journal_read(&sandbank, "idle", None));
    figures.push(journal_read(
        &sandbank,
        "under load",
        Some(orderquery_requests()),
    ));
    drop(sandbank);

    // Unique order numbers: every request creates an order (on a world of its own, so
    // the orders it holds do not count in the memory figures above).
    let sandbank = procs::sandbank(bin, None);
    // Unique order numbers: every request creates an order.
    let uo: Make = Arc::new(|conn, i| {
        load::post(
            "/wxpay/pay/unifiedorder",
            "text/xml",
            &sign::unifiedorder(
                &format!("BU{conn:03}X{i:010}"),
                "100",
                "http://127.0.0.1:9/n",
            ),
        )
    });
    let (run, cpu) = round(&sandbank, "unifiedorder", s.round, &Load::Made(uo));
    figures.push(Figure {
        name: format!("signed pay/unifiedorder (new orders), c{CONNS}"),
        unit: "req/s",
        value: run.per_second(),
        baseline: Some(("bare hyper", hy_rps)),
        better: Better::Higher,
        goal: Goal::None,
    });
    figures.push(Figure {
        name: "server CPU per unifiedorder".into(),
        unit: "µs/req",
        value: cpu,
        baseline: Some(("bare hyper", hy_cpu)),
        better: Better::Lower,
        goal: Goal::None,
    });

    drop(hyper);
    figures
}

/// Median latency of `GET /_sandbank/journal?limit=1` over 50 reads, in ms.
fn journal_read(sandbank: &Server, when: &str, load: Option<Make>) -> Figure {
    let addr = sandbank.addr;
    let background = load.map(|make| {
        std::thread::spawn(move || load::drive(addr, CONNS, Duration::from_secs(5), u64::MAX, make))
    });
    std::thread::sleep(Duration::from_millis(300));
    let get: Make = Arc::new(|_, _| load::get("/_sandbank/journal?limit=1"));
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let run = load::drive(addr, 1, Duration::from_secs(5), 1, get.clone());
        assert_eq!(run.ok, 1, "journal read failed: {run:?}");
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    if let Some(b) = background {
        let _ = b.join();
    }
    Figure {
        name: format!("GET journal?limit=1, full journal, {when}"),
        unit: "ms",
        value: median(times),
        baseline: None,
        better: Better::Lower,
        goal: Goal::Absolute(5.0),
    }
}
