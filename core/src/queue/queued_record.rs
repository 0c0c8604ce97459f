//! An evaluation record captured for a background thread: owned, cheap to take.

use std::borrow::Cow;
use std::time::SystemTime;

use open_feature::{EvaluationContext, Value};

use crate::queue::captured_texts::CapturedTexts;
use crate::queue::rare_parts::{OwnedContextId, RareParts};
use crate::queue::recycled_parts;
use crate::speed::shared_text::interned_text;
use crate::{EvaluationFailure, EvaluationRecord, FlagType, Reason};

/// What an [`EvaluationRecord`] says, owned, with the moment of the evaluation: for sinks that
/// format or export on a background thread ([`BackgroundWorker`](crate::BackgroundWorker)).
///
/// Taking one is meant to be cheap on the evaluation path: the flag key, variant, provider name
/// and client name are copied into one fixed buffer when they fit (84 bytes together; longer
/// ones are shared texts, see [`SharedText`](crate::SharedText)), well-known reasons are plain
/// values, and a boolean value is one byte (lent back from a constant). What the common record
/// lacks (any other value, a failure, a context id, metadata, custom attributes, a provider's
/// own reason) goes in one box taken only when present, so the common record is 160 bytes to
/// move through a queue instead of 440. That box and its texts are recycled: dropping a
/// `QueuedRecord` (on the background thread) returns them to a bounded process-wide pool, and
/// the next capture refills them in place, so a record with a string value, a context id, a
/// version or flag metadata is captured without allocating once the pool has a box of its
/// shape (at most 1 024 boxes of at most 1 KiB of texts each are kept). A structured or list
/// value is copied, and the copy freed by the capture that next takes its box, so what the
/// evaluation path allocates is never freed on the background thread.
///
/// Not captured: the evaluation context (it can hold personal data and no sink writes it;
/// [`QueuedRecord::record`] lends the one given to it), and
/// [`started`](EvaluationRecord::started) and [`ended`](EvaluationRecord::ended) (durations and
/// span times are taken on the evaluation path by the sinks that need them). The evaluation's
/// timestamp is [`QueuedRecord::time`]: on the background thread, read it there, not through
/// the lent record's [`time`](EvaluationRecord::time), which would be the clock then.
///
/// ```
/// use open_feature::EvaluationContext;
/// use openfeature_hooks_core::{EvaluationRecord, FlagType, QueuedRecord};
///
/// let context = EvaluationContext::default();
/// let mut record = EvaluationRecord::new("new-checkout", FlagType::Bool, &context);
/// record.variant = Some("on");
/// let queued = QueuedRecord::capture(&record);
/// // ... on another thread:
/// let empty = EvaluationContext::default();
/// let again = queued.record(&empty);
/// assert_eq!((again.flag_key, again.variant), ("new-checkout", Some("on")));
/// ```
#[derive(Clone, Debug)]
pub struct QueuedRecord {
    time: SystemTime,
    /// Flag key, variant, provider name and client name.
    texts: CapturedTexts,
    flag_type: FlagType,
    /// A boolean value; any other is in `rest` (see `in_rare_parts`).
    bool_value: Option<bool>,
    reason: Option<Reason<'static>>,
    /// The record's [`sample_rate`](EvaluationRecord::sample_rate), `0.0` for none (a kept
    /// record's rate is never zero): eight bytes where an `Option<f64>` takes sixteen.
    sample_rate: f64,
    /// What the common record lacks, in one allocation when present.
    rest: Option<Box<RareParts>>,
}

/// The values a boolean flag's record lends.
static TRUE: Value = Value::Bool(true);
static FALSE: Value = Value::Bool(false);

impl QueuedRecord {
    /// Captures `record`, stamped with [its time](EvaluationRecord::time) (call it during the
    /// evaluation).
    pub fn capture(record: &EvaluationRecord<'_>) -> Self {
        Self::capture_at(record, record.time())
    }

    /// Captures `record` like [`capture`](Self::capture), but without its flag metadata map
    /// ([`EvaluationRecord::metadata`]; the set id and version are kept): for sinks that do
    /// not write the map, which would otherwise be copied (a hash map and its texts) on the
    /// evaluation path for every provider that sends metadata.
    pub fn capture_without_metadata(record: &EvaluationRecord<'_>) -> Self {
        Self::capture_parts(record, record.time(), false)
    }

    /// Captures `record`, stamped with `time`.
    pub fn capture_at(record: &EvaluationRecord<'_>, time: SystemTime) -> Self {
        Self::capture_parts(record, time, true)
    }

    fn capture_parts(record: &EvaluationRecord<'_>, time: SystemTime, with_metadata: bool) -> Self {
        Self {
            time,
            texts: CapturedTexts::capture(record),
            flag_type: record.flag_type,
            // Any other value goes with the rare parts, which are recycled.
            bool_value: match record.value {
                Some(Value::Bool(flag)) => Some(*flag),
                _ => None,
            },
            reason: record.reason.as_ref().map(owned_reason),
            sample_rate: record.sample_rate.unwrap_or(0.0),
            rest: (!RareParts::absent_from(record, with_metadata)).then(|| {
                let mut parts = recycled_parts::take();
                parts.refill(record, with_metadata);
                parts
            }),
        }
    }

