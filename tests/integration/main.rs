//! The integration tests, in one binary (as ripgrep does): one link instead of one per file,
//! and the tests of every module run in parallel in one process.
//!
//! Run one module with a filter, e.g. `cargo test --test integration bank_wire::`.
//! The conformance suite (`tests/conformance.rs`, its own runner) and the constant-memory
//! statement test (`tests/statements_streaming.rs`, which measures its process's peak
//! memory) are binaries of their own; see `[[test]]` in `Cargo.toml`.

mod common;

mod alipay_wire;
mod bad_input;
mod bank_wire;
mod bounds;
mod control_api;
mod control_guard;
mod day_words;
mod determinism;
mod forged_notifications;
mod fuzz;
mod inspector;
mod journal_reads;

mod layering;
mod learner_call;
mod notify_concurrency;
mod notify_pool;
mod orders_held;
mod real_clock;
mod resources;
mod statements_alipay_lines;
mod statements_control;
mod statements_golden;
mod statements_http_streaming;
mod statements_mismatch;
mod statements_mt940;
mod walkthrough;
mod wxpay_close_micropay;
mod wxpay_refunds;
mod wxpay_wire;
