//! Shared helpers for the wire tests: a sandbank started in-process on `127.0.0.1:0`, signed
//! WeChat Pay v2 and payout requests, and the control API.
//!
//! The worlds here run on a **manual** clock unless a test asks for a real one
//! ([`WorldOpts::clock`]), so time moves only when a test says so and every run is the same.

use bytes::Bytes;
use hyper::{Method, StatusCode};
use sandbank::channels::wxpay::xml;
use sandbank::control::guard::Access;
use sandbank::http::{self, ClientError, ClientResponse};
use sandbank::protocol::sign;
use sandbank::{Running, Sandbank};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How long any one request in a test may take before the test fails. Generous for a
/// loaded 2-core machine, still short enough that a hang is reported, not waited out.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The WeChat Pay merchant of the test worlds (the documentation test credentials).
pub const APPID: &str = "wx2421b1c4370ec43b";
pub const MCH_ID: &str = "10000100";
pub const KEY: &str = "192006250b4c09247ec02edce69f6a2d";

/// The payout bank client of the test worlds.
pub const BANK_MCH_ID: &str = "20000100";
pub const BANK_KEY: &str = "8934e7d15453e97507ef794cf7b0519d";
pub const BANK_ACCOUNT: &str = "6222000000000000001";

/// The test world: the default world's channel and bank on a clock that starts on Monday
/// 2026-03-02 10:00 Beijing time. `{clock}`, `{on_duplicate}`, `{settle_after}` and
/// `{opening}` are filled in by [`scenario`].
const SCENARIO_TEMPLATE: &str = r#"
[world]
name = "wire-tests"
seed = {seed}
clock = "{clock}"
start = "2026-03-02 10:00"
timezone = "Asia/Shanghai"

[[channels]]
id = "wxpay"
kind = "wechatpay-v2"
fee_rate = "0.006"

[[channels.merchants]]
appid = "wx2421b1c4370ec43b"
mch_id = "10000100"
key = "192006250b4c09247ec02edce69f6a2d"

[[banks]]
id = "bank"
kind = "payout-json"
on_duplicate = "{on_duplicate}"
settle_after = "{settle_after}"

[[banks.clients]]
mch_id = "20000100"
key = "8934e7d15453e97507ef794cf7b0519d"
account = "6222000000000000001"

[[banks.accounts]]
no = "6222000000000000001"
name = "sandbank platform reserve"
currency = "CNY"
opening = "{opening}"
"#;

/// Knobs of the test world.
#[derive(Debug, Clone)]
pub struct WorldOpts {
    pub seed: u64,
    /// `manual` (time moves only through the control API) or `real` (the wall clock, from
    /// the start instant on).
    pub clock: &'static str,
    pub on_duplicate: &'static str,
    pub settle_after: &'static str,
    /// Opening balance of the platform account, major units.
    pub opening: &'static str,
}

impl Default for WorldOpts {
    fn default() -> Self {
        WorldOpts {
            seed: 42,
            clock: "manual",
            on_duplicate: "replay",
            settle_after: "30s",
            opening: "1000000.00",
        }
    }
}

/// The test world's TOML.
pub fn scenario(o: &WorldOpts) -> String {
    SCENARIO_TEMPLATE
        .replace("{seed}", &o.seed.to_string())
        .replace("{clock}", o.clock)
        .replace("{on_duplicate}", o.on_duplicate)
        .replace("{settle_after}", o.settle_after)
        .replace("{opening}", o.opening)
}

/// A sandbank serving on a loopback port. Dropping it stops the server ([`Running`] does).
pub struct TestWorld {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    /// The world itself, for tests that look inside.
    pub sb: Arc<Sandbank>,
    _running: Running,
}

/// Start a world from scenario text on `127.0.0.1:0`.
pub async fn start_toml(toml: &str) -> TestWorld {
    start_toml_guarded(toml, Access::default()).await
}

