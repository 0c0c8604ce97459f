//! Log events leave the evaluation path: an exporter that blocks does not slow evaluations
//! (its drops are counted), and an event emitted late still carries the evaluation's time and
//! trace context, not the background thread's.
//!
//! The blocking part is a test double: a log processor that waits on a gate before handing each
//! record to the SDK's simple processor and in-memory exporter (no real exporter can be made to
//! hang on demand). Not an exporter behind the SDK's simple processor: that processor's
//! `event_enabled`, which the sink asks on the evaluation path, takes the exporter's lock, so a
//! blocked exporter there blocks evaluations whatever the sink does (use a batch processor in
//! production; BENCHMARKS.md notes it). Latency is compared with a healthy logger in the same
//! test, in alternating rounds, with a generous bound.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use open_feature::{Client, OpenFeature};
use openfeature_hooks_core::TelemetryHook;
use openfeature_hooks_otel::LogEventSink;
use openfeature_hooks_testkit::{
    CLOCK_SLACK, FixtureFlag, FixtureProvider, Gate, GatedLogProcessor, within_clock_slack,
};
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;

const QUEUE: usize = 64;
const ROUNDS: usize = 5;
const PER_ROUND: usize = 400;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

async fn client(sink: &LogEventSink<opentelemetry_sdk::logs::SdkLogger>) -> Client {
    let mut api = OpenFeature::default();
    api.set_provider(
        FixtureProvider::new("fixture").with_flag("checkout", FixtureFlag::new(true).variant("on")),
    )
    .await;
    api.create_client()
        .with_hook(TelemetryHook::builder().sink(sink.clone()).build())
}

fn p99(mut latencies: Vec<Duration>) -> Duration {
    latencies.sort_unstable();
    latencies[latencies.len() * 99 / 100]
}

#[test]
fn a_blocked_processor_does_not_slow_evaluations_and_its_drops_are_counted() {
    let gate = Gate::default();
    let blocked_logs = SdkLoggerProvider::builder()
        .with_log_processor(GatedLogProcessor::new(
            &gate,
            InMemoryLogExporter::default(),
        ))
        .build();
    let healthy_logs = SdkLoggerProvider::builder()
        .with_simple_exporter(InMemoryLogExporter::default())
        .build();
    let blocked = LogEventSink::from_provider(&blocked_logs).with_queue_capacity(QUEUE);
    let healthy = LogEventSink::from_provider(&healthy_logs);
    let runtime = runtime();
    let clients = runtime.block_on(async { [client(&healthy).await, client(&blocked).await] });

    let mut latencies: [Vec<Duration>; 2] = Default::default();
    for _ in 0..ROUNDS {
        for (client, out) in clients.iter().zip(&mut latencies) {
            runtime.block_on(async {
                for _ in 0..PER_ROUND {
                    let started = Instant::now();
                    let value = client.get_bool_value("checkout", None, None).await;
                    out.push(started.elapsed());
                    assert_eq!(value, Ok(true));
                }
            });
        }
    }
    let [healthy_p99, blocked_p99] = latencies.map(p99);
    assert!(
        blocked_p99 <= healthy_p99 * 5 + Duration::from_micros(200),
        "blocked processor p99 {blocked_p99:?}, healthy {healthy_p99:?}"
    );
    let evaluated = (ROUNDS * PER_ROUND) as u64;
    let stats = blocked.stats();
    // The queue, plus the event the worker is stuck emitting, at most.
    assert!(stats.dropped >= evaluated - QUEUE as u64 - 1, "{stats:?}");
    assert!(
        !blocked.flush(Duration::from_millis(100)).is_complete(),
        "a blocked export cannot flush"
    );
    assert!(healthy.flush(Duration::from_secs(10)).is_complete());
    assert_eq!(healthy.stats().dropped, 0);
    assert_eq!(healthy.stats().handled, evaluated);

    gate.open();
    assert!(
        blocked.flush(Duration::from_secs(10)).is_complete(),
        "delivery resumes once unblocked"
    );
    drop(clients);
}

