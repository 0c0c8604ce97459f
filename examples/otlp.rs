//! OpenTelemetry over OTLP/HTTP: log events, a span per evaluation and span events, sent to any
//! OTLP endpoint (an OpenTelemetry Collector, Grafana, Honeycomb, Datadog's agent...).
//!
//! ```sh
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 cargo run --example otlp --all-features
//! ```

#![allow(clippy::print_stdout, clippy::print_stderr)] // an example reports what it does

use open_feature::{EvaluationContext, OpenFeature};
use openfeature_hooks::TelemetryHook;
use openfeature_hooks::otel::{AttributeNaming, EvaluationSpanSink, LogEventSink, SpanEventSink};
use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};
use opentelemetry::trace::{Tracer, TracerProvider};
use opentelemetry_otlp::{LogExporter, SpanExporter, WithHttpConfig};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Both exporters read OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318). They are
    // built before any async runtime: their blocking HTTP client runs on the processors' threads.
    let logs = SdkLoggerProvider::builder()
        .with_batch_exporter(
            LogExporter::builder()
                .with_http()
                .with_headers(Default::default())
                .build()?,
        )
        .build();
    let traces = SdkTracerProvider::builder()
        .with_batch_exporter(SpanExporter::builder().with_http().build()?)
        .build();

    // Log events are built and emitted on the hook's thread: its guard drains it.
    let hook = TelemetryHook::builder()
        .sink(LogEventSink::from_provider(&logs).with_naming(AttributeNaming::Current))
        .sink(SpanEventSink::new())
        .sink(EvaluationSpanSink::new(traces.tracer("openfeature-hooks")))
        .build();
    let guard = hook.shutdown_guard();

    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(async {
        let mut api = OpenFeature::default();
        api.set_provider(
            InMemoryProvider::new("in-memory")
                .with_flag("new-checkout", InMemoryFlag::new(true).variant("on"))
                .with_flag(
                    "button-color",
                    InMemoryFlag::new("green").variant("treatment"),
                ),
        )
        .await;
        api.add_hook(hook).await;
        let client = api.create_client();
        let user = EvaluationContext::default().with_targeting_key("user-42");
        let request = traces.tracer("otlp-example").start("GET /checkout");
        let _active = opentelemetry::trace::mark_span_as_active(request);
        let checkout = client
            .get_bool_value("new-checkout", Some(&user), None)
            .await;
        let color = client
            .get_string_value("button-color", Some(&user), None)
            .await;
        println!("new-checkout = {checkout:?}, button-color = {color:?}");
    });

    // Shutdown order: the hook's guard hands every queued event to the SDK, then the providers'
    // shutdown exports it.
    drop(guard);
    logs.shutdown()?;
    traces.shutdown()?;
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .unwrap_or_else(|_| "http://localhost:4318".into());
    println!("exported to {endpoint} (the OpenTelemetry SDK reports export errors, if any)");
    Ok(())
}
