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
//! - `main.rs` — flags → validated [`Config`], the shared [`App`], the HTTP server and its
//!   routes. Errors become one JSON shape ([`ApiError`]).
//! - `store.rs` — the books: merchants, orders, booked payments, settlement orders,
//!   reconciliation reports. In memory behind one std `Mutex`, never held across `.await`.
//! - `wxpay.rs` — the WeChat Pay v2 client side: `unifiedorder`, `downloadbill`, and reading
//!   payment notifications.
//! - `alipay.rs` — the Alipay client side: `alipay.trade.precreate`, `alipay.trade.query`,
//!   and reading payment notifications, all RSA2-signed.
//! - `bank.rs` — the payout bank client: submit and query, each answered three-valued.
//! - `settlement.rs` — T+1 settlement and the payout state machine.
//! - `recon.rs` — reading the WeChat bill and building the reconciliation report.
//! - `alipay_bill.rs` — the Alipay bill: link query, ZIP download, the two GBK CSVs.

#![forbid(unsafe_code)]

mod alipay;
mod alipay_bill;
mod bank;
mod catchup;
mod recon;
mod refunds;
mod settlement;
mod store;
mod wxpay;

use anyhow::Context;
use bytes::Bytes;
use chrono::NaiveDate;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use store::{Booking, ChannelKind, Merchant, Order, OrderState, Store};
use tokio::net::TcpListener;

/// Largest request body we read. Our requests and the channel's notifications are a few KB.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Attempts at creating one order at the channel. WeChat re-entry with identical
/// parameters is idempotent (the same prepay_id comes back), so one retry after an unknown
/// outcome is safe; more would only make the caller wait.
const ORDER_CREATE_ATTEMPTS: u32 = 2;

