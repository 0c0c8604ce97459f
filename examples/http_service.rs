//! A small HTTP service where each request gets its own Sentry hub and transaction
//! (sentry-tower), evaluates flags, and fails: each error carries only its own request's flags.
//!
//! ```sh
//! cargo run --example http_service --all-features        # add SENTRY_DSN=... to send to Sentry
//! curl 'localhost:3000/checkout?user=alice' & curl 'localhost:3000/search?user=bob'
//! ```
//!
//! Without `SENTRY_DSN`, the Sentry client's transport prints the flags of every error it would
//! send, so the per-request isolation shows in the terminal.

#![allow(clippy::print_stdout)] // an example reports what it does

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use open_feature::{Client, EvaluationContext, OpenFeature};
use openfeature_hooks::TelemetryHook;
use openfeature_hooks::sentry::{SentrySink, with_flags_context};
use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};
use sentry::integrations::tower::{NewSentryLayer, SentryHttpLayer};
use sentry::{Envelope, Transport};

/// Prints the flags of each error event instead of sending it. It reads the envelope's bytes,
/// as they would go on the wire (the flags-context transport hands on raw envelopes).
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
            let is_event = serde_json::from_str::<serde_json::Value>(header)
                .is_ok_and(|h| h["type"] == "event");
            let Ok(item) = serde_json::from_str::<serde_json::Value>(payload) else {
                continue;
            };
            if !is_event {
                continue; // transactions carry no flags context
            }
            let flags: Vec<String> = item["contexts"]["flags"]["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| format!("{}={}", v["flag"].as_str().unwrap_or_default(), v["result"]))
                .collect();
            println!(
                "error {:?}: flags [{}]",
                item["message"]["formatted"]
                    .as_str()
                    .or(item["message"].as_str())
                    .unwrap_or_default(),
                flags.join(", ")
            );
        }
    }
}

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
    let express = flags
        .get_bool_value("express-shipping", Some(&user), None)
        .await
        .unwrap_or(false);
    sentry::capture_message("checkout failed", sentry::Level::Error);
    format!("new-checkout={new_checkout} express-shipping={express}\n")
}

async fn search(
    State(flags): State<Arc<Client>>,
    Query(query): Query<HashMap<String, String>>,
) -> String {
    let user = EvaluationContext::default()
        .with_targeting_key(query.get("user").cloned().unwrap_or_default());
    let beta = flags
        .get_bool_value("beta-search", Some(&user), None)
        .await
        .unwrap_or(false);
    sentry::capture_message("search failed", sentry::Level::Error);
    format!("beta-search={beta}\n")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut options = sentry::ClientOptions::new().traces_sample_rate(1.0);
    if std::env::var("SENTRY_DSN").map_or(true, |dsn| dsn.is_empty()) {
        options = options.dsn("https://public@sentry.invalid/1");
        options.transport = Some(Arc::new(Arc::new(PrintFlags)));
    }
    let _sentry = sentry::init(with_flags_context(options));

    let mut api = OpenFeature::default();
    api.set_provider(
        InMemoryProvider::new("in-memory")
            .with_flag("new-checkout", InMemoryFlag::new(true))
            .with_flag("express-shipping", InMemoryFlag::new(false))
            .with_flag("beta-search", InMemoryFlag::new(true)),
    )
    .await;
    let hook = TelemetryHook::builder().sink(SentrySink::new()).build();
    // Dropped when `main` returns, before Sentry's guard (declared earlier, dropped later).
    let _guard = hook.shutdown_guard();
    api.add_hook(hook).await;
    let flags = Arc::new(api.create_client());

    let app = Router::new()
        .route("/checkout", get(checkout))
        .route("/search", get(search))
        .with_state(flags)
        // One hub per request (made from the main hub), then a transaction per request.
        .layer(SentryHttpLayer::new().enable_transaction())
        .layer(NewSentryLayer::new_from_top());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000 (try /checkout?user=alice and /search?user=bob)");
    axum::serve(listener, app).await?;
    Ok(())
}
