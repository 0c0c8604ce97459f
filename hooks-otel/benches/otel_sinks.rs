//! What each OpenTelemetry sink adds to one flag evaluation, beside the bare evaluation in the
//! same run.
//!
//! Run: `cargo bench -p openfeature-hooks-otel --bench otel_sinks`
//!
//! Results (2026-11-21, 2-core x86_64 VM, rustc 1.95.0; table in BENCHMARKS.md):
//!   see BENCHMARKS.md, "OpenTelemetry"; log events and metrics after they left the evaluation
//!   path (issue 15): "Every backend at once". Their background threads run during the bench
//!   on the other core: the figures are the evaluating thread's; `examples/cpu_per_evaluation.rs`
//!   counts all threads.
//!
//! `metrics_counters/*` calls the metrics sink directly, on one thread and on two threads
//! counting the same flag at once.
//!
//! `otel_paired/*` times the log event and metrics sinks against the bare evaluation in one
//! loop (turns of each, alternated): the steadier figure on a shared machine.
//! `otel_paired/log_event_queue_full_over_bare` does so with an exporter that has stopped: the
//! hook's queue is full and every record is dropped, the cost of an evaluation while a
//! service's log pipeline is stuck.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use open_feature::{Client, EvaluationContext};
use openfeature_hooks_core::__private::EvaluationStart;
use openfeature_hooks_core::{
    EvaluationEnd, EvaluationRecord, EvaluationSink, EvaluationStarted, FlagType, NoopSink,
    TelemetryHook,
};
use openfeature_hooks_otel::{EvaluationSpanSink, LogEventSink, MetricsSink, SpanEventSink};
use openfeature_hooks_testkit::{
    BENCH_FLAG, DropLogs, DropSpans, Gate, GatedLogProcessor, PairedTurns, bench_provider,
    fixture_client, time_bool_evaluations,
};
use opentelemetry::trace::{Tracer, TracerProvider};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;

/// The flag every case evaluates.
const FLAG: &str = BENCH_FLAG;

async fn client(hook: Option<TelemetryHook>) -> Client {
    let client = fixture_client(bench_provider()).await;
    match hook {
        Some(hook) => client.with_hook(hook),
        None => client,
    }
}

fn hook(sink: impl openfeature_hooks_core::EvaluationSink) -> Option<TelemetryHook> {
    Some(TelemetryHook::builder().sink(sink).build())
}

/// Log records through a batch processor to an exporter that drops them.
fn batch_logs() -> SdkLoggerProvider {
    SdkLoggerProvider::builder()
        .with_batch_exporter(DropLogs)
        .build()
}

/// Metrics collected now and then into memory.
fn meters() -> SdkMeterProvider {
    SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build()
}

fn sinks(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let context = EvaluationContext::default().with_targeting_key("user-42");
    let batch_logs = batch_logs();
    let no_processor_logs = SdkLoggerProvider::builder().build();
    let meters = meters();
    let traces = SdkTracerProvider::builder()
        .with_batch_exporter(DropSpans)
        .build();
    let app_tracer = traces.tracer("app");
    // The same, exporting on the evaluating thread: no processor thread to wake per span.
    let simple_traces = SdkTracerProvider::builder()
        .with_simple_exporter(DropSpans)
        .build();
    let simple_tracer = simple_traces.tracer("app");

    let cases: Vec<(&str, Option<TelemetryHook>)> = vec![
        ("bare", None),
        ("core_noop_sink", hook(NoopSink)),
        (
            "log_event_batch_processor",
            hook(LogEventSink::from_provider(&batch_logs)),
        ),
        (
            "log_event_disabled_logger",
            hook(LogEventSink::from_provider(&no_processor_logs)),
        ),
        ("metrics", hook(MetricsSink::from_provider(&meters))),
        (
            "evaluation_span_no_parent",
            hook(EvaluationSpanSink::new(traces.tracer("openfeature-hooks"))),
        ),
    ];
    let mut group = c.benchmark_group("otel");
    for (name, hook) in cases {
        let client = runtime.block_on(client(hook));
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                black_box(client.get_bool_value(FLAG, Some(&context), None).await)
            });
        });
    }

    // Span events need an active span: both cases open one per evaluation.
    let in_span_cases: Vec<(&str, Option<TelemetryHook>)> = vec![
        ("bare_in_span", None),
        ("span_event_in_span", hook(SpanEventSink::new())),
    ];
    for (name, hook) in in_span_cases {
        let client = runtime.block_on(client(hook));
        group.bench_function(name, |b| {
            b.iter(|| {
                app_tracer.in_span("request", |_| {
                    runtime.block_on(async {
                        black_box(client.get_bool_value(FLAG, Some(&context), None).await)
                    })
                })
            });
        });
    }
    let simple_cases: Vec<(&str, Option<TelemetryHook>)> = vec![
        ("bare_in_span_simple_processor", None),
        (
            "span_event_in_span_simple_processor",
            hook(SpanEventSink::new()),
        ),
    ];
    for (name, hook) in simple_cases {
        let client = runtime.block_on(client(hook));
        group.bench_function(name, |b| {
            b.iter(|| {
                simple_tracer.in_span("request", |_| {
                    runtime.block_on(async {
                        black_box(client.get_bool_value(FLAG, Some(&context), None).await)
                    })
                })
            });
        });
    }
    group.finish();
    let _ = batch_logs.shutdown();
    let _ = traces.shutdown();
}

