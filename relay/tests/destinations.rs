//! The built binary, started from its environment variables, with Datadog and Sentry as
//! destinations: a loopback Events API intake (the testkit's receiver) and a loopback Sentry
//! that checks the signature and applies the generic provider's serializer rules. Deliveries
//! are signed as each source signs them.

mod support;

use std::time::Duration;

use openfeature_hooks_testkit::{HttpReceiver, ReceivedRequest, Reply};
use serde_json::{Value, json};
use support::binary::{self, RelayProcess};
use support::sentry_receiver::{Answer, SentryReceiver, accepted_items};
use support::{body_of, flag_of, time_ago};

const WAIT: Duration = Duration::from_secs(20);

fn both(
    intake: &HttpReceiver,
    sentry: &SentryReceiver,
    more: &[(&'static str, String)],
) -> RelayProcess {
    let mut vars = binary::all_sources();
    vars.extend(binary::datadog(&intake.url()));
    vars.extend(binary::sentry(&sentry.url()));
    vars.extend(more.iter().cloned());
    RelayProcess::start(&vars)
}

fn flipt_update(flag: &str, description: &str) -> String {
    let (_, at) = time_ago(30);
    json!({"version": "0.2", "type": "flag", "action": "updated",
        "metadata": {"actor": {"email": "alice@example.com"}},
        "payload": {"key": flag, "enabled": true, "description": description, "namespace_key": "default"},
        "timestamp": at, "status": "success"})
    .to_string()
}

fn growthbook_update(id: &str) -> String {
    let (time, _) = time_ago(20);
    let millis = time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    json!({"event": "feature.updated", "object": "feature", "api_version": "2024-07-31",
        "created": millis,
        "data": {"object": {"id": id, "project": "prj_1", "owner": "u_1", "valueType": "boolean",
                            "defaultValue": "true", "tags": ["payments"], "archived": false,
                            "environments": {"production": {"enabled": true, "rules": []}},
                            "revision": {"version": 4, "comment": "ship it", "date": "2026-11-28T19:00:00.000Z",
                                         "createdBy": "u_1", "publishedBy": "u_1"}},
                 "previous_attributes": {"defaultValue": "false"}},
        "user": {"type": "dashboard", "id": "u_1", "email": "gina@example.com", "name": "Gina"},
        "tags": [], "environments": ["production"], "containsSecrets": false})
    .to_string()
}

fn goff_diff(hostname: &str) -> String {
    json!({"meta": {"hostname": hostname},
        "flags": {
            "added": {"goff-new": {"variations": {"on": true, "off": false}, "defaultRule": {"variation": "off"}}},
            "deleted": {"goff-old": {"variations": {"on": true}, "defaultRule": {"variation": "on"}}},
            "updated": {"goff-rollout": {
                "old_value": {"variations": {"on": true, "off": false}, "defaultRule": {"percentage": {"on": 10, "off": 90}}},
                "new_value": {"variations": {"on": true, "off": false}, "defaultRule": {"percentage": {"on": 50, "off": 50}}}}}
        }})
    .to_string()
}

fn flags(requests: &[ReceivedRequest]) -> Vec<String> {
    requests.iter().map(|r| flag_of(&body_of(r))).collect()
}

fn sentry_flags(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["flag"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn by_flag<'a>(items: &'a [Value], flag: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["flag"] == json!(flag))
        .unwrap_or_else(|| panic!("no {flag} in {items:?}"))
}

#[test]
fn every_source_reaches_both_destinations_and_every_sentry_item_passes_sentrys_serializer() {
    let intake = HttpReceiver::start().unwrap_or_else(|e| panic!("{e}"));
    let sentry = SentryReceiver::start(binary::SENTRY);
    let relay = both(
        &intake,
        &sentry,
        &[(
            "RELAY_GROWTHBOOK_URL",
            "https://growthbook.example.com/".into(),
        )],
    );
    assert!(
        relay.stderr().iter().any(|l| l.contains(
            "sources: flipt, launchdarkly, unleash, growthbook, go-feature-flag; destinations: datadog, sentry"
        )),
        "{:?}",
        relay.stderr()
    );

    let long_key = format!("{}-tail", "k".repeat(140));
    let launchdarkly = json!({"_id": "ld-1", "kind": "flag",
        "member": {"email": "bob@example.com"},
        "accesses": [{"action": "createFlag", "resource": format!("proj/web:env/production:flag/{long_key}")}]})
    .to_string();
    let unleash = json!({"id": 91, "type": "feature-archived", "createdBy": "carol",
        "featureName": "old-banner", "project": "web"})
    .to_string();
    assert_eq!(relay.flipt(&flipt_update("new-checkout", "v1")).0, 202);
    assert_eq!(relay.launchdarkly(&launchdarkly).0, 202);
    assert_eq!(relay.unleash(&unleash).0, 202);
    assert_eq!(relay.growthbook(&growthbook_update("dark-mode")).0, 202);
    assert_eq!(
        relay.go_feature_flag(&goff_diff("proxy-0")),
        (202, json!({"relayed": 3, "duplicates": 0}))
    );

    let at_datadog = intake.wait_until(WAIT, |r| r.len() >= 7);
    let items = sentry.accepted(7);
    let requests = sentry.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.signed && r.errors.is_none() && r.status == 200),
        "every request signed and valid: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.path == "/api/0/organizations/acme/flags/hooks/provider/generic/")
    );
    assert_eq!(items.len(), 7, "{items:?}");
    let sentry_long = sentry_flags(&items)
        .into_iter()
        .find(|f| f.starts_with("kkk"))
        .unwrap_or_default();
    assert_eq!(
        sentry_long.chars().count(),
        100,
        "flag names over 100 characters are shortened"
    );
    assert!(sentry_long.starts_with(&"k".repeat(91)) && sentry_long[91..].starts_with('~'));
    let mut expected_flags = vec![
        "new-checkout".to_owned(),
        long_key.chars().take(128).collect(),
        "old-banner".to_owned(),
        "dark-mode".to_owned(),
        "goff-new".to_owned(),
        "goff-old".to_owned(),
        "goff-rollout".to_owned(),
    ];
    let mut got = flags(&at_datadog);
    got.sort();
    expected_flags.sort();
    assert_eq!(got, expected_flags, "every change at Datadog");

    let only = |item: &Value| json!({"action": item["action"], "created_by": item["created_by"]});
    assert_eq!(
        only(by_flag(&items, "new-checkout")),
        json!({"action": "updated", "created_by": {"id": "alice@example.com", "type": "email"}})
    );
    assert_eq!(
        only(by_flag(&items, &sentry_long)),
        json!({"action": "created", "created_by": {"id": "bob@example.com", "type": "email"}})
    );
    assert_eq!(
        only(by_flag(&items, "old-banner")),
        json!({"action": "deleted", "created_by": {"id": "carol", "type": "name"}})
    );
    assert_eq!(
        only(by_flag(&items, "dark-mode")),
        json!({"action": "updated", "created_by": {"id": "gina@example.com", "type": "email"}})
    );
    for (flag, action) in [
        ("goff-new", "created"),
        ("goff-old", "deleted"),
        ("goff-rollout", "updated"),
    ] {
        assert_eq!(
            only(by_flag(&items, flag)),
            json!({"action": action, "created_by": {"id": "go-feature-flag", "type": "name"}})
        );
    }
    let ids: std::collections::HashSet<i64> = items
        .iter()
        .filter_map(|i| i["change_id"].as_i64())
        .collect();
    assert_eq!(ids.len(), 7, "a change_id per change");

    // Datadog's event keeps its shape (the GrowthBook one, with its link back).
    let growthbook = at_datadog
        .iter()
        .map(body_of)
        .find(|b| flag_of(b) == "dark-mode")
        .unwrap_or_default();
    let a = &growthbook["data"]["attributes"];
    assert_eq!(
        a["message"],
        json!(
            "gina@example.com updated feature dark-mode in production (via GrowthBook)\n\nComment: ship it\n\nhttps://growthbook.example.com/features/dark-mode"
        )
    );
    assert_eq!(
        a["attributes"]["prev_value"]["defaultValue"],
        json!("false")
    );
    assert_eq!(a["attributes"]["new_value"]["defaultValue"], json!("true"));

    let health = relay.health();
    assert_eq!(health["status"], json!("ok"));
    let (status, audit, stderr) = relay.terminate(Duration::from_secs(10));
    assert!(status.success(), "{stderr:?}");
    assert_eq!(audit.len(), 7);
    assert!(
        audit
            .iter()
            .all(|line| line["destinations"] == json!(["datadog", "sentry"])
                && line["event"].is_object()
                && line["sentry"]["change_id"].is_i64()),
        "{audit:?}"
    );
    let stopped = stderr
        .iter()
        .find(|l| l.contains("stopped:"))
        .cloned()
        .unwrap_or_default();
    assert!(
        stopped.contains("datadog: 7 change events sent")
            && stopped.contains("sentry: 7 changes sent"),
        "{stopped}"
    );
    for secret in [
        binary::SENTRY,
        binary::DD_KEY,
        binary::GROWTHBOOK,
        binary::GO_FEATURE_FLAG,
    ] {
        assert!(!stderr.iter().any(|l| l.contains(secret)));
    }
}

