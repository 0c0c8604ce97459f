//! Quickstart: flag evaluations recorded for OpenTelemetry, Sentry and Datadog at once, with no
//! external service.
//!
//! Run: `cargo run --example quickstart --all-features`
//!
//! An in-memory provider answers a boolean, a string, a number and a struct flag, one flag
//! fails, and one answers with a LaunchDarkly reason. One hook feeds every backend, each with an
//! embedded stand-in for its service: OpenTelemetry log events go to the SDK's in-memory
//! exporter, Sentry events to a real Sentry client whose transport keeps envelopes here, and
//! Datadog's span tags and `experiments.IsEnabled` spans to the OpenTelemetry SDK (Datadog's Rust
//! tracer is an OpenTelemetry layer). A table then shows what each backend received.

#![allow(clippy::print_stdout)] // printing is what this example is for

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use open_feature::{
    EvaluationContext, EvaluationErrorCode, EvaluationReason, OpenFeature, StructValue, Value,
};
use openfeature_hooks::datadog::{ExperimentSpanSink, SpanTagsSink};
use openfeature_hooks::otel::LogEventSink;
use openfeature_hooks::sentry::{SentrySink, with_flags_context};
use openfeature_hooks::{ContextIdKey, ContextIdPolicy, JsonLinesSink, TelemetryHook};
use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};
use opentelemetry::logs::AnyValue;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use sentry::{Envelope, Transport};
use serde_json::Value as Json;

const FLAGS: [&str; 6] = [
    "new-checkout",
    "button-color",
    "max-items",
    "banner",
    "beta-search",
    "pricing-v2",
];

fn provider() -> InMemoryProvider {
    InMemoryProvider::new("in-memory")
        .with_flag(
            "new-checkout",
            InMemoryFlag::new(true)
                .variant("on")
                .reason(Some(EvaluationReason::TargetingMatch))
                .metadata("flagSetId", "checkout")
                .metadata("version", "12"),
        )
        .with_flag(
            "button-color",
            InMemoryFlag::new("green")
                .variant("treatment")
                .reason(Some(EvaluationReason::Split)),
        )
        .with_flag(
            "max-items",
            InMemoryFlag::new(25_i64).reason(Some(EvaluationReason::Static)),
        )
        .with_flag(
            "banner",
            InMemoryFlag::new(Value::Struct(
                StructValue::default().with_field("text", "Welcome back"),
            ))
            .variant("welcome"),
        )
        .with_flag(
            "beta-search",
            InMemoryFlag::new(false)
                .variant("off")
                .reason(Some(EvaluationReason::Other("RULE_MATCH".into()))),
        )
        .with_flag(
            "pricing-v2",
            InMemoryFlag::failing(
                EvaluationErrorCode::ParseError,
                Some("rule 3: unknown operator"),
            ),
        )
}

/// Keeps what a real Sentry client would have sent, serialised as it would go on the wire.
#[derive(Default)]
struct KeepEnvelopes(Mutex<Vec<Vec<u8>>>);