/// The deliberate bugs (`--bug`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Bug {
    /// The correct system.
    #[default]
    None,
    /// After a payout timeout, re-submit at once under a new order number instead of
    /// querying: pays twice when the bank executed the first request and the reply was lost.
    NewOrderNoOnRetry,
    /// Book every payment notification, repeats included: a repeated notification is
    /// booked (and settled) twice.
    BookEveryNotification,
    /// Read a trade the bill lists twice as one: the duplicate goes unreported.
    ReconIgnoresDuplicates,
    /// Never compare the channel's fee with the contract rate.
    ReconIgnoresFees,
    /// Treat amounts within 0.01 of each other as equal.
    ReconAmountTolerance,
    /// Report the statement's totals from the books instead of the bill's rows.
    ReconStatementTotalFromBooks,
    /// Read every refusal of `downloadbill`, `Bill Creating` included, as `No Bill Exist`:
    /// a late bill becomes an empty one, and every booked payment "missing".
    ReconNoBillAsEmpty,
    /// Never check the bill's summary row against its lines.
    ReconIgnoresSummary,
    /// Read what it can of a broken bill, skipping what it cannot: a cut-off bill is
    /// reconciled from its first half.
    ReconSkipsBadLines,
    /// Give a fee mismatch the payment's amounts instead of the fees.
    ReconFeeMismatchShowsAmounts,
    /// Book payments only from notifications, never query the channel: a notification lost
    /// for good means a payment never booked and a merchant never paid.
    NotifyOnly,
    /// Skip the notification's signature check: a forged "paid" notification is booked.
    AcceptForged,
    /// Book the amount the notification states without comparing it with the order's: a
    /// correctly signed notification for another amount is booked as it says.
    TrustNotifyAmount,
    /// Check "already booked?" and insert the booking in two steps with an `.await` between:
    /// copies of a notification arriving together are all booked.
    BookWithoutLock,
    /// Acknowledge a notification with the plain text `success` instead of the channel's XML
    /// acknowledgement: the channel never hears it was received and retries for 24 hours.
    AckPlainText,
    /// Cut the business day in UTC instead of Beijing time: a payment at 07:00 Beijing is
    /// booked (and settled, and reconciled) under the day before.
    UtcDay,
    /// Sum a day's amounts in binary floating point and truncate to fen: 19.99 + 9.99 +
    /// 0.10 + 0.20 is paid as 30.27, a fen short.
    FloatMoney,
    /// Settle orders that were created but never paid, as if creating an order were being
    /// paid.
    SettleUnpaid,
    /// A settlement run for day D also pays the payments of later days already booked:
    /// money leaves before its cycle (T+1), and each later day's run pays it again.
    PayEarly,
    /// After a payout's reply is lost, re-submit at once under the SAME number instead of
    /// querying: harmless at a bank that replays a repeated number, a second payment at a
    /// bank that pays it again.
    BlindResubmit,
    /// Take a failed payout query (a system error, a timeout) for "no such order" and pay
    /// again under a new number: pays twice when the first payout went through.
    QueryErrorAsMissing,
    /// No run lock: two settlement runs at once both drive the same settlement order, and
    /// both submit it after both queries found nothing.
    NoRunLock,
    /// Take a payout still PROCESSING when a later run queries it for a failed one, and pay
    /// again under a new number: pays twice when the bank is merely slow.
    ProcessingAsFailed,
    /// Pay a FAILED payout again at once under a new number, without a human.
    FailedRetried,
    /// Pay a RETURNED (退票) payout again at once under a new number, without a human.
    ReturnedRepaid,
    /// Forget, on restart, the payouts that were in flight (their write-ahead record is not
    /// kept): the next run creates and submits them again.
    RestartForgets,
    /// After a refund's reply is lost, give it up and queue it again under a new refund
    /// number: the customer is refunded twice when the first request went through.
    NewRefundNoOnRetry,
    /// Take an unknown refund outcome (`SYSTEMERROR`, a timeout) as final and never send it
    /// again: the customer never gets the money back.
    RefundGivesUpOnSystemerror,
    /// Take a refund still PROCESSING for a failed one and send it again under a new number.
    ProcessingRefundAsFailed,
    /// One refund number per order: a second partial refund of the same amount is answered
    /// with the first, and the customer gets back only one of them.
    RefundNoPerOrder,
    /// Refuse to refund an order until its payment notification arrived, instead of asking
    /// the channel: a refund racing a late payment notification is refused.
    RefundNeedsNotifiedPayment,
    /// Apply the other refund policy than the one configured: net refunds against
    /// settlement under `pre_deposit`, or not under `netted`.
    RefundIgnoresPolicy,
    /// Book every Alipay payment notification, repeats included: a repeated Alipay
    /// notification is booked (and settled) twice.
    AlipayBookEveryNotification,
    /// Skip the RSA2 check of Alipay notifications: a forged "paid" notification is booked.
    AlipayTrustsUnsignedNotify,
    /// Acknowledge Alipay notifications with WeChat's XML acknowledgement instead of the
    /// plain `success` Alipay wants: Alipay keeps re-sending for a day.
    AlipayAckXml,
    /// Answer every WeChat refund notification with FAIL, after booking what it says: the
    /// channel never hears it was received and keeps re-sending it.
    RefundNotifyNotAcked,
    /// Acknowledge only the first copy of a notification and answer FAIL ("already
    /// booked") to every repeat, payment and refund notifications alike: the channel counts
    /// each refused copy as a failed delivery and keeps re-sending.
    AckFirstCopyOnly,
    /// Answer `fail` to every Alipay notification that books no payment (refund
    /// notifications among them), as if "nothing to book" were an error: Alipay re-sends
    /// each refund notification for a day.
    AlipayRefundNotifyNotAcked,
    /// Reconcile payments only: the report's refunds say none were booked and the bill
    /// listed none, whatever the bill's refund rows and the books say.
    ReconForgetsRefunds,
}

