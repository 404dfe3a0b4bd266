//! Standard Webhooks signing: `v1,` then the base64 HMAC-SHA256, keyed with the secret's
//! bytes (what follows `whsec_`, base64-decoded), of `{webhook-id}.{webhook-timestamp}.{body}`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use sha2::Sha256;

/// The prefix of a secret as shown to admins.
pub const SECRET_PREFIX: &str = "whsec_";

/// A secret's raw bytes (24 bytes: 192 bits; the specification asks for 24 to 64).
pub const SECRET_BYTES: usize = 24;

/// A new random secret: its bytes and its `whsec_…` form, shown once.
#[must_use]
pub fn generate_secret() -> (Vec<u8>, String) {
    let mut key = vec![0u8; SECRET_BYTES];
    rand::fill(key.as_mut_slice());
    let shown = format!("{SECRET_PREFIX}{}", STANDARD.encode(&key));
    (key, shown)
}

/// One signature, `v1,<base64>`.
#[must_use]
pub fn sign(key: &[u8], webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
    #[allow(clippy::expect_used)]
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(webhook_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per key, space-separated (several
/// during a secret's rotation).
#[must_use]
pub fn signature_header<'a>(
    keys: impl IntoIterator<Item = &'a [u8]>,
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    keys.into_iter().map(|k| sign(k, webhook_id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The example of the specification's reference libraries.
    #[test]
    fn signs_the_reference_example() {
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, br#"{"test": 2432232314}"#);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_are_random_and_prefixed() {
        let (a, shown) = generate_secret();
        let (b, _) = generate_secret();
        assert_ne!(a, b);
        assert_eq!(STANDARD.decode(shown.strip_prefix(SECRET_PREFIX).unwrap()).unwrap(), a);
        let h = signature_header([a.as_slice(), b.as_slice()], "msg_1", 1, b"{}");
        assert_eq!(h.split(' ').count(), 2);
    }
}
