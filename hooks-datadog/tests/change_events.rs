//! Change events received by an HTTP endpoint in the test: the documented body, and behaviour
//! under 500, 429, 403 and a server that never answers.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use openfeature_hooks_datadog::{
    ApiKey, AuthorType, ChangeEvents, ChangeEventsConfig, ChangeOrigin, ChangeTrackingSink,
    FlagChange, NotQueued,
};
use openfeature_hooks_testkit::{
    FixtureFlag, FixtureProvider, HttpReceiver, KeptLogs, ReceivedRequest, Reply,
};
use serde_json::{Map, Value, json};
use support::{client_with, runtime};

const KEY: &str = "test-api-key-0123456789";

fn config(receiver: &HttpReceiver) -> ChangeEventsConfig {
    ChangeEventsConfig::new(
        ApiKey::new(KEY),
        "datadoghq.com",
        ChangeOrigin {
            service: "checkout".into(),
            env: Some("prod".into()),
        },
    )
    .with_endpoint(format!("{}/api/v2/events", receiver.url()))
    .with_timeout(Duration::from_millis(500))
    .with_retries(3, Duration::from_millis(20))
}

fn receiver() -> HttpReceiver {
    HttpReceiver::start().unwrap_or_else(|e| panic!("no loopback port: {e}"))
}

fn change(flag: &str) -> FlagChange {
    let before: Map<String, Value> = [("enabled".to_owned(), json!(false))].into_iter().collect();
    let after: Map<String, Value> = [("enabled".to_owned(), json!(true))].into_iter().collect();
    FlagChange::new(flag, before, after).with_author("alice@example.com", AuthorType::User)
}

fn body(request: &ReceivedRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap_or(Value::Null)
}

#[test]
fn a_reported_change_has_the_documented_shape() {
    let receiver = receiver();
    let events = ChangeEvents::start(config(&receiver));
    assert!(events.report(change("new-checkout")));
    let requests = receiver.wait_until(Duration::from_secs(5), |r| !r.is_empty());
    assert!(events.shutdown(Duration::from_secs(2)));

    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/api/v2/events")
    );
    assert_eq!(request.header("dd-api-key"), Some(KEY));
    assert_eq!(request.header("content-type"), Some("application/json"));
    let mut body = body(request);
    let timestamp = body["data"]["attributes"]["timestamp"].take();
    assert!(
        timestamp
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 27),
        "{timestamp}"
    );
    assert_eq!(
        body,
        json!({"data": {"type": "event", "attributes": {
            "category": "change",
            "title": "Feature flag new-checkout changed",
            "message": "Feature flag new-checkout changed",
            "tags": ["env:prod", "service:checkout", "feature_flag:new-checkout"],
            "timestamp": null,
            "aggregation_key": "new-checkout",
            "attributes": {
                "changed_resource": {"name": "new-checkout", "type": "feature_flag"},
                "impacted_resources": [{"name": "checkout", "type": "service"}],
                "prev_value": {"enabled": false},
                "new_value": {"enabled": true},
                "author": {"name": "alice@example.com", "type": "user"},
                "change_metadata": {"source": "openfeature-hooks"}
            }
        }}})
    );
    assert_eq!(events.stats().sent, 1);
}

#[test]
fn changes_detected_from_evaluations_are_sent() {
    let receiver = receiver();
    let events = Arc::new(ChangeEvents::start(config(&receiver)));
    let runtime = runtime();
    let flag = |version: &str, variant: &str| {
        FixtureProvider::new("fixture").with_flag(
            "checkout",
            FixtureFlag::new(true)
                .variant(variant)
                .metadata("version", version),
        )
    };
    // One detector sees the flag served by successive provider states: the first sighting and
    // a repeat reveal nothing, a new version and a new variant each reveal a change.
    let sink = Arc::new(ChangeTrackingSink::new(events.clone()));
    for (version, variant) in [
        ("1", "on"),
        ("1", "on"),
        ("2", "on"),
        ("2", "off"),
        ("2", "off"),
    ] {
        let client = client_with(&runtime, flag(version, variant), sink.clone());
        runtime.block_on(async {
            let _ = client.get_bool_value("checkout", None, None).await;
        });
    }
    let requests = receiver.wait_until(Duration::from_secs(5), |r| r.len() >= 2);
    assert!(events.shutdown(Duration::from_secs(2)));
    let values: Vec<(Value, Value, Value)> = requests
        .iter()
        .map(body)
        .map(|b| {
            let a = &b["data"]["attributes"];
            (
                a["attributes"]["prev_value"].clone(),
                a["attributes"]["new_value"].clone(),
                a["message"].clone(),
            )
        })
        .collect();
    assert_eq!(
        values,
        vec![
            (
                json!({"version": "1"}),
                json!({"version": "2"}),
                json!("Feature flag checkout changed version: 1 -> 2")
            ),
            (
                json!({"variants": ["on"]}),
                json!({"variants": ["on", "off"]}),
                json!("Feature flag checkout started serving variant off")
            ),
        ]
    );
    assert_eq!(requests[0].header("dd-api-key"), Some(KEY));
}

