//! OpenFeature flag evaluations for Datadog: the Datadog sinks of
//! [`openfeature-hooks`](https://docs.rs/openfeature-hooks), in the forms Datadog's change
//! tracking correlates flags with service health.
//!
//! Each form is a sink of the one [`TelemetryHook`](openfeature_hooks_core::TelemetryHook); add
//! the ones you want, and each evaluation is normalised once for all of them:
//!
//! | sink | what Datadog gets |
//! | --- | --- |
//! | [`SpanTagsSink`] | `feature_flags.<key>` = variant (or value) on the active span: filter traces by flag |
//! | [`ExperimentSpanSink`] | an `experiments.IsEnabled` child span with `experiment_id` / `experiment_value` (trace-based enrichment), built on a background thread |
//! | [`EnrichmentMetricSink`] | `dd.dynamic_config.is_experiment_enabled` over DogStatsD (metric-based enrichment) |
//! | [`ChangeTrackingSink`] | Events API v2 change events when evaluations reveal a flag change, sent by [`ChangeEvents`], which also takes changes you report |
//!
//! ```
//! use std::io::ErrorKind;
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use open_feature::OpenFeature;
//! use openfeature_hooks_core::TelemetryHook;
//! use openfeature_hooks_datadog::{
//!     ChangeEvents, ChangeEventsConfig, ChangeTrackingSink, EnrichmentMetricSink,
//!     ExperimentSpanSink, SpanTagsSink,
//! };
//! use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};
//! use opentelemetry::Context;
//! use opentelemetry::trace::{FutureExt, TraceContextExt, Tracer, TracerProvider};
//! use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The application's tracer: Datadog's, `datadog_opentelemetry::tracing().init()`, returns
//! // this provider type; here it exports to memory.
//! let exporter = InMemorySpanExporter::default();
//! let tracers = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
//!
//! let mut hook = TelemetryHook::builder()
//!     .sink(SpanTagsSink::new())
//!     .sink(ExperimentSpanSink::new(tracers.tracer("openfeature-hooks")))
//!     // DogStatsD at DD_DOGSTATSD_URL, or DD_AGENT_HOST:DD_DOGSTATSD_PORT (localhost:8125).
//!     .sink(EnrichmentMetricSink::from_env()?.with_queue_capacity(1024));
//! // Change events need DD_API_KEY: without it (NotFound) they are off.
//! let events = match ChangeEventsConfig::from_env() {
//!     Ok(config) => Some(Arc::new(ChangeEvents::start(config))),
//!     Err(error) if error.kind() == ErrorKind::NotFound => None,
//!     Err(error) => return Err(error.into()),
//! };
//! if let Some(events) = &events {
//!     hook = hook.sink(ChangeTrackingSink::new(events.clone()));
//! }
//! let hook = hook.build();
//! // Kept until the end: its drop ends the experiment spans and sends what the queues hold.
//! let guard = hook.shutdown_guard();
//!
//! let mut api = OpenFeature::default();
//! let flags = InMemoryProvider::new("in-memory")
//!     .with_flag("new-checkout", InMemoryFlag::new(true).variant("on"));
//! api.set_provider(flags).await;
//! api.add_hook(hook).await;
//! let client = api.create_client();
//!
//! // An evaluation inside a request's span.
//! let request = Context::current_with_span(tracers.tracer("checkout").start("GET /checkout"));
//! let enabled = client
//!     .get_bool_value("new-checkout", None, None)
//!     .with_context(request.clone())
//!     .await;
//! assert_eq!(enabled, Ok(true));
//! request.span().end();
//!
//! // Shutdown order: the hook's guard first, then the change-event sender and the tracer.
//! drop(guard);
//! if let Some(events) = events {
//!     events.shutdown(Duration::from_secs(5));
//! }
//! let spans = exporter.get_finished_spans()?;
//! let request = spans.iter().find(|span| span.name == "GET /checkout");
//! assert!(request.is_some_and(|span| span.attributes.iter().any(|tag| {
//!     tag.key.as_str() == "feature_flags.new-checkout" && tag.value.as_str() == "on"
//! })));
//! // The experiments.IsEnabled span, named after the flag.
//! assert!(spans.iter().any(|span| span.name == "new-checkout"));
//! tracers.shutdown()?;
//! # Ok(())
//! # }
//! ```
//!
//! Spans go through the OpenTelemetry API: Datadog's Rust tracer, `datadog-opentelemetry`, is an
//! OpenTelemetry layer, so this crate needs no Datadog tracer dependency of its own; `tracing`
//! users reach the active span through `tracing-opentelemetry`.
//!
//! # Options
//!
//! The sinks speak the family's vocabulary: a constructor from what the application already
//! has (nothing, a tracer, an agent address or the environment, a change-event sender), then
//! `with_…` options.
//!
//! - [`ExperimentSpanSink::new`]`(tracer)`: `.with_volume(`[`ExperimentSpanVolume`]`)` (once
//!   per flag per trace, the default, or every evaluation).
//! - [`EnrichmentMetricSink::new`]`(address, service)` or
//!   [`from_env()`](EnrichmentMetricSink::from_env).
//! - [`ChangeTrackingSink::new`]`(events)`, with the sender [`ChangeEvents::start`] returns
//!   from a [`ChangeEventsConfig`]: [`new`](ChangeEventsConfig::new)`(`[`ApiKey`]`, site,
//!   `[`ChangeOrigin`]`)` or [`from_env()`](ChangeEventsConfig::from_env), then
//!   `.with_endpoint`, `.with_timeout`, `.with_retries`. Report changes the hook cannot see
//!   (from your flag system's webhooks) as [`FlagChange`]s with
//!   [`report`](ChangeEvents::report) or [`try_report`](ChangeEvents::try_report), which says
//!   why a change was not queued ([`NotQueued`]).
//! - `.with_queue_capacity(n)` on everything with a queue ([`ExperimentSpanSink`],
//!   [`EnrichmentMetricSink`], [`ChangeEventsConfig`]), and `.stats()` for its own counters
//!   ([`ChangeEvents::stats`]: [`ChangeEventStats`]); `.flush(timeout)` waits for a queue
//!   before a tracer is read or shut down.
//!
//! Every `from_env` returns an [`std::io::Result`]: `NotFound` naming a required variable that
//! is missing, `InvalidInput` naming one whose value is not usable.
//!
//! # What each sink sends, and its configuration
//!
//! | sink | what | configuration |
//! | --- | --- | --- |
//! | [`SpanTagsSink`] | `feature_flags.<key>` = variant (else value) on the active span | names and values cut to [`MAX_TAG_LEN`] characters |
//! | [`ExperimentSpanSink`] | an `experiments.IsEnabled` child span with `experiment_id`, `experiment_value` | once per flag per trace, or [`ExperimentSpanVolume::Every`] |
//! | [`EnrichmentMetricSink`] | `dd.dynamic_config.is_experiment_enabled:1\|g\|#experiment.id:<key>,service:<service>` | `DD_DOGSTATSD_URL`, else `DD_AGENT_HOST` + `DD_DOGSTATSD_PORT`; `DD_SERVICE` |
//! | [`ChangeTrackingSink`] | Events API v2 change events when a flag's `version` changes or a new variant is served | `DD_API_KEY`, `DD_SITE`, `DD_SERVICE`, `DD_ENV` |
//!
//! Spans go through the OpenTelemetry API: use `datadog_opentelemetry::tracing().init()` as
//! the tracer provider (`DD_TRACE_AGENT_URL`, `DD_SERVICE`, `DD_ENV`). Change events leave from
//! a thread of their own: bounded queue (drops counted), 5 s timeout, 3 attempts with backoff
//! on 5xx and 429, no retry on other 4xx, [`ChangeEvents::flush`] and
//! [`ChangeEvents::shutdown`] bounded; the API key never appears in `Debug` or logs. The
//! DogStatsD client's own queue (cadence's) cannot be waited for: it drains when the sink is
//! dropped, but the hook's flush and guard cannot wait for it.
//!
//! # Names and limits
//!
//! What queries and monitors match on: [`SPAN_TAG_PREFIX`], [`EXPERIMENT_OPERATION`],
//! [`ENRICHMENT_METRIC`]. Tag names and values are cut to [`MAX_TAG_LEN`] characters; change
//! events stay within the Events API's [`limits`], and a change older than [`MAX_EVENT_AGE`] or
//! more than [`MAX_EVENT_SKEW`] ahead is sent with the time of sending; change detection keeps
//! the state of [`MAX_TRACKED_FLAGS`] flags and [`MAX_TRACKED_VARIANTS`] variants each.
//!
//! # Crate feature flags
//!
//! This crate has no optional features.

