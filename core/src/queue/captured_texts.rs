//! A record's repeated texts, captured for a background thread by copying their bytes.
//!
//! # Why copy
//!
//! [`QueuedRecord`](crate::QueuedRecord) used to hold the flag key, variant and provider name
//! as interned texts, found on the evaluation path through [`RecordTexts::of`] (a hash, a
//! per-thread table, three string comparisons), and the client name through [`shared_text`]
//! (a hash and a probe of the interned table). `perf` on `core_hook`'s JSON-lines evaluation
//! put ~32 ns of the evaluating thread there, a third of what that sink spent. Copying four
//! short texts into a buffer the record carries anyway costs a few small `memcpy`s; the
//! background thread, which has time, interns them when it needs `'static` texts (the
//! experiment span's name; the log event's attributes, through its own [`RecordTexts::of`]).
//! The measurement is in BENCHMARKS.md ("Texts copied, not looked up").
//!
//! Texts that do not fit the buffer together (more than [`INLINE_TEXT_BYTES`] bytes in all)
//! are captured as before: interned or reference-counted [`SharedText`]s.

use crate::{EvaluationRecord, RecordTexts, SharedText, shared_text};

/// How many bytes of flag key, variant, provider name and client name (together) are copied;
/// longer sets are shared texts. Chosen so that the copy takes no more room in a
/// [`QueuedRecord`](crate::QueuedRecord) than the four shared texts it replaces.
pub(crate) const INLINE_TEXT_BYTES: usize = 84;

/// The length byte of an absent text.
const ABSENT: u8 = u8::MAX;

/// The flag key, variant, provider name and client name of a captured record.
#[derive(Clone)]
pub(crate) enum CapturedTexts {
    /// The four texts' bytes, one after the other; `lengths[i]` is [`ABSENT`] for a text the
    /// record did not have.
    Inline {
        lengths: [u8; 4],
        bytes: [u8; INLINE_TEXT_BYTES],
    },
    /// Texts too long to copy together. Four fields rather than an array, so that the compiler
    /// can keep the enum's tag in a niche of theirs: the enum is no larger than they are.
    Shared {
        flag_key: SharedText,
        variant: Option<SharedText>,
        provider_name: Option<SharedText>,
        client_name: Option<SharedText>,
    },
}

impl CapturedTexts {
    /// The texts of `record`.
    #[inline]
    pub(crate) fn capture(record: &EvaluationRecord<'_>) -> Self {
        let texts = [
            Some(record.flag_key),
            record.variant,
            record.provider_name,
            record.client_name,
        ];
        let total: usize = texts.iter().map(|text| text.map_or(0, str::len)).sum();
        if total > INLINE_TEXT_BYTES {
            return Self::shared(record);
        }
        let mut lengths = [ABSENT; 4];
        let mut bytes = [0; INLINE_TEXT_BYTES];
        let mut at = 0;
        for (length, text) in lengths.iter_mut().zip(texts) {
            if let Some(text) = text {
                let end = at + text.len();
                if let Some(slot) = bytes.get_mut(at..end) {
                    slot.copy_from_slice(text.as_bytes());
                }
                // At most INLINE_TEXT_BYTES (84) < ABSENT.
                *length = text.len() as u8;
                at = end;
            }
        }
        Self::Inline { lengths, bytes }
    }

    /// The slow path, for texts too long to copy together: interned when each is short enough
    /// ([`RecordTexts::of`], cached per thread), reference-counted otherwise.
    #[cold]
    fn shared(record: &EvaluationRecord<'_>) -> Self {
        let (flag_key, variant, provider_name) = match RecordTexts::of(record) {
            Some(texts) => (
                SharedText::Interned(texts.flag_key),
                texts.variant.map(SharedText::Interned),
                texts.provider_name.map(SharedText::Interned),
            ),
            None => (
                shared_text(record.flag_key),
                record.variant.map(shared_text),
                record.provider_name.map(shared_text),
            ),
        };
        Self::Shared {
            flag_key,
            variant,
            provider_name,
            client_name: record.client_name.map(shared_text),
        }
    }

