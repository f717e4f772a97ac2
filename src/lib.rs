//! # sandbank
//!
//! A stand-in for the outside world of a payment settlement system — acquiring channels,
//! payout banks and the statement files they produce — faithful on the wire and misbehaving
//! on command, with a conformance harness that proves from its own ledger that a settlement
//! system never double-pays and always reconciles. See `README.md` and `../shared/DESIGN.md`.
//!
//! # Layout
//!
//! The world, in the order a request meets it:
//!
//! - [`server`] — hyper server; turns requests into owned [`http::InboundRequest`]s, routes
//!   `/_sandbank/` to [`control`] and `/{id}/` to a channel or bank, delivers replies
//!   (now, late, never).
//! - [`http`] — owned request/reply types, body cap, and the small HTTP client used for
//!   callbacks, the harness and the reference settlement system.
//! - [`control`] — the control API: clock, customers, journal, ledger, faults, reset.
//! - [`world`] — [`world::Sandbank`]: the whole mutable world behind one lock, the one
//!   inbound fault gate, and the driver that fires timers (callbacks and their retries).
//! - [`channels`] — acquiring channels, one folder per kind: [`channels::wxpay`] (WeChat
//!   Pay v2: XML, signatures, notifications).
//! - [`banks`] — payout banks: [`banks::payout_json`] (a JSON 代付 API).
//! - [`statements`] — one statement model (business-day window, ledger entries, balances),
//!   streaming writers per format ([`statements::wechat`], [`statements::alipay`],
//!   [`statements::camt053`], [`statements::mt940`]), injected mismatches and the expected
//!   discrepancies they record ([`statements::mismatch`]).
//! - [`faults`] — fault rules: matching and actions.
//! - [`ledger`] — double-entry postings: the truth about money.
//! - [`journal`] — the bounded timeline of everything that happened.
//! - [`clock`] — virtual time, timers, durations, business days in Asia/Shanghai.
//! - [`money`] — `rust_decimal` amounts with currency; the one rounding rule.
//! - [`rng`] — the one seeded random generator.
//! - [`scenario`] — scenario TOML: raw → validated [`scenario::WorldSpec`]; the default world.
//! - [`harness`] — the cucumber conformance harness: SUT adapter, steps, invariant checks.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod banks;
pub mod channels;
pub mod clock;
pub mod control;
pub mod faults;
pub mod harness;
pub mod http;
pub mod journal;
pub mod ledger;
pub mod money;
pub mod rng;
pub mod scenario;
pub mod server;
pub mod statements;
pub mod world;

pub use world::Sandbank;

/// Start a world from `spec` and serve it on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    spec: scenario::WorldSpec,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let sb = Sandbank::start(spec);
    server::run(listener, sb, shutdown).await
}
