//! The context id (`feature_flag.context.id`) and the policy that protects it.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};

use open_feature::{EvaluationContext, FlagMetadata, FlagMetadataValue};
use siphasher::sip128::SipHasher24;

use crate::EvaluationRecord;
use crate::record::evaluation_record::metadata_entry;

/// What the hook does with the context id: flag metadata `contextId`, else the targeting key.
///
/// The targeting key is usually a user id, an account id or an e-mail address, and telemetry
/// backends are read by more people, and kept longer, than the flag system. So the default is
/// [`ContextIdPolicy::Omit`]: nothing identifying leaves the process unless the application
/// opts in, the same stance as Sentry's `send_default_pii = false`.
///
/// - [`ContextIdPolicy::Keep`] records the id as it is: choose it where ids are not personal
///   data, or where the backend is allowed to hold them.
/// - [`ContextIdPolicy::Hash`] records a keyed hash (SipHash-2-4, 128 bits, 32 hex digits). The
///   same id gives the same hash wherever the same key is used, so evaluations can still be
///   grouped by context and joined across services; without the key, a dictionary of known ids
///   cannot be hashed to reverse it.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum ContextIdPolicy {
    /// Record no context id (the default).
    #[default]
    Omit,
    /// Record the context id unchanged.
    Keep,
    /// Record a keyed hash of the context id.
    Hash(ContextIdKey),
}

impl ContextIdPolicy {
    /// Hash with `key`.
    pub fn hashed(key: ContextIdKey) -> Self {
        ContextIdPolicy::Hash(key)
    }

    /// Applies the policy to an evaluation's context id source.
    ///
    /// Inlined so that the default policy costs one comparison: returned from a call, the
    /// `None` came back through memory and was read back before its store had completed.
    #[inline]
    pub(crate) fn context_id<'a>(
        &self,
        metadata: Option<&'a FlagMetadata>,
        context: &'a EvaluationContext,
    ) -> Option<ContextId<'a>> {
        if matches!(self, ContextIdPolicy::Omit) {
            return None;
        }
        self.kept_or_hashed(metadata, context)
    }

    #[inline(never)]
    fn kept_or_hashed<'a>(
        &self,
        metadata: Option<&'a FlagMetadata>,
        context: &'a EvaluationContext,
    ) -> Option<ContextId<'a>> {
        let raw = source(metadata, context)?;
        Some(match self {
            ContextIdPolicy::Hash(key) => ContextId::Hashed(key.hash(raw)),
            _ => ContextId::Raw(raw),
        })
    }
}

/// The raw context id of `record` before any [`ContextIdPolicy`]: flag metadata `contextId` (a
/// non-empty string), else a non-empty targeting key.
///
/// For in-memory uses that must tell contexts apart whatever the record writes out (exposure
/// deduplication, sampling, distinct-context counts): it is the same text the policy keeps or
/// hashes. It can be personal data: hash it, never export it. A record whose flag metadata was
/// excluded ([`Attribute::Metadata`](crate::Attribute::Metadata)) falls back to the targeting
/// key.
pub fn context_id_source<'a>(record: &EvaluationRecord<'a>) -> Option<&'a str> {
    source(record.metadata, record.evaluation_context)
}

/// Flag metadata `contextId` (a non-empty string), else a non-empty targeting key.
fn source<'a>(
    metadata: Option<&'a FlagMetadata>,
    context: &'a EvaluationContext,
) -> Option<&'a str> {
    let from_metadata =
        metadata.filter(|m| !m.values.is_empty()).and_then(|m| {
            match metadata_entry(m, "contextId") {
                Some(FlagMetadataValue::String(id)) if !id.is_empty() => Some(id.as_str()),
                _ => None,
            }
        });
    from_metadata.or_else(|| context.targeting_key.as_deref().filter(|k| !k.is_empty()))
}

/// The secret key of [`ContextIdPolicy::Hash`]. Its `Debug` output never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ContextIdKey([u8; 16]);

impl ContextIdKey {
    /// A key from 16 secret bytes. Use the same key in every service whose hashes should match,
    /// and keep it out of source control.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// A key from a hex string of 32 digits, as kept in a secret store or an environment
    /// variable. `None` if the text is not exactly 32 hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim().as_bytes();
        if text.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let high = (pair[0] as char).to_digit(16)?;
            let low = (pair[1] as char).to_digit(16)?;
            *byte = (high * 16 + low) as u8;
        }
        Some(Self(bytes))
    }

    /// A random key, drawn from the operating system's randomness through std's hasher seeds.
    /// Hashes then match only within this process: enough to count distinct contexts and to
    /// follow one context through a process's telemetry, never to identify it.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        for half in bytes.chunks_exact_mut(8) {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(0x6f66_686f_6f6b_7321);
            half.copy_from_slice(&hasher.finish().to_le_bytes());
        }
        Self(bytes)
    }

    fn hash(&self, raw: &str) -> HashedContextId {
        let digest = SipHasher24::new_with_key(&self.0)
            .hash(raw.as_bytes())
            .as_u128();
        let mut hex = [0u8; 32];
        for (i, slot) in hex.iter_mut().enumerate() {
            let nibble = (digest >> (124 - 4 * i)) & 0xf;
            *slot = b"0123456789abcdef"[nibble as usize];
        }
        HashedContextId(hex)
    }
}

impl fmt::Debug for ContextIdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContextIdKey(<redacted>)")
    }
}

/// A context id as recorded: the raw id, or its keyed hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextId<'a> {
    /// The id unchanged ([`ContextIdPolicy::Keep`]).
    Raw(&'a str),
    /// The id's keyed hash ([`ContextIdPolicy::Hash`]).
    Hashed(HashedContextId),
}

