//! What the Datadog span sinks add to one flag evaluation, beside the bare evaluation in the
//! same run; every case evaluates inside a fresh request span (simple processor, spans dropped).
//!
//! `span_tags_sink_alone/*` calls `SpanTagsSink::record` directly, without the SDK around it:
//! each iteration tags one of 32 flags in a request span, and a new span starts every 32
//! iterations (its start and end, a 32nd of them, are in the figure), so every tag is new to
//! its span; `new_tags_two_threads` does the same on two threads at once. Much less noisy than a whole evaluation in a fresh span, whose span alone moves
//! the figure by ±40 ns between runs.
//!
//! `datadog_incoming_trace_state/*` evaluates under request spans whose trace came in with a
//! W3C trace state, ten evaluations a span: what queuing an experiment span costs when its
//! parent's context holds owned strings.
//!
//! Run: `cargo bench -p openfeature-hooks-datadog --bench datadog_sinks`
//!
//! Results (2026-11-21, 2-core x86_64 VM, rustc 1.95.0): see BENCHMARKS.md, "Datadog".

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use open_feature::{Client, EvaluationContext, StructValue, Value};
use openfeature_hooks_core::{EvaluationRecord, EvaluationSink, FlagType, TelemetryHook};
use openfeature_hooks_datadog::__private::tag_value;
use openfeature_hooks_datadog::{ExperimentSpanSink, ExperimentSpanVolume, SpanTagsSink};
use openfeature_hooks_testkit::{
    DropSpans, FixtureFlag, FixtureProvider, fixture_client, remote_parent_with_trace_state,
};
use opentelemetry::Context;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;

async fn client(sink: Option<Box<dyn EvaluationSink>>) -> Client {
    let client = fixture_client(
        FixtureProvider::new("bench")
            .with_flag("new-checkout", FixtureFlag::new(true).variant("on")),
    )
    .await;
    match sink {
        Some(sink) => client.with_hook(TelemetryHook::builder().sink(sink).build()),
        None => client,
    }
}

/// An experiment span on every evaluation, through `tracers`.
fn experiment_spans_every_evaluation(tracers: &SdkTracerProvider) -> Box<dyn EvaluationSink> {
    Box::new(
        ExperimentSpanSink::new(tracers.tracer("openfeature-hooks"))
            .with_volume(ExperimentSpanVolume::Every),
    )
}

/// The tracer provider of the request spans: exported on the evaluating thread, then dropped.
fn request_tracers() -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_simple_exporter(DropSpans)
        .build()
}

fn sinks(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let tracers = request_tracers();
    let app = tracers.tracer("app");
    let context = EvaluationContext::default().with_targeting_key("user-42");
    let cases: Vec<(&str, Option<Box<dyn EvaluationSink>>)> = vec![
        ("bare_in_span", None),
        ("span_tags_in_span", Some(Box::new(SpanTagsSink::new()))),
        (
            "experiment_span_every_evaluation_in_span",
            Some(experiment_spans_every_evaluation(&tracers)),
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

/// Flags tagged per request span by `span_tags_sink_alone`.
const FLAGS_PER_SPAN: usize = 32;

/// Tags `iters` flags with `sink`, `FLAGS_PER_SPAN` in each new request span of `app`.
fn tag_in_new_spans(
    app: &opentelemetry_sdk::trace::SdkTracer,
    records: &[EvaluationRecord<'_>],
    sink: &SpanTagsSink,
    iters: u64,
) {
    let mut left = iters;
    while left > 0 {
        let span = app.start("request");
        let active = Context::current_with_span(span).attach();
        for record in records
            .iter()
            .take(left.min(FLAGS_PER_SPAN as u64) as usize)
        {
            sink.record(black_box(record));
        }
        // Ends the span: its start and end are a 32nd of each iteration's time.
        drop(active);
        left = left.saturating_sub(FLAGS_PER_SPAN as u64);
    }
}

fn span_tags_alone(c: &mut Criterion) {
    let tracers = request_tracers();
    let app = tracers.tracer("app");
    let context = EvaluationContext::default().with_targeting_key("user-42");
    let keys: Vec<String> = (0..FLAGS_PER_SPAN).map(|i| format!("flag-{i}")).collect();
    let records: Vec<EvaluationRecord<'_>> = keys
        .iter()
        .map(|key| {
            let mut record = EvaluationRecord::new(key, FlagType::Bool, &context);
            record.variant = Some("on");
            record
        })
        .collect();
    let sink = SpanTagsSink::new();
    let mut group = c.benchmark_group("span_tags_sink_alone");
    group.bench_function("new_tags", |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            tag_in_new_spans(&app, &records, &sink, iters);
            start.elapsed()
        });
    });
    // Both cores tagging new spans at once: the memory of tags set is shared by every thread,
    // so what one thread writes there can slow the other. Each thread tags `iters` flags; the
    // figure is the wall time of both, per flag of one thread (the one-thread figure when
    // nothing is shared). Flat sampling: every sample starts two threads.
    group.sampling_mode(criterion::SamplingMode::Flat);
    group.bench_function("new_tags_two_threads", |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            std::thread::scope(|scope| {
                let other = scope.spawn(|| {
                    let app = tracers.tracer("app");
                    tag_in_new_spans(&app, &records, &sink, iters);
                });
                tag_in_new_spans(&app, &records, &sink, iters);
                let _ = other.join();
            });
            start.elapsed()
        });
    });
    group.finish();
}

