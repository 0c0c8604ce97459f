//! OpenFeature flag evaluations for Datadog, for
//! [`openfeature-hooks`](https://docs.rs/openfeature-hooks): the ways Datadog's change tracking
//! correlates flags with service health.
//!
//! | sink | what Datadog gets |
//! | --- | --- |
//! | [`SpanTagsSink`] | `feature_flags.<key>` = variant (or value) on the active span: filter traces by flag |
//! | [`ExperimentSpanSink`] | an `experiments.IsEnabled` child span with `experiment_id` / `experiment_value` (trace-based enrichment) |
//! | [`EnrichmentMetricSink`] | `dd.dynamic_config.is_experiment_enabled` over DogStatsD (metric-based enrichment) |
//! | [`ChangeTrackingSink`] | Events API v2 change events when evaluations reveal a flag change ([`ChangeEvents`] also takes explicit reports) |
//!
//! ```
//! use openfeature_hooks_core::TelemetryHook;
//! use openfeature_hooks_datadog::{ExperimentSpanSink, SpanTagsSink};
//! use opentelemetry::trace::TracerProvider;
//!
//! // With Datadog's tracer: `datadog_opentelemetry::tracing().init()` returns the provider.
//! let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
//! let hook = TelemetryHook::builder()
//!     .sink(SpanTagsSink::new())
//!     .sink(ExperimentSpanSink::new(provider.tracer("openfeature-hooks")))
//!     .build();
//! # drop(hook);
//! ```
//!
//! Spans go through the OpenTelemetry API: Datadog's Rust tracer, `datadog-opentelemetry`, is an
//! OpenTelemetry layer, so this crate needs no Datadog tracer dependency of its own. Tag names
//! and values follow Datadog's limits; change events follow the Events API's.
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
