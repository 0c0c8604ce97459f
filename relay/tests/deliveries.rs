//! Deliveries built in each source's documented format and signed as the source signs, posted
//! to the real router on a loopback port; the Events API v2 bodies checked at a loopback intake.

mod support;

use std::time::Duration;

use openfeature_hooks_relay::__private::hmac_signature;
use openfeature_hooks_relay::{ImpactMap, Secret};
use openfeature_hooks_testkit::{KeptLogs, Reply};
use serde_json::{Value, json};
use support::{
    API_KEY, FLIPT_SECRET, LD_SECRET, Served, body_of, events_config, flag_of, relay_config,
    time_ago,
};

fn flipt_event(kind: &str, action: &str, payload: Value, timestamp: &str) -> String {
    json!({
        "version": "0.2",
        "type": kind,
        "action": action,
        "metadata": {"actor": {"authentication": "github", "email": "alice@example.com", "name": "Alice", "ip": "10.1.2.3"}},
        "payload": payload,
        "timestamp": timestamp,
        "status": "success",
    })
    .to_string()
}

fn flag_payload(enabled: bool) -> Value {
    json!({"key": "new-checkout", "name": "New checkout", "description": "", "enabled": enabled,
           "namespace_key": "default", "default_variant": null})
}

#[test]
fn a_flipt_flag_update_becomes_the_documented_change_event_with_the_state_before() {
    let config = relay_config()
        .with_impact(ImpactMap::new().flag("new-checkout", ["checkout", "cart"]))
        .with_flipt_url("https://flipt.example.com/");
    let served = Served::start(config);
    let (_, created_at) = time_ago(120);
    let (_, updated_at) = time_ago(60);
    let created = flipt_event("flag", "created", flag_payload(false), &created_at);
    let updated = flipt_event("flag", "updated", flag_payload(true), &updated_at);
    assert_eq!(served.flipt(&created).0, 202);
    assert_eq!(
        served.flipt(&updated),
        (202, json!({"relayed": 1, "duplicates": 0}))
    );

    let requests = served.received(2);
    let request = &requests[1];
    assert_eq!(request.path, "/api/v2/events");
    assert_eq!(request.header("dd-api-key"), Some(API_KEY));
    let link = "https://flipt.example.com/#/namespaces/default/flags/new-checkout";
    assert_eq!(
        body_of(request),
        json!({"data": {"type": "event", "attributes": {
            "category": "change",
            "title": "Feature flag new-checkout changed",
            "message": format!("alice@example.com updated flag new-checkout (via Flipt)\n\n{link}"),
            "tags": ["env:prod", "service:checkout", "service:cart", "feature_flag:new-checkout", "flag_source:flipt"],
            "timestamp": updated_at,
            "aggregation_key": "new-checkout",
            "attributes": {
                "changed_resource": {"name": "new-checkout", "type": "feature_flag"},
                "impacted_resources": [{"name": "checkout", "type": "service"}, {"name": "cart", "type": "service"}],
                "prev_value": flag_payload(false),
                "new_value": flag_payload(true),
                "author": {"name": "alice@example.com", "type": "user"},
                "change_metadata": {"source": "flipt", "flipt_type": "flag", "action": "updated",
                                    "namespace": "default", "audit_version": "0.2", "url": link}
            }
        }}})
    );
    // The creation had nothing before it.
    assert_eq!(
        body_of(&requests[0])["data"]["attributes"]["attributes"]["prev_value"],
        json!({})
    );
    // The audit trail has the same event, one line per change.
    let served_lines = served.relay.shutdown(Duration::from_secs(2));
    assert!(served_lines);
    let lines = served.audit_lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["source"], json!("flipt"));
    assert_eq!(
        lines[1]["event"]["attributes"],
        body_of(request)["data"]["attributes"]["attributes"]
    );
}

