//! What a real Sentry client sends, read from the serialised envelope bytes.

mod support;

use openfeature_hooks_sentry::{RecordedValues, SentrySink, add_feature_flag};
use serde_json::{Value, json};
use support::{active_transaction, client, flag_keys, flags, hub, pairs, payloads, runtime};

#[test]
fn error_events_carry_the_flags_context_as_sentry_reads_it() {
    let (hub, transport) = hub(true);
    let runtime = runtime();
    let client = client(&runtime, SentrySink::new());
    sentry::Hub::run(hub, || {
        runtime.block_on(async {
            // The evaluations of the reference run of sentry-python (a, b, off-flag, a, missing).
            for key in ["a", "b", "off-flag", "a", "missing"] {
                let _ = client.get_bool_value(key, None, None).await;
            }
        });
        sentry::capture_message("boom", sentry::Level::Error);
    });
    let events = payloads(&transport, "event");
    assert_eq!(events.len(), 1);
    // Like Python, oldest first with `a` moved to the end. Python also lists `missing` with the
    // caller's default; the Rust SDK does not know it, so a failure records nothing.
    assert_eq!(
        events[0]["contexts"]["flags"],
        json!({"values": [
            {"flag": "b", "result": true},
            {"flag": "off-flag", "result": false},
            {"flag": "a", "result": true},
        ]}),
        "no \"type\": Sentry reads the context as flags by its key"
    );
}

#[test]
fn without_the_transport_step_the_context_is_generic() {
    // The problem the transport step solves, shown on the same bytes.
    let (hub, transport) = hub(false);
    let runtime = runtime();
    let client = client(&runtime, SentrySink::new());
    sentry::Hub::run(hub, || {
        runtime.block_on(async {
            let _ = client.get_bool_value("a", None, None).await;
        });
        sentry::capture_message("boom", sentry::Level::Error);
    });
    let events = payloads(&transport, "event");
    assert_eq!(events[0]["contexts"]["flags"]["type"], "unknown");
}

#[test]
fn transactions_carry_no_flags_context_and_the_root_transaction_keeps_its_flags() {
    let (hub, transport) = hub(true);
    let runtime = runtime();
    let client = client(&runtime, SentrySink::new());
    sentry::Hub::run(hub, || {
        let transaction = active_transaction();
        runtime.block_on(async {
            let _ = client.get_bool_value("a", None, None).await;
            let _ = client.get_bool_value("off-flag", None, None).await;
        });
        sentry::capture_message("inside the transaction", sentry::Level::Error);
        transaction.finish();
    });
    let all = support::items(&transport);
    let transactions: Vec<Value> = all
        .iter()
        .filter(|(k, _)| k == "transaction")
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(transactions.len(), 1);
    let trace_data = &transactions[0]["contexts"]["trace"]["data"];
    assert_eq!(trace_data["flag.evaluation.a"], true, "{trace_data}");
    assert_eq!(trace_data["flag.evaluation.off-flag"], false);
    assert!(
        transactions[0]["contexts"].get("flags").is_none(),
        "transactions carry no flags context"
    );
    let events: Vec<Value> = all
        .iter()
        .filter(|(k, _)| k == "event")
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(flags(&events[0]).len(), 2, "the error event does");
}

#[test]
fn spans_keep_the_first_ten_flags_and_update_present_ones() {
    let (hub, transport) = hub(true);
    let runtime = runtime();
    let client = client(&runtime, SentrySink::new());
    sentry::Hub::run(hub, || {
        let transaction = sentry::start_transaction(sentry::TransactionContext::new("job", "task"));
        let span = transaction.start_child("db", "query");
        sentry::configure_scope(|scope| scope.set_span(Some(span.clone().into())));
        runtime.block_on(async {
            for i in 0..12 {
                let _ = client.get_bool_value(&format!("f{i}"), None, None).await;
            }
        });
        // f0 is already on the span: its value is updated (f0 is true, add_feature_flag says false).
        add_feature_flag("f0", false);
        span.finish();
        transaction.finish();
    });
    let transactions = payloads(&transport, "transaction");
    let span = &transactions[0]["spans"][0];
    let keys = flag_keys(&span["data"]);
    let expected: Vec<String> = (0..10).map(|i| format!("flag.evaluation.f{i}")).collect();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "the first ten, no more");
    assert_eq!(
        span["data"]["flag.evaluation.f0"], false,
        "present keys are updated"
    );
    assert_eq!(span["data"]["flag.evaluation.f1"], false);
    assert_eq!(span["data"]["flag.evaluation.f2"], true);
}

