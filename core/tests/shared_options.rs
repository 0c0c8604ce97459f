//! The options every backend shares: exclusions, context id policy, flag filter, custom
//! attributes, panic containment, and fan-out to several sinks.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use open_feature::{EvaluationContext, OpenFeature, Value};
use openfeature_hooks_core::{
    Attribute, ContextIdKey, ContextIdPolicy, CustomAttribute, EvaluationRecord, FnSink, HookStats,
    Reason, TelemetryHook, TelemetryHookBuilder,
};
use openfeature_hooks_testkit::RecordingSink;

async fn client_with(hook: TelemetryHook) -> open_feature::Client {
    let mut api = OpenFeature::default();
    api.set_provider(support::provider()).await;
    api.create_client().with_hook(hook)
}

fn user(key: &str) -> EvaluationContext {
    EvaluationContext::default().with_targeting_key(key)
}

fn builder(sink: &RecordingSink) -> TelemetryHookBuilder {
    TelemetryHook::builder().sink(sink.clone())
}

#[tokio::test]
async fn excluded_attributes_reach_no_sink() {
    let sink = RecordingSink::new();
    let hook = builder(&sink)
        .context_id(ContextIdPolicy::Keep)
        .exclude(Attribute::Value)
        .exclude(Attribute::Metadata)
        .exclude(Attribute::Version)
        .exclude(Attribute::ErrorMessage)
        .build();
    let client = client_with(hook).await;
    assert_eq!(
        client
            .get_bool_value("bool-on", Some(&user("u")), None)
            .await,
        Ok(true)
    );
    assert!(client.get_bool_value("broken", None, None).await.is_err());

    let records = sink.records();
    assert_eq!(records[0].value, None);
    assert_eq!(records[0].metadata_len, None);
    assert_eq!(records[0].version, None);
    assert_eq!(
        records[0].variant.as_deref(),
        Some("on"),
        "only what was excluded is gone"
    );
    assert_eq!(records[0].set_id.as_deref(), Some("checkout"));
    assert_eq!(records[1].error_type.as_deref(), Some("parse_error"));
    assert_eq!(records[1].error_message, None);

    let sink = RecordingSink::new();
    let hook = builder(&sink)
        .context_id(ContextIdPolicy::Keep)
        .exclude(Attribute::ContextId)
        .exclude(Attribute::Reason)
        .exclude(Attribute::Variant)
        .exclude(Attribute::ProviderName)
        .exclude(Attribute::SetId)
        .build();
    let client = client_with(hook).await;
    assert_eq!(
        client
            .get_bool_value("bool-on", Some(&user("u")), None)
            .await,
        Ok(true)
    );
    let record = &sink.records()[0];
    assert_eq!(
        (
            &record.context_id,
            &record.reason,
            &record.variant,
            &record.provider_name,
            &record.set_id
        ),
        (&None, &None, &None, &None, &None)
    );
    assert_eq!(record.value, Some(Value::Bool(true)));
}

#[tokio::test]
async fn context_id_is_omitted_by_default_and_hashed_on_request() {
    let sink = RecordingSink::new();
    let client = client_with(builder(&sink).build()).await;
    let _ = client
        .get_bool_value("plain", Some(&user("alice@example.com")), None)
        .await;
    assert_eq!(sink.records()[0].context_id, None);

    let sink = RecordingSink::new();
    let key = ContextIdKey::from_bytes([3; 16]);
    let client = client_with(
        builder(&sink)
            .context_id(ContextIdPolicy::hashed(key))
            .build(),
    )
    .await;
    let _ = client
        .get_bool_value("plain", Some(&user("alice@example.com")), None)
        .await;
    let _ = client
        .get_bool_value("broken", Some(&user("alice@example.com")), None)
        .await;
    let records = sink.records();
    let hashed = records[0].context_id.clone().unwrap_or_default();
    assert_eq!(hashed.len(), 32);
    assert!(
        !format!("{records:?}").contains("alice"),
        "no raw id anywhere in the records"
    );
    assert_eq!(
        records[1].context_id.as_deref(),
        Some(hashed.as_str()),
        "errors hash alike"
    );
}

#[tokio::test]
async fn flag_filter_selects_flags() {
    let sink = RecordingSink::new();
    let client = client_with(builder(&sink).flag_filter(|key| key != "plain").build()).await;
    let _ = client.get_bool_value("plain", None, None).await;
    let _ = client.get_bool_value("bool-on", None, None).await;
    let _ = client.get_bool_value("broken", None, None).await;
    let keys: Vec<_> = sink.records().into_iter().map(|r| r.flag_key).collect();
    assert_eq!(keys, vec!["bool-on", "broken"]);
}

