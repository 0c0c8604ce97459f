//! The `tracing` stack most Rust services run, end to end: the `tracing_service` example's axum
//! router (tower-http `TraceLayer`, a handler evaluating flags across `.await` points) on a
//! multi-threaded runtime, a `tracing-subscriber` registry with the `tracing-opentelemetry`
//! layer and Sentry's span and error layers, and the hook registered once.
//!
//! The hook is the example's plus a log event sink, to check that log events carry the trace
//! context of the request they were evaluated in.
//!
//! Nothing is mocked: spans come from the real layers; the OpenTelemetry SDK's in-memory
//! exporter holds what it exported; Sentry's envelopes are read back from their serialised
//! bytes (a real client, its test transport behind the flags-context transport); Datadog's
//! spans go through Datadog's own tracer to Datadog's own test agent.
//!
//! A `tracing` subscriber is global or per thread. Each test builds its own multi-threaded
//! runtime whose worker threads (the only threads that handle requests) take the test's
//! subscriber as their default, so the tests run in parallel without sharing a subscriber.

#![cfg(all(feature = "otel", feature = "sentry", feature = "datadog"))]

#[path = "../examples/tracing_service/app.rs"]
mod app;
#[path = "../hooks-datadog/tests/support/test_agent.rs"]
mod test_agent;

use std::sync::Arc;
use std::time::Duration;

use openfeature_hooks::TelemetryHook;
use openfeature_hooks::datadog::SpanTagsSink;
use openfeature_hooks::otel::{LogEventSink, SpanEventSink};
use openfeature_hooks::sentry::{SentrySink, with_flags_context};
use opentelemetry::trace::TracerProvider;
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use sentry::integrations::tracing::{ErrorLayer, SpanLayer};
use sentry::test::TestTransport;
use sentry::{Client, ClientOptions, Hub};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::Dispatch;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

/// A real Sentry client whose test transport sits behind the flags-context transport.
fn sentry_client() -> (Arc<Client>, Arc<TestTransport>) {
    let transport = TestTransport::new();
    let mut options = ClientOptions::new()
        .dsn("https://public@sentry.invalid/1")
        .traces_sample_rate(1.0);
    options.transport = Some(Arc::new(transport.clone()));
    (
        Arc::new(Client::from(with_flags_context(options))),
        transport,
    )
}

/// The subscriber of the example: OpenTelemetry bridge fed by `tracers`, Sentry's span layer
/// (`INFO` and above) and error layer (`ERROR`).
fn subscriber(tracers: &SdkTracerProvider) -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tracers.tracer("tracing_service")))
            .with(SpanLayer::new().with_filter(LevelFilter::INFO))
            .with(ErrorLayer::new().with_filter(LevelFilter::ERROR)),
    )
}

/// The hook of the example, registered once: OpenTelemetry span events, Datadog span tags,
/// Sentry flags; and log events through `logs`.
fn hook(logs: &SdkLoggerProvider) -> TelemetryHook {
    TelemetryHook::builder()
        .sink(LogEventSink::from_provider(logs))
        .sink(SpanEventSink::new())
        .sink(SpanTagsSink::new())
        .sink(SentrySink::new())
        .build()
}

/// Serves the example's router on a fresh two-worker runtime whose workers use `dispatch` and
/// Sentry `client`, sends each of `paths` as a GET request, shuts the server down (so every
/// request span has closed) and returns the response bodies.
fn serve(dispatch: Dispatch, client: Option<Arc<Client>>, paths: &[&str]) -> Vec<String> {
    let logs = SdkLoggerProvider::builder().build();
    serve_with(app::router, dispatch, client, &logs, paths)
}

