//! The flags of a hub that is gone reach the later errors of its trace: Sentry's span layer
//! records a nested span's flags in a hub of its own and drops it on exit, and an error reported
//! after the span returns still carries them (`tests/tracing_stack.rs` shows it with the real
//! layer; these tests make the hubs by hand, as that layer does).

mod support;

use std::sync::{Arc, Mutex};

use openfeature_hooks_sentry::SentrySink;
use sentry::protocol::Event;
use sentry::{ClientOptions, Hub, TransactionContext};
use serde_json::json;
use support::{evaluate, flags_of_event, hub, hub_with, pairs, payloads};

/// Runs `f` in a request hub made from `main`, with a transaction of its own set on it.
fn in_request(main: &Arc<Hub>, f: impl FnOnce()) {
    Hub::run(Arc::new(Hub::new_from_top(main)), || {
        let transaction = sentry::start_transaction(TransactionContext::new("GET /", "http"));
        sentry::configure_scope(|scope| scope.set_span(Some(transaction.clone().into())));
        f();
        transaction.finish();
    });
}

/// Evaluates `flag` in a nested span's hub, as Sentry's span layer makes one for each span
/// entry: made from the current hub, the span (a child of the current one) set active on it,
/// the hub dropped and the span finished when this returns.
fn in_nested_hub(runtime: &tokio::runtime::Runtime, client: &open_feature::Client, flag: &str) {
    let nested = sentry::configure_scope(|scope| scope.get_span())
        .map(|parent| parent.start_child("function", "nested"));
    Hub::run(Arc::new(Hub::new_from_top(Hub::current())), || {
        sentry::configure_scope(|scope| scope.set_span(nested.clone().map(Into::into)));
        evaluate(runtime, client, flag);
    });
    if let Some(nested) = nested {
        nested.finish();
    }
}

#[test]
fn a_gone_hubs_flags_reach_later_errors_of_its_trace_and_no_other() {
    let (main, transport) = hub(true);
    let runtime = support::runtime();
    let client = support::client(&runtime, SentrySink::new());
    in_request(&main, || {
        evaluate(&runtime, &client, "a");
        in_nested_hub(&runtime, &client, "off-flag");
        sentry::capture_message("after the nested hub", sentry::Level::Error);
    });
    in_request(&main, || {
        sentry::capture_message("another request", sentry::Level::Error);
    });
    let events = payloads(&transport, "event");
    assert_eq!(
        flags_of_event(&events, "after the nested hub"),
        pairs(&[("off-flag", json!(false)), ("a", json!(true))]),
        "the nested hub's flags, as older than the request hub's own"
    );
    assert_eq!(flags_of_event(&events, "another request"), []);
}

/// Requests on several threads at once, each with its own trace and a nested span's hub: every
/// error carries its own request's nested flag and no other's.
#[test]
fn concurrent_requests_each_get_their_own_traces_flags() {
    const THREADS: usize = 4;
    const REQUESTS: usize = 100;
    let (main, transport) = hub(true);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let main = main.clone();
            scope.spawn(move || {
                let runtime = support::runtime();
                let client = support::client(&runtime, SentrySink::new());
                for request in 0..REQUESTS {
                    in_request(&main, || {
                        let flag = format!("f{}", (thread * 16 + request) % 64);
                        in_nested_hub(&runtime, &client, &flag);
                        let message = format!("{thread}-{request}");
                        sentry::capture_message(&message, sentry::Level::Error);
                    });
                }
            });
        }
    });
    let events = payloads(&transport, "event");
    assert_eq!(events.len(), THREADS * REQUESTS);
    for thread in 0..THREADS {
        for request in 0..REQUESTS {
            let i = (thread * 16 + request) % 64;
            assert_eq!(
                flags_of_event(&events, &format!("{thread}-{request}")),
                pairs(&[(&format!("f{i}"), json!(i % 2 == 0))]),
                "request {thread}-{request}"
            );
        }
    }
}

