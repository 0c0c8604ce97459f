//! The service of the `tracing_service` example: an axum router behind tower-http's
//! `TraceLayer`, whose handler evaluates flags across `.await` points. `tests/tracing_stack.rs`
//! runs this very service.

#![allow(dead_code, unreachable_pub)] // shared by the example and a test, each using a part

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use open_feature::{Client, EvaluationContext, OpenFeature};
use openfeature_hooks::TelemetryHook;
use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};
use sentry::integrations::tower::NewSentryLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The flags the service knows (an in-memory provider stands in for flagd, LaunchDarkly, ...).
pub fn provider() -> InMemoryProvider {
    InMemoryProvider::new("in-memory")
        .with_flag("new-checkout", InMemoryFlag::new(true).variant("on"))
        .with_flag("express-shipping", InMemoryFlag::new(false))
        .with_flag(
            "button-color",
            InMemoryFlag::new("green").variant("treatment"),
        )
}

/// An OpenFeature client whose API has `hook` registered, once, for every evaluation.
pub async fn flags(hook: TelemetryHook) -> Client {
    let mut api = OpenFeature::default();
    api.set_provider(provider()).await;
    api.add_hook(hook).await;
    api.create_client()
}

/// `GET /checkout?user=<id>[&fail=1]`, each request in an `INFO` span named `request` (so
/// Sentry's span layer, which takes `INFO` and above, builds a transaction from it), with a
/// Sentry hub of its own inside that span.
///
/// Why the hub: Sentry's span layer gives every *entry* of a span a fresh hub, made from the
/// hub the span was created in, and an async handler's span is entered again at each poll, i.e.
/// after each `.await` that suspended. Flags recorded in one poll would be gone by the next, so
/// an error after an `.await` would miss them. sentry-tower's `NewSentryLayer`, placed *inside*
/// `TraceLayer` (added before it), makes one hub per request, bound to the handler's future for
/// all its polls: every flag of the request lands there, and so does the error.
pub fn router(flags: Arc<Client>) -> Router {
    routes(flags)
        .layer(NewSentryLayer::new_from_top())
        .layer(trace_layer())
}

/// The routes alone, for the tests to layer in other orders.
pub fn routes(flags: Arc<Client>) -> Router {
    Router::new()
        .route("/checkout", get(checkout))
        .with_state(flags)
}

/// tower-http's `TraceLayer`, its request span at `INFO`.
pub fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    DefaultMakeSpan,
    tower_http::trace::DefaultOnRequest,
    DefaultOnResponse,
> {
    TraceLayer::new_for_http()
        .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}

/// Evaluates three flags with a real suspension between them: `yield_now` hands the task back
/// to the multi-threaded scheduler, as a database or HTTP call would, so the rest of the handler
/// may run on another worker thread, re-entering the request's span there.
async fn checkout(
    State(flags): State<Arc<Client>>,
    Query(query): Query<HashMap<String, String>>,
) -> String {
    let user = EvaluationContext::default()
        .with_targeting_key(query.get("user").cloned().unwrap_or_default());
    let new_checkout = flags
        .get_bool_value("new-checkout", Some(&user), None)
        .await
        .unwrap_or(false);
    tokio::task::yield_now().await;
    let express = flags
        .get_bool_value("express-shipping", Some(&user), None)
        .await
        .unwrap_or(false);
    tokio::task::yield_now().await;
    let color = flags
        .get_string_value("button-color", Some(&user), None)
        .await
        .unwrap_or_default();
    if query.contains_key("fail") {
        tracing::error!(new_checkout, express, "checkout failed");
    }
    format!("new-checkout={new_checkout} express-shipping={express} button-color={color}\n")
}
