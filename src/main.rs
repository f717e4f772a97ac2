//! The `sandbank` command: `serve`, `conform`, `steps`, `scenario check`, `call`.
//!
//! A user's mistake (a bad scenario file, an unknown instance, a server that does not
//! answer) is printed as its message alone — `error: …` on stderr, exit status 2 — never
//! with a backtrace, whatever `RUST_BACKTRACE` says.

use anyhow::Context;
use clap::{Parser, Subcommand};
use sandbank::scenario::{self, WorldSpec};
use std::path::PathBuf;

/// mimalloc rather than the system allocator: a request allocates a few dozen small blocks
/// and frees them at once, which glibc malloc served at about a quarter of the request's
/// CPU; and a journal that drops its oldest entries as it takes new ones left glibc's heap
/// fragmented far above the journal's size. (Measured with `cargo bench --bench wire`.)
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "sandbank",
    version,
    about = "Fake payment channels and payout banks that misbehave on command, and a conformance harness for settlement systems."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a world (the embedded default world unless --scenario is given).
    Serve {
        /// A scenario TOML file.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seed of the world's random generator (overrides the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Most bytes the journal holds, 65536 to 1073741824 (overrides the scenario's
        /// `journal_bytes`; 8 MiB by default). A larger journal keeps more history and costs
        /// a little speed under sustained load.
        #[arg(long, value_name = "BYTES")]
        journal_bytes: Option<i64>,
        /// A host name the control API accepts in `Host`/`Origin` besides loopback names
        /// and the listen address, for serving behind a name (repeatable).
        #[arg(long = "allow-host", value_name = "NAME")]
        allow_hosts: Vec<String>,
        /// Require `Authorization: Bearer TOKEN` (or `x-sandbank-token: TOKEN`) on every
        /// control API request.
        #[arg(long, value_name = "TOKEN")]
        control_token: Option<String>,
    },
    /// Run the conformance suite (features/) against a settlement system under test.
    Conform {
        /// The SUT adapter file (see docs/sut-adapter.md).
        #[arg(long)]
        sut: PathBuf,
        /// Only scenarios matching this tag expression, e.g. `@payout-timeout`.
        #[arg(long)]
        tags: Option<String>,
        /// Only scenarios whose name matches this regular expression.
        #[arg(long)]
        name: Option<String>,
        /// Seed of every scenario's world.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Write a JUnit XML report here.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Write a cucumber JSON report here (beside or instead of JUnit).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write an HTML page per scenario into this directory (its timeline, the
        /// invariant that failed, the command that reproduces it) and an index.html.
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
        /// The features directory.
        #[arg(long, default_value = "features")]
        features: PathBuf,
        /// How many scenarios run at once, each with its own sandbank and SUT (1–64).
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Run only shard I of N (`--shard 2/4`): scenarios are dealt out by a stable hash
        /// of their feature and name, so N machines together run each scenario once.
        #[arg(long)]
        shard: Option<String>,
        /// Override an adapter variable: --var bug=new-order-no-on-retry (repeatable).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
    },
    /// Print the conformance step library: every step, where it is defined, an example.
    Steps {
        /// The features directory the examples are taken from.
        #[arg(long, default_value = "features")]
        features: PathBuf,
    },
    /// Work with scenario files.
    Scenario {
        #[command(subcommand)]
        command: ScenarioCommand,
    },
    /// Call a channel or bank of a running sandbank: the client fills in ids, nonce, time
    /// and signature, sends the request, checks the reply's signature and shows both.
    #[command(
        after_help = "Examples:\n  sandbank call wxpay                      # list the operations, with examples\n  sandbank call wxpay pay/orderquery out_trade_no=ORDER1\n  sandbank call alipay alipay.trade.query out_trade_no=ALI1\n  sandbank call bank agentpay/apply mchOrderNo=P1 amount=10000 accountNo=6217000000000000001 accountName=Zhang\n\nExit status: 0 when a reply came and its signature (if the protocol signs it) is valid; 1 when the reply's signature is wrong; 2 for a mistake in the call or a server that does not answer."
    )]
    Call {
        /// The channel or bank id (`wxpay`, `alipay`, `bank` in the default world).
        instance: String,
        /// The operation: an API path (`pay/unifiedorder`, `agentpay/apply`) or an Alipay
        /// method (`alipay.trade.query`). Left out, the instance's operations are listed.
        operation: Option<String>,
        /// The request's fields: `key=value`, or `key:=json` for a JSON value.
        #[arg(value_name = "KEY=VALUE")]
        fields: Vec<String>,
        /// The running sandbank [default: $SANDBANK_URL, else http://127.0.0.1:8080].
        #[arg(long)]
        url: Option<String>,
        /// The control API's token, when `serve` was given `--control-token`.
        #[arg(long, value_name = "TOKEN")]
        control_token: Option<String>,
        /// Also show both bodies exactly as they went over the wire.
        #[arg(long)]
        raw: bool,
    },
}

#[derive(Subcommand)]
enum ScenarioCommand {
    /// Validate a scenario file and summarise the world it defines.
    Check {
        /// The file.
        file: PathBuf,
    },
}

fn load(scenario: Option<&PathBuf>) -> anyhow::Result<WorldSpec> {
    Ok(match scenario {
        Some(path) => scenario::load_file(path)?,
        None => WorldSpec::default_world(),
    })
}

fn describe(spec: &WorldSpec) -> String {
    spec.summary()
}

