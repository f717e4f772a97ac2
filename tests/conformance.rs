//! The conformance suite proves itself: it passes against the reference settlement system
//! and fails against each deliberately broken variant ([`KILLS`]), on the scenarios
//! that target its bug (by tag), with a message that names the invariant, the amounts, the
//! seed and the journal lines.
//!
//! `harness = false`: this is a plain program. It runs `features/` through
//! `sandbank::harness::run` against the correct system, then each row of the kill matrix
//! ([`KILLS`]: a `--bug`, the tag of the scenarios aimed at it, which must all fail, and what
//! their failure messages must say), with the adapter `examples/reference-sut/sut.toml`, pointing its
//! `sut_bin` at the reference SUT example, which it builds itself first (`cargo build
//! --example reference-sut`, same profile and target directory as this test), so that any
//! filtered `cargo test` works, not only the plain one that happens to build examples.

#[path = "support/reference_sut.rs"]
mod reference_sut;

use reference_sut::reference_sut;
use sandbank::harness::{adapter, run, ConformReport, RunConfig};
use std::collections::BTreeMap;
use std::path::Path;

const SEED: u64 = 42;

/// One row of the kill matrix: a deliberate bug of the reference system, the tag of the
/// scenario(s) aimed at it (each must fail), and what the failure messages must say.
struct Kill {
    bug: &'static str,
    tag: &'static str,
    needles: &'static [&'static str],
}

