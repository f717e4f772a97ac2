//! Reading and answering the Alipay gateway (`gateway.do`): the two request shapes, the
//! common parameters and their checks in the gateway's order, the RSA2 request signature,
//! and signed JSON responses; and reading a request to a bill link (see `link`).
//!
//! **Requests.** `GET` with every parameter in the query string (python-alipay-sdk), or
//! `POST` with the common parameters in the query string and the rest (`biz_content`) in an
//! `application/x-www-form-urlencoded` body (the Node and Java SDKs); the two halves are one
//! set of parameters, and a name given twice is refused. Values are percent-decoded to bytes
//! and read in the request's `charset` (`utf-8`, or `GBK` as the Java SDK may send), which
//! is also the charset the signature was computed in and the response is written in.
//!
//! **Signature.** Every parameter but `sign`, empty values left out, sorted by name, joined
//! `k=v&…` with raw values, in the request's charset, checked as SHA256withRSA with the
//! app's public key. `sign_type` takes part (the SDKs sign it; only notifications leave it
//! out: see `notify`).
//!
//! **Responses.** `{"<method with _>_response":{…},"sign":"…"}`, where the sign is the
//! Alipay key's RSA2 signature of the exact bytes of the inner object as sent: the JSON text
//! is built once, signed, and sent as is (SDKs verify by cutting that text out of the body).
//! An unknown method answers under `error_response`. Times are written in Beijing time,
//! `yyyy-MM-dd HH:mm:ss` ([`local_time`]), in responses and notifications alike.
//!
//! **Bill links.** A request to a link (`downloadBillFile.resource`) is a `GET` with the
//! link's `token`; whether the token is one the channel handed out is `bill`'s to say.

use super::keys::PrivateKey;
use super::link::{DOWNLOAD_OP, DOWNLOAD_PATH};
use super::spec::{App, Spec};
use crate::clock::{Instant, SHANGHAI};
use crate::http::{InboundRequest, Reply};
use crate::kind::{Decoded, Key};
use hyper::{Method as HttpMethod, StatusCode};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

/// The operation name of requests refused before their method was known.
pub const GATEWAY_OP: &str = "gateway.do";

/// The most parameters one request may carry: the gateway's common parameters are a dozen,
/// and everything else sits inside `biz_content`.
pub const MAX_PARAMS: usize = 64;

/// The charset a request names, and its response and notifications are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Charset {
    /// `utf-8` (what python-alipay-sdk and the Node SDK send).
    #[serde(rename = "utf-8")]
    Utf8,
    /// `GBK` (the Java and .NET SDKs' historical default; `gb2312` and `gb18030` read as
    /// GBK too).
    #[serde(rename = "GBK")]
    Gbk,
}

impl Charset {
    /// Read a `charset` value, case-insensitively.
    pub fn parse(s: &str) -> Option<Charset> {
        match s.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Some(Charset::Utf8),
            "gbk" | "gb2312" | "gb18030" => Some(Charset::Gbk),
            _ => None,
        }
    }

    /// As the channel writes it back (`charset` of notifications).
    pub fn as_str(self) -> &'static str {
        match self {
            Charset::Utf8 => "utf-8",
            Charset::Gbk => "GBK",
        }
    }

    /// `text` in this charset. Characters GBK cannot hold become `?`, as a GBK page would
    /// show them; they cannot come from a GBK request.
    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Charset::Utf8 => text.as_bytes().to_vec(),
            Charset::Gbk => {
                let mut out = Vec::with_capacity(text.len());
                let mut buf = [0u8; 4];
                for c in text.chars() {
                    let (bytes, _, unmappable) = encoding_rs::GBK.encode(c.encode_utf8(&mut buf));
                    if unmappable {
                        out.push(b'?');
                    } else {
                        out.extend_from_slice(&bytes);
                    }
                }
                out
            }
        }
    }

    /// `bytes` read in this charset, or `None` when they are not valid in it.
    pub fn decode(self, bytes: &[u8]) -> Option<String> {
        match self {
            Charset::Utf8 => String::from_utf8(bytes.to_vec()).ok(),
            Charset::Gbk => {
                let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(bytes);
                (!had_errors).then(|| text.into_owned())
            }
        }
    }

    /// The response content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Charset::Utf8 => "application/json;charset=utf-8",
            Charset::Gbk => "application/json;charset=GBK",
        }
    }
}

