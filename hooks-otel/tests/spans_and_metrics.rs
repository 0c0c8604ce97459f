//! Span events, evaluation spans and metrics, read back from the SDK's in-memory exporters.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use open_feature::{EvaluationContext, EvaluationReason, OpenFeature, Value};
use openfeature_hooks_core::{ContextIdPolicy, EvaluationSink, TelemetryHook};
use openfeature_hooks_otel::{
    AttributeNaming, DURATION_BOUNDARIES, EvaluationSpanSink, MetricsSink, ResultValue,
    SpanEventSink, instrument,
};
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider, ScriptedHook, within_clock_slack};
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::{Status, Tracer, TracerProvider};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

fn provider() -> FixtureProvider {
    FixtureProvider::new("fixture")
        .with_flag(
            "checkout",
            FixtureFlag::new(true)
                .variant("on")
                .reason(Some(EvaluationReason::TargetingMatch))
                .metadata("version", "v3"),
        )
        .with_flag(
            "layout",
            FixtureFlag::new(Value::Struct(
                open_feature::StructValue::default().with_field("columns", 3_i64),
            )),
        )
}

/// Registered after ours, its `before` takes this long, so a span that really starts at our
/// `before` lasts at least that long.
const SLOW: Duration = Duration::from_millis(30);

/// Runs `evaluations` with a hook made of `sink`, inside a span named `request` when asked.
fn run(
    sink: impl EvaluationSink,
    tracer_provider: &SdkTracerProvider,
    inside_span: bool,
    slow: bool,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let hook = TelemetryHook::builder()
        .sink(sink)
        .context_id(ContextIdPolicy::Keep)
        .build();
    let client = runtime.block_on(async {
        let mut api = OpenFeature::default();
        api.set_provider(provider()).await;
        let client = api.create_client().with_hook(hook);
        if slow {
            client.with_hook(ScriptedHook::slow_before(SLOW))
        } else {
            client
        }
    });
    let evaluate = || {
        runtime.block_on(async {
            let user = EvaluationContext::default().with_targeting_key("user-1");
            assert_eq!(
                client.get_bool_value("checkout", Some(&user), None).await,
                Ok(true)
            );
            assert!(
                client
                    .get_bool_value("missing", Some(&user), None)
                    .await
                    .is_err()
            );
            let layout = client
                .get_struct_value::<open_feature::StructValue>("layout", None, None)
                .await;
            assert!(layout.is_ok());
        });
    };
    if inside_span {
        tracer_provider
            .tracer("app")
            .in_span("request", |_| evaluate());
    } else {
        evaluate();
    }
}

fn spans() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

