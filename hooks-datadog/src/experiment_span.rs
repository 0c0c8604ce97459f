//! Trace-based enrichment: an `experiments.IsEnabled` child span per evaluation.

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use open_feature::Value;
use openfeature_hooks_core::__private::{FastBuildHasher, SharedText, shared_text};
use openfeature_hooks_core::DEFAULT_QUEUE_CAPACITY;
use openfeature_hooks_core::{
    BackgroundStats, EvaluationRecord, EvaluationSink, FlushOutcome, PendingEvaluation,
    QueueMembership, QueuedEvaluation, QueuedNeeds, QueuedPart, QueuedSink,
};
use opentelemetry::trace::{Span, SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

use crate::seen_once::SeenOnce;
use crate::tag_text::{MAX_TAG_LEN, static_tag_text, truncate, truncated};

/// The operation name Datadog's change tracking looks for.
pub const EXPERIMENT_OPERATION: &str = "experiments.IsEnabled";

/// How often an evaluation gets its span.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExperimentSpanVolume {
    /// Once per flag per trace (the default): enough for Datadog to know which services evaluate
    /// which flag, without a span per evaluation in loops. The sink remembers the flags of
    /// recent traces in a fixed table of 16 384 (flag, trace) pairs (128 KiB); once it is full,
    /// a flag may get a second span in a trace, never none.
    #[default]
    OncePerFlagPerTrace,
    /// Every evaluation.
    Every,
}

/// Creates, under the active span, a child span with operation name `experiments.IsEnabled`,
/// tagged `experiment_id:<flag key>` and `experiment_value:<value>`, as Datadog's change tracking
/// expects. Nothing without an active span (a span without a parent would be an orphan trace).
///
/// With Datadog's Rust tracer the operation name comes from the `operation.name` attribute and
/// the resource from the span name, here the flag key.
///
/// # Off the evaluation path
///
/// The span is not bound to a live span: it needs its parent's ids and the evaluation's start
/// and end, nothing else. So the evaluation only decides whether it gets a span, and the hook
/// captures those with the record into a bounded queue; a background thread builds the span
/// under that parent with the evaluation's own start and end times, and ends it (its processor
/// then exports). It may do so after the parent span has ended; the child still carries its
/// parent's trace and span id (and trace state) and its own times. Built into a hook, the sink
/// shares the hook's one queue and thread (`openfeature-hook`) with its other queued sinks, so
/// each evaluation is captured and queued once for all of them
/// ([`QueuedSink`](openfeature_hooks_core::QueuedSink)); used on its own it has a queue and
/// thread of its own (`openfeature-experiment-spans`). When the queue is full the span is
/// dropped and counted ([`ExperimentSpanSink::stats`]); size it with
/// [`ExperimentSpanSink::with_queue_capacity`]. [`ExperimentSpanSink::flush`] waits (bounded)
/// until every span queued before it is ended: call it before the tracer provider's
/// `force_flush` or `shutdown`. Dropping the last clone of a hook ends what its queue holds and
/// stops its thread (the sink does not keep a dropped hook's queue), and dropping the sink's
/// last clone does the same for its own queue, each waiting at most
/// [`SHUTDOWN_TIMEOUT`](openfeature_hooks_core::__private::SHUTDOWN_TIMEOUT).
///
/// Clones share the queue and thread: keep one to flush or read the stats.
pub struct ExperimentSpanSink<T> {
    /// The background half, which holds the options: made again by every option, so that a
    /// half already given to a hook or a queue keeps the options it was given with.
    starter: Arc<SpanStarter<T>>,
    membership: QueueMembership,
}

impl<T> Clone for ExperimentSpanSink<T> {
    fn clone(&self) -> Self {
        Self {
            starter: self.starter.clone(),
            membership: self.membership.clone(),
        }
    }
}

impl<T> std::fmt::Debug for ExperimentSpanSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExperimentSpanSink")
            .field("volume", &self.starter.volume)
            .field("queue_capacity", &self.starter.capacity)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<T: Tracer> ExperimentSpanSink<T> {
    /// Creates the spans with `tracer`, once per flag per trace.
    pub fn new(tracer: T) -> Self {
        Self {
            starter: Arc::new(SpanStarter {
                tracer: Arc::new(tracer),
                volume: ExperimentSpanVolume::default(),
                seen: Arc::new(SeenOnce::new()),
                capacity: DEFAULT_QUEUE_CAPACITY,
                ended: AtomicU64::new(0),
            }),
            membership: QueueMembership::new(),
        }
    }

    /// How often to create the span.
    #[must_use]
    pub fn with_volume(self, volume: ExperimentSpanVolume) -> Self {
        self.remade(|starter| starter.volume = volume)
    }

    /// How many spans of one evaluating thread may wait for the background thread (default
    /// [`DEFAULT_QUEUE_CAPACITY`]; the queue is per thread,
    /// [`BackgroundWorker::start_per_thread`](openfeature_hooks_core::BackgroundWorker::start_per_thread));
    /// past that, spans are dropped and counted. On a hook's
    /// queue, shared with its other queued sinks, the queue takes the largest capacity they
    /// ask for. Set it before the first evaluation.
    #[must_use]
    pub fn with_queue_capacity(self, capacity: usize) -> Self {
        self.remade(|starter| starter.capacity = capacity)
    }

    /// The sink with `change` made to a new background half, and no queue yet.
    fn remade(self, change: impl FnOnce(&mut SpanStarter<T>)) -> Self {
        let mut starter = SpanStarter {
            tracer: self.starter.tracer.clone(),
            volume: self.starter.volume,
            seen: self.starter.seen.clone(),
            capacity: self.starter.capacity,
            ended: AtomicU64::new(0),
        };
        change(&mut starter);
        Self {
            starter: Arc::new(starter),
            membership: QueueMembership::new(),
        }
    }
}