impl Bug {
    /// The flag value, e.g. `new-order-no-on-retry`.
    pub fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

/// Command-line flags; defaults are the credentials of sandbank's default world.
#[derive(Debug, Parser)]
#[command(
    name = "reference-sut",
    about = "sandbank's reference settlement system (a SUT for the conformance suite)"
)]
struct Flags {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: String,
    /// Base URL of sandbank (channels at {sandbank}/{channel}/, banks at {sandbank}/{bank}/).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    sandbank: String,
    /// Channel id (a WeChat Pay v2 channel).
    #[arg(long, default_value = "wxpay")]
    channel: String,
    /// WeChat appid.
    #[arg(long, default_value = "wx2421b1c4370ec43b")]
    appid: String,
    /// WeChat merchant id.
    #[arg(long, default_value = "10000100")]
    mch_id: String,
    /// WeChat API key (MD5 signatures).
    #[arg(long, default_value = "192006250b4c09247ec02edce69f6a2d")]
    key: String,
    /// Alipay channel id (an `alipay-gateway` channel). Its credentials are asked of
    /// sandbank at start (`GET {sandbank}/_sandbank/channels/{id}`) unless both key files
    /// below are given.
    #[arg(long, default_value = "alipay")]
    alipay_channel: String,
    /// Our Alipay `app_id` (default: the one sandbank names, or `2021000000000001` with
    /// key files).
    #[arg(long)]
    alipay_app_id: Option<String>,
    /// Our app private key, a PEM file (with --alipay-public-key: not asked of sandbank).
    #[arg(long)]
    alipay_app_private_key: Option<std::path::PathBuf>,
    /// The Alipay public key, a PEM file (with --alipay-app-private-key).
    #[arg(long)]
    alipay_public_key: Option<std::path::PathBuf>,
    /// Payout bank id.
    #[arg(long, default_value = "bank")]
    bank: String,
    /// Our client id at the bank.
    #[arg(long, default_value = "20000100")]
    bank_mch_id: String,
    /// Our signing key at the bank.
    #[arg(long, default_value = "8934e7d15453e97507ef794cf7b0519d")]
    bank_key: String,
    /// Timeout of each call to the channel or the bank, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    http_timeout_ms: u64,
    /// Timeout of a bill download, in milliseconds (bills can be large).
    #[arg(long, default_value_t = 10_000)]
    bill_timeout_ms: u64,
    /// Our fee rate at the channel (the default world's), used to check each payment's fee
    /// in reconciliation; `none` to leave fees unchecked.
    #[arg(long, default_value = "0.006")]
    fee_rate: String,
    /// Keep the books in `{dir}/books.json` (written on every change) so that they survive
    /// a restart; without it they are in memory only.
    #[arg(long)]
    state_dir: Option<std::path::PathBuf>,
    /// How refunds are paid for: from the merchant's pre-deposit, or netted against the
    /// settlement of the day they succeeded.
    #[arg(long, value_enum, default_value_t = refunds::Policy::PreDeposit)]
    refund_policy: refunds::Policy,
    /// Switch on one deliberate bug.
    #[arg(long, value_enum, default_value_t = Bug::None)]
    bug: Bug,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL of sandbank, without a trailing slash.
    pub sandbank_url: String,
    /// Channel id.
    pub channel: String,
    /// WeChat appid.
    pub appid: String,
    /// Alipay channel id.
    pub alipay_channel: String,
    /// Our Alipay app id and keys; `None` when the world has no Alipay channel.
    pub alipay: Option<alipay::Keys>,
    /// Where Alipay sends payment notifications: `http://{listen}/notify/{alipay_channel}`.
    pub alipay_notify_url: String,
    /// WeChat merchant id.
    pub mch_id: String,
    /// WeChat API key.
    pub key: String,
    /// Bank id.
    pub bank: String,
    /// Our client id at the bank.
    pub bank_mch_id: String,
    /// Our key at the bank.
    pub bank_key: String,
    /// Timeout of each channel or bank call.
    pub http_timeout: Duration,
    /// Timeout of a bill download.
    pub bill_timeout: Duration,
    /// Where the channel sends payment notifications: `http://{listen}/notify/{channel}`.
    pub notify_url: String,
    /// Our contract fee rate at the channel, if fees are checked.
    pub fee_rate: Option<Decimal>,
    /// The deliberate bug, if any.
    pub bug: Bug,
    /// How refunds are paid for.
    pub refund_policy: refunds::Policy,
    /// Makes our order numbers unique across restarts of this process (start time, ms).
    pub run_tag: u64,
    /// Where the books are kept, if they are persisted.
    pub state_dir: Option<std::path::PathBuf>,
}

impl Config {
    fn from_flags(
        f: Flags,
        bound: SocketAddr,
        alipay: Option<alipay::Keys>,
    ) -> anyhow::Result<Config> {
        let sandbank_url = f.sandbank.trim_end_matches('/').to_string();
        anyhow::ensure!(
            sandbank_url.starts_with("http://"),
            "--sandbank must be an http:// URL, not `{}`",
            f.sandbank
        );
        for (flag, id) in [
            ("--channel", &f.channel),
            ("--alipay-channel", &f.alipay_channel),
            ("--bank", &f.bank),
        ] {
            anyhow::ensure!(
                !id.is_empty()
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)),
                "{flag} must be an id like `wxpay`, not `{id}`"
            );
        }
        anyhow::ensure!(
            f.http_timeout_ms > 0 && f.bill_timeout_ms > 0,
            "timeouts must be positive"
        );
        let fee_rate = match f.fee_rate.as_str() {
            "none" => None,
            text => {
                let rate = Decimal::from_str(text).map_err(|_| {
                    anyhow::anyhow!(
                        "--fee-rate must be a decimal like 0.006 or `none`, not `{text}`"
                    )
                })?;
                anyhow::ensure!(
                    rate >= Decimal::ZERO && rate < Decimal::ONE,
                    "--fee-rate must be in [0, 1), not {rate}"
                );
                Some(rate)
            }
        };
        let run_tag = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        anyhow::ensure!(
            f.alipay_channel != f.channel,
            "--alipay-channel and --channel must differ"
        );
        Ok(Config {
            notify_url: format!("http://{bound}/notify/{}", f.channel),
            alipay_notify_url: format!("http://{bound}/notify/{}", f.alipay_channel),
            alipay,
            alipay_channel: f.alipay_channel,
            sandbank_url,
            channel: f.channel,
            appid: f.appid,
            mch_id: f.mch_id,
            key: f.key,
            bank: f.bank,
            bank_mch_id: f.bank_mch_id,
            bank_key: f.bank_key,
            http_timeout: Duration::from_millis(f.http_timeout_ms),
            bill_timeout: Duration::from_millis(f.bill_timeout_ms),
            fee_rate,
            bug: f.bug,
            refund_policy: f.refund_policy,
            run_tag,
            state_dir: f.state_dir,
        })
    }

    #[cfg(test)]
    pub fn for_tests() -> Config {
        let flags = Flags::parse_from(["reference-sut"]);
        let keys = Some(alipay::Keys::shipped());
        Config::from_flags(flags, "127.0.0.1:9090".parse().unwrap(), keys).unwrap()
    }
}

