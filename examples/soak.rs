//! Soak: millions of evaluations of distinct flag keys and context ids through every backend,
//! printing evaluations per second and resident memory as it goes. Memory must stay flat: the
//! Sentry buffers, the metric series, the change detector, the start times and the tag memory
//! are all bounded.
//!
//! ```sh
//! cargo run --release --example soak --all-features               # 3 000 000 evaluations
//! SOAK_EVALUATIONS=10000000 cargo run --release --example soak --all-features
//! ```
//!
//! Nothing leaves the machine: exporters drop what they receive, change events go to a closed
//! loopback port (their bounded queue drops and counts).

#![allow(clippy::print_stdout)] // an example reports what it does

use std::sync::Arc;
use std::time::{Duration, Instant};

use open_feature::{EvaluationContext, OpenFeature};
use openfeature_hooks::datadog::{
    ApiKey, ChangeEvents, ChangeEventsConfig, ChangeOrigin, ChangeTrackingSink, SpanTagsSink,
};
use openfeature_hooks::otel::{LogEventSink, MetricsSink};
use openfeature_hooks::sentry::SentrySink;
use openfeature_hooks::{ContextIdKey, ContextIdPolicy, TelemetryHook};
use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};
use openfeature_hooks_testkit::{DropLogs, DropSpans};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;

struct DropEnvelopes;

impl sentry::Transport for DropEnvelopes {
    fn send_envelope(&self, _envelope: sentry::Envelope) {}
}

/// Resident memory in MiB, from /proc (Linux).
fn resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |pages| pages * 4096.0 / (1024.0 * 1024.0))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::var("SOAK_EVALUATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3_000_000);
    const TASKS: usize = 8;

    let logs = SdkLoggerProvider::builder()
        .with_batch_exporter(DropLogs)
        .build();
    let meters = SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(InMemoryMetricExporter::default())
                .with_interval(Duration::from_secs(3600))
                .build(),
        )
        .build();
    let tracers = SdkTracerProvider::builder()
        .with_batch_exporter(DropSpans)
        .build();
    let mut options = sentry::ClientOptions::new().dsn("https://public@sentry.invalid/1");
    options.transport = Some(Arc::new(Arc::new(DropEnvelopes)));
    let _sentry = sentry::init(options);
    let origin = ChangeOrigin {
        service: "soak".into(),
        env: None,
    };
    let events = Arc::new(ChangeEvents::start(
        ChangeEventsConfig::new(ApiKey::new("none"), "datadoghq.com", origin)
            .with_endpoint("http://127.0.0.1:9/api/v2/events")
            .with_timeout(Duration::from_millis(200)),
    ));

    let hook = TelemetryHook::builder()
        .sink(LogEventSink::from_provider(&logs))
        .sink(MetricsSink::from_provider(&meters))
        .sink(SentrySink::new())
        .sink(SpanTagsSink::new())
        .sink(ChangeTrackingSink::new(events.clone()))
        .context_id(ContextIdPolicy::hashed(ContextIdKey::random()))
        .build();
    let stats = hook.clone();
    let guard = hook.shutdown_guard();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    let client = runtime.block_on(async {
        let mut api = OpenFeature::default();
        let answer = InMemoryFlag::new(true)
            .variant("on")
            .metadata("version", "1");
        api.set_provider(InMemoryProvider::new("soak").with_fallback(answer))
            .await;
        api.add_hook(hook).await;
        Arc::new(api.create_client())
    });

    println!(
        "{:>12} {:>14} {:>12}",
        "evaluations", "per second", "RSS MiB"
    );
    println!("{:>12} {:>14} {:>12.1}", 0, "-", resident_mib());
    let started = Instant::now();
    let per_task = total / TASKS;
    let report_every = (per_task / 10).max(1);
    let tracer = tracers.tracer("soak");
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let client = client.clone();
            let tracer = tracer.clone();
            runtime.spawn(async move {
                for i in 0..per_task {
                    // A new flag key and a new context id for every evaluation.
                    let key = format!("flag-{task}-{i}");
                    let user =
                        EvaluationContext::default().with_targeting_key(format!("user-{task}-{i}"));
                    let span = tracer.start("request");
                    let cx = opentelemetry::Context::current_with_span(span);
                    let value = client
                        .get_bool_value(&key, Some(&user), None)
                        .with_context(cx)
                        .await;
                    assert_eq!(value, Ok(true));
                    if task == 0 && i % report_every == 0 && i > 0 {
                        let done = i * TASKS;
                        let rate = done as f64 / started.elapsed().as_secs_f64();
                        println!("{done:>12} {rate:>14.0} {:>12.1}", resident_mib());
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        runtime.block_on(task)?;
    }
    let elapsed = started.elapsed();
    println!(
        "{:>12} {:>14.0} {:>12.1}",
        per_task * TASKS,
        (per_task * TASKS) as f64 / elapsed.as_secs_f64(),
        resident_mib()
    );
    println!(
        "hook stats: {:?}; change events: {:?}",
        stats.stats(),
        events.stats()
    );
    // Shutdown order: the hook's guard, then the change-event sender and the providers.
    drop(guard);
    events.shutdown(Duration::from_secs(1));
    let _ = logs.shutdown();
    let _ = tracers.shutdown();
    Ok(())
}
