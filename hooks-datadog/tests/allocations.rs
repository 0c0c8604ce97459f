//! An experiment span's capture allocates nothing on the evaluation path: not for a string
//! flag's value, nor under a span whose trace carries a W3C trace state (which every local
//! span of an incoming request inherits, and which is a list of owned strings). What the
//! evaluating thread allocates and the background thread frees slows glibc's allocator for the
//! whole evaluation. Counted with a counting global allocator, in a test binary of its own.

mod support;

use std::time::Duration;

use openfeature_hooks_core::NoopSink;
use openfeature_hooks_datadog::{ExperimentSpanSink, ExperimentSpanVolume};
use openfeature_hooks_testkit::{CountingAllocator, thread_allocations};
use opentelemetry::Context;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer, TracerProvider,
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use support::{client, runtime};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// A remote parent as a request from another service brings it: sampled, with a trace state.
fn incoming_request() -> Context {
    let state = TraceState::from_key_value([("dd", "s:2;t.dm:-4"), ("other", "vendor-value")])
        .unwrap_or_default();
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c_u128),
        SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
        TraceFlags::SAMPLED,
        true,
        state,
    ))
}

#[test]
fn queuing_a_child_of_a_span_with_a_trace_state_allocates_nothing_per_evaluation() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let runtime = runtime();
    let sink =
        ExperimentSpanSink::new(provider.tracer("x")).with_volume(ExperimentSpanVolume::Every);
    let with_spans = client(&runtime, sink.clone());
    let without = client(&runtime, NoopSink);

    // The request's local span inherits the incoming trace state.
    let request = provider
        .tracer("app")
        .start_with_context("request", &incoming_request());
    let guard = Context::current_with_span(request).attach();
    let count = |client: &open_feature::Client| {
        runtime.block_on(async {
            // Warm-up: starts the background thread, fills the per-thread caches.
            let _ = client.get_bool_value("new-checkout", None, None).await;
            let before = thread_allocations();
            for _ in 0..100 {
                let _ = client.get_bool_value("new-checkout", None, None).await;
            }
            thread_allocations() - before
        })
    };
    let bare = count(&without);
    let spans = count(&with_spans);
    drop(guard);
    assert!(
        spans <= bare + 5,
        "100 experiment spans queued under a span with a trace state: {spans} allocations, \
         {bare} with a no-op sink"
    );

    // The children still carry the trace state, copied on the background thread.
    assert!(sink.flush(Duration::from_secs(10)));
    let children: Vec<_> = exporter
        .get_finished_spans()
        .unwrap_or_default()
        .into_iter()
        .filter(|span| span.name == "new-checkout")
        .collect();
    assert_eq!(children.len(), 101);
    for child in &children {
        assert_eq!(
            child.span_context.trace_state().get("dd"),
            Some("s:2;t.dm:-4")
        );
        assert_eq!(
            child.span_context.trace_state().get("other"),
            Some("vendor-value")
        );
    }
}

#[test]
fn queuing_a_child_for_a_string_flag_allocates_nothing_per_evaluation() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let runtime = runtime();
    let sink =
        ExperimentSpanSink::new(provider.tracer("x")).with_volume(ExperimentSpanVolume::Every);
    let with_spans = client(&runtime, sink.clone());
    let without = client(&runtime, NoopSink);
    let count = |client: &open_feature::Client| {
        provider.tracer("app").in_span("request", |_| {
            runtime.block_on(async {
                let _ = client.get_string_value("button-color", None, None).await;
                let before = thread_allocations();
                for _ in 0..100 {
                    let _ = client.get_string_value("button-color", None, None).await;
                }
                thread_allocations() - before
            })
        })
    };
    let bare = count(&without);
    let spans = count(&with_spans);
    assert!(
        spans <= bare + 5,
        "100 experiment spans of a string flag: {spans} allocations, {bare} with a no-op sink"
    );
    assert!(sink.flush(Duration::from_secs(10)));
    let values: Vec<String> = exporter
        .get_finished_spans()
        .unwrap_or_default()
        .iter()
        .filter(|span| span.name == "button-color")
        .flat_map(|span| span.attributes.clone())
        .filter(|kv| kv.key.as_str() == "experiment_value")
        .map(|kv| kv.value.to_string())
        .collect();
    assert_eq!(values.len(), 101);
    assert!(values.iter().all(|value| value == "green"), "{values:?}");
}
