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
//!   [`context_fingerprint`], in memory, whatever the context id policy writes out. Time comes
//!   from a [`Clock`] ([`MonotonicClock`], or [`ManualClock`] in tests).
//! - For backends' hot paths: [`shared_text`] and [`RecordTexts`] (flag keys, variants and
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
pub mod background_worker;
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

pub use attribute::{Attribute, AttributeSet};
pub use background_worker::{BackgroundStats, BackgroundWorker, Drain};
pub use builder::TelemetryHookBuilder;
pub use clock::{Clock, ManualClock, MonotonicClock};
pub use context_fingerprint::context_fingerprint;
pub use context_id::{
    ContextId, ContextIdKey, ContextIdPolicy, HashedContextId, context_id_source,
};
pub use distinct_count::DistinctCounter;
pub use error_type::{ErrorType, EvaluationFailure};
pub use evaluation_queue::{EvaluationQueue, MAX_QUEUED_SINKS, QueueMembership, QueuedPart};
pub use evaluation_start::{
    EvaluationEnd, EvaluationStart, EvaluationStarted, MAX_START_AGE, START_SLOTS,
};
pub use exposure_dedup::{
    DEFAULT_EXPOSURE_CAPACITY, DEFAULT_EXPOSURE_WINDOW, ExposureDedup, ExposureDedupBuilder,
    ExposureStats,
};
pub use fast_hash::{FastBuildHasher, FastHasher, fibonacci_index, fold_hashes};
pub use flag_type::FlagType;
pub use hook::{HookStats, TelemetryHook};
pub use json_lines::JsonLinesSink;
pub use lazy_worker::LazyWorker;
pub use own_cache_lines::OwnCacheLines;
#[cfg(feature = "opentelemetry")]
pub use parent_span::ParentSpanIds;
pub use queued_evaluation::QueuedEvaluation;
pub use queued_record::QueuedRecord;
pub use queued_sink::{PendingEvaluation, QueuedNeeds, QueuedSink};
pub use reason::{MAX_CUSTOM_REASON_LEN, Reason, ReasonTable};
pub use record::{CustomAttribute, EvaluationRecord, metadata_text};
pub use record_texts::RecordTexts;
pub use sampling::{SampledSink, SamplingStats};
pub use shared_text::{MAX_INTERNED_TEXTS, MAX_SHARED_TEXT_LEN, SharedText, shared_text};
pub use shutdown::{DEFAULT_SHUTDOWN_TIMEOUT, FlushOutcome, ShutdownGuard};
pub use sink::{EvaluationSink, FnSink, NoopSink};
pub use striped_count::{MAX_COUNT_STRIPES, StripedCount};
pub use timestamp::{Rfc3339, Rfc3339Text};
pub use value_json::{DEPTH_LIMIT_MARKER, JsonValue, MAX_VALUE_DEPTH};
