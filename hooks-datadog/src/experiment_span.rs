//! Trace-based enrichment: an `experiments.IsEnabled` child span per evaluation.

use std::borrow::Cow;
use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use open_feature::Value;
use openfeature_hooks_core::{
    BackgroundStats, Drain, EvaluationRecord, EvaluationSink, FastBuildHasher, LazyWorker,
    SharedText, shared_text,
};
use opentelemetry::trace::{
    Span, SpanContext, SpanId, SpanKind, TraceContextExt, TraceId, TraceState, Tracer,
};
use opentelemetry::{Context, KeyValue};

use crate::seen_once::SeenOnce;
use crate::tag_text::{MAX_TAG_LEN, owned_tag_text, tag_text, truncate, truncated};

/// The operation name Datadog's change tracking looks for.
pub const EXPERIMENT_OPERATION: &str = "experiments.IsEnabled";

/// How often an evaluation gets its span.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExperimentSpanVolume {
    /// Once per flag per trace (the default): enough for Datadog to know which services evaluate
    /// which flag, without a span per evaluation in loops.
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
/// and end, nothing else. So the evaluation captures those into a bounded queue, and a
/// background thread (`openfeature-experiment-spans`) builds the span under that parent with
/// the evaluation's own start and end times, and ends it (its processor then exports). It may
/// do so after the parent span has ended; the child still carries its parent's trace and span
/// id and its own times. When the queue is full the span is dropped and counted
/// ([`ExperimentSpanSink::stats`]); size it with [`ExperimentSpanSink::with_queue_capacity`].
/// [`ExperimentSpanSink::flush`] waits (bounded) until every span queued before it is ended:
/// call it before the tracer provider's `force_flush` or `shutdown`. Dropping the last clone
/// ends what is queued and stops the thread, waiting at most
/// [`SHUTDOWN_TIMEOUT`](openfeature_hooks_core::background_worker::SHUTDOWN_TIMEOUT).
///
/// Clones share the queue and thread: keep one to flush or read the stats.
pub struct ExperimentSpanSink<T> {
    tracer: Arc<T>,
    volume: ExperimentSpanVolume,
    seen: Arc<SeenOnce>,
    worker: LazyWorker<QueuedSpan>,
}

impl<T> Clone for ExperimentSpanSink<T> {
    fn clone(&self) -> Self {
        Self {
            tracer: self.tracer.clone(),
            volume: self.volume,
            seen: self.seen.clone(),
            worker: self.worker.clone(),
        }
    }
}

impl<T> std::fmt::Debug for ExperimentSpanSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExperimentSpanSink")
            .field("volume", &self.volume)
            .field("queue_capacity", &self.worker.capacity())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<T: Tracer> ExperimentSpanSink<T> {
    /// Creates the spans with `tracer`, once per flag per trace.
    pub fn new(tracer: T) -> Self {
        Self {
            tracer: Arc::new(tracer),
            volume: ExperimentSpanVolume::default(),
            seen: Arc::new(SeenOnce::new()),
            worker: LazyWorker::new("openfeature-experiment-spans"),
        }
    }

    /// How often to create the span.
    #[must_use]
    pub fn with_volume(mut self, volume: ExperimentSpanVolume) -> Self {
        self.volume = volume;
        self
    }

    /// How many spans may wait for the background thread (default
    /// [`DEFAULT_QUEUE_CAPACITY`]); past that, spans are dropped and counted. Set it before the
    /// first evaluation.
    ///
    /// [`DEFAULT_QUEUE_CAPACITY`]: openfeature_hooks_core::background_worker::DEFAULT_QUEUE_CAPACITY
    #[must_use]
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.worker = self.worker.with_capacity(capacity);
        self
    }
}

impl<T> ExperimentSpanSink<T> {
    /// Waits until every span queued before this call is ended, at most `timeout`; `false` on
    /// timeout. Not for the evaluation path. The tracer's processor may still hold them: flush
    /// the tracer provider too before reading an exporter.
    #[must_use = "false means the spans were not all ended in time"]
    pub fn flush(&self, timeout: Duration) -> bool {
        self.worker.flush(timeout)
    }

    /// The queue's counters: spans dropped because it was full, spans ended.
    pub fn stats(&self) -> BackgroundStats {
        self.worker.stats()
    }
}

/// What the evaluation path hands the background thread.
struct QueuedSpan {
    /// The ids of the span active during the evaluation: the span's parent. Only its ids: a
    /// clone of the active `Context` would keep the parent span open, and a span ends when its
    /// last reference goes, here on the background thread.
    parent: QueuedParent,
    flag_key: SharedText,
    value: QueuedValue,
    start: Option<SystemTime>,
    end: SystemTime,
}

/// The flag's value as queued. A string value is shared as a [`SharedText`] (interned when
/// short): a clone of the `String` would be allocated on the evaluation path and freed on the
/// background thread, the hand-over that makes glibc's allocator slow for every allocation of
/// the evaluating thread (`perf`, every backend over a string flag: ~380 ns of `_int_malloc`
/// and `_int_free` an evaluation). A structure or list is queued as its tag text, and
/// booleans and numbers are copied.
enum QueuedValue {
    Text(SharedText),
    Other(Value),
}

impl QueuedValue {
    fn of(value: &Value) -> Self {
        match value {
            Value::String(text) => Self::Text(shared_text(text)),
            // Its tag text, formatted here: a copy of the structure would be several
            // allocations freed on the background thread; the text is interned when short.
            Value::Struct(_) | Value::Array(_) => Self::Text(shared_text(&tag_text(value))),
            other => Self::Other(other.clone()),
        }
    }

