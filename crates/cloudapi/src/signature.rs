//! Webhook authentication: the `X-Hub-Signature-256` check on every POST and the
//! `hub.verify_token` handshake on subscription (cloudapi.md §1, §2).
//!
//! The signature covers the raw body bytes exactly as received; verify before parsing.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &[u8] = b"sha256=";

/// Why a delivery's signature was refused. Messages name the header, never the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    #[error("malformed X-Hub-Signature-256 header: expected `sha256=` and 64 hex digits")]
    Malformed,
    #[error("X-Hub-Signature-256 does not match the body")]
    Mismatch,
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length (longer ones are hashed first): this cannot fail.
    HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// A well-formed `X-Hub-Signature-256` value (`sha256=` and 64 hex digits), not yet
/// checked against a body: parsing it first lets a receiver refuse a delivery without
/// one before reading the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature([u8; 32]);

impl Signature {
    /// Parses the header's value. Accepts upper- or lowercase hex.
    ///
    /// # Errors
    /// [`SignatureError::Missing`] without a header, [`SignatureError::Malformed`] when it
    /// is not `sha256=` followed by 64 hex digits.
    pub fn parse(header: Option<&[u8]>) -> Result<Self, SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let hex = header.strip_prefix(PREFIX).ok_or(SignatureError::Malformed)?;
        let mut tag = [0u8; 32];
        if hex.len() != 2 * tag.len() {
            return Err(SignatureError::Malformed);
        }
        hex::decode_to_slice(hex, &mut tag).map_err(|_| SignatureError::Malformed)?;
        Ok(Self(tag))
    }

    /// Checks it against HMAC-SHA256(`app_secret`, `body`) in constant time.
    ///
    /// # Errors
    /// [`SignatureError::Mismatch`] when the HMAC differs.
    pub fn verify(&self, app_secret: &[u8], body: &[u8]) -> Result<(), SignatureError> {
        let mut mac = mac(app_secret);
        mac.update(body);
        mac.verify_slice(&self.0).map_err(|_| SignatureError::Mismatch)
    }
}

/// Checks `header` (the `X-Hub-Signature-256` value, `sha256=<hex>`) against
/// HMAC-SHA256(`app_secret`, `body`) in constant time: [`Signature::parse`], then
/// [`Signature::verify`].
///
/// # Errors
/// [`SignatureError::Missing`] without a header, [`SignatureError::Malformed`] when it is not
/// `sha256=` followed by 64 hex digits, [`SignatureError::Mismatch`] when the HMAC differs.
pub fn verify_signature(app_secret: &[u8], header: Option<&[u8]>, body: &[u8]) -> Result<(), SignatureError> {
    Signature::parse(header)?.verify(app_secret, body)
}

/// The `X-Hub-Signature-256` value Meta would send for `body`: `sha256=<lowercase hex>`.
#[must_use]
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = mac(app_secret);
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!("sha256={}", hex::encode(tag))
}

