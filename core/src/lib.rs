//! The core of `openfeature-hooks`: every OpenFeature flag evaluation normalised once, recorded
//! exactly once, and handed to any number of telemetry sinks.
//!
//! ```
//! # use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider};
//! use open_feature::{EvaluationContext, OpenFeature};
//! use openfeature_hooks_core::{ContextIdPolicy, JsonLinesSink, TelemetryHook};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let hook = TelemetryHook::builder()
//!     .sink(JsonLinesSink::new(std::io::stdout()))
//!     .context_id(ContextIdPolicy::Keep)
//!     .build();
//!
//! let mut api = OpenFeature::default();
//! # let provider = FixtureProvider::new("fixture").with_flag("new-checkout", FixtureFlag::new(true).variant("on"));
//! api.set_provider(provider).await;
//! api.add_hook(hook).await;
//!
//! let client = api.create_client();
//! let context = EvaluationContext::default().with_targeting_key("user-42");
//! let enabled = client.get_bool_value("new-checkout", Some(&context), None).await;
//! assert_eq!(enabled, Ok(true));
//! // stdout: {"time":"…","flag_key":"new-checkout","flag_type":"boolean","value":true,
//! //          "variant":"on","reason":"static","context_id":"user-42","provider":"fixture"}
//! # }
//! ```
//!
//! # The pieces
//!
//! - [`TelemetryHook`]: the one `open_feature::Hook`. It turns the SDK's stages into one
//!   [`EvaluationRecord`] per evaluation, describing what the caller received, and gives it to
//!   every [`EvaluationSink`].
//! - [`EvaluationRecord`]: key, type, value, variant, reason ([`Reason`], via [`ReasonTable`]),
//!   error ([`EvaluationFailure`], [`ErrorType`]), context id ([`ContextId`], per
//!   [`ContextIdPolicy`]), provider, client, set id, version, metadata, custom attributes. It
//!   borrows from the evaluation: nothing is copied unless a sink copies it.
//! - Options every backend shares, set on [`TelemetryHookBuilder`]: exclusions ([`Attribute`]),
//!   the context id policy, a flag filter, custom attributes, extra reason-table rows.
//! - [`JsonLinesSink`]: one JSON object per evaluation to any `io::Write`, formatted and
//!   written on a background thread.
//! - For work that can leave the evaluation path: [`QueuedRecord`] (a record captured cheaply,
//!   with its moment) and [`BackgroundWorker`] (a bounded queue, drops counted, one thread).
//!   Sinks that implement [`QueuedSink`] share one [`EvaluationQueue`] per hook: each
//!   evaluation is captured and queued once for all of them.
//! - [`JsonValue`]: flag values as depth-limited JSON, for sinks that write values as text.
//! - Volume control, as wrappers any sink can take (see the README's "Production setup"):
//!   [`ExposureDedup`] passes each exposure (flag, context, variant, version, set id) once per
//!   window through a fixed lock-free table; [`SampledSink`] keeps a fraction of contexts and
//!   states the rate in [`EvaluationRecord::sample_rate`]; [`DistinctCounter`] counts distinct
//!   contexts in 4 KiB. They tell contexts apart by [`context_id_source`] /
//!   `context_fingerprint`, in memory, whatever the context id policy writes out. Time comes
//!   from a [`Clock`] ([`MonotonicClock`], or [`ManualClock`] in tests).
//! - For backends' hot paths: `shared_text` and [`RecordTexts`] (flag keys, variants and
//!   provider names interned once instead of copied per evaluation, memory bounded), and
//!   [`FastHasher`] for their own bounded tables.
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

mod after_marks;
mod attribute;
mod background_worker;
mod builder;
mod captured_texts;
mod clock;
mod context_fingerprint;
mod context_id;
mod distinct_count;
mod error_type;
mod evaluation_queue;
mod evaluation_start;
mod exposure_dedup;
mod exposure_key;
mod exposure_table;
mod fast_hash;
mod flag_type;
mod hook;
mod json_lines;
mod json_object;
mod lazy_worker;
mod normaliser;
mod own_cache_lines;
mod panic_guard;
#[cfg(feature = "opentelemetry")]
mod parent_span;
mod prefetch;
mod queued_evaluation;
mod queued_record;
mod queued_sink;
mod rare_parts;
mod reason;
mod record;
mod record_texts;
mod recycled_parts;
mod sampling;
mod shared_text;
mod shutdown;
mod sink;
mod stage_future;
mod start_table;
mod striped_count;
mod striped_counters;
mod thread_number;
mod thread_queues;
mod tick_clock;
mod timestamp;
mod value_json;

