//! A well-mixed 64-bit hash of an evaluation's context, for the volume controls.

use std::hash::BuildHasher;

use crate::{EvaluationRecord, FastBuildHasher, context_id_source};

/// A 64-bit fingerprint of `record`'s raw context id ([`context_id_source`]), the same in every
/// process and every version of this crate's 0.x line; `None` when the evaluation has no
/// context id.
///
/// Computed in memory whatever the [`ContextIdPolicy`](crate::ContextIdPolicy) writes out, so
/// deduplication, sampling and distinct-context counts work when the output omits or hashes the
/// id. It is not a keyed hash: never export it (a dictionary of known ids would reverse it).
///
/// ```
/// use open_feature::EvaluationContext;
/// use openfeature_hooks_core::{EvaluationRecord, FlagType};
/// use openfeature_hooks_core::__private::{context_fingerprint};
///
/// let alice = EvaluationContext::default().with_targeting_key("alice");
/// let anonymous = EvaluationContext::default();
/// let first = EvaluationRecord::new("checkout", FlagType::Bool, &alice);
/// let again = EvaluationRecord::new("search", FlagType::Bool, &alice);
/// assert_eq!(context_fingerprint(&first), context_fingerprint(&again));
/// assert_eq!(context_fingerprint(&EvaluationRecord::new("checkout", FlagType::Bool, &anonymous)), None);
/// ```
#[inline]
pub fn context_fingerprint(record: &EvaluationRecord<'_>) -> Option<u64> {
    context_id_source(record).map(text_fingerprint)
}

/// A well-mixed 64-bit hash of `text`.
#[inline]
pub(crate) fn text_fingerprint(text: &str) -> u64 {
    FastBuildHasher::default().hash_one(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_across_versions() {
        // Pinned: sampling keeps the same contexts in every process and release.
        assert_eq!(text_fingerprint("user-1"), KNOWN_USER_1);
        assert_ne!(text_fingerprint("user-1"), text_fingerprint("user-2"));
        assert_ne!(text_fingerprint(""), text_fingerprint("\u{0}"));
    }

    const KNOWN_USER_1: u64 = 4_968_940_865_805_423_763;
}
