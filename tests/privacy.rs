//! With the context id hashed, the raw targeting key appears in no backend's output: JSON lines,
//! OpenTelemetry log events and spans, Sentry's envelope bytes, Datadog's span tags. With `Keep`
//! (the control) it does, so the test would notice an output that stopped carrying ids at all.

#![cfg(feature = "full")]

use std::sync::Arc;

use open_feature::{EvaluationContext, OpenFeature};
use openfeature_hooks::datadog::{ExperimentSpanSink, SpanTagsSink};
use openfeature_hooks::otel::{EvaluationSpanSink, LogEventSink, SpanEventSink};
use openfeature_hooks::sentry::{SentrySink, with_flags_context};
use openfeature_hooks::{ContextIdKey, ContextIdPolicy, JsonLinesSink, TelemetryHook};
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider, SharedBuffer};
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

const SECRET_ID: &str = "alice.secret@example.com";

/// Sentry's wire, kept in a shared buffer.
#[derive(Clone, Default)]
struct Wire(SharedBuffer);

impl sentry::Transport for Wire {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        let mut out = self.0.clone();
        let _ = envelope.to_writer(&mut out);
    }
}

/// Everything every backend emitted for a few evaluations, as one text.
fn everything_emitted(policy: ContextIdPolicy) -> String {
    let json_lines = SharedBuffer::new();
    let logs = InMemoryLogExporter::default();
    let log_provider = SdkLoggerProvider::builder()
        .with_simple_exporter(logs.clone())
        .build();
    let spans = InMemorySpanExporter::default();
    let tracers = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let sentry_wire = Wire::default();
    let mut options = sentry::ClientOptions::new()
        .dsn("https://public@sentry.invalid/1")
        .traces_sample_rate(1.0);
    options.transport = Some(Arc::new(Arc::new(sentry_wire.clone())));
    let client = Arc::new(sentry::Client::from(with_flags_context(options)));
    let hub = Arc::new(sentry::Hub::new(Some(client), Arc::new(Default::default())));

    let hook = TelemetryHook::builder()
        .sink(JsonLinesSink::new(json_lines.clone()))
        .sink(LogEventSink::from_provider(&log_provider))
        .sink(SpanEventSink::new())
        .sink(EvaluationSpanSink::new(tracers.tracer("hooks")))
        .sink(SentrySink::new())
        .sink(SpanTagsSink::new())
        .sink(ExperimentSpanSink::new(tracers.tracer("hooks")))
        .context_id(policy)
        .build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    sentry::Hub::run(hub, || {
        let flags = runtime.block_on(async {
            let mut api = OpenFeature::default();
            api.set_provider(
                FixtureProvider::new("fixture")
                    .with_flag("new-checkout", FixtureFlag::new(true).variant("on"))
                    .with_flag("color", FixtureFlag::new("blue")),
            )
            .await;
            api.add_hook(hook).await;
            api.create_client()
        });
        let request = tracers.tracer("app").start("GET /");
        let cx = opentelemetry::Context::current_with_span(request);
        let _active = cx.clone().attach();
        runtime.block_on(async {
            let user = EvaluationContext::default().with_targeting_key(SECRET_ID);
            let _ = flags
                .get_bool_value("new-checkout", Some(&user), None)
                .await;
            let _ = flags.get_string_value("color", Some(&user), None).await;
            let _ = flags.get_bool_value("missing", Some(&user), None).await;
        });
        sentry::capture_message("boom", sentry::Level::Error);
        cx.span().end();
    });

    let mut text = json_lines.text();
    text.push_str(&sentry_wire.0.text());
    text.push_str(&format!(
        "{:?}",
        logs.get_emitted_logs().unwrap_or_default()
    ));
    text.push_str(&format!(
        "{:?}",
        spans.get_finished_spans().unwrap_or_default()
    ));
    text
}

#[test]
fn hashed_context_ids_leave_no_raw_targeting_key_in_any_backend() {
    let kept = everything_emitted(ContextIdPolicy::Keep);
    assert!(
        kept.contains(SECRET_ID),
        "control: with Keep the id is emitted"
    );
    let hashed = everything_emitted(ContextIdPolicy::hashed(ContextIdKey::from_bytes([9; 16])));
    assert!(
        !hashed.contains(SECRET_ID),
        "the raw id leaked with hashing on"
    );
    assert!(!hashed.contains("alice"));
    assert!(
        hashed.contains("feature_flag.context.id"),
        "hashed ids are still emitted"
    );
    let omitted = everything_emitted(ContextIdPolicy::Omit);
    assert!(!omitted.contains(SECRET_ID));
    assert!(!omitted.contains("feature_flag.context.id"));
}

#[test]
fn keys_never_show_in_debug_output() {
    let key = ContextIdKey::from_bytes([0xAB; 16]);
    assert!(
        !format!("{key:?} {:?}", ContextIdPolicy::hashed(key.clone()))
            .to_lowercase()
            .contains("ab, ab")
    );
    let api_key = openfeature_hooks::datadog::ApiKey::new("dd-secret-api-key");
    assert!(!format!("{api_key:?}").contains("dd-secret-api-key"));
}