#[test]
fn every_flipt_type_and_version_maps_to_its_flag() {
    let served = Served::start(relay_config());
    let (_, at) = time_ago(30);
    let v01 = |kind: &str, action: &str, payload: Value| {
        json!({"version": "0.1", "type": kind, "action": action,
               "metadata": {"actor": {"authentication": "token"}},
               "payload": payload, "timestamp": at})
        .to_string()
    };
    let deliveries = [
        flipt_event(
            "variant",
            "created",
            json!({"id": "v1", "flag_key": "new-checkout", "key": "blue", "name": "Blue", "namespace_key": "default"}),
            &at,
        ),
        flipt_event(
            "rule",
            "created",
            json!({"id": "r1", "flag_key": "new-checkout", "segment_key": "beta", "rank": 1, "namespace_key": "default"}),
            &at,
        ),
        flipt_event(
            "distribution",
            "created",
            json!({"id": "d1", "rule_id": "r1", "variant_id": "v1", "rollout": 50.0}),
            &at,
        ),
        v01(
            "rollout",
            "updated",
            json!({"id": "ro1", "flag_key": "dark-mode", "rank": 1, "threshold": {"percentage": 25.0, "value": true}, "namespace_key": "staging"}),
        ),
        flipt_event(
            "segment",
            "updated",
            json!({"key": "beta", "name": "Beta", "match_type": "ALL_MATCH_TYPE", "namespace_key": "default"}),
            &at,
        ),
        flipt_event(
            "constraint",
            "deleted",
            json!({"id": "c1", "segment_key": "beta", "namespace_key": "default"}),
            &at,
        ),
        flipt_event(
            "flag",
            "deleted",
            json!({"key": "old-flag", "namespace_key": "default"}),
            &at,
        ),
    ];
    for delivery in &deliveries {
        assert_eq!(served.flipt(delivery).0, 202, "{delivery}");
    }
    let requests = served.received(deliveries.len());
    let summary: Vec<(String, Value, Value, Value, Value)> = requests
        .iter()
        .map(body_of)
        .map(|b| {
            let a = &b["data"]["attributes"];
            (
                flag_of(&b),
                a["message"].clone(),
                a["attributes"]["author"].clone(),
                a["attributes"]["prev_value"].clone(),
                a["attributes"]["new_value"].clone(),
            )
        })
        .collect();
    let alice = json!({"name": "alice@example.com", "type": "user"});
    let unknown = json!({"unknown": "no earlier state seen by this relay (it remembers the last states since it started)"});
    assert_eq!(summary[0].0, "new-checkout");
    assert_eq!(
        summary[0].1,
        json!("alice@example.com created variant blue of flag new-checkout (via Flipt)")
    );
    assert_eq!((&summary[0].2, &summary[0].3), (&alice, &json!({})));
    assert_eq!(
        summary[1].1,
        json!("alice@example.com created rule r1 of flag new-checkout (via Flipt)")
    );
    // The distribution names only its rule: its flag comes from the rule seen before.
    assert_eq!(summary[2].0, "new-checkout");
    assert_eq!(
        summary[2].1,
        json!(
            "alice@example.com created distribution d1 of rule r1 of flag new-checkout (via Flipt)"
        )
    );
    // Version 0.1, a token actor, another namespace, an update of an object never seen.
    assert_eq!(summary[3].0, "dark-mode");
    assert_eq!(
        summary[3].1,
        json!(
            "flipt (token) updated rollout ro1 of flag dark-mode (namespace staging) (via Flipt)"
        )
    );
    assert_eq!(
        summary[3].2,
        json!({"name": "flipt (token)", "type": "api"})
    );
    assert_eq!(summary[3].3, unknown);
    assert_eq!(summary[4].0, "segment:beta");
    assert_eq!(summary[5].0, "segment:beta");
    assert_eq!(
        summary[5].1,
        json!("alice@example.com deleted constraint c1 of segment beta (via Flipt)")
    );
    assert_eq!(
        (&summary[6].0, &summary[6].4),
        (&"old-flag".to_owned(), &json!({}))
    );
}

