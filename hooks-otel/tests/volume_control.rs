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
use openfeature_hooks_otel::{AttributeNaming, LogEventSink, MetricsSink, SAMPLE_RATE, instrument};
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

/// A meter provider exporting to memory when flushed.
fn meters() -> (SdkMeterProvider, InMemoryMetricExporter) {
    let exporter = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    (meters, exporter)
}

/// The attribute names of every point of `instrument`, after a collection.
fn attribute_names(
    meters: &SdkMeterProvider,
    exporter: &InMemoryMetricExporter,
    instrument: &str,
) -> Vec<Vec<String>> {
    assert!(meters.force_flush().is_ok());
    points(&exporter.get_finished_metrics().unwrap_or_default())
        .keys()
        .filter(|(name, _)| name == instrument)
        .map(|(_, attributes)| attributes.keys().cloned().collect())
        .collect()
}

#[test]
fn the_distinct_context_gauge_follows_the_naming_whichever_is_set_first() {
    let runtime = runtime();
    for naming_first in [true, false] {
        let (meters, exporter) = meters();
        let sink = MetricsSink::from_provider(&meters);
        let sink = if naming_first {
            sink.with_naming(AttributeNaming::Legacy)
                .with_distinct_contexts()
        } else {
            sink.with_distinct_contexts()
                .with_naming(AttributeNaming::Legacy)
        };
        let client = client(&runtime, TelemetryHook::builder().sink(sink).build());
        for user in 0..20 {
            evaluate(&runtime, &client, "small", &format!("user-{user}"));
        }
        let legacy = vec![
            "feature_flag.key".to_owned(),
            "feature_flag.variant".to_owned(),
        ];
        let gauge = attribute_names(&meters, &exporter, instrument::DISTINCT_CONTEXTS);
        assert!(!gauge.is_empty(), "naming first: {naming_first}");
        assert!(
            gauge.iter().all(|names| *names == legacy),
            "naming first: {naming_first}: {gauge:?}"
        );
        // The counters beside it are named alike.
        let successes = attribute_names(&meters, &exporter, instrument::SUCCESS_TOTAL);
        assert!(!successes.is_empty());
        for names in &successes {
            assert!(
                names.contains(&"feature_flag.variant".to_owned()),
                "{names:?}"
            );
            assert!(
                names.contains(&"feature_flag.provider_name".to_owned()),
                "{names:?}"
            );
            assert!(
                !names.contains(&"feature_flag.result.variant".to_owned()),
                "{names:?}"
            );
        }
    }
}

#[test]
fn distinct_contexts_asked_for_twice_keep_one_gauge_and_its_estimates() {
    let runtime = runtime();
    let (meters, exporter) = meters();
    let first = MetricsSink::from_provider(&meters).with_distinct_contexts();
    let first_client = client(
        &runtime,
        TelemetryHook::builder().sink(first.clone()).build(),
    );
    // Asked again, on a clone of a sink that already counts.
    let again = first.with_distinct_contexts();
    let again_client = client(&runtime, TelemetryHook::builder().sink(again).build());

    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for index in 0..600 {
        let user = format!("user-{index}");
        let client = if index % 2 == 0 {
            &first_client
        } else {
            &again_client
        };
        evaluate(&runtime, client, "large", &user);
        *expected
            .entry(RolloutProvider::variant_of("large", &user))
            .or_default() += 1;
    }

    assert!(meters.force_flush().is_ok());
    let points = points(&exporter.get_finished_metrics().unwrap_or_default());
    let estimates: BTreeMap<String, u64> = points
        .iter()
        .filter(|((name, _), _)| name == instrument::DISTINCT_CONTEXTS)
        .map(|((_, attributes), value)| (attributes["feature_flag.result.variant"].clone(), *value))
        .collect();
    assert_eq!(
        estimates.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (variant, &truth) in &expected {
        let estimate = estimates[variant] as f64;
        let error = (estimate - truth as f64).abs() / truth as f64;
        // Both halves of the users in one estimate: three standard errors of the sketch.
        assert!(
            error <= 0.049,
            "{variant}: {truth} contexts estimated as {estimate}"
        );
    }
}