/// What every request handler shares.
pub struct App {
    /// Configuration.
    pub config: Config,
    /// The books. A std mutex: every critical section is short and synchronous.
    store: Mutex<Store>,
    /// Held for a whole settlement run, across `.await`s (hence tokio's mutex): payouts are
    /// serial, and no two runs ever drive the same settlement order at once.
    pub payout_lane: tokio::sync::Mutex<()>,
}

impl App {
    /// The books. A panic while holding the lock cannot leave them half-updated in a way
    /// that matters more than stopping would, so a poisoned lock is simply taken over.
    /// With `--state-dir`, books changed through the guard are written out when it is
    /// dropped, before anyone else can see them (and so before any request they lead to).
    pub fn lock(&self) -> StoreGuard<'_> {
        StoreGuard {
            guard: self.store.lock().unwrap_or_else(|p| p.into_inner()),
            dir: self.config.state_dir.as_deref(),
            dirty: false,
        }
    }
}

/// The books, locked; written to the state directory on drop if they were changed.
pub struct StoreGuard<'a> {
    guard: MutexGuard<'a, Store>,
    dir: Option<&'a std::path::Path>,
    dirty: bool,
}

impl std::ops::Deref for StoreGuard<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.guard
    }
}

impl std::ops::DerefMut for StoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        self.dirty = true;
        &mut self.guard
    }
}

impl Drop for StoreGuard<'_> {
    fn drop(&mut self) {
        if let (true, Some(dir)) = (self.dirty, self.dir) {
            if let Err(e) = self.guard.save(dir) {
                // Carrying on with books that a restart would lose is how payouts are
                // paid twice: stop instead.
                tracing::error!("cannot write the books to {}: {e}; stopping", dir.display());
                std::process::exit(70);
            }
        }
    }
}

/// An error answered to our own callers as `{"error": "…"}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }
    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    fn into_response(self) -> Response<Full<Bytes>> {
        json_response(self.status, &json!({ "error": self.message }))
    }
}

impl From<wxpay::CallError> for ApiError {
    fn from(e: wxpay::CallError) -> ApiError {
        let status = match e {
            wxpay::CallError::Unknown(_) => StatusCode::GATEWAY_TIMEOUT,
            wxpay::CallError::Refused { .. } => StatusCode::BAD_GATEWAY,
        };
        ApiError::new(status, format!("channel: {e}"))
    }
}

fn json_response(status: StatusCode, v: &Value) -> Response<Full<Bytes>> {
    response(
        status,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}

fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
}

fn parse_date(text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_request(format!("`{text}` is not a date (YYYY-MM-DD)")))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
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
    let keys = alipay_keys(&flags).await?;
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
    serve(listener, app).await;
    Ok(())
}

/// Our Alipay credentials: from the two key files when given, else asked of sandbank.
async fn alipay_keys(f: &Flags) -> anyhow::Result<Option<alipay::Keys>> {
    match (&f.alipay_app_private_key, &f.alipay_public_key) {
        (Some(private), Some(public)) => {
            let read = |p: &std::path::Path| {
                std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
            };
            let app_id = f.alipay_app_id.as_deref().unwrap_or(alipay::DEFAULT_APP_ID);
            alipay::Keys::from_pem(app_id, &read(private)?, &read(public)?).map(Some)
        }
        (None, None) => {
            let url = f.sandbank.trim_end_matches('/');
            let keys =
                alipay::Keys::fetch(url, &f.alipay_channel, f.alipay_app_id.as_deref()).await?;
            match &keys {
                Some(k) => tracing::info!(app_id = %k.app_id, "Alipay credentials from sandbank"),
                None => {
                    tracing::warn!(channel = %f.alipay_channel, "sandbank has no such Alipay channel: Alipay orders will be refused")
                }
            }
            Ok(keys)
        }
        _ => anyhow::bail!("--alipay-app-private-key and --alipay-public-key go together"),
    }
}

