//! Reading and answering WeChat Pay v2 requests: decode and authenticate a request, sign a
//! reply, and the two ways the channel says no — `return_code=FAIL` for communication-level
//! problems and a signed `result_code=FAIL` with an `err_code` for business ones.

use super::spec::{Merchant, Spec};
use super::xml;
use crate::core::Core;
use crate::http::{InboundRequest, Reply};
use crate::kind::{Decoded, Key};
use crate::protocol::sign::{self, SignType};
use hyper::{Method, StatusCode};
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The APIs the channel serves, by path under its mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `pay/unifiedorder`: create an order.
    UnifiedOrder,
    /// `pay/orderquery`: an order's state.
    OrderQuery,
    /// `pay/downloadbill`: a day's bill.
    DownloadBill,
    /// `pay/closeorder`: close an unpaid order.
    CloseOrder,
    /// `secapi/pay/refund`: refund a paid order (mutual TLS at the real channel).
    Refund,
    /// `pay/refundquery`: an order's refunds.
    RefundQuery,
    /// `pay/micropay`: a barcode payment.
    Micropay,
    /// `secapi/pay/reverse`: cancel a barcode payment (mutual TLS at the real channel).
    Reverse,
}

/// Every API, for tests and the list of operations.
pub const APIS: [Api; 8] = [
    Api::UnifiedOrder,
    Api::OrderQuery,
    Api::DownloadBill,
    Api::CloseOrder,
    Api::Refund,
    Api::RefundQuery,
    Api::Micropay,
    Api::Reverse,
];

impl Api {
    fn route(path: &str) -> Option<Api> {
        match path {
            "pay/unifiedorder" => Some(Api::UnifiedOrder),
            "pay/orderquery" => Some(Api::OrderQuery),
            "pay/downloadbill" => Some(Api::DownloadBill),
            "pay/closeorder" => Some(Api::CloseOrder),
            "secapi/pay/refund" => Some(Api::Refund),
            "pay/refundquery" => Some(Api::RefundQuery),
            "pay/micropay" => Some(Api::Micropay),
            "secapi/pay/reverse" => Some(Api::Reverse),
            _ => None,
        }
    }

    /// The path, which is also the operation name fault rules and the journal use.
    pub fn op(self) -> &'static str {
        match self {
            Api::UnifiedOrder => "pay/unifiedorder",
            Api::OrderQuery => "pay/orderquery",
            Api::DownloadBill => "pay/downloadbill",
            Api::CloseOrder => "pay/closeorder",
            Api::Refund => "secapi/pay/refund",
            Api::RefundQuery => "pay/refundquery",
            Api::Micropay => "pay/micropay",
            Api::Reverse => "secapi/pay/reverse",
        }
    }
}

/// A decoded, authenticated request.
#[derive(Debug, Clone)]
pub struct Call {
    /// The channel id it came to.
    pub instance: String,
    /// Which API.
    pub api: Api,
    /// The merchant that signed it (shared with the spec, not copied per request).
    pub merchant: Arc<Merchant>,
    /// Its fields, `sign` included.
    pub fields: BTreeMap<String, String>,
    /// The algorithm it was signed with; the reply is signed the same way.
    pub sign_type: SignType,
}

impl Call {
    /// A signed reply to this call: the common fields, then `extra`, then `sign`.
    pub fn signed(&self, core: &mut Core, extra: Vec<(&str, Cow<'_, str>)>) -> Reply {
        let m = &self.merchant;
        // Sized once: the common fields, `extra` and `sign`.
        let mut fields: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(extra.len() + 6);
        fields.extend([
            ("return_code", "SUCCESS".into()),
            ("return_msg", "OK".into()),
            ("appid", m.appid.as_str().into()),
            ("mch_id", m.mch_id.as_str().into()),
            (
                "nonce_str",
                core.rng_for(&self.instance, &self.stream_key())
                    .alnum(16)
                    .into(),
            ),
        ]);
        fields.extend(extra);
        let mut pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, &**v)).collect();
        let s = sign::sign_pairs(&mut pairs, &m.key, self.sign_type);
        fields.push(("sign", s.into()));
        Reply::xml(xml::write(fields.iter().map(|(k, v)| (*k, &**v))))
    }

    /// A signed business failure: `result_code=FAIL` with `err_code` and its description.
    pub fn biz_fail(&self, core: &mut Core, code: &str, des: &str) -> Reply {
        self.signed(
            core,
            vec![
                ("result_code", "FAIL".into()),
                ("err_code", code.into()),
                ("err_code_des", des.into()),
            ],
        )
    }

    /// The key of the seeded stream this call's reply draws from: the merchant and the
    /// order, transaction or bill it is about, so replies about one order get the same
    /// nonces whatever other requests came between.
    fn stream_key(&self) -> String {
        let about = [
            "out_refund_no",
            "out_trade_no",
            "transaction_id",
            "refund_id",
            "bill_date",
        ]
        .iter()
        .find_map(|f| self.field(f))
        .unwrap_or_default();
        let (op, mch) = (self.api.op(), self.merchant.mch_id.as_str());
        let mut key = String::with_capacity(8 + op.len() + mch.len() + about.len());
        for part in ["reply/", op, "/", mch, "/", about] {
            key.push_str(part);
        }
        key
    }

    /// A non-empty field.
    pub fn get(&self, name: &str) -> Option<String> {
        self.field(name).map(str::to_string)
    }

    /// A non-empty field, borrowed.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// A communication-level failure: `return_code=FAIL`. When the failure has an error code we
