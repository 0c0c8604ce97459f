//! An experiment span's capture allocates nothing on the evaluation path: not for a string
//! flag's value, nor under a span whose trace carries a W3C trace state (which every local
//! span of an incoming request inherits, and which is a list of owned strings). What the
//! evaluating thread allocates and the background thread frees slows glibc's allocator for the
//! whole evaluation. Counted with a counting global allocator, in a test binary of its own.

mod support;

use std::time::Duration;

use openfeature_hooks_core::NoopSink;
use openfeature_hooks_datadog::{ExperimentSpanSink, ExperimentSpanVolume};
use openfeature_hooks_testkit::{
    CountingAllocator, remote_parent_with_trace_state, thread_allocations,
};
use opentelemetry::Context;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use support::{client, runtime};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Experiment spans on every evaluation, exported to memory, and two clients: one with the
/// experiment span sink, one with a no-op sink.
struct Fixture {
    provider: SdkTracerProvider,
    exporter: InMemorySpanExporter,
    runtime: tokio::runtime::Runtime,
    sink: ExperimentSpanSink<opentelemetry_sdk::trace::SdkTracer>,
    with_spans: open_feature::Client,
    without: open_feature::Client,
}

impl Fixture {
    fn new() -> Self {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let runtime = runtime();
        let sink =
            ExperimentSpanSink::new(provider.tracer("x")).with_volume(ExperimentSpanVolume::Every);
        let with_spans = client(&runtime, sink.clone());
        let without = client(&runtime, NoopSink);
        Self {
            provider,
            exporter,
            runtime,
            sink,
            with_spans,
            without,
        }
    }

    /// This thread's allocations over 100 evaluations of `key` (after ten to warm up: they
    /// start the background thread, fill the per-thread caches and put boxes in the pool of
    /// recycled record parts, which the tests of this file share), with the sink and with
    /// the no-op sink, under the active span. Before each evaluation (uncounted) the spans
    /// queued so far are ended, so the parts of the queued records are back in their pool:
    /// what a service whose background thread keeps up sees.
    fn allocations(&self, key: &str, string: bool) -> (usize, usize) {
        let count = |client: &open_feature::Client| {
            self.runtime.block_on(async {
                let evaluate = || async {
                    if string {
                        let _ = client.get_string_value(key, None, None).await;
                    } else {
                        let _ = client.get_bool_value(key, None, None).await;
                    }
                };
                for _ in 0..10 {
                    evaluate().await;
                }
                let mut total = 0;
                for _ in 0..100 {
                    assert!(self.sink.flush(Duration::from_secs(10)).is_complete());
                    let before = thread_allocations();
                    evaluate().await;
                    total += thread_allocations() - before;
                }
                total
            })
        };
        (count(&self.with_spans), count(&self.without))
    }

    /// The experiment spans of `key`, once the sink has ended them.
    fn spans_of(&self, key: &str) -> Vec<SpanData> {
        assert!(self.sink.flush(Duration::from_secs(10)).is_complete());
        self.exporter
            .get_finished_spans()
            .unwrap_or_default()
            .into_iter()
            .filter(|span| span.name == key)
            .collect()
    }
}

/// Both cases in one test: the queued records' parts come from one pool for the process, and
/// a box that carried a string value is refilled with a version by allocating, so two tests
/// of different shapes side by side would count each other's boxes.
#[test]
fn queuing_experiment_spans_allocates_nothing_per_evaluation() {
    a_child_of_a_span_with_a_trace_state();
    a_child_for_a_string_flag();
}

fn a_child_of_a_span_with_a_trace_state() {
    let fixture = Fixture::new();
    // The request's local span inherits the incoming trace state.
    let request = fixture
        .provider
        .tracer("app")
        .start_with_context("request", &remote_parent_with_trace_state());
    let guard = Context::current_with_span(request).attach();
    let (spans, bare) = fixture.allocations("new-checkout", false);
    drop(guard);
    assert!(
        spans <= bare + 5,
        "100 experiment spans queued under a span with a trace state: {spans} allocations, \
         {bare} with a no-op sink"
    );

    // The children still carry the trace state, copied on the background thread.
    let children = fixture.spans_of("new-checkout");
    assert_eq!(children.len(), 110);
    for child in &children {
        let state = child.span_context.trace_state();
        assert_eq!(state.get("dd"), Some("s:2;t.dm:-4"));
        assert_eq!(state.get("other"), Some("vendor-value"));
    }
}

fn a_child_for_a_string_flag() {
    let fixture = Fixture::new();
    let (spans, bare) = fixture
        .provider
        .tracer("app")
        .in_span("request", |_| fixture.allocations("button-color", true));
    assert!(
        spans <= bare + 5,
        "100 experiment spans of a string flag: {spans} allocations, {bare} with a no-op sink"
    );
    let values: Vec<String> = fixture
        .spans_of("button-color")
        .iter()
        .flat_map(|span| span.attributes.clone())
        .filter(|kv| kv.key.as_str() == "experiment_value")
        .map(|kv| kv.value.to_string())
        .collect();
    assert_eq!(values.len(), 110);
    assert!(values.iter().all(|value| value == "green"), "{values:?}");
}
