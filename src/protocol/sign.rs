//! The sorted-fields signature of WeChat Pay v2, also used by the payout bank API
//! (docs/protocols.md, "A.3 Signatures").
//!
//! Take every field except `sign`, drop empty values, sort by name (ASCII), join as
//! `k=v&…`, append `&key=API_KEY`, then MD5 (default) or HMAC-SHA256 keyed with the API key,
//! upper-case hex. `sign_type`, when sent, is an ordinary field and is signed too.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;
use std::collections::BTreeMap;

/// The two v2 signature algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SignType {
    /// `MD5`, the default.
    #[serde(rename = "MD5")]
    Md5,
    /// `HMAC-SHA256`.
    #[serde(rename = "HMAC-SHA256")]
    HmacSha256,
}

impl SignType {
    /// Read the `sign_type` field; absent means MD5.
    pub fn from_field(v: Option<&str>) -> Option<SignType> {
        match v {
            None | Some("") | Some("MD5") => Some(SignType::Md5),
            Some("HMAC-SHA256") => Some(SignType::HmacSha256),
            Some(_) => None,
        }
    }
    /// The field value.
    pub fn as_str(self) -> &'static str {
        match self {
            SignType::Md5 => "MD5",
            SignType::HmacSha256 => "HMAC-SHA256",
        }
    }
}

/// The string that is hashed: sorted non-empty fields except `sign`, then `&key=…`.
pub fn string_to_sign(fields: &BTreeMap<String, String>, key: &str) -> String {
    sorted_string_to_sign(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())), key)
}

/// [`string_to_sign`] of fields already sorted by name.
fn sorted_string_to_sign<'a>(
    fields: impl Iterator<Item = (&'a str, &'a str)>,
    key: &str,
) -> String {
    let mut s = String::with_capacity(256);
    for (k, v) in fields {
        if k == "sign" || v.is_empty() {
            continue;
        }
        s.push_str(k);
        s.push('=');
        s.push_str(v);
        s.push('&');
    }
    s.push_str("key=");
    s.push_str(key);
    s
}

/// The signature of `fields` with `key`.
pub fn sign(fields: &BTreeMap<String, String>, key: &str, sign_type: SignType) -> String {
    sign_sorted(
        fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        key,
        sign_type,
    )
}

/// The signature of `fields`, in any order (names unique), with `key`: what [`sign`] gives
/// for the same fields, without building a map.
pub fn sign_pairs(fields: &mut [(&str, &str)], key: &str, sign_type: SignType) -> String {
    fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
    sign_sorted(fields.iter().copied(), key, sign_type)
}

/// [`sign`] over fields already in ascending name order, borrowed: the same signature,
/// without building a map or the string to sign (it is fed to the hash piece by piece).
pub fn sign_sorted<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    key: &str,
    sign_type: SignType,
) -> String {
    fn feed<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
        key: &str,
        mut update: impl FnMut(&[u8]),
    ) {
        for (k, v) in fields {
            if k == "sign" || v.is_empty() {
                continue;
            }
            update(k.as_bytes());
            update(b"=");
            update(v.as_bytes());
            update(b"&");
        }
        update(b"key=");
        update(key.as_bytes());
    }
    match sign_type {
        SignType::Md5 => {
            let mut h = Md5::new();
            feed(fields, key, |b| h.update(b));
            upper_hex(&h.finalize())
        }
        SignType::HmacSha256 => {
            // HMAC accepts keys of any length, so construction cannot fail.
            let mut mac =
                Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
            feed(fields, key, |b| mac.update(b));
            upper_hex(&mac.finalize().into_bytes())
        }
    }
}

/// Upper-case hex of `bytes` (a digest), written straight into one string.
fn upper_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
    // Only ASCII digits and letters were written.
    String::from_utf8(out).unwrap_or_default()
}

