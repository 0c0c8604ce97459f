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
//! # Options every backend shares
//!
//! | builder call | effect | default |
//! | --- | --- | --- |
//! | `.context_id(ContextIdPolicy::…)` | `Omit`, `Keep`, or `Hash(key)` (SipHash-2-4, 128-bit, keyed: a dictionary of ids cannot reverse it) | **`Omit`** |
//! | `.exclude(Attribute::…)` | drop value, variant, reason, error message, context id, provider, set id, version or metadata | nothing excluded |
//! | `.flag_filter(fn)` | record only matching keys | all |
//! | `.custom_attributes(fn)` | extra key/values from (hook context, record) | none |
//! | `.reason(raw, Reason)` / `.reasons(table)` | extend or replace the reason table | built-in table |
//!
//! Reasons are normalised to `static`, `default`, `targeting_match`, `split`, `cached`,
//! `disabled`, `unknown`, `stale`, `error`; provider-specific ones by a table you can extend
//! (`.reason("HOLDOUT", Reason::Split)`), unmapped ones kept in lower snake case (at most 128
//! bytes, cut at a character boundary):
//!
//! | provider | provider reason | recorded as |
//! | --- | --- | --- |
//! | LaunchDarkly | `OFF`, `PREREQUISITE_FAILED` / `FALLTHROUGH` / `TARGET_MATCH`, `RULE_MATCH` / `*_IN_EXPERIMENT` / `ERROR` | `disabled` / `default` / `targeting_match` / `split` / `error` |
//! | Flipt | `MATCH_`, `DEFAULT_`, `FLAG_DISABLED_`, `UNKNOWN_`, `ERROR_EVALUATION_REASON` | `targeting_match`, `default`, `disabled`, `unknown`, `error` |
//! | flagd | the standard names; `FALLBACK` | as named; `default` |
//! | Unleash | `ENABLED`, `VARIANT`, `NOT_FOUND` | `targeting_match`, `split`, `error` |
//! | ConfigCat | `(MATCHED_)TARGETING_RULE`, `(MATCHED_)PERCENTAGE_OPTION`, `DEFAULT_VALUE` | `targeting_match`, `split`, `default` |
//! | GrowthBook | `defaultValue`, `force`, `experiment`, `override`, `unknownFeature`, `prerequisite`, `cyclicPrerequisite` | `default`, `targeting_match`, `split`, `static`, `error`, `disabled`, `error` |
//!
//! Error types: `flag_not_found`, `invalid_context`, `parse_error`, `provider_fatal`,
//! `provider_not_ready`, `targeting_key_missing`, `type_mismatch`, `general` (`General(text)`:
//! the text is the message).
//!
//! # Off the evaluation path, and shutdown
//!
//! What does not need the evaluation's moment runs on a background thread behind a bounded
//! queue: JSON lines (formatted and written there), OpenTelemetry log events (built and emitted
//! there, with the evaluation's time and trace context set on them), the duration histogram,
//! and Datadog's experiment spans (built there under their parent's ids, with the evaluation's
//! own start and end). The log events and the experiment spans of one hook share one queue and
//! one thread (`openfeature-hook`): each evaluation is captured once (160 bytes for a boolean
//! flag) and queued once for both. JSON lines, the durations, change events, and a queued sink
//! behind a wrapper such as [`ExposureDedup`] keep queues of their own, so that a blocked writer
//! never costs the other sinks their records.
//!
//! A slow writer or exporter never slows an evaluation: a full queue drops and counts
//! (`stats().dropped` on the sink, [`HookStats::queue`]). Each queue holds
//! [`DEFAULT_QUEUE_CAPACITY`] records by default (per evaluating thread for the hook's queue and
//! the durations); every queued sink takes `.with_queue_capacity(n)`. [`TelemetryHook::flush`]
//! waits, bounded, until every queue behind the hook has delivered what was queued before it;
//! [`TelemetryHook::shutdown`] and the drop of a [`ShutdownGuard`] also stop recording. A record
//! a background thread could not deliver (a logger whose provider was shut down, a writer that
//! errors) is counted as lost ([`HookStats::lost`]) and logged once, never counted as handled.
//!
//! When a sink needs evaluation starts (metrics, spans), the hook reads the clock once at each
//! end of the evaluation for every sink, so its log event, span event, JSON line, duration and
//! spans agree to the nanosecond. That clock is the CPU's time-stamp counter, read through
//! `quanta` where the CPU has an invariant one and (on x86 Linux) the kernel times itself with
//! it (8 ns a reading against 17 for `Instant::now()`), else the OS clock; it is calibrated once
//! per process, when the first hook is built (0.6 ms on the bench machine, 200 ms at most), and
//! its times are set against the OS clocks every 50 ms, so a step of the system clock shows in
//! timestamps within that time. For long JSON exports, give [`JsonLinesSink`] a rotating writer
//! such as `tracing_appender::rolling::daily(dir, "flags.jsonl")`.
//!
//! # Known limits of the Rust SDK (`open-feature` 0.3), and what the hook does
//!
//! - **No hook data** (rust-sdk#102). Successes are recorded in `after` and failures in
//!   `error`; one evaluation is recognised across `after`, `error` and `finally` by the address
//!   of the `HookContext` the SDK passes to all three (`hook::after_marks`), and its start is
//!   carried from `before` by (task, flag-key pointer) (`hook::evaluation_start`).
//! - **`finally` gets no error details** and `T::default()`; the error code only reaches
//!   `error`.
//! - **A failing `after` of another hook** makes the SDK run every `error` stage while returning
//!   the provider's value: recorded as the success the caller received when this hook's `after`
//!   ran first. If the failing hook's `after` runs before ours (register this hook **last** on
//!   the most specific level you use), the SDK never shows it the value and the evaluation is
//!   recorded as that hook's error.
//! - **No caller default value**: failures record no value (Sentry removes the flag).
//! - **No provider events** (rust-sdk#93): flag changes are detected from evaluations
//!   (Datadog).
//! - `open-feature` 0.3.0 builds only with its default features (it pulls `mockall`).
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
#![cfg_attr(docsrs, feature(doc_cfg))]

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
/// The benches' baseline sink.
#[doc(hidden)]
pub use sink::evaluation_sink::NoopSink;
pub use sink::evaluation_sink::{EvaluationSink, FnSink};
pub use sink::json_lines::JsonLinesSink;
// Volume control.
pub use volume::clock::{Clock, ManualClock, MonotonicClock};
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
