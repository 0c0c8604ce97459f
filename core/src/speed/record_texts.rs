//! A record's texts that repeat on every evaluation, shared in one lookup.

use std::cell::Cell;
use std::hash::BuildHasher;

use crate::speed::shared_text::interned_text;
use crate::{EvaluationRecord, FastBuildHasher};

const SLOTS: usize = 256;

thread_local! {
    /// The texts last seen per flag key, direct-mapped by the key's hash: 256 entries.
    static LAST_TEXTS: [Cell<Option<RecordTexts>>; SLOTS] = const { [const { Cell::new(None) }; SLOTS] };
}

/// The flag key, variant and provider name of a record as interned texts (see
/// `shared_text`): what backends copy into attributes on every evaluation.
///
/// Resolving them through `shared_text` one by one costs a hash and a table probe each;
/// [`RecordTexts::of`] remembers, per thread and per flag key, the texts it returned last time,
/// so a flag evaluated again with the same variant and provider costs one hash and three
/// comparisons. The texts are `&'static str`: copying them into attributes and dropping those
/// touches no reference count.
///
/// ```
/// use open_feature::EvaluationContext;
/// use openfeature_hooks_core::{EvaluationRecord, FlagType};
/// use openfeature_hooks_core::__private::{RecordTexts};
///
/// let context = EvaluationContext::default();
/// let mut record = EvaluationRecord::new("new-checkout", FlagType::Bool, &context);
/// record.variant = Some("on");
/// let texts = RecordTexts::of(&record).expect("short texts are interned");
/// assert_eq!(texts.flag_key, "new-checkout");
/// assert_eq!(texts.variant, Some("on"));
/// assert_eq!(texts.provider_name, None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordTexts {
    /// [`EvaluationRecord::flag_key`].
    pub flag_key: &'static str,
    /// [`EvaluationRecord::variant`].
    pub variant: Option<&'static str>,
    /// [`EvaluationRecord::provider_name`].
    pub provider_name: Option<&'static str>,
}

impl RecordTexts {
    /// The interned texts of `record`'s flag key, variant and provider name; `None` when one
    /// of them cannot be interned (too long, or the interned table is full): use
    /// [`shared_text`](crate::speed::shared_text) for each then.
    pub fn of(record: &EvaluationRecord<'_>) -> Option<Self> {
        let slot = FastBuildHasher::default().hash_one(record.flag_key) as usize % SLOTS;
        LAST_TEXTS
            .try_with(|cache| {
                let cached = cache[slot].get();
                if let Some(last) = cached.filter(|last| last.describes(record)) {
                    return Some(last);
                }
                let texts = Self::resolve(record)?;
                cache[slot].set(Some(texts));
                Some(texts)
            })
            .unwrap_or_else(|_| Self::resolve(record))
    }

    fn resolve(record: &EvaluationRecord<'_>) -> Option<Self> {
        Some(Self {
            flag_key: interned_text(record.flag_key)?,
            variant: record
                .variant
                .map(interned_text)
                .map_or(Some(None), |text| text.map(Some))?,
            provider_name: record
                .provider_name
                .map(interned_text)
                .map_or(Some(None), |text| text.map(Some))?,
        })
    }

    fn describes(&self, record: &EvaluationRecord<'_>) -> bool {
        self.flag_key == record.flag_key
            && self.variant == record.variant
            && self.provider_name == record.provider_name
    }
}

#[cfg(test)]
mod tests {
    use open_feature::EvaluationContext;

    use super::*;
    use crate::FlagType;

    #[test]
    fn a_changed_variant_or_provider_is_never_served_from_the_cache() {
        let context = EvaluationContext::default();
        let mut record = EvaluationRecord::new("checkout", FlagType::Bool, &context);
        for (variant, provider) in [
            (Some("on"), Some("flagd")),
            (Some("on"), Some("flagd")),
            (Some("off"), Some("flagd")),
            (None, Some("flagd")),
            (None, None),
            (Some("on"), Some("other")),
        ] {
            record.variant = variant;
            record.provider_name = provider;
            let texts = RecordTexts::of(&record).expect("short texts are interned");
            assert_eq!(texts.flag_key, "checkout");
            assert_eq!(texts.variant, variant);
            assert_eq!(texts.provider_name, provider);
        }
    }

    #[test]
    fn texts_that_cannot_be_interned_give_none() {
        let context = EvaluationContext::default();
        let long = "k".repeat(crate::MAX_SHARED_TEXT_LEN + 1);
        let mut record = EvaluationRecord::new("checkout", FlagType::Bool, &context);
        record.variant = Some(&long);
        assert_eq!(RecordTexts::of(&record), None);
    }

    #[test]
    fn colliding_keys_replace_each_other_correctly() {
        let context = EvaluationContext::default();
        for i in 0..2_000 {
            let key = format!("flag-{}", i % 700);
            let record = EvaluationRecord::new(&key, FlagType::Bool, &context);
            if let Some(texts) = RecordTexts::of(&record) {
                assert_eq!(texts.flag_key, key.as_str());
            }
        }
    }
}