/// Evaluations per request span in `incoming_trace_state`.
const EVALUATIONS_PER_SPAN: u64 = 10;

/// Experiment spans under request spans that carry a trace state: each iteration is one
/// evaluation, and a new request span (a child of `remote_parent_with_trace_state`) starts every
/// [`EVALUATIONS_PER_SPAN`] evaluations, so a tenth of a span's start and end is in each
/// figure, the bare evaluation's included.
fn incoming_trace_state(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let tracers = request_tracers();
    let app = tracers.tracer("app");
    let incoming = remote_parent_with_trace_state();
    let context = EvaluationContext::default().with_targeting_key("user-42");
    let cases: Vec<(&str, Option<Box<dyn EvaluationSink>>)> = vec![
        ("bare", None),
        (
            "experiment_span_every_evaluation",
            Some(experiment_spans_every_evaluation(&tracers)),
        ),
    ];
    let mut group = c.benchmark_group("datadog_incoming_trace_state");
    for (name, sink) in cases {
        let client = runtime.block_on(client(sink));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                let mut left = iters;
                while left > 0 {
                    let span = app.start_with_context("request", &incoming);
                    let active = Context::current_with_span(span).attach();
                    for _ in 0..left.min(EVALUATIONS_PER_SPAN) {
                        let _ = runtime.block_on(async {
                            black_box(
                                client
                                    .get_bool_value("new-checkout", Some(&context), None)
                                    .await,
                            )
                        });
                    }
                    drop(active);
                    left = left.saturating_sub(EVALUATIONS_PER_SPAN);
                }
                start.elapsed()
            });
        });
    }
    group.finish();
}

/// The tag text of an object flag's value (what span tags and experiment spans carry, cut to
/// 200 characters): a small configuration, one of 10 000 fields, and one whose single field
/// is a megabyte of text.
fn object_tag_text(c: &mut Criterion) {
    let object = |fields: usize| {
        Value::Struct((0..fields).fold(StructValue::default(), |object, i| {
            object.with_field(format!("field-{i:05}"), format!("value-{i}"))
        }))
    };
    let (small, large) = (object(3), object(10_000));
    let long_text = Value::Struct(StructValue::default().with_field("blob", "x".repeat(1 << 20)));
    let mut group = c.benchmark_group("object_tag_text");
    group.bench_function("three_fields", |b| b.iter(|| tag_value(black_box(&small))));
    group.bench_function("ten_thousand_fields", |b| {
        b.iter(|| tag_value(black_box(&large)))
    });
    group.bench_function("one_field_of_a_megabyte", |b| {
        b.iter(|| tag_value(black_box(&long_text)))
    });
    group.finish();
}

criterion_group!(
    benches,
    sinks,
    span_tags_alone,
    incoming_trace_state,
    object_tag_text
);
criterion_main!(benches);