impl ContextId<'_> {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        match self {
            ContextId::Raw(raw) => raw,
            ContextId::Hashed(hashed) => hashed.as_str(),
        }
    }
}

impl fmt::Display for ContextId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A keyed hash of a context id: 32 lower-case hex digits, held inline (no allocation).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashedContextId([u8; 32]);

impl HashedContextId {
    /// The hash as 32 hex digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into the array.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for HashedContextId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HashedContextId({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(key: &str) -> EvaluationContext {
        EvaluationContext::default().with_targeting_key(key)
    }

    #[test]
    fn omit_is_the_default_and_records_nothing() {
        let policy = ContextIdPolicy::default();
        assert!(matches!(policy, ContextIdPolicy::Omit));
        assert_eq!(policy.context_id(None, &context("user-1")), None);
    }

    #[test]
    fn keep_prefers_metadata_context_id_over_targeting_key() {
        let policy = ContextIdPolicy::Keep;
        let metadata = FlagMetadata::default().with_value("contextId", "ctx-9");
        let ctx = context("user-1");
        assert_eq!(
            policy.context_id(Some(&metadata), &ctx),
            Some(ContextId::Raw("ctx-9"))
        );
        assert_eq!(
            policy.context_id(None, &ctx),
            Some(ContextId::Raw("user-1"))
        );
        // A non-string or empty contextId falls back to the targeting key.
        let numeric = FlagMetadata::default().with_value("contextId", 7_i64);
        assert_eq!(
            policy.context_id(Some(&numeric), &ctx),
            Some(ContextId::Raw("user-1"))
        );
        assert_eq!(policy.context_id(None, &EvaluationContext::default()), None);
        assert_eq!(policy.context_id(None, &context("")), None);
    }

    #[test]
    fn metadata_context_id_is_found_in_small_and_large_maps() {
        let ctx = context("user-1");
        for extra in [0, 3, 20] {
            let mut metadata = FlagMetadata::default().with_value("contextId", "ctx-9");
            for i in 0..extra {
                metadata = metadata.with_value(format!("k{i}"), i as i64);
            }
            assert_eq!(
                ContextIdPolicy::Keep.context_id(Some(&metadata), &ctx),
                Some(ContextId::Raw("ctx-9")),
                "{extra} other entries"
            );
            let without = FlagMetadata {
                values: metadata
                    .values
                    .into_iter()
                    .filter(|(k, _)| k != "contextId")
                    .collect(),
            };
            assert_eq!(
                ContextIdPolicy::Keep.context_id(Some(&without), &ctx),
                Some(ContextId::Raw("user-1"))
            );
        }
    }

    #[test]
    fn hash_is_keyed_stable_and_hides_the_id() {
        let key = ContextIdKey::from_bytes([7; 16]);
        let policy = ContextIdPolicy::hashed(key.clone());
        let ctx = context("alice@example.com");
        let first = policy.context_id(None, &ctx).map(|id| id.to_string());
        let again = policy.context_id(None, &ctx).map(|id| id.to_string());
        assert_eq!(first, again);
        let hashed = first.unwrap_or_default();
        assert_eq!(hashed.len(), 32);
        assert!(hashed.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!hashed.contains("alice"));

        let other_key = ContextIdPolicy::hashed(ContextIdKey::from_bytes([8; 16]));
        assert_ne!(
            other_key.context_id(None, &ctx).map(|id| id.to_string()),
            Some(hashed.clone())
        );
        let bob = context("bob@example.com");
        let other_id = policy.context_id(None, &bob).map(|id| id.to_string());
        assert_ne!(other_id, Some(hashed));
    }

    #[test]
    fn known_answer_for_a_fixed_key() {
        // Pins the output format and algorithm: a silent change would break joins across
        // services and across versions of this crate.
        let key = ContextIdKey::from_hex("000102030405060708090a0b0c0d0e0f");
        let policy = ContextIdPolicy::hashed(key.unwrap_or_else(ContextIdKey::random));
        let id = policy
            .context_id(None, &context("user-1"))
            .map(|id| id.to_string());
        assert_eq!(id.as_deref(), Some(KNOWN_HASH_OF_USER_1));
    }

    /// Computed once with this crate; trustworthy because the same hasher passes the published
    /// SipHash-2-4-128 vector below.
    const KNOWN_HASH_OF_USER_1: &str = "c46a332fd3f33c54d6917c8cbc7723f1";

    #[test]
    fn hasher_matches_the_published_siphash_2_4_128_vector() {
        // Reference implementation's vectors: key 00..0f, empty message.
        let key: [u8; 16] = std::array::from_fn(|i| i as u8);
        let digest = SipHasher24::new_with_key(&key).hash(b"").as_bytes();
        assert_eq!(
            digest,
            [
                0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55,
                0x02, 0x93
            ]
        );
    }

    #[test]
    fn keys_from_hex_and_their_debug_output() {
        assert!(ContextIdKey::from_hex("00").is_none());
        assert!(ContextIdKey::from_hex(&"zz".repeat(16)).is_none());
        let key = ContextIdKey::from_hex(&"ab".repeat(16));
        assert_eq!(key, Some(ContextIdKey::from_bytes([0xab; 16])));
        let debug = format!(
            "{:?}",
            ContextIdPolicy::hashed(ContextIdKey::from_bytes([0xab; 16]))
        );
        assert!(!debug.contains("ab, ") && !debug.contains("171"), "{debug}");
        assert!(debug.contains("redacted"));
    }

    #[test]
    fn random_keys_differ() {
        assert_ne!(ContextIdKey::random(), ContextIdKey::random());
    }
}
