//! Exposure soak: 10 million distinct exposure keys (a new context on every evaluation, ten
//! flags in turn) through deduplicated log events and JSON lines and the metrics sink with its
//! distinct-contexts gauge, printing evaluations per second, resident memory and how full the
//! deduplication table is. Memory must stay flat and the table must sit at its capacity: it is
//! allocated once and never grows, whatever the key space.
//!
//! ```sh
//! cargo run --release --example exposure_soak --features otel                # 10 000 000
//! EXPOSURE_SOAK_EVALUATIONS=1000000 cargo run --release --example exposure_soak --features otel
//! ```
//!
//! Nothing leaves the machine: log events go to an exporter that drops them, JSON lines to
//! `io::sink()`, metrics to an in-memory exporter collected at the end.

#![allow(clippy::print_stdout)] // an example reports what it does

use std::sync::Arc;
use std::time::{Duration, Instant};

use open_feature::{EvaluationContext, OpenFeature};
use openfeature_hooks::otel::{LogEventSink, MetricsSink};
use openfeature_hooks::{
    ContextIdKey, ContextIdPolicy, ExposureDedup, JsonLinesSink, TelemetryHook,
};
use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};
use openfeature_hooks_testkit::DropLogs;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

/// Resident memory in MiB, from /proc (Linux).
fn resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |pages| pages * 4096.0 / (1024.0 * 1024.0))
}

/// One line of the table: evaluations so far, their rate, memory, and the table's state.
fn report<S, C>(exposures: &ExposureDedup<S, C>, done: usize, started: Instant) {
    let stats = exposures.stats();
    let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
    println!(
        "{done:>12} {rate:>12.0} {:>9.1} {:>10} {:>10} {:>10}",
        resident_mib(),
        exposures.occupied(),
        stats.passed,
        stats.evicted
    );
}

const FLAGS: usize = 10;
const TASKS: usize = 8;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::var("EXPOSURE_SOAK_EVALUATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000_000);

    let logs = SdkLoggerProvider::builder()
        .with_batch_exporter(DropLogs)
        .build();
    let metric_exporter = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(metric_exporter)
                .with_interval(Duration::from_secs(3600))
                .build(),
        )
        .build();
    // Default window (10 minutes) and capacity (65 536 keys).
    let log_exposures = Arc::new(ExposureDedup::new(LogEventSink::from_provider(&logs)));
    let line_exposures = Arc::new(ExposureDedup::new(JsonLinesSink::new(std::io::sink())));
    println!("{log_exposures:?}");

    let hook = TelemetryHook::builder()
        .sink(log_exposures.clone())
        .sink(line_exposures.clone())
        .sink(MetricsSink::from_provider(&meters).with_distinct_contexts())
        .context_id(ContextIdPolicy::hashed(ContextIdKey::random()))
        .build();
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
        "{:>12} {:>12} {:>9} {:>10} {:>10} {:>10}",
        "evaluations", "per second", "RSS MiB", "occupied", "passed", "evicted"
    );
    let started = Instant::now();
    report(&log_exposures, 0, started);
    let per_task = total / TASKS;
    let report_every = (per_task / 10).max(1);
    let flags: Arc<[String]> = (0..FLAGS).map(|i| format!("flag-{i}")).collect();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let client = client.clone();
            let flags = flags.clone();
            let exposures = log_exposures.clone();
            runtime.spawn(async move {
                for i in 0..per_task {
                    // A new context on every evaluation: every exposure key is new.
                    let user =
                        EvaluationContext::default().with_targeting_key(format!("user-{task}-{i}"));
                    let value = client
                        .get_bool_value(&flags[i % FLAGS], Some(&user), None)
                        .await;
                    assert_eq!(value, Ok(true));
                    if task == 0 && i % report_every == 0 && i > 0 {
                        report(&exposures, i * TASKS, started);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        runtime.block_on(task)?;
    }
    report(&log_exposures, per_task * TASKS, started);
    println!("log events: {log_exposures:?}");
    println!("JSON lines: {line_exposures:?}");
    // Shutdown order: the hook's guard, then the providers.
    drop(guard);
    let _ = meters.force_flush();
    let _ = logs.shutdown();
    Ok(())
}
