//! The Sentry sink of [`openfeature-hooks`](https://docs.rs/openfeature-hooks): OpenFeature flag
//! evaluations in Sentry, following Sentry's feature flag SDK spec. Error events carry the
//! hub's most recent evaluations as `contexts.flags`, and the active span carries
//! `flag.evaluation.<key>` attributes.
//!
//! ```
//! use open_feature::OpenFeature;
//! use openfeature_hooks_core::TelemetryHook;
//! use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};
//! use openfeature_hooks_sentry::{SentrySink, with_flags_context};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // 1. Sentry (its DSN from SENTRY_DSN), with the flags context sent as Sentry reads it.
//! let sentry = sentry::init(with_flags_context(sentry::ClientOptions::new()));
//!
//! // 2. The hook, with the Sentry sink. This sink has no queue; the hook's guard still goes
//! //    first, so the order holds when queued sinks join it.
//! let hook = TelemetryHook::builder().sink(SentrySink::new()).build();
//! let guard = hook.shutdown_guard();
//! let mut api = OpenFeature::default();
//! let flags = InMemoryProvider::new("in-memory")
//!     .with_flag("new-checkout", InMemoryFlag::new(true).variant("on"));
//! api.set_provider(flags).await;
//! api.add_hook(hook).await;
//!
//! // 3. Evaluations are now on every error captured in this hub, and on its active span.
//! let enabled = api.create_client().get_bool_value("new-checkout", None, None).await;
//! assert_eq!(enabled, Ok(true));
//! sentry::capture_message("checkout failed", sentry::Level::Error);
//! // contexts.flags: {"values": [{"flag": "new-checkout", "result": true}]}
//!
//! // Shutdown order: the hook's guard first, then Sentry's (which flushes its transport).
//! drop(guard);
//! drop(sentry);
//! # }
//! ```
//!
//! # Options
//!
//! [`SentrySink::new`]`()` takes Sentry's defaults; `.with_capacity(n)` sets the flags each
//! hub keeps ([`DEFAULT_CAPACITY`]), `.with_values(`[`RecordedValues`]`)` records numbers and
//! strings too, and `.with_spans(false)` leaves spans alone (the cheapest setting). Install
//! [`with_flags_context`] on the options given to `sentry::init`. [`add_feature_flag`]`(key,
//! value)` records a flag that does not come through OpenFeature, as the sink would.
//!
//! # What goes where
//!
//! | where | what | rules |
//! | --- | --- | --- |
//! | error events, `contexts.flags` | `{"values": [{"flag", "result"}, …]}`, oldest first | the hub's [`DEFAULT_CAPACITY`] (100) most recent unique evaluations ([`SentrySink::with_capacity`]), after those its trace's finished nested spans recorded (with [`with_flags_context`]); not on transactions |
//! | the active span or transaction | `flag.evaluation.<key>` | at most [`MAX_FLAGS_PER_SPAN`] (10) per span; a key already present is updated; the root transaction included; not on the spans of an unsampled trace |
//!
//! Isolation is per hub (a request's hub with sentry-tower, a bound hub in async code): a hub
//! made from another shows its parent's flags, overridden and extended by its own, and, unlike
//! Python's copy at fork, sees the parent's later evaluations too; what it records never shows
//! up on its parent's or a sibling's errors, but for one case. A nested span's hub (its active
//! span a child span) leaves its flags to the span's trace when it is dropped, and
//! [`with_flags_context`] adds them to the trace's later errors: Sentry's `tracing` span layer
//! enters every span in a hub of its own and drops it on exit, so this is how a nested span's
//! flags reach an error reported after it returns. Values are booleans unless
//! [`RecordedValues::Scalars`] is chosen; flag names Sentry would reject are rewritten (see
//! [`SentrySink`]); a failed evaluation removes the flag (the Rust SDK does not know the
//! caller's fallback).
//!
//! # With `tracing` (axum, tower-http's `TraceLayer`, `#[instrument]`)
//!
//! Sentry's span layer (`sentry::integrations::tracing::SpanLayer`) makes the entered
//! `tracing` span the current Sentry span, so the sink puts `flag.evaluation.<key>` on it, and
//! an error logged with `tracing::error!` (the `ErrorLayer`) carries the request's flags. Two
//! things matter:
//!
//! - The request span must be at a level the span layer takes (`INFO` with
//!   `SpanLayer::new().with_filter(LevelFilter::INFO)`); `TraceLayer`'s default is `DEBUG`.
//! - The span layer enters each poll of a handler in a fresh hub, so an error after an
//!   `.await` carries the flags evaluated before it only when a hub per request is bound
//!   *inside* the request span: sentry-tower's `NewSentryLayer` added before `TraceLayer`, so
//!   that `TraceLayer` wraps it. With no request hub, or with `NewSentryLayer` outside
//!   `TraceLayer`, the error misses them (the workspace's `tests/tracing_stack.rs` shows all
//!   three).
//!
//! One level down, a flag evaluated inside a nested span the span layer takes (an
//! `#[instrument]` function at `INFO`) is recorded in that span's own hub, which is dropped
//! when the span returns: it is on that span and on an error reported inside it, and, through
//! [`with_flags_context`], on the errors the request reports after the span returns (the
//! nested hub's flags are kept for its trace). A Sentry tag set in such a span is still dropped
//! with its hub. A request's own hub (its transaction active) is not kept: that would cost every
//! request about 360 ns at its end for errors reported after it. Two requests continuing one
//! upstream trace share its kept flags.
//!
//! # What it costs
//!
//! Reading Sentry's active span costs about 165 ns an evaluation: sentry-core 0.49 offers no
//! read-only way to ask which span is active, and `Hub::configure_scope`, the only one, clones
//! the scope and writes it back. With tracing disabled (Sentry's default) the active span is
//! not looked up at all, and `.with_spans(false)` skips it too. A request hub's first flag
//! registers the hub with the sink (a few hundred nanoseconds, once per request). The
//! workspace's BENCHMARKS.md has the figures.
//!
//! # Names and limits
//!
//! Where the flags go: the [`FLAGS_CONTEXT`] context and [`SPAN_ATTRIBUTE_PREFIX`] attributes.
//! Flag names are cut to [`MAX_FLAG_NAME_LEN`] characters and results, as JSON, to
//! [`MAX_RESULT_LEN`]; a span carries at most [`MAX_FLAGS_PER_SPAN`] flags; the flags of nested
//! spans are kept for [`MAX_TRACES_KEPT`] traces and [`MAX_TRACE_FLAGS_KEPT`] flags in all, the
//! oldest traces forgotten first.
//!
//! # The wire format
//!
//! sentry-rust writes generic contexts with `"type": "unknown"`, which Sentry does not read as
//! flags. [`with_flags_context`] wraps the client's transport in a step that writes the flags
//! context as the Python and JavaScript SDKs do (without `type`). Without it, flags still reach
//! Sentry, as an unknown context.
//!
//! # Crate feature flags
//!
//! This crate has no optional features and enables none of `sentry`'s: the application picks its
//! transport and integrations.

