//! The routes for merchants, orders and settlement runs.

use crate::app::{parse_date, parse_json};
use crate::store::{ChannelKind, Merchant, Order, OrderState};
use crate::{alipay, settlement, wxpay, ApiError, App};
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

/// Attempts at creating one order at the channel. WeChat re-entry with identical
/// parameters is idempotent (the same prepay_id comes back), so one retry after an unknown
/// outcome is safe; more would only make the caller wait.
const ORDER_CREATE_ATTEMPTS: u32 = 2;

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
pub fn onboard_merchant(app: &App, body: &[u8]) -> Result<Value, ApiError> {
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
pub async fn create_order(app: &App, body: &[u8]) -> Result<Value, ApiError> {
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

#[derive(Deserialize)]
pub struct DateBody {
    pub date: String,
    #[serde(default)]
    pub channel: Option<String>,
}

/// `POST /settlements/run`: settle a business day (T+1); again for the same day finishes
/// what is pending and never pays twice.
pub async fn run_settlement(app: &App, body: &[u8]) -> Result<Value, ApiError> {
    let b: DateBody = parse_json(body)?;
    let date = parse_date(&b.date)?;
    Ok(settlement::run(app, date).await)
}

pub fn check_channel(app: &App, channel: Option<&str>) -> Result<(String, ChannelKind), ApiError> {
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
