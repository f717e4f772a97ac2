//! RSA keys and RSA2 (SHA256withRSA, PKCS#1 v1.5) signatures, as the Alipay gateway uses
//! them: the merchant app signs requests with its private key and the gateway checks them
//! with the app's public key; the gateway signs responses and notifications with the "Alipay"
//! private key and the merchant checks them with the Alipay public key.
//!
//! Keys are read in every shape the SDKs hand them around: PEM (`PRIVATE KEY` = PKCS#8,
//! `RSA PRIVATE KEY` = PKCS#1, `PUBLIC KEY` = X.509 SubjectPublicKeyInfo, `RSA PUBLIC KEY` =
//! PKCS#1), with explanatory text before the block (RFC 7468, 5.2), or the bare base64 of the
//! DER as the Java SDK and Alipay's key tool give it. Signing with the same key and text
//! always gives the same signature (PKCS#1 v1.5 is deterministic), so replies stay
//! reproducible under a seed.
//!
//! The shipped TEST keys (`scenarios/keys/`, README there) are compiled in: a scenario that
//! names no keys gets them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

/// The merchant app's TEST private key (PKCS#8 PEM), as shipped.
pub const TEST_APP_PRIVATE_KEY: &str = include_str!("../../../scenarios/keys/app_private_key.pem");
/// The merchant app's TEST public key (SubjectPublicKeyInfo PEM), as shipped.
pub const TEST_APP_PUBLIC_KEY: &str = include_str!("../../../scenarios/keys/app_public_key.pem");
/// sandbank's TEST "Alipay" private key (PKCS#8 PEM), as shipped.
pub const TEST_ALIPAY_PRIVATE_KEY: &str =
    include_str!("../../../scenarios/keys/alipay_private_key.pem");

/// The smallest key accepted: Alipay issues RSA2 keys of 2048 bits.
pub const MIN_KEY_BITS: usize = 2048;
/// The largest key accepted: a signature's cost grows with the cube of the size, and 4096
/// bits is the largest any key tool offers for this.
pub const MAX_KEY_BITS: usize = 4096;

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Neither PEM nor base64 DER of the wanted kind.
    #[error("not an RSA {0} key (PEM, or the base64 of its DER)")]
    Unreadable(&'static str),
    /// A PEM block of another kind.
    #[error("a PEM `{found}` block where an RSA {wanted} key was expected")]
    WrongBlock {
        /// The block's label.
        found: String,
        /// `private` or `public`.
        wanted: &'static str,
    },
    /// Outside [`MIN_KEY_BITS`]..=[`MAX_KEY_BITS`].
    #[error("an RSA key of {0} bits (RSA2 keys are {MIN_KEY_BITS} to {MAX_KEY_BITS} bits)")]
    Size(usize),
}

/// The label and the decoded body of the first PEM block in `text`, or `None` when `text`
/// has no `-----BEGIN` line (it may then be bare base64).
fn pem_block(text: &str, wanted: &'static str) -> Result<Option<(String, Vec<u8>)>, KeyError> {
    let Some(start) = text.find("-----BEGIN ") else {
        return Ok(None);
    };
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest.find("-----").ok_or(KeyError::Unreadable(wanted))?;
    let label = rest[..label_end].to_string();
    let body_and_end = &rest[label_end + 5..];
    let end_line = format!("-----END {label}-----");
    let end = body_and_end
        .find(&end_line)
        .ok_or(KeyError::Unreadable(wanted))?;
    let der = debase64(&body_and_end[..end]).ok_or(KeyError::Unreadable(wanted))?;
    Ok(Some((label, der)))
}

/// Base64 with any whitespace (line breaks) in it.
fn debase64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return None;
    }
    STANDARD.decode(compact).ok()
}

fn check_size(bits: usize) -> Result<(), KeyError> {
    if (MIN_KEY_BITS..=MAX_KEY_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(KeyError::Size(bits))
    }
}

/// A private key that signs (RSA2): a merchant app's or the Alipay one.
#[derive(Clone)]
pub struct PrivateKey {
    signer: SigningKey<Sha256>,
    key: RsaPrivateKey,
}

