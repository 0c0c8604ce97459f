//! The real round trip: spans through Datadog's own tracer (`datadog-opentelemetry`) to
//! Datadog's own test agent, read back from its `/test/session/traces` API.

mod support;

use std::time::Duration;

use datadog_opentelemetry::configuration::Config;
use openfeature_hooks_core::TelemetryHook;
use openfeature_hooks_datadog::{ExperimentSpanSink, SpanTagsSink};
use opentelemetry::trace::{Tracer, TracerProvider};
use serde_json::Value;
use support::test_agent::{TestAgent, spans_of};
use support::{provider, runtime};

/// Datadog's own tracer, sending to `agent_url` as `service`.
fn datadog_tracer(agent_url: String, service: &str) -> opentelemetry_sdk::trace::SdkTracerProvider {
    let mut config = Config::builder();
    config.set_service(service.to_owned());
    config.set_env("test".to_owned());
    config.set_trace_agent_url(agent_url);
    datadog_opentelemetry::tracing()
        .with_config(config.build())
        .init_local()
        .0
}

/// A client whose hook tags spans and creates experiment spans with `tracers`, and the
/// experiment sink (to flush).
fn client_with_span_sinks(
    runtime: &tokio::runtime::Runtime,
    tracers: &opentelemetry_sdk::trace::SdkTracerProvider,
) -> (
    open_feature::Client,
    ExperimentSpanSink<opentelemetry_sdk::trace::SdkTracer>,
) {
    let experiments = ExperimentSpanSink::new(tracers.tracer("openfeature-hooks"));
    let client = runtime.block_on(async {
        let mut api = open_feature::OpenFeature::default();
        api.set_provider(provider()).await;
        api.create_client().with_hook(
            TelemetryHook::builder()
                .sink(SpanTagsSink::new())
                .sink(experiments.clone())
                .build(),
        )
    });
    (client, experiments)
}

#[test]
fn flag_tags_and_experiment_spans_reach_the_datadog_agent() {
    let agent = TestAgent::start();
    let tracers = datadog_tracer(agent.url(), "openfeature-hooks-test");

    let runtime = runtime();
    let (client, experiments) = client_with_span_sinks(&runtime, &tracers);
    tracers.tracer("app").in_span("GET /checkout", |_| {
        runtime.block_on(async {
            let _ = client.get_bool_value("new-checkout", None, None).await;
            let _ = client.get_string_value("button-color", None, None).await;
            let _ = client.get_bool_value("new-checkout", None, None).await; // same trace: no second span
        });
    });
    // The experiment spans are built on the sink's thread, here after the request span ended:
    // Datadog's tracer must still put them in the request's trace, under the request span.
    assert!(experiments.flush(Duration::from_secs(10)).is_complete());
    assert!(
        tracers
            .shutdown_with_timeout(Duration::from_secs(10))
            .is_ok()
    );

    let traces = agent.traces();
    let spans = spans_of(&traces);
    let root = spans
        .iter()
        .find(|s| s["resource"] == "GET /checkout")
        .unwrap_or_else(|| panic!("no request span in {traces}"));
    assert_eq!(root["meta"]["feature_flags.new-checkout"], "on", "{root}");
    assert_eq!(root["meta"]["feature_flags.button-color"], "treatment");
    assert_eq!(root["service"], "openfeature-hooks-test");

    let experiments: Vec<&&Value> = spans
        .iter()
        .filter(|s| s["name"] == "experiments.IsEnabled")
        .collect();
    assert_eq!(experiments.len(), 2, "one per flag per trace: {traces}");
    for span in &experiments {
        assert_eq!(span["parent_id"], root["span_id"]);
        assert_eq!(span["trace_id"], root["trace_id"]);
    }
    let checkout = experiments
        .iter()
        .find(|s| s["meta"]["experiment_id"] == "new-checkout")
        .unwrap_or_else(|| panic!("no experiment span for new-checkout in {traces}"));
    assert_eq!(checkout["meta"]["experiment_value"], "true");
    assert_eq!(checkout["resource"], "new-checkout");
}

#[test]
fn an_absent_agent_slows_no_evaluation_and_shutdown_keeps_its_bound() {
    use std::time::Instant;

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let measure = |tracers: &opentelemetry_sdk::trace::SdkTracerProvider| {
        let runtime = runtime();
        let (client, _experiments) = client_with_span_sinks(&runtime, tracers);
        let mut times: Vec<Duration> = (0..1000)
            .map(|_| {
                tracers.tracer("app").in_span("GET /", |_| {
                    let start = Instant::now();
                    let value = runtime.block_on(client.get_bool_value("new-checkout", None, None));
                    assert_eq!(value, Ok(true));
                    start.elapsed()
                })
            })
            .collect();
        times.sort();
        (times[500], times[990])
    };
    // Healthy: Datadog's tracer with its (test) agent present.
    let agent = TestAgent::start();
    let present = datadog_tracer(agent.url(), "present-agent");
    let healthy = measure(&present);
    let _ = present.shutdown_with_timeout(Duration::from_secs(2));
    drop(agent);
    let absent = datadog_tracer(format!("http://127.0.0.1:{closed}"), "absent-agent");
    let faulty = measure(&absent);
    let bound = |d: Duration| d * 5 + Duration::from_millis(2);
    assert!(
        faulty.0 <= bound(healthy.0) && faulty.1 <= bound(healthy.1),
        "{healthy:?} vs {faulty:?}"
    );
    let start = Instant::now();
    let _ = absent.shutdown_with_timeout(Duration::from_secs(2));
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "shutdown took {:?}",
        start.elapsed()
    );
}
