//! The reference settlement system: a small settlement system under test (SUT) for
//! sandbank's conformance suite, written to be read as a model of how to settle safely —
//! and, with `--bug NAME`, to fail in one classic way on purpose.
//!
//! ```text
//! cargo run --example reference-sut -- --listen 127.0.0.1:9090 --sandbank http://127.0.0.1:18080
//! ```
//!
//! See `README.md` beside this file for the endpoints, a walk-through with curl, and the bugs.
//!
//! # Layout
//!
//! In reading order:
//!
//! - `main.rs` — start: logging, the books (loaded from `--state-dir`), serve.
//! - `bug.rs` — the deliberate bugs ([`Bug`]).
//! - `config.rs` — flags → validated [`Config`]; the Alipay credentials.
//! - `app.rs` — the shared [`App`] and the one JSON error shape ([`ApiError`]).
//! - `server.rs` — the HTTP server (hyper 1) and the routing table.
//! - `routes.rs` — merchants, orders, settlement runs.
//! - `notify.rs` — the channels' payment notifications, booked once, acknowledged.
//! - `reconciliation.rs` — the reconciliation routes: download, read, compare, store.
//! - `store.rs` — the books: merchants, orders, booked payments, settlement orders,
//!   reconciliation reports. In memory behind one std `Mutex`, never held across `.await`.
//! - `wxpay.rs` — the WeChat Pay v2 client side: `unifiedorder`, `downloadbill`, and reading
//!   payment notifications.
//! - `alipay.rs` — the Alipay client side: `alipay.trade.precreate`, `alipay.trade.query`,
//!   and reading payment notifications, all RSA2-signed.
//! - `bank.rs` — the payout bank client: submit and query, each answered three-valued.
//! - `settlement.rs` — T+1 settlement and the payout state machine.
//! - `wechat_bill.rs` — reading the WeChat bill.
//! - `recon.rs` — the reconciliation report: books against a bill read by either channel.
//! - `alipay_bill.rs` — the Alipay bill: link query, ZIP download, the two GBK CSVs.

#![forbid(unsafe_code)]

mod alipay;
mod alipay_bill;
mod app;
mod bank;
mod bug;
mod catchup;
mod config;
mod notify;
mod recon;
mod reconciliation;
mod refunds;
mod routes;
mod server;
mod settlement;
mod store;
mod wechat_bill;
mod wxpay;

use anyhow::Context;
use clap::Parser;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use store::Store;
use tokio::net::TcpListener;

pub use app::{ApiError, App, StoreGuard};
pub use bug::Bug;
pub use config::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = config::Flags::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Plain text when the log goes to a file (the harness shows its last lines).
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let listener = TcpListener::bind(&flags.listen)
        .await
        .with_context(|| format!("cannot listen on {}", flags.listen))?;
    let bound = listener.local_addr()?;
    let keys = config::alipay_keys(&flags).await?;
    let config = Config::from_flags(flags, bound, keys)?;
    tracing::info!(listen = %bound, sandbank = %config.sandbank_url, channel = %config.channel, bank = %config.bank, bug = %config.bug.name(), "reference settlement system ready");
    let mut store = match &config.state_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create --state-dir {}", dir.display()))?;
            let mut store = Store::load(dir)?;
            if config.bug == Bug::RestartForgets {
                // BUG `restart-forgets`: the payouts whose outcome was unknown when the
                // process stopped (request sent, no answer recorded) are dropped, as if the
                // write-ahead record had never been kept. The next run creates them again
                // and submits them again.
                store
                    .settlements
                    .retain(|_, s| s.state != store::PayoutState::Unknown);
            }
            tracing::info!(dir = %dir.display(), merchants = store.merchants.len(), payments = store.payments.len(), settlements = store.settlements.len(), "books loaded");
            store
        }
        None => Store::default(),
    };
    store.bug = config.bug;
    store.refund_policy = config.refund_policy;
    let app = Arc::new(App {
        store: Mutex::new(store),
        config,
        payout_lane: tokio::sync::Mutex::new(()),
    });
    server::serve(listener, app).await;
    Ok(())
}
