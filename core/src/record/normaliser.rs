//! Turns what the SDK hands a hook stage into one [`EvaluationRecord`]: the only place that
//! interprets SDK data, so every backend sees the same names, reasons and errors.

use open_feature::{EvaluationDetails, EvaluationError, HookContext, Value};

use crate::record::evaluation_record::metadata_entry;
use crate::{
    Attribute, AttributeSet, ContextIdPolicy, EvaluationFailure, EvaluationRecord, FlagType,
    Reason, ReasonTable,
};

/// The normalisation options shared by every backend.
#[derive(Clone, Debug, Default)]
pub(crate) struct Normaliser {
    pub(crate) reasons: ReasonTable,
    pub(crate) context_id: ContextIdPolicy,
    pub(crate) excluded: AttributeSet,
}

impl Normaliser {
    /// The record of an evaluation the provider answered: what `after` sees.
    pub(crate) fn success<'a>(
        &'a self,
        context: &'a HookContext<'_>,
        details: &'a EvaluationDetails<Value>,
    ) -> EvaluationRecord<'a> {
        let metadata = Some(&details.flag_metadata).filter(|m| !m.values.is_empty());
        // Every part is computed before the record is written, so that the record is written
        // once, in place (see `common`).
        let reason = details.reason.as_ref().map(|r| self.reasons.normalise(r));
        let context_id = self
            .context_id
            .context_id(metadata, context.evaluation_context);
        let mut record = self.common(context);
        record.value = Some(&details.value);
        record.variant = details.variant.as_deref();
        record.reason = reason;
        record.provider_reason = details.reason.as_ref();
        record.context_id = context_id;
        record.set_id = metadata.and_then(|m| metadata_entry(m, "flagSetId"));
        record.version = metadata.and_then(|m| metadata_entry(m, "version"));
        record.metadata = metadata;
        self.exclude(&mut record);
        record
    }

    /// The record of an evaluation that failed: what `error` sees. There is no value (the SDK
    /// only has `T::default()`, which the caller never received), no variant and no metadata.
    pub(crate) fn failure<'a>(
        &'a self,
        context: &'a HookContext<'_>,
        error: &'a EvaluationError,
    ) -> EvaluationRecord<'a> {
        let failure = EvaluationFailure::from_error(error);
        let context_id = self.context_id.context_id(None, context.evaluation_context);
        let mut record = self.common(context);
        record.reason = Some(Reason::Error);
        record.failure = Some(failure);
        record.context_id = context_id;
        self.exclude(&mut record);
        record
    }

    /// Inlined with `exclude`: a record built in a callee and returned, then changed and
    /// returned again, was copied between stack slots each time (read back while its stores
    /// were still in flight, which stalls the processor).
    #[inline(always)]
    fn common<'a>(&'a self, context: &'a HookContext<'_>) -> EvaluationRecord<'a> {
        let mut record = EvaluationRecord::new(
            context.flag_key,
            FlagType::from(&context.flag_type),
            context.evaluation_context,
        );
        record.provider_name =
            Some(context.provider_metadata.name.as_str()).filter(|n| !n.is_empty());
        record.client_name = Some(context.client_metadata.name.as_str()).filter(|n| !n.is_empty());
        record
    }

    #[inline(always)]
    fn exclude(&self, record: &mut EvaluationRecord<'_>) {
        let excluded = self.excluded;
        if excluded.is_empty() {
            return;
        }
        if excluded.contains(Attribute::Value) {
            record.value = None;
        }
        if excluded.contains(Attribute::Variant) {
            record.variant = None;
        }
        if excluded.contains(Attribute::Reason) {
            record.reason = None;
            record.provider_reason = None;
        }
        if excluded.contains(Attribute::ErrorMessage)
            && let Some(failure) = record.failure.as_mut()
        {
            failure.message = None;
        }
        if excluded.contains(Attribute::ContextId) {
            record.context_id = None;
        }
        if excluded.contains(Attribute::ProviderName) {
            record.provider_name = None;
        }
        if excluded.contains(Attribute::SetId) {
            record.set_id = None;
        }
        if excluded.contains(Attribute::Version) {
            record.version = None;
        }
        if excluded.contains(Attribute::Metadata) {
            record.metadata = None;
        }
    }
}
