//! The provider and client the Datadog tests evaluate with, and Datadog's test agent.

#![allow(dead_code, unreachable_pub)]

pub mod test_agent;

use open_feature::{EvaluationErrorCode, OpenFeature};
use openfeature_hooks_core::{EvaluationSink, TelemetryHook};
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider};

pub fn provider() -> FixtureProvider {
    FixtureProvider::new("fixture")
        .with_flag(
            "new-checkout",
            FixtureFlag::new(true)
                .variant("on")
                .metadata("version", "1"),
        )
        .with_flag("dark-mode", FixtureFlag::new(false))
        .with_flag(
            "button-color",
            FixtureFlag::new("green").variant("treatment"),
        )
        .with_flag("weird key!/ü", FixtureFlag::new(true))
        .with_flag("long-value", FixtureFlag::new("v".repeat(500)))
        .with_flag(
            "broken",
            FixtureFlag::failing(EvaluationErrorCode::ParseError, None),
        )
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

pub fn client_with(
    runtime: &tokio::runtime::Runtime,
    provider: FixtureProvider,
    sink: impl EvaluationSink,
) -> open_feature::Client {
    runtime.block_on(async {
        let mut api = OpenFeature::default();
        api.set_provider(provider).await;
        api.create_client()
            .with_hook(TelemetryHook::builder().sink(sink).build())
    })
}

pub fn client_with_hook(
    runtime: &tokio::runtime::Runtime,
    provider: FixtureProvider,
    hook: TelemetryHook,
) -> open_feature::Client {
    runtime.block_on(async {
        let mut api = OpenFeature::default();
        api.set_provider(provider).await;
        api.create_client().with_hook(hook)
    })
}

pub fn client(
    runtime: &tokio::runtime::Runtime,
    sink: impl EvaluationSink,
) -> open_feature::Client {
    client_with(runtime, provider(), sink)
}
