//! # sandbank
//!
//! A stand-in for the outside world of a payment settlement system — acquiring channels,
//! payout banks and the statement files they produce — faithful on the wire and misbehaving
//! on command, with a conformance harness that proves from its own ledger that a settlement
//! system never double-pays and always reconciles. See `README.md`; the protocol facts the
//! fakes rely on, with their public sources, are in `docs/protocols.md`.
//!
//! # Layout
//!
//! From the ground up; a module imports only from the layers below it (and its own).
//!
//! 1. **Primitives**
//!    - [`clock`] — virtual time, timers, durations, business days in Asia/Shanghai.
//!    - [`money`] — `rust_decimal` amounts with currency; the one rounding rule.
//!    - [`rng`] — the seeded generators: the world's, and a stream per order or payout.
//!    - [`http`] — owned request/reply types, body cap, spools, the small HTTP client and
//!      the keep-alive connection pool callbacks go out over.
//!    - [`protocol`] — wire pieces several kinds share (the sorted-fields signature; the
//!      client side a kind implements for `sandbank call`).
//! 2. **Records**
//!    - [`ledger`] — double-entry postings, and the account names: the truth about money.
//!    - [`journal`] — the bounded timeline of everything that happened.
//!    - [`faults`] — fault rules: matching and actions.
//!    - [`mismatches`] — injected statement mismatches, as data.
//! 3. **Services**
//!    - [`config`] — the error a scenario gets, and section validation helpers.
//!    - [`directory`] — who is mounted where: instances, families, accounts.
//!    - [`core`] — the services a kind is handed; events, notifications, callbacks.
//!    - [`kind`] — what the world asks of a kind: decode, apply, timers, notifications.
//!    - [`timeline`] — journal entries as a sequence diagram (one lane per party), and its
//!      Mermaid and JSON forms: what the inspector page and failure reports draw.
//! 4. **Statements** — [`statements`]: one model over the books, a writer per format,
//!    mismatch plans and the expected discrepancies; lines described by the kinds.
//! 5. **Kinds** — [`channels`] (WeChat Pay v2, the Alipay gateway, and `channels::shared`,
//!    what every channel kind does alike) and [`banks`] (a JSON payout API), one folder per
//!    kind; nothing outside these folders names a concrete kind.
//! 6. **Scenario** — [`scenario`]: TOML → validated [`scenario::WorldSpec`], each channel
//!    and bank section validated by its kind.
//! 7. **World** — [`world`]: the state behind one lock, the one inbound gate, the timer
//!    driver, notifications.
//! 8. **Edges** — [`control`] (the `/_sandbank/` API) and [`server`] (hyper; routes to
//!    control or to the world; [`Running`]).
//! 9. **Harness** — [`harness`]: the cucumber conformance harness; [`learner`]: `sandbank
//!    call`, a learner's client that signs, sends and shows a request with the kinds' own
//!    client code. Test support (`testing`) sits beside them, compiled for tests only.
//!
//! To see the layering hold, list each module's `use crate::…` lines
//! (`grep -rn "use crate::" src`) against this list: every arrow points down.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod banks;
pub mod channels;
pub mod clock;
pub mod config;
pub mod control;
pub mod core;
pub mod directory;
pub mod faults;
pub mod harness;
pub mod http;
pub mod journal;
pub mod kind;
pub mod learner;
pub mod ledger;
pub mod mismatches;
pub mod money;
pub mod protocol;
pub mod rng;
pub mod scenario;
pub mod server;
pub mod statements;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod timeline;
pub mod world;

pub use server::Running;
pub use world::Sandbank;

/// Start a world from `spec` and serve it on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    spec: scenario::WorldSpec,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(listener, spec, control::guard::Access::default(), shutdown).await
}

/// [`serve`], with the control API guarded by `access` (`--allow-host`, `--control-token`).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    spec: scenario::WorldSpec,
    access: control::guard::Access,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let running = Running::start_with(listener, spec, access)?;
    shutdown.await;
    running.stop().await
}