#[test]
fn server_errors_and_rate_limits_are_retried_a_bounded_number_of_times() {
    for status in [500, 503, 429] {
        let receiver = receiver();
        receiver.reply_with(Reply::Status(status));
        let events = ChangeEvents::start(config(&receiver));
        assert!(events.report(change("f")));
        let requests = receiver.wait_until(Duration::from_secs(5), |r| r.len() >= 3);
        assert!(events.shutdown(Duration::from_secs(2)));
        assert_eq!(requests.len(), 3, "{status}: three attempts, no more");
        let stats = events.stats();
        assert_eq!(
            (stats.sent, stats.failed, stats.requests),
            (0, 1, 3),
            "{status}"
        );
    }
}

#[test]
fn a_retry_that_succeeds_counts_as_sent() {
    let receiver = receiver();
    receiver.reply_with(Reply::Status(500));
    let events = ChangeEvents::start(config(&receiver).with_retries(5, Duration::from_millis(200)));
    assert!(events.report(change("f")));
    receiver.wait_until(Duration::from_secs(5), |r| !r.is_empty());
    receiver.reply_with(Reply::Status(202));
    receiver.wait_until(Duration::from_secs(5), |r| r.len() >= 2);
    assert!(events.shutdown(Duration::from_secs(3)));
    assert_eq!(events.stats().sent, 1);
}

#[test]
fn other_client_errors_are_not_retried() {
    for status in [400, 403] {
        let receiver = receiver();
        receiver.reply_with(Reply::Status(status));
        let events = ChangeEvents::start(config(&receiver));
        assert!(events.report(change("f")));
        assert!(events.report(change("g")));
        let requests = receiver.wait_until(Duration::from_secs(5), |r| r.len() >= 2);
        assert!(events.shutdown(Duration::from_secs(2)));
        assert_eq!(requests.len(), 2, "{status}: one attempt per event");
        assert_eq!(events.stats().failed, 2);
    }
}

#[test]
fn a_hanging_server_never_slows_evaluations_and_the_queue_stays_bounded() {
    let receiver = receiver();
    receiver.reply_with(Reply::Hang);
    let events = Arc::new(ChangeEvents::start(
        config(&receiver).with_queue_capacity(4),
    ));
    let runtime = runtime();
    let sink = Arc::new(ChangeTrackingSink::new(events.clone()));

    // Each evaluation reveals a change (a new version each time); the sender is stuck on a
    // server that never answers.
    let mut slowest = Duration::ZERO;
    for version in 0..200 {
        let provider = FixtureProvider::new("fixture").with_flag(
            "checkout",
            FixtureFlag::new(true)
                .variant("on")
                .metadata("version", version.to_string().as_str()),
        );
        let client = client_with(&runtime, provider, sink.clone());
        let start = Instant::now();
        runtime.block_on(async {
            assert_eq!(
                client.get_bool_value("checkout", None, None).await,
                Ok(true)
            );
        });
        slowest = slowest.max(start.elapsed());
    }
    assert!(
        slowest < Duration::from_millis(50),
        "an evaluation took {slowest:?}"
    );
    // The evaluations can all be over before the sender has picked up its first change (a
    // busy machine): wait for the hanging request to reach the receiver.
    let hanging = receiver.wait_until(Duration::from_secs(10), |r| !r.is_empty());
    assert!(
        !hanging.is_empty(),
        "the sender never sent its first change"
    );
    let stats = events.stats();
    // 199 changes; at most the queue (4) plus the one in flight were kept.
    assert!(stats.dropped >= 199 - 5, "{stats:?}");
    // Shutdown returns within its bound even though a request hangs.
    assert!(
        stats.requests >= 1,
        "the sender is stuck on a request: {stats:?}"
    );
    let start = Instant::now();
    let _ = events.shutdown(Duration::from_millis(100));
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "shutdown keeps its bound"
    );
    drop(receiver);
}

/// Every log line of this test binary.
static LOGS: KeptLogs = KeptLogs::new();

#[test]
fn a_refused_key_is_logged_by_status_never_by_value() {
    LOGS.install();
    let receiver = receiver();
    receiver.reply_with(Reply::Status(403));
    let events = ChangeEvents::start(config(&receiver));
    assert!(events.report(change("f")));
    receiver.wait_until(Duration::from_secs(5), |r| !r.is_empty());
    assert!(events.shutdown(Duration::from_secs(2)));
    let logged = LOGS.text();
    assert!(logged.contains("403"), "the refusal is logged: {logged:?}");
    assert!(!logged.contains(KEY), "the API key is never logged");
}

#[test]
fn the_api_key_never_shows_in_debug_output() {
    let receiver = receiver();
    let config = config(&receiver);
    assert!(!format!("{config:?}").contains(KEY));
    let events = ChangeEvents::start(config);
    assert!(!format!("{events:?}").contains(KEY));
    assert!(events.shutdown(Duration::from_secs(1)));
}

