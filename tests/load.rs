//! Load with every backend on: many tasks on a multi-threaded runtime, each a request with its
//! own Sentry hub and span. Every evaluation returns the provider's value; OpenTelemetry receives
//! exactly one log event per evaluation, none twice; no Sentry error carries another request's
//! flags; Datadog tags land on the right request span.

#![cfg(feature = "full")]

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use open_feature::{EvaluationContext, OpenFeature};
use openfeature_hooks::datadog::SpanTagsSink;
use openfeature_hooks::otel::LogEventSink;
use openfeature_hooks::sentry::{SentrySink, with_flags_context};
use openfeature_hooks::{ContextIdPolicy, TelemetryHook};
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider};
use opentelemetry::context::FutureExt as _;
use opentelemetry::logs::AnyValue;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{
    BatchConfigBuilder, BatchLogProcessor, LogBatch, LogExporter, SdkLoggerProvider,
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use sentry::SentryFutureExt;

const TASKS: usize = 16;
const PER_TASK: usize = 12_500;
const EVALUATIONS: usize = TASKS * PER_TASK;

/// Counts log events and remembers their context ids, to find duplicates without keeping records.
#[derive(Debug, Default)]
struct Counts {
    ids: Mutex<HashSet<String>>,
    duplicates: AtomicUsize,
    received: AtomicUsize,
}

#[derive(Clone, Debug, Default)]
struct CountingExporter(Arc<Counts>);

impl LogExporter for CountingExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let mut ids = self.0.ids.lock().unwrap_or_else(PoisonError::into_inner);
        for (record, _) in batch.iter() {
            self.0.received.fetch_add(1, Ordering::Relaxed);
            let id = record
                .attributes_iter()
                .find(|(key, _)| key.as_str() == "feature_flag.context.id")
                .and_then(|(_, value)| match value {
                    AnyValue::String(id) => Some(id.as_str().to_owned()),
                    _ => None,
                });
            if !id.is_some_and(|id| ids.insert(id)) {
                self.0.duplicates.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Envelopes(Arc<Mutex<Vec<Vec<u8>>>>);

impl sentry::Transport for Envelopes {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        let mut bytes = Vec::new();
        if envelope.to_writer(&mut bytes).is_ok() {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(bytes);
        }
    }
}

#[test]
fn every_backend_under_load() {
    let counted = CountingExporter::default();
    let processor = BatchLogProcessor::builder(counted.clone())
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(EVALUATIONS)
                .build(),
        )
        .build();
    let logs = SdkLoggerProvider::builder()
        .with_log_processor(processor)
        .build();
    let spans = InMemorySpanExporter::default();
    let tracers = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let envelopes = Envelopes::default();
    let mut options = sentry::ClientOptions::new().dsn("https://public@sentry.invalid/1");
    options.transport = Some(Arc::new(Arc::new(envelopes.clone())));
    let main_hub = Arc::new(sentry::Hub::new(
        Some(Arc::new(sentry::Client::from(with_flags_context(options)))),
        Arc::new(Default::default()),
    ));

    // The sink's own queue, like the batch processor's, holds every evaluation: this test
    // checks exact delivery, not what a full queue drops.
    let events = LogEventSink::from_provider(&logs).with_queue_capacity(EVALUATIONS);
    let hook = TelemetryHook::builder()
        .sink(events.clone())
        .sink(SentrySink::new())
        .sink(SpanTagsSink::new())
        .context_id(ContextIdPolicy::Keep)
        .build();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let client = runtime.block_on(async {
        let mut provider = FixtureProvider::new("fixture")
            .with_flag("shared", FixtureFlag::new(true).variant("on"));
        for task in 0..TASKS {
            provider = provider.with_flag(format!("t{task}"), FixtureFlag::new(task % 2 == 0));
        }
        let mut api = OpenFeature::default();
        api.set_provider(provider).await;
        api.add_hook(hook).await;
        Arc::new(api.create_client())
    });

    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let client = client.clone();
            let hub = Arc::new(sentry::Hub::new_from_top(&main_hub));
            let span = tracers.tracer("app").start(format!("request {task}"));
            let cx = opentelemetry::Context::current_with_span(span);
            runtime.spawn(
                async move {
                    let own = format!("t{task}");
                    for i in 0..PER_TASK {
                        let user =
                            EvaluationContext::default().with_targeting_key(format!("{task}/{i}"));
                        let (key, expected) = if i % 2 == 0 {
                            (own.as_str(), task % 2 == 0)
                        } else {
                            ("shared", true)
                        };
                        let value = client.get_bool_value(key, Some(&user), None).await;
                        assert_eq!(value, Ok(expected), "{key}");
                        if i % 1000 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                    sentry::capture_message(&format!("request {task}"), sentry::Level::Error);
                    opentelemetry::Context::current().span().end();
                }
                .with_context(cx)
                .bind_hub(hub),
            )
        })
        .collect();
    for task in tasks {
        assert!(runtime.block_on(task).is_ok());
    }
    // Log events are emitted on the sink's thread: wait for it, then for the batch processor.
    assert!(
        events
            .flush(std::time::Duration::from_secs(30))
            .is_complete()
    );
    assert_eq!(events.stats().dropped, 0);
    assert!(logs.force_flush().is_ok());

    // OpenTelemetry: one event per evaluation, none twice.
    assert_eq!(counted.0.received.load(Ordering::Relaxed), EVALUATIONS);
    assert_eq!(counted.0.duplicates.load(Ordering::Relaxed), 0);

    // Sentry: each request's error carries exactly its own flag and the shared one.
    let wire = envelopes
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut checked = 0;
    for bytes in &wire {
        let text = String::from_utf8_lossy(bytes);
        let Some(event) = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v.get("contexts").is_some())
        else {
            continue;
        };
        let message = event["message"]
            .as_str()
            .or(event["logentry"]["message"].as_str())
            .unwrap_or_default()
            .to_owned();
        let task = message.trim_start_matches("request ");
        let mut names: Vec<String> = event["contexts"]["flags"]["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["flag"].as_str().map(str::to_owned))
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec!["shared".to_owned(), format!("t{task}")],
            "{message}"
        );
        checked += 1;
    }
    assert_eq!(checked, TASKS);

    // Datadog: each request span carries its own flag tag.
    let finished = spans.get_finished_spans().unwrap_or_default();
    assert_eq!(finished.len(), TASKS);
    for span in finished {
        let task = span.name.trim_start_matches("request ").to_owned();
        let tags: Vec<String> = span
            .attributes
            .iter()
            .filter_map(|kv| {
                kv.key
                    .as_str()
                    .strip_prefix("feature_flags.")
                    .map(str::to_owned)
            })
            .collect();
        let mut tags = tags;
        tags.sort();
        assert_eq!(tags, vec!["shared".to_owned(), format!("t{task}")]);
    }
    let _ = logs.shutdown();
}