#[test]
fn a_500_from_sentry_is_retried_with_the_same_change_id_and_a_redelivery_sends_nothing_again() {
    let intake = HttpReceiver::start().unwrap_or_else(|e| panic!("{e}"));
    let sentry = SentryReceiver::start(binary::SENTRY);
    sentry.script(&[Answer::Status(500)]);
    let relay = both(&intake, &sentry, &[]);
    let delivery = flipt_update("retried-flag", "v1");
    assert_eq!(relay.flipt(&delivery).0, 202);
    let items = sentry.accepted(1);
    let requests = sentry.requests();
    assert_eq!(requests.len(), 2, "a failure, then its retry");
    assert_eq!(requests[0].status, 500);
    assert_eq!(
        requests[0].body, requests[1].body,
        "the retry is the same request"
    );
    assert_eq!(requests[0].items()[0]["change_id"], items[0]["change_id"]);

    // The source delivers the same change again: nothing new anywhere.
    assert_eq!(
        relay.flipt(&delivery),
        (200, json!({"relayed": 0, "duplicates": 1}))
    );
    // A different change has a different id.
    assert_eq!(relay.flipt(&flipt_update("retried-flag", "v2")).0, 202);
    let items = sentry.accepted(2);
    assert_eq!(items.len(), 2, "{items:?}");
    assert_ne!(items[0]["change_id"], items[1]["change_id"]);
    let health = relay.health_until(WAIT, |h| {
        h["destinations"]["datadog"]["sent"] == json!(2)
            && h["destinations"]["sentry"]["sent"] == json!(2)
    });
    assert_eq!(
        health["destinations"]["sentry"],
        json!({"running": true, "sent": 2, "dropped": 0, "failed": 0, "invalid": 0, "requests": 3})
    );
    assert_eq!(intake.requests().len(), 2);
}

