//! The sinks that work in the background share one queue per hook: OpenTelemetry log events
//! and Datadog experiment spans built into one hook get each evaluation captured and queued
//! once, on the hook's queue, and each still gets exactly its own evaluations, with the
//! evaluation's trace context. Real SDK exporters (in memory) on both sides.

#![cfg(feature = "full")]

use std::time::Duration;

use open_feature::{Client, EvaluationErrorCode, OpenFeature};
use openfeature_hooks::datadog::{ExperimentSpanSink, ExperimentSpanVolume};
use openfeature_hooks::otel::LogEventSink;
use openfeature_hooks::{EvaluationSink, ExposureDedup, TelemetryHook};
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider};
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, Tracer, TracerProvider};
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracer, SdkTracerProvider};

const WAIT: Duration = Duration::from_secs(10);

/// Log events and experiment spans, each to an in-memory exporter.
struct Backends {
    logs: SdkLoggerProvider,
    log_exporter: InMemoryLogExporter,
    traces: SdkTracerProvider,
    span_exporter: InMemorySpanExporter,
}

impl Backends {
    fn new() -> Self {
        let log_exporter = InMemoryLogExporter::default();
        let span_exporter = InMemorySpanExporter::default();
        Self {
            logs: SdkLoggerProvider::builder()
                .with_simple_exporter(log_exporter.clone())
                .build(),
            log_exporter,
            traces: SdkTracerProvider::builder()
                .with_simple_exporter(span_exporter.clone())
                .build(),
            span_exporter,
        }
    }

    fn log_events(&self) -> LogEventSink<SdkLogger> {
        LogEventSink::from_provider(&self.logs)
    }

    fn experiment_spans(&self) -> ExperimentSpanSink<SdkTracer> {
        ExperimentSpanSink::new(self.traces.tracer("openfeature-hooks"))
            .with_volume(ExperimentSpanVolume::Every)
    }

    /// (trace id, span id) of every exported log event.
    fn log_trace_contexts(&self) -> Vec<(TraceId, SpanId)> {
        self.log_exporter
            .get_emitted_logs()
            .unwrap_or_default()
            .iter()
            .filter_map(|log| log.record.trace_context())
            .map(|trace| (trace.trace_id, trace.span_id))
            .collect()
    }

    fn log_events_exported(&self) -> usize {
        self.log_exporter
            .get_emitted_logs()
            .unwrap_or_default()
            .len()
    }