#[test]
fn the_active_transaction_keeps_the_first_ten_flags_and_updates_present_ones() {
    let (hub, transport) = hub(true);
    let runtime = runtime();
    let client = client(&runtime, SentrySink::new());
    sentry::Hub::run(hub, || {
        let transaction = active_transaction();
        runtime.block_on(async {
            for i in 0..12 {
                let _ = client.get_bool_value(&format!("f{i}"), None, None).await;
            }
            // The same value again changes nothing.
            let _ = client.get_bool_value("f2", None, None).await;
        });
        // f0 is on the transaction as true: a new value replaces it, the same one keeps it.
        add_feature_flag("f0", false);
        add_feature_flag("f0", false);
        // f1 is false: true replaces it.
        add_feature_flag("f1", true);
        transaction.finish();
    });
    let transactions = payloads(&transport, "transaction");
    let data = &transactions[0]["contexts"]["trace"]["data"];
    let keys = flag_keys(data);
    let mut expected: Vec<String> = (0..10).map(|i| format!("flag.evaluation.f{i}")).collect();
    expected.sort();
    assert_eq!(keys, expected, "the first ten, no more: {data}");
    assert_eq!(data["flag.evaluation.f0"], false, "updated");
    assert_eq!(data["flag.evaluation.f1"], true, "updated");
    assert_eq!(data["flag.evaluation.f2"], true, "kept");
}

#[test]
fn a_full_span_skips_absent_flags_but_updates_present_ones_and_a_new_span_starts_empty() {
    // The sink remembers which flags a full span lacks (to skip the span's lock on later
    // evaluations): that must never stop updates of flags on it, nor writes to the next span.
    let (hub, transport) = hub(true);
    sentry::Hub::run(hub, || {
        let transaction = sentry::start_transaction(sentry::TransactionContext::new("job", "task"));
        let full = transaction.start_child("db", "query");
        sentry::configure_scope(|scope| scope.set_span(Some(full.clone().into())));
        for i in 0..10 {
            add_feature_flag(&format!("f{i}"), true);
        }
        for _ in 0..3 {
            add_feature_flag("late", true);
        }
        add_feature_flag("f0", false);
        add_feature_flag("late", false);
        add_feature_flag("f9", false);
        full.finish();
        let next = transaction.start_child("db", "query");
        sentry::configure_scope(|scope| scope.set_span(Some(next.clone().into())));
        add_feature_flag("late", true);
        next.finish();
        transaction.finish();
    });
    let transactions = payloads(&transport, "transaction");
    let spans = &transactions[0]["spans"];
    let (full, next) = (&spans[0]["data"], &spans[1]["data"]);
    assert_eq!(
        full["flag.evaluation.f0"], false,
        "present flags still update"
    );
    assert_eq!(full["flag.evaluation.f9"], false);
    assert_eq!(full["flag.evaluation.f1"], true);
    assert!(full.get("flag.evaluation.late").is_none());
    assert_eq!(next["flag.evaluation.late"], true, "a new span is not full");
}

#[test]
fn the_buffer_rules_through_evaluations() {
    let (hub, transport) = hub(true);
    let runtime = runtime();
    let client = client(&runtime, SentrySink::new().with_capacity(3));
    sentry::Hub::run(hub, || {
        let capture = |keys: &[&str]| {
            runtime.block_on(async {
                for key in keys {
                    let _ = client.get_bool_value(key, None, None).await;
                }
            });
            sentry::capture_message("snapshot", sentry::Level::Error);
        };
        capture(&["f1", "f2", "f3", "f4"]);
        capture(&["f5", "f6"]);
        capture(&["f5"]);
    });
    let names: Vec<Vec<String>> = payloads(&transport, "event")
        .iter()
        .map(|event| flags(event).into_iter().map(|(name, _)| name).collect())
        .collect();
    assert_eq!(
        names,
        vec![
            vec!["f2", "f3", "f4"],
            vec!["f4", "f5", "f6"],
            vec!["f4", "f6", "f5"]
        ]
    );
}

