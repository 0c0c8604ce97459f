//! The one OpenFeature `Hook` every backend is reached through.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use open_feature::{
    EvaluationContext, EvaluationDetails, EvaluationError, Hook, HookContext, HookHints, Value,
};

use crate::hook::after_marks::AfterMarks;
use crate::hook::evaluation_start::StartTimes;
use crate::hook::stage_future::done;
use crate::panic_guard::PanicGuard;
use crate::record::normaliser::Normaliser;
use crate::speed::tick_clock::Tick;
use crate::{
    BackgroundStats, CustomAttribute, EvaluationEnd, EvaluationQueue, EvaluationRecord,
    EvaluationSink, EvaluationStarted, FlushOutcome, OwnCacheLines, ShutdownGuard,
    TelemetryHookBuilder,
};

pub(crate) type FlagFilter = dyn Fn(&str) -> bool + Send + Sync;
pub(crate) type AttributesCallback =
    dyn Fn(&HookContext<'_>, &EvaluationRecord<'_>) -> Vec<CustomAttribute> + Send + Sync;

/// An OpenFeature hook that records every flag evaluation, exactly once, to its sinks.
///
/// Build it with [`TelemetryHook::builder`], then register it with `OpenFeature::add_hook` (every
/// client) or `Client::with_hook` (one client). It is cheap to clone: keep a clone to read
/// [`TelemetryHook::stats`].
///
/// # What is recorded, and when
///
/// One [`EvaluationRecord`] per evaluation, describing what the caller received:
///
/// | what happened | record |
/// | --- | --- |
/// | the provider answered | value, variant, reason, metadata (from `after`) |
/// | the provider failed | error type and message, no value (from `error`) |
/// | a `before` hook failed | error type and message (from `error`) |
/// | another hook's `after` failed after this hook's `after` | the provider's answer: the caller still receives it |
///
/// The SDK gives the error code only to `error` and gives `finally` no error details, so this
/// hook records successes in `after` and failures in `error`; how it avoids recording the last
/// case twice is explained in the `after_marks` module. Register this hook **last** on the
/// most specific level you use: `after` stages run in reverse registration order, so it is then
/// the first `after` to run. If another hook's `after` fails *before* this hook's `after` has
/// run, the SDK never shows this hook the value, and the evaluation is recorded as that error.
///
/// # Guarantees
///
/// Every stage returns `Ok`, never panics (callbacks and sinks run under `catch_unwind`), never
/// blocks, and allocates nothing of its own per evaluation (custom attributes, and reasons that
/// need rewriting to snake case, are the exceptions a user opts into).
#[derive(Clone)]
pub struct TelemetryHook {
    /// On cache lines of its own: every evaluation reads it.
    inner: Arc<OwnCacheLines<HookInner>>,
}

pub(crate) struct HookInner {
    pub(crate) normaliser: Normaliser,
    /// Every sink, those the hook calls `record` on first (`called` of them), then the queued
    /// ones, which `queue` serves (all are told of starts).
    pub(crate) sinks: Box<[Box<dyn EvaluationSink>]>,
    pub(crate) called: usize,
    /// One queue for the sinks that work in the background (see [`crate::QueuedSink`]).
    pub(crate) queue: Option<EvaluationQueue>,
    pub(crate) flag_filter: Option<Box<FlagFilter>>,
    pub(crate) custom_attributes: Option<Box<AttributesCallback>>,
    pub(crate) marks: AfterMarks,
    /// Present when a sink needs start times.
    pub(crate) starts: Option<StartTimes>,
    pub(crate) filter_guard: PanicGuard,
    pub(crate) attributes_guard: PanicGuard,
    pub(crate) sink_guard: PanicGuard,
    /// Set by [`TelemetryHook::shutdown`]: later evaluations are counted, not recorded.
    pub(crate) closed: AtomicBool,
    pub(crate) after_shutdown: AtomicU64,
}

/// Counters of rare events, for health checks and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HookStats {
    /// Panics caught in the flag filter and the custom-attributes callback.
    pub callback_panics: u64,
    /// Panics caught in sinks.
    pub sink_panics: u64,
    /// Evaluations whose `after` mark did not fit (see [`TelemetryHook`]); normally zero.
    pub unmarked_evaluations: u64,
    /// Evaluation starts that could not be tracked (bounds reached); normally zero.
    pub untracked_starts: u64,
    /// The counters of the hook's queue for its queued sinks (see [`crate::QueuedSink`]):
    /// evaluations queued, dropped because it was full, handled, lost; zeros without such
    /// sinks. The queue is per evaluating thread, and its capacity is each thread's.
    pub queue: BackgroundStats,
    /// Records that went nowhere: what every sink counted as [lost](EvaluationSink::lost)
    /// (its destination gone or failing), plus `after_shutdown`. Drops of full queues are
    /// counted apart, in `queue` and in each sink's stats.
    pub lost: u64,
    /// Evaluations after [`TelemetryHook::shutdown`] (or the drop of its
    /// [`ShutdownGuard`]), which the hook no longer records.
    pub after_shutdown: u64,
}

