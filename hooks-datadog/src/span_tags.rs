//! `feature_flags.<key>` tags on the active span.

use openfeature_hooks_core::{EvaluationRecord, EvaluationSink};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, KeyValue};

use crate::flag_tag::served;
use crate::tag_text::tag_name_part;

/// The prefix of flag tags on spans, as Datadog RUM names them.
pub const SPAN_TAG_PREFIX: &str = "feature_flags.";

/// Tags the span active during the evaluation with `feature_flags.<key>` = the variant, or the
/// value when there is no variant, so traces can be filtered by flag
/// (`@feature_flags.new-checkout:on`). Failed evaluations tag
/// `feature_flags.<key>.error` with the error type instead. Nothing happens without a
/// recording span.
///
/// Datadog's Rust tracer (`datadog-opentelemetry`) is an OpenTelemetry layer, so the active span
/// is the OpenTelemetry context's span; `tracing` users reach it through `tracing-opentelemetry`.
/// Names and values follow Datadog's tag limits ([`tag_name_part`],
/// [`tag_value`](crate::tag_value)).
#[derive(Clone, Copy, Debug, Default)]
pub struct SpanTagsSink;

impl SpanTagsSink {
    /// A span tag sink.
    pub fn new() -> Self {
        Self
    }
}

impl EvaluationSink for SpanTagsSink {
    fn record(&self, record: &EvaluationRecord<'_>) {
        Context::map_current(|context| {
            let span = context.span();
            if !span.is_recording() {
                return;
            }
            let name = tag_name_part(record.flag_key);
            match (served(record), record.error_type()) {
                (Some(value), _) => {
                    span.set_attribute(KeyValue::new(format!("{SPAN_TAG_PREFIX}{name}"), value))
                }
                (None, Some(error)) => {
                    span.set_attribute(KeyValue::new(
                        format!("{SPAN_TAG_PREFIX}{name}.error"),
                        error.as_str(),
                    ));
                }
                (None, None) => {}
            }
        });
    }
}