    /// The flag key, variant, provider name and client name. The copied bytes are checked
    /// as UTF-8 once, all four together (they are whole `str`s one after the other, so the
    /// check never fails; the texts would be empty if it did).
    pub(crate) fn texts(&self) -> [Option<&str>; 4] {
        match self {
            Self::Inline { lengths, bytes } => {
                let used = lengths
                    .iter()
                    .filter(|&&length| length != ABSENT)
                    .map(|&length| usize::from(length))
                    .sum::<usize>();
                let all = bytes
                    .get(..used)
                    .and_then(|used| std::str::from_utf8(used).ok())
                    .unwrap_or_default();
                let mut start = 0;
                lengths.map(|length| {
                    if length == ABSENT {
                        return None;
                    }
                    let end = start + usize::from(length);
                    let text = all.get(start..end).unwrap_or_default();
                    start = end;
                    Some(text)
                })
            }
            Self::Shared {
                flag_key,
                variant,
                provider_name,
                client_name,
            } => [
                Some(flag_key),
                variant.as_deref(),
                provider_name.as_deref(),
                client_name.as_deref(),
            ],
        }
    }
}

impl std::fmt::Debug for CapturedTexts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [flag_key, variant, provider_name, client_name] = self.texts();
        f.debug_struct("CapturedTexts")
            .field("flag_key", &flag_key.unwrap_or_default())
            .field("variant", &variant)
            .field("provider_name", &provider_name)
            .field("client_name", &client_name)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use open_feature::EvaluationContext;

    use super::*;
    use crate::FlagType;

    fn texts(record: &EvaluationRecord<'_>) -> [Option<String>; 4] {
        CapturedTexts::capture(record)
            .texts()
            .map(|text| text.map(str::to_owned))
    }

    /// A flag key, variant, provider name and client name.
    type Texts<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);

    #[test]
    fn every_text_comes_back_whether_copied_or_shared() {
        let context = EvaluationContext::default();
        let long = "k".repeat(INLINE_TEXT_BYTES);
        let huge = "h".repeat(crate::MAX_SHARED_TEXT_LEN * 3);
        let cases: [Texts<'_>; 7] = [
            ("new-checkout", Some("on"), Some("flagd"), Some("web")),
            ("new-checkout", None, Some("flagd"), None),
            ("", Some(""), None, Some("")),
            (
                "clé-ünïcode-🚀",
                Some("värïant"),
                Some("プロバイダ"),
                Some("客户端"),
            ),
            // Exactly the buffer, then one byte over: shared.
            (&long, None, None, None),
            (&long, Some("x"), None, None),
            (&huge, Some("on"), Some(&huge), Some("web")),
        ];
        for (key, variant, provider, client) in cases {
            let mut record = EvaluationRecord::new(key, FlagType::Bool, &context);
            record.variant = variant;
            record.provider_name = provider;
            record.client_name = client;
            let owned = |text: Option<&str>| text.map(str::to_owned);
            assert_eq!(
                texts(&record),
                [
                    Some(key.to_owned()),
                    owned(variant),
                    owned(provider),
                    owned(client)
                ]
            );
            let captured = CapturedTexts::capture(&record);
            let copied = key.len()
                + variant.map_or(0, str::len)
                + provider.map_or(0, str::len)
                + client.map_or(0, str::len)
                <= INLINE_TEXT_BYTES;
            assert_eq!(
                matches!(captured, CapturedTexts::Inline { .. }),
                copied,
                "{key:?}"
            );
        }
    }

    #[test]
    fn the_copy_takes_no_more_room_than_four_shared_texts() {
        assert!(
            size_of::<CapturedTexts>() <= size_of::<[Option<SharedText>; 4]>(),
            "{}",
            size_of::<CapturedTexts>()
        );
    }
}