/// The gateway methods the channel serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `alipay.trade.precreate`: a QR code for the buyer to scan.
    Precreate,
    /// `alipay.trade.pay`: charge the buyer's payment code (barcode).
    Pay,
    /// `alipay.trade.query`.
    Query,
    /// `alipay.trade.close`: close an unpaid trade.
    Close,
    /// `alipay.trade.cancel`: cancel a trade, refunding it if paid.
    Cancel,
    /// `alipay.trade.refund`.
    Refund,
    /// `alipay.trade.fastpay.refund.query`.
    RefundQuery,
    /// `alipay.data.dataservice.bill.downloadurl.query`.
    BillUrl,
}

impl Method {
    const ALL: [Method; 8] = [
        Method::Precreate,
        Method::Pay,
        Method::Query,
        Method::Close,
        Method::Cancel,
        Method::Refund,
        Method::RefundQuery,
        Method::BillUrl,
    ];

    /// The method by its name.
    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Its name, which is also the operation name fault rules and the journal use.
    pub fn name(self) -> &'static str {
        match self {
            Method::Precreate => "alipay.trade.precreate",
            Method::Pay => "alipay.trade.pay",
            Method::Query => "alipay.trade.query",
            Method::Close => "alipay.trade.close",
            Method::Cancel => "alipay.trade.cancel",
            Method::Refund => "alipay.trade.refund",
            Method::RefundQuery => "alipay.trade.fastpay.refund.query",
            Method::BillUrl => "alipay.data.dataservice.bill.downloadurl.query",
        }
    }

    /// The key its response sits under.
    pub fn response_key(self) -> &'static str {
        match self {
            Method::Precreate => "alipay_trade_precreate_response",
            Method::Pay => "alipay_trade_pay_response",
            Method::Query => "alipay_trade_query_response",
            Method::Close => "alipay_trade_close_response",
            Method::Cancel => "alipay_trade_cancel_response",
            Method::Refund => "alipay_trade_refund_response",
            Method::RefundQuery => "alipay_trade_fastpay_refund_query_response",
            Method::BillUrl => "alipay_data_dataservice_bill_downloadurl_query_response",
        }
    }
}

/// A public return code (docs/protocols.md, "B.3").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// `10000` Success.
    Success,
    /// `10003`: `alipay.trade.pay` accepted, the buyer has still to confirm (WAIT_BUYER_PAY).
    InProcess,
    /// `20000` Service Currently Unavailable: the outcome is unknown, query.
    Unavailable,
    /// `20001` Insufficient Token Permissions.
    TokenPermissions,
    /// `40001` Missing Required Arguments.
    Missing,
    /// `40002` Invalid Arguments.
    Invalid,
    /// `40004` Business Failed.
    Business,
    /// `40006` Insufficient Permissions.
    Permissions,
}

impl Code {
    /// `code` and `msg`.
    pub fn pair(self) -> (&'static str, &'static str) {
        match self {
            Code::Success => ("10000", "Success"),
            Code::InProcess => ("10003", "order success pay inprocess"),
            Code::Unavailable => ("20000", "Service Currently Unavailable"),
            Code::TokenPermissions => ("20001", "Insufficient Token Permissions"),
            Code::Missing => ("40001", "Missing Required Arguments"),
            Code::Invalid => ("40002", "Invalid Arguments"),
            Code::Business => ("40004", "Business Failed"),
            Code::Permissions => ("40006", "Insufficient Permissions"),
        }
    }

    /// The code of a numeric `code` string.
    pub fn from_number(n: &str) -> Option<Code> {
        [
            Code::Success,
            Code::InProcess,
            Code::Unavailable,
            Code::TokenPermissions,
            Code::Missing,
            Code::Invalid,
            Code::Business,
            Code::Permissions,
        ]
        .into_iter()
        .find(|c| c.pair().0 == n)
    }
}