#[test]
fn a_200_with_validation_errors_is_a_failure_counted_and_logged_once() {
    let intake = HttpReceiver::start().unwrap_or_else(|e| panic!("{e}"));
    let sentry = SentryReceiver::start(binary::SENTRY);
    sentry.answer_with(Answer::Errors);
    let relay = both(&intake, &sentry, &[]);
    assert_eq!(relay.flipt(&flipt_update("f1", "v1")).0, 202);
    let health = relay.health_until(WAIT, |h| h["destinations"]["sentry"]["failed"] == json!(1));
    assert_eq!(health["destinations"]["sentry"]["invalid"], json!(1));
    assert_eq!(relay.flipt(&flipt_update("f2", "v1")).0, 202);
    let health = relay.health_until(WAIT, |h| h["destinations"]["sentry"]["failed"] == json!(2));
    assert_eq!(
        health["destinations"]["sentry"],
        json!({"running": true, "sent": 0, "dropped": 0, "failed": 2, "invalid": 2, "requests": 2}),
        "not retried, not sent"
    );
    let (_, _, stderr) = relay.terminate(Duration::from_secs(10));
    let logged: Vec<&String> = stderr
        .iter()
        .filter(|l| l.contains("validation errors"))
        .collect();
    assert_eq!(logged.len(), 1, "{stderr:?}");
    assert!(
        logged[0].contains("Ensure this field has no more than 100 characters"),
        "{}",
        logged[0]
    );
}

#[test]
fn a_401_from_sentry_is_stated_as_a_configuration_error() {
    let intake = HttpReceiver::start().unwrap_or_else(|e| panic!("{e}"));
    let sentry = SentryReceiver::start("another-secret-registered-in-sentry");
    let relay = both(&intake, &sentry, &[]);
    assert_eq!(relay.flipt(&flipt_update("f1", "v1")).0, 202);
    relay.health_until(WAIT, |h| h["destinations"]["sentry"]["failed"] == json!(1));
    assert_eq!(relay.flipt(&flipt_update("f2", "v1")).0, 202);
    relay.health_until(WAIT, |h| h["destinations"]["sentry"]["failed"] == json!(2));
    assert_eq!(sentry.requests().len(), 2, "not retried");
    let (_, _, stderr) = relay.terminate(Duration::from_secs(10));
    let logged: Vec<&String> = stderr.iter().filter(|l| l.contains("(401)")).collect();
    assert_eq!(logged.len(), 1, "{stderr:?}");
    assert!(logged[0].contains("RELAY_SENTRY_WEBHOOK_SECRET is not the secret registered"));
}

