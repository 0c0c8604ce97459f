//! Faults in every backend's path: flag values stay what the provider answers, evaluation
//! latency stays that of a healthy backend (p50/p99 compared in the same run), nothing panics,
//! and shutdown or flush returns within a stated bound.

#![cfg(feature = "full")]

use std::net::{TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use open_feature::{Client, EvaluationContext, OpenFeature};
use openfeature_hooks::datadog::EnrichmentMetricSink;
use openfeature_hooks::otel::LogEventSink;
use openfeature_hooks::sentry::{SentrySink, with_flags_context};
use openfeature_hooks::{EvaluationSink, TelemetryHook};
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider, HttpReceiver, Reply};
use opentelemetry_otlp::{LogExporter, WithExportConfig};
use opentelemetry_sdk::logs::SdkLoggerProvider;

const EVALUATIONS: usize = 2_000;

/// (p50, p99) of `EVALUATIONS` evaluations, each checked against the provider's answer.
fn latencies(runtime: &tokio::runtime::Runtime, client: &Client) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(EVALUATIONS);
    runtime.block_on(async {
        let user = EvaluationContext::default().with_targeting_key("user-1");
        for _ in 0..EVALUATIONS {
            let start = Instant::now();
            let value = client
                .get_bool_value("new-checkout", Some(&user), None)
                .await;
            times.push(start.elapsed());
            assert_eq!(value, Ok(true), "flag values never change under a fault");
        }
    });
    times.sort();
    (times[EVALUATIONS / 2], times[EVALUATIONS * 99 / 100])
}

fn client(runtime: &tokio::runtime::Runtime, sink: impl EvaluationSink) -> Client {
    runtime.block_on(async {
        let mut api = OpenFeature::default();
        api.set_provider(
            FixtureProvider::new("fixture")
                .with_flag("new-checkout", FixtureFlag::new(true).variant("on")),
        )
        .await;
        api.create_client()
            .with_hook(TelemetryHook::builder().sink(sink).build())
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Latency under a fault must stay within noise of the healthy case: a blocking export would add
/// hundreds of milliseconds to seconds (request timeouts); the bound leaves 2 ms for a shared
/// 2-core CI machine.
fn assert_unchanged(name: &str, healthy: (Duration, Duration), faulty: (Duration, Duration)) {
    let bound = |healthy: Duration| healthy * 5 + Duration::from_millis(2);
    assert!(
        faulty.0 <= bound(healthy.0),
        "{name}: p50 {:?} vs healthy {:?}",
        faulty.0,
        healthy.0
    );
    assert!(
        faulty.1 <= bound(healthy.1),
        "{name}: p99 {:?} vs healthy {:?}",
        faulty.1,
        healthy.1
    );
}

/// Log events exported by the real OTLP/HTTP exporter to `endpoint`, through a batch processor.
fn otlp_logs(endpoint: &str) -> SdkLoggerProvider {
    let exporter = LogExporter::builder()
        .with_http()
        .with_endpoint(format!("{endpoint}/v1/logs"))
        .with_timeout(Duration::from_millis(500))
        .build()
        .unwrap_or_else(|e| panic!("exporter: {e}"));
    SdkLoggerProvider::builder()
        .with_batch_exporter(exporter)
        .build()
}

#[test]
fn otlp_endpoint_refusing_failing_or_hanging() {
    let runtime = runtime();
    let healthy_receiver = HttpReceiver::start().unwrap_or_else(|e| panic!("{e}"));
    let healthy_logs = otlp_logs(&healthy_receiver.url());
    let healthy = latencies(
        &runtime,
        &client(&runtime, LogEventSink::from_provider(&healthy_logs)),
    );
    let _ = healthy_logs.shutdown();

    let failing = HttpReceiver::start().unwrap_or_else(|e| panic!("{e}"));
    failing.reply_with(Reply::Status(503));
    let hanging = HttpReceiver::start().unwrap_or_else(|e| panic!("{e}"));
    hanging.reply_with(Reply::Hang);
    let faults = [
        ("refusing", format!("http://127.0.0.1:{}", closed_port())),
        ("503", failing.url()),
        ("hanging", hanging.url()),
    ];
    for (name, endpoint) in faults {
        let logs = otlp_logs(&endpoint);
        let faulty = latencies(
            &runtime,
            &client(&runtime, LogEventSink::from_provider(&logs)),
        );
        assert_unchanged(name, healthy, faulty);
        let start = Instant::now();
        let _ = logs.shutdown_with_timeout(Duration::from_secs(2));
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "{name}: shutdown took {:?}",
            start.elapsed()
        );
    }
    assert!(
        !failing.requests().is_empty(),
        "the failing endpoint was really tried"
    );
}

#[test]
fn dogstatsd_agent_absent() {
    let runtime = runtime();
    let agent = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let present = agent
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let healthy_sink = EnrichmentMetricSink::new(&present, "svc").unwrap_or_else(|e| panic!("{e}"));
    let healthy = latencies(&runtime, &client(&runtime, healthy_sink));
    drop(agent); // now nothing listens there
    let absent =
        Arc::new(EnrichmentMetricSink::new(&present, "svc").unwrap_or_else(|e| panic!("{e}")));
    let faulty = latencies(&runtime, &client(&runtime, absent.clone()));
    assert_unchanged("dogstatsd absent", healthy, faulty);
}

#[test]
fn sentry_transport_failing() {
    let runtime = runtime();
    let healthy = latencies(&runtime, &client(&runtime, SentrySink::new()));
    // Sentry's real HTTP transport, to a port that refuses connections.
    let dsn = format!("http://public@127.0.0.1:{}/1", closed_port());
    let options = sentry::ClientOptions::new()
        .dsn(&dsn)
        .shutdown_timeout(Duration::from_secs(1));
    let sentry_client = Arc::new(sentry::Client::from(with_flags_context(options)));
    let hub = Arc::new(sentry::Hub::new(
        Some(sentry_client.clone()),
        Arc::new(Default::default()),
    ));
    sentry::Hub::run(hub, || {
        let client = client(&runtime, SentrySink::new());
        let faulty = latencies(&runtime, &client);
        sentry::capture_message("while the transport fails", sentry::Level::Error);
        assert_unchanged("sentry refused", healthy, faulty);
    });
    let start = Instant::now();
    let _ = sentry_client.flush(Some(Duration::from_secs(2)));
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "flush took {:?}",
        start.elapsed()
    );
}