/// A request to the channel, decoded and authenticated.
#[derive(Debug)]
pub enum Call {
    /// A gateway method call.
    Gateway(Box<GatewayCall>),
    /// A bill download by the token of a link `alipay.data.dataservice.bill.downloadurl.query`
    /// handed out.
    Download {
        /// The link's token.
        token: String,
    },
}

/// A gateway call: the method, the app that signed it, its parameters.
#[derive(Debug)]
pub struct GatewayCall {
    /// The channel id.
    pub instance: String,
    /// Which method.
    pub method: Method,
    /// The app that signed it.
    pub app: Arc<App>,
    /// The common parameters, as decoded (`sign` included).
    pub params: BTreeMap<String, String>,
    /// `biz_content`, read.
    pub biz: serde_json::Map<String, Value>,
    /// The request's charset.
    pub charset: Charset,
    /// The channel's Alipay key, to sign the response with (shared with the spec).
    pub alipay_key: Arc<PrivateKey>,
    /// `scheme://host[:port]` the request came to, for links the response hands out.
    pub origin: String,
}

impl GatewayCall {
    /// A business parameter as text (`biz_content` field): strings as they are, numbers as
    /// written; absent, null or empty is `None`.
    pub fn biz_str(&self, name: &str) -> Option<String> {
        match self.biz.get(name)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A common parameter, non-empty.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A signed response with `code` and `fields`.
    pub fn reply(&self, code: Code, fields: Vec<(&str, Value)>) -> Reply {
        respond(
            &self.alipay_key,
            self.method.response_key(),
            self.charset,
            code,
            None,
            fields,
        )
    }

    /// `10000 Success` with `fields`.
    pub fn success(&self, fields: Vec<(&str, Value)>) -> Reply {
        self.reply(Code::Success, fields)
    }

    /// A signed failure: `code` with `sub_code` and `sub_msg`, then `fields`.
    pub fn fail(
        &self,
        code: Code,
        sub_code: &str,
        sub_msg: &str,
        fields: Vec<(&str, Value)>,
    ) -> Reply {
        respond(
            &self.alipay_key,
            self.method.response_key(),
            self.charset,
            code,
            Some((sub_code, sub_msg)),
            fields,
        )
    }

    /// `40004 Business Failed` with `sub_code` and `sub_msg`.
    pub fn business(&self, sub_code: &str, sub_msg: &str) -> Reply {
        self.fail(Code::Business, sub_code, sub_msg, Vec::new())
    }
}

/// The JSON text of an object with `fields` in this order.
pub fn object_text(fields: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Serialising a str or a Value cannot fail.
        out.push_str(&serde_json::to_string(k).unwrap_or_default());
        out.push(':');
        out.push_str(&serde_json::to_string(v).unwrap_or_default());
    }
    out.push('}');
    out
}

/// `yyyy-MM-dd HH:mm:ss` in Beijing time, as every Alipay time field is written.
pub fn local_time(t: Instant) -> String {
    t.with_timezone(&SHANGHAI)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A signed gateway response under `response_key`: `code` and `msg`, `sub_code` and
/// `sub_msg` when given, then `fields`; the inner object's text is built once and its bytes
/// in `charset` are what the sign covers.
pub fn respond(
    key: &PrivateKey,
    response_key: &str,
    charset: Charset,
    code: Code,
    sub: Option<(&str, &str)>,
    fields: Vec<(&str, Value)>,
) -> Reply {
    let (c, msg) = code.pair();
    let mut all: Vec<(&str, Value)> = vec![("code", c.into()), ("msg", msg.into())];
    if let Some((sub_code, sub_msg)) = sub {
        all.push(("sub_code", sub_code.into()));
        all.push(("sub_msg", sub_msg.into()));
    }
    all.extend(fields);
    let inner = object_text(&all);
    let inner_bytes = charset.encode(&inner);
    let sign = key.sign(&inner_bytes);
    let mut body = Vec::with_capacity(inner_bytes.len() + sign.len() + response_key.len() + 16);
    body.extend_from_slice(b"{\"");
    body.extend_from_slice(response_key.as_bytes());
    body.extend_from_slice(b"\":");
    body.extend_from_slice(&inner_bytes);
    body.extend_from_slice(b",\"sign\":\"");
    body.extend_from_slice(sign.as_bytes());
    body.extend_from_slice(b"\"}");
    Reply::new(StatusCode::OK, charset.content_type(), body)
}

/// `k=v&k=v` as (name, raw value bytes) pairs, empty pieces skipped.
fn form_pairs(text: &[u8], out: &mut Vec<(String, Vec<u8>)>) -> Result<(), String> {
    for piece in text.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let mut kv = piece.splitn(2, |b| *b == b'=');
        let k = crate::http::percent_decode_bytes(kv.next().unwrap_or_default());
        let v = crate::http::percent_decode_bytes(kv.next().unwrap_or_default());
        let Ok(k) = String::from_utf8(k) else {
            return Err("a parameter name that is not text".into());
        };
        if out.len() >= MAX_PARAMS {
            return Err(format!("more than {MAX_PARAMS} parameters"));
        }
        out.push((k, v));
    }
    Ok(())
}

