//! Webhook secrets: never shown by `Debug`, never logged.

use std::fmt;

/// A shared secret (a signing secret, an `Authorization` value). Its `Debug` output is
/// `Secret(<redacted>)`; the relay never logs it.
///
/// An empty secret matches nothing: a source configured with one gets `401` for every
/// delivery (anybody could sign with a key of no bytes).
///
/// It has no `==`: the relay compares what a delivery presents with it in constant time, and
/// a comparison that stops at the first differing byte would tell an attacker how much of a
/// guess was right.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// A secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}
