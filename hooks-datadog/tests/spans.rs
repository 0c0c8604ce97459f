//! Span tags and experiment spans, read back from the OpenTelemetry SDK's in-memory exporter
//! (the round trip through Datadog's own tracer and agent is in `test_agent.rs`).

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use openfeature_hooks_core::{EvaluationRecord, FnSink, TelemetryHook};
use openfeature_hooks_datadog::{ExperimentSpanSink, ExperimentSpanVolume, SpanTagsSink};
use opentelemetry::trace::{Link, SpanKind, TraceId, TraceState, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample,
    SpanData, SpanProcessor,
};
use support::{client, runtime};

fn tracing() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    (
        SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build(),
        exporter,
    )
}

fn attributes(list: &[KeyValue]) -> BTreeMap<String, String> {
    list.iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

fn evaluate_all(client: &open_feature::Client, runtime: &tokio::runtime::Runtime) {
    runtime.block_on(async {
        let _ = client.get_bool_value("new-checkout", None, None).await;
        let _ = client.get_bool_value("dark-mode", None, None).await;
        let _ = client.get_string_value("button-color", None, None).await;
        let _ = client.get_bool_value("weird key!/ü", None, None).await;
        let _ = client.get_string_value("long-value", None, None).await;
        let _ = client.get_bool_value("broken", None, None).await;
    });
}

fn by_name<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

#[test]
fn flag_tags_on_the_active_span() {
    let (provider, exporter) = tracing();
    let runtime = runtime();
    let client = client(&runtime, SpanTagsSink::new());
    // Two requests: the second finds every tag name in the thread's cache.
    for request in ["GET /cart", "GET /cart again"] {
        provider
            .tracer("app")
            .in_span(request, |_| evaluate_all(&client, &runtime));
    }
    let spans = exporter.get_finished_spans().unwrap_or_default();
    assert_eq!(spans.len(), 2);
    assert_eq!(
        attributes(&spans[0].attributes),
        attributes(&spans[1].attributes)
    );
    let tags = attributes(&spans[0].attributes);
    let expected: BTreeMap<String, String> = [
        ("feature_flags.new-checkout", "on".to_owned()),
        ("feature_flags.dark-mode", "false".to_owned()),
        ("feature_flags.button-color", "treatment".to_owned()),
        ("feature_flags.weird_key_/ü", "true".to_owned()),
        ("feature_flags.long-value", "v".repeat(200)),
        ("feature_flags.broken.error", "parse_error".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(tags, expected);
}

#[test]
fn no_span_no_tags() {
    let (_provider, exporter) = tracing();
    let runtime = runtime();
    let client = client(&runtime, SpanTagsSink::new());
    evaluate_all(&client, &runtime);
    assert!(exporter.get_finished_spans().unwrap_or_default().is_empty());
}

#[test]
fn experiment_spans_once_per_flag_per_trace_under_the_active_span() {
    let (provider, exporter) = tracing();
    let runtime = runtime();
    let sink = ExperimentSpanSink::new(provider.tracer("openfeature-hooks"));
    let client = client(&runtime, sink.clone());
    let app = provider.tracer("app");
    for request in ["first", "second"] {
        app.in_span(request, |_| {
            evaluate_all(&client, &runtime);
            evaluate_all(&client, &runtime); // the same flags again, same trace
        });
    }
    evaluate_all(&client, &runtime); // no active span: nothing

    // The spans are built on the sink's thread, here after their parents have ended.
    assert!(sink.flush(Duration::from_secs(10)).is_complete());
    assert_eq!((sink.stats().handled, sink.stats().dropped), (10, 0));
    let spans = exporter.get_finished_spans().unwrap_or_default();
    let experiments: Vec<_> = spans
        .iter()
        .filter(|s| {
            attributes(&s.attributes)
                .get("operation.name")
                .map(String::as_str)
                == Some("experiments.IsEnabled")
        })
        .collect();
    // Five successful flags, once per trace, two traces; the failed flag gets none.
    assert_eq!(experiments.len(), 10);
    for request in ["first", "second"] {
        let parent = by_name(&spans, request)[0];
        let children: Vec<_> = experiments
            .iter()
            .filter(|s| s.parent_span_id == parent.span_context.span_id())
            .collect();
        assert_eq!(children.len(), 5, "{request}");
        assert!(
            children
                .iter()
                .all(|s| s.span_context.trace_id() == parent.span_context.trace_id())
        );
    }
    let checkout = experiments
        .iter()
        .find(|s| s.name == "new-checkout")
        .map(|s| attributes(&s.attributes));
    assert_eq!(
        checkout,
        Some(
            [
                ("experiment_id", "new-checkout"),
                ("experiment_value", "true"),
                ("operation.name", "experiments.IsEnabled")
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
        )
    );
}

#[test]
fn every_evaluation_when_asked() {
    let (provider, exporter) = tracing();
    let runtime = runtime();
    let sink =
        ExperimentSpanSink::new(provider.tracer("x")).with_volume(ExperimentSpanVolume::Every);
    let client = client(&runtime, sink.clone());
    provider.tracer("app").in_span("request", |_| {
        evaluate_all(&client, &runtime);
        evaluate_all(&client, &runtime);
    });
    assert!(sink.flush(Duration::from_secs(10)).is_complete());
    let spans = exporter.get_finished_spans().unwrap_or_default();
    assert_eq!(spans.iter().filter(|s| s.name == "new-checkout").count(), 2);
}

#[test]
fn each_sink_on_a_hooks_queue_counts_the_spans_it_ended() {
    let (provider, exporter) = tracing();
    let runtime = runtime();
    let every =
        ExperimentSpanSink::new(provider.tracer("every")).with_volume(ExperimentSpanVolume::Every);
    let once = ExperimentSpanSink::new(provider.tracer("once"));
    let hook = TelemetryHook::builder()
        .sink(every.clone())
        .sink(once.clone())
        .build();
    let client = support::client_with_hook(&runtime, support::provider(), hook.clone());
    provider.tracer("app").in_span("request", |_| {
        for _ in 0..3 {
            evaluate_all(&client, &runtime);
        }
    });
    assert!(hook.flush(Duration::from_secs(10)).is_complete());

    // One queue for both, each evaluation queued once: the five flags that succeed, 3 rounds
    // (the failed one concerns neither sink).
    let queue = hook.stats().queue;
    assert_eq!((queue.queued, queue.handled, queue.dropped), (15, 15, 0));
    // A span per evaluation, or once per flag in the trace.
    let (every, once) = (every.stats(), once.stats());
    assert_eq!((every.handled, once.handled), (15, 5));
    assert_eq!((every.queued, every.dropped), (queue.queued, queue.dropped));
    assert_eq!((once.queued, once.dropped), (queue.queued, queue.dropped));
    let spans = exporter.get_finished_spans().unwrap_or_default();
    assert_eq!(spans.iter().filter(|s| s.name != "request").count(), 20);
}

#[test]
fn an_experiment_span_has_the_evaluations_own_times_not_the_background_threads() {
    let (provider, exporter) = tracing();
    let runtime = runtime();
    let sink = ExperimentSpanSink::new(provider.tracer("x"));
    let times = Arc::new(Mutex::new(Vec::new()));
    let seen = times.clone();
    let client = runtime.block_on(async {
        let mut api = open_feature::OpenFeature::default();
        api.set_provider(support::provider()).await;
        api.create_client().with_hook(
            TelemetryHook::builder()
                .sink(sink.clone())
                .sink(FnSink(move |record: &EvaluationRecord<'_>| {
                    let times = (record.started.map(|s| s.time), record.ended.map(|e| e.time));
                    seen.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(times);
                }))
                .build(),
        )
    });
    provider.tracer("app").in_span("request", |_| {
        let _ = runtime.block_on(client.get_bool_value("new-checkout", None, None));
    });
    // The queued span holds its parent's ids only, never the parent: the request span ends
    // when the request does, not when the background thread gets to its child.
    let ended_at_once = exporter.get_finished_spans().unwrap_or_default();
    assert_eq!(by_name(&ended_at_once, "request").len(), 1);
    assert!(sink.flush(Duration::from_secs(10)).is_complete());
    let spans = exporter.get_finished_spans().unwrap_or_default();
    let span = by_name(&spans, "new-checkout")[0];
    let recorded = times.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert_eq!(
        recorded,
        vec![(Some(span.start_time), Some(span.end_time))],
        "the span's times are the evaluation's, read once by the hook"
    );
    assert!(span.start_time <= span.end_time);
    let parent = by_name(&spans, "request")[0];
    assert_eq!(span.parent_span_id, parent.span_context.span_id());
    assert!(!span.parent_span_is_remote, "a local parent stays local");
    assert!(span.end_time <= parent.end_time);
}

#[test]
fn a_flag_evaluated_in_a_loop_is_tagged_once_and_leaves_room_for_the_apps_attributes() {
    let (provider, exporter) = tracing();
    let runtime = runtime();
    let client = client(&runtime, SpanTagsSink::new());
    provider.tracer("app").in_span("GET /cart", |cx| {
        for _ in 0..500 {
            runtime.block_on(async {
                let _ = client.get_bool_value("new-checkout", None, None).await;
            });
        }
        use opentelemetry::trace::TraceContextExt;
        cx.span()
            .set_attribute(KeyValue::new("http.route", "/cart"));
    });
    let spans = exporter.get_finished_spans().unwrap_or_default();
    let keys: Vec<String> = spans[0]
        .attributes
        .iter()
        .map(|kv| kv.key.to_string())
        .collect();
    assert_eq!(keys, ["feature_flags.new-checkout", "http.route"]);
}

/// Records every span and samples none (`SamplingDecision::RecordOnly`): spans that record but
/// are never exported, which only a span processor sees.
#[derive(Clone, Debug)]
struct RecordOnly;

impl ShouldSample for RecordOnly {
    fn should_sample(
        &self,
        _parent: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        _kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        SamplingResult {
            decision: SamplingDecision::RecordOnly,
            attributes: Vec::new(),
            trace_state: TraceState::default(),
        }
    }
}

/// Keeps every span that ends, sampled or not (exporters only receive sampled ones).
#[derive(Clone, Debug, Default)]
struct EveryEndedSpan(Arc<Mutex<Vec<SpanData>>>);

impl SpanProcessor for EveryEndedSpan {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(span);
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

#[test]
fn a_span_that_records_without_being_sampled_is_tagged_too() {
    // The sink asks the span context's sampled flag first and `is_recording` only for
    // unsampled spans: this is the second path.
    let ended = EveryEndedSpan::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(RecordOnly)
        .with_span_processor(ended.clone())
        .build();
    let runtime = runtime();
    let client = client(&runtime, SpanTagsSink::new());
    let value = provider.tracer("app").in_span("GET /cart", |_| {
        runtime.block_on(client.get_bool_value("new-checkout", None, None))
    });
    assert_eq!(value.ok(), Some(true));
    let spans = ended.0.lock().unwrap_or_else(PoisonError::into_inner);
    assert_eq!(spans.len(), 1);
    assert!(!spans[0].span_context.is_sampled());
    assert_eq!(
        attributes(&spans[0].attributes).get("feature_flags.new-checkout"),
        Some(&"on".to_owned())
    );
}

/// A span exporter that holds every export until it is opened: an exporter stuck on a network.
#[derive(Clone, Debug, Default)]
struct GatedExporter(Arc<(Mutex<bool>, std::sync::Condvar)>);

impl GatedExporter {
    fn open(&self) {
        let (open, changed) = &*self.0;
        *open.lock().unwrap_or_else(PoisonError::into_inner) = true;
        changed.notify_all();
    }
}

/// Opens the gate when dropped, so that a failing assertion never leaves the provider's
/// shutdown waiting on a stuck export.
struct OpenOnDrop(GatedExporter);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

impl opentelemetry_sdk::trace::SpanExporter for GatedExporter {
    async fn export(&self, _batch: Vec<SpanData>) -> opentelemetry_sdk::error::OTelSdkResult {
        let (open, changed) = &*self.0;
        let mut open = open.lock().unwrap_or_else(PoisonError::into_inner);
        while !*open {
            open = changed.wait(open).unwrap_or_else(PoisonError::into_inner);
        }
        Ok(())
    }
}

#[test]
fn a_stuck_span_exporter_never_holds_an_evaluation_and_its_drops_are_counted() {
    let gate = GatedExporter::default();
    let stuck = SdkTracerProvider::builder()
        .with_simple_exporter(gate.clone())
        .build();
    let _open_at_the_end = OpenOnDrop(gate.clone());
    let (app, _) = tracing();
    let runtime = runtime();
    let sink = ExperimentSpanSink::new(stuck.tracer("x"))
        .with_volume(ExperimentSpanVolume::Every)
        .with_queue_capacity(2);
    let client = client(&runtime, sink.clone());
    const EVALUATIONS: u64 = 50;
    app.tracer("app").in_span("request", |_| {
        for _ in 0..EVALUATIONS {
            // Returns although the span thread is stuck in its first export.
            let value = runtime.block_on(client.get_bool_value("new-checkout", None, None));
            assert_eq!(value, Ok(true));
        }
    });
    // At most one span in the stuck export and two in the queue: the rest were dropped.
    let stuck_stats = sink.stats();
    assert!(stuck_stats.dropped >= EVALUATIONS - 3, "{stuck_stats:?}");
    gate.open();
    assert!(sink.flush(Duration::from_secs(10)).is_complete());
    let stats = sink.stats();
    assert_eq!(stats.handled + stats.dropped, EVALUATIONS, "{stats:?}");
    assert_eq!(
        stats.dropped, stuck_stats.dropped,
        "no drop once the exporter moves"
    );
}
