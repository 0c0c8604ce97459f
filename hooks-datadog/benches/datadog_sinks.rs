//! What the Datadog span sinks add to one flag evaluation, beside the bare evaluation in the
//! same run; every case evaluates inside a fresh request span (simple processor, spans dropped).
//!
//! Run: `cargo bench -p openfeature-hooks-datadog --bench datadog_sinks`
//!
//! Results (2026-11-21, 2-core x86_64 VM, rustc 1.95.0): see BENCHMARKS.md, "Datadog".

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use open_feature::{Client, EvaluationContext, OpenFeature};
use openfeature_hooks_core::{EvaluationSink, TelemetryHook};
use openfeature_hooks_datadog::{ExperimentSpanSink, ExperimentSpanVolume, SpanTagsSink};
use openfeature_hooks_testkit::{DropSpans, FixtureFlag, FixtureProvider};
use opentelemetry::trace::{Tracer, TracerProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;

async fn client(sink: Option<Box<dyn EvaluationSink>>) -> Client {
    let mut api = OpenFeature::default();
    api.set_provider(
        FixtureProvider::new("bench")
            .with_flag("new-checkout", FixtureFlag::new(true).variant("on")),
    )
    .await;
    let client = api.create_client();
    match sink {
        Some(sink) => client.with_hook(TelemetryHook::builder().sink(sink).build()),
        None => client,
    }
}

fn sinks(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let tracers = SdkTracerProvider::builder()
        .with_simple_exporter(DropSpans)
        .build();
    let app = tracers.tracer("app");
    let context = EvaluationContext::default().with_targeting_key("user-42");
    let cases: Vec<(&str, Option<Box<dyn EvaluationSink>>)> = vec![
        ("bare_in_span", None),
        ("span_tags_in_span", Some(Box::new(SpanTagsSink::new()))),
        (
            "experiment_span_every_evaluation_in_span",
            Some(Box::new(
                ExperimentSpanSink::new(tracers.tracer("openfeature-hooks"))
                    .with_volume(ExperimentSpanVolume::Every),
            )),
        ),
    ];
    let mut group = c.benchmark_group("datadog");
    for (name, sink) in cases {
        let client = runtime.block_on(client(sink));
        group.bench_function(name, |b| {
            b.iter(|| {
                app.in_span("request", |_| {
                    runtime.block_on(async {
                        black_box(
                            client
                                .get_bool_value("new-checkout", Some(&context), None)
                                .await,
                        )
                    })
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, sinks);
criterion_main!(benches);