    /// (trace id, parent span id) of every exported experiment span.
    fn experiment_parents(&self) -> Vec<(TraceId, SpanId)> {
        self.span_exporter
            .get_finished_spans()
            .unwrap_or_default()
            .iter()
            .filter(|span| span.name == "new-checkout")
            .map(|span| (span.span_context.trace_id(), span.parent_span_id))
            .collect()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn client(runtime: &tokio::runtime::Runtime, hook: TelemetryHook) -> Client {
    runtime.block_on(async {
        let mut api = OpenFeature::default();
        api.set_provider(
            FixtureProvider::new("fixture")
                .with_flag("new-checkout", FixtureFlag::new(true).variant("on"))
                .with_flag(
                    "broken",
                    FixtureFlag::failing(EvaluationErrorCode::ParseError, None),
                ),
        )
        .await;
        api.create_client().with_hook(hook)
    })
}

/// Evaluates `key` `times` times inside one request span; returns the span's ids.
fn evaluate_in_request(
    runtime: &tokio::runtime::Runtime,
    backends: &Backends,
    client: &Client,
    key: &str,
    times: usize,
) -> (TraceId, SpanId) {
    backends.traces.tracer("app").in_span("request", |cx| {
        runtime.block_on(async {
            for _ in 0..times {
                let _ = client.get_bool_value(key, None, None).await;
            }
        });
        let span = cx.span();
        let ids = span.span_context();
        (ids.trace_id(), ids.span_id())
    })
}

#[test]
fn one_capture_and_one_send_per_evaluation_for_every_queued_sink() {
    let runtime = runtime();
    let backends = Backends::new();
    let events = backends.log_events();
    let spans = backends.experiment_spans();
    let hook = TelemetryHook::builder()
        .sink(events.clone())
        .sink(spans.clone())
        .build();
    let client = client(&runtime, hook.clone());

    let request = evaluate_in_request(&runtime, &backends, &client, "new-checkout", 50);
    assert!(hook.flush(WAIT).is_complete());

    // One item per evaluation on the hook's queue, not one per sink.
    let queue = hook.stats().queue;
    assert_eq!((queue.queued, queue.handled, queue.dropped), (50, 50, 0));
    // Each sink reports the queue it is on, and its own handled count: both took every
    // evaluation here.
    assert_eq!(events.stats(), queue);
    assert_eq!(spans.stats(), queue);
    // Each sink still got every evaluation, with the evaluation's trace context.
    assert_eq!(backends.log_trace_contexts(), vec![request; 50]);
    assert_eq!(backends.experiment_parents(), vec![request; 50]);
}

#[test]
fn each_sink_gets_only_the_evaluations_it_accepts() {
    let runtime = runtime();
    let backends = Backends::new();
    let hook = TelemetryHook::builder()
        .sink(backends.log_events())
        .sink(backends.experiment_spans())
        .build();
    let client = client(&runtime, hook.clone());

    // A failure has no value: a log event, no experiment span.
    evaluate_in_request(&runtime, &backends, &client, "broken", 5);
    // Outside any span: a log event without trace context, no experiment span.
    runtime.block_on(async {
        let _ = client.get_bool_value("new-checkout", None, None).await;
    });
    assert!(hook.flush(WAIT).is_complete());

    assert_eq!(hook.stats().queue.queued, 6);
    assert_eq!(backends.log_events_exported(), 6);
    assert_eq!(backends.log_trace_contexts().len(), 5);
    assert!(
        backends
            .span_exporter
            .get_finished_spans()
            .is_ok_and(|spans| spans.iter().all(|span| span.name == "request"))
    );
}

#[test]
fn a_panic_in_one_sink_leaves_the_others_their_evaluations() {
    let runtime = runtime();
    let backends = Backends::new();
    let events = backends
        .log_events()
        .with_event_mutator(|_log, record| panic!("mutator fails on {}", record.flag_key));
    let hook = TelemetryHook::builder()
        .sink(events)
        .sink(backends.experiment_spans())
        .build();
    let client = client(&runtime, hook.clone());

    let request = evaluate_in_request(&runtime, &backends, &client, "new-checkout", 20);
    assert!(hook.flush(WAIT).is_complete());

    let queue = hook.stats().queue;
    assert_eq!((queue.handled, queue.panics), (20, 20));
    assert_eq!(backends.log_events_exported(), 0);
    assert_eq!(backends.experiment_parents(), vec![request; 20]);
}

#[test]
fn a_wrapped_sink_keeps_a_queue_of_its_own() {
    let runtime = runtime();
    let backends = Backends::new();
    let events = backends.log_events();
    let hook = TelemetryHook::builder()
        .sink(ExposureDedup::new(events.clone()))
        .sink(backends.experiment_spans())
        .build();
    let client = client(&runtime, hook.clone());

    evaluate_in_request(&runtime, &backends, &client, "new-checkout", 10);
    assert!(hook.flush(WAIT).is_complete());
    assert!(events.flush(WAIT).is_complete());

    // The experiment spans ride the hook's queue; the deduplicated log events, their own.
    assert_eq!(hook.stats().queue.handled, 10);
    assert_eq!(events.stats().handled, 1);
    assert_eq!(backends.log_events_exported(), 1);
    assert_eq!(backends.experiment_parents().len(), 10);
}

#[test]
fn one_sink_in_two_hooks_is_flushed_and_counted_on_both() {
    let runtime = runtime();
    let backends = Backends::new();
    let events = backends.log_events();
    let first = client(
        &runtime,
        TelemetryHook::builder().sink(events.clone()).build(),
    );
    let second = client(
        &runtime,
        TelemetryHook::builder().sink(events.clone()).build(),
    );
    for client in [&first, &second] {
        evaluate_in_request(&runtime, &backends, client, "new-checkout", 3);
    }
    assert!(events.flush(WAIT).is_complete());
    assert_eq!(events.stats().handled, 6);
    assert_eq!(backends.log_events_exported(), 6);
    assert!(
        format!("{:?}", events.clone().queued().map(|part| part.membership)).contains("queues: 2")
    );
}