/// What a refusal says.
struct Refusal {
    code: Code,
    sub_code: &'static str,
    sub_msg: String,
    /// The method's response key, or `error_response`.
    key: &'static str,
}

fn refuse(
    code: Code,
    sub_code: &'static str,
    sub_msg: impl Into<String>,
    key: &'static str,
) -> Refusal {
    Refusal {
        code,
        sub_code,
        sub_msg: sub_msg.into(),
        key,
    }
}

/// The string the request signature covers: every parameter but `sign`, empty values left
/// out, sorted by name, `k=v` joined with `&`.
pub fn sign_content<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    skip: &[&str],
) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(k, v)| !v.is_empty() && !skip.contains(k))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// `scheme://host` the request was sent to, from its `Host` header (only the characters a
/// host and port may have; loopback otherwise).
fn origin_of(req: &InboundRequest) -> String {
    let host = req
        .headers
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// The timestamp shape the gateway takes: `yyyy-MM-dd HH:mm:ss`.
fn valid_timestamp(t: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").is_ok()
}

/// Read and authenticate a request to `spec`'s channel.
pub fn decode(spec: &Spec, req: &InboundRequest) -> Decoded<Call> {
    match req.path.as_str() {
        "gateway.do" => {}
        DOWNLOAD_PATH => return decode_download(req),
        _ => {
            return Decoded::NoSuchApi(Reply::text(
                StatusCode::NOT_FOUND,
                format!(
                    "no such Alipay API: /{} (the gateway is /{}/gateway.do)",
                    req.path, spec.id
                ),
            ))
        }
    }
    match authenticate(spec, req) {
        Ok(call) => {
            let amount = ["total_amount", "refund_amount"]
                .iter()
                .find_map(|f| call.biz_str(f))
                .and_then(|a| Decimal::from_str(&a).ok());
            let key = Key {
                op: call.method.name(),
                order: call.biz_str("out_trade_no"),
                amount,
            };
            Decoded::Call {
                call: Call::Gateway(Box::new(call)),
                key,
            }
        }
        Err((op, charset, r)) => Decoded::Refused {
            op,
            reply: respond(
                &spec.alipay_key,
                r.key,
                charset,
                r.code,
                Some((r.sub_code, &r.sub_msg)),
                Vec::new(),
            ),
        },
    }
}

/// Read a download request: `GET` with the link's `token`.
fn decode_download(req: &InboundRequest) -> Decoded<Call> {
    if req.method != HttpMethod::GET {
        return Decoded::Refused {
            op: DOWNLOAD_OP,
            reply: Reply::text(StatusCode::METHOD_NOT_ALLOWED, "GET the bill link"),
        };
    }
    match req
        .query_param("token")
        .filter(|t| !t.is_empty() && t.len() <= 64)
    {
        None => Decoded::Refused {
            op: DOWNLOAD_OP,
            reply: Reply::text(StatusCode::NOT_FOUND, "下载链接无效 (no token)"),
        },
        Some(token) => Decoded::Call {
            call: Call::Download { token },
            key: Key {
                op: DOWNLOAD_OP,
                order: None,
                amount: None,
            },
        },
    }
}

type Refused = (&'static str, Charset, Refusal);

/// The checks the gateway makes before it looks at what is asked, in its order.
fn authenticate(spec: &Spec, req: &InboundRequest) -> Result<GatewayCall, Refused> {
    let mut raw: Vec<(String, Vec<u8>)> = Vec::new();
    let early = |sub_msg: String| {
        (
            GATEWAY_OP,
            Charset::Utf8,
            refuse(
                Code::Invalid,
                "isv.invalid-parameter",
                sub_msg,
                "error_response",
            ),
        )
    };
    if req.method != HttpMethod::GET && req.method != HttpMethod::POST {
        return Err(early(format!("请使用GET或POST方法 (not {})", req.method)));
    }
    if let Some(q) = &req.query {
        form_pairs(q.as_bytes(), &mut raw).map_err(early)?;
    }
    if req.method == HttpMethod::POST && !req.body.is_empty() {
        let form = req
            .headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|c| c.to_str().ok())
            .is_none_or(|c| {
                c.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if !form {
            return Err(early(
                "the body must be application/x-www-form-urlencoded".to_string(),
            ));
        }
        form_pairs(&req.body, &mut raw).map_err(early)?;
    }
    // The charset first: every other value is read in it.
    let charset = match raw.iter().find(|(k, _)| k == "charset") {
        None => Charset::Utf8,
        Some((_, v)) => std::str::from_utf8(v)
            .ok()
            .and_then(Charset::parse)
            .ok_or_else(|| {
                (
                    GATEWAY_OP,
                    Charset::Utf8,
                    refuse(
                        Code::Invalid,
                        "isv.invalid-charset",
                        "字符集错误 (charset: utf-8 or GBK)",
                        "error_response",
                    ),
                )
            })?,
    };
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in raw {
        let Some(text) = charset.decode(&v) else {
            return Err((
                GATEWAY_OP,
                charset,
                refuse(
                    Code::Invalid,
                    "isv.invalid-charset",
                    format!("字符集错误: `{k}` is not {}", charset.as_str()),
                    "error_response",
                ),
            ));
        };
        if params.contains_key(&k) {
            return Err((
                GATEWAY_OP,
                charset,
                refuse(
                    Code::Invalid,
                    "isv.invalid-parameter",
                    format!("参数无效: `{k}` is given twice"),
                    "error_response",
                ),
            ));
        }
        params.insert(k, text);
    }
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let Some(method_name) = get("method") else {
        return Err((
            GATEWAY_OP,
            charset,
            refuse(
                Code::Missing,
                "isv.missing-method",
                "缺少方法名参数",
                "error_response",
            ),
        ));
    };
    let Some(method) = Method::parse(method_name) else {
        return Err((
            GATEWAY_OP,
            charset,
            refuse(
                Code::Invalid,
                "isv.invalid-method",
                format!("不存在的方法名: {method_name}"),
                "error_response",
            ),
        ));
    };
    let (op, key) = (method.name(), method.response_key());
    let fail = |code: Code, sub_code: &'static str, sub_msg: String| {
        (op, charset, refuse(code, sub_code, sub_msg, key))
    };
    if let Some(f) = get("format") {
        if !f.eq_ignore_ascii_case("json") {
            return Err(fail(
                Code::Invalid,
                "isv.invalid-format",
                format!("无效的数据格式: {f}"),
            ));
        }
    }
    let Some(app_id) = get("app_id") else {
        return Err(fail(
            Code::Missing,
            "isv.missing-app-id",
            "缺少appId参数".into(),
        ));
    };
    let Some(app) = spec.app(app_id) else {
        return Err(fail(
            Code::Invalid,
            "isv.invalid-app-id",
            "无效的AppID参数".into(),
        ));
    };
    let Some(sign_type) = get("sign_type") else {
        return Err(fail(
            Code::Missing,
            "isv.missing-signature-type",
            "缺少签名类型参数".into(),
        ));
    };
    if sign_type != "RSA2" {
        return Err(fail(
            Code::Invalid,
            "isv.invalid-signature-type",
            format!("无效的签名类型: {sign_type} (this gateway takes RSA2)"),
        ));
    }
    let Some(sign) = get("sign") else {
        return Err(fail(
            Code::Missing,
            "isv.missing-signature",
            "缺少签名参数".into(),
        ));
    };
    let Some(timestamp) = get("timestamp") else {
        return Err(fail(
            Code::Missing,
            "isv.missing-timestamp",
            "缺少时间戳参数".into(),
        ));
    };
    if !valid_timestamp(timestamp) {
        return Err(fail(
            Code::Invalid,
            "isv.invalid-timestamp",
            format!("非法的时间戳参数: {timestamp} (yyyy-MM-dd HH:mm:ss)"),
        ));
    }
    let Some(version) = get("version") else {
        return Err(fail(
            Code::Missing,
            "isv.missing-version",
            "缺少版本参数".into(),
        ));
    };
    if version != "1.0" {
        return Err(fail(
            Code::Invalid,
            "isv.invalid-parameter",
            format!("参数无效: version {version} (1.0)"),
        ));
    }
    let content = sign_content(
        params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &["sign"],
    );
    if !app.public_key.verify(&charset.encode(&content), sign) {
        return Err(fail(
            Code::Invalid,
            "isv.invalid-signature",
            format!(
                "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：{}",
                content.replace('&', "&amp;")
            ),
        ));
    }
    let biz = match get("biz_content") {
        None => serde_json::Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(fail(
                    Code::Invalid,
                    "isv.invalid-parameter",
                    "参数无效: biz_content is not a JSON object".into(),
                ))
            }
        },
    };
    Ok(GatewayCall {
        instance: spec.id.clone(),
        method,
        app: app.clone(),
        params,
        biz,
        charset,
        alipay_key: spec.alipay_key.clone(),
        origin: origin_of(req),
    })
}