#![warn(missing_docs, unreachable_pub)]

mod add_feature_flag;
mod flag_buffer;
mod flag_name;
mod flag_value;
mod flags_transport;
mod hub_flags;
mod sentry_sink;
mod span_flags;
mod trace_flags;

pub use add_feature_flag::add_feature_flag;
pub use flag_buffer::DEFAULT_CAPACITY;
pub use flag_name::MAX_FLAG_NAME_LEN;
pub use flag_value::{MAX_RESULT_LEN, RecordedValues};
pub use flags_transport::with_flags_context;
pub use hub_flags::FLAGS_CONTEXT;
pub use sentry_sink::SentrySink;
pub use span_flags::{MAX_FLAGS_PER_SPAN, SPAN_ATTRIBUTE_PREFIX};
pub use trace_flags::{MAX_TRACE_FLAGS_KEPT, MAX_TRACES_KEPT};

/// What this crate's tests, benches and fuzz targets reach below the documented API: the
/// per-hub flag buffer on its own, the flag-name rule on its own, and the transport step
/// [`with_flags_context`] installs.
///
/// **Not part of the public API**: it carries no semver promise and may change in any
/// release. Applications use the items at the crate root.
#[doc(hidden)]
pub mod __private {
    pub use crate::flag_buffer::FlagBuffer;
    pub use crate::flag_name::sentry_flag_name;
    pub use crate::flags_transport::{FlagsContextTransport, FlagsContextTransportFactory};
}
