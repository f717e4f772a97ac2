//! Reading a request to the Alipay gateway (`gateway.do`): the two request shapes, the
//! common parameters and their checks in the gateway's order, `biz_content`, and the RSA2
//! request signature; and reading a request to a bill link (see `link`).
//!
//! **Requests.** `GET` with every parameter in the query string (python-alipay-sdk), or
//! `POST` with the common parameters in the query string and the rest (`biz_content`) in an
//! `application/x-www-form-urlencoded` body (the Node and Java SDKs); the two halves are one
//! set of parameters, and a name given twice is refused. Values are percent-decoded to bytes
//! and read in the request's `charset` ([`Charset`]), which is also the charset the
//! signature was computed in and the response is written in. A request refused here gets
//! the gateway's signed refusal ([`super::response::respond`]).
//!
//! **Bill links.** A request to a link (`downloadBillFile.resource`) is a `GET` with the
//! link's `token`; whether the token is one the channel handed out is `bill`'s to say.

use super::codec::{sign_content, Charset, Method};
use super::keys::PrivateKey;
use super::link::{DOWNLOAD_OP, DOWNLOAD_PATH};
use super::response::{respond, Code};
use super::spec::{App, Spec};
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
}

/// A call's answers, signed with the Alipay key under the method's response key.
impl GatewayCall {
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