#[test]
fn values_failures_and_names() {
    let (hub, transport) = hub(true);
    let runtime = runtime();
    let booleans = client(&runtime, SentrySink::new());
    let scalars = client(
        &runtime,
        SentrySink::new().with_values(RecordedValues::Scalars),
    );
    sentry::Hub::run(hub, || {
        runtime.block_on(async {
            let _ = booleans.get_string_value("color", None, None).await; // not a boolean: skipped
            let _ = scalars.get_int_value("limit", None, None).await;
            let _ = scalars.get_string_value("color", None, None).await;
            let _ = booleans.get_bool_value("bad name/ü", None, None).await;
            let _ = booleans.get_bool_value("", None, None).await;
            let _ = booleans.get_bool_value(&"x".repeat(300), None, None).await;
            let _ = booleans.get_bool_value("a", None, None).await;
            // `broken` fails: had it been recorded before, it is removed.
            add_feature_flag("broken", true);
            let _ = booleans.get_bool_value("broken", None, None).await;
        });
        add_feature_flag("manual", json_struct());
        sentry::capture_message("values", sentry::Level::Error);
    });
    let events = payloads(&transport, "event");
    assert_eq!(
        flags(&events[0]),
        pairs(&[
            ("limit", json!(25)),
            ("color", json!("blue")),
            ("bad_name__", json!(true)),
            (&"x".repeat(200), json!(true)),
            ("a", json!(true)),
            ("manual", json!({"on": true})),
        ])
    );
}

fn json_struct() -> open_feature::Value {
    open_feature::Value::Struct(open_feature::StructValue::default().with_field("on", true))
}

#[test]
fn with_tracing_disabled_spans_are_left_alone_and_errors_still_carry_the_flags() {
    // Sentry's default: no traces_sample_rate, no traces_sampler. Its spans are never sent.
    spans_are_left_alone_and_errors_carry_the_flags(
        sentry::ClientOptions::new().dsn("https://public@sentry.invalid/1"),
    );
}

#[test]
fn spans_of_an_unsampled_trace_are_left_alone_and_errors_still_carry_the_flags() {
    // Tracing on, but this trace not sampled (rate 0): its spans are discarded when they end,
    // so nothing is written on them.
    spans_are_left_alone_and_errors_carry_the_flags(
        sentry::ClientOptions::new()
            .dsn("https://public@sentry.invalid/1")
            .traces_sample_rate(0.0),
    );
}

/// Under a client made from `options`, whose spans are never sent: a flag evaluated in a
/// request's handler span is not written on the span, no transaction is sent, and an error
/// event still carries the flag.
fn spans_are_left_alone_and_errors_carry_the_flags(options: sentry::ClientOptions) {
    let (hub, transport) = support::hub_with(true, options);
    let runtime = runtime();
    let client = client(&runtime, SentrySink::new());
    sentry::Hub::run(hub, || {
        let transaction =
            sentry::start_transaction(sentry::TransactionContext::new("GET /", "http.server"));
        let span = transaction.start_child("handler", "function");
        sentry::configure_scope(|scope| scope.set_span(Some(span.clone().into())));
        runtime.block_on(async {
            let _ = client.get_bool_value("a", None, None).await;
        });
        let on_span: Vec<String> = span
            .data()
            .keys()
            .filter(|key| key.starts_with("flag.evaluation."))
            .cloned()
            .collect();
        assert!(on_span.is_empty(), "{on_span:?}");
        sentry::capture_message("boom", sentry::Level::Error);
        span.finish();
        transaction.finish();
    });
    let all = support::items(&transport);
    assert!(
        all.iter().all(|(kind, _)| kind != "transaction"),
        "no span sent"
    );
    let events: Vec<&Value> = all
        .iter()
        .filter(|(kind, _)| kind == "event")
        .map(|(_, event)| event)
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(flags(events[0]), pairs(&[("a", json!(true))]));
}

#[test]
fn nothing_is_recorded_without_an_active_client() {
    let runtime = runtime();
    let client = client(&runtime, SentrySink::new());
    // No client bound on this thread's hub: evaluations pass through untouched.
    let hub = std::sync::Arc::new(sentry::Hub::new(None, Default::default()));
    sentry::Hub::run(hub, || {
        runtime.block_on(async {
            assert_eq!(client.get_bool_value("a", None, None).await, Ok(true));
        });
    });

    // A hub whose client is unbound records nothing; once a client is bound again, it does.
    let (hub, transport) = support::hub(true);
    let sentry_client = hub.client();
    hub.bind_client(None);
    sentry::Hub::run(hub.clone(), || {
        runtime.block_on(async {
            let _ = client.get_bool_value("a", None, None).await;
        });
        hub.bind_client(sentry_client);
        runtime.block_on(async {
            let _ = client.get_bool_value("b", None, None).await;
        });
        sentry::capture_message("boom", sentry::Level::Error);
    });
    let events = payloads(&transport, "event");
    assert_eq!(events.len(), 1);
    assert_eq!(flags(&events[0]), pairs(&[("b", json!(true))]));
}