#[test]
fn the_same_go_feature_flag_diff_from_two_instances_is_one_change() {
    let intake = HttpReceiver::start().unwrap_or_else(|e| panic!("{e}"));
    let sentry = SentryReceiver::start(binary::SENTRY);
    let relay = both(&intake, &sentry, &[]);
    assert_eq!(relay.go_feature_flag(&goff_diff("proxy-a")).0, 202);
    // The second instance's body: other hostname, keys in another order.
    let from_b: Value = serde_json::from_str(&goff_diff("proxy-b")).unwrap_or_default();
    let reordered = json!({"flags": {"updated": from_b["flags"]["updated"], "deleted": from_b["flags"]["deleted"],
                                     "added": from_b["flags"]["added"]}, "meta": from_b["meta"]})
    .to_string();
    assert_eq!(
        relay.go_feature_flag(&reordered),
        (200, json!({"relayed": 0, "duplicates": 3}))
    );
    // Instance a announces the rollout going back to 10 %, then to 50 % again: new changes,
    // which b's announcements of the same do not repeat.
    let back = json!({"meta": {"hostname": "proxy-a"}, "flags": {"updated": {"goff-rollout": {
        "old_value": {"variations": {"on": true, "off": false}, "defaultRule": {"percentage": {"on": 50, "off": 50}}},
        "new_value": {"variations": {"on": true, "off": false}, "defaultRule": {"percentage": {"on": 10, "off": 90}}}}}}})
    .to_string();
    let forth =
        json!({"meta": {"hostname": "proxy-a"}, "flags": {"updated": from_b["flags"]["updated"]}})
            .to_string();
    assert_eq!(relay.go_feature_flag(&back).0, 202);
    assert_eq!(relay.go_feature_flag(&forth).0, 202);
    assert_eq!(
        relay.go_feature_flag(&back.replace("proxy-a", "proxy-b")).0,
        200
    );
    assert_eq!(
        relay
            .go_feature_flag(&forth.replace("proxy-a", "proxy-b"))
            .0,
        200
    );

    let items = sentry.accepted(5);
    let mut flags_at_sentry = sentry_flags(&items);
    flags_at_sentry.sort();
    assert_eq!(
        flags_at_sentry,
        [
            "goff-new",
            "goff-old",
            "goff-rollout",
            "goff-rollout",
            "goff-rollout"
        ]
    );
    let at_datadog = intake.wait_until(WAIT, |r| r.len() >= 5);
    let (status, audit, _) = relay.terminate(Duration::from_secs(10));
    assert!(status.success());
    assert_eq!(intake.requests().len(), 5, "{:?}", flags(&at_datadog));
    assert_eq!(sentry.accepted_items().len(), 5);
    assert_eq!(audit.len(), 5);
    let rollout = at_datadog
        .iter()
        .map(body_of)
        .find(|b| flag_of(b) == "goff-rollout")
        .unwrap_or_default();
    let a = &rollout["data"]["attributes"];
    assert_eq!(
        a["message"],
        json!("go-feature-flag updated flag goff-rollout (via GO Feature Flag)")
    );
    assert_eq!(
        a["attributes"]["author"],
        json!({"name": "go-feature-flag", "type": "system"})
    );
    assert_eq!(
        a["attributes"]["prev_value"]["defaultRule"]["percentage"]["on"],
        json!(10)
    );
    assert_eq!(
        a["attributes"]["new_value"]["defaultRule"]["percentage"]["on"],
        json!(50)
    );
    assert_eq!(
        a["attributes"]["change_metadata"],
        json!({"source": "go-feature-flag", "diff": "updated", "announced_by": "proxy-a"})
    );
}