const KILLS: &[Kill] = &[
    Kill {
        bug: "new-order-no-on-retry",
        tag: "@payout-timeout",
        needles: &[
            "invariant violated: never double-pays",
            "received 500.00 CNY but is owed 250.00 CNY: overpaid by 250.00 CNY",
            "seed: 42",
            "no reply: held until the client gave up (the effect was applied)",
            "commit, then lose the reply (hang)",
            "reproduce: sandbank conform --sut examples/reference-sut/sut.toml --seed 42 --var bug=new-order-no-on-retry",
        ],
    },
    Kill {
        bug: "new-order-no-on-retry",
        tag: "@payout-reset",
        needles: &["invariant violated: never double-pays", "commit, then lose the reply (reset)"],
    },
    Kill {
        bug: "book-every-notification",
        tag: "@notifications",
        needles: &[
            "invariant violated: every payment booked exactly once",
            "booked 4 payment(s) totalling 352.00",
        ],
    },
    Kill {
        bug: "recon-ignores-duplicates",
        tag: "@recon-duplicate",
        needles: &["invariant violated: always reconciles", "real but not reported: duplicate_in_statement"],
    },
    Kill {
        bug: "recon-ignores-fees",
        tag: "@recon-fee",
        needles: &["real but not reported: fee_mismatch"],
    },
    Kill {
        bug: "recon-amount-tolerance",
        tag: "@recon-amount-fen",
        needles: &["real but not reported: amount_mismatch"],
    },
    Kill {
        bug: "recon-statement-total-from-books",
        tag: "@recon-missing",
        needles: &[
            "invariant violated: reports the statement as served",
            "the report's `statement` is 3 row(s) totalling 60.00, but the bill sandbank served lists 2 row(s) totalling 40.00",
        ],
    },
    Kill {
        bug: "recon-no-bill-as-empty",
        tag: "@bill-creating",
        needles: &[
            "real but not reported: statement_late (no reference); reported but not real: missing_in_statement",
        ],
    },
    Kill {
        bug: "recon-ignores-summary",
        tag: "@recon-summary",
        needles: &["real but not reported: summary_mismatch (no reference)"],
    },
    Kill {
        bug: "recon-skips-bad-lines",
        tag: "@recon-truncated",
        needles: &["real but not reported: statement_unreadable (no reference)"],
    },
    Kill {
        bug: "recon-fee-mismatch-shows-amounts",
        tag: "@recon-fee",
        needles: &[
            "invariant violated: reports each discrepancy's amounts",
            "but the truth is books \"0.60\" / statement \"0.61\"",
        ],
    },
    Kill {
        bug: "notify-only",
        tag: "@notify-lost",
        needles: &["invariant violated: every payment booked exactly once",
            "the SUT booked 0 payment(s) totalling 0.00 but sandbank's ledger shows 2 payment(s)"],
    },
    Kill {
        bug: "accept-forged",
        tag: "@notify-forged-signature",
        needles: &["invariant violated: forged notifications refused",
            "acknowledged a forged notification with a bad signature"],
    },
    Kill {
        bug: "trust-notify-amount",
        tag: "@notify-forged-amount",
        needles: &["invariant violated: forged notifications refused",
            "acknowledged a forged notification with a wrong amount"],
    },
    Kill {
        bug: "book-without-lock",
        tag: "@notify-concurrent",
        needles: &["invariant violated: every payment booked exactly once",
            "the SUT booked 9 payment(s)"],
    },
    Kill {
        bug: "ack-plain-text",
        tag: "@notify-ack",
        needles: &["invariant violated: every notification acknowledged",
            "never acknowledged in wxpay's format; the last answer was HTTP 200 `success`"],
    },
    Kill {
        bug: "utc-day",
        tag: "@business-day",
        needles: &["invariant violated: paid per business day",
            "has received 150.00 CNY but the payments up to 2026-03-02 owe 100.00 CNY"],
    },
    Kill {
        bug: "float-money",
        tag: "@amounts",
        needles: &["invariant violated: paid per business day",
            "has received 30.27 CNY but the payments up to 2026-03-02 owe 30.28 CNY",
            "underpaid by 0.01 CNY"],
    },
    Kill {
        bug: "settle-unpaid",
        tag: "@unpaid-orders",
        needles: &["invariant violated: never double-pays",
            "received 145.00 CNY but is owed 115.00 CNY"],
    },
    Kill {
        bug: "pay-early",
        tag: "@settlement-cycle",
        needles: &["invariant violated: paid per business day",
            "money of later days (40.00 CNY in payments after 2026-03-02) left before its cycle"],
    },
    Kill {
        bug: "blind-resubmit",
        tag: "@blind-resubmit",
        needles: &[DOUBLE_PAY, "overpaid by 250.00 CNY"],
    },
    Kill {
        bug: "query-error-as-missing",
        tag: "@query-error or @query-timeout",
        needles: &[DOUBLE_PAY, "overpaid by"],
    },
    Kill {
        bug: "no-run-lock",
        tag: "@concurrent-runs",
        needles: &[DOUBLE_PAY, "overpaid by 420.00 CNY"],
    },
    Kill {
        bug: "processing-as-failed",
        tag: "@processing-for-hours",
        needles: &[DOUBLE_PAY, "owed 480.00 CNY: overpaid by"],
    },
    Kill {
        bug: "failed-retried",
        tag: "@payout-failed",
        needles: &[REPAY, "was FAILED (INSUFFICIENT_FUNDS)"],
    },
    Kill {
        bug: "returned-repaid",
        tag: "@payout-returned",
        needles: &[REPAY, "was RETURNED (ACCOUNT_CLOSED)"],
    },
    Kill {
        bug: "restart-forgets",
        tag: "@restart-mid-payout",
        needles: &[DOUBLE_PAY, "overpaid by 333.33 CNY"],
    },
    Kill {
        bug: "pay-early",
        tag: "@settlement-cycle-partial",
        needles: &["invariant violated: never double-pays", "overpaid by 25.00 CNY"],
    },
    Kill {
        bug: "new-refund-no-on-retry",
        tag: "@refund-lost-reply or @refund-lost-reply-timeout",
        needles: &[
            "invariant violated: never refunds twice",
            "got back 80.00 CNY: refunded 40.00 CNY too much",
            "that no requested refund was answered with",
            "a second refund number for one refund",
        ],
    },
    Kill {
        bug: "refund-gives-up-on-systemerror",
        tag: "@refund-systemerror",
        needles: &[
            "invariant violated: every refund reaches the customer",
            "totalling 25.00 CNY were asked for, but the customer got back only 0.00 CNY",
        ],
    },
    Kill {
        bug: "processing-refund-as-failed",
        tag: "@refund-processing",
        needles: &[
            "invariant violated: never refunds twice",
            "got back 90.00 CNY: refunded 45.00 CNY too much",
        ],
    },
    Kill {
        bug: "refund-no-per-order",
        tag: "@refund-partial",
        needles: &[
            "invariant violated: every refund reaches the customer",
            "got back 30.00 CNY, not 60.00 CNY",
        ],
    },
    Kill {
        bug: "refund-needs-notified-payment",
        tag: "@refund-before-payment-notify",
        needles: &[
            "invariant violated: every refund reaches the customer",
            "the settlement system refused to refund 50.00 CNY of order RS",
            "which sandbank's ledger shows paid (100.00 CNY brought in, 0.00 CNY asked back before): the customer never gets the money back",
            "HTTP 409",
        ],
    },
    Kill {
        bug: "refund-ignores-policy",
        tag: "@refund-after-settlement or @refund-full",
        needles: &[
            "invariant violated: paid exactly what is owed",
            "received 130.00 CNY but is owed 160.00 CNY",
            "received 20.00 CNY but is owed 70.00 CNY",
        ],
    },
    Kill {
        bug: "refund-notify-not-acked",
        tag: "@refund-notify-duplicated",
        needles: &[
            "invariant violated: every notification acknowledged",
            "the refund notification for refund RF",
            "never acknowledged in wxpay's format",
            "<return_code><![CDATA[FAIL]]></return_code>",
        ],
    },
    Kill {
        bug: "alipay-ack-xml",
        tag: "@alipay-ack-xml",
        needles: &[
            "invariant violated: every notification acknowledged",
            "never acknowledged in alipay's format",
        ],
    },
    Kill {
        bug: "alipay-book-every-notification",
        tag: "@alipay-book-every-notification",
        needles: &[
            "invariant violated: never double-pays",
            "received 352.00 CNY but is owed 88.00 CNY: overpaid by 264.00 CNY",
        ],
    },
    Kill {
        bug: "notify-only",
        tag: "@alipay-notify-lost",
        needles: &[
            "invariant violated: paid per business day",
            "has received 0.00 CNY but the payments up to 2026-03-02 owe 135.50 CNY",
        ],
    },
    Kill {
        bug: "new-refund-no-on-retry",
        tag: "@alipay-refund-lost-reply",
        needles: &[
            "invariant violated: never refunds twice",
            "refunded 40.00 CNY too much",
            "a second refund number for one refund",
        ],
    },
    Kill {
        bug: "ack-first-copy-only",
        tag: "@notify-concurrent or @refund-notify-duplicated",
        needles: &[
            "invariant violated: every notification acknowledged",
            "2 of the 3 copies of the payment notification for order RS",
            "2 of the 3 copies of the refund notification for refund RF",
            "got HTTP 200 `<xml><return_code><![CDATA[FAIL]]></return_code>",
            "Every copy must be acknowledged",
        ],
    },
    Kill {
        bug: "alipay-refund-notify-not-acked",
        tag: "@alipay-refund-notify",
        needles: &[
            "invariant violated: every notification acknowledged",
            "the refund notification for refund RS",
            "never acknowledged in alipay's format; the last answer was HTTP 200 `fail`",
        ],
    },
    Kill {
        bug: "recon-ignores-duplicates",
        tag: "@alipay-reconcile",
        needles: &[
            "invariant violated: always reconciles",
            "real but not reported: duplicate_in_statement RS",
        ],
    },
    Kill {
        bug: "recon-forgets-refunds",
        tag: "@refund-full or @alipay-reconcile",
        needles: &[
            "invariant violated: reconciles the refunds",
            "`refunds.booked` is 0 totalling 0.00 but sandbank's ledger shows 1 refund(s) totalling 50.00 reached the customers that day",
            "`refunds.statement` is 0 totalling 0.00 but the bill sandbank served lists 1 refund row(s) totalling 30.00",
        ],
    },
    Kill {
        bug: "recon-no-bill-as-empty",
        tag: "@alipay-recon-late",
        needles: &[
            "invariant violated: always reconciles",
            "real but not reported: statement_late (no reference); reported but not real: missing_in_statement RS",
        ],
    },
    Kill {
        bug: "recon-skips-bad-lines",
        tag: "@alipay-recon-truncated or @alipay-recon-encoding",
        needles: &[
            "invariant violated: always reconciles",
            "real but not reported: statement_unreadable (no reference); reported but not real: missing_in_statement RS",
        ],
    },
    Kill {
        bug: "recon-ignores-summary",
        tag: "@alipay-recon-summary",
        needles: &["real but not reported: summary_mismatch (no reference)"],
    },
    Kill {
        bug: "recon-amount-tolerance",
        tag: "@alipay-recon-differences",
        needles: &["real but not reported: amount_mismatch RS"],
    },
    Kill {
        bug: "recon-ignores-fees",
        tag: "@alipay-recon-differences",
        needles: &["real but not reported: fee_mismatch RS"],
    },
    Kill {
        bug: "recon-statement-total-from-books",
        tag: "@alipay-recon-differences",
        needles: &[
            "invariant violated: reports the statement as served",
            "the report's `statement` is 3 row(s) totalling 330.00, but the bill sandbank served lists 3 row(s) totalling 312.35",
        ],
    },
    Kill {
        bug: "recon-fee-mismatch-shows-amounts",
        tag: "@alipay-recon-differences",
        needles: &[
            "invariant violated: reports each discrepancy's amounts",
            "but the truth is books \"1.20\" / statement \"1.21\"",
        ],
    },
    Kill {
        bug: "alipay-trusts-unsigned-notify",
        tag: "@alipay-trusts-unsigned-notify",
        needles: &[
            "invariant violated: forged notifications refused",
            "acknowledged a forged notification with a bad signature (it answered `success`)",
        ],
    },
];

