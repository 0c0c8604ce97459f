//! A real Sentry client whose test transport sits behind the flags-context transport, and the
//! envelopes it produced, read back from their serialised bytes.

#![allow(dead_code, unreachable_pub)]

pub mod relay;

use std::sync::Arc;

use open_feature::{EvaluationErrorCode, OpenFeature};
use openfeature_hooks_core::TelemetryHook;
use openfeature_hooks_sentry::{SentrySink, with_flags_context};
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider};
use sentry::test::TestTransport;
use sentry::{Client, ClientOptions, Hub};
use serde_json::Value;

/// A hub with a real client that samples every transaction. `wrapped`: whether the
/// flags-context transport is installed.
pub fn hub(wrapped: bool) -> (Arc<Hub>, Arc<TestTransport>) {
    hub_with(
        wrapped,
        ClientOptions::new()
            .dsn("https://public@sentry.invalid/1")
            .traces_sample_rate(1.0),
    )
}

/// A hub with a real client made from `options` (its transport replaced by a test transport).
pub fn hub_with(wrapped: bool, mut options: ClientOptions) -> (Arc<Hub>, Arc<TestTransport>) {
    let transport = TestTransport::new();
    options.transport = Some(Arc::new(transport.clone()));
    let options = if wrapped {
        with_flags_context(options)
    } else {
        options
    };
    let client = Arc::new(Client::from(options));
    (
        Arc::new(Hub::new(Some(client), Arc::new(Default::default()))),
        transport,
    )
}

pub fn provider() -> FixtureProvider {
    let mut provider = FixtureProvider::new("fixture")
        .with_flag("a", FixtureFlag::new(true))
        .with_flag("b", FixtureFlag::new(true))
        .with_flag("off-flag", FixtureFlag::new(false))
        .with_flag("color", FixtureFlag::new("blue"))
        .with_flag("limit", FixtureFlag::new(25_i64))
        .with_flag("bad name/ü", FixtureFlag::new(true))
        .with_flag("", FixtureFlag::new(true))
        .with_flag("x".repeat(300), FixtureFlag::new(true))
        .with_flag(
            "broken",
            FixtureFlag::failing(EvaluationErrorCode::ParseError, None),
        );
    for i in 0..64_usize {
        provider = provider.with_flag(format!("f{i}"), FixtureFlag::new(i.is_multiple_of(2)));
    }
    provider
}

/// An OpenFeature client whose hook records into Sentry with `sink`.
pub fn client(runtime: &tokio::runtime::Runtime, sink: SentrySink) -> open_feature::Client {
    runtime.block_on(async {
        let mut api = OpenFeature::default();
        api.set_provider(provider()).await;
        api.create_client()
            .with_hook(TelemetryHook::builder().sink(sink).build())
    })
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// Every item of every envelope, as (item type, payload JSON), parsed from the bytes each
/// envelope serialises to.
pub fn items(transport: &TestTransport) -> Vec<(String, Value)> {
    let mut items = Vec::new();
    for envelope in transport.fetch_and_clear_envelopes() {
        let mut bytes = Vec::new();
        envelope
            .to_writer(&mut bytes)
            .unwrap_or_else(|e| panic!("serialise: {e}"));
        let text = String::from_utf8(bytes).unwrap_or_else(|e| panic!("utf-8: {e}"));
        let mut lines = text.lines();
        let _headers = lines.next();
        while let Some(header) = lines.next() {
            let header: Value = serde_json::from_str(header).unwrap_or(Value::Null);
            let payload = lines.next().unwrap_or_default();
            let length = header["length"].as_u64().map(|n| n as usize);
            if let Some(length) = length {
                assert_eq!(
                    payload.len(),
                    length,
                    "item length header matches its payload"
                );
            }
            let kind = header["type"].as_str().unwrap_or_default().to_owned();
            items.push((kind, serde_json::from_str(payload).unwrap_or(Value::Null)));
        }
    }
    items
}

/// The payloads of items of `kind`.
pub fn payloads(transport: &TestTransport, kind: &str) -> Vec<Value> {
    items(transport)
        .into_iter()
        .filter(|(k, _)| k == kind)
        .map(|(_, payload)| payload)
        .collect()
}

/// `[(flag, result)]` of an event payload's flags context.
pub fn flags(event: &Value) -> Vec<(String, Value)> {
    event["contexts"]["flags"]["values"]
        .as_array()
        .map(|values| {
            values
                .iter()
                .map(|v| {
                    (
                        v["flag"].as_str().unwrap_or_default().to_owned(),
                        v["result"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The flags of the event among `events` whose message is `message`.
pub fn flags_of_event(events: &[Value], message: &str) -> Vec<(String, Value)> {
    events
        .iter()
        .find(|e| e["message"] == message || e["logentry"]["message"] == message)
        .map(flags)
        .unwrap_or_else(|| panic!("no event {message}"))
}

/// Evaluates the boolean flag `flag` once, in the current hub.
pub fn evaluate(runtime: &tokio::runtime::Runtime, client: &open_feature::Client, flag: &str) {
    runtime.block_on(async {
        let _ = client.get_bool_value(flag, None, None).await;
    });
}

pub fn pairs(expected: &[(&str, Value)]) -> Vec<(String, Value)> {
    expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Starts a request transaction (`GET /`) and makes it the current hub's active span.
pub fn active_transaction() -> sentry::Transaction {
    let transaction =
        sentry::start_transaction(sentry::TransactionContext::new("GET /", "http.server"));
    sentry::configure_scope(|scope| scope.set_span(Some(transaction.clone().into())));
    transaction
}

/// The flag attribute names (`flag.evaluation.*`) of a span's or trace context's `data`.
pub fn flag_keys(data: &Value) -> Vec<&str> {
    data.as_object()
        .map(|data| {
            data.keys()
                .map(String::as_str)
                .filter(|k| k.starts_with("flag.evaluation."))
                .collect()
        })
        .unwrap_or_default()
}