#![warn(missing_docs, unreachable_pub)]

mod change_detector;
mod change_event_body;
mod change_events;
mod change_tracking;
mod enrichment_metric;
mod env_value;
mod experiment_span;
mod flag_change;
mod flag_tag;
mod seen_once;
mod span_tag_key;
mod span_tags;
mod tag_text;

pub use change_detector::{MAX_TRACKED_FLAGS, MAX_TRACKED_VARIANTS};
pub use change_event_body::{ChangeOrigin, MAX_EVENT_AGE, MAX_EVENT_SKEW, limits};
pub use change_events::{ApiKey, ChangeEventStats, ChangeEvents, ChangeEventsConfig, NotQueued};
pub use change_tracking::ChangeTrackingSink;
pub use enrichment_metric::{ENRICHMENT_METRIC, EnrichmentMetricSink};
pub use experiment_span::{EXPERIMENT_OPERATION, ExperimentSpanSink, ExperimentSpanVolume};
pub use flag_change::{AuthorType, FlagChange};
pub use span_tags::{SPAN_TAG_PREFIX, SpanTagsSink};
pub use tag_text::MAX_TAG_LEN;

/// What the sibling crates of this family (the flag-change relay) and its tests, benches and
/// fuzz targets share with this crate: the change-event body at a given time, the tag text
/// rules on their own, the change detector the tracking sink uses, the size of the tag memory.
///
/// **Not part of the public API**: it carries no semver promise and may change in any
/// release. Applications use the items at the crate root.
#[doc(hidden)]
pub mod __private {
    pub use crate::change_detector::ChangeDetector;
    pub use crate::change_event_body::{change_event_body, change_event_body_at};
    pub use crate::seen_once::MAX_REMEMBERED;
    pub use crate::span_tags::RECENT_TAGS;
    pub use crate::tag_text::{tag_name_part, tag_value};
}