/// The subscription handshake (`GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`):
/// returns the challenge to echo as the plain-text body when the mode is `subscribe` and the
/// token matches `expected_token`, `None` otherwise (answer 403). The token is compared in
/// constant time; an empty `expected_token` matches nothing, so an unconfigured verify token
/// can never be guessed.
#[must_use]
pub fn verify_subscription<'a>(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&'a str>,
    expected_token: &[u8],
) -> Option<&'a str> {
    if mode != Some("subscribe") || expected_token.is_empty() {
        return None;
    }
    let token = token?;
    // Constant-time equality without a length leak: compare MACs of both under one key.
    let expected = mac(expected_token).chain_update(expected_token).finalize().into_bytes();
    mac(expected_token).chain_update(token).verify(&expected).ok()?;
    challenge
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const META_SECRET: &[u8] = b"TEST_APP_SECRET";
    const META_HEX: &str = "0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221";

    fn header(s: &str) -> Option<&[u8]> {
        Some(s.as_bytes())
    }

    #[test]
    fn meta_test_vector_signs_and_verifies() {
        assert_eq!(sign(META_SECRET, b"test"), format!("sha256={META_HEX}"));
        let h = format!("sha256={META_HEX}");
        assert_eq!(verify_signature(META_SECRET, header(&h), b"test"), Ok(()));
    }

    #[test]
    fn uppercase_hex_is_accepted() {
        let h = format!("sha256={}", META_HEX.to_uppercase());
        assert_eq!(verify_signature(META_SECRET, header(&h), b"test"), Ok(()));
    }

    #[test]
    fn missing_header_is_missing() {
        assert_eq!(verify_signature(META_SECRET, None, b"test"), Err(SignatureError::Missing));
    }

    #[test]
    fn malformed_headers_are_malformed() {
        let cases = [
            String::new(),
            META_HEX.to_owned(),                     // no prefix
            format!("sha1={META_HEX}"),              // wrong prefix
            format!("SHA256={META_HEX}"),            // prefix is case-sensitive
            format!("sha256= {META_HEX}"),           // stray space
            format!("sha256={}", &META_HEX[..62]),   // too short
            format!("sha256={META_HEX}00"),          // too long
            format!("sha256={}zz", &META_HEX[..62]), // not hex
            "sha256=".to_owned(),
        ];
        for h in &cases {
            assert_eq!(verify_signature(META_SECRET, header(h), b"test"), Err(SignatureError::Malformed), "{h:?}");
        }
        // Not UTF-8 at all.
        assert_eq!(verify_signature(META_SECRET, Some(b"sha256=\xff\xfe"), b"test"), Err(SignatureError::Malformed));
    }

    #[test]
    fn wrong_value_is_a_mismatch() {
        let flipped = format!("sha256=1{}", &META_HEX[1..]);
        assert_eq!(verify_signature(META_SECRET, header(&flipped), b"test"), Err(SignatureError::Mismatch));
        let h = format!("sha256={META_HEX}");
        assert_eq!(verify_signature(META_SECRET, header(&h), b"test "), Err(SignatureError::Mismatch));
        assert_eq!(verify_signature(b"other", header(&h), b"test"), Err(SignatureError::Mismatch));
    }

    #[test]
    fn escaped_unicode_body_is_signed_as_sent() {
        // Meta signs the escaped bytes; a decoded re-serialisation must not verify.
        let sent = br#"{"text":{"body":"\u00e4\u00f6\u00e5 \ud83d\ude2e"}}"#;
        let h = sign(META_SECRET, sent);
        assert_eq!(verify_signature(META_SECRET, header(&h), sent), Ok(()));
        let decoded = r#"{"text":{"body":"äöå 😮"}}"#.as_bytes();
        assert_eq!(verify_signature(META_SECRET, header(&h), decoded), Err(SignatureError::Mismatch));
    }

    #[test]
    fn errors_never_show_the_secret() {
        for e in [SignatureError::Missing, SignatureError::Malformed, SignatureError::Mismatch] {
            assert!(!e.to_string().contains("TEST_APP_SECRET"));
            assert!(!format!("{e:?}").contains("TEST_APP_SECRET"));
        }
    }

    #[test]
    fn subscription_echoes_the_challenge_only_for_the_right_token() {
        let ok = verify_subscription(Some("subscribe"), Some("s3cret"), Some("1158201444"), b"s3cret");
        assert_eq!(ok, Some("1158201444"));
        assert_eq!(verify_subscription(Some("subscribe"), Some("s3cre"), Some("1"), b"s3cret"), None);
        assert_eq!(verify_subscription(Some("subscribe"), Some("s3cretx"), Some("1"), b"s3cret"), None);
        assert_eq!(verify_subscription(Some("subscribe"), None, Some("1"), b"s3cret"), None);
        assert_eq!(verify_subscription(Some("unsubscribe"), Some("s3cret"), Some("1"), b"s3cret"), None);
        assert_eq!(verify_subscription(None, Some("s3cret"), Some("1"), b"s3cret"), None);
        assert_eq!(verify_subscription(Some("subscribe"), Some("s3cret"), None, b"s3cret"), None);
        assert_eq!(verify_subscription(Some("subscribe"), Some(""), Some("1"), b""), None);
    }

    proptest! {
        #[test]
        fn sign_then_verify_round_trips(
            key in prop::collection::vec(any::<u8>(), 0..200),
            body in prop::collection::vec(any::<u8>(), 0..2000),
        ) {
            let h = sign(&key, &body);
            prop_assert_eq!(h.len(), 7 + 64);
            prop_assert_eq!(verify_signature(&key, Some(h.as_bytes()), &body), Ok(()));
            // Flip a bit rather than draw a second key: HMAC zero-pads short keys, so `k` and
            // `k ++ [0]` are the same key.
            let mut other = key.clone();
            match other.first_mut() {
                Some(b) => *b ^= 1,
                None => other.push(1),
            }
            prop_assert_eq!(verify_signature(&other, Some(h.as_bytes()), &body), Err(SignatureError::Mismatch));
        }
    }
}