impl TelemetryHook {
    /// Starts a builder.
    pub fn builder() -> TelemetryHookBuilder {
        TelemetryHookBuilder::default()
    }

    pub(crate) fn from_inner(inner: HookInner) -> Self {
        Self {
            inner: Arc::new(OwnCacheLines(inner)),
        }
    }

    /// Counters of caught panics, refused marks, the hook's queue, and records lost.
    pub fn stats(&self) -> HookStats {
        let inner = &self.inner;
        let after_shutdown = inner.after_shutdown.load(Ordering::Relaxed);
        let lost = inner
            .sinks
            .iter()
            .map(|sink| inner.sink_guard.run(|| sink.lost()).unwrap_or(0))
            .sum::<u64>()
            + after_shutdown;
        HookStats {
            callback_panics: inner.filter_guard.panics() + inner.attributes_guard.panics(),
            sink_panics: inner.sink_guard.panics(),
            unmarked_evaluations: inner.marks.unmarked() as u64,
            untracked_starts: inner.starts.as_ref().map_or(0, StartTimes::untracked),
            queue: inner
                .queue
                .as_ref()
                .map(EvaluationQueue::stats)
                .unwrap_or_default(),
            lost,
            after_shutdown,
        }
    }

    /// Waits until every record of an evaluation before this call has left every queue the
    /// hook's evaluations feed, at most `timeout` in all, and says what was left: the hook's
    /// own queue (for its [queued sinks](crate::QueuedSink)), then each sink's
    /// [`flush`](EvaluationSink::flush), which covers a sink's own queue (JSON lines, the
    /// metrics sink's durations, change events) and queued sinks held inside wrappers
    /// ([`ExposureDedup`](crate::ExposureDedup), [`SampledSink`](crate::SampledSink), your
    /// own). Queued sinks then ask, where they can, the provider they were made from to export
    /// what it holds ([`QueuedSink::flush_destination`](crate::QueuedSink::flush_destination):
    /// OpenTelemetry's logger provider); the rest may still sit in the backends' own exporters
    /// until their providers shut down, after this call. Not for the evaluation path.
    pub fn flush(&self, timeout: Duration) -> FlushOutcome {
        let inner = &self.inner;
        let deadline = Instant::now() + timeout;
        let remaining = || deadline.saturating_duration_since(Instant::now());
        let queued = inner
            .queue
            .as_ref()
            .map_or(FlushOutcome::COMPLETE, |queue| {
                FlushOutcome::of_queue(queue.flush(timeout), queue.stats())
            });
        // The sinks the hook's queue serves were flushed with it.
        inner.sinks[..inner.called]
            .iter()
            .fold(queued, |outcome, sink| {
                let flushed = inner.sink_guard.run(|| sink.flush(remaining()));
                outcome.and(flushed.unwrap_or(FlushOutcome::COMPLETE))
            })
    }

    /// Stops recording (evaluations from now on are counted in
    /// [`HookStats::after_shutdown`] and [`HookStats::lost`], and go to no sink), then
    /// [flushes](Self::flush) every queue, at most `timeout`, and says what was left. Call it
    /// (or drop the [`shutdown_guard`](Self::shutdown_guard)) before shutting down the
    /// backends' providers. Calling it again flushes again.
    pub fn shutdown(&self, timeout: Duration) -> FlushOutcome {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.flush(timeout)
    }

    /// A guard that [shuts the hook down](Self::shutdown) when dropped, waiting at most
    /// [`DEFAULT_SHUTDOWN_TIMEOUT`](crate::DEFAULT_SHUTDOWN_TIMEOUT): keep it in `main`, and
    /// let it drop before the providers shut down.
    ///
    /// ```
    /// use openfeature_hooks_core::{JsonLinesSink, TelemetryHook};
    ///
    /// let hook = TelemetryHook::builder().sink(JsonLinesSink::new(std::io::sink())).build();
    /// let _guard = hook.shutdown_guard();
    /// // api.add_hook(hook).await; ...
    /// ```
    pub fn shutdown_guard(&self) -> ShutdownGuard {
        ShutdownGuard::new(self.clone())
    }
}

