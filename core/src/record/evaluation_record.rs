//! The normalised, borrowed view of one flag evaluation that every backend consumes.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use open_feature::{EvaluationContext, EvaluationReason, FlagMetadata, FlagMetadataValue, Value};

use crate::speed::tick_clock::Tick;
use crate::{
    ContextId, ErrorType, EvaluationEnd, EvaluationFailure, EvaluationStart, FlagType, Reason,
};

/// One flag evaluation, normalised once and borrowed by every sink.
///
/// It describes what the caller received: on success the provider's value, variant, reason and
/// metadata; on failure the error type and message, with no value (the Rust SDK hands hooks
/// `T::default()` on error, a value the caller never saw, so it is not reported).
///
/// Fields the hook was told to exclude ([`Attribute`](crate::Attribute)) are `None`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EvaluationRecord<'a> {
    /// The flag key (`feature_flag.key`).
    pub flag_key: &'a str,
    /// The type the caller evaluated the flag as.
    pub flag_type: FlagType,
    /// The value the caller received; `None` on failure or when excluded.
    pub value: Option<&'a Value>,
    /// The variant (`feature_flag.result.variant`), when the provider gave one.
    pub variant: Option<&'a str>,
    /// The reason in the convention's vocabulary (`feature_flag.result.reason`).
    /// Failures always have [`Reason::Error`].
    pub reason: Option<Reason<'a>>,
    /// The reason as the provider gave it, for backends that keep both.
    pub provider_reason: Option<&'a EvaluationReason>,
    /// What went wrong, for a failed evaluation.
    pub failure: Option<EvaluationFailure<'a>>,
    /// The context id (`feature_flag.context.id`) after the hook's context id policy.
    pub context_id: Option<ContextId<'a>>,
    /// The provider's name (`feature_flag.provider.name`), when not empty.
    pub provider_name: Option<&'a str>,
    /// The client's name (its domain), when not empty.
    pub client_name: Option<&'a str>,
    /// Flag metadata `flagSetId` (`feature_flag.set.id`).
    pub set_id: Option<&'a FlagMetadataValue>,
    /// Flag metadata `version` (`feature_flag.version`).
    pub version: Option<&'a FlagMetadataValue>,
    /// All flag metadata, when the provider gave any.
    pub metadata: Option<&'a FlagMetadata>,
    /// The evaluation context the provider saw (after `before` hooks). It can hold personal data:
    /// backends must not copy it wholesale.
    pub evaluation_context: &'a EvaluationContext,
    /// Attributes added by the custom-attributes callback, in the order it returned them.
    pub custom_attributes: &'a [CustomAttribute],
    /// When the evaluation started: only tracked when a sink
    /// [needs it](crate::EvaluationSink::needs_start), and `None` when the start was not seen
    /// (an earlier `before` hook failed, or see `evaluation_start` for the other cases).
    pub started: Option<EvaluationStart>,
    /// When the evaluation was recorded, read once for every sink: set whenever starts are
    /// tracked (a sink [needs them](crate::EvaluationSink::needs_start)), `None` otherwise. Read
    /// it through [`time`](Self::time) and [`duration`](Self::duration).
    pub ended: Option<EvaluationEnd>,
    /// The fraction of evaluations like this one that reach the sink, when a
    /// [`SampledSink`](crate::SampledSink) is in front of it: each record stands for
    /// `1 / sample_rate` evaluations. `None`: not sampled.
    pub sample_rate: Option<f64>,
}

impl<'a> EvaluationRecord<'a> {
    /// A record with only the key, type and context set: for sinks' own tests and for records
    /// that do not come from an OpenFeature evaluation. Set the other fields directly.
    pub fn new(
        flag_key: &'a str,
        flag_type: FlagType,
        evaluation_context: &'a EvaluationContext,
    ) -> Self {
        Self {
            flag_key,
            flag_type,
            value: None,
            variant: None,
            reason: None,
            provider_reason: None,
            failure: None,
            context_id: None,
            provider_name: None,
            client_name: None,
            set_id: None,
            version: None,
            metadata: None,
            evaluation_context,
            custom_attributes: &[],
            started: None,
            ended: None,
            sample_rate: None,
        }
    }

    /// Whether the evaluation failed.
    pub fn is_failure(&self) -> bool {
        self.failure.is_some()
    }

    /// The error type, for a failed evaluation.
    pub fn error_type(&self) -> Option<ErrorType> {
        self.failure.map(|failure| failure.error_type)
    }

    /// The error message, for a failed evaluation that has one.
    pub fn error_message(&self) -> Option<&'a str> {
        self.failure.and_then(|failure| failure.message)
    }

    /// The evaluation's timestamp: [`ended`](Self::ended) when the hook read it, otherwise the
    /// clock now (call it during the evaluation; read as the hook reads its clock, see
    /// [`EvaluationEnd::now`](crate::EvaluationEnd::now)).
    pub fn time(&self) -> SystemTime {
        self.ended
            .map_or_else(|| Tick::now().wall_time(), |end| end.time)
    }

    /// How long the evaluation took, from the `before` stage to the record, when both were seen.
    pub fn duration(&self) -> Option<Duration> {
        let start = self.started?;
        Some(self.ended?.instant.saturating_duration_since(start.instant))
    }
}

/// A key/value added to every record by the custom-attributes callback.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomAttribute {
    /// The attribute's name.
    pub key: Cow<'static, str>,
    /// The attribute's value.
    pub value: Value,
}

impl CustomAttribute {
    /// A custom attribute.
    pub fn new(key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A flag metadata value as text (`version: 3` becomes `"3"`); borrows strings.
pub fn metadata_text(value: &FlagMetadataValue) -> Cow<'_, str> {
    match value {
        FlagMetadataValue::String(text) => Cow::Borrowed(text),
        FlagMetadataValue::Bool(flag) => Cow::Borrowed(if *flag { "true" } else { "false" }),
        FlagMetadataValue::Int(number) => Cow::Owned(number.to_string()),
        FlagMetadataValue::Float(number) => Cow::Owned(number.to_string()),
    }
}

/// `metadata.values.get(key)`, without hashing `key` when the map is small: flag metadata
/// usually holds a few entries, and comparing their keys costs less than SipHash of the key
/// (about 15 ns on the bench machine), paid on every evaluation for each key looked up
/// (`contextId`, `flagSetId`, `version`).
#[inline]
pub(crate) fn metadata_entry<'a>(
    metadata: &'a FlagMetadata,
    key: &str,
) -> Option<&'a FlagMetadataValue> {
    const SCANNED: usize = 8;
    if metadata.values.len() <= SCANNED {
        metadata
            .values
            .iter()
            .find_map(|(name, value)| (name == key).then_some(value))
    } else {
        metadata.values.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_values_as_text() {
        assert_eq!(metadata_text(&FlagMetadataValue::String("v7".into())), "v7");
        assert_eq!(metadata_text(&FlagMetadataValue::Int(3)), "3");
        assert_eq!(metadata_text(&FlagMetadataValue::Bool(true)), "true");
        assert_eq!(metadata_text(&FlagMetadataValue::Float(1.5)), "1.5");
    }
}