#[test]
fn a_relayed_change_carries_its_env_services_tags_link_time_and_metadata() {
    let receiver = receiver();
    let events = ChangeEvents::start(config(&receiver));
    let made = std::time::SystemTime::now() - Duration::from_secs(90);
    let metadata: Map<String, Value> = [("source".to_owned(), json!("flipt"))]
        .into_iter()
        .collect();
    let relayed = change("new-checkout")
        .with_description("alice enabled new-checkout")
        .with_env("staging")
        .with_impacted_services(vec!["cart".into(), "billing".into()])
        .with_tag("flag_source:flipt")
        .with_url("https://flags.example.com/flags/new-checkout")
        .with_timestamp(made)
        .with_change_metadata(metadata);
    assert_eq!(events.try_report(relayed), Ok(()));
    let requests = receiver.wait_until(Duration::from_secs(5), |r| !r.is_empty());
    assert!(events.shutdown(Duration::from_secs(2)));
    let body = body(&requests[0]);
    let a = &body["data"]["attributes"];
    assert_eq!(
        a["timestamp"],
        json!(openfeature_hooks_core::__private::Rfc3339::at(made).to_string()),
        "the change's own time"
    );
    assert_eq!(
        a["message"],
        json!("alice enabled new-checkout\n\nhttps://flags.example.com/flags/new-checkout")
    );
    assert_eq!(
        a["tags"],
        json!([
            "env:staging",
            "service:cart",
            "service:billing",
            "feature_flag:new-checkout",
            "flag_source:flipt"
        ])
    );
    assert_eq!(
        a["attributes"]["impacted_resources"],
        json!([{"name": "cart", "type": "service"}, {"name": "billing", "type": "service"}])
    );
    assert_eq!(
        a["attributes"]["change_metadata"],
        json!({"source": "flipt", "url": "https://flags.example.com/flags/new-checkout"})
    );
}

#[test]
fn a_change_older_than_the_api_accepts_is_sent_now_with_its_time_in_metadata() {
    let receiver = receiver();
    let events = ChangeEvents::start(config(&receiver));
    let made = std::time::SystemTime::now() - Duration::from_secs(24 * 3600);
    assert!(events.report(change("f").with_timestamp(made)));
    let requests = receiver.wait_until(Duration::from_secs(5), |r| !r.is_empty());
    assert!(events.shutdown(Duration::from_secs(2)));
    let body = body(&requests[0]);
    let a = &body["data"]["attributes"];
    let made = openfeature_hooks_core::__private::Rfc3339::at(made).to_string();
    assert_ne!(a["timestamp"], json!(made));
    assert_eq!(
        a["attributes"]["change_metadata"]["source_timestamp"],
        json!(made)
    );
}

#[test]
fn try_report_says_when_the_queue_is_full_and_when_the_sender_stopped() {
    let receiver = receiver();
    receiver.reply_with(Reply::Hang);
    let events = ChangeEvents::start(config(&receiver).with_queue_capacity(2));
    assert_eq!(events.try_report(change("first")), Ok(()));
    // The worker takes the first and hangs on it; the queue then holds two more.
    receiver.wait_until(Duration::from_secs(5), |r| !r.is_empty());
    assert_eq!(events.try_report(change("a")), Ok(()));
    assert_eq!(events.try_report(change("b")), Ok(()));
    assert_eq!(events.try_report(change("c")), Err(NotQueued::QueueFull));
    let _ = events.shutdown(Duration::from_millis(50));
    assert_eq!(events.try_report(change("d")), Err(NotQueued::Stopped));
    assert_eq!(events.stats().dropped, 2);
}

#[test]
fn the_hooks_flush_waits_for_every_detected_change_and_reports_what_a_hung_server_holds() {
    let receiver = receiver();
    let runtime = runtime();
    // `ChangeTrackingSink::new` takes the sender as `ChangeEvents::start` returns it.
    let hook = openfeature_hooks_core::TelemetryHook::builder()
        .sink(ChangeTrackingSink::new(ChangeEvents::start(config(
            &receiver,
        ))))
        .build();
    let evaluate = |version: u32| {
        let provider = FixtureProvider::new("fixture").with_flag(
            "checkout",
            FixtureFlag::new(true)
                .variant("on")
                .metadata("version", version.to_string().as_str()),
        );
        runtime.block_on(async {
            let mut api = open_feature::OpenFeature::default();
            api.set_provider(provider).await;
            let client = api.create_client().with_hook(hook.clone());
            assert_eq!(
                client.get_bool_value("checkout", None, None).await,
                Ok(true)
            );
        });
    };
    // The first sighting reveals nothing; each later version one change.
    for version in 0..6 {
        evaluate(version);
    }
    assert!(hook.flush(Duration::from_secs(10)).is_complete());
    assert_eq!(
        receiver.requests().len(),
        5,
        "every change sent when flush returns"
    );

    receiver.reply_with(Reply::Hang);
    for version in 6..9 {
        evaluate(version);
    }
    let timeout = Duration::from_millis(200);
    let started = Instant::now();
    let outcome = hook.shutdown(timeout);
    assert!(started.elapsed() < timeout + Duration::from_secs(5));
    assert!(!outcome.is_complete());
    assert_eq!(outcome.left, 3, "{outcome:?}");
}
