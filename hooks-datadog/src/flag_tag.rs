//! What a record says about a flag, as Datadog tags it.

use openfeature_hooks_core::EvaluationRecord;

use std::borrow::Cow;

use crate::tag_text::{MAX_TAG_LEN, tag_text, truncated};

/// The tag value of an evaluation: the variant, or the value when there is no variant (the
/// naming Datadog RUM uses for `feature_flags.<key>`). `None` for a failed evaluation.
pub(crate) fn served<'a>(record: &EvaluationRecord<'a>) -> Option<Cow<'a, str>> {
    if record.is_failure() {
        return None;
    }
    match (record.variant, record.value) {
        (Some(variant), _) => Some(truncated(variant, MAX_TAG_LEN)),
        (None, Some(value)) => Some(tag_text(value)),
        (None, None) => None,
    }
}
