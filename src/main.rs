//! The `sandbank` command: `serve`, `conform`, `scenario check`.

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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
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