/// Start a world from scenario text on `127.0.0.1:0`, its control API guarded by `access`.
pub async fn start_toml_guarded(toml: &str, access: Access) -> TestWorld {
    let spec =
        sandbank::scenario::load_str(toml, "test scenario").unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let running =
        Running::start_with(listener, spec, access).expect("a bound listener has an address");
    TestWorld {
        base: running.url(),
        sb: running.sandbank().clone(),
        _running: running,
    }
}

/// Start the test world with default knobs.
pub async fn start() -> TestWorld {
    start_with(WorldOpts::default()).await
}

/// Start the test world with these knobs.
pub async fn start_with(o: WorldOpts) -> TestWorld {
    start_toml(&scenario(&o)).await
}

impl TestWorld {
    /// An absolute URL under the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    // ------------------------------------------------------------ control API

    /// `GET /_sandbank/{path}`; panics unless the reply is JSON.
    pub async fn ctl_get(&self, path: &str) -> (StatusCode, Value) {
        let r = self.ctl_get_raw(path).await;
        (r.status, json_of(&r))
    }

    /// `GET /_sandbank/{path}` as raw text.
    pub async fn ctl_get_text(&self, path: &str) -> (StatusCode, String) {
        let r = self.ctl_get_raw(path).await;
        (r.status, r.text())
    }

    /// `GET /_sandbank/{path}`, the response as it came (status, headers, raw body).
    pub async fn ctl_get_raw(&self, path: &str) -> ClientResponse {
        http::get(&self.url(&format!("_sandbank/{path}")), REQUEST_TIMEOUT)
            .await
            .expect("control API answers")
    }

    /// `POST /_sandbank/{path}` with a raw body.
    pub async fn ctl_post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> (StatusCode, Value) {
        let r = http::post(
            &self.url(&format!("_sandbank/{path}")),
            content_type,
            body,
            REQUEST_TIMEOUT,
        )
        .await
        .expect("control API answers");
        (r.status, json_of(&r))
    }

