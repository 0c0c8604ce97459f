//! What the opt-in distinct-contexts gauge adds to the metrics sink, beside the bare evaluation
//! and the metrics sink without it, in the same run.
//!
//! Run: `cargo bench -p openfeature-hooks-otel --bench distinct_contexts`
//!
//! Results in BENCHMARKS.md, "Volume control".

use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use open_feature::{Client, EvaluationContext};
use openfeature_hooks_core::TelemetryHook;
use openfeature_hooks_otel::MetricsSink;
use openfeature_hooks_testkit::{BENCH_FLAG, bench_provider, fixture_client};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

/// Contexts taken in turn, so the sketch sees new contexts as in a service.
const CONTEXTS: usize = 4_096;

async fn client(hook: Option<TelemetryHook>) -> Client {
    let client = fixture_client(bench_provider()).await;
    match hook {
        Some(hook) => client.with_hook(hook),
        None => client,
    }
}

fn evaluation(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    // Collected once an hour: never during the run.
    let meters = SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(InMemoryMetricExporter::default())
                .with_interval(Duration::from_secs(3600))
                .build(),
        )
        .build();
    let contexts: Vec<EvaluationContext> = (0..CONTEXTS)
        .map(|i| EvaluationContext::default().with_targeting_key(format!("user-{i}")))
        .collect();
    let metrics = MetricsSink::from_provider(&meters);
    let cases = [
        ("bare", None),
        (
            "metrics",
            Some(TelemetryHook::builder().sink(metrics.clone()).build()),
        ),
        (
            "metrics_with_distinct_contexts",
            Some(
                TelemetryHook::builder()
                    .sink(MetricsSink::from_provider(&meters).with_distinct_contexts())
                    .build(),
            ),
        ),
    ];
    let mut group = c.benchmark_group("distinct_contexts");
    for (name, hook) in cases {
        let client = runtime.block_on(client(hook));
        let next = Cell::new(0_usize);
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| {
                let i = next.get();
                next.set((i + 1) % CONTEXTS);
                let context = &contexts[i];
                let client = &client;
                async move {
                    black_box(
                        client
                            .get_bool_value(BENCH_FLAG, Some(context), None)
                            .await,
                    )
                }
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40);
    targets = evaluation
}
criterion_main!(benches);
