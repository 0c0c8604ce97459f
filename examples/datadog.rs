//! Datadog: span tags, `experiments.IsEnabled` spans, the enrichment metric and change events,
//! configured the standard way.
//!
//! ```sh
//! DD_TRACE_AGENT_URL=http://localhost:8126 DD_SERVICE=checkout DD_ENV=dev \
//! DD_API_KEY=<key> cargo run --example datadog --all-features
//! ```
//!
//! Spans go to the agent at `DD_TRACE_AGENT_URL`, the metric to DogStatsD (`DD_AGENT_HOST`,
//! `DD_DOGSTATSD_PORT`), change events to the Events API when `DD_API_KEY` is set (`DD_SITE`).

#![allow(clippy::print_stdout)] // an example reports what it does

use std::sync::Arc;
use std::time::Duration;

use open_feature::OpenFeature;
use openfeature_hooks::TelemetryHook;
use openfeature_hooks::datadog::{
    ChangeEvents, ChangeEventsConfig, ChangeTrackingSink, EnrichmentMetricSink, ExperimentSpanSink,
    SpanTagsSink,
};
use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};
use opentelemetry::trace::{Tracer, TracerProvider};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Datadog's tracer reads DD_TRACE_AGENT_URL, DD_SERVICE, DD_ENV.
    let tracers = datadog_opentelemetry::tracing().init();
    let mut hook = TelemetryHook::builder()
        .sink(SpanTagsSink::new())
        .sink(ExperimentSpanSink::new(tracers.tracer("openfeature-hooks")))
        .sink(EnrichmentMetricSink::from_env()?);
    // Change events need DD_API_KEY: without it (NotFound) they are off; a bad DD_SITE is an error.
    let events = match ChangeEventsConfig::from_env() {
        Ok(config) => Some(Arc::new(ChangeEvents::start(config))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            println!("{error}: no change events");
            None
        }
        Err(error) => return Err(error.into()),
    };
    if let Some(events) = &events {
        hook = hook.sink(ChangeTrackingSink::new(events.clone()));
    }
    let hook = hook.build();
    let guard = hook.shutdown_guard();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut api = OpenFeature::default();
        api.set_provider(
            InMemoryProvider::new("in-memory").with_flag(
                "new-checkout",
                InMemoryFlag::new(true)
                    .variant("on")
                    .metadata("version", "7"),
            ),
        )
        .await;
        api.add_hook(hook).await;
        let client = api.create_client();
        let request = tracers.tracer("checkout").start("GET /checkout");
        let _active = opentelemetry::trace::mark_span_as_active(request);
        let enabled = client.get_bool_value("new-checkout", None, None).await;
        println!("new-checkout = {enabled:?}");
    });
    // Shutdown order: the hook's guard (experiment spans, change events), then the tracer.
    drop(guard);
    tracers.shutdown_with_timeout(Duration::from_secs(5))?;
    if let Some(events) = events {
        events.shutdown(Duration::from_secs(5));
    }
    Ok(())
}
