//! A sink that keeps owned copies of what it receives.

use std::sync::{Arc, Mutex, PoisonError};

use open_feature::{FlagMetadataValue, Value};
use openfeature_hooks_core::__private::metadata_text;
use openfeature_hooks_core::{EvaluationRecord, EvaluationSink};

/// An owned copy of an [`EvaluationRecord`], for assertions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordedEvaluation {
    /// `flag_key`
    pub flag_key: String,
    /// `flag_type.as_str()`
    pub flag_type: String,
    /// `value`
    pub value: Option<Value>,
    /// `variant`
    pub variant: Option<String>,
    /// `reason.as_str()`
    pub reason: Option<String>,
    /// `error_type().as_str()`
    pub error_type: Option<String>,
    /// `error_message()`
    pub error_message: Option<String>,
    /// `context_id.as_str()`
    pub context_id: Option<String>,
    /// `provider_name`
    pub provider_name: Option<String>,
    /// `client_name`
    pub client_name: Option<String>,
    /// `set_id` as text
    pub set_id: Option<String>,
    /// `version` as text
    pub version: Option<String>,
    /// number of metadata entries, when there is metadata
    pub metadata_len: Option<usize>,
    /// `custom_attributes` as (key, value)
    pub custom_attributes: Vec<(String, Value)>,
}

impl From<&EvaluationRecord<'_>> for RecordedEvaluation {
    fn from(r: &EvaluationRecord<'_>) -> Self {
        let text = |v: Option<&FlagMetadataValue>| v.map(|v| metadata_text(v).into_owned());
        Self {
            flag_key: r.flag_key.to_owned(),
            flag_type: r.flag_type.as_str().to_owned(),
            value: r.value.cloned(),
            variant: r.variant.map(str::to_owned),
            reason: r.reason.as_ref().map(|reason| reason.as_str().to_owned()),
            error_type: r.error_type().map(|t| t.as_str().to_owned()),
            error_message: r.error_message().map(str::to_owned),
            context_id: r.context_id.as_ref().map(|id| id.as_str().to_owned()),
            provider_name: r.provider_name.map(str::to_owned),
            client_name: r.client_name.map(str::to_owned),
            set_id: text(r.set_id),
            version: text(r.version),
            metadata_len: r.metadata.map(|m| m.values.len()),
            custom_attributes: r
                .custom_attributes
                .iter()
                .map(|a| (a.key.to_string(), a.value.clone()))
                .collect(),
        }
    }
}

/// Keeps a [`RecordedEvaluation`] of every record; clones share the same list.
#[derive(Clone, Debug, Default)]
pub struct RecordingSink {
    records: Arc<Mutex<Vec<RecordedEvaluation>>>,
}

impl RecordingSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of everything recorded so far.
    pub fn records(&self) -> Vec<RecordedEvaluation> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl EvaluationSink for RecordingSink {
    fn record(&self, record: &EvaluationRecord<'_>) {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record.into());
    }
}
