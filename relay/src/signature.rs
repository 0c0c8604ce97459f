//! Checking that a delivery comes from the source: HMAC-SHA256 signatures (Flipt,
//! LaunchDarkly, GrowthBook, GO Feature Flag) and a shared `Authorization` value (Unleash),
//! both compared in constant time. An empty secret matches nothing: anybody can sign with a
//! key of no bytes, or send an empty `Authorization`.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Secret;

/// Whether `signature` (hex, as Flipt's `x-flipt-webhook-signature` and LaunchDarkly's
/// `X-LD-Signature` carry it) is the HMAC-SHA256 of the exact `body` bytes under `secret`.
/// The comparison takes the same time wherever the bytes differ. Never with an empty secret.
pub fn valid_hmac_signature(secret: &Secret, body: &[u8], signature: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Ok(signature) = hex::decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&signature).is_ok()
}

/// The lowercase hex HMAC-SHA256 of `body` under `secret`: what Flipt and LaunchDarkly send.
pub fn hmac_signature(secret: &Secret, body: &[u8]) -> String {
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => String::new(),
    }
}

/// Whether `presented` (an `Authorization` header) equals `expected`. Both are hashed first, so
/// neither the content nor the length of the secret shows in the time taken. Never with an
/// empty secret.
pub fn valid_shared_secret(expected: &Secret, presented: &[u8]) -> bool {
    if expected.is_empty() {
        return false;
    }
    let expected = Sha256::digest(expected.as_bytes());
    let presented = Sha256::digest(presented);
    expected.ct_eq(&presented).into()
}
