//! Trace-based enrichment: an `experiments.IsEnabled` child span per evaluation.

use std::hash::BuildHasher;

use openfeature_hooks_core::{EvaluationRecord, EvaluationSink, FastBuildHasher};
use opentelemetry::trace::{Span, SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

use crate::seen_once::SeenOnce;
use crate::tag_text::{MAX_TAG_LEN, tag_value, truncate};

/// The operation name Datadog's change tracking looks for.
pub const EXPERIMENT_OPERATION: &str = "experiments.IsEnabled";

/// How often an evaluation gets its span.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExperimentSpanVolume {
    /// Once per flag per trace (the default): enough for Datadog to know which services evaluate
    /// which flag, without a span per evaluation in loops.
    #[default]
    OncePerFlagPerTrace,
    /// Every evaluation.
    Every,
}

/// Creates, under the active span, a child span with operation name `experiments.IsEnabled`,
/// tagged `experiment_id:<flag key>` and `experiment_value:<value>`, as Datadog's change tracking
/// expects. Nothing without an active span (a span without a parent would be an orphan trace).
///
/// With Datadog's Rust tracer the operation name comes from the `operation.name` attribute and
/// the resource from the span name, here the flag key.
#[derive(Debug)]
pub struct ExperimentSpanSink<T> {
    tracer: T,
    volume: ExperimentSpanVolume,
    seen: Box<SeenOnce>,
}

impl<T: Tracer> ExperimentSpanSink<T> {
    /// Creates the spans with `tracer`, once per flag per trace.
    pub fn new(tracer: T) -> Self {
        Self {
            tracer,
            volume: ExperimentSpanVolume::default(),
            seen: Box::new(SeenOnce::new()),
        }
    }

    /// How often to create the span.
    #[must_use]
    pub fn with_volume(mut self, volume: ExperimentSpanVolume) -> Self {
        self.volume = volume;
        self
    }
}

impl<T> EvaluationSink for ExperimentSpanSink<T>
where
    T: Tracer + Send + Sync + 'static,
{
    fn record(&self, record: &EvaluationRecord<'_>) {
        if record.is_failure() {
            return;
        }
        let Some(value) = record.value else { return };
        let context = Context::current();
        let parent = context.span().span_context().clone();
        if !parent.is_valid() {
            return;
        }
        if self.volume == ExperimentSpanVolume::OncePerFlagPerTrace {
            let pair = FastBuildHasher::default()
                .hash_one((parent.trace_id().to_bytes(), record.flag_key));
            if !self.seen.first(pair) {
                return;
            }
        }
        let id = truncate(record.flag_key, MAX_TAG_LEN);
        let mut builder = self
            .tracer
            .span_builder(id.clone())
            .with_kind(SpanKind::Internal)
            .with_attributes([
                KeyValue::new("operation.name", EXPERIMENT_OPERATION),
                KeyValue::new("experiment_id", id),
                KeyValue::new("experiment_value", tag_value(value)),
            ]);
        if let Some(start) = record.started {
            builder = builder.with_start_time(start.time);
        }
        builder.start_with_context(&self.tracer, &context).end();
    }

    fn needs_start(&self) -> bool {
        true
    }
}
