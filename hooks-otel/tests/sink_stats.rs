//! Each log event sink's `stats()` counts its own events: built into one hook, two sinks wait in
//! the hook's one queue (whose `queued` and `dropped` they share), but each counts what it
//! handled, panicked on and lost itself, and a sink made from another by an option counts apart
//! from it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use open_feature::{Client, OpenFeature};
use openfeature_hooks_core::TelemetryHook;
use openfeature_hooks_otel::{AttributeNaming, LogEventSink, ResultValue};
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider};
use opentelemetry::logs::{Logger, LoggerProvider, Severity};
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLogger, SdkLoggerProvider};

const WAIT: Duration = Duration::from_secs(10);

/// A logger that takes the first `budget` events it is asked about and declines the rest, as a
/// processor that filters events would.
struct Budgeted {
    logger: SdkLogger,
    budget: AtomicUsize,
}

impl Logger for Budgeted {
    type LogRecord = <SdkLogger as Logger>::LogRecord;

    fn create_log_record(&self) -> Self::LogRecord {
        self.logger.create_log_record()
    }

    fn emit(&self, record: Self::LogRecord) {
        self.logger.emit(record);
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.logger.event_enabled(level, target, name)
            && self
                .budget
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                    left.checked_sub(1)
                })
                .is_ok()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn client(runtime: &tokio::runtime::Runtime, hook: &TelemetryHook) -> Client {
    runtime.block_on(async {
        let mut api = OpenFeature::default();
        api.set_provider(
            FixtureProvider::new("fixture")
                .with_flag("checkout", FixtureFlag::new(true).variant("on")),
        )
        .await;
        api.create_client().with_hook(hook.clone())
    })
}

fn evaluate(runtime: &tokio::runtime::Runtime, client: &Client, times: usize) {
    for _ in 0..times {
        let value = runtime.block_on(client.get_bool_value("checkout", None, None));
        assert_eq!(value, Ok(true));
    }
}

fn in_memory_logs() -> (SdkLoggerProvider, InMemoryLogExporter) {
    let exporter = InMemoryLogExporter::default();
    let logs = SdkLoggerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (logs, exporter)
}

#[test]
fn two_sinks_on_one_hooks_queue_each_count_the_events_they_handled() {
    let runtime = runtime();
    let (logs, exporter) = in_memory_logs();
    let every = LogEventSink::from_provider(&logs);
    let first_four = LogEventSink::new(Budgeted {
        logger: logs.logger("first-four"),
        budget: AtomicUsize::new(4),
    });
    let hook = TelemetryHook::builder()
        .sink(every.clone())
        .sink(first_four.clone())
        .build();
    let client = client(&runtime, &hook);

    evaluate(&runtime, &client, 10);
    assert!(hook.flush(WAIT).is_complete());

    // One queue for both: it carried every evaluation once.
    let queue = hook.stats().queue;
    assert_eq!((queue.queued, queue.handled, queue.dropped), (10, 10, 0));
    // Each sink counts its own events; `queued` and `dropped` are the queue's.
    let (every, first_four) = (every.stats(), first_four.stats());
    assert_eq!((every.handled, every.lost), (10, 0), "{every:?}");
    assert_eq!(
        (first_four.handled, first_four.lost),
        (4, 0),
        "{first_four:?}"
    );
    assert_eq!((every.queued, every.dropped), (10, 0));
    assert_eq!((first_four.queued, first_four.dropped), (10, 0));
    assert_eq!(exporter.get_emitted_logs().unwrap_or_default().len(), 14);
}

#[test]
fn a_panic_is_counted_by_the_sink_whose_mutator_panicked() {
    let runtime = runtime();
    let (logs, exporter) = in_memory_logs();
    let calm = LogEventSink::from_provider(&logs);
    let failing = LogEventSink::from_provider(&logs)
        .with_event_mutator(|_, record| panic!("mutator fails on {}", record.flag_key));
    let hook = TelemetryHook::builder()
        .sink(calm.clone())
        .sink(failing.clone())
        .build();
    let client = client(&runtime, &hook);

    evaluate(&runtime, &client, 5);
    assert!(hook.flush(WAIT).is_complete());

    assert_eq!(hook.stats().queue.panics, 5);
    assert_eq!(failing.stats().panics, 5, "{:?}", failing.stats());
    assert_eq!(
        failing.stats().handled,
        5,
        "an event whose mutator panicked counts as handled"
    );
    assert_eq!(calm.stats().panics, 0, "{:?}", calm.stats());
    assert_eq!(calm.stats().handled, 5);
    assert_eq!(exporter.get_emitted_logs().unwrap_or_default().len(), 5);
}

#[test]
fn a_sink_made_by_an_option_counts_apart_from_the_sink_it_was_made_from() {
    let runtime = runtime();
    let (logs, _exporter) = in_memory_logs();
    let base = LogEventSink::from_provider(&logs);
    let derived = base
        .clone()
        .with_naming(AttributeNaming::Legacy)
        .with_result_value(ResultValue::Always);
    let idle = TelemetryHook::builder().sink(base.clone()).build();
    let busy = TelemetryHook::builder().sink(derived.clone()).build();
    let client = client(&runtime, &busy);

    // The provider is gone before the events reach it: the derived sink loses them.
    assert!(logs.shutdown().is_ok());
    evaluate(&runtime, &client, 3);
    assert!(busy.flush(WAIT).is_complete());

    assert_eq!(derived.stats().lost, 3, "{:?}", derived.stats());
    assert_eq!(derived.stats().handled, 0);
    assert_eq!(busy.stats().lost, 3);
    // The sink it was made from lost nothing, and neither did the hook it is in.
    assert_eq!(base.stats().lost, 0, "{:?}", base.stats());
    assert_eq!(idle.stats().lost, 0, "{:?}", idle.stats());
    drop(idle);
}