    /// `POST /_sandbank/{path}` with a JSON body.
    pub async fn ctl_post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.ctl_post_raw(path, "application/json", body.to_string())
            .await
    }

    /// `DELETE /_sandbank/{path}`.
    pub async fn ctl_delete(&self, path: &str) -> (StatusCode, Value) {
        let r = http::send(
            Method::DELETE,
            &self.url(&format!("_sandbank/{path}")),
            &[],
            Bytes::new(),
            REQUEST_TIMEOUT,
        )
        .await
        .expect("control API answers");
        (r.status, json_of(&r))
    }

    /// Advance the clock by `d` (`15s`, `3m`, …); returns once everything due has fired.
    pub async fn advance(&self, d: &str) -> Value {
        let (status, v) = self.ctl_post("clock", json!({ "advance": d })).await;
        assert_eq!(status, StatusCode::OK, "advance {d}: {v}");
        v
    }

    /// Fire whatever is due now without moving the clock. Because the world's driver works
    /// through its commands in order, this also waits for work a previous call started
    /// (e.g. the first notification attempt after a payment).
    pub async fn settle(&self) -> Value {
        let (status, v) = self.ctl_post("clock", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v
    }

    /// The clock's current instant (RFC 3339).
    pub async fn now(&self) -> String {
        self.ctl_get("clock").await.1["now"]
            .as_str()
            .expect("clock view has `now`")
            .to_string()
    }

    /// The whole ledger view (balances and postings).
    pub async fn ledger(&self) -> Value {
        let (status, v) = self.ctl_get("ledger").await;
        assert_eq!(status, StatusCode::OK);
        v
    }

    /// The balance of one ledger account as a string of major units, `"0.00"` if it never moved.
    pub async fn balance(&self, account: &str) -> String {
        let v = self.ledger().await;
        v["balances"]
            .as_array()
            .expect("balances is a list")
            .iter()
            .find(|b| b["account"] == account)
            .map(|b| {
                b["balance"]
                    .as_str()
                    .expect("balance is a string")
                    .to_string()
            })
            .unwrap_or_else(|| "0.00".into())
    }

    /// Journal entries for a query string such as `kind=callback&reference=X`.
    pub async fn journal(&self, query: &str) -> Vec<Value> {
        let (status, v) = self.ctl_get(&format!("journal?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v["entries"].as_array().expect("entries is a list").clone()
    }

    /// The customer pays a WeChat order.
    pub async fn pay(&self, out_trade_no: &str) -> Value {
        let (status, v) = self
            .ctl_post(
                &format!("channels/wxpay/orders/{out_trade_no}/pay"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "pay {out_trade_no}: {v}");
        v
    }

    /// Add a fault rule; panics unless it is created.
    pub async fn add_fault(&self, rule: Value) -> Value {
        let (status, v) = self.ctl_post("faults", rule.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "fault {rule}: {v}");
        v
    }

    // ------------------------------------------------------------ WeChat Pay v2

    /// POST a raw body to the channel at `wxpay/{api}`.
    pub async fn wx_raw(&self, api: &str, body: impl Into<Bytes>) -> ClientResponse {
        http::post(
            &self.url(&format!("wxpay/{api}")),
            "text/xml",
            body,
            REQUEST_TIMEOUT,
        )
        .await
        .expect("channel answers")
    }

    /// POST a signed request (MD5 unless `fields` has `sign_type`) and parse the XML reply.
    pub async fn wx(&self, api: &str, fields: &[(&str, &str)]) -> BTreeMap<String, String> {
        let body = wx_request(fields, KEY);
        let r = self.wx_raw(api, body).await;
        assert_eq!(r.status, StatusCode::OK, "{api}: {}", r.text());
        xml_of(&r)
    }

    /// A NATIVE unifiedorder for `out_trade_no` of `total_fee` fen; panics unless it succeeds.
    pub async fn native_order(
        &self,
        out_trade_no: &str,
        total_fee: &str,
        notify_url: &str,
    ) -> BTreeMap<String, String> {
        let reply = self
            .wx(
                "pay/unifiedorder",
                &native_fields(out_trade_no, total_fee, notify_url),
            )
            .await;
        assert_eq!(reply["return_code"], "SUCCESS", "{reply:?}");
        assert_eq!(reply["result_code"], "SUCCESS", "{reply:?}");
        reply
    }

    /// orderquery by out_trade_no.
    pub async fn query(&self, out_trade_no: &str) -> BTreeMap<String, String> {
        self.wx(
            "pay/orderquery",
            &[
                ("appid", APPID),
                ("mch_id", MCH_ID),
                ("nonce_str", "q1"),
                ("out_trade_no", out_trade_no),
            ],
        )
        .await
    }

    // ------------------------------------------------------------ payout bank

    /// POST a raw body to the bank at `bank/{api}`.
    pub async fn bank_raw(
        &self,
        api: &str,
        body: impl Into<Bytes>,
        timeout: Duration,
    ) -> Result<ClientResponse, ClientError> {
        http::post(
            &self.url(&format!("bank/{api}")),
            "application/json",
            body,
            timeout,
        )
        .await
    }

    /// POST a signed request and parse the JSON reply.
    pub async fn bank(&self, api: &str, fields: Value) -> Value {
        let r = self
            .bank_raw(api, bank_request(fields, BANK_KEY), REQUEST_TIMEOUT)
            .await
            .expect("bank answers");
        assert_eq!(r.status, StatusCode::OK, "{api}: {}", r.text());
        json_of(&r)
    }

    /// Submit a payout of `amount` fen to `account_no`.
    pub async fn payout(&self, order_no: &str, amount: i64, account_no: &str) -> Value {
        self.bank(
            "agentpay/apply",
            payout_fields(order_no, amount, account_no),
        )
        .await
    }

    /// Query a payout.
    pub async fn payout_query(&self, order_no: &str) -> Value {
        self.bank(
            "agentpay/query",
            json!({ "mchId": BANK_MCH_ID, "mchOrderNo": order_no }),
        )
        .await
    }
}

/// The JSON of a response; panics with the body when it is not JSON.
pub fn json_of(r: &ClientResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text()))
}

/// The fields of an XML reply; panics with the body when it is not a flat v2 document.
pub fn xml_of(r: &ClientResponse) -> BTreeMap<String, String> {
    xml::parse(&r.text()).unwrap_or_else(|e| panic!("not v2 XML ({e}): {}", r.text()))
}

/// A signed v2 request document. The algorithm follows the `sign_type` field (MD5 when absent).
pub fn wx_request(fields: &[(&str, &str)], key: &str) -> String {
    let map: BTreeMap<String, String> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let st = sign::SignType::from_field(map.get("sign_type").map(String::as_str))
        .expect("a known sign_type");
    let s = sign::sign(&map, key, st);
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    all.push(("sign", &s));
    xml::write(all)
}

/// The fields of a NATIVE unifiedorder.
pub fn native_fields<'a>(
    out_trade_no: &'a str,
    total_fee: &'a str,
    notify_url: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
        ("body", "sandbank test order"),
        ("out_trade_no", out_trade_no),
        ("total_fee", total_fee),
        ("spbill_create_ip", "127.0.0.1"),
        ("notify_url", notify_url),
        ("trade_type", "NATIVE"),
        ("product_id", "P-0001"),
    ]
}