impl Transport for KeepEnvelopes {
    fn send_envelope(&self, envelope: Envelope) {
        let mut bytes = Vec::new();
        if envelope.to_writer(&mut bytes).is_ok() {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(bytes);
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // The embedded stand-ins for the three services.
    let log_events = InMemoryLogExporter::default();
    let otel_logs = SdkLoggerProvider::builder()
        .with_simple_exporter(log_events.clone())
        .build();
    let datadog_spans = InMemorySpanExporter::default();
    let tracers = SdkTracerProvider::builder()
        .with_simple_exporter(datadog_spans.clone())
        .build();
    let sentry_wire = Arc::new(KeepEnvelopes::default());
    let mut sentry_options = sentry::ClientOptions::new().dsn("https://public@sentry.invalid/1");
    sentry_options.transport = Some(Arc::new(sentry_wire.clone()));
    let _sentry = sentry::init(with_flags_context(sentry_options));

    // One hook, normalising each evaluation once for every backend. JSON lines, log events and
    // experiment spans are made on background threads; the hook's guard drains them all.
    let json_lines = JsonLinesSink::new(std::io::stdout());
    let hook = TelemetryHook::builder()
        .sink(json_lines.clone())
        .sink(LogEventSink::from_provider(&otel_logs))
        .sink(SentrySink::new())
        .sink(SpanTagsSink::new())
        .sink(ExperimentSpanSink::new(tracers.tracer("openfeature-hooks")))
        // A keyed hash of the targeting key, never the key itself.
        .context_id(ContextIdPolicy::hashed(ContextIdKey::random()))
        .build();
    // Kept until the end of `main`: its drop drains every queue behind the hook.
    let guard = hook.shutdown_guard();

    let mut api = OpenFeature::default();
    api.set_provider(provider()).await;
    api.add_hook(hook).await;
    let client = api.create_named_client("quickstart");
    let user = EvaluationContext::default().with_targeting_key("user-42");

    println!("# One JSON line per evaluation (the JSON-lines sink)\n");
    let request = tracers.tracer("app").start("GET /checkout");
    let cx = opentelemetry::Context::current_with_span(request);
    {
        let _in_request = cx.clone().attach();
        let _ = client
            .get_bool_value("new-checkout", Some(&user), None)
            .await;
        let _ = client
            .get_string_value("button-color", Some(&user), None)
            .await;
        let _ = client.get_int_value("max-items", Some(&user), None).await;
        let _ = client
            .get_struct_value::<StructValue>("banner", Some(&user), None)
            .await;
        let _ = client
            .get_bool_value("beta-search", Some(&user), None)
            .await;
        let fallback = client
            .get_bool_value("pricing-v2", Some(&user), None)
            .await
            .unwrap_or(false);
        // The lines before the next heading (a flush mid-run; the guard does it at the end).
        let _ = json_lines.flush(Duration::from_secs(5));
        println!("\n# pricing-v2 failed; the application fell back to {fallback}");
        sentry::capture_message("checkout failed", sentry::Level::Error);
    }
    drop(cx);
    // Shutdown order: the hook's guard first, then the providers (here read in memory).
    drop(guard);

    print_table(
        &otel_table(&log_events),
        &sentry_flags(&sentry_wire),
        &datadog_table(&datadog_spans),
    );
}

/// flag -> "variant / reason" (or error type) of its OpenTelemetry log event.
fn otel_table(exporter: &InMemoryLogExporter) -> BTreeMap<String, String> {
    let mut table = BTreeMap::new();
    for log in exporter.get_emitted_logs().unwrap_or_default() {
        let attrs: BTreeMap<String, String> = log
            .record
            .attributes_iter()
            .map(|(k, v)| (k.to_string(), text(v)))
            .collect();
        let get = |k: &str| attrs.get(k).cloned();
        let key = get("feature_flag.key").unwrap_or_default();
        let summary = match get("error.type") {
            Some(error) => format!("error.type={error}"),
            None => format!(
                "{} / {}",
                get("feature_flag.result.variant").unwrap_or("-".into()),
                get("feature_flag.result.reason").unwrap_or_default()
            ),
        };
        table.insert(key, summary);
    }
    table
}

/// An attribute's value as plain text.
fn text(value: &AnyValue) -> String {
    match value {
        AnyValue::String(text) => text.as_str().to_owned(),
        AnyValue::Boolean(flag) => flag.to_string(),
        AnyValue::Int(number) => number.to_string(),
        AnyValue::Double(number) => number.to_string(),
        other => format!("{other:?}"),
    }
}

/// flag -> result in the flags context of the error event Sentry received.
fn sentry_flags(wire: &KeepEnvelopes) -> BTreeMap<String, String> {
    let mut flags = BTreeMap::new();
    for bytes in wire.0.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        for line in String::from_utf8_lossy(bytes).lines() {
            let Ok(item) = serde_json::from_str::<Json>(line) else {
                continue;
            };
            if let Some(values) = item["contexts"]["flags"]["values"].as_array() {
                for value in values {
                    flags.insert(
                        value["flag"].as_str().unwrap_or_default().to_owned(),
                        value["result"].to_string(),
                    );
                }
            }
        }
    }
    flags
}

/// flag -> Datadog span tag, and whether an `experiments.IsEnabled` span was made.
fn datadog_table(exporter: &InMemorySpanExporter) -> BTreeMap<String, String> {
    let spans = exporter.get_finished_spans().unwrap_or_default();
    let mut table = BTreeMap::new();
    for span in &spans {
        for kv in &span.attributes {
            if let Some(flag) = kv.key.as_str().strip_prefix("feature_flags.") {
                let entry = match flag.strip_suffix(".error") {
                    Some(flag) => (flag.to_owned(), format!("error tag {}", kv.value)),
                    None => (flag.to_owned(), format!("tag {}", kv.value)),
                };
                table.insert(entry.0, entry.1);
            }
        }
    }
    for span in spans.iter().filter(|s| {
        s.attributes
            .iter()
            .any(|kv| kv.key.as_str() == "operation.name")
    }) {
        if let Some(entry) = table.get_mut(span.name.as_ref()) {
            entry.push_str(" + experiment span");
        }
    }
    table
}

fn print_table(
    otel: &BTreeMap<String, String>,
    sentry: &BTreeMap<String, String>,
    datadog: &BTreeMap<String, String>,
) {
    println!("\n# What each backend received\n");
    println!(
        "{:<13} {:<34} {:<22} Datadog span",
        "flag", "OpenTelemetry log event", "Sentry flags context"
    );
    println!("{}", "-".repeat(100));
    for flag in FLAGS {
        let cell = |table: &BTreeMap<String, String>, flag: &str| {
            table.get(flag).cloned().unwrap_or_else(|| "-".to_owned())
        };
        println!(
            "{:<13} {:<34} {:<22} {}",
            flag,
            cell(otel, flag),
            cell(sentry, flag),
            cell(datadog, flag)
        );
    }
    println!(
        "\nSentry records booleans only (as its Python and JavaScript SDKs do) and drops failed flags;\n\
         Datadog gets the variant, or the value without one, and an experiments.IsEnabled span."
    );
}
