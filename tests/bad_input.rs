//! Hostile input through the whole pipeline, every backend on: arbitrary Unicode keys (empty
//! and long ones included), arbitrary provider reasons and error texts, NaN and infinities,
//! deeply nested and huge values, metadata of every type. Nothing panics, every evaluation
//! returns the provider's answer, and every backend's documented limits hold.

#![cfg(feature = "full")]

use open_feature::{
    EvaluationContext, EvaluationErrorCode, EvaluationReason, FlagMetadataValue, OpenFeature,
    StructValue, Value,
};
use openfeature_hooks::datadog::__private::{tag_name_part, tag_value};
use openfeature_hooks::datadog::{MAX_TAG_LEN, SpanTagsSink};
use openfeature_hooks::otel::__private::{attribute_value, log_value};
use openfeature_hooks::otel::{LogEventSink, MetricsSink, SpanEventSink};
use openfeature_hooks::sentry::__private::sentry_flag_name;
use openfeature_hooks::sentry::{MAX_FLAG_NAME_LEN, SentrySink};
use openfeature_hooks::{ContextIdPolicy, JsonLinesSink, JsonValue, TelemetryHook};
use openfeature_hooks_core::__private::MAX_CUSTOM_REASON_LEN;
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider, SharedBuffer};
use opentelemetry::trace::{Tracer, TracerProvider};
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY)
        ]
        .prop_map(Value::Float),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::hash_map(".{0,8}", inner, 0..4)
                .prop_map(|fields| Value::Struct(StructValue { fields })),
        ]
    })
}

fn reason() -> impl Strategy<Value = Option<EvaluationReason>> {
    prop_oneof![
        Just(None),
        Just(Some(EvaluationReason::TargetingMatch)),
        Just(Some(EvaluationReason::Split)),
        ".{0,300}".prop_map(|r| Some(EvaluationReason::Other(r))),
    ]
}

fn metadata() -> impl Strategy<Value = Vec<(String, FlagMetadataValue)>> {
    prop::collection::vec(
        (
            prop_oneof![
                Just("version".to_owned()),
                Just("flagSetId".to_owned()),
                Just("contextId".to_owned()),
                ".{0,10}"
            ],
            prop_oneof![
                any::<bool>().prop_map(FlagMetadataValue::Bool),
                any::<i64>().prop_map(FlagMetadataValue::Int),
                any::<f64>().prop_map(FlagMetadataValue::Float),
                ".{0,20}".prop_map(FlagMetadataValue::String),
            ],
        ),
        0..4,
    )
}

/// Everything the backends produced for one evaluation.
struct Outputs {
    json: Vec<serde_json::Value>,
    log_keys: Vec<String>,
    span_attributes: Vec<(String, String)>,
}