#[test]
fn sentry_down_while_datadog_is_up_loses_nothing_at_either() {
    let intake = HttpReceiver::start().unwrap_or_else(|e| panic!("{e}"));
    let sentry = SentryReceiver::start(binary::SENTRY);
    // Down: the first request fails, its retry hangs until the test lets Sentry recover.
    sentry.script(&[Answer::Status(500), Answer::Hold]);
    let relay = both(&intake, &sentry, &[]);
    for n in 0..5 {
        assert_eq!(relay.flipt(&flipt_update(&format!("s{n}"), "v")).0, 202);
    }
    let at_datadog = intake.wait_until(WAIT, |r| r.len() >= 5);
    assert_eq!(
        flags(&at_datadog),
        ["s0", "s1", "s2", "s3", "s4"],
        "Datadog did not wait for Sentry"
    );
    sentry.wait_until(WAIT, |r| r.len() >= 2);
    assert!(
        sentry.accepted_items().is_empty(),
        "Sentry has recorded nothing yet"
    );
    sentry.release();
    let items = sentry.accepted(5);
    assert_eq!(sentry_flags(&items), ["s0", "s1", "s2", "s3", "s4"]);
    // Sentry's stand-in records a request before it answers; the sender counts it once it has
    // the answer.
    let health = relay.health_until(WAIT, |h| h["destinations"]["sentry"]["sent"] == json!(5));
    assert_eq!(health["destinations"]["sentry"]["sent"], json!(5));
    assert_eq!(health["destinations"]["sentry"]["failed"], json!(0));
}

#[test]
fn datadog_down_while_sentry_is_up_loses_nothing_at_either() {
    let intake = HttpReceiver::start().unwrap_or_else(|e| panic!("{e}"));
    // Down: the first request hangs until it times out (5 s), then Datadog is back.
    intake.reply_with(Reply::Hang);
    let sentry = SentryReceiver::start(binary::SENTRY);
    let relay = both(&intake, &sentry, &[]);
    for n in 0..5 {
        assert_eq!(relay.flipt(&flipt_update(&format!("d{n}"), "v")).0, 202);
    }
    let items = sentry.accepted(5);
    assert_eq!(
        sentry_flags(&items),
        ["d0", "d1", "d2", "d3", "d4"],
        "Sentry did not wait for Datadog"
    );
    // Datadog's sender may reach the intake after Sentry has all five; the intake must be
    // hanging on the first before it is told to answer.
    intake.wait_until(WAIT, |r| !r.is_empty());
    assert_eq!(intake.requests().len(), 1, "Datadog is stuck on its first");
    intake.reply_with(Reply::Status(202));
    let requests = intake.wait_until(Duration::from_secs(30), |r| r.len() >= 6);
    assert_eq!(
        flags(&requests),
        ["d0", "d0", "d1", "d2", "d3", "d4"],
        "the first retried, none lost"
    );
    let health = relay.health_until(WAIT, |h| h["destinations"]["datadog"]["sent"] == json!(5));
    assert_eq!(health["destinations"]["datadog"]["failed"], json!(0));
}

