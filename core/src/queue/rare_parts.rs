//! What a [`QueuedRecord`](crate::QueuedRecord) holds apart from the common record: refilled in
//! place, so that a recycled one (see `recycled_parts`) takes a record's texts without
//! allocating.

use std::sync::OnceLock;

use open_feature::{EvaluationReason, FlagMetadata, FlagMetadataValue, Value};

use crate::{ContextId, CustomAttribute, ErrorType, EvaluationRecord, HashedContextId};

/// The parts of a record that the common record lacks: a value that owns memory, a provider's own
/// reason, a failure, a context id, the set id and version, the flag metadata and custom
/// attributes.
///
/// [`RareParts::refill`] overwrites every part, reusing the texts' buffers where a part of the
/// same kind was there before. The flag metadata is kept as a list of entries, reused entry by
/// entry; the map a record lends is rebuilt from it on the background thread, once, by
/// [`RareParts::metadata`].
#[derive(Clone, Debug, Default)]
pub(crate) struct RareParts {
    /// The record's value when it is not a boolean (see [`in_rare_parts`]) and
    /// `has_owned_value`; otherwise a spare or `None`. Kept here rather than in the common
    /// record so that it is never freed on the background thread: a string's buffer is
    /// refilled in place, and a structure or list replaced on the evaluation path by the next
    /// record that takes these parts, where the old one is freed by a thread that evaluates,
    /// as it was allocated.
    owned_value: Option<Value>,
    has_owned_value: bool,
    pub(crate) provider_reason: Option<EvaluationReason>,
    pub(crate) failure: Option<(ErrorType, Option<String>)>,
    pub(crate) context_id: Option<OwnedContextId>,
    pub(crate) set_id: Option<FlagMetadataValue>,
    pub(crate) version: Option<FlagMetadataValue>,
    /// Whether the record had flag metadata (and it was captured).
    has_metadata: bool,
    /// The flag metadata's entries when `has_metadata`; the entries past them are spare.
    metadata_entries: Vec<(String, FlagMetadataValue)>,
    metadata_len: usize,
    /// The entries as a map, built the first time a record is lent; emptied before reuse.
    metadata_map: OnceLock<FlagMetadata>,
    pub(crate) custom_attributes: Vec<CustomAttribute>,
}

/// A context id that outlives the evaluation.
#[derive(Clone, Debug)]
pub(crate) enum OwnedContextId {
    Raw(String),
    Hashed(HashedContextId),
}

impl OwnedContextId {
    pub(crate) fn as_context_id(&self) -> ContextId<'_> {
        match self {
            OwnedContextId::Raw(raw) => ContextId::Raw(raw),
            OwnedContextId::Hashed(hashed) => ContextId::Hashed(*hashed),
        }
    }
}

impl RareParts {
    /// Whether `record` has none of the rare parts (its flag metadata counted only when
    /// `with_metadata`).
    pub(crate) fn absent_from(record: &EvaluationRecord<'_>, with_metadata: bool) -> bool {
        !record.value.is_some_and(in_rare_parts)
            && !matches!(record.provider_reason, Some(EvaluationReason::Other(_)))
            && record.failure.is_none()
            && record.context_id.is_none()
            && record.set_id.is_none()
            && record.version.is_none()
            && (!with_metadata || record.metadata.is_none())
            && record.custom_attributes.is_empty()
    }

    /// Takes `record`'s rare parts (its flag metadata only when `with_metadata`), reusing the
    /// buffers already here.
    pub(crate) fn refill(&mut self, record: &EvaluationRecord<'_>, with_metadata: bool) {
        self.has_owned_value = false;
        if let Some(value) = record.value.filter(|value| in_rare_parts(value)) {
            match (&mut self.owned_value, value) {
                (Some(Value::String(mine)), Value::String(text)) => refill_text(mine, text),
                (mine, value) => *mine = Some(value.clone()),
            }
            self.has_owned_value = true;
        }
        match record.provider_reason {
            // Only a provider's own reason text is ever written (`provider_reason`).
            Some(EvaluationReason::Other(text)) => match &mut self.provider_reason {
                Some(EvaluationReason::Other(mine)) => refill_text(mine, text),
                mine => *mine = Some(EvaluationReason::Other(text.clone())),
            },
            _ => self.provider_reason = None,
        }
        self.failure = record.failure.map(|failure| {
            let spare = self.failure.take().and_then(|(_, message)| message);
            (
                failure.error_type,
                failure.message.map(|text| reuse_text(spare, text)),
            )
        });
        self.context_id = record
            .context_id
            .map(|id| match (id, self.context_id.take()) {
                (ContextId::Raw(raw), Some(OwnedContextId::Raw(spare))) => {
                    OwnedContextId::Raw(reuse_text(Some(spare), raw))
                }
                (ContextId::Raw(raw), _) => OwnedContextId::Raw(raw.to_owned()),
                (ContextId::Hashed(hashed), _) => OwnedContextId::Hashed(hashed),
            });
        refill_optional_value(&mut self.set_id, record.set_id);
        refill_optional_value(&mut self.version, record.version);
        self.refill_metadata(record.metadata.filter(|_| with_metadata));
        self.custom_attributes.clear();
        self.custom_attributes
            .extend_from_slice(record.custom_attributes);
    }