/// Serve until Ctrl-C or SIGTERM.
async fn serve(listener: TcpListener, app: Arc<App>) {
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // E.g. out of file descriptors: wait a little rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => {
                tracing::info!("shutting down");
                return;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(handle(&app, req).await) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection: {e}");
            }
        });
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn handle(app: &App, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("cannot read the body (at most {MAX_BODY_BYTES} bytes): {e}"),
            )
            .into_response()
        }
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let result = match (&method, segments.as_slice()) {
        (&Method::GET, ["health"]) => Ok(json!({ "status": "ok", "bug": app.config.bug.name() })),
        (&Method::POST, ["merchants"]) => onboard_merchant(app, &body),
        (&Method::POST, ["orders"]) => create_order(app, &body).await,
        (&Method::POST, ["refunds"]) => refunds::create(app, &body).await,
        (&Method::POST, ["notify", channel, "refund"]) if *channel == app.config.channel => {
            return response(
                StatusCode::OK,
                "text/xml; charset=utf-8",
                refunds::notify(app, &body),
            );
        }
        (&Method::POST, ["notify", channel]) if *channel == app.config.channel => {
            return notify(app, &body).await
        }
        (&Method::POST, ["notify", channel]) if *channel == app.config.alipay_channel => {
            return alipay_notify(app, &body)
        }
        (&Method::POST, ["settlements", "run"]) => run_settlement(app, &body).await,
        (&Method::POST, ["reconciliations", "run"]) => run_reconciliation(app, &body).await,
        (&Method::GET, ["reconciliations", date]) => reconciliation_report(app, date, &query),
        _ => Err(ApiError::not_found(format!("no route {method} {path}"))),
    };
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => {
            tracing::warn!("{method} {path}: {} {}", e.status, e.message);
            e.into_response()
        }
    }
}

#[derive(Deserialize)]
struct OnboardBody {
    merchant_id: String,
    account_no: String,
    account_name: String,
    #[serde(default)]
    cycle: Option<String>,
    #[serde(default)]
    bank_id: Option<String>,
}

/// `POST /merchants`: register a merchant (idempotent for identical details).
fn onboard_merchant(app: &App, body: &[u8]) -> Result<Value, ApiError> {
    let b: OnboardBody = parse_json(body)?;
    for (name, value) in [
        ("merchant_id", &b.merchant_id),
        ("account_no", &b.account_no),
        ("account_name", &b.account_name),
    ] {
        if value.trim().is_empty() {
            return Err(ApiError::bad_request(format!("`{name}` must not be empty")));
        }
    }
    let cycle = b
        .cycle
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "T+1".into());
    if cycle != "T+1" {
        return Err(ApiError::bad_request(format!(
            "cycle `{cycle}` is not supported; this system settles T+1"
        )));
    }
    if let Some(bank) = b.bank_id.filter(|b| !b.is_empty() && *b != app.config.bank) {
        return Err(ApiError::bad_request(format!(
            "this system pays out through bank `{}` only, not `{bank}`",
            app.config.bank
        )));
    }
    let merchant = Merchant {
        merchant_id: b.merchant_id.clone(),
        account_no: b.account_no,
        account_name: b.account_name,
        cycle,
    };
    let mut st = app.lock();
    match st.merchants.get(&merchant.merchant_id) {
        Some(existing) if *existing == merchant => {}
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "merchant {} is already onboarded with other details",
                    merchant.merchant_id
                ),
            ));
        }
        None => {
            tracing::info!(merchant_id = %merchant.merchant_id, account_no = %merchant.account_no, "merchant onboarded");
            st.merchants
                .insert(merchant.merchant_id.clone(), merchant.clone());
        }
    }
    Ok(json!({ "merchant": merchant }))
}

#[derive(Deserialize)]
struct OrderBody {
    merchant_id: String,
    /// Fen, as a JSON integer or a string of digits; anything else is refused below.
    amount_minor: Value,
    #[serde(default)]
    channel: Option<String>,
}