impl std::fmt::Debug for TelemetryHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryHook")
            .field("sinks", &self.inner.called)
            .field(
                "queued_sinks",
                &self.inner.queue.as_ref().map_or(0, EvaluationQueue::sinks),
            )
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl HookInner {
    fn records(&self, flag_key: &str) -> bool {
        match &self.flag_filter {
            None => true,
            // A filter that panics records the evaluation: losing telemetry silently is worse.
            Some(filter) => self.filter_guard.run(|| filter(flag_key)).unwrap_or(true),
        }
    }

    /// What the custom-attributes callback adds to `record`; empty (no allocation) without one.
    fn custom_attributes(
        &self,
        context: &HookContext<'_>,
        record: &EvaluationRecord<'_>,
    ) -> Vec<CustomAttribute> {
        match &self.custom_attributes {
            None => Vec::new(),
            Some(callback) => self
                .attributes_guard
                .run(|| callback(context, record))
                .unwrap_or_default(),
        }
    }

    // The record is borrowed, not moved: `after` and `error` build it in their own frame and
    // keep it there. Taken by value, it was copied into this function's frame (a 304-byte
    // `memcpy`, 8.7 ns of the JSON-lines evaluation under `perf`; BENCHMARKS.md, "2026-11-29,
    // 11:30").
    fn emit(&self, record: &EvaluationRecord<'_>) {
        if self.closed.load(Ordering::Relaxed) {
            self.after_shutdown.fetch_add(1, Ordering::Relaxed);
            return;
        }
        for sink in &self.sinks[..self.called] {
            self.sink_guard.run(|| sink.record(record));
        }
        if let Some(queue) = &self.queue {
            self.sink_guard.run(|| queue.offer(record));
        }
    }

    fn before(&self, context: &HookContext<'_>) {
        let Some(starts) = &self.starts else {
            return;
        };
        if !self.records(context.flag_key) {
            return;
        }
        starts.push(context.flag_key, Tick::now());
        let started = EvaluationStarted::new(
            context.flag_key,
            Some(context.provider_metadata.name.as_str()).filter(|n| !n.is_empty()),
        );
        for sink in &self.sinks {
            self.sink_guard.run(|| sink.started(&started));
        }
    }

    /// Reads the clocks once for every sink, and takes the evaluation's start, when starts
    /// are tracked.
    fn set_times(&self, context: &HookContext<'_>, record: &mut EvaluationRecord<'_>) {
        let Some(starts) = &self.starts else {
            return;
        };
        let tick = Tick::now();
        let end = EvaluationEnd::at(tick);
        record.started = starts.take(context.flag_key, tick, &end);
        record.ended = Some(end);
    }

    fn after(&self, context: &HookContext<'_>, details: &EvaluationDetails<Value>) {
        if !self.records(context.flag_key) {
            return;
        }
        self.marks.mark(context);
        let mut record = self.normaliser.success(context, details);
        self.set_times(context, &mut record);
        let extra = self.custom_attributes(context, &record);
        record.custom_attributes = &extra;
        self.emit(&record);
    }

    fn error(&self, context: &HookContext<'_>, error: &EvaluationError) {
        if self.marks.take(context) {
            // Our `after` already recorded this evaluation, and the caller receives that
            // value: this error comes from a later hook's `after`.
            return;
        }
        if !self.records(context.flag_key) {
            return;
        }
        let mut record = self.normaliser.failure(context, error);
        self.set_times(context, &mut record);
        let extra = self.custom_attributes(context, &record);
        record.custom_attributes = &extra;
        self.emit(&record);
    }

    fn finally(&self, context: &HookContext<'_>) {
        self.marks.take(context);
    }
}

// The `Hook` trait is written with `async_trait`; these are its desugared signatures, so that
// the stages can return an allocation-free future (see `stage_future`).
impl Hook for TelemetryHook {
    fn before<'a, 'life0, 'life1, 'async_trait>(
        &'life0 self,
        context: &'life1 HookContext<'a>,
        _hints: Option<&'a HookHints>,
    ) -> Pin<
        Box<
            dyn Future<Output = Result<Option<EvaluationContext>, EvaluationError>>
                + Send
                + 'async_trait,
        >,
    >
    where
        'a: 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.before(context);
        done()
    }

    fn after<'a, 'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        context: &'life1 HookContext<'a>,
        details: &'life2 EvaluationDetails<Value>,
        _hints: Option<&'a HookHints>,
    ) -> Pin<Box<dyn Future<Output = Result<(), EvaluationError>> + Send + 'async_trait>>
    where
        'a: 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.after(context, details);
        done()
    }

    fn error<'a, 'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        context: &'life1 HookContext<'a>,
        error: &'life2 EvaluationError,
        _hints: Option<&'a HookHints>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'async_trait>>
    where
        'a: 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.error(context, error);
        done()
    }

    fn finally<'a, 'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        context: &'life1 HookContext<'a>,
        _details: &'life2 EvaluationDetails<Value>,
        _hints: Option<&'a HookHints>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'async_trait>>
    where
        'a: 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.finally(context);
        done()
    }
}
