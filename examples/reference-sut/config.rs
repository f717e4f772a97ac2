//! Flags → validated [`Config`], and our Alipay credentials (key files, or asked of
//! sandbank at start).

use crate::{alipay, refunds, Bug};
use anyhow::Context;
use clap::Parser;
use rust_decimal::Decimal;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Command-line flags; defaults are the credentials of sandbank's default world.
#[derive(Debug, Parser)]
#[command(
    name = "reference-sut",
    about = "sandbank's reference settlement system (a SUT for the conformance suite)"
)]
pub struct Flags {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: String,
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
    pub fn from_flags(
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

/// Our Alipay credentials: from the two key files when given, else asked of sandbank.
pub async fn alipay_keys(f: &Flags) -> anyhow::Result<Option<alipay::Keys>> {
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
