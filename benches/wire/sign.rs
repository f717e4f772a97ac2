//! The default world's WeChat Pay merchant, and signed v2 requests for it built the way a
//! client builds them (sorted `k=v&…&key=KEY`, MD5, upper-case hex): the one place the
//! benches take credentials and signatures from.

use md5::{Digest, Md5};

/// The default world's merchant (scenarios/default.toml).
pub const APPID: &str = "wx2421b1c4370ec43b";
/// Its merchant id.
pub const MCH_ID: &str = "10000100";
/// Its API key.
pub const KEY: &str = "192006250b4c09247ec02edce69f6a2d";

/// The XML body of a request with `fields`, signed with [`KEY`].
pub fn signed_xml(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut sorted: Vec<&(&str, &str)> = fields.iter().filter(|(_, v)| !v.is_empty()).collect();
    sorted.sort_by_key(|(k, _)| *k);
    let mut plain = String::new();
    for (k, v) in &sorted {
        plain.push_str(k);
        plain.push('=');
        plain.push_str(v);
        plain.push('&');
    }
    plain.push_str("key=");
    plain.push_str(KEY);
    let sign = hex::encode_upper(Md5::digest(plain.as_bytes()));
    let mut xml = String::from("<xml>");
    for (k, v) in fields.iter().chain([&("sign", sign.as_str())]) {
        xml.push_str(&format!("<{k}>{v}</{k}>"));
    }
    xml.push_str("</xml>");
    xml.into_bytes()
}

/// A signed `pay/orderquery` for `out_trade_no`.
pub fn orderquery(out_trade_no: &str, nonce: &str) -> Vec<u8> {
    signed_xml(&[
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("out_trade_no", out_trade_no),
        ("nonce_str", nonce),
    ])
}

/// A NATIVE `pay/unifiedorder` of the default world's merchant: what the benches' orders
/// differ in.
pub struct Order<'a> {
    /// The merchant's order number.
    pub out_trade_no: &'a str,
    /// `nonce_str`.
    pub nonce: &'a str,
    /// The order's description (`body`).
    pub body: &'a str,
    /// Amount in fen.
    pub total_fee: &'a str,
    /// Where the world sends the payment notification.
    pub notify_url: &'a str,
    /// `product_id` (a NATIVE order needs one).
    pub product_id: &'a str,
}

impl Order<'_> {
    /// The signed XML body.
    pub fn signed_xml(&self) -> Vec<u8> {
        signed_xml(&[
            ("appid", APPID),
            ("mch_id", MCH_ID),
            ("out_trade_no", self.out_trade_no),
            ("nonce_str", self.nonce),
            ("body", self.body),
            ("total_fee", self.total_fee),
            ("spbill_create_ip", "127.0.0.1"),
            ("notify_url", self.notify_url),
            ("trade_type", "NATIVE"),
            ("product_id", self.product_id),
        ])
    }
}

/// A signed NATIVE `pay/unifiedorder` for `out_trade_no`, notifying `notify_url`.
pub fn unifiedorder(out_trade_no: &str, fee: &str, notify_url: &str) -> Vec<u8> {
    Order {
        out_trade_no,
        nonce: "5K8264ILTKCH16CQ",
        body: "sandbank bench",
        total_fee: fee,
        notify_url,
        product_id: "bench",
    }
    .signed_xml()
}
