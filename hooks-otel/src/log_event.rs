//! The `feature_flag.evaluation` log event, the conventions' main signal: decided on the
//! evaluation path, built and emitted on a background thread.

use std::sync::Arc;
use std::time::Duration;

use open_feature::EvaluationContext;
use openfeature_hooks_core::{
    BackgroundStats, Drain, EvaluationRecord, EvaluationSink, LazyWorker, QueuedRecord, RecordTexts,
};
use opentelemetry::logs::{AnyValue, LogRecord, Logger, LoggerProvider, Severity};
use opentelemetry::trace::{SpanId, TraceContextExt, TraceFlags, TraceId};
use opentelemetry::{Context, InstrumentationScope, Key, StringValue};

use crate::attribute_naming::{AttributeNaming, EVENT_NAME};
use crate::attributes::{AttributeWriter, Body, write_attributes};
use crate::otel_value::log_value;

/// The target given to `Logger::event_enabled`, for processors that filter by target.
pub const LOG_TARGET: &str = "openfeature_hooks";

type EventMutator<R> = dyn Fn(&mut R, &EvaluationRecord<'_>) + Send + Sync;

/// Emits one `feature_flag.evaluation` log event per evaluation through an OpenTelemetry
/// `Logger`.
///
/// The event has severity `INFO`, the record's attributes under the chosen
/// [`AttributeNaming`], the time of the evaluation, and the trace and span id of the span
/// active during the evaluation. When the logger reports the event disabled
/// (`Logger::event_enabled`), nothing is built.
///
/// # Off the evaluation path
///
/// The evaluation asks `event_enabled`, reads the active span's ids and the time, and
/// captures the record ([`QueuedRecord`]) into a bounded queue; a background thread
/// (`openfeature-log-events`) builds the log record, sets that time and trace context on it
/// explicitly, and emits it to the logger (whose processor then exports: a batch processor in
/// production). When the queue is full the event is dropped and counted
/// ([`LogEventSink::stats`]); size it with [`LogEventSink::with_queue_capacity`] for bursts.
/// [`LogEventSink::flush`] waits (bounded) until everything queued before it is emitted: call
/// it, then the provider's `force_flush`, before reading an exporter. Dropping the last clone
/// emits what is queued and stops the thread, waiting at most
/// [`SHUTDOWN_TIMEOUT`](openfeature_hooks_core::background_worker::SHUTDOWN_TIMEOUT).
///
/// Clones share the queue and thread: keep one to flush or read the stats.
///
/// ```
/// use std::time::Duration;
/// use openfeature_hooks_core::TelemetryHook;
/// use openfeature_hooks_otel::{AttributeNaming, LogEventSink};
/// use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
///
/// let exporter = InMemoryLogExporter::default();
/// let provider = SdkLoggerProvider::builder().with_simple_exporter(exporter.clone()).build();
/// let events = LogEventSink::from_provider(&provider).with_naming(AttributeNaming::Both);
/// let hook = TelemetryHook::builder().sink(events.clone()).build();
/// // ... evaluate flags, then, before reading the exporter:
/// assert!(events.flush(Duration::from_secs(5)));
/// # drop(hook);
/// ```
pub struct LogEventSink<L: Logger> {
    logger: Arc<L>,
    naming: AttributeNaming,
    mutator: Option<Arc<EventMutator<L::LogRecord>>>,
    /// Started by the first record, so that the options above are final by then.
    worker: LazyWorker<QueuedEvent>,
}

impl<L: Logger> Clone for LogEventSink<L> {
    fn clone(&self) -> Self {
        Self {
            logger: self.logger.clone(),
            naming: self.naming,
            mutator: self.mutator.clone(),
            worker: self.worker.clone(),
        }
    }
}

impl<L: Logger> LogEventSink<L> {
    /// Emits through `logger`.
    pub fn new(logger: L) -> Self {
        Self {
            logger: Arc::new(logger),
            naming: AttributeNaming::default(),
            mutator: None,
            worker: LazyWorker::new("openfeature-log-events"),
        }
    }

    /// Emits through a logger of `provider` whose instrumentation scope is this crate.
    pub fn from_provider<P>(provider: &P) -> Self
    where
        P: LoggerProvider<Logger = L>,
    {
        let scope = InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Self::new(provider.logger_with_scope(scope))
    }

    /// The attribute names to write (default: [`AttributeNaming::Current`]).
    #[must_use]
    pub fn with_naming(mut self, naming: AttributeNaming) -> Self {
        self.naming = naming;
        self
    }

    /// How many events may wait for the background thread (default
    /// [`DEFAULT_QUEUE_CAPACITY`]); past that, events are dropped and counted. Set it before
    /// the first evaluation.
    ///
    /// [`DEFAULT_QUEUE_CAPACITY`]: openfeature_hooks_core::background_worker::DEFAULT_QUEUE_CAPACITY
    #[must_use]
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.worker = self.worker.with_capacity(capacity);
        self
    }

    /// Changes each event just before it is emitted (add, replace or drop attributes, set the
    /// body), like the JavaScript hook's `eventMutator`. It runs on the background thread, and
    /// the record it is given has an empty `evaluation_context`, no `metadata` map and no
    /// `started`/`ended` (none is carried off the evaluation path; `set_id` and `version` are,
    /// and the log record already carries the evaluation's timestamp). A panic in it is
    /// contained (counted in [`stats`](Self::stats)`().panics`, logged the first time); that
    /// event is then not emitted.
    #[must_use]
    pub fn with_event_mutator(
        mut self,
        mutator: impl Fn(&mut L::LogRecord, &EvaluationRecord<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.mutator = Some(Arc::new(mutator));
        self
    }

    /// Waits until every event queued before this call is emitted to the logger, at most
    /// `timeout`; `false` on timeout. Not for the evaluation path. The logger's processor may
    /// still hold them: flush the provider too before reading an exporter.
    #[must_use = "false means the events were not all emitted in time"]
    pub fn flush(&self, timeout: Duration) -> bool {
        self.worker.flush(timeout)
    }

    /// The queue's counters: events dropped because it was full, events emitted.
    pub fn stats(&self) -> BackgroundStats {
        self.worker.stats()
    }
}

/// What the evaluation path hands the background thread.
struct QueuedEvent {
    record: QueuedRecord,
    /// The trace context of the span active during the evaluation.
    trace: Option<(TraceId, SpanId, TraceFlags)>,
}

/// The background side: builds each log record and emits it.
struct EventEmitter<L: Logger> {
    logger: Arc<L>,
    naming: AttributeNaming,
    mutator: Option<Arc<EventMutator<L::LogRecord>>>,
    /// The empty context records are lent (the evaluation's is not captured).
    context: EvaluationContext,
}

impl<L> Drain<QueuedEvent> for EventEmitter<L>
where
    L: Logger + Send + Sync + 'static,
    L::LogRecord: 'static,
{
    fn handle(&mut self, event: QueuedEvent) {
        let record = event.record.record(&self.context);
        let mut log = self.logger.create_log_record();
        log.set_event_name(EVENT_NAME);
        log.set_timestamp(event.record.time());
        log.set_severity_number(Severity::Info);
        log.set_severity_text("INFO");
        if let Some((trace_id, span_id, flags)) = event.trace {
            log.set_trace_context(trace_id, span_id, Some(flags));
        }
        write_attributes(
            &record,
            RecordTexts::of(&record),
            self.naming,
            Body::Available,
            &mut LogAttributes(&mut log),
        );
        if self.naming.value_in_body()
            && let Some(value) = record.value
        {
            log.set_body(AnyValue::Map(Box::new(
                [(Key::from_static_str("value"), log_value(value))].into(),
            )));
        }
        if let Some(mutator) = &self.mutator {
            // A panic here leaves `handle` before the event is emitted; the worker contains
            // it (counted in `stats().panics`, logged once).
            mutator(&mut log, &record);
        }
        self.logger.emit(log);
    }
}

struct LogAttributes<'r, R>(&'r mut R);

