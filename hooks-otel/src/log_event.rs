//! The `feature_flag.evaluation` log event, the conventions' main signal.

use std::time::SystemTime;

use openfeature_hooks_core::{EvaluationRecord, EvaluationSink, RecordTexts};
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
/// [`AttributeNaming`], and, with the SDK's logger, the trace and span id of the span active
/// during the evaluation. When the logger reports the event disabled
/// (`Logger::event_enabled`), nothing is built.
///
/// Export happens in the logger provider's processor: use a batch processor in production so
/// the evaluation never waits for the network.
///
/// ```
/// use openfeature_hooks_core::TelemetryHook;
/// use openfeature_hooks_otel::{AttributeNaming, LogEventSink};
/// use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
///
/// let exporter = InMemoryLogExporter::default();
/// let provider = SdkLoggerProvider::builder().with_simple_exporter(exporter.clone()).build();
/// let hook = TelemetryHook::builder()
///     .sink(LogEventSink::from_provider(&provider).with_naming(AttributeNaming::Both))
///     .build();
/// # drop(hook);
/// ```
pub struct LogEventSink<L: Logger> {
    logger: L,
    naming: AttributeNaming,
    mutator: Option<Box<EventMutator<L::LogRecord>>>,
}

impl<L: Logger> LogEventSink<L> {
    /// Emits through `logger`.
    pub fn new(logger: L) -> Self {
        Self {
            logger,
            naming: AttributeNaming::default(),
            mutator: None,
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

    /// Changes each event just before it is emitted (add, replace or drop attributes, set the
    /// body), like the JavaScript hook's `eventMutator`. A panic in it is contained by the hook;
    /// that event is then not emitted.
    #[must_use]
    pub fn with_event_mutator(
        mut self,
        mutator: impl Fn(&mut L::LogRecord, &EvaluationRecord<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.mutator = Some(Box::new(mutator));
        self
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
        let mut log = self.logger.create_log_record();
        log.set_event_name(EVENT_NAME);
        log.set_timestamp(SystemTime::now());
        log.set_severity_number(Severity::Info);
        log.set_severity_text("INFO");
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
            mutator(&mut log, record);
        }
        self.logger.emit(log);
    }
}

impl<L: Logger> std::fmt::Debug for LogEventSink<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogEventSink")
            .field("naming", &self.naming)
            .field("event_mutator", &self.mutator.is_some())
            .finish_non_exhaustive()
    }
}
