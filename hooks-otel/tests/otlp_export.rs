//! Log events through the real OTLP/HTTP protobuf exporter to a receiver in the test, decoded as
//! `ExportLogsServiceRequest`: for each kind of evaluation, in each naming version, the
//! attributes equal the expected set exactly.

use std::collections::BTreeMap;
use std::time::Duration;

use open_feature::{EvaluationContext, EvaluationReason, OpenFeature, StructValue, Value};
use openfeature_hooks_core::{ContextIdPolicy, TelemetryHook};
use openfeature_hooks_otel::{AttributeNaming, LogEventSink, ResultValue};
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider, HttpReceiver};
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry_otlp::{LogExporter, WithExportConfig};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use prost::Message;
use serde_json::{Value as Json, json};

fn provider() -> FixtureProvider {
    FixtureProvider::new("fixture")
        .with_flag(
            "checkout",
            FixtureFlag::new(true)
                .variant("on")
                .reason(Some(EvaluationReason::TargetingMatch))
                .metadata("flagSetId", "shop")
                .metadata("version", "v3")
                .metadata("contextId", "ctx-1"),
        )
        .with_flag(
            "plain",
            FixtureFlag::new(false).reason(Some(EvaluationReason::Static)),
        )
        .with_flag(
            "ld",
            FixtureFlag::new(true)
                .variant("true")
                .reason(Some(EvaluationReason::Other("RULE_MATCH".into()))),
        )
        .with_flag(
            "color",
            FixtureFlag::new("blue")
                .variant("b")
                .reason(Some(EvaluationReason::Split)),
        )
        .with_flag(
            "ratio",
            FixtureFlag::new(0.25).reason(Some(EvaluationReason::Default)),
        )
        .with_flag(
            "layout",
            FixtureFlag::new(Value::Struct(
                StructValue::default()
                    .with_field("columns", 3_i64)
                    .with_field("dense", true),
            )),
        )
}

/// Evaluates every case once, in a fixed order.
async fn evaluate_all(api: &OpenFeature) {
    let client = api.create_client();
    let user = EvaluationContext::default().with_targeting_key("user-1");
    let _ = client.get_bool_value("checkout", Some(&user), None).await;
    let _ = client.get_bool_value("plain", Some(&user), None).await;
    let _ = client.get_bool_value("ld", Some(&user), None).await;
    let _ = client.get_bool_value("missing", Some(&user), None).await;
    let _ = client.get_string_value("color", Some(&user), None).await;
    let _ = client.get_float_value("ratio", Some(&user), None).await;
    let _ = client
        .get_struct_value::<StructValue>("layout", Some(&user), None)
        .await;
}

/// Today's names with the value written whenever there is one (`ResultValue::Always`, the
/// JavaScript hook's rule), case by case. The value is an attribute.
fn expected_current() -> Vec<Json> {
    vec![
        json!({"feature_flag.key": "checkout", "feature_flag.result.variant": "on",
               "feature_flag.result.value": true, "feature_flag.result.reason": "targeting_match",
               "feature_flag.provider.name": "fixture", "feature_flag.context.id": "ctx-1",
               "feature_flag.set.id": "shop", "feature_flag.version": "v3"}),
        json!({"feature_flag.key": "plain", "feature_flag.result.value": false,
               "feature_flag.result.reason": "static", "feature_flag.provider.name": "fixture",
               "feature_flag.context.id": "user-1"}),
        json!({"feature_flag.key": "ld", "feature_flag.result.variant": "true",
               "feature_flag.result.value": true, "feature_flag.result.reason": "targeting_match",
               "feature_flag.provider.name": "fixture", "feature_flag.context.id": "user-1"}),
        json!({"feature_flag.key": "missing", "feature_flag.result.reason": "error",
               "error.type": "flag_not_found", "feature_flag.error.message": "no flag named \"missing\"",
               "feature_flag.provider.name": "fixture", "feature_flag.context.id": "user-1"}),
        json!({"feature_flag.key": "color", "feature_flag.result.variant": "b",
               "feature_flag.result.value": "blue", "feature_flag.result.reason": "split",
               "feature_flag.provider.name": "fixture", "feature_flag.context.id": "user-1"}),
        json!({"feature_flag.key": "ratio", "feature_flag.result.value": 0.25,
               "feature_flag.result.reason": "default", "feature_flag.provider.name": "fixture",
               "feature_flag.context.id": "user-1"}),
        json!({"feature_flag.key": "layout", "feature_flag.result.value": {"columns": 3, "dense": true},
               "feature_flag.result.reason": "static", "feature_flag.provider.name": "fixture",
               "feature_flag.context.id": "user-1"}),
    ]
}