/// `POST /orders`: create an order at the channel; answer its number once the channel
/// accepted it.
async fn create_order(app: &App, body: &[u8]) -> Result<Value, ApiError> {
    let b: OrderBody = parse_json(body)?;
    let amount_minor = match &b.amount_minor {
        Value::Number(n) => n.as_i64(),
        Value::String(t) => t.parse::<i64>().ok(),
        _ => None,
    }
    .filter(|a| *a > 0)
    .ok_or_else(|| {
        ApiError::bad_request("`amount_minor` must be a positive whole number of fen")
    })?;
    let kind = match b.channel.as_deref() {
        None => ChannelKind::Wxpay,
        Some(c) if c == app.config.channel => ChannelKind::Wxpay,
        Some(c) if c == app.config.alipay_channel => ChannelKind::Alipay,
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "this system takes payments through channels `{}` and `{}` only, not `{c}`",
                app.config.channel, app.config.alipay_channel
            )))
        }
    };
    // Record the order before the channel hears of it, so that whatever happens next (even
    // a notification racing our reply) finds it.
    let out_trade_no = {
        let mut st = app.lock();
        if !st.merchants.contains_key(&b.merchant_id) {
            return Err(ApiError::not_found(format!(
                "merchant {} is not onboarded",
                b.merchant_id
            )));
        }
        // A real system takes this from a database sequence; the run tag keeps numbers
        // unique across restarts against the same sandbank. `RS` + 13 + 6 = 21 characters.
        let no = format!("RS{}{:06}", app.config.run_tag, st.next_order_seq());
        st.orders.insert(
            no.clone(),
            Order {
                kind,
                out_trade_no: no.clone(),
                merchant_id: b.merchant_id.clone(),
                amount_minor,
                state: OrderState::Creating,
            },
        );
        no
    };
    let request = wxpay::NewOrder {
        out_trade_no: &out_trade_no,
        amount_minor,
    };
    let mut last = None;
    for attempt in 1..=ORDER_CREATE_ATTEMPTS {
        let created = match kind {
            ChannelKind::Wxpay => wxpay::unified_order(&app.config, &request).await,
            ChannelKind::Alipay => {
                alipay::precreate(&app.config, &out_trade_no, amount_minor).await
            }
        };
        match created {
            Ok(()) => {
                last = None;
                break;
            }
            Err(e @ wxpay::CallError::Unknown(_)) => {
                tracing::warn!(out_trade_no = %out_trade_no, attempt, "unifiedorder: {e}");
                last = Some(e);
            }
            Err(e @ wxpay::CallError::Refused { .. }) => {
                last = Some(e);
                break;
            }
        }
    }
    let state = match &last {
        None => OrderState::Open,
        Some(wxpay::CallError::Refused { .. }) => OrderState::Rejected,
        Some(wxpay::CallError::Unknown(_)) => OrderState::Unconfirmed,
    };
    {
        let mut st = app.lock();
        if let Some(o) = st
            .orders
            .get_mut(&out_trade_no)
            .filter(|o| o.state == OrderState::Creating)
        {
            o.state = state;
        }
    }
    if let Some(e) = last {
        return Err(e.into());
    }
    tracing::info!(out_trade_no = %out_trade_no, merchant_id = %b.merchant_id, amount_minor, "order created at the channel");
    Ok(json!({ "out_trade_no": out_trade_no }))
}

