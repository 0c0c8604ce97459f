//! The JSON-lines sink: one parseable line per evaluation, with the documented fields.

mod support;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use open_feature::{EvaluationContext, OpenFeature};
use openfeature_hooks_core::{ContextIdPolicy, CustomAttribute, JsonLinesSink, TelemetryHook};
use openfeature_hooks_testkit::SharedBuffer;
use serde_json::{Value as Json, json};

/// How long a test waits for the sink's thread to write what was queued.
const FLUSH: Duration = Duration::from_secs(10);

/// The JSON objects written so far, one per line, after waiting for `sink` to write them.
fn lines(sink: &JsonLinesSink, buffer: &SharedBuffer) -> Vec<Json> {
    assert!(
        sink.flush(FLUSH).is_complete(),
        "the lines were written in time"
    );
    buffer
        .text()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or(Json::Null))
        .collect()
}

/// Drops the `time` field after checking its shape.
fn without_time(mut line: Json) -> Json {
    let time = line["time"].as_str().unwrap_or_default().to_owned();
    assert_eq!(time.len(), "2026-11-21T05:09:01.000005Z".len(), "{time}");
    assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
    line.as_object_mut().map(|o| o.remove("time"));
    line
}

#[tokio::test]
async fn lines_carry_the_documented_fields() {
    let out = SharedBuffer::new();
    let sink = JsonLinesSink::new(out.clone());
    let hook = TelemetryHook::builder()
        .sink(sink.clone())
        .context_id(ContextIdPolicy::Keep)
        .custom_attributes(|_, _| vec![CustomAttribute::new("team", "web")])
        .build();
    let mut api = OpenFeature::default();
    api.set_provider(support::provider()).await;
    let client = api.create_named_client("shop").with_hook(hook);
    let context = EvaluationContext::default().with_targeting_key("user-1");

    let _ = client.get_bool_value("bool-on", Some(&context), None).await;
    let _ = client.get_bool_value("ld-rule", None, None).await;
    let _ = client.get_bool_value("broken", Some(&context), None).await;
    let _ = client.get_float_value("ratio", None, None).await;

    let lines: Vec<_> = lines(&sink, &out).into_iter().map(without_time).collect();
    assert_eq!(
        lines,
        vec![
            json!({
                "flag_key": "bool-on", "flag_type": "boolean", "value": true, "variant": "on",
                "reason": "targeting_match", "context_id": "ctx-from-metadata",
                "provider": "fixture", "client": "shop", "set_id": "checkout", "version": 7,
                "metadata": {"contextId": "ctx-from-metadata", "flagSetId": "checkout", "version": 7},
                "attributes": {"team": "web"}
            }),
            json!({
                "flag_key": "ld-rule", "flag_type": "boolean", "value": true, "variant": "true",
                "reason": "targeting_match", "provider_reason": "RULE_MATCH",
                "provider": "fixture", "client": "shop", "attributes": {"team": "web"}
            }),
            json!({
                "flag_key": "broken", "flag_type": "boolean", "reason": "error",
                "error_type": "parse_error", "error_message": "unexpected token at 1:7",
                "context_id": "user-1", "provider": "fixture", "client": "shop",
                "attributes": {"team": "web"}
            }),
            json!({
                "flag_key": "ratio", "flag_type": "float", "value": 0.25, "reason": "default",
                "provider": "fixture", "client": "shop", "attributes": {"team": "web"}
            }),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_lines_never_interleave() {
    let out = SharedBuffer::new();
    let sink = JsonLinesSink::new(out.clone());
    let hook = TelemetryHook::builder()
        .sink(sink.clone())
        .context_id(ContextIdPolicy::Keep)
        .build();
    let mut api = OpenFeature::default();
    api.set_provider(support::provider()).await;
    let client = Arc::new(api.create_client().with_hook(hook));

    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let client = client.clone();
            tokio::spawn(async move {
                for i in 0..500 {
                    let context =
                        EvaluationContext::default().with_targeting_key(format!("{task}-{i}"));
                    let _ = client.get_string_value("color", Some(&context), None).await;
                }
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.is_ok());
    }
    let lines = lines(&sink, &out);
    assert_eq!(lines.len(), 4000);
    assert!(
        lines
            .iter()
            .all(|l| l["flag_key"] == "color" && l["value"] == "blue")
    );
}

#[test]
fn write_errors_are_counted_not_raised() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = JsonLinesSink::new(Broken);
    let hook = TelemetryHook::builder().sink(sink.clone()).build();
    let runtime = tokio::runtime::Builder::new_current_thread().build();
    let Ok(runtime) = runtime else { return };
    runtime.block_on(async {
        let mut api = OpenFeature::default();
        api.set_provider(support::provider()).await;
        let client = api.create_client().with_hook(hook);
        for _ in 0..3 {
            assert_eq!(client.get_bool_value("bool-on", None, None).await, Ok(true));
        }
    });
    assert!(sink.flush(FLUSH).is_complete());
    assert_eq!(sink.write_errors(), 3);
}

/// Long exports rotate files: the sink writes through `tracing-appender`'s rolling appender
/// (a real one, on disk) into its dated file, every line whole.
#[tokio::test]
async fn lines_go_to_a_rolling_file() {
    let directory = std::env::temp_dir().join(format!(
        "openfeature-hooks-rolling-{}-{}",
        std::process::id(),
        std::time::UNIX_EPOCH
            .elapsed()
            .map_or(0, |since| since.as_nanos())
    ));
    let appender = tracing_appender::rolling::daily(&directory, "flags.jsonl");
    let sink = JsonLinesSink::new(appender);
    let hook = TelemetryHook::builder().sink(sink.clone()).build();
    let mut api = OpenFeature::default();
    api.set_provider(support::provider()).await;
    let client = api.create_client().with_hook(hook);
    for _ in 0..100 {
        let _ = client.get_string_value("color", None, None).await;
    }
    assert!(
        sink.flush(FLUSH).is_complete(),
        "the lines were written in time"
    );

    // One file a day, named by its date (two if the test ran across midnight UTC).
    let mut names = Vec::new();
    let mut text = String::new();
    for entry in std::fs::read_dir(&directory)
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        names.push(name);
    }
    let _ = std::fs::remove_dir_all(&directory);
    assert!(!names.is_empty() && names.len() <= 2, "{names:?}");
    for name in &names {
        let date = name.strip_prefix("flags.jsonl.").unwrap_or_default();
        assert_eq!(date.len(), "2026-11-29".len(), "a dated file: {name}");
    }
    let lines: Vec<Json> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or(Json::Null))
        .collect();
    assert_eq!(lines.len(), 100);
    assert!(lines.iter().all(|line| line["flag_key"] == "color"));
}