#[test]
fn a_full_sentry_queue_answers_503_and_the_redelivery_reaches_only_sentry() {
    let intake = HttpReceiver::start().unwrap_or_else(|e| panic!("{e}"));
    let sentry = SentryReceiver::start(binary::SENTRY);
    sentry.answer_with(Answer::Hold);
    let relay = both(&intake, &sentry, &[("RELAY_QUEUE_CAPACITY", "1".into())]);
    // Each body made once: a redelivery is the same bytes (Flipt's key is the body's hash).
    let bodies: Vec<String> = (0..4)
        .map(|n| flipt_update(&format!("q{n}"), "v"))
        .collect();
    let delivery = |n: usize| bodies[n].clone();
    assert_eq!(relay.flipt(&delivery(0)).0, 202);
    sentry.wait_until(WAIT, |r| !r.is_empty()); // Sentry's sender is held on it.
    intake.wait_until(WAIT, |r| !r.is_empty());
    assert_eq!(relay.flipt(&delivery(1)).0, 202); // Waits in Sentry's queue.
    intake.wait_until(WAIT, |r| r.len() >= 2);
    let (status, answer) = relay.flipt(&delivery(2));
    assert_eq!(status, 503, "{answer}");
    assert_eq!(
        answer,
        json!({"error": "the sentry queue is full; retry later", "relayed": 1, "refused_by": ["sentry"]})
    );
    assert_eq!(
        flags(&intake.wait_until(WAIT, |r| r.len() >= 3)),
        ["q0", "q1", "q2"]
    );

    sentry.answer_with(Answer::AsSentry);
    sentry.release();
    assert_eq!(sentry_flags(&sentry.accepted(2)), ["q0", "q1"]);
    // The source retries: Sentry gets it, Datadog, which has it, does not get it again.
    assert_eq!(
        relay.flipt(&delivery(2)),
        (202, json!({"relayed": 1, "duplicates": 0}))
    );
    assert_eq!(sentry_flags(&sentry.accepted(3)), ["q0", "q1", "q2"]);
    assert_eq!(
        relay.flipt(&delivery(2)),
        (200, json!({"relayed": 0, "duplicates": 1}))
    );
    assert_eq!(relay.flipt(&delivery(3)).0, 202);
    assert_eq!(sentry_flags(&sentry.accepted(4)), ["q0", "q1", "q2", "q3"]);
    let at_datadog = intake.wait_until(WAIT, |r| r.len() >= 4);
    let (_, audit, _) = relay.terminate(Duration::from_secs(10));
    assert_eq!(
        flags(&intake.requests()),
        ["q0", "q1", "q2", "q3"],
        "{:?}",
        flags(&at_datadog)
    );
    let q2: Vec<&Value> = audit
        .iter()
        .filter(|l| {
            l["event"]["attributes"]["changed_resource"]["name"] == json!("q2")
                || l["sentry"]["flag"] == json!("q2")
        })
        .collect();
    assert_eq!(q2.len(), 2, "{audit:?}");
    assert_eq!(
        (&q2[0]["destinations"], &q2[0]["waiting_for"]),
        (&json!(["datadog"]), &json!(["sentry"]))
    );
    assert_eq!(
        (&q2[1]["destinations"], &q2[1]["waiting_for"]),
        (&json!(["sentry"]), &Value::Null)
    );
    assert_eq!(q2[0]["delivery"], q2[1]["delivery"]);
    let _ = accepted_items(&sentry.requests());
}

#[test]
fn sentry_alone_needs_no_datadog_key_and_no_destination_is_refused() {
    let sentry = SentryReceiver::start(binary::SENTRY);
    let mut vars = vec![("RELAY_GROWTHBOOK_SECRET", binary::GROWTHBOOK.to_owned())];
    vars.extend(binary::sentry(&sentry.url()));
    let relay = RelayProcess::start(&vars);
    assert!(
        relay
            .stderr()
            .iter()
            .any(|l| l.contains("sources: growthbook; destinations: sentry"))
    );
    assert_eq!(relay.growthbook(&growthbook_update("solo")).0, 202);
    assert_eq!(sentry_flags(&sentry.accepted(1)), ["solo"]);
    let health = relay.health();
    assert_eq!(health["status"], json!("ok"));
    assert!(health["destinations"]["datadog"].is_null());
    let (status, audit, _) = relay.terminate(Duration::from_secs(10));
    assert!(status.success());
    assert_eq!(audit[0]["destinations"], json!(["sentry"]));
    assert!(audit[0]["event"].is_null() && audit[0]["sentry"]["flag"] == json!("solo"));

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_openfeature-hooks-relay"))
        .env_clear()
        .env("RELAY_GROWTHBOOK_SECRET", binary::GROWTHBOOK)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no destination configured"), "{stderr}");
    assert!(!stderr.contains(binary::GROWTHBOOK));
}

#[test]
fn the_binary_stops_within_its_bound_even_when_sentry_hangs() {
    let intake = HttpReceiver::start().unwrap_or_else(|e| panic!("{e}"));
    let sentry = SentryReceiver::start(binary::SENTRY);
    sentry.answer_with(Answer::Hold);
    let relay = both(
        &intake,
        &sentry,
        &[("RELAY_SHUTDOWN_TIMEOUT_SECS", "1".into())],
    );
    assert_eq!(relay.flipt(&flipt_update("stuck", "v")).0, 202);
    sentry.wait_until(WAIT, |r| !r.is_empty());
    intake.wait_until(WAIT, |r| !r.is_empty());
    let start = std::time::Instant::now();
    let (status, _, stderr) = relay.terminate(Duration::from_secs(3));
    let elapsed = start.elapsed();
    assert!(
        !status.success(),
        "not drained is reported by the exit status"
    );
    assert!(elapsed < Duration::from_millis(1800), "{elapsed:?}");
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("not drained within the bound")
                && l.contains("datadog: 1 change events sent")),
        "{stderr:?}"
    );
}