    /// The `experiment_value` tag's text, cut to [`MAX_TAG_LEN`] characters.
    fn into_tag_text(self) -> Cow<'static, str> {
        match self {
            Self::Text(text) => shared_tag_text(&text),
            Self::Other(value) => owned_tag_text(value),
        }
    }
}

/// The parent's ids as queued. A span context's trace state (the W3C `tracestate` a request
/// brought in, which every local span of its trace inherits) is a list of owned strings:
/// cloning it would allocate on the evaluation path for every span, and free on the background
/// thread. So a span with a trace state is queued as its bare ids plus the state shared
/// through a per-thread cache: one copy per span per thread, whatever the number of
/// evaluations under it. Spans without one (the common case) are copied as they are.
struct QueuedParent {
    /// The parent's ids, with no trace state when `state` holds it.
    ids: SpanContext,
    state: Option<Arc<TraceState>>,
}

thread_local! {
    /// The trace state of the span this thread queued a child of last: a span's context never
    /// changes, so its trace and span id identify it.
    static LAST_STATE: RefCell<Option<(TraceId, SpanId, Arc<TraceState>)>> =
        const { RefCell::new(None) };
}

impl QueuedParent {
    fn of(ids: &SpanContext) -> Self {
        if *ids.trace_state() == TraceState::NONE {
            return Self {
                ids: ids.clone(),
                state: None,
            };
        }
        let state = LAST_STATE
            .try_with(|last| {
                let mut last = last.try_borrow_mut().ok()?;
                if let Some((trace_id, span_id, state)) = last.as_ref()
                    && *trace_id == ids.trace_id()
                    && *span_id == ids.span_id()
                {
                    return Some(state.clone());
                }
                let state = Arc::new(ids.trace_state().clone());
                *last = Some((ids.trace_id(), ids.span_id(), state.clone()));
                Some(state)
            })
            .ok()
            .flatten()
            .unwrap_or_else(|| Arc::new(ids.trace_state().clone()));
        Self {
            ids: with_trace_state(ids, TraceState::NONE),
            state: Some(state),
        }
    }

    /// The parent's span context, trace state included (cloned here, on the background thread).
    fn into_span_context(self) -> SpanContext {
        match self.state {
            None => self.ids,
            Some(state) => with_trace_state(&self.ids, TraceState::clone(&state)),
        }
    }
}

/// `ids` with `state` for trace state.
fn with_trace_state(ids: &SpanContext, state: TraceState) -> SpanContext {
    SpanContext::new(
        ids.trace_id(),
        ids.span_id(),
        ids.trace_flags(),
        ids.is_remote(),
        state,
    )
}

/// The span's name and `experiment_id`: the flag key cut to [`MAX_TAG_LEN`] characters, copied
/// only when the key is not interned (an interned key lives as long as the process).
fn experiment_id(flag_key: &SharedText) -> Cow<'static, str> {
    shared_tag_text(flag_key)
}

/// `text` cut to [`MAX_TAG_LEN`] characters, copied only when it is not interned.
fn shared_tag_text(text: &SharedText) -> Cow<'static, str> {
    match text {
        SharedText::Interned(text) => truncated(text, MAX_TAG_LEN),
        SharedText::Counted(text) => Cow::Owned(truncate(text, MAX_TAG_LEN)),
    }
}

/// The background side: builds and ends each span.
struct SpanStarter<T> {
    tracer: Arc<T>,
}

impl<T> Drain<QueuedSpan> for SpanStarter<T>
where
    T: Tracer + Send + Sync + 'static,
{
    fn handle(&mut self, queued: QueuedSpan) {
        let id = experiment_id(&queued.flag_key);
        let mut builder = self
            .tracer
            .span_builder(id.clone())
            .with_kind(SpanKind::Internal)
            .with_attributes([
                KeyValue::new("operation.name", EXPERIMENT_OPERATION),
                KeyValue::new("experiment_id", id),
                KeyValue::new("experiment_value", queued.value.into_tag_text()),
            ]);
        if let Some(start) = queued.start {
            builder = builder.with_start_time(start);
        }
        builder
            .start_with_context(
                self.tracer.as_ref(),
                &Context::new().with_remote_span_context(queued.parent.into_span_context()),
            )
            .end_with_timestamp(queued.end);
    }
}

impl<T> EvaluationSink for ExperimentSpanSink<T>
where
    T: Tracer + Send + Sync + 'static,
{
    fn record(&self, record: &EvaluationRecord<'_>) {
        if record.is_failure() {
            return;
        }
        let Some(value) = record.value else { return };
        let parent = Context::map_current(|context| {
            let span = context.span();
            let ids = span.span_context();
            if !ids.is_valid() {
                return None;
            }
            if self.volume == ExperimentSpanVolume::OncePerFlagPerTrace {
                let pair = FastBuildHasher::default()
                    .hash_one((ids.trace_id().to_bytes(), record.flag_key));
                if !self.seen.first(pair) {
                    return None;
                }
            }
            Some(QueuedParent::of(ids))
        });
        let Some(parent) = parent else { return };
        self.worker.try_send(
            QueuedSpan {
                parent,
                flag_key: shared_text(record.flag_key),
                value: QueuedValue::of(value),
                start: record.started.map(|start| start.time),
                end: record.time(),
            },
            || SpanStarter {
                tracer: self.tracer.clone(),
            },
        );
    }

    fn needs_start(&self) -> bool {
        true
    }
}