#[test]
fn flipt_denied_requests_namespaces_and_tokens_are_not_changes() {
    let served = Served::start(relay_config());
    let (_, at) = time_ago(10);
    let denied =
        json!({"version": "0.2", "type": "flag", "action": "updated", "metadata": {"actor": {}},
                        "payload": null, "timestamp": at, "status": "denied"})
        .to_string();
    let token = flipt_event("token", "created", json!({"name": "ci"}), &at);
    let namespace = flipt_event("namespace", "created", json!({"key": "staging"}), &at);
    for body in [denied, token, namespace] {
        let (status, answer) = served.flipt(&body);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["relayed"], json!(0));
    }
    assert!(served.fence(1).is_empty(), "nothing before the fence");
    assert_eq!(served.relay.stats().ignored, 3);
}

#[test]
fn a_redelivery_sends_nothing_new() {
    let served = Served::start(relay_config());
    let (_, at) = time_ago(10);
    let flipt = flipt_event("flag", "updated", flag_payload(true), &at);
    let launchdarkly = json!({"_id": "entry-1", "date": 1, "kind": "flag",
        "accesses": [{"action": "updateOn", "resource": "proj/default:env/production:flag/new-checkout"}]})
    .to_string();
    let unleash =
        json!({"id": 77, "type": "feature-archived", "createdBy": "carol", "featureName": "old"})
            .to_string();
    assert_eq!(served.flipt(&flipt).0, 202);
    assert_eq!(served.launchdarkly(&launchdarkly).0, 202);
    assert_eq!(served.unleash(&unleash).0, 202);
    let duplicate = (200, json!({"relayed": 0, "duplicates": 1}));
    assert_eq!(served.flipt(&flipt), duplicate);
    assert_eq!(served.launchdarkly(&launchdarkly), duplicate);
    assert_eq!(served.unleash(&unleash), duplicate);
    assert_eq!(served.fence(1).len(), 3, "the first deliveries only");
    assert_eq!(served.relay.stats().duplicates, 3);
}

/// Every log line of this test binary.
static LOGS: KeptLogs = KeptLogs::new();

