//! Nothing lost at shutdown: a hook on the global OpenFeature API, log events through a batch
//! processor and durations through a periodic reader, evaluations on four tasks, then the
//! shutdown OpenTelemetry's docs teach. With the hook's guard dropped first, every event and
//! every duration arrives; with the providers shut down first and no guard, what the exporter
//! misses is exactly what the stats count as lost.
//!
//! The exporter is a real `LogExporter` that counts what the batch processor hands it (the
//! SDK's `InMemoryLogExporter` empties itself on shutdown). The global API is shared by every
//! test in a process, so both phases run in one test, one after the other.

mod support;

use std::time::Duration;

use open_feature::OpenFeature;
use openfeature_hooks_core::TelemetryHook;
use openfeature_hooks_otel::{LogEventSink, MetricsSink};
use openfeature_hooks_testkit::{CountingLogs, Gate};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{BatchConfigBuilder, BatchLogProcessor, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

const TASKS: usize = 4;
const PER_TASK: usize = 2_500;
const EVALUATIONS: u64 = (TASKS * PER_TASK) as u64;
const REPETITIONS: usize = 20;
/// Our queue and the SDK's batch queue sized together, for the burst (see the README's
/// production section): neither drops.
const QUEUE: usize = 16_384;
const WAIT: Duration = Duration::from_secs(30);

fn loggers(exporter: &CountingLogs) -> SdkLoggerProvider {
    let batch = BatchConfigBuilder::default()
        .with_max_queue_size(QUEUE)
        .build();
    SdkLoggerProvider::builder()
        .with_log_processor(
            BatchLogProcessor::builder(exporter.clone())
                .with_batch_config(batch)
                .build(),
        )
        .build()
}

/// A meter provider whose reader exports only at shutdown (the interval is an hour).
fn meters() -> (SdkMeterProvider, InMemoryMetricExporter) {
    let exporter = InMemoryMetricExporter::default();
    let reader = PeriodicReader::builder(exporter.clone())
        .with_interval(Duration::from_secs(3600))
        .build();
    (
        SdkMeterProvider::builder().with_reader(reader).build(),
        exporter,
    )
}

/// The duration histogram's count in the last export (cumulative).
fn durations(exporter: &InMemoryMetricExporter) -> u64 {
    let metrics = exporter.get_finished_metrics().unwrap_or_default();
    let Some(last) = metrics.last() else {
        return 0;
    };
    let mut count = 0;
    for scope in last.scope_metrics() {
        for metric in scope.metrics() {
            if metric.name() == "feature_flag.evaluation.duration"
                && let AggregatedMetrics::F64(MetricData::Histogram(histogram)) = metric.data()
            {
                count += histogram.data_points().map(|p| p.count()).sum::<u64>();
            }
        }
    }
    count
}

/// `EVALUATIONS` boolean evaluations through the global API, on `TASKS` tasks at once.
async fn evaluate() {
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            tokio::spawn(async move {
                let client = OpenFeature::singleton().await.create_client();
                for _ in 0..PER_TASK {
                    let value = client.get_bool_value("checkout", None, None).await;
                    assert_eq!(value, Ok(true));
                }
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.is_ok());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn global_hook_loses_nothing_with_its_guard_and_counts_what_it_loses_without() {
    OpenFeature::singleton_mut()
        .await
        .set_provider(support::checkout_provider())
        .await;

    // The guard dropped before the providers shut down: everything arrives, every time.
    for repetition in 0..REPETITIONS {
        let exported = CountingLogs::default();
        let logger_provider = loggers(&exported);
        let (meter_provider, metrics) = meters();
        let hook = TelemetryHook::builder()
            .sink(LogEventSink::from_provider(&logger_provider).with_queue_capacity(QUEUE))
            .sink(MetricsSink::from_provider(&meter_provider).with_queue_capacity(QUEUE))
            .build();
        let guard = hook.shutdown_guard().with_timeout(WAIT);
        OpenFeature::singleton_mut()
            .await
            .add_hook(hook.clone())
            .await;

        evaluate().await;

        drop(guard);
        assert!(logger_provider.shutdown().is_ok());
        assert!(meter_provider.shutdown().is_ok());
        let stats = hook.stats();
        assert_eq!(
            exported.exported(),
            EVALUATIONS,
            "repetition {repetition}: every log event arrives ({stats:?})"
        );
        assert_eq!(
            durations(&metrics),
            EVALUATIONS,
            "repetition {repetition}: every duration arrives"
        );
        assert_eq!(stats.lost, 0, "{stats:?}");
        assert_eq!(stats.queue.dropped, 0, "{stats:?}");
    }

    // The providers shut down first, no guard: the events still queued go nowhere, and the
    // stats say exactly how many. The hook's thread is held (by the event mutator) until the
    // provider is shut down, so that most events are still queued then.
    let exported = CountingLogs::default();
    let logger_provider = loggers(&exported);
    let gate = Gate::default();
    let held = gate.clone();
    let events = LogEventSink::from_provider(&logger_provider)
        .with_queue_capacity(QUEUE)
        .with_event_mutator(move |_, _| held.wait());
    let hook = TelemetryHook::builder().sink(events.clone()).build();
    OpenFeature::singleton_mut()
        .await
        .add_hook(hook.clone())
        .await;

    evaluate().await;

    assert!(logger_provider.shutdown().is_ok());
    gate.open();
    // Not a shutdown: only waits until the hook's thread has handled everything.
    assert!(hook.flush(WAIT).is_complete());
    let stats = hook.stats();
    let shortfall = EVALUATIONS - exported.exported();
    assert!(
        shortfall > 0,
        "the provider was shut down with events queued"
    );
    assert_eq!(stats.lost, shortfall, "{stats:?}");
    assert_eq!(events.stats().lost, shortfall, "{:?}", events.stats());
    assert_eq!(
        events.stats().handled + events.stats().lost,
        EVALUATIONS,
        "a lost event is not counted as handled: {:?}",
        events.stats()
    );
    // The hooks of the first phase, shut down, took no record of the second: they counted
    // each evaluation as after their shutdown.
    assert_eq!(stats.after_shutdown, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_exporter_makes_shutdown_return_at_its_timeout_with_the_count_left() {
    use openfeature_hooks_testkit::GatedLogProcessor;
    use opentelemetry_sdk::logs::InMemoryLogExporter;

    let gate = Gate::default();
    let logger_provider = SdkLoggerProvider::builder()
        .with_log_processor(GatedLogProcessor::new(
            &gate,
            InMemoryLogExporter::default(),
        ))
        .build();
    let hook = TelemetryHook::builder()
        .sink(LogEventSink::from_provider(&logger_provider).with_queue_capacity(QUEUE))
        .build();
    let api = support::checkout_api().await;
    let client = api.create_client().with_hook(hook.clone());
    for _ in 0..1_000 {
        assert_eq!(
            client.get_bool_value("checkout", None, None).await,
            Ok(true)
        );
    }

    let timeout = Duration::from_millis(200);
    let started = std::time::Instant::now();
    let outcome = hook.shutdown(timeout);
    let took = started.elapsed();
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(5),
        "{took:?}"
    );
    // Every event waits: in the queue, or the one the hook's thread is stuck emitting.
    assert!(!outcome.is_complete());
    assert_eq!(outcome.left, 1_000, "{outcome:?}");
    gate.open();
    assert!(hook.flush(WAIT).is_complete());
}

/// A hook with log events on a batch processor that exports only when asked (its schedule is
/// an hour, its batch larger than the test's events), and a client evaluating through it.
async fn hook_on_idle_batch_processor(
    processor: impl opentelemetry_sdk::logs::LogProcessor + 'static,
) -> (TelemetryHook, open_feature::Client, SdkLoggerProvider) {
    let logger_provider = SdkLoggerProvider::builder()
        .with_log_processor(processor)
        .build();
    let hook = TelemetryHook::builder()
        .sink(LogEventSink::from_provider(&logger_provider))
        .build();
    let api = support::checkout_api().await;
    let client = api.create_client().with_hook(hook.clone());
    (hook, client, logger_provider)
}

fn idle_batch(exporter: &CountingLogs) -> BatchLogProcessor {
    let batch = BatchConfigBuilder::default()
        .with_scheduled_delay(Duration::from_secs(3600))
        .with_max_export_batch_size(512)
        .build();
    BatchLogProcessor::builder(exporter.clone())
        .with_batch_config(batch)
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hooks_flush_also_exports_what_the_provider_holds() {
    let exported = CountingLogs::default();
    let (hook, client, logger_provider) = hook_on_idle_batch_processor(idle_batch(&exported)).await;
    for _ in 0..100 {
        assert_eq!(
            client.get_bool_value("checkout", None, None).await,
            Ok(true)
        );
    }
    // No force_flush or shutdown of the provider by the test: the hook's one call is enough.
    assert!(hook.flush(WAIT).is_complete());
    assert_eq!(exported.exported(), 100);
    assert!(logger_provider.shutdown().is_ok());
}

/// A log processor whose export on request hangs until its gate opens.
#[derive(Debug)]
struct HangingFlush {
    gate: Gate,
    inner: BatchLogProcessor,
}

impl opentelemetry_sdk::logs::LogProcessor for HangingFlush {
    fn emit(
        &self,
        record: &mut opentelemetry_sdk::logs::SdkLogRecord,
        scope: &opentelemetry::InstrumentationScope,
    ) {
        self.inner.emit(record, scope);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.gate.wait();
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_whose_export_hangs_makes_flush_return_at_its_timeout() {
    let gate = Gate::default();
    let exported = CountingLogs::default();
    let processor = HangingFlush {
        gate: gate.clone(),
        inner: idle_batch(&exported),
    };
    let (hook, client, logger_provider) = hook_on_idle_batch_processor(processor).await;
    for _ in 0..10 {
        assert_eq!(
            client.get_bool_value("checkout", None, None).await,
            Ok(true)
        );
    }
    let timeout = Duration::from_millis(200);
    let started = std::time::Instant::now();
    let outcome = hook.flush(timeout);
    let took = started.elapsed();
    assert!(!outcome.is_complete(), "{outcome:?}");
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(5),
        "{took:?}"
    );
    gate.open();
    assert!(hook.flush(WAIT).is_complete());
    assert_eq!(exported.exported(), 10);
    assert!(logger_provider.shutdown().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_after_the_provider_shut_down_between_two_flushes_are_counted_lost() {
    // The sink asks the provider before one event in 64 and when its queue runs empty: the five
    // events after the shutdown are emitted before any probe, and counted lost once the queue
    // empties.
    let exported = CountingLogs::default();
    let (hook, client, logger_provider) = hook_on_idle_batch_processor(idle_batch(&exported)).await;
    for _ in 0..10 {
        assert_eq!(
            client.get_bool_value("checkout", None, None).await,
            Ok(true)
        );
    }
    assert!(hook.flush(WAIT).is_complete());
    assert!(logger_provider.shutdown().is_ok());
    assert_eq!(exported.exported(), 10);
    for _ in 0..5 {
        assert_eq!(
            client.get_bool_value("checkout", None, None).await,
            Ok(true)
        );
    }
    assert!(hook.flush(WAIT).is_complete());
    let stats = hook.stats();
    assert_eq!(stats.lost, 5, "{stats:?}");
    assert_eq!(stats.queue.handled, 10, "{stats:?}");
    assert_eq!(exported.exported(), 10);
}