    fn refill_metadata(&mut self, metadata: Option<&FlagMetadata>) {
        // A map left by a background thread that lent this record is emptied there (see
        // `recycled_parts`); a freshly captured record has none.
        self.metadata_map = OnceLock::new();
        self.has_metadata = metadata.is_some();
        self.metadata_len = 0;
        let Some(metadata) = metadata else {
            return;
        };
        for (key, value) in &metadata.values {
            match self.metadata_entries.get_mut(self.metadata_len) {
                Some((spare_key, spare_value)) => {
                    refill_text(spare_key, key);
                    refill_value(spare_value, value);
                }
                None => self.metadata_entries.push((key.clone(), value.clone())),
            }
            self.metadata_len += 1;
        }
    }

    /// The record's value, when it is kept here (see [`in_rare_parts`]).
    pub(crate) fn owned_value(&self) -> Option<&Value> {
        self.owned_value.as_ref().filter(|_| self.has_owned_value)
    }

    /// The flag metadata, as a map (built on first use).
    pub(crate) fn metadata(&self) -> Option<&FlagMetadata> {
        self.has_metadata.then(|| {
            self.metadata_map.get_or_init(|| FlagMetadata {
                values: self.metadata_entries[..self.metadata_len]
                    .iter()
                    .cloned()
                    .collect(),
            })
        })
    }

    /// Drops the map [`RareParts::metadata`] built: called on the thread that used it, so its
    /// texts are freed there and not on the evaluation path that refills these parts next.
    pub(crate) fn release_metadata_map(&mut self) {
        self.metadata_map.take();
    }

    /// Bytes held in buffers that a refill reuses: what recycling these parts keeps alive.
    pub(crate) fn retained_bytes(&self) -> usize {
        let value_bytes = |value: &FlagMetadataValue| match value {
            FlagMetadataValue::String(text) => text.capacity(),
            _ => 0,
        };
        let reason = match &self.provider_reason {
            Some(EvaluationReason::Other(text)) => text.capacity(),
            _ => 0,
        };
        let message = self
            .failure
            .as_ref()
            .and_then(|(_, message)| message.as_ref())
            .map_or(0, String::capacity);
        let context_id = match &self.context_id {
            Some(OwnedContextId::Raw(raw)) => raw.capacity(),
            _ => 0,
        };
        let entries: usize = self
            .metadata_entries
            .iter()
            .map(|(key, value)| key.capacity() + value_bytes(value))
            .sum();
        self.owned_value.as_ref().map_or(0, value_bytes_held)
            + reason
            + message
            + context_id
            + self.set_id.as_ref().map_or(0, value_bytes)
            + self.version.as_ref().map_or(0, value_bytes)
            + entries
            + self.metadata_entries.capacity() * size_of::<(String, FlagMetadataValue)>()
            + self.custom_attributes.capacity() * size_of::<CustomAttribute>()
    }
}

/// Whether `value` is captured with the rare parts: every value but a boolean, which the
/// common record lends from a constant. A `Value` takes 56 bytes, and every byte of a queued
/// record is written into a queue slot that the other core read last; so the common record
/// keeps one byte for the most common flags instead (`queued_record`). Strings keep their
/// buffer here, refilled in place; numbers cost the box, recycled like the rest.
pub(crate) fn in_rare_parts(value: &Value) -> bool {
    !matches!(value, Value::Bool(_))
}

/// Bytes `value` holds on the heap, roughly (texts' capacities and each collection's slots).
fn value_bytes_held(value: &Value) -> usize {
    match value {
        Value::String(text) => text.capacity(),
        Value::Array(items) => {
            items.capacity() * size_of::<Value>()
                + items.iter().map(value_bytes_held).sum::<usize>()
        }
        Value::Struct(structure) => structure
            .fields
            .iter()
            .map(|(key, value)| {
                size_of::<(String, Value)>() + key.capacity() + value_bytes_held(value)
            })
            .sum(),
        Value::Bool(_) | Value::Int(_) | Value::Float(_) => 0,
    }
}

fn refill_text(buffer: &mut String, text: &str) {
    buffer.clear();
    buffer.push_str(text);
}

/// `text` in `spare`'s buffer when there is one.
fn reuse_text(spare: Option<String>, text: &str) -> String {
    match spare {
        Some(mut buffer) => {
            refill_text(&mut buffer, text);
            buffer
        }
        None => text.to_owned(),
    }
}

fn refill_value(slot: &mut FlagMetadataValue, value: &FlagMetadataValue) {
    match (&mut *slot, value) {
        (FlagMetadataValue::String(mine), FlagMetadataValue::String(text)) => {
            refill_text(mine, text);
        }
        _ => *slot = value.clone(),
    }
}

