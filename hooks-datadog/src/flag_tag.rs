//! What a record says about a flag, as Datadog tags it.

use openfeature_hooks_core::EvaluationRecord;

use crate::tag_text::{MAX_TAG_LEN, tag_value, truncate};

/// The tag value of an evaluation: the variant, or the value when there is no variant (the
/// naming Datadog RUM uses for `feature_flags.<key>`). `None` for a failed evaluation.
pub(crate) fn served(record: &EvaluationRecord<'_>) -> Option<String> {
    if record.is_failure() {
        return None;
    }
    match (record.variant, record.value) {
        (Some(variant), _) => Some(truncate(variant, MAX_TAG_LEN)),
        (None, Some(value)) => Some(tag_value(value)),
        (None, None) => None,
    }
}