    /// When the evaluation was captured (its moment, not the background thread's).
    pub fn time(&self) -> SystemTime {
        self.time
    }

    /// The record again, borrowing from `self`, with `evaluation_context` standing in for the
    /// evaluation's context (which is not captured; pass an empty one).
    pub fn record<'a>(&'a self, evaluation_context: &'a EvaluationContext) -> EvaluationRecord<'a> {
        let [flag_key, variant, provider_name, client_name] = self.texts.texts();
        let mut record = EvaluationRecord::new(
            flag_key.unwrap_or_default(),
            self.flag_type,
            evaluation_context,
        );
        record.value = self
            .bool_value
            .map(|flag| if flag { &TRUE } else { &FALSE });
        record.variant = variant;
        record.reason = self.reason.clone();
        record.provider_name = provider_name;
        record.client_name = client_name;
        record.sample_rate = (self.sample_rate > 0.0).then_some(self.sample_rate);
        let Some(rest) = &self.rest else {
            return record;
        };
        if let Some(value) = rest.owned_value() {
            record.value = Some(value);
        }
        record.provider_reason = rest.provider_reason.as_ref();
        record.failure = rest
            .failure
            .as_ref()
            .map(|(error_type, message)| EvaluationFailure {
                error_type: *error_type,
                message: message.as_deref(),
            });
        record.context_id = rest.context_id.as_ref().map(OwnedContextId::as_context_id);
        record.set_id = rest.set_id.as_ref();
        record.version = rest.version.as_ref();
        record.metadata = rest.metadata();
        record.custom_attributes = &rest.custom_attributes;
        record
    }
}

impl Drop for QueuedRecord {
    /// Returns the rare parts' box and buffers for the next capture (see `recycled_parts`):
    /// dropped on the background thread, they are not freed there.
    fn drop(&mut self) {
        if let Some(parts) = self.rest.take() {
            recycled_parts::give_back(parts);
        }
    }
}

