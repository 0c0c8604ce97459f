//! OpenFeature flag evaluations as OpenTelemetry signals: the OpenTelemetry sinks of
//! [`openfeature-hooks`](https://docs.rs/openfeature-hooks).
//!
//! Each signal is a sink of the one [`TelemetryHook`](openfeature_hooks_core::TelemetryHook);
//! add the ones you want, and each evaluation is normalised once for all of them:
//!
//! | sink | signal |
//! | --- | --- |
//! | [`LogEventSink`] | a `feature_flag.evaluation` log event (the conventions' main form), built and emitted on a background thread |
//! | [`SpanEventSink`] | a `feature_flag.evaluation` event on the active span |
//! | [`EvaluationSpanSink`] | a `feature_flag.evaluation` span per evaluation |
//! | [`MetricsSink`] | active / requests / success / error counters, a duration histogram (recorded on a background thread), and opt-in distinct contexts per variant |
//!
//! ```
//! use open_feature::OpenFeature;
//! use openfeature_hooks_core::TelemetryHook;
//! use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};
//! use openfeature_hooks_otel::{AttributeNaming, LogEventSink, MetricsSink, SpanEventSink};
//! use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
//! use opentelemetry_sdk::metrics::SdkMeterProvider;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // The application's providers: an OTLP exporter in production, memory here.
//! let exporter = InMemoryLogExporter::default();
//! let logs = SdkLoggerProvider::builder().with_simple_exporter(exporter.clone()).build();
//! let meters = SdkMeterProvider::builder().build();
//!
//! let hook = TelemetryHook::builder()
//!     .sink(LogEventSink::from_provider(&logs).with_naming(AttributeNaming::Current))
//!     .sink(SpanEventSink::new())
//!     .sink(MetricsSink::from_provider(&meters))
//!     .build();
//! // Kept until the end of `main`: its drop emits what the hook's queues still hold.
//! let guard = hook.shutdown_guard();
//!
//! let mut api = OpenFeature::default();
//! let flags = InMemoryProvider::new("in-memory")
//!     .with_flag("new-checkout", InMemoryFlag::new(true).variant("on"));
//! api.set_provider(flags).await;
//! api.add_hook(hook).await;
//! let enabled = api.create_client().get_bool_value("new-checkout", None, None).await;
//! assert_eq!(enabled, Ok(true));
//!
//! // Shutdown order: the hook's guard first, then the providers.
//! drop(guard);
//! let events = exporter.get_emitted_logs().unwrap_or_default();
//! assert_eq!(events[0].record.event_name(), Some("feature_flag.evaluation"));
//! let _ = meters.shutdown();
//! let _ = logs.shutdown();
//! # }
//! ```
//!
//! # Options
//!
//! Every sink speaks the same vocabulary: `new(…)` from what OpenTelemetry's own starters
//! return (a logger, a tracer, a meter; nothing for [`SpanEventSink`], which writes to the
//! active span), or `from_provider(&provider)` for a logger, tracer or meter whose
//! instrumentation scope is this crate; then `with_…` options.
//!
//! - `.with_naming(`[`AttributeNaming`]`)`, on every sink: today's attribute names, the older
//!   revision's, or both while dashboards migrate.
//! - `.with_result_value(`[`ResultValue`]`)`, on the sinks that write values (log events, span
//!   events, spans): when the value is the attribute `feature_flag.result.value`; by default
//!   only when there is no variant, as semantic conventions 1.44 ask.
//! - `.with_queue_capacity(n)`, on the sinks with a background queue ([`LogEventSink`],
//!   [`MetricsSink`]'s durations), and `.stats()` for their own counters; `.flush(timeout)`
//!   before reading an exporter.
//!
//! Values are typed on log events (maps and lists for structs and arrays, nested at most 32
//! deep) and JSON text on spans and span events, whose attributes cannot hold maps. Metrics
//! carry no values, messages or context ids.
//!
//! # The sinks
//!
//! | sink | signal | notes |
//! | --- | --- | --- |
//! | [`LogEventSink`] | `feature_flag.evaluation` log event | skips cheaply when the logger says the event is disabled; carries the active span's trace context; `.with_event_mutator(f)` like the JavaScript hook's `eventMutator` |
//! | [`SpanEventSink`] | event on the active span | nothing without a recording span |
//! | [`EvaluationSpanSink`] | a `feature_flag.evaluation` span per evaluation | starts when `before` ran, child of the active span, error status on failure |
//! | [`MetricsSink`] | `feature_flag.evaluation_active_count`, `_requests_total`, `_success_total`, `_error_total`, `feature_flag.evaluation.duration` (s) | low-cardinality attributes only; **one per meter provider**, clone it for other hooks |
//!
//! # What is recorded
//!
//! | record field | current names ([`AttributeNaming::Current`]) | older names ([`AttributeNaming::Legacy`]) |
//! | --- | --- | --- |
//! | flag key | `feature_flag.key` | same |
//! | variant | `feature_flag.result.variant` | `feature_flag.variant` |
//! | value | `feature_flag.result.value` (typed; JSON text on spans), only when there is no variant by default | log body `{"value": …}`, always |
//! | reason | `feature_flag.result.reason` | `feature_flag.evaluation.reason` |
//! | error type | `error.type` | same |
//! | error message | `feature_flag.error.message` | `feature_flag.evaluation.error.message` |
//! | provider | `feature_flag.provider.name` | `feature_flag.provider_name` |
//! | context id | `feature_flag.context.id` | same |
//! | set id, version | `feature_flag.set.id`, `feature_flag.version` | same |
//!
//! The value, on every signal (log event, span event, evaluation span), follows semantic
//! conventions 1.44 by default: `feature_flag.result.value` is *conditionally required when
//! there is no variant* and *opt-in when there is one*, so it is written only without a variant
//! ([`ResultValue::WhenNoVariant`]): a variant already names what was served, and values can be
//! large or personal. `.with_result_value(ResultValue::Always)` writes it every time (what the
//! JavaScript hook does), [`ResultValue::Never`] never. The older naming keeps its own rule: its
//! log body carries the value whenever there is one.
//!
//! Checked against semantic conventions 1.44 (a test compares every name with the
//! `opentelemetry-semantic-conventions` crate's constants): the event name, every attribute
//! name, the reason values and the error types are unchanged since 1.40; only the value
//! attribute's requirement level changed, and is followed (a query that reads
//! `feature_flag.result.value` on flags with variants needs `ResultValue::Always`).
//!
//! # Names and limits
//!
//! What queries, processors and views match on: [`EVENT_NAME`] (every event and span),
//! [`LOG_TARGET`] (the target log events are asked under), [`SAMPLE_RATE`] (on records kept by
//! a `SampledSink`), and the metric names in [`instrument`]. The metrics keep at most
//! [`MAX_SERIES`] series per table and [`MAX_DISTINCT_CONTEXT_SERIES`] distinct-context series,
//! then share an overflow series (`otel.metric.overflow = true`); the duration histogram's
//! buckets are [`DURATION_BOUNDARIES`]. A background queue holds at most
//! [`DEFAULT_QUEUE_CAPACITY`](openfeature_hooks_core::DEFAULT_QUEUE_CAPACITY) items per
//! evaluating thread unless set otherwise; past that it drops them and counts them in `stats()`.
//!
//! # Shutdown
//!
//! Log events and durations wait in bounded queues on their way out. Drop the hook's
//! [`ShutdownGuard`](openfeature_hooks_core::ShutdownGuard) (or call its `shutdown`) before the
//! providers shut down: what is still queued is then emitted, not lost. Events that reach a
//! shut-down logger provider are counted as lost by a [`LogEventSink`] made
//! [`from_provider`](LogEventSink::from_provider) ([`LogEventSink::stats`], and the hook's
//! `HookStats::lost`).
//!
//! # Crate feature flags
//!
//! This crate has no optional features. It depends on the `opentelemetry` API only; bring your
//! own SDK and exporter.

#![warn(missing_docs, unreachable_pub)]

mod attribute_naming;
mod attributes;
mod distinct_contexts;
mod duration_histogram;
mod evaluation_span;
mod log_event;
mod metrics;
mod otel_value;
mod series_table;
mod shared_strings;
mod span_event;

pub use attribute_naming::{AttributeNaming, EVENT_NAME, ResultValue};
pub use attributes::SAMPLE_RATE;
pub use distinct_contexts::MAX_DISTINCT_CONTEXT_SERIES;
pub use evaluation_span::EvaluationSpanSink;
pub use log_event::{LOG_TARGET, LogEventSink};
pub use metrics::{DURATION_BOUNDARIES, MAX_SERIES, MetricsSink, instrument};
pub use span_event::SpanEventSink;

/// What the tests, benches and fuzz targets of this family reach for: the conversions of flag
/// values to OpenTelemetry values that the sinks use.
///
/// **Not part of the public API**: it carries no semver promise and may change in any
/// release.
#[doc(hidden)]
pub mod __private {
    pub use crate::otel_value::{attribute_value, log_value};
}