fn main() {
    let cli = Cli::parse();
    // anyhow would print a backtrace after the message when RUST_BACKTRACE is set; a user's
    // mistake deserves the message alone (`{:#}`: each cause after a colon).
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Call {
            instance,
            operation,
            fields,
            url,
            control_token,
            raw,
        } => {
            let args = sandbank::learner::CallArgs {
                url: url
                    .or_else(|| std::env::var("SANDBANK_URL").ok().filter(|u| !u.is_empty()))
                    .unwrap_or_else(|| sandbank::learner::DEFAULT_URL.to_string()),
                instance,
                operation,
                fields,
                token: control_token,
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let text = match rt.block_on(sandbank::learner::call(&args))? {
                sandbank::learner::Outcome::Operations { target, client } => {
                    sandbank::learner::render_operations(&target, client.as_ref())
                }
                sandbank::learner::Outcome::Called(r) => {
                    let text = sandbank::learner::render_result(&r, raw);
                    if !r.signature_ok() {
                        use std::io::Write as _;
                        let mut out = std::io::stdout();
                        let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
                        std::process::exit(1);
                    }
                    text
                }
            };
            // A reader that stops early (`| head`) is not an error.
            let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
            Ok(())
        }
        Command::Scenario {
            command: ScenarioCommand::Check { file },
        } => {
            let spec = scenario::load_file(&file)?;
            print!("{}", describe(&spec));
            println!("ok: {} is valid", file.display());
            Ok(())
        }
        Command::Steps { features } => {
            let defs =
                sandbank::harness::library::library(&features).map_err(anyhow::Error::msg)?;
            let text = format!(
                "{}{} steps; scenarios can combine them freely (docs/sut-adapter.md says what each checks)\n",
                sandbank::harness::library::render(&defs),
                defs.len()
            );
            // A reader that stops early (`| head`) is not an error.
            let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
            Ok(())
        }
        Command::Conform {
            sut,
            tags,
            name,
            seed,
            junit,
            json,
            report,
            features,
            concurrency,
            shard,
            vars,
        } => {
            let shard = shard
                .as_deref()
                .map(sandbank::harness::Shard::parse)
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let mut overrides = std::collections::BTreeMap::new();
            for v in &vars {
                let (k, val) = v
                    .split_once('=')
                    .with_context(|| format!("--var takes NAME=VALUE, got `{v}`"))?;
                overrides.insert(k.to_string(), val.to_string());
            }
            let adapter = sandbank::harness::adapter::load(&sut, &overrides)?;
            let mut reproduce = format!("sandbank conform --sut {} --seed {seed}", sut.display());
            for v in &vars {
                reproduce.push_str(&format!(" --var {v}"));
            }
            let cfg = sandbank::harness::RunConfig {
                adapter,
                seed,
                features,
                tags,
                name,
                junit,
                json,
                concurrency,
                shard,
                reproduce,
                report,
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let report = rt.block_on(sandbank::harness::run(cfg))?;
            if report.passed() {
                Ok(())
            } else {
                for f in report.failed() {
                    eprintln!("FAILED: {} — {}", f.feature, f.scenario);
                }
                std::process::exit(1);
            }
        }
        Command::Serve {
            scenario,
            listen,
            seed,
            journal_bytes,
            allow_hosts,
            control_token,
        } => {
            if let Some(bad) = allow_hosts
                .iter()
                .find(|h| h.is_empty() || h.contains(['/', ':', ' ', '@']))
            {
                anyhow::bail!("--allow-host: `{bad}` is not a host name (give the name alone, without scheme or port)");
            }
            if control_token
                .as_deref()
                .is_some_and(|t| t.trim().is_empty())
            {
                anyhow::bail!("--control-token: the token must not be empty");
            }
            let access = sandbank::control::guard::Access {
                allow_hosts,
                token: control_token,
            };
            let mut spec = load(scenario.as_ref())?;
            if let Some(seed) = seed {
                spec.seed = seed;
            }
            if journal_bytes.is_some() {
                spec.journal_bytes = scenario::check_journal_bytes(journal_bytes)
                    .map_err(|e| anyhow::anyhow!("--journal-bytes: {e}"))?;
            }
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
                let addr = listener.local_addr()?;
                if !addr.ip().is_loopback() {
                    eprintln!(
                        "warning: listening on {addr}, which is not a loopback address: anyone who can reach it can use the channels and banks, and the control API (guarded only by its Host/Origin checks{}); see README \"The control API\"",
                        if access.token.is_some() { " and the control token" } else { "; consider --control-token" }
                    );
                }
                // The banner goes to whoever started us; if they stopped reading (`| head -1`),
                // serving goes on: write errors are ignored rather than panicking like println!.
                let banner = format!(
                    "sandbank listening on http://{addr}\n{}  control API  http://{addr}/_sandbank/   (e.g. curl http://{addr}/_sandbank/health)\n  credentials  GET http://{addr}/_sandbank/channels/<id>   (app ids, keys as PEM: e.g. curl http://{addr}/_sandbank/channels/{})\n  point an SDK at http://{addr}/<id>/  (wechatpy: pay.API_BASE_URL = 'http://{addr}/wxpay/'; Alipay SDKs: gateway http://{addr}/<id>/gateway.do)\n",
                    describe(&spec),
                    spec.channels.first().map(|c| c.id()).unwrap_or("<id>")
                );
                use std::io::Write as _;
                let mut out = std::io::stdout();
                if out.write_all(banner.as_bytes()).is_ok() {
                    let _ = out.flush();
                }
                sandbank::serve_with(listener, spec, access, async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
                anyhow::Ok(())
            })
        }
    }
}