/// The renames of the conventions (the seed's older revision), as documented upstream.
const RENAMES: [(&str, &str); 4] = [
    ("feature_flag.result.variant", "feature_flag.variant"),
    (
        "feature_flag.result.reason",
        "feature_flag.evaluation.reason",
    ),
    (
        "feature_flag.error.message",
        "feature_flag.evaluation.error.message",
    ),
    ("feature_flag.provider.name", "feature_flag.provider_name"),
];

/// Expected (attributes, body) for a naming version, derived from today's set by the value rule
/// and the renames.
fn expected(naming: AttributeNaming, result_value: ResultValue) -> Vec<(Json, Json)> {
    expected_current()
        .into_iter()
        .map(|current| {
            let mut attributes = current.as_object().cloned().unwrap_or_default();
            let value = attributes.get("feature_flag.result.value").cloned();
            let has_variant = attributes.contains_key("feature_flag.result.variant");
            // Semconv 1.44: the value attribute is conditionally required without a variant and
            // opt-in with one.
            let keep_value = match result_value {
                ResultValue::Always => true,
                ResultValue::Never => false,
                _ => !has_variant,
            };
            if !keep_value {
                attributes.remove("feature_flag.result.value");
            }
            // The older revision's body keeps its own rule: the value whenever there is one.
            let body = value.map(|v| json!({"value": v})).unwrap_or(Json::Null);
            if naming == AttributeNaming::Current {
                return (Json::Object(attributes), Json::Null);
            }
            if naming == AttributeNaming::Legacy {
                attributes.remove("feature_flag.result.value");
                for (new, old) in RENAMES {
                    if let Some(v) = attributes.remove(new) {
                        attributes.insert(old.into(), v);
                    }
                }
            } else {
                for (new, old) in RENAMES {
                    if let Some(v) = attributes.get(new).cloned() {
                        attributes.insert(old.into(), v);
                    }
                }
            }
            (Json::Object(attributes), body)
        })
        .collect()
}

fn json_of(value: &AnyValue) -> Json {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => json!(s),
        Some(any_value::Value::BoolValue(b)) => json!(b),
        Some(any_value::Value::IntValue(i)) => json!(i),
        Some(any_value::Value::DoubleValue(d)) => json!(d),
        Some(any_value::Value::ArrayValue(list)) => {
            Json::Array(list.values.iter().map(json_of).collect())
        }
        Some(any_value::Value::KvlistValue(map)) => Json::Object(
            map.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        kv.value.as_ref().map_or(Json::Null, json_of),
                    )
                })
                .collect(),
        ),
        other => json!(format!("unexpected {other:?}")),
    }
}

fn attributes_of(record: &LogRecord) -> Json {
    let map: BTreeMap<_, _> = record
        .attributes
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map_or(Json::Null, json_of),
            )
        })
        .collect();
    assert_eq!(
        map.len(),
        record.attributes.len(),
        "no attribute written twice"
    );
    json!(map)
}

/// (trace id, span id) of the span the evaluations ran in.
type TraceIds = (Vec<u8>, Vec<u8>);

/// Sends the evaluations through a real exporter and returns the decoded log records.
fn export(
    naming: AttributeNaming,
    result_value: ResultValue,
    inside_span: bool,
) -> (Vec<LogRecord>, Option<TraceIds>) {
    let receiver = HttpReceiver::start().unwrap_or_else(|e| panic!("no loopback port: {e}"));
    let exporter = LogExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/logs", receiver.url()))
        .with_timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_else(|e| panic!("exporter: {e}"));
    let logs = SdkLoggerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    let events = LogEventSink::from_provider(&logs)
        .with_naming(naming)
        .with_result_value(result_value);
    let hook = TelemetryHook::builder()
        .sink(events.clone())
        .context_id(ContextIdPolicy::Keep)
        .build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let mut api = OpenFeature::default();
    runtime.block_on(async {
        api.set_provider(provider()).await;
        api.add_hook(hook).await;
    });

    let mut ids = None;
    if inside_span {
        let tracer = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .build()
            .tracer("test");
        tracer.in_span("handle-request", |cx| {
            let span = cx.span().span_context().clone();
            ids = Some((
                span.trace_id().to_bytes().to_vec(),
                span.span_id().to_bytes().to_vec(),
            ));
            runtime.block_on(evaluate_all(&api));
        });
    } else {
        runtime.block_on(evaluate_all(&api));
    }
    // The sink emits on its own thread: wait for it, then for the batch processor.
    assert!(events.flush(Duration::from_secs(10)).is_complete());
    assert!(logs.force_flush().is_ok());

    let requests = receiver.wait_until(Duration::from_secs(10), |r| !r.is_empty());
    let mut records = Vec::new();
    for request in requests {
        assert_eq!(request.path, "/v1/logs");
        assert_eq!(
            request.header("content-type"),
            Some("application/x-protobuf")
        );
        let decoded = ExportLogsServiceRequest::decode(request.body.as_slice())
            .unwrap_or_else(|e| panic!("not an ExportLogsServiceRequest: {e}"));
        for resource in decoded.resource_logs {
            for scope in resource.scope_logs {
                assert_eq!(
                    scope.scope.as_ref().map(|s| s.name.as_str()),
                    Some("openfeature-hooks-otel")
                );
                records.extend(scope.log_records);
            }
        }
    }
    let _ = logs.shutdown();
    (records, ids)
}

