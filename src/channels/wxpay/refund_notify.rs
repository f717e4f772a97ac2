//! Refund notifications (docs/protocols.md, "A.7 Refund notifications"): when a refund
//! finishes (SUCCESS, CHANGE or REFUNDCLOSE) and its request named a `notify_url`, the
//! channel POSTs `return_code`, `appid`, `mch_id`, `nonce_str` and `req_info` — the refund's
//! details as a `<root>` document, AES-256-ECB encrypted (PKCS#7 padding) with the lower-case
//! hex MD5 of the merchant's API key as the key, then base64 — on the payment notification's
//! retry ladder until acknowledged. The envelope carries no `sign`: the encryption is what
//! proves it came from the channel.

use super::codec::is_ack;
use super::notify::RETRY_LADDER_SECS;
use super::refund::RECEIVED_BY;
use super::refund_query::dashed_local;
use super::refund_record::RefundStatus;
use super::spec::Spec;
use super::state::WxState;
use super::xml;
use crate::core::{Callback, Core, NotificationId, NotificationKind};
use aes::cipher::{generic_array::GenericArray, BlockDecrypt, BlockEncrypt, KeyInit};
use aes::Aes256;
use base64::Engine;
use md5::{Digest, Md5};
use rust_decimal::Decimal;

/// The AES block size in bytes.
const BLOCK: usize = 16;

/// The AES-256 key of merchant key `api_key`: the 32 ASCII bytes of its lower-case hex MD5.
fn cipher(api_key: &str) -> Aes256 {
    let hex: String = Md5::digest(api_key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Aes256::new(GenericArray::from_slice(hex.as_bytes()))
}

/// Encrypt `plain` as `req_info`: PKCS#7 padding to 16 bytes, AES-256-ECB, base64.
pub fn encrypt_req_info(api_key: &str, plain: &str) -> String {
    let aes = cipher(api_key);
    let pad = BLOCK - plain.len() % BLOCK;
    let mut data = plain.as_bytes().to_vec();
    data.extend(std::iter::repeat_n(pad as u8, pad));
    for block in data.chunks_exact_mut(BLOCK) {
        aes.encrypt_block(GenericArray::from_mut_slice(block));
    }
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Decrypt a `req_info` encrypted with `api_key`'s key; `None` when it is not one.
pub fn decrypt_req_info(api_key: &str, req_info: &str) -> Option<String> {
    let mut data = base64::engine::general_purpose::STANDARD
        .decode(req_info.trim())
        .ok()?;
    if data.is_empty() || data.len() % BLOCK != 0 {
        return None;
    }
    let aes = cipher(api_key);
    for block in data.chunks_exact_mut(BLOCK) {
        aes.decrypt_block(GenericArray::from_mut_slice(block));
    }
    let pad = usize::from(*data.last()?);
    if pad == 0
        || pad > BLOCK
        || data[data.len() - pad..]
            .iter()
            .any(|b| usize::from(*b) != pad)
    {
        return None;
    }
    data.truncate(data.len() - pad);
    String::from_utf8(data).ok()
}

/// Build an attempt of refund notification `id`, or `None` when it is no longer due (the
/// refund is unknown, unfinished, has no `notify_url`, or was acknowledged).
pub fn build(
    spec: &Spec,
    state: &WxState,
    core: &mut Core,
    id: &NotificationId,
) -> Option<Callback> {
    if id.kind != NotificationKind::Refund {
        return None;
    }
    let (order, i) = state.refund_by_no(&id.account, &id.reference)?;
    let r = order.refunds().get(i)?;
    if r.status == RefundStatus::Processing || r.notified {
        return None;
    }
    let url = r.notify_url.as_deref()?;
    let merchant = spec.merchant(order.mch_id())?;
    let total = order.total_fee().to_string();
    let fee = r.refund_fee.to_string();
    let success_time = r
        .finished_at
        .filter(|_| r.status == RefundStatus::Success)
        .map(dashed_local)
        .unwrap_or_default();
    let mut inner: Vec<(&str, &str)> = vec![
        ("out_refund_no", &r.out_refund_no),
        ("out_trade_no", order.out_trade_no()),
        ("refund_account", r.refund_account),
        ("refund_fee", &fee),
        ("refund_id", &r.refund_id),
        ("refund_recv_accout", RECEIVED_BY),
        ("refund_request_source", "API"),
        ("refund_status", r.status.as_str()),
        ("settlement_refund_fee", &fee),
        ("settlement_total_fee", &total),
    ];
    if !success_time.is_empty() {
        inner.push(("success_time", &success_time));
    }
    inner.push(("total_fee", &total));
    inner.push(("transaction_id", order.transaction_id().unwrap_or_default()));
    let flat = xml::write(inner);
    // The same flat document under the root the channel uses for req_info.
    let body = flat
        .strip_prefix("<xml>")
        .and_then(|s| s.strip_suffix("</xml>"))
        .unwrap_or_default();
    let plain = format!("<root>{body}</root>");
    let req_info = encrypt_req_info(&merchant.key, &plain);
    let nonce = core
        .rng_for(
            &spec.id,
            &format!("refund.notify/{}/{}", order.mch_id(), r.out_refund_no),
        )
        .alnum(32);
    Some(Callback {
        url: url.to_string(),
        content_type: "text/xml",
        body: xml::write([
            ("return_code", "SUCCESS"),
            ("appid", order.appid()),
            ("mch_id", order.mch_id()),
            ("nonce_str", &nonce),
            ("req_info", &req_info),
        ]),
        ack: is_ack,
        ladder: &RETRY_LADDER_SECS,
        amount: Some(Decimal::new(r.refund_fee, 2)),
    })
}

/// Mark refund notification `id` acknowledged: no more attempts.
pub fn acked(state: &mut WxState, id: &NotificationId) {
    let Some((order, i)) = state.refund_by_no(&id.account, &id.reference) else {
        return;
    };
    let out_trade_no = order.out_trade_no().to_string();
    if let Some(r) = state.refund_mut(&id.account, &out_trade_no, i) {
        r.notified = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_md5_hex_of_the_api_key() {
        // The value wechatpy's WeChatRefundCrypto derives for the documentation test key.
        let hex: String = Md5::digest(b"192006250b4c09247ec02edce69f6a2d")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, "d96eb16afdd491fa1e705096edbc2205");
    }

    #[test]
    fn req_info_round_trips_and_pads_whole_blocks() {
        let key = "192006250b4c09247ec02edce69f6a2d";
        for plain in [
            "",
            "a",
            "<root><refund_status>SUCCESS</refund_status></root>",
            &"x".repeat(32),
        ] {
            let enc = encrypt_req_info(key, plain);
            let raw = base64::engine::general_purpose::STANDARD
                .decode(&enc)
                .unwrap();
            assert_eq!(raw.len(), (plain.len() / 16 + 1) * 16, "{plain:?}");
            assert_eq!(decrypt_req_info(key, &enc).as_deref(), Some(plain));
            assert_eq!(
                decrypt_req_info("another-key-another-key-another-", &enc),
                None
            );
        }
    }

    #[test]
    fn aes_256_matches_the_fips_197_vector() {
        // FIPS-197 appendix C.3: AES-256 of 00112233…ff under key 000102…1f.
        let key: Vec<u8> = (0u8..32).collect();
        let aes = Aes256::new(GenericArray::from_slice(&key));
        let mut block: Vec<u8> = (0u8..16).map(|i| i * 0x11).collect();
        aes.encrypt_block(GenericArray::from_mut_slice(&mut block));
        let hex: String = block.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "8ea2b7ca516745bfeafc49904b496089");
    }
}
