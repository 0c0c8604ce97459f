//! The set-up most Rust services have: axum with tower-http's `TraceLayer`, `tracing` bridged to
//! OpenTelemetry by `tracing-opentelemetry` and to Sentry by Sentry's tracing layers, and the
//! hook registered once. The handler evaluates flags across `.await` points on a multi-threaded
//! runtime; each request's span gets the flags (span events, Datadog tags, Sentry span data) and
//! an error logged with `tracing::error!` carries the request's flags in Sentry.
//!
//! ```sh
//! cargo run --example tracing_service --all-features            # no service: prints what it recorded
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 SENTRY_DSN=https://...@.../1 \
//!     cargo run --example tracing_service --all-features        # or DD_TRACE_AGENT_URL=http://localhost:8126
//! cargo run --example tracing_service --all-features -- --serve # keep serving on 127.0.0.1:3000
//! ```
//!
//! Spans go to Datadog's tracer when `DD_TRACE_AGENT_URL` is set (it also reads `DD_SERVICE`,
//! `DD_ENV`), else over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, else to memory and
//! are printed. Sentry events go to `SENTRY_DSN`, else they are printed.

#![allow(clippy::print_stdout)] // an example reports what it does

mod app;

use std::sync::Arc;

use openfeature_hooks::TelemetryHook;
use openfeature_hooks::datadog::SpanTagsSink;
use openfeature_hooks::otel::SpanEventSink;
use openfeature_hooks::sentry::{SentrySink, with_flags_context};
use opentelemetry::trace::TracerProvider;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use sentry::integrations::tracing::{ErrorLayer, SpanLayer};
use sentry::{Envelope, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

fn is_set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|value| !value.is_empty())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Built before the async runtime: the exporters' blocking HTTP clients run on their own
    // threads.
    let in_memory = InMemorySpanExporter::default();
    let tracers = if is_set("DD_TRACE_AGENT_URL") {
        datadog_opentelemetry::tracing().init()
    } else if is_set("OTEL_EXPORTER_OTLP_ENDPOINT") {
        SdkTracerProvider::builder()
            .with_batch_exporter(
                opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .build()?,
            )
            .build()
    } else {
        SdkTracerProvider::builder()
            .with_simple_exporter(in_memory.clone())
            .build()
    };

    let mut options = sentry::ClientOptions::new().traces_sample_rate(1.0);
    if !is_set("SENTRY_DSN") {
        options = options.dsn("https://public@sentry.invalid/1");
        options.transport = Some(Arc::new(Arc::new(PrintFlags)));
    }
    let sentry = sentry::init(with_flags_context(options));

    // One subscriber for the process: OpenTelemetry, Sentry's transactions (INFO and up) and
    // errors (ERROR), and log lines on stdout.
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracers.tracer("tracing_service")))
        .with(SpanLayer::new().with_filter(LevelFilter::INFO))
        .with(ErrorLayer::new().with_filter(LevelFilter::ERROR))
        .with(tracing_subscriber::fmt::layer().with_filter(LevelFilter::INFO))
        .init();

    // The hook, registered once; its sinks find each request's span through `tracing`.
    let hook = TelemetryHook::builder()
        .sink(SpanEventSink::new())
        .sink(SpanTagsSink::new())
        .sink(SentrySink::new())
        .build();
    let guard = hook.shutdown_guard();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let flags = Arc::new(app::flags(hook).await);
        let router = app::router(flags);
        if std::env::args().any(|arg| arg == "--serve") {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
            println!("listening on http://127.0.0.1:3000/checkout?user=alice&fail=1");
            axum::serve(listener, router).await?;
            return Ok::<_, Box<dyn std::error::Error>>(());
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(axum::serve(listener, router).into_future());
        for path in ["/checkout?user=alice", "/checkout?user=bob&fail=1"] {
            let mut stream = tokio::net::TcpStream::connect(address).await?;
            let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            stream.write_all(request.as_bytes()).await?;
            let mut response = String::new();
            stream.read_to_string(&mut response).await?;
            let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
            println!("GET {path} -> {}", body.trim_end());
        }
        server.abort();
        let _ = server.await;
        Ok(())
    })?;
    drop(runtime); // every request span has closed

    sentry.close(None);
    tracers.force_flush()?;
    for span in in_memory.get_finished_spans().unwrap_or_default() {
        println!("OpenTelemetry span {:?}", span.name);
        for attribute in &span.attributes {
            if attribute.key.as_str().starts_with("feature_flags.") {
                println!("  tag {} = {}", attribute.key, attribute.value);
            }
        }
        for event in span
            .events
            .iter()
            .filter(|e| e.name == "feature_flag.evaluation")
        {
            let attributes: Vec<String> = event
                .attributes
                .iter()
                .map(|kv| format!("{}={}", kv.key, kv.value))
                .collect();
            println!("  event {} {{{}}}", event.name, attributes.join(", "));
        }
    }
    // Shutdown order: the hook's guard, then the providers.
    drop(guard);
    tracers.shutdown()?;
    Ok(())
}

/// Prints the flags of each Sentry item instead of sending it, from the envelope's bytes as they
/// would go on the wire.
struct PrintFlags;

impl Transport for PrintFlags {
    fn send_envelope(&self, envelope: Envelope) {
        let mut bytes = Vec::new();
        if envelope.to_writer(&mut bytes).is_err() {
            return;
        }
        let text = String::from_utf8_lossy(&bytes);
        let mut lines = text.lines().skip(1); // the envelope headers
        while let (Some(header), Some(payload)) = (lines.next(), lines.next()) {
            let (Ok(header), Ok(item)) = (
                serde_json::from_str::<serde_json::Value>(header),
                serde_json::from_str::<serde_json::Value>(payload),
            ) else {
                continue;
            };
            if header["type"] == "transaction" {
                let data = item["contexts"]["trace"]["data"].as_object();
                let flags: Vec<String> = data
                    .into_iter()
                    .flatten()
                    .filter(|(key, _)| key.starts_with("flag.evaluation."))
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect();
                println!(
                    "Sentry transaction {}: {}",
                    item["transaction"],
                    flags.join(", ")
                );
            } else if header["type"] == "event" {
                println!(
                    "Sentry error {}: contexts.flags = {}",
                    item["message"], item["contexts"]["flags"]
                );
            }
        }
    }
}
