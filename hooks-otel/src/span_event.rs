//! The `feature_flag.evaluation` event on the active span.

use openfeature_hooks_core::{EvaluationRecord, EvaluationSink};
use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;

use crate::attribute_naming::{AttributeNaming, AttributeRules, EVENT_NAME, ResultValue};
use crate::attributes::span_attributes;

/// Adds a `feature_flag.evaluation` event to the span active during the evaluation (the
/// OpenTelemetry context's span; `tracing` users reach it through `tracing-opentelemetry`).
/// Nothing happens without a recording span.
///
/// The conventions now prefer log events ([`LogEventSink`](crate::LogEventSink)); span events
/// are what the Go, Java, Python and .NET hooks emit, and what trace views show inline. Values
/// that are arrays or structs are written as JSON text: span attributes cannot hold maps.
///
/// ```
/// use openfeature_hooks_core::TelemetryHook;
/// use openfeature_hooks_otel::{AttributeNaming, ResultValue, SpanEventSink};
///
/// let events = SpanEventSink::new()
///     .with_naming(AttributeNaming::Current)
///     .with_result_value(ResultValue::Always);
/// let hook = TelemetryHook::builder().sink(events).build();
/// # drop(hook);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SpanEventSink {
    rules: AttributeRules,
}

impl SpanEventSink {
    /// A span event sink with today's attribute names.
    pub fn new() -> Self {
        Self::default()
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

impl EvaluationSink for SpanEventSink {
    fn record(&self, record: &EvaluationRecord<'_>) {
        Context::map_current(|context| {
            let span = context.span();
            // A sampled span records until it ends (then `add_event` is a no-op); asking it
            // costs no lock, unlike `is_recording`, which only unsampled spans need.
            if span.span_context().is_sampled() || span.is_recording() {
                span.add_event_with_timestamp(
                    EVENT_NAME,
                    record.time(),
                    span_attributes(record, self.rules),
                );
            }
        });
    }
}