/// also send `result_code=FAIL` and `err_code`, so SDK exceptions name it (wechatpy puts
/// `err_code` into `WeChatPayException.errcode`).
pub fn comm_fail(return_msg: &str, err_code: &str) -> Reply {
    Reply::xml(xml::write([
        ("return_code", "FAIL"),
        ("return_msg", return_msg),
        ("result_code", "FAIL"),
        ("err_code", err_code),
        ("err_code_des", return_msg),
    ]))
}

/// Read and authenticate a request to `spec`'s channel.
pub fn decode(spec: &Spec, req: &InboundRequest) -> Decoded<Call> {
    let Some(api) = Api::route(&req.path) else {
        return Decoded::NoSuchApi(Reply::text(
            StatusCode::NOT_FOUND,
            format!("no such WeChat Pay v2 API: /{}", req.path),
        ));
    };
    match authenticate(spec, api, req) {
        Err(reply) => Decoded::Refused {
            op: api.op(),
            reply,
        },
        Ok(call) => {
            // Refund operations are named by their refund number when they give one, so a
            // fault rule's `order` pattern can pick one refund of an order.
            let (order, amount) = match api {
                Api::Refund => (
                    call.field("out_refund_no").or(call.field("out_trade_no")),
                    "refund_fee",
                ),
                Api::RefundQuery => (
                    call.field("out_refund_no").or(call.field("out_trade_no")),
                    "refund_fee",
                ),
                _ => (
                    call.fields.get("out_trade_no").map(String::as_str),
                    "total_fee",
                ),
            };
            let key = Key {
                op: api.op(),
                order: order.map(str::to_string),
                amount: call
                    .fields
                    .get(amount)
                    .and_then(|t| t.parse::<i64>().ok())
                    .map(|f| Decimal::new(f, 2)),
            };
            Decoded::Call { call, key }
        }
    }
}

/// The checks the channel makes before it looks at what is asked, in its order.
fn authenticate(spec: &Spec, api: Api, req: &InboundRequest) -> Result<Call, Reply> {
    if req.method != Method::POST {
        return Err(comm_fail("请使用post方法", "REQUIRE_POST_METHOD"));
    }
    if req.body.is_empty() {
        return Err(comm_fail("post数据为空", "POST_DATA_EMPTY"));
    }
    let text = std::str::from_utf8(&req.body).map_err(|_| comm_fail("编码格式错误", "NOT_UTF8"))?;
    let fields = xml::parse(text).map_err(|_| comm_fail("XML格式错误", "XML_FORMAT_ERROR"))?;
    let Some(mch_id) = fields.get("mch_id").filter(|v| !v.is_empty()) else {
        return Err(comm_fail("缺少参数mch_id", "LACK_PARAMS"));
    };
    let Some(merchant) = spec.merchant(mch_id) else {
        return Err(comm_fail("商户号mch_id不存在", "MCHID_NOT_EXIST"));
    };
    // downloadbill and other tool APIs do not require appid on every call; payment APIs do.
    // When one is given it must be the merchant's.
    let appid = fields.get("appid").map(String::as_str).unwrap_or("");
    if appid.is_empty() && api != Api::DownloadBill {
        return Err(comm_fail("缺少参数appid", "LACK_PARAMS"));
    }
    if !appid.is_empty() && appid != merchant.appid {
        return Err(comm_fail("appid和mch_id不匹配", "APPID_MCHID_NOT_MATCH"));
    }
    if fields
        .get("nonce_str")
        .is_none_or(|n| n.is_empty() || n.len() > 32)
    {
        return Err(comm_fail("nonce_str参数格式错误", "PARAM_ERROR"));
    }
    let Some(sign_type) = SignType::from_field(fields.get("sign_type").map(String::as_str)) else {
        return Err(comm_fail("sign_type参数格式错误", "PARAM_ERROR"));
    };
    if !sign::verify(&fields, &merchant.key) {
        return Err(comm_fail("签名错误", "SIGNERROR"));
    }
    Ok(Call {
        instance: spec.id.clone(),
        api,
        merchant: merchant.clone(),
        fields,
        sign_type,
    })
}

/// True when `body` is a correct v2 acknowledgement of a notification: HTTP 200 and XML
/// with `return_code` SUCCESS.
pub fn is_ack(status: StatusCode, body: &[u8]) -> bool {
    status == StatusCode::OK
        && std::str::from_utf8(body)
            .ok()
            .and_then(|t| xml::parse(t).ok())
            .is_some_and(|f| f.get("return_code").is_some_and(|c| c == "SUCCESS"))
}

#[cfg(test)]
mod tests {
    use super::super::spec::OPS;
    use super::*;

    #[test]
    fn every_operation_is_listed() {
        for api in APIS {
            assert_eq!(Api::route(api.op()), Some(api));
            assert!(OPS.contains(&api.op()), "{}", api.op());
        }
        for kind in [
            crate::core::NotificationKind::Payment,
            crate::core::NotificationKind::Refund,
        ] {
            assert!(OPS.contains(&kind.op()), "{}", kind.op());
        }
        assert_eq!(OPS.len(), APIS.len() + 2);
    }

    #[test]
    fn acks_are_recognised() {
        let ok = StatusCode::OK;
        assert!(is_ack(ok, b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"));
        assert!(!is_ack(
            StatusCode::INTERNAL_SERVER_ERROR,
            b"<xml><return_code>SUCCESS</return_code></xml>"
        ));
        assert!(!is_ack(ok, b"<xml><return_code>FAIL</return_code></xml>"));
        assert!(!is_ack(ok, b"success"));
        assert!(!is_ack(ok, b""));
    }
}