/// True when a reply's `sign` is right for the merchant key (under its own `sign_type`).
pub fn reply_signed(
    fields: &BTreeMap<String, String>,
    key: &str,
    sign_type: sign::SignType,
) -> bool {
    fields
        .get("sign")
        .is_some_and(|given| *given == sign::sign(fields, key, sign_type))
}

/// The acknowledgement a merchant returns to a v2 notification.
pub const WX_ACK: &str = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";

/// A signed payout request body.
pub fn bank_request(fields: Value, key: &str) -> String {
    let Value::Object(mut map) = fields else {
        panic!("a payout request is a JSON object")
    };
    sandbank::banks::payout_json::sign_request(&mut map, key);
    Value::Object(map).to_string()
}

/// The fields of a payout submission.
pub fn payout_fields(order_no: &str, amount: i64, account_no: &str) -> Value {
    json!({
        "mchId": BANK_MCH_ID,
        "mchOrderNo": order_no,
        "amount": amount,
        "accountAttr": "0",
        "bankName": "中国工商银行",
        "accountName": "张三",
        "accountNo": account_no,
        "bankNumber": "102100099996",
        "reqTime": "20260302100000",
        "version": "1.0",
    })
}

/// True when `v`'s `sign` is right for `key` (sorted non-empty fields, MD5).
pub fn bank_reply_signed(v: &Value, key: &str) -> bool {
    let Value::Object(map) = v else { return false };
    let Some(given) = map.get("sign").and_then(Value::as_str) else {
        return false;
    };
    let mut unsigned: Map<String, Value> = map.clone();
    sandbank::banks::payout_json::sign_request(&mut unsigned, key);
    unsigned.get("sign").and_then(Value::as_str) == Some(given)
}

/// Ledger account of a payee at the test bank.
pub fn payee(account_no: &str) -> String {
    sandbank::ledger::accounts::bank_payee("bank", account_no)
}

/// Ledger account of the platform's reserve at the test bank.
pub fn reserve() -> String {
    sandbank::ledger::accounts::bank_account("bank", BANK_ACCOUNT)
}

/// Ledger account of what the channel holds for the test merchant.
pub fn merchant_account() -> String {
    sandbank::ledger::accounts::channel_merchant("wxpay", MCH_ID)
}