/// `POST /notify/{channel}`: a payment notification. Booked at most once; always answered
/// with the channel's own acknowledgement (SUCCESS, or FAIL with the reason).
async fn notify(app: &App, body: &[u8]) -> Response<Full<Bytes>> {
    let xml = |text: String| response(StatusCode::OK, "text/xml; charset=utf-8", text);
    let ack = || {
        if app.config.bug == Bug::AckPlainText {
            // BUG `ack-plain-text`: WeChat Pay v2 wants the XML document with
            // return_code SUCCESS; plain `success` is the acknowledgement of other channels.
            // The channel takes this for a failure and keeps re-sending.
            response(StatusCode::OK, "text/plain", "success")
        } else {
            xml(wxpay::ack_success())
        }
    };
    let notification = match wxpay::read_notification(&app.config, body) {
        Ok(n) => n,
        Err(why) => {
            tracing::warn!("notification refused: {why}");
            return xml(wxpay::ack_fail(&why));
        }
    };
    let paid = match notification {
        wxpay::Notification::Paid(p) => p,
        wxpay::Notification::NotPaid { out_trade_no } => {
            tracing::info!(out_trade_no = %out_trade_no, "notification of an unsuccessful payment: nothing to book");
            return ack();
        }
    };
    if app.config.bug == Bug::BookWithoutLock {
        // BUG `book-without-lock`: "booked already?" and "book it" are two steps with an
        // `.await` between them (in a real system, two statements outside one transaction
        // or unique constraint). Copies of one notification that arrive together all pass
        // the check, and all are booked.
        let already = app.lock().is_booked(&paid.out_trade_no);
        if !already {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let booking = app.lock().book(&paid);
    match booking {
        Booking::Booked => {
            tracing::info!(out_trade_no = %paid.out_trade_no, transaction_id = %paid.transaction_id, total_fee = paid.total_fee, business_date = %paid.time_end.date(), "payment booked");
            ack()
        }
        Booking::AlreadyBooked => {
            tracing::info!(out_trade_no = %paid.out_trade_no, "repeated notification: already booked");
            if app.config.bug == Bug::AckFirstCopyOnly {
                // BUG `ack-first-copy-only`: a repeat is refused, as if it were an error.
                return xml(wxpay::ack_fail("already booked"));
            }
            ack()
        }
        Booking::Refused(why) => {
            tracing::error!(out_trade_no = %paid.out_trade_no, "payment not booked: {why}");
            xml(wxpay::ack_fail(&why))
        }
    }
}

/// `POST /notify/{alipay_channel}`: an Alipay payment notification. Booked at most once;
/// answered exactly `success` when done with, `fail` otherwise (Alipay then retries).
fn alipay_notify(app: &App, body: &[u8]) -> Response<Full<Bytes>> {
    let answer = |t: &'static str| {
        if t == "success" && app.config.bug == Bug::AlipayAckXml {
            // BUG `alipay-ack-xml`: WeChat's acknowledgement, which Alipay reads as a failure.
            return response(StatusCode::OK, "text/xml", wxpay::ack_success());
        }
        response(StatusCode::OK, "text/plain", t)
    };
    let paid = match alipay::read_notification(&app.config, body) {
        Ok(Some(p)) => p,
        // BUG `alipay-refund-notify-not-acked`: a refund notification is not an error.
        Ok(None) if app.config.bug == Bug::AlipayRefundNotifyNotAcked => return answer("fail"),
        Ok(None) => return answer("success"),
        Err(why) => {
            tracing::warn!("Alipay notification refused: {why}");
            return answer("fail");
        }
    };
    let booking = app.lock().book(&paid);
    match booking {
        Booking::Booked => {
            tracing::info!(out_trade_no = %paid.out_trade_no, trade_no = %paid.transaction_id, business_date = %paid.time_end.date(), "Alipay payment booked");
            answer("success")
        }
        Booking::AlreadyBooked => answer("success"),
        Booking::Refused(why) => {
            tracing::error!(out_trade_no = %paid.out_trade_no, "Alipay payment not booked: {why}");
            answer("fail")
        }
    }
}

#[derive(Deserialize)]
struct DateBody {
    date: String,
    #[serde(default)]
    channel: Option<String>,
}

/// `POST /settlements/run`: settle a business day (T+1); again for the same day finishes
/// what is pending and never pays twice.
async fn run_settlement(app: &App, body: &[u8]) -> Result<Value, ApiError> {
    let b: DateBody = parse_json(body)?;
    let date = parse_date(&b.date)?;
    Ok(settlement::run(app, date).await)
}

fn check_channel(app: &App, channel: Option<&str>) -> Result<(String, ChannelKind), ApiError> {
    match channel.filter(|c| !c.is_empty()) {
        None => Ok((app.config.channel.clone(), ChannelKind::Wxpay)),
        Some(c) if c == app.config.channel => Ok((c.to_string(), ChannelKind::Wxpay)),
        Some(c) if c == app.config.alipay_channel => Ok((c.to_string(), ChannelKind::Alipay)),
        Some(c) => Err(ApiError::bad_request(format!(
            "this system reconciles channels `{}` and `{}` only, not `{c}`",
            app.config.channel, app.config.alipay_channel
        ))),
    }
}

/// `POST /reconciliations/run`: download the day's bill, compare it with the books, store
/// the report.
async fn run_reconciliation(app: &App, body: &[u8]) -> Result<Value, ApiError> {
    let b: DateBody = parse_json(body)?;
    let date = parse_date(&b.date)?;
    let (channel, kind) = check_channel(app, b.channel.as_deref())?;
    // Orders paid whose notification never reached us are in the bill: book them first.
    catchup::query_unheard(app).await;
    let bug = app.config.bug;
    // What the channel answered decides what can be reconciled (docs/sut-adapter.md):
    // `No Bill Exist` is a day without trades (a statement with no rows), `Bill Creating` a
    // bill not there yet (late), and a file we cannot read whole is unreadable.
    let answer = match kind {
        ChannelKind::Wxpay => wxpay::download_bill(&app.config, date).await?,
        ChannelKind::Alipay => alipay_bill::download(&app.config, date).await?,
    };
    let bill = match answer {
        wxpay::BillAnswer::NoTrades => Ok(recon::Bill::default()),
        wxpay::BillAnswer::NotReady => {
            tracing::warn!(%date, "the channel's bill is not generated yet (Bill Creating): reported late");
            Err(recon::Kind::StatementLate)
        }
        wxpay::BillAnswer::Bill(bytes) => {
            let parsed = if kind == ChannelKind::Alipay {
                alipay_bill::parse(&bytes)
            } else if bug == Bug::ReconSkipsBadLines {
                // BUG: whatever can be read is reconciled, the rest skipped.
                recon::parse_bill_text(&String::from_utf8_lossy(&bytes), true)
            } else {
                recon::parse_bill(&bytes)
            };
            parsed.map_err(|e| {
                tracing::warn!(%date, "the channel's bill cannot be read: {e}");
                recon::Kind::StatementUnreadable
            })
        }
    };
    if let Ok(b) = &bill {
        if b.summary_disagrees() {
            tracing::warn!(%date, "the bill's summary ({:?} trades, {:?} fen) does not add up to its {} detail rows", b.summary_count, b.summary_amount_minor, b.rows.len());
        }
    }
    let mut st = app.lock();
    let of_channel = |no: &str| st.orders.get(no).is_some_and(|o| o.kind == kind);
    let books: Vec<(String, i64)> = st
        .payments_on(date)
        .filter(|p| of_channel(&p.out_trade_no))
        .map(|p| (p.out_trade_no.clone(), p.amount_minor))
        .collect();
    let refunds: Vec<i64> = st
        .refunds
        .values()
        .filter(|r| {
            r.state == refunds::RefundState::Success
                && r.business_date == Some(date)
                && of_channel(&r.out_trade_no)
        })
        .map(|r| r.amount_minor)
        .collect();
    let mut report = match &bill {
        Err(kind) => recon::without_statement(&date.to_string(), &channel, &books, *kind),
        Ok(bill) => {
            let mistakes = recon::Mistakes {
                ignore_duplicates: bug == Bug::ReconIgnoresDuplicates,
                ignore_fees: bug == Bug::ReconIgnoresFees,
                amount_tolerance: bug == Bug::ReconAmountTolerance,
                statement_total_from_books: bug == Bug::ReconStatementTotalFromBooks,
                ignore_summary: bug == Bug::ReconIgnoresSummary,
                fee_mismatch_shows_amounts: bug == Bug::ReconFeeMismatchShowsAmounts,
            };
            recon::reconcile(
                &date.to_string(),
                &channel,
                &books,
                bill,
                app.config.fee_rate,
                mistakes,
            )
        }
    };
    report.refunds = recon::RefundReport::new(&refunds, bill.as_ref().ok());
    if bug == Bug::ReconForgetsRefunds {
        // BUG `recon-forgets-refunds`: refunds are left out of the reconciliation.
        let nothing = recon::Bill::default();
        report.refunds = recon::RefundReport::new(&[], bill.as_ref().ok().map(|_| &nothing));
    }
    if let Some(s) = &report.refunds.statement {
        if *s != report.refunds.booked {
            tracing::warn!(%date, booked = ?report.refunds.booked, statement = ?s, "the bill's refunds differ from the refunds booked for the day");
        }
    }
    tracing::info!(%date, booked = report.booked.count, statement = ?report.statement.as_ref().map(|t| t.count), discrepancies = report.discrepancies.len(), "reconciled");
    let v = serde_json::to_value(&report).unwrap_or_default();
    st.reports.insert((date, channel), report);
    Ok(v)
}

/// `GET /reconciliations/{date}[?channel=…]`: the stored report.
fn reconciliation_report(app: &App, date: &str, query: &str) -> Result<Value, ApiError> {
    let date = parse_date(date)?;
    let channel = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "channel")
        .map(|(_, v)| sandbank::http::percent_decode(v));
    let (channel, _) = check_channel(app, channel.as_deref())?;
    let st = app.lock();
    let report = st.reports.get(&(date, channel.clone())).ok_or_else(|| {
        ApiError::not_found(format!(
            "no reconciliation of {channel} for {date} yet: POST /reconciliations/run first"
        ))
    })?;
    Ok(serde_json::to_value(report).unwrap_or_default())
}