fn refill_optional_value(slot: &mut Option<FlagMetadataValue>, value: Option<&FlagMetadataValue>) {
    match (slot.as_mut(), value) {
        (Some(mine), Some(value)) => refill_value(mine, value),
        (_, value) => *slot = value.cloned(),
    }
}

#[cfg(test)]
mod tests {
    use open_feature::EvaluationContext;

    use super::*;
    use crate::{EvaluationFailure, FlagType};

    #[test]
    fn values_that_own_memory_stay_with_the_parts_until_the_next_refill() {
        use open_feature::StructValue;

        let context = EvaluationContext::default();
        let structure = Value::Struct(
            StructValue::default()
                .with_field("layout", "two-column")
                .with_field("columns", 2_i64),
        );
        let text = Value::String("treatment".into());
        let list = Value::Array(vec![Value::Int(1), Value::String("x".into())]);
        let flag = Value::Bool(true);
        let mut parts = RareParts::default();
        for value in [&structure, &text, &flag, &list, &text, &structure] {
            let mut record = EvaluationRecord::new("layout", FlagType::Struct, &context);
            record.value = Some(value);
            assert_eq!(RareParts::absent_from(&record, true), !in_rare_parts(value));
            parts.refill(&record, true);
            let lent = parts.owned_value();
            assert_eq!(lent, in_rare_parts(value).then_some(value));
        }
        // A record without such a value leaves the last one as a spare, counted in what the
        // parts keep, so that a large one is not pooled (it is freed where it is dropped).
        let record = EvaluationRecord::new("plain", FlagType::Bool, &context);
        parts.refill(&record, true);
        assert_eq!(parts.owned_value(), None);
        assert!(parts.retained_bytes() >= "two-column".len() + "layout".len());
        let huge = Value::String("x".repeat(4096));
        let mut record = EvaluationRecord::new("huge", FlagType::String, &context);
        record.value = Some(&huge);
        parts.refill(&record, true);
        assert!(parts.retained_bytes() >= 4096);
    }

    #[test]
    fn a_refill_replaces_every_part_and_keeps_nothing_of_the_last_record() {
        let context = EvaluationContext::default();
        let long = FlagMetadata::default()
            .with_value("owner", "growth")
            .with_value("scope", "web")
            .with_value("version", 3_i64);
        let short = FlagMetadata::default().with_value("owner", "pay");
        let set_id = FlagMetadataValue::String("set-a".into());
        let reason = EvaluationReason::Other("VENDOR".into());
        let custom = [CustomAttribute::new("team", "growth")];
        let mut full = EvaluationRecord::new("a", FlagType::Bool, &context);
        full.provider_reason = Some(&reason);
        full.failure = Some(EvaluationFailure {
            error_type: ErrorType::General,
            message: Some("boom"),
        });
        full.context_id = Some(ContextId::Raw("user-1"));
        full.set_id = Some(&set_id);
        full.metadata = Some(&long);
        full.custom_attributes = &custom;
        let mut parts = RareParts::default();
        parts.refill(&full, true);
        assert_eq!(parts.metadata(), Some(&long));
        parts.release_metadata_map();

        let mut fewer = EvaluationRecord::new("b", FlagType::Bool, &context);
        fewer.context_id = Some(ContextId::Raw("u2"));
        fewer.metadata = Some(&short);
        parts.refill(&fewer, true);
        assert_eq!(
            parts.metadata(),
            Some(&short),
            "no entry of the last map left"
        );
        assert!(parts.provider_reason.is_none() && parts.failure.is_none());
        assert!(parts.set_id.is_none() && parts.custom_attributes.is_empty());
        assert!(matches!(&parts.context_id, Some(OwnedContextId::Raw(raw)) if raw == "u2"));

        parts.release_metadata_map();
        parts.refill(&fewer, false);
        assert_eq!(
            parts.metadata(),
            None,
            "metadata not captured when not asked"
        );
        parts.refill(&full, true);
        assert_eq!(parts.metadata(), Some(&long));
    }

    #[test]
    fn refilling_the_same_shape_reuses_the_buffers() {
        let context = EvaluationContext::default();
        let metadata = FlagMetadata::default().with_value("owner", "growth");
        let mut record = EvaluationRecord::new("a", FlagType::Bool, &context);
        record.context_id = Some(ContextId::Raw("user-1"));
        record.metadata = Some(&metadata);
        let mut parts = RareParts::default();
        parts.refill(&record, true);
        let address = |parts: &RareParts| match &parts.context_id {
            Some(OwnedContextId::Raw(raw)) => raw.as_ptr(),
            _ => std::ptr::null(),
        };
        let (id_buffer, entry_buffer) = (address(&parts), parts.metadata_entries[0].0.as_ptr());
        record.context_id = Some(ContextId::Raw("user-2"));
        parts.refill(&record, true);
        assert_eq!(address(&parts), id_buffer);
        assert_eq!(parts.metadata_entries[0].0.as_ptr(), entry_buffer);
        assert!(matches!(&parts.context_id, Some(OwnedContextId::Raw(raw)) if raw == "user-2"));
    }
}
