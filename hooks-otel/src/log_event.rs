//! The `feature_flag.evaluation` log event, the conventions' main signal: decided on the
//! evaluation path, built and emitted on a background thread.

use std::sync::Arc;
use std::time::Duration;

use openfeature_hooks_core::background_worker::DEFAULT_QUEUE_CAPACITY;
use openfeature_hooks_core::{
    BackgroundStats, EvaluationRecord, EvaluationSink, OwnCacheLines, PendingEvaluation,
    QueueMembership, QueuedEvaluation, QueuedNeeds, QueuedPart, QueuedSink, RecordTexts,
};
use opentelemetry::logs::{AnyValue, LogRecord, Logger, LoggerProvider, Severity};
use opentelemetry::{InstrumentationScope, Key, StringValue};

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
/// The evaluation asks `event_enabled`, and the hook captures the record
/// ([`QueuedRecord`](openfeature_hooks_core::QueuedRecord)), its time and the active span's
/// ids into a bounded queue; a background thread builds the log record, sets that time and
/// trace context on it explicitly, and emits it to the logger (whose processor then exports:
/// a batch processor in production). Built into a hook, the sink shares the hook's one queue
/// and thread (`openfeature-hook`) with its other queued sinks, so each evaluation is captured
/// and queued once for all of them ([`QueuedSink`]); used on its own (behind a wrapper such as
/// `ExposureDedup`, or called directly) it has a queue and thread of its own
/// (`openfeature-log-events`). When the queue is full the event is dropped and counted
/// ([`LogEventSink::stats`]); size it with [`LogEventSink::with_queue_capacity`] for bursts.
/// [`LogEventSink::flush`] waits (bounded) until everything queued before it is emitted: call
/// it, then the provider's `force_flush`, before reading an exporter. Dropping the last clone
/// of a hook emits what its queue holds and stops its thread (the sink does not keep a dropped
/// hook's queue), and dropping the sink's last clone does the same for its own queue, each
/// waiting at most
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
    /// The background half, which holds the options: made again by every option, so that a
    /// half already given to a hook or a queue keeps the options it was given with.
    emitter: Arc<EventEmitter<L>>,
    membership: QueueMembership,
}

impl<L: Logger> Clone for LogEventSink<L> {
    fn clone(&self) -> Self {
        Self {
            emitter: self.emitter.clone(),
            membership: self.membership.clone(),
        }
    }
}

impl<L: Logger> LogEventSink<L> {
    /// Emits through `logger`.
    pub fn new(logger: L) -> Self {
        Self {
            emitter: Arc::new(EventEmitter {
                logger: Arc::new(OwnCacheLines(logger)),
                naming: AttributeNaming::default(),
                mutator: None,
                capacity: DEFAULT_QUEUE_CAPACITY,
            }),
            membership: QueueMembership::new(),
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
    pub fn with_naming(self, naming: AttributeNaming) -> Self {
        self.remade(|emitter| emitter.naming = naming)
    }

    /// How many events of one evaluating thread may wait for the background thread (default
    /// [`DEFAULT_QUEUE_CAPACITY`]; the queue is per thread,
    /// [`BackgroundWorker::start_per_thread`](openfeature_hooks_core::BackgroundWorker::start_per_thread));
    /// past that, events are dropped and counted. On a hook's
    /// queue, shared with its other queued sinks, the queue takes the largest capacity they
    /// ask for. Set it before the first evaluation.
    ///
    /// Memory: a waiting evaluation takes 256 bytes (plus texts too long to copy inline, and
    /// flag metadata), so a stalled exporter holds at most about `capacity` × 256 bytes per
    /// evaluating thread: 1 MiB per thread by default, and 64 times that at most, since
    /// threads past the 64th share the first 64 queues.
    #[must_use]
    pub fn with_queue_capacity(self, capacity: usize) -> Self {
        self.remade(|emitter| emitter.capacity = capacity)
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
        self,
        mutator: impl Fn(&mut L::LogRecord, &EvaluationRecord<'_>) + Send + Sync + 'static,
    ) -> Self {
        let mutator: Arc<EventMutator<L::LogRecord>> = Arc::new(mutator);
        self.remade(|emitter| emitter.mutator = Some(mutator))
    }

    /// The sink with `change` made to a new background half, and no queue yet.
    fn remade(self, change: impl FnOnce(&mut EventEmitter<L>)) -> Self {
        let mut emitter = EventEmitter {
            logger: self.emitter.logger.clone(),
            naming: self.emitter.naming,
            mutator: self.emitter.mutator.clone(),
            capacity: self.emitter.capacity,
        };
        change(&mut emitter);
        Self {
            emitter: Arc::new(emitter),
            membership: QueueMembership::new(),
        }
    }

    /// Waits until every event queued before this call is emitted to the logger, at most
    /// `timeout`; `false` on timeout. Not for the evaluation path. The logger's processor may
    /// still hold them: flush the provider too before reading an exporter.
    #[must_use = "false means the events were not all emitted in time"]
    pub fn flush(&self, timeout: Duration) -> bool {
        self.membership.flush(timeout)
    }

    /// The counters of the queue the events wait in: dropped because it was full, handled.
    /// On a hook's queue they count every evaluation queued for any of its queued sinks.
    pub fn stats(&self) -> BackgroundStats {
        self.membership.stats(self.emitter.capacity)
    }
}

/// The background half: decides on the evaluation path, builds and emits each log record on
/// the queue's thread.
struct EventEmitter<L: Logger> {
    /// On cache lines of its own: `accepts` reads it on every evaluation.
    logger: Arc<OwnCacheLines<L>>,
    naming: AttributeNaming,
    mutator: Option<Arc<EventMutator<L::LogRecord>>>,
    capacity: usize,
}

impl<L> QueuedSink for EventEmitter<L>
where
    L: Logger + Send + Sync + 'static,
    L::LogRecord: 'static,
{
    fn accepts(&self, _record: &EvaluationRecord<'_>, _pending: &PendingEvaluation) -> bool {
        self.logger
            .event_enabled(Severity::Info, LOG_TARGET, Some(EVENT_NAME))
    }

    fn handle(&self, record: &EvaluationRecord<'_>, evaluation: &QueuedEvaluation) {
        let mut log = self.logger.create_log_record();
        log.set_event_name(EVENT_NAME);
        log.set_timestamp(evaluation.time());
        log.set_severity_number(Severity::Info);
        log.set_severity_text("INFO");
        if let Some((trace_id, span_id, flags)) = evaluation.parent_span_ids() {
            log.set_trace_context(trace_id, span_id, Some(flags));
        }
        write_attributes(
            record,
            RecordTexts::of(record),
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
            // A panic here leaves `handle` before the event is emitted; the queue contains
            // it (counted in `stats().panics`, logged once).
            mutator(&mut log, record);
        }
        self.logger.emit(log);
    }

    fn needs(&self) -> QueuedNeeds {
        QueuedNeeds::default().parent_span()
    }

    fn queue_capacity(&self) -> usize {
        self.capacity
    }

    fn thread_name(&self) -> &'static str {
        "openfeature-log-events"
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
        self.membership.offer(|| self.emitter.clone(), record);
    }

    fn queued(&self) -> Option<QueuedPart> {
        Some(QueuedPart {
            sink: self.emitter.clone(),
            membership: self.membership.clone(),
        })
    }
}

impl<L: Logger> std::fmt::Debug for LogEventSink<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogEventSink")
            .field("naming", &self.emitter.naming)
            .field("event_mutator", &self.emitter.mutator.is_some())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