/// The refund scenarios whose payouts depend on the refund policy, run again under
/// `netted`: the correct system passes, and the bug that ignores the policy fails them.
const NETTED_TAGS: &str = "@refund-after-settlement or @refund-full or @refund-partial";

fn config(bug: &str) -> RunConfig {
    config_with("examples/reference-sut/sut.toml", bug, None)
}

fn config_with(adapter_file: &str, bug: &str, tags: Option<&str>) -> RunConfig {
    config_vars(adapter_file, bug, tags, &[])
}

fn config_vars(
    adapter_file: &str,
    bug: &str,
    tags: Option<&str>,
    extra: &[(&str, &str)],
) -> RunConfig {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut vars = BTreeMap::new();
    // `sut_bin` is command text, spliced into the start command unquoted: quote the path.
    let sut_bin = adapter::shell_quote(&reference_sut().display().to_string());
    vars.insert("sut_bin".to_string(), sut_bin);
    vars.insert("bug".to_string(), bug.to_string());
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    let file = root.join(adapter_file);
    let adapter = adapter::load(&file, &vars).unwrap_or_else(|e| panic!("{e}"));
    RunConfig {
        adapter,
        seed: SEED,
        features: root.join("features"),
        tags: tags.map(str::to_string),
        name: None,
        junit: None,
        json: None,
        concurrency: 2,
        shard: None,
        report: None,
        reproduce: format!("sandbank conform --sut {adapter_file} --seed {SEED} --var bug={bug}"),
    }
}

