//! One record per evaluation, describing what the caller received, through a real
//! `open-feature` client for every way an evaluation can end.

mod support;

use open_feature::{EvaluationContext, EvaluationErrorCode, OpenFeature, StructValue, Value};
use openfeature_hooks_core::{ContextIdPolicy, TelemetryHook};
use openfeature_hooks_testkit::{RecordedEvaluation, RecordingSink};
use support::{FailingHook, provider};

fn hook(sink: &RecordingSink) -> TelemetryHook {
    TelemetryHook::builder()
        .sink(sink.clone())
        .context_id(ContextIdPolicy::Keep)
        .build()
}

async fn api() -> OpenFeature {
    let mut api = OpenFeature::default();
    api.set_provider(provider()).await;
    api
}

fn user() -> EvaluationContext {
    EvaluationContext::default().with_targeting_key("user-1")
}

#[tokio::test]
async fn success_records_value_variant_reason_and_metadata() {
    let sink = RecordingSink::new();
    let client = api()
        .await
        .create_named_client("checkout-service")
        .with_hook(hook(&sink));

    assert_eq!(
        client.get_bool_value("bool-on", Some(&user()), None).await,
        Ok(true)
    );

    assert_eq!(
        sink.records(),
        vec![RecordedEvaluation {
            flag_key: "bool-on".into(),
            flag_type: "boolean".into(),
            value: Some(Value::Bool(true)),
            variant: Some("on".into()),
            reason: Some("targeting_match".into()),
            context_id: Some("ctx-from-metadata".into()),
            provider_name: Some("fixture".into()),
            client_name: Some("checkout-service".into()),
            set_id: Some("checkout".into()),
            version: Some("7".into()),
            metadata_len: Some(3),
            ..Default::default()
        }]
    );
}

#[tokio::test]
async fn every_flag_type_and_reason_shape() {
    let sink = RecordingSink::new();
    let client = api().await.create_client().with_hook(hook(&sink));

    assert_eq!(
        client.get_bool_value("plain", Some(&user()), None).await,
        Ok(false)
    );
    assert_eq!(client.get_bool_value("ld-rule", None, None).await, Ok(true));
    assert_eq!(
        client
            .get_string_value("color", None, None)
            .await
            .as_deref(),
        Ok("blue")
    );
    assert_eq!(client.get_float_value("ratio", None, None).await, Ok(0.25));
    let layout: Result<StructValue, _> = client.get_struct_value("layout", None, None).await;
    assert!(layout.is_ok());

    let records = sink.records();
    let summary: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.flag_key.as_str(),
                r.flag_type.as_str(),
                r.value.clone(),
                r.variant.as_deref(),
                r.reason.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("plain", "boolean", Some(Value::Bool(false)), None, None),
            (
                "ld-rule",
                "boolean",
                Some(Value::Bool(true)),
                Some("true"),
                Some("targeting_match")
            ),
            (
                "color",
                "string",
                Some(Value::String("blue".into())),
                Some("b"),
                Some("split")
            ),
            (
                "ratio",
                "float",
                Some(Value::Float(0.25)),
                None,
                Some("default")
            ),
            (
                "layout",
                "object",
                Some(Value::Struct(
                    StructValue::default().with_field("columns", 3_i64)
                )),
                None,
                Some("static")
            ),
        ]
    );
    // No metadata: no set id, version or context id from metadata; the targeting key is used.
    assert_eq!(records[0].context_id.as_deref(), Some("user-1"));
    assert_eq!(records[0].metadata_len, None);
    assert_eq!(
        records[1].context_id, None,
        "no targeting key, no metadata: no context id"
    );
}