fn attributes(list: &[KeyValue]) -> BTreeMap<String, String> {
    list.iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

fn finished(exporter: &InMemorySpanExporter) -> Vec<SpanData> {
    exporter.get_finished_spans().unwrap_or_default()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn span_events_land_on_the_active_span() {
    let (tracer_provider, exporter) = spans();
    run(SpanEventSink::new(), &tracer_provider, true, false);
    let spans = finished(&exporter);
    assert_eq!(spans.len(), 1);
    let events: Vec<_> = spans[0].events.iter().collect();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.name == "feature_flag.evaluation"));
    assert_eq!(
        attributes(&events[0].attributes),
        map(&[
            ("feature_flag.key", "checkout"),
            ("feature_flag.result.variant", "on"),
            ("feature_flag.result.reason", "targeting_match"),
            ("feature_flag.provider.name", "fixture"),
            ("feature_flag.context.id", "user-1"),
            ("feature_flag.version", "v3"),
        ]),
        "semconv 1.44: with a variant the value is opt-in, so not written by default"
    );
    assert_eq!(
        attributes(&events[1].attributes)
            .get("error.type")
            .map(String::as_str),
        Some("flag_not_found")
    );
    assert_eq!(
        attributes(&events[2].attributes)
            .get("feature_flag.result.value")
            .map(String::as_str),
        Some(r#"{"columns":3}"#),
        "without a variant the value is required; structs as JSON text on spans"
    );
}

/// The attributes of each event of the single finished span.
fn event_attributes(exporter: &InMemorySpanExporter) -> Vec<BTreeMap<String, String>> {
    let spans = finished(exporter);
    assert_eq!(spans.len(), 1);
    spans[0]
        .events
        .iter()
        .map(|e| attributes(&e.attributes))
        .collect()
}

#[test]
fn span_events_write_every_value_when_asked() {
    let (tracer_provider, exporter) = spans();
    run(
        SpanEventSink::new()
            .with_naming(AttributeNaming::Current)
            .with_result_value(ResultValue::Always),
        &tracer_provider,
        true,
        false,
    );
    let events = event_attributes(&exporter);
    let values: Vec<_> = events
        .iter()
        .map(|e| e.get("feature_flag.result.value").map(String::as_str))
        .collect();
    assert_eq!(values, [Some("true"), None, Some(r#"{"columns":3}"#)]);
}

#[test]
fn span_events_write_no_value_when_asked() {
    let (tracer_provider, exporter) = spans();
    run(
        SpanEventSink::new()
            .with_naming(AttributeNaming::Current)
            .with_result_value(ResultValue::Never),
        &tracer_provider,
        true,
        false,
    );
    let events = event_attributes(&exporter);
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| !e.contains_key("feature_flag.result.value"))
    );
    assert_eq!(
        events[0]
            .get("feature_flag.result.variant")
            .map(String::as_str),
        Some("on")
    );
}

#[test]
fn evaluation_spans_follow_the_value_rule() {
    for (rule, expected) in [
        (ResultValue::WhenNoVariant, [None, Some(r#"{"columns":3}"#)]),
        (
            ResultValue::Always,
            [Some("true"), Some(r#"{"columns":3}"#)],
        ),
        (ResultValue::Never, [None, None]),
    ] {
        let (tracer_provider, exporter) = spans();
        let sink = EvaluationSpanSink::new(tracer_provider.tracer("openfeature-hooks-otel"))
            .with_naming(AttributeNaming::Current)
            .with_result_value(rule);
        run(sink, &tracer_provider, true, false);
        let spans = finished(&exporter);
        let values: Vec<_> = ["checkout", "layout"]
            .iter()
            .map(|key| {
                spans
                    .iter()
                    .map(|s| attributes(&s.attributes))
                    .find(|a| a.get("feature_flag.key").map(String::as_str) == Some(key))
                    .unwrap_or_else(|| panic!("no span for {key}"))
                    .get("feature_flag.result.value")
                    .cloned()
            })
            .collect();
        let expected: Vec<_> = expected.iter().map(|v| v.map(str::to_owned)).collect();
        assert_eq!(values, expected, "{rule:?}");
    }
}

#[test]
fn span_events_need_a_span() {
    let (tracer_provider, exporter) = spans();
    run(SpanEventSink::new(), &tracer_provider, false, false);
    assert!(finished(&exporter).is_empty());
}

#[test]
fn legacy_naming_on_span_events_keeps_the_value_as_an_attribute() {
    let (tracer_provider, exporter) = spans();
    run(
        SpanEventSink::new().with_naming(AttributeNaming::Legacy),
        &tracer_provider,
        true,
        false,
    );
    let spans = finished(&exporter);
    let first = attributes(
        &spans[0]
            .events
            .iter()
            .next()
            .map(|e| e.attributes.clone())
            .unwrap_or_default(),
    );
    assert_eq!(
        first.get("feature_flag.variant").map(String::as_str),
        Some("on")
    );
    assert_eq!(
        first
            .get("feature_flag.evaluation.reason")
            .map(String::as_str),
        Some("targeting_match")
    );
    assert_eq!(
        first.get("feature_flag.provider_name").map(String::as_str),
        Some("fixture")
    );
    assert!(
        !first.contains_key("feature_flag.result.value"),
        "a variant: the value attribute is opt-in under either naming"
    );
    assert!(!first.contains_key("feature_flag.result.variant"));
    let third = attributes(
        &spans[0]
            .events
            .get(2)
            .map(|e| e.attributes.clone())
            .unwrap_or_default(),
    );
    assert_eq!(
        third.get("feature_flag.result.value").map(String::as_str),
        Some(r#"{"columns":3}"#),
        "no body on a span event: the value stays an attribute"
    );
}

#[test]
fn one_span_per_evaluation_covering_it_as_a_child_of_the_active_span() {
    let (tracer_provider, exporter) = spans();
    let tracer = tracer_provider.tracer("openfeature-hooks-otel");
    let before = SystemTime::now();
    run(
        EvaluationSpanSink::new(tracer),
        &tracer_provider,
        true,
        true,
    );
    let after = SystemTime::now();

    let spans = finished(&exporter);
    let request = spans.iter().find(|s| s.name == "request");
    let request_id = request.map(|s| s.span_context.span_id());
    let evaluations: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "feature_flag.evaluation")
        .collect();
    assert_eq!(evaluations.len(), 3);
    for span in &evaluations {
        assert_eq!(
            Some(span.parent_span_id),
            request_id,
            "child of the active span"
        );
        assert_eq!(
            Some(span.span_context.trace_id()),
            request.map(|s| s.span_context.trace_id())
        );
        assert!(
            within_clock_slack(before, span.start_time, after)
                && within_clock_slack(before, span.end_time, after),
            "{before:?} <= {:?}, {:?} <= {after:?}",
            span.start_time,
            span.end_time
        );
        let duration = span
            .end_time
            .duration_since(span.start_time)
            .unwrap_or_default();
        assert!(
            duration >= SLOW,
            "the span starts at our before, not at the record: {duration:?}"
        );
    }
    assert_eq!(evaluations[0].status, Status::Unset);
    assert_eq!(
        attributes(&evaluations[0].attributes)
            .get("feature_flag.result.reason")
            .map(String::as_str),
        Some("targeting_match")
    );
    assert_eq!(
        evaluations[1].status,
        Status::error(r#"no flag named "missing""#)
    );
    assert_eq!(
        attributes(&evaluations[1].attributes)
            .get("error.type")
            .map(String::as_str),
        Some("flag_not_found")
    );
}

#[test]
fn evaluation_spans_from_a_provider_carry_this_crates_scope() {
    let (tracer_provider, exporter) = spans();
    run(
        EvaluationSpanSink::from_provider(&tracer_provider),
        &tracer_provider,
        true,
        false,
    );
    let evaluations: Vec<_> = finished(&exporter)
        .into_iter()
        .filter(|s| s.name == "feature_flag.evaluation")
        .collect();
    assert_eq!(evaluations.len(), 3);
    for span in &evaluations {
        assert_eq!(span.instrumentation_scope.name(), "openfeature-hooks-otel");
        assert_eq!(
            span.instrumentation_scope.version(),
            Some(env!("CARGO_PKG_VERSION"))
        );
    }
}

/// (instrument, unit, attributes) -> value; histograms give their count.
fn points(
    metrics: &[ResourceMetrics],
) -> BTreeMap<(String, String, BTreeMap<String, String>), f64> {
    let mut out = BTreeMap::new();
    for resource in metrics {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics() {
                let key = |attrs: &mut dyn Iterator<Item = &KeyValue>| {
                    let attrs: Vec<KeyValue> = attrs.cloned().collect();
                    (
                        metric.name().to_owned(),
                        metric.unit().to_owned(),
                        attributes(&attrs),
                    )
                };
                match metric.data() {
                    AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                        for p in sum.data_points() {
                            out.insert(key(&mut p.attributes()), p.value() as f64);
                        }
                    }
                    AggregatedMetrics::I64(MetricData::Sum(sum)) => {
                        for p in sum.data_points() {
                            out.insert(key(&mut p.attributes()), p.value() as f64);
                        }
                    }
                    AggregatedMetrics::F64(MetricData::Histogram(histogram)) => {
                        for p in histogram.data_points() {
                            assert_eq!(
                                p.bounds().collect::<Vec<_>>(),
                                DURATION_BOUNDARIES.to_vec()
                            );
                            out.insert(key(&mut p.attributes()), p.count() as f64);
                        }
                    }
                    other => panic!("unexpected data for {}: {other:?}", metric.name()),
                }
            }
        }
    }
    out
}

/// A meter provider exporting to memory when flushed.
fn meters() -> (SdkMeterProvider, InMemoryMetricExporter) {
    let exporter = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    (meters, exporter)
}

#[test]
fn metrics_count_each_evaluation_once_with_low_cardinality_attributes() {
    let (meters, exporter) = meters();
    let (tracer_provider, _) = spans();
    // One sink per meter provider, cloned into each hook.
    let sink = MetricsSink::from_provider(&meters);
    run(sink.clone(), &tracer_provider, false, false);
    run(sink.clone(), &tracer_provider, false, false);
    // Durations reach the histogram on the sink's thread: wait for it.
    assert!(sink.flush(std::time::Duration::from_secs(10)).is_complete());
    assert!(meters.force_flush().is_ok());
    let points = points(&exporter.get_finished_metrics().unwrap_or_default());

    let p = |name: &str, unit: &str, attrs: &[(&str, &str)]| {
        (name.to_owned(), unit.to_owned(), map(attrs))
    };
    let checkout = [
        ("feature_flag.key", "checkout"),
        ("feature_flag.provider.name", "fixture"),
    ];
    let missing = [
        ("feature_flag.key", "missing"),
        ("feature_flag.provider.name", "fixture"),
    ];
    let layout = [
        ("feature_flag.key", "layout"),
        ("feature_flag.provider.name", "fixture"),
    ];
    let mut expected = BTreeMap::new();
    for attrs in [&checkout, &missing, &layout] {
        expected.insert(p(instrument::REQUESTS_TOTAL, "{request}", attrs), 2.0);
        expected.insert(p(instrument::ACTIVE_COUNT, "{request}", attrs), 0.0);
    }
    let with = |base: &[(&'static str, &'static str)], extra: &[(&'static str, &'static str)]| {
        base.iter().chain(extra).copied().collect::<Vec<_>>()
    };
    let checkout_success = with(
        &checkout,
        &[
            ("feature_flag.result.variant", "on"),
            ("feature_flag.result.reason", "targeting_match"),
        ],
    );
    expected.insert(
        p(instrument::SUCCESS_TOTAL, "{impression}", &checkout_success),
        2.0,
    );
    let layout_success = with(&layout, &[("feature_flag.result.reason", "static")]);
    expected.insert(
        p(instrument::SUCCESS_TOTAL, "{impression}", &layout_success),
        2.0,
    );
    expected.insert(
        p(
            instrument::ERROR_TOTAL,
            "{request}",
            &with(&missing, &[("error.type", "flag_not_found")]),
        ),
        2.0,
    );
    let checkout_duration = with(
        &checkout,
        &[("feature_flag.result.reason", "targeting_match")],
    );
    expected.insert(p(instrument::DURATION, "s", &checkout_duration), 2.0);
    expected.insert(p(instrument::DURATION, "s", &layout_success), 2.0);
    let missing_duration = with(
        &missing,
        &[
            ("feature_flag.result.reason", "error"),
            ("error.type", "flag_not_found"),
        ],
    );
    expected.insert(p(instrument::DURATION, "s", &missing_duration), 2.0);

    assert_eq!(points, expected);
    for (_, _, attrs) in points.keys() {
        assert!(
            !attrs.contains_key("feature_flag.context.id"),
            "no context ids on metrics"
        );
        assert!(
            !attrs.contains_key("feature_flag.error.message"),
            "no messages on metrics"
        );
        assert!(
            !attrs.contains_key("feature_flag.result.value"),
            "no values on metrics"
        );
    }
}

/// The `feature_flag.evaluation_active_count` of each flag, read from a fresh collection.
fn active_counts(
    meters: &SdkMeterProvider,
    exporter: &InMemoryMetricExporter,
) -> BTreeMap<String, f64> {
    exporter.reset();
    assert!(meters.force_flush().is_ok());
    points(&exporter.get_finished_metrics().unwrap_or_default())
        .into_iter()
        .filter(|((name, _, _), _)| name == instrument::ACTIVE_COUNT)
        .map(|((_, _, attrs), value)| (attrs["feature_flag.key"].clone(), value))
        .collect()
}

#[test]
fn evaluations_in_flight_are_the_requests_not_yet_recorded() {
    use openfeature_hooks_core::__private::EvaluationStart;
    use openfeature_hooks_core::{EvaluationRecord, EvaluationStarted, FlagType};

    let (meters, exporter) = meters();
    let sink = MetricsSink::from_provider(&meters);
    let context = EvaluationContext::default();
    let record = |key: &'static str, variant: &'static str, tracked: bool| {
        let mut record = EvaluationRecord::new(key, FlagType::Bool, &context);
        record.variant = Some(variant);
        record.provider_name = Some("fixture");
        // An evaluation whose start the hook could not keep (a full start table) has none.
        record.started = tracked.then(EvaluationStart::now);
        record
    };

    for _ in 0..3 {
        sink.started(&EvaluationStarted::new("checkout", Some("fixture")));
    }
    sink.started(&EvaluationStarted::new("layout", Some("fixture")));
    let expected = |pairs: &[(&str, f64)]| {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), *value))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        active_counts(&meters, &exporter),
        expected(&[("checkout", 3.0), ("layout", 1.0)])
    );

    sink.record(&record("checkout", "on", true));
    assert_eq!(
        active_counts(&meters, &exporter),
        expected(&[("checkout", 2.0), ("layout", 1.0)])
    );

    // Recorded without a start: still no longer in flight.
    sink.record(&record("checkout", "off", false));
    sink.record(&record("layout", "grid", true));
    assert_eq!(
        active_counts(&meters, &exporter),
        expected(&[("checkout", 1.0), ("layout", 0.0)])
    );

    // Outcomes past the outcome table's limit share its overflow series; they still end
    // their flag's evaluations.
    let variants: Vec<&'static str> = (0..openfeature_hooks_otel::MAX_SERIES + 10)
        .map(|i| &*String::leak(format!("variant-{i}")))
        .collect();
    for variant in &variants {
        sink.started(&EvaluationStarted::new("layout", Some("fixture")));
        sink.record(&record("layout", variant, true));
    }
    sink.record(&record("checkout", "on", true));
    assert_eq!(
        active_counts(&meters, &exporter),
        expected(&[("checkout", 0.0), ("layout", 0.0)])
    );

    // A sink that is only handed records (no starts) never reads below zero.
    sink.record(&record("checkout", "on", true));
    assert_eq!(active_counts(&meters, &exporter)["checkout"], 0.0);
}

/// Runs the evaluations through `sink` and returns every metric point (after its durations).
fn collect(
    sink: &MetricsSink,
    meters: &SdkMeterProvider,
    exporter: &InMemoryMetricExporter,
) -> BTreeMap<(String, String, BTreeMap<String, String>), f64> {
    let (tracer_provider, _) = spans();
    run(sink.clone(), &tracer_provider, false, false);
    assert!(sink.flush(Duration::from_secs(10)).is_complete());
    assert!(meters.force_flush().is_ok());
    points(&exporter.get_finished_metrics().unwrap_or_default())
}

#[test]
fn metrics_follow_the_naming() {
    let legacy = [
        "error.type",
        "feature_flag.evaluation.reason",
        "feature_flag.key",
        "feature_flag.provider_name",
        "feature_flag.variant",
    ];
    let both = [
        "error.type",
        "feature_flag.evaluation.reason",
        "feature_flag.key",
        "feature_flag.provider.name",
        "feature_flag.provider_name",
        "feature_flag.result.reason",
        "feature_flag.result.variant",
        "feature_flag.variant",
    ];
    for (naming, expected) in [
        (AttributeNaming::Legacy, &legacy[..]),
        (AttributeNaming::Both, &both[..]),
    ] {
        let (meters, exporter) = meters();
        let sink = MetricsSink::from_provider(&meters).with_naming(naming);
        let points = collect(&sink, &meters, &exporter);
        let names: BTreeSet<&str> = points
            .keys()
            .flat_map(|(_, _, attributes)| attributes.keys().map(String::as_str))
            .collect();
        assert_eq!(names, expected.iter().copied().collect(), "{naming:?}");
    }

    let (meters, exporter) = meters();
    let sink = MetricsSink::from_provider(&meters).with_naming(AttributeNaming::Legacy);
    let points = collect(&sink, &meters, &exporter);
    let success = map(&[
        ("feature_flag.key", "checkout"),
        ("feature_flag.provider_name", "fixture"),
        ("feature_flag.variant", "on"),
        ("feature_flag.evaluation.reason", "targeting_match"),
    ]);
    let key = (
        instrument::SUCCESS_TOTAL.to_owned(),
        "{impression}".to_owned(),
        success,
    );
    assert_eq!(points.get(&key), Some(&1.0), "{points:?}");
}

#[test]
fn metrics_from_a_provider_behind_dyn_as_the_global_one_is() {
    let (meters, exporter) = meters();
    // What `opentelemetry::global::meter_provider()` returns.
    let global_like: Arc<dyn MeterProvider + Send + Sync> = Arc::new(meters.clone());
    let sink = MetricsSink::from_provider(&*global_like);
    let points = collect(&sink, &meters, &exporter);
    let checkout = map(&[
        ("feature_flag.key", "checkout"),
        ("feature_flag.provider.name", "fixture"),
    ]);
    let key = (
        instrument::REQUESTS_TOTAL.to_owned(),
        "{request}".to_owned(),
        checkout,
    );
    assert_eq!(points.get(&key), Some(&1.0), "{points:?}");
    let scopes: Vec<String> = exporter
        .get_finished_metrics()
        .unwrap_or_default()
        .iter()
        .flat_map(|resource| {
            resource
                .scope_metrics()
                .map(|scope| scope.scope().name().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        !scopes.is_empty() && scopes.iter().all(|name| name == "openfeature-hooks-otel"),
        "{scopes:?}"
    );
}