impl PrivateKey {
    /// Read a private key: PEM (PKCS#8 or PKCS#1) or the base64 of its DER.
    pub fn parse(text: &str) -> Result<PrivateKey, KeyError> {
        const WANTED: &str = "private";
        let key = match pem_block(text, WANTED)? {
            Some((label, der)) => match label.as_str() {
                "PRIVATE KEY" => RsaPrivateKey::from_pkcs8_der(&der).ok(),
                "RSA PRIVATE KEY" => RsaPrivateKey::from_pkcs1_der(&der).ok(),
                _ => {
                    return Err(KeyError::WrongBlock {
                        found: label,
                        wanted: WANTED,
                    })
                }
            },
            None => debase64(text).and_then(|der| {
                RsaPrivateKey::from_pkcs8_der(&der)
                    .or_else(|_| RsaPrivateKey::from_pkcs1_der(&der))
                    .ok()
            }),
        }
        .ok_or(KeyError::Unreadable(WANTED))?;
        check_size(key.size() * 8)?;
        Ok(PrivateKey {
            signer: SigningKey::new(key.clone()),
            key,
        })
    }

    /// RSA2-sign `message`; the signature in base64.
    pub fn sign(&self, message: &[u8]) -> String {
        STANDARD.encode(self.signer.sign(message).to_bytes())
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey::from_key(self.key.to_public_key())
    }

    /// The key as PKCS#8 PEM (what SDKs are configured with).
    pub fn to_pem(&self) -> String {
        // Encoding a key that was decoded cannot fail; an empty text would say so anyway.
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|p| p.to_string())
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey(RSA-{})", self.key.size() * 8)
    }
}

/// A public key that checks RSA2 signatures.
#[derive(Clone)]
pub struct PublicKey {
    verifier: VerifyingKey<Sha256>,
    key: RsaPublicKey,
}

impl PublicKey {
    fn from_key(key: RsaPublicKey) -> PublicKey {
        PublicKey {
            verifier: VerifyingKey::new(key.clone()),
            key,
        }
    }

    /// Read a public key: PEM (SubjectPublicKeyInfo or PKCS#1) or the base64 of its DER.
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        const WANTED: &str = "public";
        let key = match pem_block(text, WANTED)? {
            Some((label, der)) => match label.as_str() {
                "PUBLIC KEY" => RsaPublicKey::from_public_key_der(&der).ok(),
                "RSA PUBLIC KEY" => RsaPublicKey::from_pkcs1_der(&der).ok(),
                _ => {
                    return Err(KeyError::WrongBlock {
                        found: label,
                        wanted: WANTED,
                    })
                }
            },
            None => debase64(text).and_then(|der| {
                RsaPublicKey::from_public_key_der(&der)
                    .or_else(|_| RsaPublicKey::from_pkcs1_der(&der))
                    .ok()
            }),
        }
        .ok_or(KeyError::Unreadable(WANTED))?;
        check_size(key.size() * 8)?;
        Ok(PublicKey::from_key(key))
    }

    /// True when `signature` (base64) is this key's RSA2 signature of `message`. Anything
    /// malformed is simply not a valid signature.
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Some(bytes) = debase64(signature) else {
            return false;
        };
        let Ok(sig) = Signature::try_from(bytes.as_slice()) else {
            return false;
        };
        self.verifier.verify(message, &sig).is_ok()
    }

    /// The key as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn to_pem(&self) -> String {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &PublicKey) -> bool {
        self.key == other.key
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey(RSA-{})", self.key.size() * 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_test_keys_read_and_pair_up() {
        let app = PrivateKey::parse(TEST_APP_PRIVATE_KEY).unwrap();
        let app_pub = PublicKey::parse(TEST_APP_PUBLIC_KEY).unwrap();
        assert_eq!(app.public(), app_pub);
        let alipay = PrivateKey::parse(TEST_ALIPAY_PRIVATE_KEY).unwrap();
        assert_ne!(alipay.public(), app_pub);
        let sig = app.sign(b"a=1&b=2");
        assert!(app_pub.verify(b"a=1&b=2", &sig));
        assert!(!app_pub.verify(b"a=1&b=3", &sig));
        assert!(!alipay.public().verify(b"a=1&b=2", &sig));
        assert!(!app_pub.verify(b"a=1&b=2", "not base64!"));
        assert_eq!(sig, app.sign(b"a=1&b=2"), "PKCS#1 v1.5 is deterministic");
    }

    #[test]
    fn keys_read_in_every_shape_the_sdks_use() {
        let app = PrivateKey::parse(TEST_APP_PRIVATE_KEY).unwrap();
        let pem = app.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        // The base64 body alone, as the Java SDK takes it.
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert_eq!(PrivateKey::parse(&body).unwrap().public(), app.public());
        let pub_pem = app.public().to_pem();
        let pub_body: String = pub_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert_eq!(PublicKey::parse(&pub_body).unwrap(), app.public());
        // A public key where a private one is wanted is named as such.
        assert!(matches!(
            PrivateKey::parse(&pub_pem),
            Err(KeyError::WrongBlock { .. })
        ));
        assert!(PrivateKey::parse("hello").is_err());
        assert!(PublicKey::parse("").is_err());
    }
}
