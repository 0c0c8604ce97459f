//! One span per evaluation.

use openfeature_hooks_core::{EvaluationRecord, EvaluationSink};
use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{Span, SpanKind, Status, Tracer, TracerProvider};

use crate::attribute_naming::{AttributeNaming, AttributeRules, EVENT_NAME, ResultValue};
use crate::attributes::span_attributes;

/// Records each evaluation as a span named `feature_flag.evaluation`, a child of the span
/// active during the evaluation, carrying the record's attributes and an error status on
/// failure.
///
/// The span covers the evaluation: it starts at the time the hook's `before` stage ran and ends
/// when the evaluation is recorded (`after` or `error`). The Rust SDK has no hook data to carry
/// a span object between stages, so the hook carries the start time instead and the span is
/// created with it when the evaluation is recorded: nothing is left open if an evaluation is
/// cancelled. When the start is unknown (an earlier `before` hook failed) the span starts when
/// it is recorded. Values that are arrays or structs are written as JSON text: span attributes
/// cannot hold maps.
///
/// ```
/// use openfeature_hooks_core::TelemetryHook;
/// use openfeature_hooks_otel::{EvaluationSpanSink, ResultValue};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
///
/// let tracers = SdkTracerProvider::builder().build();
/// let spans = EvaluationSpanSink::from_provider(&tracers).with_result_value(ResultValue::Never);
/// let hook = TelemetryHook::builder().sink(spans).build();
/// # drop(hook);
/// ```
#[derive(Debug)]
pub struct EvaluationSpanSink<T> {
    tracer: T,
    rules: AttributeRules,
}

impl<T: Tracer> EvaluationSpanSink<T> {
    /// Creates spans with `tracer`.
    pub fn new(tracer: T) -> Self {
        Self {
            tracer,
            rules: AttributeRules::default(),
        }
    }

    /// Creates spans with a tracer of `provider` whose instrumentation scope is this crate
    /// (`openfeature-hooks-otel`, and its version).
    pub fn from_provider<P>(provider: &P) -> Self
    where
        P: TracerProvider<Tracer = T> + ?Sized,
    {
        let scope = InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Self::new(provider.tracer_with_scope(scope))
    }

    /// The attribute names to write (default: [`AttributeNaming::Current`]).
    #[must_use]
    pub fn with_naming(mut self, naming: AttributeNaming) -> Self {
        self.rules.naming = naming;
        self
    }

    /// When the value is written as the attribute `feature_flag.result.value` (default:
    /// [`ResultValue::WhenNoVariant`], as semantic conventions 1.44 ask).
    #[must_use]
    pub fn with_result_value(mut self, rule: ResultValue) -> Self {
        self.rules.result_value = rule;
        self
    }
}

impl<T> EvaluationSink for EvaluationSpanSink<T>
where
    T: Tracer + Send + Sync + 'static,
{
    fn record(&self, record: &EvaluationRecord<'_>) {
        let mut builder = self
            .tracer
            .span_builder(EVENT_NAME)
            .with_kind(SpanKind::Internal)
            .with_attributes(span_attributes(record, self.rules));
        if let Some(start) = record.started {
            builder = builder.with_start_time(start.time);
        }
        let mut span = builder.start(&self.tracer);
        if let Some(failure) = record.failure {
            let description = failure.message.unwrap_or(failure.error_type.as_str());
            span.set_status(Status::error(description.to_owned()));
        }
        match record.ended {
            Some(end) => span.end_with_timestamp(end.time),
            None => span.end(),
        }
    }

    fn needs_start(&self) -> bool {
        true
    }
}