pub use attribute::Attribute;
pub use background_worker::{BackgroundStats, BackgroundWorker, DEFAULT_QUEUE_CAPACITY, Drain};
pub use builder::TelemetryHookBuilder;
#[doc(hidden)]
pub use clock::MonotonicClock;
pub use clock::{Clock, ManualClock};
pub use context_id::{ContextId, ContextIdKey, ContextIdPolicy, HashedContextId};
pub use error_type::{ErrorType, EvaluationFailure};
pub use evaluation_queue::{QueueMembership, QueuedPart};
pub use evaluation_start::{EvaluationEnd, EvaluationStarted};
pub use exposure_dedup::{
    DEFAULT_EXPOSURE_CAPACITY, DEFAULT_EXPOSURE_WINDOW, ExposureDedup, ExposureDedupBuilder,
    ExposureStats,
};
pub use flag_type::FlagType;
pub use hook::{HookStats, TelemetryHook};
pub use json_lines::JsonLinesSink;
pub use queued_evaluation::QueuedEvaluation;
pub use queued_record::QueuedRecord;
pub use queued_sink::{PendingEvaluation, QueuedNeeds, QueuedSink};
pub use reason::{Reason, ReasonTable};
pub use record::{CustomAttribute, EvaluationRecord};
pub use sampling::{SampledSink, SamplingStats};
pub use shutdown::{DEFAULT_SHUTDOWN_TIMEOUT, FlushOutcome, ShutdownGuard};
pub use sink::{EvaluationSink, FnSink, NoopSink};
pub use value_json::JsonValue;

/// What the sibling crates of this family (the OpenTelemetry, Sentry and Datadog backends, the
/// relay) share, mostly for speed: interned texts, fast hashers, cache-line padding, striped
/// counters, the lazily started worker, context fingerprints and limits they enforce alike.
///
/// **Not part of the public API**: it carries no semver promise and may change in any
/// release. Sink authors outside this family use the items at the crate root.
#[doc(hidden)]
pub mod __private {
    pub use crate::attribute::AttributeSet;
    pub use crate::background_worker::{MAX_IDLE_PARK, SHUTDOWN_TIMEOUT};
    pub use crate::context_fingerprint::context_fingerprint;
    pub use crate::context_id::context_id_source;
    pub use crate::distinct_count::DistinctCounter;
    pub use crate::evaluation_queue::{EvaluationQueue, MAX_QUEUED_SINKS};
    pub use crate::evaluation_start::{EvaluationStart, MAX_START_AGE, START_SLOTS};
    pub use crate::fast_hash::{FastBuildHasher, FastHasher, fibonacci_index, fold_hashes};
    pub use crate::lazy_worker::LazyWorker;
    pub use crate::own_cache_lines::OwnCacheLines;
    #[cfg(feature = "opentelemetry")]
    pub use crate::parent_span::ParentSpanIds;
    pub use crate::reason::MAX_CUSTOM_REASON_LEN;
    pub use crate::record::metadata_text;
    pub use crate::record_texts::RecordTexts;
    pub use crate::shared_text::{
        MAX_INTERNED_TEXTS, MAX_SHARED_TEXT_LEN, SharedText, shared_text,
    };
    pub use crate::striped_count::{MAX_COUNT_STRIPES, StripedCount};
    pub use crate::timestamp::{Rfc3339, Rfc3339Text};
    pub use crate::value_json::{DEPTH_LIMIT_MARKER, MAX_VALUE_DEPTH};
}

// Inside this crate the shared items are named from the root, like the public ones.
#[allow(unused_imports)]
pub(crate) use __private::*;
