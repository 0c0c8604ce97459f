//! OpenFeature flag evaluations as OpenTelemetry signals, for
//! [`openfeature-hooks`](https://docs.rs/openfeature-hooks).
//!
//! Each signal is a sink of the one [`TelemetryHook`](openfeature_hooks_core::TelemetryHook);
//! add the ones you want, and the evaluation is normalised once for all of them:
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
//! use openfeature_hooks_otel::{AttributeNaming, LogEventSink, MetricsSink, SpanEventSink};
//! use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
//! use opentelemetry_sdk::metrics::SdkMeterProvider;
//! # use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let exporter = InMemoryLogExporter::default();
//! let logs = SdkLoggerProvider::builder().with_simple_exporter(exporter.clone()).build();
//! let meters = SdkMeterProvider::builder().build();
//!
//! let events = LogEventSink::from_provider(&logs).with_naming(AttributeNaming::Current);
//! let hook = TelemetryHook::builder()
//!     .sink(events.clone())
//!     .sink(SpanEventSink::new())
//!     .sink(MetricsSink::from_provider(&meters))
//!     .build();
//!
//! let mut api = OpenFeature::default();
//! # api.set_provider(FixtureProvider::new("fixture").with_flag("new-checkout", FixtureFlag::new(true).variant("on"))).await;
//! api.add_hook(hook).await;
//! let enabled = api.create_client().get_bool_value("new-checkout", None, None).await;
//! assert_eq!(enabled, Ok(true));
//!
//! // Log events are built and emitted on a background thread: wait for them.
//! assert!(events.flush(std::time::Duration::from_secs(5)).is_complete());
//! let events = exporter.get_emitted_logs().unwrap_or_default();
//! assert_eq!(events[0].record.event_name(), Some("feature_flag.evaluation"));
//! # }
//! ```
//!
//! # Attribute names
//!
//! See [`AttributeNaming`] for today's names, the older revision's and how to write both while
//! dashboards migrate, and [`ResultValue`] for when the value is written as
//! `feature_flag.result.value` (by default only when there is no variant, as semantic
//! conventions 1.44 ask). Values are typed on log events (maps and lists for structs and arrays,
//! nested at most [`MAX_VALUE_DEPTH`](openfeature_hooks_core::__private::MAX_VALUE_DEPTH) deep) and JSON
//! text on spans and span events, whose attributes cannot hold maps.
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
pub use otel_value::{attribute_value, log_value};
pub use span_event::SpanEventSink;
