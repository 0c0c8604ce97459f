//! The `feature_flag.evaluation` log event, the conventions' main signal: decided on the
//! evaluation path, built and emitted on a background thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use openfeature_hooks_core::__private::{OwnCacheLines, RecordTexts};
use openfeature_hooks_core::DEFAULT_QUEUE_CAPACITY;
use openfeature_hooks_core::{
    BackgroundStats, EvaluationRecord, EvaluationSink, FlushOutcome, PendingEvaluation,
    QueueMembership, QueuedEvaluation, QueuedNeeds, QueuedPart, QueuedSink,
};
use opentelemetry::logs::{AnyValue, LogRecord, Logger, LoggerProvider, Severity};
use opentelemetry::{InstrumentationScope, Key, StringValue};

use crate::attribute_naming::{AttributeNaming, AttributeRules, EVENT_NAME, ResultValue};
use crate::attributes::{AttributeWriter, Body, write_attributes};
use crate::otel_value::log_value;

/// The target the sink gives `Logger::event_enabled` (`openfeature_hooks`), for log processors
/// that filter by target.
pub const LOG_TARGET: &str = "openfeature_hooks";

type EventMutator<R> = dyn Fn(&mut R, &EvaluationRecord<'_>) + Send + Sync;

/// Whether a logger made now by the sink's provider would take the event.
type FreshLoggerEnabled = dyn Fn() -> bool + Send + Sync;

/// Exports what the sink's provider holds (its `force_flush`).
type ProviderFlush = dyn Fn() + Send + Sync;

/// Emits one `feature_flag.evaluation` log event per evaluation through an OpenTelemetry
/// `Logger`.
///
/// The event has severity `INFO`, the record's attributes under the chosen
/// [`AttributeNaming`] (the value as an attribute by [`ResultValue`]; values are typed: maps
/// and lists for structs and arrays, nested at most 32 deep), the time of the evaluation, and
/// the trace and span id of the span active during the evaluation. When the logger reports the
/// event disabled (`Logger::event_enabled`, target [`LOG_TARGET`]), nothing is built.
///
/// # Off the evaluation path
///
/// The evaluation asks `event_enabled`, and the hook captures the record, its time and the
/// active span's ids into a bounded queue; a background thread builds the log record, sets
/// that time and trace context on it explicitly, and emits it to the logger (whose processor
/// then exports: a batch processor in production). Built into a hook, the sink shares the
/// hook's one queue and thread (`openfeature-hook`) with the hook's other queued sinks (the
/// Datadog experiment spans, JSON lines), so each evaluation is captured and queued once for
/// all of them; used on its own (behind a wrapper such as `ExposureDedup`, or called directly)
/// it has a queue and thread of its own (`openfeature-log-events`). When the queue is full the
/// evaluation is dropped and counted ([`LogEventSink::stats`]); size the queue with
/// [`LogEventSink::with_queue_capacity`] for bursts. [`LogEventSink::flush`] waits (bounded)
/// until everything queued before it is emitted and, for a sink made from the SDK's provider,
/// exported: call it (or the hook's [`flush`](openfeature_hooks_core::TelemetryHook::flush))
/// before reading an exporter. Dropping the last clone of a hook emits what its
/// queue holds and stops its thread (the sink does not keep a dropped hook's queue), and
/// dropping the sink's last clone does the same for its own queue, each waiting at most two
/// seconds.
///
/// Clones share the queue, the thread and the counters: keep one to flush or read the stats.
/// Each option (`with_…`) makes a new sink, with counters of its own, that leaves the one it
/// was made from unchanged.
///
/// # When the provider is gone
///
/// An event that reaches the background thread after its provider was shut down goes nowhere:
/// OpenTelemetry's SDK (0.33) drops it without a word, and a logger gives no sign of it. A sink
/// made [`from_provider`](Self::from_provider) asks the provider for a fresh logger before one
/// event in 64 and whenever its queue runs empty (or a flush reaches it): once the provider is
/// shut down, it hands out loggers that take nothing, while the sink's own logger still says
/// it would. From then on events are not emitted but counted as lost (`stats().lost`, and the
/// hook's [`HookStats::lost`](openfeature_hooks_core::HookStats::lost)), and so are the events
/// emitted since the provider was last found alive (at most 63, and only when the provider is
/// shut down while events are flowing: some of those the SDK may still have exported, but a
/// stat never says handled for an event that may have gone nowhere). The first is logged
/// through `log`. A sink made with [`new`](Self::new) from a bare
/// logger cannot tell. Shut the hook down (its
/// [`ShutdownGuard`](openfeature_hooks_core::ShutdownGuard)) before the provider, and nothing
/// is lost.
///
/// ```
/// use std::time::Duration;
/// use openfeature_hooks_core::TelemetryHook;
/// use openfeature_hooks_otel::{AttributeNaming, LogEventSink, ResultValue};
/// use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
///
/// let exporter = InMemoryLogExporter::default();
/// let provider = SdkLoggerProvider::builder().with_simple_exporter(exporter.clone()).build();
/// let events = LogEventSink::from_provider(&provider)
///     .with_naming(AttributeNaming::Both)
///     .with_result_value(ResultValue::Always);
/// let hook = TelemetryHook::builder().sink(events.clone()).build();
/// // ... evaluate flags, then, before reading the exporter:
/// assert!(events.flush(Duration::from_secs(5)).is_complete());
/// assert_eq!(events.stats().lost, 0);
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
    /// Emits through `logger` (what `LoggerProvider::logger` returns). A sink made this way
    /// cannot tell when the provider is shut down: prefer [`from_provider`](Self::from_provider).
    pub fn new(logger: L) -> Self {
        Self {
            emitter: Arc::new(EventEmitter {
                logger: Arc::new(OwnCacheLines(logger)),
                rules: AttributeRules::default(),
                mutator: None,
                capacity: DEFAULT_QUEUE_CAPACITY,
                destination: Arc::new(Destination::default()),
                counts: Arc::default(),
            }),
            membership: QueueMembership::new(),
        }
    }

    /// Emits through a logger of `provider` whose instrumentation scope is this crate, and
    /// counts as lost the events that reach it after the provider was shut down (see "When
    /// the provider is gone").
    pub fn from_provider<P>(provider: &P) -> Self
    where
        P: LoggerProvider<Logger = L> + Clone + Send + Sync + 'static,
    {
        let scope = InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let sink = Self::new(provider.logger_with_scope(scope.clone()));
        // The SDK's provider can be asked to export what its processors hold; the API's
        // trait has no such call.
        let flush = (provider as &dyn std::any::Any)
            .downcast_ref::<opentelemetry_sdk::logs::SdkLoggerProvider>()
            .map(|sdk| {
                let sdk = sdk.clone();
                Arc::new(move || {
                    let _ = sdk.force_flush();
                }) as Arc<ProviderFlush>
            });
        let provider = provider.clone();
        let fresh: Arc<FreshLoggerEnabled> = Arc::new(move || {
            provider.logger_with_scope(scope.clone()).event_enabled(
                Severity::Info,
                LOG_TARGET,
                Some(EVENT_NAME),
            )
        });
        sink.remade(|emitter| {
            emitter.destination = Arc::new(Destination {
                fresh: Some(fresh),
                flush,
                ..Destination::default()
            });
        })
    }

    /// The attribute names to write (default: [`AttributeNaming::Current`]).
    #[must_use]
    pub fn with_naming(self, naming: AttributeNaming) -> Self {
        self.remade(|emitter| emitter.rules.naming = naming)
    }

    /// When the value is written as the attribute `feature_flag.result.value` (default:
    /// [`ResultValue::WhenNoVariant`], as semantic conventions 1.44 ask). The body of
    /// [`AttributeNaming::Legacy`] and [`AttributeNaming::Both`] keeps its own rule: the value
    /// whenever there is one.
    #[must_use]
    pub fn with_result_value(self, rule: ResultValue) -> Self {
        self.remade(|emitter| emitter.rules.result_value = rule)
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
    /// event is then not emitted, and counts as handled.
    #[must_use]
    pub fn with_event_mutator(
        self,
        mutator: impl Fn(&mut L::LogRecord, &EvaluationRecord<'_>) + Send + Sync + 'static,
    ) -> Self {
        let mutator: Arc<EventMutator<L::LogRecord>> = Arc::new(mutator);
        self.remade(|emitter| emitter.mutator = Some(mutator))
    }

    /// The sink with `change` made to a new background half, with no queue yet and counters
    /// of its own.
    fn remade(self, change: impl FnOnce(&mut EventEmitter<L>)) -> Self {
        let mut emitter = EventEmitter {
            logger: self.emitter.logger.clone(),
            rules: self.emitter.rules,
            mutator: self.emitter.mutator.clone(),
            capacity: self.emitter.capacity,
            destination: self.emitter.destination.clone(),
            counts: Arc::default(),
        };
        change(&mut emitter);
        Self {
            emitter: Arc::new(emitter),
            membership: QueueMembership::new(),
        }
    }

    /// Waits until every event queued before this call is emitted to the logger, at most
    /// `timeout`, and says how many were left. Not for the evaluation path. A sink made
    /// [`from_provider`](Self::from_provider) with the SDK's `SdkLoggerProvider` then asks the
    /// provider to export what its processors hold (its `force_flush`, within the same
    /// timeout, on a thread of its own so that a hung exporter cannot hold the caller longer);
    /// with any other logger, flush its provider yourself before reading an exporter.
    pub fn flush(&self, timeout: Duration) -> FlushOutcome {
        self.membership.flush(timeout)
    }

    /// This sink's counters, and those of the queue its events wait in:
    ///
    /// - `handled`: this sink's events emitted to the logger (and those whose event mutator
    ///   panicked), `lost`: its events that found the provider shut down (see "When the
    ///   provider is gone"), `panics`: panics while building or emitting its events (the event
    ///   mutator, the logger). Its clones count together, in every hook they are in.
    /// - `queued`, `dropped` and `capacity` are the queue's. Built into a hook, that is the
    ///   hook's queue, shared with its other queued sinks: `queued` and `dropped` count every
    ///   evaluation queued for any of them (the same as the hook's
    ///   [`HookStats::queue`](openfeature_hooks_core::HookStats::queue)), and a panic in the
    ///   logger's `event_enabled` on the evaluation path is counted there too. A full queue
    ///   drops the evaluation for every sink of the queue.
    pub fn stats(&self) -> BackgroundStats {
        let mut stats = self.membership.stats(self.emitter.capacity);
        let counts = &self.emitter.counts;
        stats.handled = counts.handled.load(Ordering::Relaxed);
        stats.lost = counts.lost.load(Ordering::Relaxed);
        stats.panics = counts.panics.load(Ordering::Relaxed);
        stats
    }
}

/// Whether the events' destination is still there.
#[derive(Default)]
struct Destination {
    /// A probe of the provider, for a sink made from one.
    fresh: Option<Arc<FreshLoggerEnabled>>,
    /// The provider's export of what it holds, for a sink made from the SDK's provider.
    flush: Option<Arc<ProviderFlush>>,
    /// Set for good once the provider is found shut down.
    gone: AtomicBool,
}

/// What one sink (its clones included) did with its events, counted on the background thread
/// only. On cache lines of its own: the evaluation path reads the half's fields, and the
/// background thread writes these on every event.
#[derive(Debug, Default)]
struct DeliveryCounts {
    handled: AtomicU64,
    lost: AtomicU64,
    panics: AtomicU64,
    /// Events emitted since the provider was last found alive: counted in `handled` until a
    /// probe confirms them, moved to `lost` if the next probe finds the provider gone.
    unconfirmed: AtomicU64,
    /// Events handled since the last probe of the provider.
    since_probe: AtomicU64,
}

/// The provider is probed before one event in this many, and whenever the queue runs empty.
/// A probe makes a logger, which takes and drops a reference to the provider: on every event
/// that moved the provider's reference count, on the cache line every evaluation reads to ask
/// whether the event is enabled, between cores (+430 ns an evaluation with every backend on,
/// in the median of six paired runs, 2026-12-08).
const PROBE_EVERY: u64 = 64;

impl DeliveryCounts {
    /// The events emitted since the last live probe went nowhere: the provider was shut down
    /// before the SDK exported them, or maybe just after (counted lost either way: a stat never
    /// says handled for an event that may have gone nowhere).
    fn unconfirmed_lost(&self) {
        let unconfirmed = self.unconfirmed.swap(0, Ordering::Relaxed);
        if unconfirmed > 0 {
            self.handled.fetch_sub(unconfirmed, Ordering::Relaxed);
            self.lost.fetch_add(unconfirmed, Ordering::Relaxed);
        }
    }
}

/// Counts one event when `handle` leaves, however it leaves: emitted, lost, or unwinding from
/// a panic (then also counted in `panics`, before the queue catches it).
struct Counted<'a> {
    counts: &'a DeliveryCounts,
    lost: bool,
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        let counter = if self.lost {
            &self.counts.lost
        } else {
            &self.counts.handled
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if std::thread::panicking() {
            self.counts.panics.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Destination {
    /// Asks the provider to export what it holds and waits for it at most `timeout`: the
    /// export runs on a thread of its own, so a hung exporter costs the caller the timeout,
    /// never more (the thread then finishes, or stays parked, on its own). `false` on timeout.
    fn flush_provider(&self, timeout: Duration) -> bool {
        let Some(flush) = self.flush.clone() else {
            return true;
        };
        let (done, finished) = std::sync::mpsc::sync_channel(1);
        let started = std::thread::Builder::new()
            .name("openfeature-provider-flush".to_owned())
            .spawn(move || {
                flush();
                let _ = done.send(());
            });
        started.is_ok() && finished.recv_timeout(timeout).is_ok()
    }

    /// Whether the provider behind `logger` is shut down: its fresh loggers take nothing while
    /// `logger` would take the event. Asks the provider only when `probe` (see
    /// [`PROBE_EVERY`]); otherwise answers what the last probe found.
    fn is_gone(&self, logger: &impl Logger, probe: bool) -> bool {
        if self.gone.load(Ordering::Relaxed) {
            return true;
        }
        let Some(fresh) = &self.fresh else {
            return false;
        };
        if !probe {
            return false;
        }
        let gone = !fresh() && logger.event_enabled(Severity::Info, LOG_TARGET, Some(EVENT_NAME));
        if gone {
            self.gone.store(true, Ordering::Relaxed);
            log::warn!(
                target: LOG_TARGET,
                "LogEventSink: the logger provider was shut down before its events were \
                 emitted; they are counted as lost (shut the hook down first)"
            );
        }
        gone
    }
}

/// The background half: decides on the evaluation path, builds and emits each log record on
/// the queue's thread.
struct EventEmitter<L: Logger> {
    /// On cache lines of its own: `accepts` reads it on every evaluation.
    logger: Arc<OwnCacheLines<L>>,
    rules: AttributeRules,
    mutator: Option<Arc<EventMutator<L::LogRecord>>>,
    capacity: usize,
    /// Shared by every half made from one sink.
    destination: Arc<Destination>,
    /// This half's own.
    counts: Arc<OwnCacheLines<DeliveryCounts>>,
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
        let mut counted = Counted {
            counts: &self.counts,
            lost: false,
        };
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
            self.rules,
            Body::Available,
            &mut LogAttributes(&mut log),
        );
        if self.rules.value_in_body()
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
        // Asked last, just before the event leaves: the provider may have been shut down
        // while it was built.
        let probe = self
            .counts
            .since_probe
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PROBE_EVERY);
        if self.destination.is_gone(&**self.logger, probe) {
            self.counts.unconfirmed_lost();
            counted.lost = true;
            return;
        }
        if probe {
            self.counts.unconfirmed.store(0, Ordering::Relaxed);
        }
        self.logger.emit(log);
        self.counts.unconfirmed.fetch_add(1, Ordering::Relaxed);
    }

    fn idle(&self) {
        // The queue is empty, or a flush reached it: confirm what was emitted since the last
        // probe, or count it lost.
        if self.counts.unconfirmed.load(Ordering::Relaxed) == 0 {
            return;
        }
        self.counts.since_probe.store(1, Ordering::Relaxed);
        if self.destination.is_gone(&**self.logger, true) {
            self.counts.unconfirmed_lost();
        } else {
            self.counts.unconfirmed.store(0, Ordering::Relaxed);
        }
    }

    fn flush_destination(&self, timeout: Duration) -> bool {
        self.destination.flush_provider(timeout)
    }

    fn lost(&self) -> u64 {
        self.counts.lost.load(Ordering::Relaxed)
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

    fn flush(&self, timeout: Duration) -> FlushOutcome {
        LogEventSink::flush(self, timeout)
    }

    fn lost(&self) -> u64 {
        self.emitter.counts.lost.load(Ordering::Relaxed)
    }
}

impl<L: Logger> std::fmt::Debug for LogEventSink<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogEventSink")
            .field("naming", &self.emitter.rules.naming)
            .field("result_value", &self.emitter.rules.result_value)
            .field("event_mutator", &self.emitter.mutator.is_some())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
