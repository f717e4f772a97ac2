//! The Alipay gateway's vocabulary, shared by reading requests ([`super::request`]) and
//! writing responses and notifications ([`super::response`], [`super::notify`]): the
//! charsets, the methods, the string a signature covers, and what acknowledges a
//! notification.
//!
//! **Charset.** A request names its `charset` (`utf-8`, or `GBK` as the Java SDK may send);
//! its values are read in it, its signature was computed in it, and its response and the
//! notifications of the trade it makes are written in it.
//!
//! **Signature.** Every parameter but `sign`, empty values left out, sorted by name, joined
//! `k=v&…` with raw values, in the request's charset, checked as SHA256withRSA with the
//! app's public key. `sign_type` takes part (the SDKs sign it; only notifications leave it
//! out: see `notify`).

use hyper::StatusCode;

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
