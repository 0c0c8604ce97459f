//! Honest accounting: the CPU every evaluation costs the process, on every thread (the
//! evaluating threads and every background thread: batch processors, the hook's own workers),
//! with every backend on, and the throughput of two evaluating threads against one.
//!
//! ```sh
//! cargo run --release --example cpu_per_evaluation --features full
//! CPU_EVALUATIONS=4000000 cargo run --release --example cpu_per_evaluation --features full
//! CPU_SENTRY_SPANS=off cargo run --release --example cpu_per_evaluation --features full
//! ```
//!
//! `CPU_SENTRY_SPANS=off` leaves Sentry's spans alone (`SentrySink::with_spans(false)`).
//!
//! Each phase builds the stack of `benches/full_stack.rs` (log events through a batch
//! processor, metrics, span events, Sentry with an active span, Datadog span tags and an
//! experiment span per evaluation), evaluates inside request spans on a tokio runtime with one
//! or two worker threads, then drops the hook and shuts the providers down, so that all the
//! work the evaluations caused is done, before reading the process's CPU time. CPU time is
//! the process's user + system time from `/proc/self/stat` (the counters `getrusage(RUSAGE_SELF)`
//! reads, all threads), in clock ticks of 10 ms; runs of a few seconds keep that under 1%.

#![allow(clippy::print_stdout)] // an example reports what it does

use std::sync::Arc;
use std::time::Instant;

use open_feature::{EvaluationContext, EvaluationReason, OpenFeature};
use openfeature_hooks::TelemetryHook;
use openfeature_hooks::datadog::{ExperimentSpanSink, ExperimentSpanVolume, SpanTagsSink};
use openfeature_hooks::otel::{LogEventSink, MetricsSink, SpanEventSink};
use openfeature_hooks::sentry::SentrySink;
use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};
use openfeature_hooks_testkit::{DropLogs, DropSpans};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use sentry::SentryFutureExt;

struct DropEnvelopes;

impl sentry::Transport for DropEnvelopes {
    fn send_envelope(&self, _envelope: sentry::Envelope) {}
}

/// The process's user + system CPU time in seconds, all threads (Linux).
fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// One phase's figures.
struct Phase {
    evaluations: usize,
    wall_seconds: f64,
    cpu_seconds: f64,
}

fn phase(
    workers: usize,
    evaluations: usize,
    with_hook: bool,
) -> Result<Phase, Box<dyn std::error::Error>> {
    const TASKS: usize = 8;
    let logs = SdkLoggerProvider::builder()
        .with_batch_exporter(DropLogs)
        .build();
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    let traces = SdkTracerProvider::builder()
        .with_simple_exporter(DropSpans)
        .build();
    let mut options = sentry::ClientOptions::new()
        .dsn("https://public@sentry.invalid/1")
        .traces_sample_rate(1.0);
    options.transport = Some(Arc::new(Arc::new(DropEnvelopes)));
    let sentry_client = Arc::new(sentry::Client::from(options));
    // Each request's hub starts from the process's, as sentry-tower and `Hub::new_from_top`
    // make them: their scopes share the process scope's parts until a request changes them.
    let process_hub = Arc::new(sentry::Hub::new(
        Some(sentry_client.clone()),
        Arc::new(Default::default()),
    ));
    let sentry_spans = std::env::var("CPU_SENTRY_SPANS").map_or(true, |v| v != "off");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()?;
    let mut guard = None;
    let client = runtime.block_on(async {
        let mut api = OpenFeature::default();
        api.set_provider(
            InMemoryProvider::new("cpu").with_flag(
                "new-checkout",
                InMemoryFlag::new(true)
                    .variant("on")
                    .reason(Some(EvaluationReason::TargetingMatch)),
            ),
        )
        .await;
        if with_hook {
            let hook = TelemetryHook::builder()
                .sink(LogEventSink::from_provider(&logs))
                .sink(MetricsSink::from_provider(&meters))
                .sink(SpanEventSink::new())
                .sink(SentrySink::new().with_spans(sentry_spans))
                .sink(SpanTagsSink::new())
                .sink(
                    ExperimentSpanSink::new(traces.tracer("openfeature-hooks"))
                        .with_volume(ExperimentSpanVolume::Every),
                )
                .build();
            guard = Some(hook.shutdown_guard());
            api.add_hook(hook).await;
        }
        Arc::new(api.create_client())
    });

    let per_task = evaluations / TASKS;
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let tracer = traces.tracer("app");
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let client = client.clone();
            let tracer = tracer.clone();
            let hub = Arc::new(sentry::Hub::new_from_top(&process_hub));
            runtime.spawn(
                async move {
                    let transaction = sentry::start_transaction(sentry::TransactionContext::new(
                        "GET /",
                        "http.server",
                    ));
                    sentry::configure_scope(|scope| {
                        scope.set_span(Some(transaction.clone().into()));
                    });
                    let context = EvaluationContext::default().with_targeting_key("user-42");
                    for _ in 0..per_task {
                        let cx = opentelemetry::Context::current_with_span(tracer.start("request"));
                        let value = client
                            .get_bool_value("new-checkout", Some(&context), None)
                            .with_context(cx.clone())
                            .await;
                        cx.span().end();
                        assert_eq!(value, Ok(true));
                    }
                    transaction.finish();
                }
                .bind_hub(hub),
            )
        })
        .collect();
    for task in tasks {
        runtime.block_on(task)?;
    }
    let wall_seconds = started.elapsed().as_secs_f64();
    // Drop the hook (its background work drains) and finish the providers' work before reading
    // the CPU time: all of it was caused by these evaluations.
    drop(guard);
    drop(client);
    drop(runtime);
    let _ = logs.shutdown();
    let _ = meters.shutdown();
    let _ = traces.shutdown();
    Ok(Phase {
        evaluations: per_task * TASKS,
        wall_seconds,
        cpu_seconds: process_cpu_seconds() - cpu_before,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let evaluations: usize = std::env::var("CPU_EVALUATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000_000);
    println!(
        "{:<24} {:>8} {:>12} {:>16} {:>16}",
        "case", "threads", "evals / s", "wall ns / eval", "CPU ns / eval"
    );
    for (name, with_hook) in [("bare (request spans)", false), ("every backend", true)] {
        for workers in [1, 2] {
            let phase = phase(workers, evaluations, with_hook)?;
            let per = |seconds: f64| seconds * 1e9 / phase.evaluations as f64;
            println!(
                "{:<24} {:>8} {:>12.0} {:>16.0} {:>16.0}",
                name,
                workers,
                phase.evaluations as f64 / phase.wall_seconds,
                per(phase.wall_seconds),
                per(phase.cpu_seconds),
            );
        }
    }
    Ok(())
}