#[test]
fn unsigned_tampered_wrongly_signed_oversized_and_malformed_deliveries_are_refused_and_send_nothing()
 {
    LOGS.install();
    let served = Served::start(relay_config().with_max_body_bytes(4096));
    let (_, at) = time_ago(10);
    let body = flipt_event(
        "flag",
        "updated",
        json!({"key": "secret-marker-flag", "enabled": true}),
        &at,
    );
    let good = hmac_signature(&Secret::new(FLIPT_SECRET), body.as_bytes());
    let wrong = hmac_signature(&Secret::new("not-the-secret"), body.as_bytes());
    let tampered = body.replace("true", "false");
    let ld_wrong = hmac_signature(&Secret::new("nope"), body.as_bytes());
    type Refused<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a [u8]);
    let refused: Vec<Refused<'_>> = vec![
        ("/flipt", vec![], body.as_bytes()),
        (
            "/flipt",
            vec![("x-flipt-webhook-signature", &wrong)],
            body.as_bytes(),
        ),
        (
            "/flipt",
            vec![("x-flipt-webhook-signature", &good)],
            tampered.as_bytes(),
        ),
        (
            "/flipt",
            vec![("x-flipt-webhook-signature", "zz-not-hex")],
            body.as_bytes(),
        ),
        (
            "/launchdarkly",
            vec![("X-LD-Signature", &good)],
            body.as_bytes(),
        ),
        (
            "/launchdarkly",
            vec![("X-LD-Signature", &ld_wrong)],
            body.as_bytes(),
        ),
        ("/unleash", vec![], body.as_bytes()),
        (
            "/unleash",
            vec![("Authorization", "Bearer guess")],
            body.as_bytes(),
        ),
    ];
    for (path, headers, payload) in &refused {
        let (status, answer) = served.post(path, headers, payload);
        assert_eq!(status, 401, "{path} {headers:?}: {answer}");
        assert_eq!(answer, json!({"error": "missing or wrong signature"}));
    }

    let huge = format!(r#"{{"type": "flag", "pad": "{}"}}"#, "x".repeat(8192));
    let huge_signature = hmac_signature(&Secret::new(FLIPT_SECRET), huge.as_bytes());
    let (status, _) = served.post(
        "/flipt",
        &[("x-flipt-webhook-signature", &huge_signature)],
        huge.as_bytes(),
    );
    assert_eq!(status, 413, "a body over the limit");

    for (malformed, reason) in [
        (
            "{\"type\": \"flag\",",
            "the body is not JSON: EOF while parsing a value at line 1 column 16",
        ),
        ("[1, 2]", "the body is not a JSON object"),
        (r#"{"action": "updated"}"#, "missing field `type`"),
        (
            r#"{"type": "flag", "action": "updated", "payload": "x"}"#,
            "`payload` is not an object",
        ),
        (
            r#"{"type": "flag", "action": "updated", "payload": {"enabled": true}}"#,
            "a flag event without `payload.key`",
        ),
    ] {
        assert_eq!(
            served.flipt(malformed),
            (400, json!({"error": reason})),
            "{malformed}"
        );
    }
    let (status, answer) = served.launchdarkly(r#"{"kind": "flag", "accesses": 3}"#);
    assert_eq!(
        (status, answer),
        (400, json!({"error": "`accesses` is not a list"}))
    );

    assert!(
        served.fence(1).is_empty(),
        "nothing reached the intake before the fence"
    );
    let stats = served.relay.stats();
    assert_eq!(
        (stats.unauthorized, stats.malformed, stats.relayed),
        (8, 6, 1)
    );
    let logged = LOGS.text();
    assert!(
        !logged.is_empty(),
        "the logger captures (the HTTP clients' request lines)"
    );
    for secret in [
        "secret-marker-flag",
        FLIPT_SECRET,
        LD_SECRET,
        API_KEY,
        "Bearer",
    ] {
        assert!(
            !logged.contains(secret),
            "{secret} logged: {}",
            logged
                .lines()
                .filter(|l| l.contains(secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert!(!format!("{:?}", served.relay).contains(FLIPT_SECRET));
    assert!(!format!("{:?}", served.relay).contains(API_KEY));
    assert!(!format!("{:?}", served.relay).contains("unleash-shared-secret"));
}

#[test]
fn a_source_configured_with_an_empty_secret_accepts_nothing() {
    // An HMAC key of no bytes is one anybody can sign with, and an empty `Authorization`
    // value one anybody can send: a source configured so fails closed.
    let empty = Secret::new("");
    let served = Served::start(
        relay_config()
            .with_flipt_signing_secret(empty.clone())
            .with_launchdarkly_secret(empty.clone())
            .with_growthbook_secret(empty.clone())
            .with_go_feature_flag_secret(empty.clone()),
    );
    let (_, at) = time_ago(10);
    let body = flipt_event(
        "flag",
        "updated",
        json!({"key": "forged-flag", "enabled": true}),
        &at,
    );
    let forged = hmac_signature(&empty, body.as_bytes());
    let goff_forged = format!("sha256={forged}");
    for (path, header, signature) in [
        ("/flipt", "x-flipt-webhook-signature", forged.as_str()),
        ("/launchdarkly", "X-LD-Signature", forged.as_str()),
        ("/growthbook", "X-GrowthBook-Signature", forged.as_str()),
        (
            "/go-feature-flag",
            "X-Hub-Signature-256",
            goff_forged.as_str(),
        ),
    ] {
        let (status, answer) = served.post(path, &[(header, signature)], body.as_bytes());
        assert_eq!(status, 401, "{path} signed with the empty key: {answer}");
    }
    assert!(
        served.fence(1).is_empty(),
        "nothing reached the intake before the fence"
    );
    assert_eq!(served.relay.stats().unauthorized, 4);

    let served = Served::start(relay_config().with_unleash_authorization(empty));
    let unleash =
        r#"{"id": 7, "type": "feature-updated", "createdBy": "x", "featureName": "forged-flag"}"#;
    let (status, answer) = served.post("/unleash", &[("Authorization", "")], unleash.as_bytes());
    assert_eq!(status, 401, "an empty Authorization: {answer}");
    assert_eq!(served.relay.stats().unauthorized, 1);
    assert_eq!(served.relay.stats().relayed, 0);
}

fn launchdarkly_entry(id: &str, date: u64, on: bool) -> String {
    json!({
        "_id": id,
        "_links": {"canonical": {"href": format!("/api/v2/auditlog/{id}")},
                   "site": {"href": "/default/production/features/new-checkout"}},
        "date": date,
        "kind": "flag",
        "name": "New checkout",
        "description": "- Turned on the flag",
        "shortDescription": "",
        "comment": "launch day",
        "titleVerb": if on { "turned on the flag" } else { "turned off the flag" },
        "member": {"_id": "m1", "email": "bob@example.com", "firstName": "Bob", "lastName": "Smith"},
        "accesses": [{"action": "updateOn", "resource": "proj/default:env/production:flag/new-checkout"}],
        "target": {"name": "New checkout", "resources": ["proj/default:env/production:flag/new-checkout"]},
        "previousVersion": {"key": "new-checkout", "on": !on, "version": 6, "tags": ["payments"]},
        "currentVersion": {"key": "new-checkout", "on": on, "version": 7, "tags": ["payments"]},
    })
    .to_string()
}

#[test]
fn a_launchdarkly_webhook_becomes_the_documented_change_event() {
    let config = relay_config().with_impact(ImpactMap::new().tag("payments", ["billing"]));
    let served = Served::start(config);
    let (time, at) = time_ago(45);
    let millis = time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    assert_eq!(
        served
            .launchdarkly(&launchdarkly_entry("e1", millis, true))
            .0,
        202
    );
    let requests = served.received(1);
    let link = "https://app.launchdarkly.com/default/production/features/new-checkout";
    assert_eq!(
        body_of(&requests[0]),
        json!({"data": {"type": "event", "attributes": {
            "category": "change",
            "title": "Feature flag new-checkout changed",
            "message": format!("bob@example.com turned on the flag new-checkout in production (via LaunchDarkly)\n\nComment: launch day\n\n{link}"),
            "tags": ["env:production", "service:billing", "feature_flag:new-checkout", "flag_source:launchdarkly"],
            "timestamp": at,
            "aggregation_key": "new-checkout",
            "attributes": {
                "changed_resource": {"name": "new-checkout", "type": "feature_flag"},
                "impacted_resources": [{"name": "billing", "type": "service"}],
                "prev_value": {"key": "new-checkout", "on": false, "version": 6, "tags": ["payments"]},
                "new_value": {"key": "new-checkout", "on": true, "version": 7, "tags": ["payments"]},
                "author": {"name": "bob@example.com", "type": "user"},
                "change_metadata": {"source": "launchdarkly", "actions": ["updateOn"], "project": "default",
                                    "audit_log_id": "e1", "url": link}
            }
        }}})
    );
}

#[test]
fn an_older_launchdarkly_delivery_after_a_newer_one_is_marked_and_does_not_replace_its_state() {
    let served = Served::start(relay_config());
    let (newer, _) = time_ago(10);
    let newer = newer
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    assert_eq!(
        served
            .launchdarkly(&launchdarkly_entry("late-2", newer, false))
            .0,
        202
    );
    assert_eq!(
        served
            .launchdarkly(&launchdarkly_entry("late-1", newer - 5000, true))
            .0,
        202
    );
    assert_eq!(
        served
            .launchdarkly(&launchdarkly_entry("late-3", newer + 1000, true))
            .0,
        202
    );
    let requests = served.received(3);
    let out_of_order: Vec<Value> = requests
        .iter()
        .map(|r| {
            body_of(r)["data"]["attributes"]["attributes"]["change_metadata"]["out_of_order"]
                .clone()
        })
        .collect();
    assert_eq!(out_of_order, [Value::Null, json!(true), Value::Null]);
    assert_eq!(served.relay.stats().out_of_order, 1);
}

#[test]
fn an_unleash_webhook_becomes_the_documented_change_event() {
    let served = Served::start(
        relay_config()
            .with_impact(ImpactMap::new().tag("team:checkout", ["checkout"]))
            .with_unleash_url("https://unleash.example.com"),
    );
    let (_, at) = time_ago(20);
    let body = json!({
        "id": 4711, "type": "feature-environment-enabled", "createdBy": "carol@example.com",
        "createdAt": at, "project": "web", "environment": "production",
        "featureName": "new-checkout", "data": {"enabled": true}, "preData": {"enabled": false},
        "tags": [{"type": "team", "value": "checkout"}]
    })
    .to_string();
    assert_eq!(served.unleash(&body).0, 202);
    let requests = served.received(1);
    let link = "https://unleash.example.com/projects/web/features/new-checkout";
    assert_eq!(
        body_of(&requests[0]),
        json!({"data": {"type": "event", "attributes": {
            "category": "change",
            "title": "Feature flag new-checkout changed",
            "message": format!("carol@example.com enabled flag new-checkout in production (via Unleash)\n\n{link}"),
            "tags": ["env:production", "service:checkout", "feature_flag:new-checkout", "flag_source:unleash"],
            "timestamp": at,
            "aggregation_key": "new-checkout",
            "attributes": {
                "changed_resource": {"name": "new-checkout", "type": "feature_flag"},
                "impacted_resources": [{"name": "checkout", "type": "service"}],
                "prev_value": {"enabled": false},
                "new_value": {"enabled": true},
                "author": {"name": "carol@example.com", "type": "user"},
                "change_metadata": {"source": "unleash", "unleash_type": "feature-environment-enabled",
                                    "project": "web", "unleash_event_id": "4711", "url": link}
            }
        }}})
    );
    // No preData: said so.
    let body = json!({"id": 4712, "type": "feature-strategy-add", "createdBy": "carol@example.com", "project": "web",
                      "featureName": "new-checkout", "environment": "production", "data": {"name": "flexibleRollout"}})
    .to_string();
    assert_eq!(served.unleash(&body).0, 202);
    let requests = served.received(2);
    let a = &body_of(&requests[1])["data"]["attributes"];
    assert_eq!(
        a["attributes"]["prev_value"],
        json!({"unknown": "the source did not send the previous state"})
    );
    assert_eq!(
        a["message"],
        json!(format!(
            "carol@example.com added a strategy to flag new-checkout in production (via Unleash)\n\n{link}"
        ))
    );
}

#[test]
fn huge_deliveries_stay_within_the_events_api_limits() {
    let served = Served::start(relay_config());
    let key = "k".repeat(300);
    let mut wide = serde_json::Map::new();
    for i in 0..300 {
        wide.insert(format!("p{i}"), json!(i));
    }
    let mut deep = json!("leaf");
    for _ in 0..40 {
        deep = json!({"d": deep});
    }
    wide.insert("deep".into(), deep);
    let body = json!({"_id": "huge", "kind": "flag", "comment": "c".repeat(6000),
        "accesses": [{"action": "updateRules", "resource": format!("proj/p:env/e:flag/{key}")}],
        "currentVersion": wide, "previousVersion": wide})
    .to_string();
    assert_eq!(served.launchdarkly(&body).0, 202);
    let requests = served.received(1);
    let b = body_of(&requests[0]);
    let a = &b["data"]["attributes"];
    assert_eq!(a["message"].as_str().map(|m| m.chars().count()), Some(4000));
    assert_eq!(a["aggregation_key"].as_str().map(str::len), Some(100));
    assert_eq!(flag_of(&b).len(), 128);
    assert!(
        a["tags"]
            .as_array()
            .is_some_and(|t| t.iter().all(|t| t.as_str().is_some_and(|t| t.len() <= 200)))
    );
    assert_eq!(
        a["attributes"]["new_value"].as_object().map(|o| o.len()),
        Some(100)
    );
    assert_eq!(
        a["attributes"]["prev_value"].as_object().map(|o| o.len()),
        Some(100)
    );
}

#[test]
fn an_intake_answering_500_429_or_403_behaves_as_the_sender_documents() {
    for (status, attempts) in [(500, 3), (429, 3), (403, 1)] {
        let served = Served::start(relay_config());
        served.intake.reply_with(Reply::Status(status));
        let (_, at) = time_ago(5);
        assert_eq!(
            served
                .flipt(&flipt_event("flag", "updated", flag_payload(true), &at))
                .0,
            202
        );
        let requests = served.received(attempts);
        assert!(served.relay.shutdown(Duration::from_secs(2)));
        assert_eq!(requests.len(), attempts, "{status}");
        let stats = served.datadog_stats();
        assert_eq!(
            (stats.sent, stats.failed, stats.requests),
            (0, 1, attempts as u64),
            "{status}"
        );
    }
}

#[test]
fn a_hanging_intake_fills_the_queue_then_deliveries_get_503_and_their_retry_is_relayed() {
    let intake = openfeature_hooks_testkit::HttpReceiver::start()
        .unwrap_or_else(|e| panic!("no loopback port: {e}"));
    intake.reply_with(Reply::Hang);
    let events = events_config(&intake).with_queue_capacity(2);
    let served = Served::start_with(relay_config(), intake, events);
    let (_, at) = time_ago(5);
    let delivery = |n: u32| {
        flipt_event(
            "flag",
            "updated",
            json!({"key": format!("f{n}"), "enabled": true}),
            &at,
        )
    };
    assert_eq!(served.flipt(&delivery(0)).0, 202);
    served.received(1); // The sender is stuck on it.
    assert_eq!(served.flipt(&delivery(1)).0, 202);
    assert_eq!(served.flipt(&delivery(2)).0, 202);
    let (status, answer) = served.flipt(&delivery(3));
    assert_eq!(status, 503, "{answer}");
    assert_eq!(
        answer["error"],
        json!("the datadog queue is full; retry later")
    );
    assert_eq!(answer["refused_by"], json!(["datadog"]));
    // The intake recovers; the source retries the refused delivery, which is relayed once.
    served.intake.reply_with(Reply::Status(202));
    let flags = |requests: &[openfeature_hooks_testkit::ReceivedRequest]| -> Vec<String> {
        requests.iter().map(|r| flag_of(&body_of(r))).collect()
    };
    let requests = served.intake.wait_until(Duration::from_secs(20), |r| {
        flags(r).contains(&"f2".to_owned())
    });
    assert!(flags(&requests).ends_with(&["f1".to_owned(), "f2".to_owned()]));
    assert_eq!(served.flipt(&delivery(3)).0, 202);
    let before_fence = served.fence(1);
    assert_eq!(
        flags(&before_fence).iter().filter(|f| *f == "f3").count(),
        1
    );
    assert_eq!(served.relay.stats().unavailable, 1);
}

#[test]
fn thousands_of_concurrent_deliveries_lose_none_and_reorder_none_per_flag() {
    const FLAGS: usize = 16;
    const PER_FLAG: usize = 125;
    let intake = openfeature_hooks_testkit::HttpReceiver::start()
        .unwrap_or_else(|e| panic!("no loopback port: {e}"));
    let events = events_config(&intake).with_queue_capacity(4096);
    let served = std::sync::Arc::new(Served::start_with(relay_config(), intake, events));
    let (_, at) = time_ago(5);
    let senders: Vec<_> = (0..FLAGS)
        .map(|flag| {
            let served = served.clone();
            let at = at.clone();
            std::thread::spawn(move || {
                for version in 0..PER_FLAG {
                    let body = flipt_event(
                        "flag",
                        "updated",
                        json!({"key": format!("flag-{flag}"), "enabled": true, "description": format!("v{version}")}),
                        &at,
                    );
                    // A source retries a 503; none is expected with this queue.
                    assert_eq!(served.flipt(&body).0, 202);
                }
            })
        })
        .collect();
    for sender in senders {
        assert!(sender.join().is_ok());
    }
    let requests = served.received(FLAGS * PER_FLAG);
    assert_eq!(requests.len(), FLAGS * PER_FLAG, "none lost");
    for flag in 0..FLAGS {
        let name = format!("flag-{flag}");
        let versions: Vec<String> = requests
            .iter()
            .map(body_of)
            .filter(|b| flag_of(b) == name)
            .map(|b| {
                b["data"]["attributes"]["attributes"]["new_value"]["description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        let expected: Vec<String> = (0..PER_FLAG).map(|v| format!("v{v}")).collect();
        assert_eq!(versions, expected, "{name}: every change, in order");
    }
    // The intake records a request before it answers; the sender counts it once answered.
    assert!(served.relay.shutdown(Duration::from_secs(10)));
    assert_eq!(served.datadog_stats().sent, (FLAGS * PER_FLAG) as u64);
}

#[test]
fn health_answers_with_the_counters() {
    let served = Served::start(relay_config());
    let (status, answer) = served.get("/health");
    assert_eq!(status, 200);
    assert_eq!(answer["status"], json!("ok"));
    assert!(served.relay.shutdown(Duration::from_secs(1)));
    let (status, answer) = served.get("/health");
    assert_eq!((status, answer["status"].clone()), (503, json!("stopped")));
}

#[test]
fn an_older_flipt_delivery_does_not_replace_the_newer_state() {
    let served = Served::start(relay_config());
    let (_, t1) = time_ago(300);
    let (_, t2) = time_ago(200);
    let (_, t3) = time_ago(100);
    let with = |description: &str| json!({"key": "new-checkout", "enabled": true, "description": description, "namespace_key": "default"});
    // Flipt retried the t2 update after the t3 one got through.
    assert_eq!(
        served
            .flipt(&flipt_event("flag", "created", with("one"), &t1))
            .0,
        202
    );
    assert_eq!(
        served
            .flipt(&flipt_event("flag", "updated", with("three"), &t3))
            .0,
        202
    );
    assert_eq!(
        served
            .flipt(&flipt_event("flag", "updated", with("two"), &t2))
            .0,
        202
    );
    let (_, t4) = time_ago(50);
    assert_eq!(
        served
            .flipt(&flipt_event("flag", "updated", with("four"), &t4))
            .0,
        202
    );
    let requests = served.received(4);
    let inner: Vec<Value> = requests
        .iter()
        .map(|r| body_of(r)["data"]["attributes"]["attributes"].clone())
        .collect();
    assert_eq!(inner[1]["prev_value"], with("one"));
    assert_eq!(
        inner[2]["prev_value"],
        json!({"unknown": "this delivery is older than the last one seen of this object; its previous state is not known"})
    );
    assert_eq!(inner[2]["change_metadata"]["out_of_order"], json!(true));
    assert_eq!(
        inner[3]["prev_value"],
        with("three"),
        "the newer state was kept"
    );
}

#[test]
fn a_launchdarkly_entry_touching_two_flags_is_two_changes_in_their_environments() {
    let served = Served::start(relay_config());
    let body =
        json!({"_id": "multi", "kind": "flag", "member": {"firstName": "Dana", "lastName": "Lee"},
        "accesses": [
            {"action": "updateOn", "resource": "proj/web:env/staging:flag/a"},
            {"action": "updateRules", "resource": "proj/web:env/staging:flag/a"},
            {"action": "createFlag", "resource": "proj/web:flag/b"},
            {"action": "updateOn", "resource": "proj/web:env/staging:segment/s"}
        ]})
        .to_string();
    assert_eq!(
        served.launchdarkly(&body),
        (202, json!({"relayed": 2, "duplicates": 0}))
    );
    let requests = served.received(2);
    let summary: Vec<(String, Value, Value, Value)> = requests
        .iter()
        .map(body_of)
        .map(|b| {
            let a = &b["data"]["attributes"];
            (
                flag_of(&b),
                a["tags"][0].clone(),
                a["message"].clone(),
                a["attributes"]["prev_value"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "a".to_owned(),
                json!("env:staging"),
                json!(
                    "Dana Lee changed (updateOn, updateRules) flag a in staging (via LaunchDarkly)"
                ),
                json!({"unknown": "the source did not send the previous state"})
            ),
            (
                "b".to_owned(),
                json!("env:prod"),
                json!("Dana Lee created flag b (via LaunchDarkly)"),
                json!({})
            ),
        ]
    );
}