/// The hook's queue is per evaluating thread: while the worker is stuck, each thread fills a
/// queue of its own, so two threads queue twice the capacity (one shared queue would hold it
/// once), and the rest is dropped and counted.
#[test]
fn each_evaluating_thread_has_a_queue_of_its_own() {
    const EXTRA: usize = 10;
    let gate = Gate::default();
    let exported = InMemoryLogExporter::default();
    let logs = SdkLoggerProvider::builder()
        .with_log_processor(GatedLogProcessor::new(&gate, exported.clone()))
        .build();
    let sink = LogEventSink::from_provider(&logs).with_queue_capacity(QUEUE);
    let client = runtime().block_on(client(&sink));
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let client = &client;
            scope.spawn(move || {
                let runtime = runtime();
                for _ in 0..QUEUE + EXTRA {
                    let value = runtime.block_on(client.get_bool_value("checkout", None, None));
                    assert_eq!(value, Ok(true));
                }
            });
        }
    });
    let stats = sink.stats();
    // Nothing is handled before the gate opens: the first event holds the worker.
    assert_eq!(
        (stats.queued, stats.dropped, stats.handled),
        (2 * QUEUE as u64, 2 * EXTRA as u64, 0),
        "{stats:?}"
    );
    gate.open();
    assert!(sink.flush(Duration::from_secs(10)).is_complete());
    assert!(logs.force_flush().is_ok());
    assert_eq!(sink.stats().handled, 2 * QUEUE as u64);
    assert_eq!(
        exported.get_emitted_logs().unwrap_or_default().len(),
        2 * QUEUE
    );
    drop(client);
}

#[test]
fn a_late_event_carries_the_evaluations_time_and_trace_context() {
    let gate = Gate::default();
    let exported = InMemoryLogExporter::default();
    let logs = SdkLoggerProvider::builder()
        .with_log_processor(GatedLogProcessor::new(&gate, exported.clone()))
        .build();
    let sink = LogEventSink::from_provider(&logs);
    let runtime = runtime();
    let client = runtime.block_on(client(&sink));
    let tracer = SdkTracerProvider::builder().build().tracer("test");

    // The first event holds the worker in the processor; the second waits in the queue.
    let mut spans = Vec::new();
    let before = SystemTime::now();
    for _ in 0..2 {
        tracer.in_span("request", |cx| {
            let span = cx.span().span_context().clone();
            spans.push((span.trace_id(), span.span_id()));
            let value = runtime.block_on(client.get_bool_value("checkout", None, None));
            assert_eq!(value, Ok(true));
        });
    }
    let after = SystemTime::now();
    // Not synchronisation: a gap wider than the clock's slack, so that the export's moment
    // cannot pass for the evaluation's.
    std::thread::sleep(CLOCK_SLACK * 5);
    // Only now can the second event be emitted (the worker is held by the first's export).
    let released = SystemTime::now();
    gate.open();
    assert!(sink.flush(Duration::from_secs(10)).is_complete());
    assert!(logs.force_flush().is_ok());

    let events = exported.get_emitted_logs().unwrap_or_default();
    assert_eq!(events.len(), 2);
    for (event, (trace_id, span_id)) in events.iter().zip(spans) {
        let time = event.record.timestamp().unwrap_or(SystemTime::UNIX_EPOCH);
        assert!(
            within_clock_slack(before, time, after) && time + CLOCK_SLACK < released,
            "the event's time is the evaluation's: {before:?} <= {time:?} <= {after:?}, \
             released at {released:?}"
        );
        let context = event
            .record
            .trace_context()
            .map(|t| (t.trace_id, t.span_id));
        assert_eq!(context, Some((trace_id, span_id)), "the evaluation's span");
    }
    // The second event was built after the gate opened: observed then, timestamped before.
    let observed = events[1]
        .record
        .observed_timestamp()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    assert!(observed >= released, "emitted late, as intended");
    drop(client);
}

#[test]
fn the_event_mutator_runs_on_every_event_and_its_panic_is_contained_and_counted() {
    use opentelemetry::logs::{AnyValue, LogRecord as _};
    use std::sync::atomic::{AtomicUsize, Ordering};

    let exported = InMemoryLogExporter::default();
    let logs = SdkLoggerProvider::builder()
        .with_simple_exporter(exported.clone())
        .build();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let sink = LogEventSink::from_provider(&logs).with_event_mutator(move |log, record| {
        // The second event's mutator panics: that event is not emitted, the others are.
        assert_ne!(
            counted.fetch_add(1, Ordering::Relaxed),
            1,
            "mutator fails once"
        );
        log.add_attribute(
            "team",
            AnyValue::from(format!("growth:{}", record.flag_key)),
        );
    });
    let runtime = runtime();
    let client = runtime.block_on(client(&sink));
    for _ in 0..3 {
        let value = runtime.block_on(client.get_bool_value("checkout", None, None));
        assert_eq!(value, Ok(true));
    }
    assert!(sink.flush(Duration::from_secs(10)).is_complete());
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(sink.stats().panics, 1);

    let events = exported.get_emitted_logs().unwrap_or_default();
    assert_eq!(
        events.len(),
        2,
        "the event whose mutator panicked is not emitted"
    );
    for event in &events {
        let team = event
            .record
            .attributes_iter()
            .find(|(key, _)| key.as_str() == "team")
            .and_then(|(_, value)| match value {
                AnyValue::String(text) => Some(text.as_str().to_owned()),
                _ => None,
            });
        assert_eq!(team.as_deref(), Some("growth:checkout"));
    }
    drop(client);
}