/// A reason that outlives the evaluation: custom reason texts repeat, so they are interned
/// when they can be.
fn owned_reason(reason: &Reason<'_>) -> Reason<'static> {
    reason.with_other(|text| match interned_text(text) {
        Some(interned) => Cow::Borrowed(interned),
        None => Cow::Owned(text.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use open_feature::{EvaluationReason, FlagMetadata, FlagMetadataValue, StructValue};

    use super::*;
    use crate::{ContextId, CustomAttribute, ErrorType};

    #[test]
    fn every_field_comes_back() {
        let context = EvaluationContext::default().with_targeting_key("user-1");
        let metadata = FlagMetadata::default().with_value("owner", "growth");
        let value = Value::Struct(StructValue::default().with_field("a", 1_i64));
        let set_id = FlagMetadataValue::String("set".into());
        let version = FlagMetadataValue::Int(3);
        let provider_reason = EvaluationReason::Other("VENDOR_RULE".into());
        let custom = [CustomAttribute::new("team", "growth")];
        let long_key = "k".repeat(1000);
        for key in ["checkout", long_key.as_str()] {
            let mut record = EvaluationRecord::new(key, FlagType::Struct, &context);
            record.value = Some(&value);
            record.variant = Some("blue");
            record.reason = Some(Reason::Other("vendor_rule".into()));
            record.provider_reason = Some(&provider_reason);
            record.failure = Some(EvaluationFailure {
                error_type: ErrorType::General,
                message: Some("boom"),
            });
            record.context_id = Some(ContextId::Raw("user-1"));
            record.provider_name = Some("flagd");
            record.client_name = Some("web");
            record.set_id = Some(&set_id);
            record.version = Some(&version);
            record.metadata = Some(&metadata);
            record.custom_attributes = &custom;
            record.started = Some(crate::EvaluationStart::now());
            let queued = QueuedRecord::capture(&record);
            let empty = EvaluationContext::default();
            let again = queued.record(&empty);
            assert_eq!(
                format!("{:?}", again.flag_key),
                format!("{:?}", record.flag_key)
            );
            assert_eq!(again.value, record.value);
            assert_eq!(again.variant, record.variant);
            assert_eq!(again.reason, record.reason);
            assert_eq!(again.provider_reason, record.provider_reason);
            assert_eq!(again.failure, record.failure);
            assert_eq!(again.context_id, record.context_id);
            assert_eq!(again.provider_name, record.provider_name);
            assert_eq!(again.client_name, record.client_name);
            assert_eq!(again.set_id, record.set_id);
            assert_eq!(again.version, record.version);
            assert_eq!(again.metadata, record.metadata);
            assert_eq!(again.custom_attributes, record.custom_attributes);
            assert_eq!(
                again.started, None,
                "durations are taken on the evaluation path"
            );
            assert!(again.evaluation_context.targeting_key.is_none());
            let lean = QueuedRecord::capture_without_metadata(&record);
            let lean = lean.record(&empty);
            assert_eq!(lean.metadata, None);
            assert_eq!((lean.set_id, lean.version), (record.set_id, record.version));
            assert_eq!(lean.failure, record.failure);
        }
    }

    #[test]
    fn the_common_record_is_small_and_allocates_nothing_apart() {
        let context = EvaluationContext::default();
        let mut record = EvaluationRecord::new("checkout", FlagType::Bool, &context);
        record.value = Some(&Value::Bool(true));
        record.variant = Some("on");
        record.reason = Some(Reason::TargetingMatch);
        record.provider_name = Some("flagd");
        assert!(QueuedRecord::capture(&record).rest.is_none());
        record.sample_rate = Some(0.25);
        let sampled = QueuedRecord::capture(&record);
        assert!(sampled.rest.is_none(), "a sampled record is common too");
        assert_eq!(sampled.record(&context).sample_rate, Some(0.25));
        // 208 bytes before the sample rate joined the common parts.
        assert!(
            size_of::<QueuedRecord>() <= 216,
            "{}",
            size_of::<QueuedRecord>()
        );
    }

    #[test]
    fn recycled_parts_carry_only_their_new_record() {
        let context = EvaluationContext::default();
        let big = FlagMetadata::default()
            .with_value("owner", "growth")
            .with_value("scope", "web");
        let small = FlagMetadata::default().with_value("version", 7_i64);
        let version = FlagMetadataValue::String("v2".into());
        let flag = Value::Bool(true);
        for round in 0..200 {
            let mut record = EvaluationRecord::new("checkout", FlagType::Bool, &context);
            let id = format!("user-{round}");
            // Every third record is a string flag's, its value in the recycled parts.
            let text = Value::String(format!("variant-{round}"));
            record.value = Some(if round % 3 == 2 { &text } else { &flag });
            if round % 2 == 0 {
                record.metadata = Some(&big);
                record.context_id = Some(ContextId::Raw(&id));
            } else {
                record.metadata = Some(&small);
                record.version = Some(&version);
            }
            // Dropped at once: its parts go back to the pool for the next round.
            let queued = QueuedRecord::capture(&record);
            let empty = EvaluationContext::default();
            let again = queued.record(&empty);
            assert_eq!(again.metadata, record.metadata, "round {round}");
            assert_eq!(again.context_id, record.context_id, "round {round}");
            assert_eq!(again.version, record.version, "round {round}");
            assert_eq!(again.value, record.value, "round {round}");
            let clone = queued.clone();
            drop(queued);
            assert_eq!(clone.record(&empty).metadata, record.metadata);
            assert_eq!(clone.record(&empty).value, record.value);
        }
        assert!(recycled_parts::waiting() <= recycled_parts::POOL_CAPACITY);
    }

    #[test]
    fn records_captured_and_dropped_on_many_threads_keep_their_own_parts() {
        // Four threads capture records of different shapes while another drops them (their
        // parts going back to the pool and out again at once): each record read on the
        // dropping thread must still say exactly what was captured.
        let (send, receive) = std::sync::mpsc::sync_channel::<(String, usize, QueuedRecord)>(64);
        let checker = std::thread::spawn(move || {
            let empty = EvaluationContext::default();
            let mut checked = 0;
            for (expected, entries, queued) in receive {
                let record = queued.record(&empty);
                let id = record.context_id.map(|id| id.as_str().to_owned());
                let owner = record
                    .metadata
                    .and_then(|m| m.values.get("owner"))
                    .map(crate::metadata_text);
                assert_eq!(id.as_deref(), Some(expected.as_str()));
                assert_eq!(owner.as_deref(), Some(expected.as_str()));
                assert_eq!(record.metadata.map(|m| m.values.len()), Some(entries));
                checked += 1;
            }
            checked
        });
        let producers: Vec<_> = (0..4)
            .map(|thread| {
                let send = send.clone();
                std::thread::spawn(move || {
                    let context = EvaluationContext::default();
                    for i in 0..5_000 {
                        let id = format!("t{thread}-{i}-{}", "x".repeat(i % 40));
                        let mut metadata = FlagMetadata::default().with_value("owner", id.as_str());
                        if i % 3 == 0 {
                            metadata = metadata.with_value("scope", "web");
                        }
                        let mut record =
                            EvaluationRecord::new("checkout", FlagType::Bool, &context);
                        record.context_id = Some(ContextId::Raw(&id));
                        record.metadata = Some(&metadata);
                        let queued = QueuedRecord::capture(&record);
                        let entries = metadata.values.len();
                        if send.send((id, entries, queued)).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        drop(send);
        for producer in producers {
            assert!(producer.join().is_ok());
        }
        assert_eq!(checker.join().ok(), Some(20_000));
    }

    #[test]
    fn a_queued_record_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<QueuedRecord>();
    }
}