#[test]
fn a_flag_the_event_carries_is_not_added_twice() {
    let (main, transport) = hub(true);
    let runtime = support::runtime();
    let client = support::client(&runtime, SentrySink::new());
    in_request(&main, || {
        in_nested_hub(&runtime, &client, "off-flag");
        evaluate(&runtime, &client, "off-flag");
        sentry::capture_message("carried", sentry::Level::Error);
    });
    let events = payloads(&transport, "event");
    assert_eq!(
        flags_of_event(&events, "carried"),
        pairs(&[("off-flag", json!(false))])
    );
}

#[test]
fn without_the_flags_context_options_a_gone_hubs_flags_stay_with_it() {
    let (main, transport) = hub(false);
    let runtime = support::runtime();
    let client = support::client(&runtime, SentrySink::new());
    in_request(&main, || {
        evaluate(&runtime, &client, "a");
        in_nested_hub(&runtime, &client, "off-flag");
        sentry::capture_message("unwrapped", sentry::Level::Error);
    });
    let events = payloads(&transport, "event");
    assert_eq!(
        flags_of_event(&events, "unwrapped"),
        pairs(&[("a", json!(true))])
    );
}

/// A request's own hub (its transaction active) is not kept: its flags reach its own errors.
#[test]
fn a_requests_hub_keeps_its_flags_to_itself() {
    let (main, transport) = hub(true);
    let runtime = support::runtime();
    let client = support::client(&runtime, SentrySink::new());
    let trace = Hub::run(Arc::new(Hub::new_from_top(&main)), || {
        let transaction = sentry::start_transaction(TransactionContext::new("GET /", "http"));
        sentry::configure_scope(|scope| scope.set_span(Some(transaction.clone().into())));
        evaluate(&runtime, &client, "off-flag");
        transaction.get_trace_context().trace_id
    });
    // A later hub of the same trace (a detached task, say) does not get them.
    Hub::run(Arc::new(Hub::new_from_top(&main)), || {
        let transaction =
            sentry::start_transaction(TransactionContext::new_with_trace_id("task", "task", trace));
        sentry::configure_scope(|scope| scope.set_span(Some(transaction.into())));
        sentry::capture_message("after the request", sentry::Level::Error);
    });
    let events = payloads(&transport, "event");
    assert_eq!(flags_of_event(&events, "after the request"), []);
}

/// Without a span, every request hub made from one parent reports the parent's trace id: such
/// a hub's flags are not kept by trace, or they would reach every request's errors.
#[test]
fn a_hub_without_a_span_keeps_its_flags_to_itself() {
    let (main, transport) = hub(true);
    let runtime = support::runtime();
    let client = support::client(&runtime, SentrySink::new());
    Hub::run(Arc::new(Hub::new_from_top(&main)), || {
        in_nested_hub(&runtime, &client, "off-flag");
    });
    Hub::run(Arc::new(Hub::new_from_top(&main)), || {
        sentry::capture_message("a later request", sentry::Level::Error);
    });
    let events = payloads(&transport, "event");
    assert_eq!(flags_of_event(&events, "a later request"), []);
}

#[test]
fn the_applications_before_send_runs_after_and_sees_the_flags() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut options = ClientOptions::new()
        .dsn("https://public@sentry.invalid/1")
        .traces_sample_rate(1.0);
    let recorder = seen.clone();
    options.before_send = Some(Arc::new(move |mut event: Event<'static>| {
        let flags = event.contexts.remove("flags");
        if let Ok(mut seen) = recorder.lock() {
            seen.push(serde_json::to_string(&flags).unwrap_or_default());
        }
        Some(event)
    }));
    let (main, transport) = hub_with(true, options);
    let runtime = support::runtime();
    let client = support::client(&runtime, SentrySink::new());
    in_request(&main, || {
        in_nested_hub(&runtime, &client, "off-flag");
        sentry::capture_message("scrubbed", sentry::Level::Error);
    });
    let events = payloads(&transport, "event");
    assert_eq!(
        flags_of_event(&events, "scrubbed"),
        [],
        "removed by before_send"
    );
    let seen = seen.lock().map(|seen| seen.clone()).unwrap_or_default();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].contains(r#""flag":"off-flag""#), "{seen:?}");
}