/// Evaluates `key` once, answered with `answer`, through every backend.
fn evaluate(
    key: &str,
    answer: FixtureFlag,
    as_type: &Value,
) -> (Result<bool, open_feature::EvaluationError>, Outputs) {
    let lines = SharedBuffer::new();
    let logs = InMemoryLogExporter::default();
    let log_provider = SdkLoggerProvider::builder()
        .with_simple_exporter(logs.clone())
        .build();
    let spans = InMemorySpanExporter::default();
    let tracers = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let meters = SdkMeterProvider::builder().build();
    let hook = TelemetryHook::builder()
        .sink(JsonLinesSink::new(lines.clone()))
        .sink(LogEventSink::from_provider(&log_provider))
        .sink(SpanEventSink::new())
        .sink(MetricsSink::from_provider(&meters))
        .sink(SentrySink::new())
        .sink(SpanTagsSink::new())
        .context_id(ContextIdPolicy::Keep)
        .build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let ok = tracers.tracer("t").in_span("request", |_| {
        runtime.block_on(async {
            let mut api = OpenFeature::default();
            api.set_provider(FixtureProvider::new("fixture").with_flag(key, answer))
                .await;
            api.add_hook(hook).await;
            let client = api.create_client();
            let user = EvaluationContext::default().with_targeting_key(key);
            match as_type {
                Value::Bool(expected) => client
                    .get_bool_value(key, Some(&user), None)
                    .await
                    .map(|v| v == *expected),
                Value::Int(expected) => client
                    .get_int_value(key, Some(&user), None)
                    .await
                    .map(|v| v == *expected),
                Value::Float(expected) => client
                    .get_float_value(key, Some(&user), None)
                    .await
                    .map(|v| v == *expected || (v.is_nan() && expected.is_nan())),
                Value::String(expected) => client
                    .get_string_value(key, Some(&user), None)
                    .await
                    .map(|v| v == *expected),
                Value::Struct(expected) => client
                    .get_struct_value::<StructValue>(key, Some(&user), None)
                    .await
                    .map(|v| {
                        JsonValue::new(&Value::Struct(v)).to_json_string()
                            == JsonValue::new(&Value::Struct(expected.clone())).to_json_string()
                    }),
                Value::Array(_) => Ok(true),
            }
        })
    });
    let text = lines.text();
    let json = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let log_keys = logs
        .get_emitted_logs()
        .unwrap_or_default()
        .iter()
        .flat_map(|log| {
            log.record
                .attributes_iter()
                .filter(|(k, _)| k.as_str() == "feature_flag.key")
                .map(|(_, v)| format!("{v:?}"))
                .collect::<Vec<_>>()
        })
        .collect();
    let span_attributes = spans
        .get_finished_spans()
        .unwrap_or_default()
        .iter()
        .flat_map(|s| {
            s.attributes
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    (
        ok,
        Outputs {
            json,
            log_keys,
            span_attributes,
        },
    )
}

fn check_limits(key: &str, outputs: &Outputs) {
    assert_eq!(outputs.json.len(), 1, "one JSON line");
    let line = &outputs.json[0];
    assert_eq!(line["flag_key"].as_str(), Some(key));
    if let Some(reason) = line["reason"].as_str() {
        assert!(reason.len() <= MAX_CUSTOM_REASON_LEN);
        // Lower case wherever Unicode defines it (some capitals, like U+1D67D, have no lower case).
        assert_eq!(reason.to_lowercase(), reason, "{reason:?}");
        assert!(
            !reason
                .chars()
                .any(|c| c.is_ascii_uppercase() || c.is_whitespace()),
            "{reason:?}"
        );
    }
    assert_eq!(outputs.log_keys.len(), 1, "one log event");
    for (name, value) in &outputs.span_attributes {
        if name.starts_with("feature_flags.") {
            assert!(name.chars().count() <= "feature_flags.".len() + MAX_TAG_LEN + ".error".len());
            assert!(value.chars().count() <= MAX_TAG_LEN);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_successful_answer_is_returned_and_recorded_within_limits(
        key in ".{0,300}",
        answer in value().prop_filter("arrays cannot be asked for", |v| !matches!(v, Value::Array(_))),
        variant in prop::option::of(".{0,300}"),
        reason in reason(),
        metadata in metadata(),
    ) {
        let mut flag = FixtureFlag::new(answer.clone()).reason(reason);
        if let Some(variant) = variant {
            flag = flag.variant(variant);
        }
        for (name, value) in metadata {
            flag = flag.metadata(&name, value);
        }
        let (result, outputs) = evaluate(&key, flag, &answer);
        prop_assert!(matches!(result, Ok(true)), "the caller got the provider's value: {result:?}");
        check_limits(&key, &outputs);
    }

    #[test]
    fn any_failure_is_recorded_within_limits(key in ".{0,300}", text in ".{0,500}", code in 0..7_usize) {
        let code = [
            EvaluationErrorCode::ProviderNotReady,
            EvaluationErrorCode::FlagNotFound,
            EvaluationErrorCode::ParseError,
            EvaluationErrorCode::TypeMismatch,
            EvaluationErrorCode::TargetingKeyMissing,
            EvaluationErrorCode::InvalidContext,
            EvaluationErrorCode::General(text.clone()),
        ][code].clone();
        let (_, outputs) = evaluate(&key, FixtureFlag::failing(code, Some(&text)), &Value::Bool(true));
        check_limits(&key, &outputs);
        prop_assert!(outputs.json[0]["error_type"].is_string());
    }

    #[test]
    fn backend_names_and_values_respect_their_limits(key in ".{0,1000}", value in value()) {
        if let Some(name) = sentry_flag_name(&key) {
            prop_assert!(name.chars().count() <= MAX_FLAG_NAME_LEN);
            prop_assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c)));
        } else {
            prop_assert!(key.is_empty());
        }
        prop_assert!(tag_name_part(&key).chars().count() <= MAX_TAG_LEN);
        prop_assert!(tag_value(&value).chars().count() <= MAX_TAG_LEN);
        let _ = (log_value(&value), attribute_value(&value));
        prop_assert!(serde_json::from_str::<serde_json::Value>(&JsonValue::new(&value).to_json_string()).is_ok());
    }
}

#[test]
fn megabyte_keys_and_values_and_deep_structs() {
    let key = "k".repeat(1 << 20);
    let big = Value::String("v".repeat(1 << 20));
    let (result, outputs) = evaluate(
        &key,
        FixtureFlag::new(big.clone()).variant("v".repeat(1 << 20)),
        &big,
    );
    assert!(matches!(result, Ok(true)));
    check_limits(&key, &outputs);

    let mut deep = Value::Bool(true);
    for i in 0..300 {
        deep = Value::Struct(StructValue::default().with_field(format!("level{i}"), deep));
    }
    let (result, outputs) = evaluate("deep", FixtureFlag::new(deep.clone()), &deep);
    assert!(matches!(result, Ok(true)));
    check_limits("deep", &outputs);
    // Tear the 300-deep value down iteratively: open-feature's own Drop recurses.
    let mut value = deep;
    while let Value::Struct(mut fields) = value {
        value = fields
            .fields
            .drain()
            .next()
            .map(|(_, v)| v)
            .unwrap_or(Value::Bool(false));
    }
}
