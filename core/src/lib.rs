//! The core of `openfeature-hooks`: every OpenFeature flag evaluation normalised once, recorded
//! exactly once, and handed to any number of telemetry sinks.
//!
//! ```
//! use open_feature::{EvaluationContext, OpenFeature};
//! use openfeature_hooks_core::{ContextIdPolicy, JsonLinesSink, TelemetryHook};
//! use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let hook = TelemetryHook::builder()
//!     .sink(JsonLinesSink::new(std::io::stdout()))
//!     .context_id(ContextIdPolicy::Keep)
//!     .build();
//! // Kept in `main`: its drop drains every queue behind the hook.
//! let guard = hook.shutdown_guard();
//!
//! let mut api = OpenFeature::default();
//! api.set_provider(
//!     InMemoryProvider::new("in-memory")
//!         .with_flag("new-checkout", InMemoryFlag::new(true).variant("on")),
//! )
//! .await;
//! api.add_hook(hook).await;
//!
//! let client = api.create_client();
//! let context = EvaluationContext::default().with_targeting_key("user-42");
//! let enabled = client.get_bool_value("new-checkout", Some(&context), None).await;
//! assert_eq!(enabled, Ok(true));
//!
//! drop(guard);
//! // stdout: {"time":"…","flag_key":"new-checkout","flag_type":"boolean","value":true,
//! //          "variant":"on","reason":"static","context_id":"user-42","provider":"in-memory"}
//! # }
//! ```
//!
//! # For service owners
//!
//! - [`TelemetryHook`], built with [`TelemetryHookBuilder`]: the one `open_feature::Hook`. It
//!   turns the SDK's stages into one [`EvaluationRecord`] per evaluation, describing what the
//!   caller received, and gives it to every sink. [`HookStats`] counts what went wrong (panics
//!   contained, records lost, drops).
//! - Shutdown: [`TelemetryHook::flush`] and [`TelemetryHook::shutdown`] drain every queue
//!   behind the hook within a bound and return a [`FlushOutcome`]; keep a [`ShutdownGuard`]
//!   in `main` and drop it before the backends' providers shut down.
//! - Options every backend shares, set on the builder: exclusions ([`Attribute`]), the context
//!   id policy ([`ContextIdPolicy`], [`ContextIdKey`]), a flag filter, custom attributes,
//!   extra rows for the reason table ([`Reason`], [`ReasonTable`]).
//! - [`JsonLinesSink`]: one JSON object per evaluation to any `io::Write`, formatted and
//!   written on a thread of its own. [`FnSink`]: a closure as a sink.
//! - Volume control, as wrappers any sink can take (the README's production setup):
//!   [`ExposureDedup`] passes each exposure once per window; [`SampledSink`] keeps a fraction
//!   of contexts and states the rate on each record. [`ManualClock`] drives their windows in
//!   tests.
//!
//! # For sink authors
//!
//! - [`EvaluationSink`]: what every backend implements; `record` runs inside the caller's
//!   evaluation, `flush` and `lost` let the hook's one flush and its stats reach the sink.
//! - The record: [`EvaluationRecord`] (key, [`FlagType`], value, variant, [`Reason`], error
//!   ([`EvaluationFailure`], [`ErrorType`]), [`ContextId`], provider, client, set id,
//!   version, metadata, [`CustomAttribute`]s, [`EvaluationStarted`] and [`EvaluationEnd`]). It
//!   borrows from the evaluation: nothing is copied unless a sink copies it. [`JsonValue`]
//!   writes flag values as depth-limited JSON.
//! - Work off the evaluation path: [`QueuedSink`] (a sink's background half; a hook captures
//!   each evaluation once, as a [`QueuedRecord`] inside a [`QueuedEvaluation`], for all of
//!   them), [`QueueMembership`] and [`QueuedPart`] (how a queued sink finds its queues), and
//!   [`BackgroundWorker`] with its [`Drain`] (a bounded queue and one thread, drops counted,
//!   [`BackgroundStats`]).
//!
//! # Layout
//!
//! The source is laid out by concept, one module folder each: `record` (the record and its
//! normalisation), `hook` (the hook, its builder, shutdown, and how it follows an evaluation
//! across the SDK's stages), `sink` (the sink trait and JSON lines), `volume` (volume
//! control), `queue` (the background queue and its worker), and `speed` (the speed machinery,
//! with a table of what each trick buys). What only the sibling crates share lives in a hidden
//! module that carries no semver promise.
//!
//! # Personal data
//!
//! The targeting key and flag values can be personal data. By default the context id is not
//! recorded ([`ContextIdPolicy::Omit`]); choose [`ContextIdPolicy::Hash`] or
//! [`ContextIdPolicy::Keep`] to record it. Exclude values with
//! [`TelemetryHookBuilder::exclude`]`(`[`Attribute::Value`]`)`. The evaluation context is handed
//! to sinks and callbacks but no sink in this family writes it out.
//!
//! # Crate feature flags
//!
//! - `opentelemetry` (off by default): [`QueuedSink`]s can ask for the span active during the
//!   evaluation ([`QueuedNeeds::parent_span`]), read through OpenTelemetry's context. The
//!   OpenTelemetry and Datadog backends turn it on.