impl<R: LogRecord> AttributeWriter for LogAttributes<'_, R> {
    fn string(&mut self, key: Key, value: StringValue) {
        self.0.add_attribute(key, AnyValue::String(value));
    }

    fn flag_value(&mut self, key: Key, value: &open_feature::Value) {
        self.0.add_attribute(key, log_value(value));
    }
}

impl<L> EvaluationSink for LogEventSink<L>
where
    L: Logger + Send + Sync + 'static,
    L::LogRecord: 'static,
{
    fn record(&self, record: &EvaluationRecord<'_>) {
        if !self
            .logger
            .event_enabled(Severity::Info, LOG_TARGET, Some(EVENT_NAME))
        {
            return;
        }
        let trace = Context::map_current(|cx| {
            cx.has_active_span().then(|| {
                let span = cx.span();
                let ids = span.span_context();
                (ids.trace_id(), ids.span_id(), ids.trace_flags())
            })
        });
        self.worker.try_send(
            QueuedEvent {
                record: QueuedRecord::capture_without_metadata(record),
                trace,
            },
            || EventEmitter {
                logger: self.logger.clone(),
                naming: self.naming,
                mutator: self.mutator.clone(),
                context: EvaluationContext::default(),
            },
        );
    }
}

impl<L: Logger> std::fmt::Debug for LogEventSink<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogEventSink")
            .field("naming", &self.naming)
            .field("event_mutator", &self.mutator.is_some())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