fn check(naming: AttributeNaming, result_value: ResultValue) {
    let (records, _) = export(naming, result_value, false);
    let expected = expected(naming, result_value);
    assert_eq!(
        records.len(),
        expected.len(),
        "{naming:?} {result_value:?}: one event per evaluation"
    );
    for (record, (attributes, body)) in records.iter().zip(expected) {
        assert_eq!(record.event_name, "feature_flag.evaluation");
        assert_eq!(record.severity_text, "INFO");
        assert_eq!(record.severity_number, 9, "INFO");
        assert!(record.time_unix_nano > 0);
        assert_eq!(
            attributes_of(record),
            attributes,
            "{naming:?} {result_value:?}"
        );
        let actual_body = record.body.as_ref().map_or(Json::Null, json_of);
        assert_eq!(
            actual_body, body,
            "{naming:?} {result_value:?} body of {attributes}"
        );
    }
}

#[test]
fn current_naming_over_otlp() {
    check(AttributeNaming::Current, ResultValue::default());
}

/// The default rule, spelled out on the wire: with a variant there is no value attribute
/// (`checkout`, `ld`, `color`), without one there is (`plain`, `ratio`, `layout`).
#[test]
fn by_default_the_value_is_written_only_without_a_variant() {
    let (records, _) = export(AttributeNaming::default(), ResultValue::default(), false);
    let has_value: Vec<(String, bool)> = records
        .iter()
        .map(|record| {
            let attributes = attributes_of(record);
            (
                attributes["feature_flag.key"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                attributes.get("feature_flag.result.value").is_some(),
            )
        })
        .collect();
    let expected = [
        ("checkout", false),
        ("plain", true),
        ("ld", false),
        ("missing", false),
        ("color", false),
        ("ratio", true),
        ("layout", true),
    ];
    assert_eq!(has_value, expected.map(|(k, v)| (k.to_owned(), v)).to_vec());
}

#[test]
fn current_naming_writing_every_value_over_otlp() {
    check(AttributeNaming::Current, ResultValue::Always);
}

#[test]
fn current_naming_writing_no_value_over_otlp() {
    check(AttributeNaming::Current, ResultValue::Never);
}

#[test]
fn legacy_naming_keeps_the_value_in_the_body_whatever_the_rule() {
    check(AttributeNaming::Legacy, ResultValue::Never);
}

#[test]
fn both_namings_writing_every_value_over_otlp() {
    check(AttributeNaming::Both, ResultValue::Always);
}

#[test]
fn legacy_naming_over_otlp() {
    check(AttributeNaming::Legacy, ResultValue::default());
}

#[test]
fn both_namings_over_otlp() {
    check(AttributeNaming::Both, ResultValue::default());
}

#[test]
fn events_carry_the_active_spans_trace_context() {
    let (records, ids) = export(AttributeNaming::Current, ResultValue::default(), true);
    let (trace_id, span_id) = ids.unwrap_or_default();
    assert_eq!(records.len(), 7);
    assert_eq!(trace_id.len(), 16);
    for record in records {
        assert_eq!(record.trace_id, trace_id);
        assert_eq!(record.span_id, span_id);
    }
}

#[test]
fn outside_a_span_events_have_no_trace_context() {
    let (records, _) = export(AttributeNaming::Current, ResultValue::default(), false);
    assert!(
        records
            .iter()
            .all(|r| r.trace_id.is_empty() && r.span_id.is_empty())
    );
}