const DOUBLE_PAY: &str = "invariant violated: never double-pays";
const REPAY: &str = "invariant violated: no automatic re-pay after a FAILED or RETURNED payout";

struct Checks {
    passed: usize,
    failed: usize,
}

impl Checks {
    fn check(&mut self, what: &str, ok: bool, detail: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
            println!("ok   — {what}");
        } else {
            self.failed += 1;
            println!("FAIL — {what}\n{}", detail());
        }
    }
}

fn summary(r: &ConformReport) -> String {
    r.scenarios
        .iter()
        .map(|s| {
            format!(
                "  {}: {}\n",
                s.scenario,
                s.failure.as_deref().unwrap_or("passed")
            )
        })
        .collect()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut c = Checks {
        passed: 0,
        failed: 0,
    };

    // Arrange/Act: the whole suite against the correct reference system.
    let good = rt.block_on(run(config("none"))).expect("the run starts");
    c.check(
        "the suite passes against the reference settlement system",
        good.passed() && good.scenarios.len() >= 15,
        || summary(&good),
    );

    // Act: each deliberate bug against the scenario(s) aimed at it (the kill matrix).
    for kill in KILLS {
        let bad = rt
            .block_on(run(config_with(
                "examples/reference-sut/sut.toml",
                kill.bug,
                Some(kill.tag),
            )))
            .expect("the run starts");
        c.check(
            &format!(
                "--bug {} fails every scenario tagged {}",
                kill.bug, kill.tag
            ),
            !bad.scenarios.is_empty() && bad.failed().len() == bad.scenarios.len(),
            || summary(&bad),
        );
        let msgs: String = bad
            .failed()
            .iter()
            .filter_map(|s| s.failure.clone())
            .collect::<Vec<_>>()
            .join("\n---\n");
        for needle in kill.needles {
            c.check(
                &format!("… and its failure message says `{needle}`"),
                msgs.contains(needle),
                || format!("  missing `{needle}` in:\n{msgs}"),
            );
        }
    }

    // Act: a failing run with `--report DIR`: a self-contained page per scenario naming the
    // invariant, the command that reproduces it, and the timeline of what happened.
    let dir = std::env::temp_dir().join(format!("sandbank-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = config_with(
        "examples/reference-sut/sut.toml",
        "new-order-no-on-retry",
        Some("@payout-timeout"),
    );
    cfg.report = Some(dir.clone());
    let bad = rt.block_on(run(cfg)).expect("the run starts");
    let pages: Vec<(String, String)> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.file_name().is_some_and(|n| n != "index.html"))
                .map(|p| {
                    let text = std::fs::read_to_string(&p).unwrap_or_default();
                    (p.display().to_string(), text)
                })
                .collect()
        })
        .unwrap_or_default();
    c.check(
        "--report writes a page for each scenario of a failing run",
        !bad.failed().is_empty() && pages.len() == bad.scenarios.len(),
        || {
            format!(
                "{} pages in {} for:\n{}",
                pages.len(),
                dir.display(),
                summary(&bad)
            )
        },
    );
    for (path, html) in &pages {
        for needle in [
            "<h1 data-verdict=\"FAILED\">",
            "<span class=\"invariant\">never double-pays</span>",
            "sandbank conform --sut examples/reference-sut/sut.toml --seed 42 --var bug=new-order-no-on-retry --name &#39;^",
            "\"op\":\"payout.submit\"",
            "\"class\":\"lost_reply\"",
            "const SandbankTimeline",
        ] {
            c.check(
                &format!("… the page says `{needle}`"),
                html.contains(needle),
                || format!("  missing in {path}"),
            );
        }
        c.check(
            "… and loads nothing from elsewhere",
            !html.contains("src=\"http")
                && !html.contains("href=\"http")
                && !html.contains("<link"),
            || format!("  {path}"),
        );
    }
    let index = std::fs::read_to_string(dir.join("index.html")).unwrap_or_default();
    c.check(
        "--report writes an index of the pages",
        index.contains(&format!(
            "{} failed of {}",
            bad.failed().len(),
            bad.scenarios.len()
        )),
        || index.clone(),
    );
    let _ = std::fs::remove_dir_all(&dir);

    // Act: the policy-dependent refund scenarios under `netted`, correct and broken.
    let netted = [("refund_policy", "netted")];
    let good = rt
        .block_on(run(config_vars(
            "examples/reference-sut/sut.toml",
            "none",
            Some(NETTED_TAGS),
            &netted,
        )))
        .expect("the run starts");
    c.check(
        "the refund scenarios pass under refund_policy = netted",
        good.passed() && good.scenarios.len() == 3,
        || summary(&good),
    );
    let bad = rt
        .block_on(run(config_vars(
            "examples/reference-sut/sut.toml",
            "refund-ignores-policy",
            Some("@refund-after-settlement or @refund-full"),
            &netted,
        )))
        .expect("the run starts");
    let msgs: String = bad
        .failed()
        .iter()
        .filter_map(|s| s.failure.clone())
        .collect::<Vec<_>>()
        .join("\n---\n");
    c.check(
        "--bug refund-ignores-policy fails them under netted, overpaying by the refunds",
        !bad.scenarios.is_empty()
            && bad.failed().len() == bad.scenarios.len()
            && msgs.contains("received 160.00 CNY but is owed 130.00 CNY")
            && msgs.contains("received 70.00 CNY but is owed 20.00 CNY"),
        || format!("{}\n{msgs}", summary(&bad)),
    );

    // Act: a system whose report hides the discrepancies it found (a shell-command hook).
    let bad = rt
        .block_on(run(config_with(
            "tests/adapters/hides-discrepancies.toml",
            "none",
            Some("@reconciliation and not @recon-no-trades"),
        )))
        .expect("the run starts");
    let msgs: Vec<String> = bad
        .failed()
        .iter()
        .filter_map(|s| s.failure.clone())
        .collect();
    c.check(
        "the suite fails a report that hides real discrepancies, in every reconciliation scenario that has some",
        bad.scenarios.len() >= 2 && msgs.len() == bad.scenarios.len(),
        || summary(&bad),
    );
    c.check(
        "… naming what was real but not reported",
        msgs.iter().all(|m| {
            m.contains("invariant violated: always reconciles")
                && m.contains("real but not reported: ")
        }) && msgs.iter().any(|m| m.contains("missing_in_statement"))
            && msgs
                .iter()
                .any(|m| m.contains("amount_mismatch") && m.contains("duplicate_in_statement")),
        || msgs.join("\n---\n"),
    );

    println!("\n{} passed, {} failed", c.passed, c.failed);
    if c.failed > 0 {
        std::process::exit(1);
    }
}