/// [`serve`] with the router `make_router` builds.
fn serve_with(
    make_router: fn(Arc<open_feature::Client>) -> axum::Router,
    dispatch: Dispatch,
    client: Option<Arc<Client>>,
    logs: &SdkLoggerProvider,
    paths: &[&str],
) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            // Held for the thread's life: the worker's default subscriber and Sentry client.
            std::mem::forget(tracing::dispatcher::set_default(&dispatch));
            Hub::current().bind_client(client.clone());
        })
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let flags = Arc::new(runtime.block_on(app::flags(hook(logs))));
    let bodies = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("address: {e}"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(
            axum::serve(listener, make_router(flags))
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .into_future(),
        );
        let mut bodies = Vec::new();
        for path in paths {
            let mut stream = tokio::net::TcpStream::connect(address)
                .await
                .unwrap_or_else(|e| panic!("connect: {e}"));
            let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
            stream
                .write_all(request.as_bytes())
                .await
                .unwrap_or_else(|e| panic!("write: {e}"));
            let mut response = String::new();
            stream
                .read_to_string(&mut response)
                .await
                .unwrap_or_else(|e| panic!("read: {e}"));
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");
            bodies.push(
                response
                    .split("\r\n\r\n")
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        let _ = stop.send(());
        let served = tokio::time::timeout(Duration::from_secs(10), server).await;
        assert!(
            matches!(served, Ok(Ok(Ok(())))),
            "server stopped: {served:?}"
        );
        bodies
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    bodies
}

/// Every item of every envelope, as (item type, payload JSON), parsed from the envelope bytes.
fn sentry_items(transport: &TestTransport) -> Vec<(String, Value)> {
    let mut items = Vec::new();
    for envelope in transport.fetch_and_clear_envelopes() {
        let mut bytes = Vec::new();
        envelope
            .to_writer(&mut bytes)
            .unwrap_or_else(|e| panic!("serialise: {e}"));
        let text = String::from_utf8(bytes).unwrap_or_else(|e| panic!("utf-8: {e}"));
        let mut lines = text.lines().skip(1);
        while let (Some(header), Some(payload)) = (lines.next(), lines.next()) {
            let header: Value = serde_json::from_str(header).unwrap_or(Value::Null);
            let kind = header["type"].as_str().unwrap_or_default().to_owned();
            items.push((kind, serde_json::from_str(payload).unwrap_or(Value::Null)));
        }
    }
    items
}

fn in_memory_tracers() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let tracers = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (tracers, exporter)
}

fn attribute(span_attributes: &[opentelemetry::KeyValue], key: &str) -> Option<String> {
    span_attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// The flag key of each `feature_flag.evaluation` event on `span`.
fn evaluated_keys(span: &SpanData) -> Vec<String> {
    span.events
        .iter()
        .filter(|event| event.name == "feature_flag.evaluation")
        .filter_map(|event| attribute(&event.attributes, "feature_flag.key"))
        .collect()
}

const FLAGS: [&str; 3] = ["new-checkout", "express-shipping", "button-color"];

#[test]
fn span_events_land_on_the_request_span_tracing_opentelemetry_made() {
    let (tracers, exporter) = in_memory_tracers();
    let log_exporter = InMemoryLogExporter::default();
    let logs = SdkLoggerProvider::builder()
        .with_simple_exporter(log_exporter.clone())
        .build();
    let bodies = serve_with(
        app::router,
        subscriber(&tracers),
        None,
        &logs,
        &["/checkout?user=alice", "/checkout?user=bob"],
    );
    assert_eq!(
        bodies[0],
        "new-checkout=true express-shipping=false button-color=green\n"
    );
    let spans = exporter.get_finished_spans().unwrap_or_default();
    let requests: Vec<&SpanData> = spans.iter().filter(|s| s.name == "request").collect();
    assert_eq!(requests.len(), 2, "one span per request: {spans:?}");
    for request in &requests {
        assert_eq!(evaluated_keys(request), FLAGS, "{request:?}");
        assert_eq!(
            attribute(&request.attributes, "method").as_deref(),
            Some("GET"),
            "TraceLayer's span"
        );
        // Datadog's tags went on the same (active) span.
        assert_eq!(
            attribute(&request.attributes, "feature_flags.new-checkout").as_deref(),
            Some("on")
        );
    }

    // The log events carry the trace context of the request they were evaluated in.
    let emitted = log_exporter.get_emitted_logs().unwrap_or_default();
    assert_eq!(emitted.len(), 2 * FLAGS.len());
    for request in &requests {
        let ids = (
            request.span_context.trace_id(),
            request.span_context.span_id(),
        );
        let in_request = emitted
            .iter()
            .filter(|log| {
                log.record
                    .trace_context()
                    .is_some_and(|c| (c.trace_id, c.span_id) == ids)
            })
            .count();
        assert_eq!(in_request, FLAGS.len(), "log events of request {ids:?}");
    }
}

/// Every item Sentry received while the router `make_router` builds served `paths`.
fn sentry_items_of(
    make_router: fn(Arc<open_feature::Client>) -> axum::Router,
    paths: &[&str],
) -> Vec<(String, Value)> {
    let (tracers, _exporter) = in_memory_tracers();
    let (client, transport) = sentry_client();
    serve_with(
        make_router,
        subscriber(&tracers),
        Some(client),
        &SdkLoggerProvider::builder().build(),
        paths,
    );
    sentry_items(&transport)
}

/// The transaction and the error event of one failing request.
fn sentry_transaction_and_error(
    make_router: fn(Arc<open_feature::Client>) -> axum::Router,
) -> (Value, Value) {
    let items = sentry_items_of(make_router, &["/checkout?user=alice&fail=1"]);
    let only = |wanted: &str| {
        let payloads: Vec<&Value> = items
            .iter()
            .filter(|(kind, _)| kind == wanted)
            .map(|(_, payload)| payload)
            .collect();
        assert_eq!(payloads.len(), 1, "one {wanted}: {items:?}");
        payloads[0].clone()
    };
    (only("transaction"), only("event"))
}

#[test]
fn sentry_transactions_and_errors_carry_the_flags() {
    let (transaction, event) = sentry_transaction_and_error(app::router);
    assert_eq!(transaction["transaction"], "request", "{transaction}");
    let data = &transaction["contexts"]["trace"]["data"];
    assert_eq!(data["flag.evaluation.new-checkout"], true, "{transaction}");
    assert_eq!(
        data["flag.evaluation.express-shipping"], false,
        "{transaction}"
    );
    assert!(
        transaction["contexts"].get("flags").is_none(),
        "no flags context on transactions"
    );

    assert_eq!(
        event["contexts"]["trace"]["trace_id"], transaction["contexts"]["trace"]["trace_id"],
        "the error belongs to the request's transaction"
    );
    let flags = &event["contexts"]["flags"];
    assert_eq!(
        flags["values"],
        serde_json::json!([
            {"flag": "new-checkout", "result": true},
            {"flag": "express-shipping", "result": false},
        ]),
        "every boolean flag of the request, across its .await points: {event}"
    );
    assert!(
        flags.get("type").is_none() || flags["type"] == "flags",
        "read by Sentry as flags: {flags}"
    );
}

/// Without a request hub: the same routes behind `TraceLayer` only.
fn without_request_hub(flags: Arc<open_feature::Client>) -> axum::Router {
    app::routes(flags).layer(app::trace_layer())
}

/// A request hub *outside* the request span (`NewSentryLayer` added after `TraceLayer`).
fn request_hub_outside_the_span(flags: Arc<open_feature::Client>) -> axum::Router {
    app::routes(flags)
        .layer(app::trace_layer())
        .layer(sentry::integrations::tower::NewSentryLayer::new_from_top())
}

/// The reason the example puts a Sentry hub per request inside `TraceLayer`: otherwise Sentry's
/// span layer enters each poll of the handler in a fresh hub (made from the hub the span was
/// created in), and the flags recorded before the handler's `.await`s are not on the error
/// captured after them. The transaction, one object shared by those hubs, still has them. Such
/// a poll's hub has the request's transaction active, like a request's own hub, so its flags
/// are not kept for the trace (see `trace_flags` in the Sentry crate). If sentry-tracing
/// changes this, these tests say so.
#[test]
fn without_a_request_hub_inside_the_span_an_error_misses_the_flags_of_earlier_polls() {
    for make_router in [without_request_hub, request_hub_outside_the_span] {
        let (transaction, event) = sentry_transaction_and_error(make_router);
        let data = &transaction["contexts"]["trace"]["data"];
        assert_eq!(data["flag.evaluation.new-checkout"], true, "{transaction}");
        assert_eq!(
            data["flag.evaluation.express-shipping"], false,
            "{transaction}"
        );
        assert!(event["contexts"].get("flags").is_none(), "{event}");
    }
}

#[test]
fn datadog_tags_reach_the_agent_on_the_request_span() {
    let agent = test_agent::TestAgent::start();
    let mut config = datadog_opentelemetry::configuration::Config::builder();
    config.set_service("tracing-service-test".to_owned());
    config.set_env("test".to_owned());
    config.set_trace_agent_url(agent.url());
    let tracers = datadog_opentelemetry::tracing()
        .with_config(config.build())
        .init_local()
        .0;
    serve(subscriber(&tracers), None, &["/checkout?user=alice"]);
    assert!(
        tracers
            .shutdown_with_timeout(Duration::from_secs(10))
            .is_ok()
    );
    let traces = agent.traces();
    let spans = test_agent::spans_of(&traces);
    let request = spans
        .iter()
        .find(|s| s["resource"] == "request")
        .unwrap_or_else(|| panic!("no request span in {traces}"));
    assert_eq!(request["service"], "tracing-service-test", "{request}");
    assert_eq!(
        request["meta"]["feature_flags.new-checkout"], "on",
        "{request}"
    );
    assert_eq!(request["meta"]["feature_flags.express-shipping"], "false");
    assert_eq!(request["meta"]["feature_flags.button-color"], "treatment");
}

/// Evaluates `express-shipping` inside a span of its own, as a service's instrumented function
/// (`#[instrument]`) would, and reports an error there when `fail_inside`.
async fn priced_shipping(flags: &open_feature::Client, fail_inside: bool) -> bool {
    let user = open_feature::EvaluationContext::default().with_targeting_key("alice");
    let express = flags
        .get_bool_value("express-shipping", Some(&user), None)
        .await
        .unwrap_or(true);
    // Sentry's own scope data, for comparison: it lives in the same hub.
    sentry::configure_scope(|scope| scope.set_tag("pricing", "done"));
    if fail_inside {
        tracing::error!(express, "pricing failed inside the span");
    }
    express
}

/// `GET /nested?fail=inside|after`: a flag in the handler, another in a nested `INFO` span, and
/// an error inside that span or after it has returned.
async fn nested_handler(
    axum::extract::State(flags): axum::extract::State<Arc<open_feature::Client>>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> String {
    use tracing::Instrument as _;
    let user = open_feature::EvaluationContext::default().with_targeting_key("alice");
    let checkout = flags
        .get_bool_value("new-checkout", Some(&user), None)
        .await
        .unwrap_or(false);
    let fail = query.get("fail").map(String::as_str);
    let express = priced_shipping(&flags, fail == Some("inside"))
        .instrument(tracing::info_span!("pricing"))
        .await;
    if fail == Some("after") {
        tracing::error!(checkout, express, "checkout failed after the span");
    }
    format!("{checkout} {express}")
}

/// The example's layers (a request hub inside the request span) around [`nested_handler`].
fn nested_span_router(flags: Arc<open_feature::Client>) -> axum::Router {
    axum::Router::new()
        .route("/nested", axum::routing::get(nested_handler))
        .with_state(flags)
        .layer(sentry::integrations::tower::NewSentryLayer::new_from_top())
        .layer(app::trace_layer())
}

/// What the README says of nested spans: Sentry's span layer gives each entry of a span a hub of
/// its own, made from the hub it was created in, and drops it on exit, with a tag set there. A
/// flag evaluated in a nested span is on that span and on an error reported inside it; an error
/// reported after the span has returned carries it too, through the flags kept for the trace
/// (as older than the request hub's own), while Sentry's own tag set in the span is gone. If
/// sentry-tracing changes this, this test says so.
#[test]
fn a_flag_evaluated_in_a_nested_span_reaches_errors_inside_it_and_after_it() {
    let items = sentry_items_of(
        nested_span_router,
        &["/nested?fail=inside", "/nested?fail=after"],
    );
    let event_saying = |text: &str| {
        let events: Vec<&Value> = items
            .iter()
            .filter(|(kind, payload)| kind == "event" && payload.to_string().contains(text))
            .map(|(_, payload)| payload)
            .collect();
        assert_eq!(events.len(), 1, "one event saying {text:?}: {items:?}");
        events[0].clone()
    };
    let inside = event_saying("pricing failed inside the span");
    assert_eq!(
        inside["contexts"]["flags"]["values"],
        serde_json::json!([
            {"flag": "new-checkout", "result": true},
            {"flag": "express-shipping", "result": false},
        ]),
        "{inside}"
    );
    assert_eq!(inside["tags"]["pricing"], "done", "{inside}");
    let after = event_saying("checkout failed after the span");
    assert_eq!(
        after["contexts"]["flags"]["values"],
        serde_json::json!([
            {"flag": "express-shipping", "result": false},
            {"flag": "new-checkout", "result": true},
        ]),
        "{after}"
    );
    assert!(after["tags"].get("pricing").is_none(), "{after}");
    let pricing_spans: Vec<&Value> = items
        .iter()
        .filter(|(kind, _)| kind == "transaction")
        .flat_map(|(_, payload)| payload["spans"].as_array().into_iter().flatten())
        .filter(|span| span["description"] == "pricing")
        .collect();
    assert_eq!(pricing_spans.len(), 2, "{items:?}");
    for span in pricing_spans {
        assert_eq!(
            span["data"]["flag.evaluation.express-shipping"], false,
            "{span}"
        );
    }
}