/// True when `fields["sign"]` is the right signature under the algorithm its `sign_type` names.
pub fn verify(fields: &BTreeMap<String, String>, key: &str) -> bool {
    let Some(given) = fields.get("sign") else {
        return false;
    };
    let Some(st) = SignType::from_field(fields.get("sign_type").map(String::as_str)) else {
        return false;
    };
    // Hex comparison is case-insensitive in practice; SDKs send upper case.
    sign(fields, key, st).eq_ignore_ascii_case(given)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_pairs_in_any_order_equals_signing_the_map() {
        let pairs = [
            ("mch_id", "10000100"),
            ("appid", "wxd930ea5d5a258f4f"),
            ("empty", ""),
            ("body", "test"),
        ];
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for st in [SignType::Md5, SignType::HmacSha256] {
            assert_eq!(sign_pairs(&mut pairs.clone(), KEY, st), sign(&map, KEY, st));
            // The hex is the digest's, upper case: compare with an independent encoder.
            assert_eq!(
                sign(&map, KEY, st),
                hex::encode_upper(match st {
                    SignType::Md5 => Md5::digest(string_to_sign(&map, KEY).as_bytes()).to_vec(),
                    SignType::HmacSha256 => {
                        let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
                        mac.update(string_to_sign(&map, KEY).as_bytes());
                        mac.finalize().into_bytes().to_vec()
                    }
                })
            );
        }
    }

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const KEY: &str = "192006250b4c09247ec02edce69f6a2d";

    #[test]
    fn sorted_pairs_sign_as_the_map_does() {
        let pairs = [
            ("appid", "wxd930ea5d5a258f4f"),
            ("body", "test"),
            ("device_info", ""),
            ("mch_id", "10000100"),
            ("nonce_str", "ibuaiVcKdpRxkhJA"),
            ("sign", "ignored"),
        ];
        let map = fields(&pairs);
        for st in [SignType::Md5, SignType::HmacSha256] {
            assert_eq!(sign_sorted(pairs, KEY, st), sign(&map, KEY, st));
        }
    }

    #[test]
    fn fields_of_every_size_sign_as_their_string() {
        // Values from empty to several kilobytes, fed to the hash piece by piece across its
        // 64-byte blocks: the digest is that of the whole string to sign.
        for n in [
            0usize, 1, 63, 64, 500, 990, 1000, 1017, 1023, 1024, 1025, 2100, 5000,
        ] {
            let long = "分".repeat(n / 3) + &"x".repeat(n % 3);
            let half = "y".repeat(n / 2);
            let map = fields(&[("a", "1"), ("body", &long), ("z", &half)]);
            let text = string_to_sign(&map, KEY);
            assert_eq!(
                sign(&map, KEY, SignType::Md5),
                hex::encode_upper(Md5::digest(text.as_bytes())),
                "{n}"
            );
            let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
            mac.update(text.as_bytes());
            assert_eq!(
                sign(&map, KEY, SignType::HmacSha256),
                hex::encode_upper(mac.finalize().into_bytes()),
                "{n}"
            );
        }
    }

    #[test]
    fn official_example_vectors() {
        let f = fields(&[
            ("appid", "wxd930ea5d5a258f4f"),
            ("mch_id", "10000100"),
            ("device_info", "1000"),
            ("body", "test"),
            ("nonce_str", "ibuaiVcKdpRxkhJA"),
        ]);
        assert_eq!(
            sign(&f, KEY, SignType::Md5),
            "9A0A8659F005D6984697E2CA0A9CF3B7"
        );
        assert_eq!(
            sign(&f, KEY, SignType::HmacSha256),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
    }

    #[test]
    fn wechatpy_test_vectors() {
        let f = fields(&[("test1", "test1"), ("test2", "test2")]);
        assert_eq!(
            sign(&f, KEY, SignType::Md5),
            "1E3A8D73B5A4AEE787C0F68B5DAB8520"
        );
        assert_eq!(
            sign(&f, KEY, SignType::HmacSha256),
            "EDAC6D70D2FDF5A2382F8204FC96A1918017E46ACC5297F565ED1A7610ACF659"
        );
    }

    #[test]
    fn empty_fields_and_sign_are_left_out_and_sign_type_is_signed() {
        let mut f = fields(&[("a", "1"), ("b", ""), ("sign_type", "HMAC-SHA256")]);
        assert_eq!(string_to_sign(&f, "K"), "a=1&sign_type=HMAC-SHA256&key=K");
        let s = sign(&f, "K", SignType::HmacSha256);
        f.insert("sign".into(), s);
        assert!(verify(&f, "K"));
        f.insert("a".into(), "2".into());
        assert!(!verify(&f, "K"));
    }
}