#[tokio::test]
async fn provider_error_records_error_type_and_message_without_value() {
    let sink = RecordingSink::new();
    let client = api().await.create_client().with_hook(hook(&sink));

    let result = client.get_bool_value("broken", Some(&user()), None).await;
    assert_eq!(
        result.map_err(|e| e.code),
        Err(EvaluationErrorCode::ParseError)
    );
    let missing = client.get_int_value("no-such-flag", None, None).await;
    assert_eq!(
        missing.map_err(|e| e.code),
        Err(EvaluationErrorCode::FlagNotFound)
    );
    let mismatch = client.get_int_value("color", None, None).await;
    assert_eq!(
        mismatch.map_err(|e| e.code),
        Err(EvaluationErrorCode::TypeMismatch)
    );

    let records = sink.records();
    assert_eq!(records.len(), 3);
    assert_eq!(
        records[0],
        RecordedEvaluation {
            flag_key: "broken".into(),
            flag_type: "boolean".into(),
            reason: Some("error".into()),
            error_type: Some("parse_error".into()),
            error_message: Some("unexpected token at 1:7".into()),
            context_id: Some("user-1".into()),
            provider_name: Some("fixture".into()),
            ..Default::default()
        }
    );
    assert_eq!(records[1].error_type.as_deref(), Some("flag_not_found"));
    assert_eq!(
        records[1].error_message.as_deref(),
        Some(r#"no flag named "no-such-flag""#)
    );
    assert_eq!(records[1].flag_type, "integer");
    assert_eq!(records[2].error_type.as_deref(), Some("type_mismatch"));
    assert!(
        records.iter().all(|r| r.value.is_none()),
        "T::default() is never reported"
    );
}

#[tokio::test]
async fn a_failing_before_hook_registered_earlier_gives_one_error_record() {
    let sink = RecordingSink::new();
    // Before-order is registration order: the failing hook runs first, ours never runs `before`.
    let client = api()
        .await
        .create_client()
        .with_hook(FailingHook::before())
        .with_hook(hook(&sink));

    let result = client.get_bool_value("bool-on", None, None).await;
    assert!(result.is_err());
    let records = sink.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].error_type.as_deref(), Some("general"));
    assert_eq!(
        records[0].error_message.as_deref(),
        Some("before hook failed")
    );
    assert_eq!(records[0].value, None);
}

#[tokio::test]
async fn a_failing_before_hook_registered_later_gives_one_error_record() {
    let sink = RecordingSink::new();
    let client = api()
        .await
        .create_client()
        .with_hook(hook(&sink))
        .with_hook(FailingHook::before());

    assert!(client.get_bool_value("bool-on", None, None).await.is_err());
    let records = sink.records();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].error_message.as_deref(),
        Some("before hook failed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_after_hook_after_ours_keeps_the_value_the_caller_received() {
    let sink = RecordingSink::new();
    // After-order is reverse registration order: ours (registered last) runs `after` first,
    // then the failing hook fails, then the SDK runs every `error` stage and hands `finally` an
    // error, yet the caller still gets the provider's value.
    let client = api()
        .await
        .create_client()
        .with_hook(FailingHook::after())
        .with_hook(hook(&sink));

    assert_eq!(client.get_bool_value("bool-on", None, None).await, Ok(true));
    assert_eq!(
        client
            .get_string_value("color", None, None)
            .await
            .as_deref(),
        Ok("blue")
    );

    let records = sink.records();
    assert_eq!(records.len(), 2, "{records:#?}");
    assert_eq!(records[0].value, Some(Value::Bool(true)));
    assert_eq!(records[0].error_type, None);
    assert_eq!(records[0].reason.as_deref(), Some("targeting_match"));
    assert_eq!(records[1].value, Some(Value::String("blue".into())));
    assert_eq!(records[1].error_type, None);
}

#[tokio::test]
async fn a_failing_after_hook_before_ours_is_recorded_as_its_error() {
    // The documented limit: the SDK never shows our hook the value, only the error.
    let sink = RecordingSink::new();
    let client = api()
        .await
        .create_client()
        .with_hook(hook(&sink))
        .with_hook(FailingHook::after());

    assert_eq!(client.get_bool_value("bool-on", None, None).await, Ok(true));
    let records = sink.records();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].error_message.as_deref(),
        Some("after hook failed")
    );
}

#[tokio::test]
async fn global_registration_records_every_client() {
    let sink = RecordingSink::new();
    let mut api = api().await;
    api.add_hook(hook(&sink)).await;
    let first = api.create_named_client("a");
    let second = api.create_named_client("b");

    assert_eq!(first.get_bool_value("bool-on", None, None).await, Ok(true));
    assert!(second.get_bool_value("broken", None, None).await.is_err());

    let records = sink.records();
    let clients: Vec<_> = records.iter().map(|r| r.client_name.as_deref()).collect();
    assert_eq!(clients, vec![Some("a"), Some("b")]);
    assert_eq!(records[1].error_type.as_deref(), Some("parse_error"));
}

#[tokio::test]
async fn a_mark_left_by_a_failing_after_does_not_leak_into_later_evaluations() {
    let sink = RecordingSink::new();
    let client = api()
        .await
        .create_client()
        .with_hook(FailingHook::after())
        .with_hook(hook(&sink));

    for _ in 0..3 {
        assert_eq!(client.get_bool_value("bool-on", None, None).await, Ok(true));
        assert!(client.get_bool_value("broken", None, None).await.is_err());
    }
    let kinds: Vec<_> = sink
        .records()
        .iter()
        .map(|r| r.error_type.clone())
        .collect();
    let parse_error = Some("parse_error".to_owned());
    assert_eq!(
        kinds,
        vec![
            None,
            parse_error.clone(),
            None,
            parse_error.clone(),
            None,
            parse_error
        ]
    );
}
