//! What Sentry's ingest makes of what we send: the event and transaction items of real
//! envelopes (a real client, read back from the envelope bytes) run through Relay's own
//! normaliser (`sentry-relay` from PyPI, `StoreNormalizer`), installed by the test itself.

mod support;

use openfeature_hooks_sentry::{RecordedValues, SentrySink};
use serde_json::{Value, json};
use support::relay::normalise;
use support::{active_transaction, client, hub, payloads, runtime};

/// Flags of every kind the sink records with `RecordedValues::Scalars`, names Relay would
/// reject (outside its alphabet, empty, over 200 characters) included.
const KEYS: [&str; 7] = ["a", "off-flag", "color", "limit", "bad name/ü", "", "b"];

/// The event item of one error captured after evaluating [`KEYS`] and a 300-character key.
fn error_event(flags_context: bool) -> Value {
    let (hub, transport) = hub(flags_context);
    let runtime = runtime();
    let client = client(
        &runtime,
        SentrySink::new().with_values(RecordedValues::Scalars),
    );
    sentry::Hub::run(hub, || {
        runtime.block_on(async {
            for key in KEYS {
                let _ = client.get_bool_value(key, None, None).await;
            }
            let _ = client.get_string_value("color", None, None).await;
            let _ = client.get_int_value("limit", None, None).await;
            let _ = client.get_bool_value(&"x".repeat(300), None, None).await;
        });
        sentry::capture_message("boom", sentry::Level::Error);
    });
    let mut events = payloads(&transport, "event");
    assert_eq!(events.len(), 1);
    events.remove(0)
}

#[test]
fn relay_reads_our_flags_context_as_flags_with_every_value_intact() {
    let sent = error_event(true);
    let sent_values = sent["contexts"]["flags"]["values"].clone();
    let results: Vec<(&str, &Value)> = sent_values
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| (v["flag"].as_str().unwrap_or_default(), &v["result"]))
        .collect();
    // What we sent: every recorded flag, names already in Relay's alphabet and length.
    assert_eq!(results.len(), 7, "{sent_values}");
    assert!(
        results.contains(&("color", &json!("blue"))),
        "{sent_values}"
    );
    assert!(results.contains(&("limit", &json!(25))), "{sent_values}");
    assert!(
        results.contains(&("off-flag", &json!(false))),
        "{sent_values}"
    );
    assert!(results.iter().any(|(flag, _)| flag.len() == 200));

    let normalised = normalise(std::slice::from_ref(&sent));
    let flags = &normalised[0]["contexts"]["flags"];
    assert_eq!(flags["type"], "flags", "Relay reads it as flags: {flags}");
    assert_eq!(
        flags["values"], sent_values,
        "Relay keeps every flag and value as sent"
    );
    assert!(
        normalised[0].get("errors").is_none(),
        "Relay found nothing wrong: {}",
        normalised[0]["errors"]
    );
}

#[test]
fn without_the_flags_context_transport_relay_reads_a_generic_context() {
    // The control: sentry-rust's own serialisation of a `Context::Other` map.
    let sent = error_event(false);
    assert_eq!(sent["contexts"]["flags"]["type"], "unknown");
    let normalised = normalise(&[sent]);
    assert_eq!(
        normalised[0]["contexts"]["flags"]["type"], "unknown",
        "{}",
        normalised[0]["contexts"]
    );
}

/// `(key, value)` of every `flag.evaluation.*` entry of span `data`.
fn flag_data(data: &Value) -> Vec<(String, Value)> {
    data.as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.starts_with("flag.evaluation."))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

#[test]
fn flag_span_data_survives_relays_normalisation_of_a_transaction() {
    let (hub, transport) = hub(true);
    let runtime = runtime();
    let client = client(&runtime, SentrySink::new());
    sentry::Hub::run(hub, || {
        let transaction = active_transaction();
        runtime.block_on(async {
            let _ = client.get_bool_value("a", None, None).await;
            let _ = client.get_bool_value("off-flag", None, None).await;
        });
        let span = transaction.start_child("db", "query");
        sentry::configure_scope(|scope| scope.set_span(Some(span.clone().into())));
        runtime.block_on(async {
            let _ = client.get_bool_value("f0", None, None).await;
            let _ = client.get_bool_value("f1", None, None).await;
        });
        span.finish();
        transaction.finish();
    });
    let transactions = payloads(&transport, "transaction");
    assert_eq!(transactions.len(), 1);
    let sent = &transactions[0];
    let sent_root = flag_data(&sent["contexts"]["trace"]["data"]);
    let sent_child = flag_data(&sent["spans"][0]["data"]);
    assert_eq!(
        sent_root,
        [
            ("flag.evaluation.a".to_owned(), json!(true)),
            ("flag.evaluation.off-flag".to_owned(), json!(false)),
        ]
    );
    assert_eq!(
        sent_child,
        [
            ("flag.evaluation.f0".to_owned(), json!(true)),
            ("flag.evaluation.f1".to_owned(), json!(false)),
        ]
    );

    // Relay takes the event type from the envelope item's header (`"type": "transaction"`);
    // sentry-rust leaves it out of the payload, so it is set here as Relay would.
    assert!(
        sent.get("type").is_none_or(|t| t == "transaction"),
        "{sent}"
    );
    let mut as_ingested = sent.clone();
    as_ingested["type"] = json!("transaction");
    let normalised = normalise(&[as_ingested]);
    let transaction = &normalised[0];
    assert_eq!(transaction["type"], "transaction");
    assert_eq!(
        flag_data(&transaction["contexts"]["trace"]["data"]),
        sent_root,
        "{}",
        transaction["contexts"]
    );
    assert_eq!(
        flag_data(&transaction["spans"][0]["data"]),
        sent_child,
        "{}",
        transaction["spans"]
    );
}