#[tokio::test]
async fn user_reason_rows_apply() {
    let sink = RecordingSink::new();
    let client = client_with(builder(&sink).reason("rule_match", Reason::Split).build()).await;
    let _ = client.get_bool_value("ld-rule", None, None).await;
    assert_eq!(sink.records()[0].reason.as_deref(), Some("split"));
}

#[tokio::test]
async fn custom_attributes_see_the_hook_context_and_the_record() {
    let sink = RecordingSink::new();
    let hook = builder(&sink)
        .custom_attributes(|context, record| {
            let plan = context
                .evaluation_context
                .custom_fields
                .get("plan")
                .and_then(|v| v.as_str())
                .unwrap_or("none")
                .to_owned();
            vec![
                CustomAttribute::new("app.plan", plan),
                CustomAttribute::new("app.failed", record.is_failure()),
            ]
        })
        .build();
    let client = client_with(hook).await;
    let context = user("u").with_custom_field("plan", "pro");
    let _ = client.get_bool_value("bool-on", Some(&context), None).await;
    let _ = client.get_bool_value("broken", None, None).await;
    let records = sink.records();
    assert_eq!(
        records[0].custom_attributes,
        vec![
            ("app.plan".to_owned(), Value::String("pro".into())),
            ("app.failed".to_owned(), Value::Bool(false))
        ]
    );
    assert_eq!(
        records[1].custom_attributes[1],
        ("app.failed".to_owned(), Value::Bool(true))
    );
}

#[tokio::test]
async fn panicking_callbacks_and_sinks_are_contained_and_the_hook_keeps_working() {
    let sink = RecordingSink::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let hook = builder(&sink)
        .flag_filter(|key| {
            if key == "ratio" {
                panic!("filter bug")
            } else {
                true
            }
        })
        .custom_attributes(move |_, record| {
            counted.fetch_add(1, Ordering::Relaxed);
            if record.flag_key == "color" {
                panic!("mapper bug");
            }
            vec![CustomAttribute::new("ok", true)]
        })
        .sink(FnSink(|record: &EvaluationRecord<'_>| {
            if record.flag_key == "plain" {
                panic!("sink bug");
            }
        }))
        .build();
    let stats = hook.clone();
    let client = client_with(hook).await;

    for _ in 0..2 {
        assert_eq!(
            client
                .get_string_value("color", None, None)
                .await
                .as_deref(),
            Ok("blue")
        );
        assert_eq!(client.get_float_value("ratio", None, None).await, Ok(0.25));
        assert_eq!(client.get_bool_value("plain", None, None).await, Ok(false));
    }
    assert_eq!(client.get_bool_value("bool-on", None, None).await, Ok(true));

    let records = sink.records();
    let keys: Vec<_> = records.iter().map(|r| r.flag_key.as_str()).collect();
    // A panicking filter records; a panicking mapper drops only its attributes; a panicking sink
    // does not stop the other sinks.
    assert_eq!(
        keys,
        vec![
            "color", "ratio", "plain", "color", "ratio", "plain", "bool-on"
        ]
    );
    assert!(records[0].custom_attributes.is_empty());
    assert_eq!(records[1].custom_attributes.len(), 1);
    let HookStats {
        callback_panics,
        sink_panics,
        unmarked_evaluations,
        ..
    } = stats.stats();
    assert_eq!(
        (callback_panics, sink_panics, unmarked_evaluations),
        (4, 2, 0)
    );
}

#[tokio::test]
async fn one_normalisation_feeds_every_sink() {
    let first = RecordingSink::new();
    let second = RecordingSink::new();
    let normalisations = Arc::new(AtomicUsize::new(0));
    let counted = normalisations.clone();
    let hook = TelemetryHook::builder()
        .sink(first.clone())
        .sink(second.clone())
        .custom_attributes(move |_, _| {
            counted.fetch_add(1, Ordering::Relaxed);
            Vec::new()
        })
        .build();
    let client = client_with(hook).await;
    for key in ["bool-on", "plain", "broken"] {
        let _ = client.get_bool_value(key, None, None).await;
    }
    assert_eq!(first.records().len(), 3);
    assert_eq!(first.records(), second.records());
    assert_eq!(
        normalisations.load(Ordering::Relaxed),
        3,
        "one record built per evaluation"
    );
}