impl<T> ExperimentSpanSink<T> {
    /// Waits until every span queued before this call is ended, at most `timeout`, and says
    /// how many were left. Not for the evaluation path. The tracer's processor may still hold
    /// them: flush the tracer provider too before reading an exporter.
    pub fn flush(&self, timeout: Duration) -> FlushOutcome {
        self.membership.flush(timeout)
    }

    /// The sink's counters: `handled`, the spans it has ended; `queued`, `dropped`, `panics`
    /// and `capacity` are the queue's the spans wait in (on a hook's queue they count every
    /// evaluation queued for any of its queued sinks, and a full queue drops an evaluation for
    /// all of them); `lost` is zero (a tracer gives no sign of a span it does not export).
    pub fn stats(&self) -> BackgroundStats {
        let mut stats = self.membership.stats(self.starter.capacity);
        stats.handled = self.starter.ended.load(Ordering::Relaxed);
        stats.lost = 0;
        stats
    }
}

/// The span's name and `experiment_id`: the flag key cut to [`MAX_TAG_LEN`] characters, copied
/// only when the key is not interned (an interned key lives as long as the process).
fn experiment_id(flag_key: &SharedText) -> Cow<'static, str> {
    static_text(flag_key)
}

/// The `experiment_value` tag: a string value is interned like flag keys (one lookup, no copy
/// for the usual short variants' values), anything else formatted.
fn experiment_value(value: &Value) -> Cow<'static, str> {
    match value {
        Value::String(text) => static_text(&shared_text(text)),
        other => static_tag_text(other),
    }
}

/// `text` cut to [`MAX_TAG_LEN`] characters, copied only when it is not interned.
fn static_text(text: &SharedText) -> Cow<'static, str> {
    match text {
        SharedText::Interned(text) => truncated(text, MAX_TAG_LEN),
        SharedText::Counted(text) => Cow::Owned(truncate(text, MAX_TAG_LEN)),
    }
}

/// The background half: decides on the evaluation path, builds and ends each span on the
/// queue's thread.
struct SpanStarter<T> {
    tracer: Arc<T>,
    volume: ExperimentSpanVolume,
    seen: Arc<SeenOnce>,
    capacity: usize,
    /// Spans ended, counted on the queue's thread.
    ended: AtomicU64,
}

impl<T> QueuedSink for SpanStarter<T>
where
    T: Tracer + Send + Sync + 'static,
{
    fn accepts(&self, record: &EvaluationRecord<'_>, pending: &PendingEvaluation) -> bool {
        if record.is_failure() || record.value.is_none() {
            return false;
        }
        let Some((trace_id, _, _)) = pending.parent_span_ids() else {
            return false;
        };
        let first_in_trace = || {
            self.seen
                .first(FastBuildHasher::default().hash_one((trace_id.to_bytes(), record.flag_key)))
        };
        self.volume == ExperimentSpanVolume::Every || first_in_trace()
    }

    fn handle(&self, record: &EvaluationRecord<'_>, evaluation: &QueuedEvaluation) {
        let (Some(parent), Some(value)) = (evaluation.parent_span(), record.value) else {
            return;
        };
        let id = experiment_id(&shared_text(record.flag_key));
        let mut builder = self
            .tracer
            .span_builder(id.clone())
            .with_kind(SpanKind::Internal)
            .with_attributes([
                KeyValue::new("operation.name", EXPERIMENT_OPERATION),
                KeyValue::new("experiment_id", id),
                KeyValue::new("experiment_value", experiment_value(value)),
            ]);
        if let Some(start) = evaluation.start_time() {
            builder = builder.with_start_time(start);
        }
        builder
            .start_with_context(
                self.tracer.as_ref(),
                &Context::new().with_remote_span_context(parent),
            )
            .end_with_timestamp(evaluation.time());
        self.ended.fetch_add(1, Ordering::Relaxed);
    }

    fn needs(&self) -> QueuedNeeds {
        QueuedNeeds::default().parent_span().start()
    }

    fn queue_capacity(&self) -> usize {
        self.capacity
    }

    fn thread_name(&self) -> &'static str {
        "openfeature-experiment-spans"
    }
}

impl<T> EvaluationSink for ExperimentSpanSink<T>
where
    T: Tracer + Send + Sync + 'static,
{
    fn record(&self, record: &EvaluationRecord<'_>) {
        self.membership.offer(|| self.starter.clone(), record);
    }

    fn needs_start(&self) -> bool {
        true
    }

    fn queued(&self) -> Option<QueuedPart> {
        Some(QueuedPart {
            sink: self.starter.clone(),
            membership: self.membership.clone(),
        })
    }

    fn flush(&self, timeout: Duration) -> FlushOutcome {
        ExperimentSpanSink::flush(self, timeout)
    }
}
