//! Volume controls with OpenTelemetry: deduplicated and sampled `feature_flag.evaluation` log
//! events read back from the SDK's in-memory exporter, the metrics sink beside them still
//! counting every evaluation, and the distinct-contexts gauge read back from the in-memory
//! metric exporter.

#[path = "../../core/tests/rollout/mod.rs"]
mod rollout;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use open_feature::{Client, EvaluationContext, OpenFeature};
use openfeature_hooks_core::{ContextIdPolicy, ExposureDedup, SampledSink, TelemetryHook};
use openfeature_hooks_otel::{LogEventSink, MetricsSink, SAMPLE_RATE, instrument};
use opentelemetry::logs::AnyValue;
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use rollout::RolloutProvider;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn client(runtime: &tokio::runtime::Runtime, hook: TelemetryHook) -> Client {
    runtime.block_on(async {
        let mut api = OpenFeature::default();
        api.set_provider(RolloutProvider::new()).await;
        api.create_client().with_hook(hook)
    })
}

fn evaluate(runtime: &tokio::runtime::Runtime, client: &Client, flag: &str, user: &str) {
    let context = EvaluationContext::default().with_targeting_key(user);
    let _ = runtime.block_on(client.get_string_value(flag, Some(&context), None));
}

/// Each emitted event's attributes, as text.
fn events(exporter: &InMemoryLogExporter) -> Vec<BTreeMap<String, String>> {
    exporter
        .get_emitted_logs()
        .unwrap_or_default()
        .iter()
        .map(|log| {
            assert_eq!(log.record.event_name(), Some("feature_flag.evaluation"));
            log.record
                .attributes_iter()
                .map(|(key, value)| {
                    let text = match value {
                        AnyValue::String(text) => text.to_string(),
                        AnyValue::Double(number) => number.to_string(),
                        other => format!("{other:?}"),
                    };
                    (key.to_string(), text)
                })
                .collect()
        })
        .collect()
}

/// (instrument, attributes) -> value of every `u64` sum and gauge point.
fn points(metrics: &[ResourceMetrics]) -> BTreeMap<(String, BTreeMap<String, String>), u64> {
    let mut out = BTreeMap::new();
    for resource in metrics {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics() {
                let mut add = |attributes: Vec<(String, String)>, value: u64| {
                    out.insert(
                        (metric.name().to_owned(), attributes.into_iter().collect()),
                        value,
                    );
                };
                let texts = |kvs: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
                    kvs.map(|kv| (kv.key.to_string(), kv.value.to_string()))
                        .collect::<Vec<_>>()
                };
                match metric.data() {
                    AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                        for p in sum.data_points() {
                            add(texts(&mut p.attributes()), p.value());
                        }
                    }
                    AggregatedMetrics::U64(MetricData::Gauge(gauge)) => {
                        for p in gauge.data_points() {
                            add(texts(&mut p.attributes()), p.value());
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

#[test]
fn deduplicated_log_events_beside_metrics_that_count_every_evaluation() {
    let runtime = runtime();
    let exporter = InMemoryLogExporter::default();
    let logs = SdkLoggerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let metric_exporter = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metric_exporter.clone()).build())
        .build();
    let exposures = Arc::new(ExposureDedup::new(LogEventSink::from_provider(&logs)));
    let hook = TelemetryHook::builder()
        .sink(exposures.clone())
        .sink(MetricsSink::from_provider(&meters))
        // The events carry no context id at all: deduplication still tells users apart.
        .context_id(ContextIdPolicy::Omit)
        .build();
    let client = client(&runtime, hook);

    for _ in 0..50 {
        evaluate(&runtime, &client, "checkout", "alice");
    }
    evaluate(&runtime, &client, "checkout", "bob");
    evaluate(&runtime, &client, "checkout", "bob");

    // Log events are emitted on the sink's own thread: wait for it before reading.
    assert!(
        exposures
            .inner()
            .flush(Duration::from_secs(10))
            .is_complete()
    );
    let events = events(&exporter);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| !e.contains_key("feature_flag.context.id"))
    );
    assert_eq!(events[0]["feature_flag.key"], "checkout");
    assert_eq!(
        events[0]["feature_flag.result.variant"],
        RolloutProvider::variant_of("checkout", "alice")
    );
    let stats = exposures.stats();
    assert_eq!((stats.passed, stats.suppressed), (2, 50));

    // The metrics sink saw all 52.
    assert!(meters.force_flush().is_ok());
    let points = points(&metric_exporter.get_finished_metrics().unwrap_or_default());
    let successes: u64 = points
        .iter()
        .filter(|((name, _), _)| name == instrument::SUCCESS_TOTAL)
        .map(|(_, value)| *value)
        .sum();
    assert_eq!(successes, 52);
}

#[test]
fn sampled_log_events_state_their_rate() {
    let runtime = runtime();
    let exporter = InMemoryLogExporter::default();
    let logs = SdkLoggerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let log_events = LogEventSink::from_provider(&logs);
    let hook = TelemetryHook::builder()
        .sink(SampledSink::new(0.5, log_events.clone()))
        .build();
    let client = client(&runtime, hook);
    for user in 0..200 {
        evaluate(&runtime, &client, "checkout", &format!("user-{user}"));
    }
    assert!(log_events.flush(Duration::from_secs(10)).is_complete());
    let events = events(&exporter);
    assert!((60..140).contains(&events.len()), "{}", events.len());
    assert!(events.iter().all(|e| e[SAMPLE_RATE] == "0.5"), "{events:?}");
}

#[test]
fn distinct_contexts_per_variant_without_exporting_any_id() {
    let runtime = runtime();
    let metric_exporter = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metric_exporter.clone()).build())
        .build();
    let hook = TelemetryHook::builder()
        .sink(MetricsSink::from_provider(&meters).with_distinct_contexts())
        .context_id(ContextIdPolicy::Keep)
        .build();
    let client = client(&runtime, hook);

    // `small` gets 10 contexts, `large` 1 000, each evaluated three times.
    let mut expected: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (flag, contexts) in [("small", 10), ("large", 1_000)] {
        for user in 0..contexts {
            let user = format!("user-{user}");
            for _ in 0..3 {
                evaluate(&runtime, &client, flag, &user);
            }
            *expected
                .entry((flag.to_owned(), RolloutProvider::variant_of(flag, &user)))
                .or_default() += 1;
        }
    }
    // Failures are not counted.
    evaluate(&runtime, &client, "broken", "user-1");

    assert!(meters.force_flush().is_ok());
    let points = points(&metric_exporter.get_finished_metrics().unwrap_or_default());
    let mut distinct: BTreeMap<(String, String), u64> = BTreeMap::new();
    for ((name, attributes), value) in &points {
        for text in attributes.values() {
            assert!(
                !text.starts_with("user-"),
                "a context id was exported: {text}"
            );
        }
        if name == instrument::DISTINCT_CONTEXTS {
            assert_eq!(attributes.len(), 2, "{attributes:?}");
            distinct.insert(
                (
                    attributes["feature_flag.key"].clone(),
                    attributes["feature_flag.result.variant"].clone(),
                ),
                *value,
            );
        }
    }
    assert_eq!(
        distinct.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (series, &truth) in &expected {
        let estimate = distinct[series] as f64;
        let error = (estimate - truth as f64).abs() / truth as f64;
        // Three standard errors of the 4 KiB sketch (1.6% each), or one context for tiny sets.
        assert!(
            error <= 0.049 || (estimate - truth as f64).abs() <= 1.0,
            "{series:?}: {truth} contexts estimated as {estimate}"
        );
    }
}