/// True when a merchant's answer to a notification acknowledges it: HTTP 200 and the body
/// exactly `success` (docs/protocols.md, "B.5").
pub fn is_ack(status: StatusCode, body: &[u8]) -> bool {
    status == StatusCode::OK && body == b"success"
}

#[cfg(test)]
mod tests {
    use super::super::spec::OPS;
    use super::*;

    #[test]
    fn every_method_is_an_operation() {
        for m in Method::ALL {
            assert_eq!(Method::parse(m.name()), Some(m));
            assert!(OPS.contains(&m.name()), "{}", m.name());
            assert_eq!(
                m.response_key(),
                format!("{}_response", m.name().replace('.', "_"))
            );
        }
    }

    #[test]
    fn acks_are_exactly_success() {
        assert!(is_ack(StatusCode::OK, b"success"));
        assert!(!is_ack(StatusCode::OK, b"success\n"));
        assert!(!is_ack(StatusCode::OK, b"SUCCESS"));
        assert!(!is_ack(StatusCode::OK, b"fail"));
        assert!(!is_ack(StatusCode::INTERNAL_SERVER_ERROR, b"success"));
    }

    #[test]
    fn percent_decoding_keeps_bytes_for_the_charset() {
        assert_eq!(
            crate::http::percent_decode_bytes(b"a+b%2B%E4%B8%AD"),
            "a b+中".as_bytes()
        );
        assert_eq!(crate::http::percent_decode_bytes(b"100%"), b"100%");
        assert_eq!(crate::http::percent_decode_bytes(b"%zz%4"), b"%zz%4");
        assert_eq!(
            Charset::Gbk.decode(&Charset::Gbk.encode("中文")).as_deref(),
            Some("中文")
        );
        assert_eq!(Charset::Gbk.encode("中").len(), 2);
    }

    #[test]
    fn the_sign_content_is_sorted_without_sign_and_empty_values() {
        let c = sign_content(
            [
                ("b", "2"),
                ("sign", "x"),
                ("a", "1"),
                ("e", ""),
                ("sign_type", "RSA2"),
            ],
            &["sign"],
        );
        assert_eq!(c, "a=1&b=2&sign_type=RSA2");
    }
}
