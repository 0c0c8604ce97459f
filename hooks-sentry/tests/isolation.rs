//! One buffer per hub: concurrent requests, each in its own hub made from the main hub, on a
//! multi-threaded runtime, never see each other's flags; a child hub starts with its parent's
//! flags, and the parent never sees the child's.

mod support;

use std::sync::Arc;

use openfeature_hooks_sentry::SentrySink;
use sentry::{Hub, SentryFutureExt};
use serde_json::json;
use support::{evaluate, flags_of_event, hub, pairs, payloads};

const REQUESTS: usize = 32;

#[test]
fn concurrent_requests_are_isolated_and_children_inherit() {
    let (main, transport) = hub(true);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let client = Arc::new(support::client(&runtime, SentrySink::new()));

    // The main hub records a startup flag before any request hub is made from it.
    {
        let client = client.clone();
        runtime.block_on(
            async move {
                let _ = client.get_bool_value("a", None, None).await;
            }
            .bind_hub(main.clone()),
        );
    }

    let requests: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let client = client.clone();
            let request_hub = Arc::new(Hub::new_from_top(&main));
            runtime.spawn(
                async move {
                    let _ = client.get_bool_value(&format!("f{i}"), None, None).await;
                    tokio::task::yield_now().await;
                    let _ = client
                        .get_bool_value(&format!("f{}", i + REQUESTS), None, None)
                        .await;
                    tokio::task::yield_now().await;
                    if i == 0 {
                        // A child of this request's hub, e.g. a spawned sub-task.
                        let child = Arc::new(Hub::new_from_top(Hub::current()));
                        let client = client.clone();
                        async move {
                            let _ = client.get_bool_value("b", None, None).await;
                            sentry::capture_message("child of 0", sentry::Level::Error);
                        }
                        .bind_hub(child)
                        .await;
                    }
                    sentry::capture_message(&format!("request {i}"), sentry::Level::Error);
                }
                .bind_hub(request_hub),
            )
        })
        .collect();
    for request in requests {
        assert!(runtime.block_on(request).is_ok());
    }
    Hub::run(main, || {
        sentry::capture_message("main", sentry::Level::Error)
    });

    let events = payloads(&transport, "event");
    assert_eq!(events.len(), REQUESTS + 2);
    let by_message = |message: &str| flags_of_event(&events, message);
    for i in 0..REQUESTS {
        let own = [format!("f{i}"), format!("f{}", i + REQUESTS)];
        let expected = [
            ("a", json!(true)),
            (&own[0], json!(i.is_multiple_of(2))),
            (&own[1], json!((i + REQUESTS).is_multiple_of(2))),
        ];
        assert_eq!(
            by_message(&format!("request {i}")),
            pairs(&expected),
            "request {i}"
        );
    }
    assert_eq!(
        by_message("child of 0"),
        pairs(&[
            ("a", json!(true)),
            ("f0", json!(true)),
            ("f32", json!(true)),
            ("b", json!(true))
        ]),
        "a child starts with its parent's flags"
    );
    assert_eq!(
        by_message("main"),
        pairs(&[("a", json!(true))]),
        "the parent sees no child's flags"
    );
}

/// A hub whose first flag was recorded in a pushed scope: the scope's event processor leaves
/// with it, and the hub's next flag registers the hub again, in the scope then on top, so an
/// error captured after the pop still carries the flags recorded after it.
#[test]
fn flags_recorded_after_a_pushed_scope_is_popped_reach_later_errors() {
    let (hub, transport) = hub(true);
    let runtime = support::runtime();
    let client = support::client(&runtime, SentrySink::new());
    Hub::run(hub, || {
        {
            let _pushed = Hub::current().push_scope();
            evaluate(&runtime, &client, "a");
            sentry::capture_message("in the pushed scope", sentry::Level::Error);
        }
        evaluate(&runtime, &client, "off-flag");
        sentry::capture_message("after the pop", sentry::Level::Error);
    });
    let events = payloads(&transport, "event");
    let of = |message: &str| flags_of_event(&events, message);
    assert_eq!(of("in the pushed scope"), pairs(&[("a", json!(true))]));
    assert_eq!(of("after the pop"), pairs(&[("off-flag", json!(false))]));
}