/// The log event and metrics sinks against the bare evaluation in the same loop
/// ([`PairedTurns`]; the sinks' queues drained, untimed, after the case's turns): criterion reports
/// the nanoseconds the sink adds per evaluation. `sinks` runs the cases minutes apart, when the
/// shared bench machine's load may differ; paired, both sides see the same machine.
fn sinks_paired(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let context = EvaluationContext::default().with_targeting_key("user-42");
    let batch_logs = batch_logs();
    let meters = meters();
    let bare = runtime.block_on(client(None));
    let log_hook = TelemetryHook::builder()
        .sink(LogEventSink::from_provider(&batch_logs))
        .build();
    let metrics = MetricsSink::from_provider(&meters);
    let metrics_hook = TelemetryHook::builder().sink(metrics.clone()).build();
    // Drains both sinks' queues: the one a case does not use is idle.
    let drain = || {
        let timeout = Duration::from_secs(10);
        let _ = log_hook.flush(timeout);
        let _ = metrics.flush(timeout);
    };
    // An exporter that has stopped: after the first 4 096 records fill the hook's queue (the
    // warm-up does), every evaluation's record is dropped and counted.
    let stalled = Gate::default();
    let stalled_logs = SdkLoggerProvider::builder()
        .with_log_processor(GatedLogProcessor::new(&stalled, DropLogs))
        .build();
    let stalled_hook = TelemetryHook::builder()
        .sink(LogEventSink::from_provider(&stalled_logs))
        .build();
    let cases = [
        (
            "log_event_batch_processor_over_bare",
            log_hook.clone(),
            true,
        ),
        ("metrics_over_bare", metrics_hook, true),
        (
            "log_event_queue_full_over_bare",
            stalled_hook.clone(),
            false,
        ),
    ];
    let mut group = c.benchmark_group("otel_paired");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    for (name, hook, drains) in cases {
        let client = runtime.block_on(client(Some(hook)));
        let turns = PairedTurns::new(PairedTurns::EVALUATIONS_PER_TURN);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                turns.difference(
                    iters,
                    |count| runtime.block_on(time_bool_evaluations(&bare, FLAG, &context, count)),
                    |count| runtime.block_on(time_bool_evaluations(&client, FLAG, &context, count)),
                    || {
                        if drains {
                            drain();
                        }
                    },
                )
            });
        });
        turns.print_rounds(&format!("otel_paired/{name}"));
    }
    group.finish();
    print_queue_full(&stalled_hook);
    stalled.open();
    let _ = stalled_logs.shutdown();
    let _ = batch_logs.shutdown();
    let _ = meters.shutdown();
}

/// Prints how many of the stalled case's records were dropped: its figure means an evaluation
/// whose record is dropped only when nearly all were.
#[allow(clippy::print_stdout)] // part of the bench's report
fn print_queue_full(hook: &TelemetryHook) {
    let queue = hook.stats().queue;
    println!(
        "otel_paired/log_event_queue_full_over_bare: {} records queued, {} dropped",
        queue.queued, queue.dropped
    );
}

/// One evaluation's start and record in `sink`, called directly: the series lookups and the
/// counters, without the SDK around them.
fn count_evaluations(sink: &MetricsSink, record: &EvaluationRecord<'_>, iters: u64) {
    let started = EvaluationStarted::new(record.flag_key, record.provider_name);
    for _ in 0..iters {
        sink.started(black_box(&started));
        sink.record(black_box(record));
    }
}

/// The metrics sink's counters on one thread, and on two threads counting the same flag at
/// once (a hot flag in a service that evaluates on every core): each thread counts `iters`
/// evaluations; the figure is the wall time of both, per evaluation of one thread, the
/// one-thread figure when the threads share no cache line. Flat sampling: every sample starts
/// two threads.
fn metrics_counters(c: &mut Criterion) {
    let meters = meters();
    let sink = MetricsSink::from_provider(&meters);
    let context = EvaluationContext::default().with_targeting_key("user-42");
    let mut record = EvaluationRecord::new(FLAG, FlagType::Bool, &context);
    record.variant = Some("on");
    record.provider_name = Some("bench");
    let mut timed = record.clone();
    timed.started = Some(EvaluationStart::now());
    timed.ended = Some(EvaluationEnd::now());
    let mut group = c.benchmark_group("metrics_counters");
    group.sampling_mode(criterion::SamplingMode::Flat);
    // `_with_duration`: the record has a start, so its duration also goes to the histogram's
    // queue, which every thread sends to.
    for (suffix, record) in [("", &record), ("_with_duration", &timed)] {
        group.bench_function(format!("one_thread{suffix}"), |b| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                count_evaluations(&sink, record, iters);
                start.elapsed()
            });
        });
        group.bench_function(format!("two_threads_one_flag{suffix}"), |b| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                std::thread::scope(|scope| {
                    let other = scope.spawn(|| count_evaluations(&sink, record, iters));
                    count_evaluations(&sink, record, iters);
                    let _ = other.join();
                });
                start.elapsed()
            });
        });
    }
    group.finish();
    let _ = meters.shutdown();
}

criterion_group!(benches, sinks, sinks_paired, metrics_counters);
criterion_main!(benches);