#![warn(missing_docs, unreachable_pub)]

mod hook;
mod panic_guard;
mod queue;
mod record;
mod sink;
mod speed;
mod volume;

// The hook, its options and its shutdown.
pub use hook::builder::TelemetryHookBuilder;
pub use hook::evaluation_start::{EvaluationEnd, EvaluationStarted};
pub use hook::shutdown::{DEFAULT_SHUTDOWN_TIMEOUT, FlushOutcome, ShutdownGuard};
pub use hook::telemetry_hook::{HookStats, TelemetryHook};
// The record and its vocabulary.
pub use record::attribute::Attribute;
pub use record::context_id::{ContextId, ContextIdKey, ContextIdPolicy, HashedContextId};
pub use record::error_type::{ErrorType, EvaluationFailure};
pub use record::evaluation_record::{CustomAttribute, EvaluationRecord};
pub use record::flag_type::FlagType;
pub use record::reason::{Reason, ReasonTable};
pub use record::value_json::JsonValue;
// Sinks.
pub use sink::evaluation_sink::{EvaluationSink, FnSink, NoopSink};
pub use sink::json_lines::JsonLinesSink;
// Volume control.
#[doc(hidden)]
pub use volume::clock::MonotonicClock;
pub use volume::clock::{Clock, ManualClock};
pub use volume::exposure_dedup::{
    DEFAULT_EXPOSURE_CAPACITY, DEFAULT_EXPOSURE_WINDOW, ExposureDedup, ExposureDedupBuilder,
    ExposureStats,
};
pub use volume::sampling::{SampledSink, SamplingStats};
// The background queue, for sinks that move work off the evaluation path.
pub use queue::background_worker::{
    BackgroundStats, BackgroundWorker, DEFAULT_QUEUE_CAPACITY, Drain,
};
pub use queue::evaluation_queue::{QueueMembership, QueuedPart};
pub use queue::queued_evaluation::QueuedEvaluation;
pub use queue::queued_record::QueuedRecord;
pub use queue::queued_sink::{PendingEvaluation, QueuedNeeds, QueuedSink};

/// What the sibling crates of this family (the OpenTelemetry, Sentry and Datadog backends, the
/// relay) share, mostly for speed: interned texts, fast hashers, cache-line padding, striped
/// counters, the lazily started worker, context fingerprints and limits they enforce alike.
///
/// **Not part of the public API**: it carries no semver promise and may change in any
/// release. Sink authors outside this family use the items at the crate root.
#[doc(hidden)]
pub mod __private {
    pub use crate::hook::evaluation_start::{EvaluationStart, MAX_START_AGE, START_SLOTS};
    pub use crate::queue::background_worker::{MAX_IDLE_PARK, SHUTDOWN_TIMEOUT};
    pub use crate::queue::evaluation_queue::{EvaluationQueue, MAX_QUEUED_SINKS};
    pub use crate::queue::lazy_worker::LazyWorker;
    #[cfg(feature = "opentelemetry")]
    pub use crate::queue::parent_span::ParentSpanIds;
    pub use crate::record::attribute::AttributeSet;
    pub use crate::record::context_fingerprint::context_fingerprint;
    pub use crate::record::context_id::context_id_source;
    pub use crate::record::evaluation_record::metadata_text;
    pub use crate::record::reason::MAX_CUSTOM_REASON_LEN;
    pub use crate::record::timestamp::{Rfc3339, Rfc3339Text};
    pub use crate::record::value_json::{DEPTH_LIMIT_MARKER, MAX_VALUE_DEPTH};
    pub use crate::speed::fast_hash::{FastBuildHasher, FastHasher, fibonacci_index, fold_hashes};
    pub use crate::speed::own_cache_lines::OwnCacheLines;
    pub use crate::speed::record_texts::RecordTexts;
    pub use crate::speed::shared_text::{
        MAX_INTERNED_TEXTS, MAX_SHARED_TEXT_LEN, SharedText, shared_text,
    };
    pub use crate::speed::striped_count::{MAX_COUNT_STRIPES, StripedCount};
    pub use crate::volume::distinct_count::DistinctCounter;
}

// Inside this crate the shared items are named from the root, like the public ones.
#[allow(unused_imports)]
pub(crate) use __private::*;
