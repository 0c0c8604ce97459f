//! `openfeature-hooks`: every OpenFeature flag evaluation as telemetry, with one dependency.
//!
//! Register one [`TelemetryHook`] on the OpenFeature API or a client; every evaluation is then
//! normalised once (semantic-convention reasons and error types, context id policy,
//! exclusions) and handed to the sinks you chose: OpenTelemetry, Sentry, Datadog, or JSON lines.
//!
//! ```
//! use open_feature::OpenFeature;
//! use openfeature_hooks::{Attribute, JsonLinesSink, TelemetryHook};
//! use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let hook = TelemetryHook::builder()
//!     .sink(JsonLinesSink::new(std::io::stdout()))
//!     .exclude(Attribute::Value)
//!     .build();
//! // Kept in `main`: dropped before the backends' providers shut down, it drains every queue.
//! let guard = hook.shutdown_guard();
//!
//! let mut api = OpenFeature::default();
//! api.set_provider(
//!     InMemoryProvider::new("in-memory").with_flag("new-checkout", InMemoryFlag::new(true)),
//! )
//! .await;
//! api.add_hook(hook).await;
//!
//! let enabled = api.create_client().get_bool_value("new-checkout", None, None).await;
//! assert_eq!(enabled, Ok(true));
//! drop(guard);
//! # }
//! ```
//!
//! # Crate feature flags
//!
//! | feature | what it adds |
//! | --- | --- |
//! | `otel` | [`otel`]: OpenTelemetry log events, span events, spans and metrics |
//! | `sentry` | [`sentry`]: Sentry flag context on errors, flag attributes on spans |
//! | `datadog` | [`datadog`]: Datadog span tags, experiment spans, the enrichment metric, change events |
//! | `full` | all of the above |
//!
//! With no feature, the crate is the core: [`TelemetryHook`], [`EvaluationRecord`],
//! [`JsonLinesSink`] and the shared options.

#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Every Rust block of the README is compiled (and run, unless marked `no_run`) with the doc
// tests, so that what a reader copies works.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use openfeature_hooks_core::{
    Attribute, BackgroundStats, BackgroundWorker, Clock, ContextId, ContextIdKey, ContextIdPolicy,
    CustomAttribute, DEFAULT_EXPOSURE_CAPACITY, DEFAULT_EXPOSURE_WINDOW, DEFAULT_QUEUE_CAPACITY,
    DEFAULT_SHUTDOWN_TIMEOUT, Drain, ErrorType, EvaluationEnd, EvaluationFailure, EvaluationRecord,
    EvaluationSink, EvaluationStarted, ExposureDedup, ExposureDedupBuilder, ExposureStats,
    FlagType, FlushOutcome, FnSink, HashedContextId, HookStats, JsonLinesSink, JsonValue,
    ManualClock, MonotonicClock, PendingEvaluation, QueueMembership, QueuedEvaluation, QueuedNeeds,
    QueuedPart, QueuedRecord, QueuedSink, Reason, ReasonTable, SampledSink, SamplingStats,
    ShutdownGuard, TelemetryHook, TelemetryHookBuilder,
};

/// OpenTelemetry log events, span events, spans and metrics (feature `otel`): the crate
/// [`openfeature_hooks_otel`].
#[cfg(feature = "otel")]
#[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
pub use openfeature_hooks_otel as otel;

/// Sentry flag context on errors and flag attributes on spans (feature `sentry`): the crate
/// [`openfeature_hooks_sentry`].
#[cfg(feature = "sentry")]
#[cfg_attr(docsrs, doc(cfg(feature = "sentry")))]
pub use openfeature_hooks_sentry as sentry;

/// Datadog span tags, experiment spans, the enrichment metric and change events (feature
/// `datadog`): the crate [`openfeature_hooks_datadog`].
#[cfg(feature = "datadog")]
#[cfg_attr(docsrs, doc(cfg(feature = "datadog")))]
pub use openfeature_hooks_datadog as datadog;
