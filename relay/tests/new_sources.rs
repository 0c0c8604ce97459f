//! GrowthBook and GO Feature Flag deliveries in their documented formats, signed as they sign,
//! posted to the real router on a loopback port with Datadog and Sentry as destinations (a
//! loopback intake and a loopback Sentry applying the generic serializer's rules).

mod support;

use openfeature_hooks_relay::__private::hmac_signature;
use openfeature_hooks_relay::{ImpactMap, Secret};
use openfeature_hooks_testkit::KeptLogs;
use serde_json::{Value, json};
use support::{
    API_KEY, GOFF_SECRET, GROWTHBOOK_SECRET, SENTRY_SECRET, Served, body_of, flag_of, relay_config,
    time_ago,
};

fn feature(default_value: &str) -> Value {
    json!({"id": "new-checkout", "dateCreated": "2026-11-01T10:00:00.000Z",
           "dateUpdated": "2026-11-28T19:00:00.000Z", "archived": false, "description": "",
           "owner": "u_1", "project": "prj_web", "valueType": "boolean",
           "defaultValue": default_value, "tags": ["payments"],
           "environments": {"production": {"enabled": true, "rules": []}, "staging": {"enabled": true, "rules": []}},
           "revision": {"version": 7, "comment": "launch", "date": "2026-11-28T19:00:00.000Z",
                        "createdBy": "u_1", "publishedBy": "u_1"}})
}

fn growthbook(event: &str, data: Value, user: Value, millis: u64) -> String {
    json!({"event": event, "object": "feature", "api_version": "2024-07-31", "created": millis,
           "data": data, "user": user, "tags": [], "environments": ["production", "staging"],
           "containsSecrets": false})
    .to_string()
}

fn millis_ago(seconds: u64) -> (u64, String) {
    let (time, at) = time_ago(seconds);
    let millis = time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    (millis, at)
}

#[test]
fn a_growthbook_feature_update_becomes_the_documented_change_event_and_sentry_item() {
    let config = relay_config()
        .with_impact(ImpactMap::new().tag("payments", ["billing"]))
        .with_growthbook_url("https://growthbook.example.com/");
    let served = Served::start_both(config);
    let (millis, at) = millis_ago(40);
    let user =
        json!({"type": "dashboard", "id": "u_1", "email": "gina@example.com", "name": "Gina"});
    let body = growthbook(
        "feature.updated",
        json!({"object": feature("true"), "previous_attributes": {"defaultValue": "false"}}),
        user,
        millis,
    );
    assert_eq!(
        served.growthbook(&body),
        (202, json!({"relayed": 1, "duplicates": 0}))
    );
    let requests = served.received(1);
    let link = "https://growthbook.example.com/features/new-checkout";
    let mut before = feature("false");
    before["defaultValue"] = json!("false");
    assert_eq!(requests[0].header("dd-api-key"), Some(API_KEY));
    assert_eq!(
        body_of(&requests[0]),
        json!({"data": {"type": "event", "attributes": {
            "category": "change",
            "title": "Feature flag new-checkout changed",
            "message": format!("gina@example.com updated feature new-checkout in production, staging (via GrowthBook)\n\nComment: launch\n\n{link}"),
            "tags": ["env:production", "service:billing", "feature_flag:new-checkout", "flag_source:growthbook", "env:staging"],
            "timestamp": at,
            "aggregation_key": "new-checkout",
            "attributes": {
                "changed_resource": {"name": "new-checkout", "type": "feature_flag"},
                "impacted_resources": [{"name": "billing", "type": "service"}],
                "prev_value": before,
                "new_value": feature("true"),
                "author": {"name": "gina@example.com", "type": "user"},
                "change_metadata": {"source": "growthbook", "growthbook_event": "feature.updated",
                                    "project": "prj_web", "revision": 7, "url": link}
            }
        }}})
    );
    let sentry = served
        .sentry
        .as_ref()
        .unwrap_or_else(|| panic!("no sentry"));
    let items = sentry.accepted(1);
    let change_id = items[0]["change_id"].clone();
    assert!(change_id.as_i64().is_some_and(|id| id >= 0));
    assert_eq!(
        items[0],
        json!({"action": "updated", "change_id": change_id, "created_at": at,
               "created_by": {"id": "gina@example.com", "type": "email"}, "flag": "new-checkout"})
    );
    // GrowthBook retries a delivery it saw fail with the same body: not relayed twice.
    assert_eq!(
        served.growthbook(&body),
        (200, json!({"relayed": 0, "duplicates": 1}))
    );
    let (datadog, sentry_items) = served.fence_both(1);
    assert_eq!((datadog.len(), sentry_items.len()), (1, 1));
}

#[test]
fn growthbook_creations_deletions_and_authors_map_as_documented() {
    let served = Served::start_both(relay_config());
    let (millis, _) = millis_ago(10);
    let deliveries = [
        growthbook(
            "feature.created",
            json!({"object": feature("true")}),
            json!({"type": "api_key", "apiKey": "key_never_shown", "name": "ci-deploy"}),
            millis,
        ),
        growthbook(
            "feature.deleted",
            json!({"object": feature("true")}),
            json!({"type": "system", "subtype": "ramp-schedule"}),
            millis + 1,
        ),
        growthbook(
            "feature.updated",
            json!({"object": feature("true")}),
            Value::Null,
            millis + 2,
        ),
    ];
    for body in &deliveries {
        assert_eq!(served.growthbook(body).0, 202, "{body}");
    }
    let requests = served.received(3);
    let inner: Vec<Value> = requests
        .iter()
        .map(|r| body_of(r)["data"]["attributes"]["attributes"].clone())
        .collect();
    assert_eq!(
        inner[0]["author"],
        json!({"name": "ci-deploy", "type": "api"})
    );
    assert_eq!(inner[0]["prev_value"], json!({}));
    assert_eq!(
        inner[1]["author"],
        json!({"name": "GrowthBook (ramp-schedule)", "type": "system"})
    );
    assert_eq!(inner[1]["prev_value"], feature("true"));
    assert_eq!(inner[1]["new_value"], json!({}));
    assert_eq!(
        inner[2]["author"],
        json!({"name": "GrowthBook", "type": "system"})
    );
    assert_eq!(
        inner[2]["prev_value"],
        json!({"unknown": "the source did not send the previous state"})
    );
    let sentry = served
        .sentry
        .as_ref()
        .unwrap_or_else(|| panic!("no sentry"));
    let items = sentry.accepted(3);
    let summary: Vec<(Value, Value)> = items
        .iter()
        .map(|i| (i["action"].clone(), i["created_by"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (json!("created"), json!({"id": "ci-deploy", "type": "name"})),
            (
                json!("deleted"),
                json!({"id": "GrowthBook (ramp-schedule)", "type": "name"})
            ),
            (
                json!("updated"),
                json!({"id": "GrowthBook", "type": "name"})
            ),
        ]
    );
    let everything = format!("{:?}{}", served.audit_lines(), served.audit.text());
    assert!(!everything.contains("key_never_shown"));
}

#[test]
fn growthbook_events_that_are_not_flag_changes_are_answered_200_and_relayed_nowhere() {
    let served = Served::start_both(relay_config());
    let (millis, _) = millis_ago(5);
    for event in [
        "experiment.created",
        "experiment.updated",
        "savedGroup.created",
        "webhook.test",
        "feature.revision.published",
        "feature.saferollout.ship",
        "feature.revision.created",
    ] {
        let body = growthbook(event, json!({"object": {"id": "x"}}), Value::Null, millis);
        let (status, answer) = served.growthbook(&body);
        assert_eq!(status, 200, "{event}: {answer}");
        assert_eq!(answer["relayed"], json!(0), "{event}");
    }
    let (datadog, sentry) = served.fence_both(1);
    assert!(
        datadog.is_empty() && sentry.is_empty(),
        "nothing before the fence"
    );
    assert_eq!(served.relay.stats().ignored, 7);
}

#[test]
fn a_go_feature_flag_diff_is_a_change_per_flag_with_old_and_new_values() {
    let served = Served::start_both(relay_config());
    let old = json!({"variations": {"A": "a", "B": "b"}, "defaultRule": {"variation": "A"}});
    let new = json!({"variations": {"A": "a", "B": "b"}, "defaultRule": {"variation": "B"}, "disable": false});
    let body = json!({"meta": {"hostname": "relay-proxy-7f9c"}, "flags": {
        "added": {"banner": {"variations": {"on": true}, "defaultRule": {"variation": "on"}}},
        "deleted": {"legacy": {"variations": {"on": true}, "defaultRule": {"variation": "on"}}},
        "updated": {"theme": {"old_value": old, "new_value": new}}}})
    .to_string();
    assert_eq!(
        served.go_feature_flag(&body),
        (202, json!({"relayed": 3, "duplicates": 0}))
    );
    let requests = served.received(3);
    let summary: Vec<(String, Value, Value, Value)> = requests
        .iter()
        .map(body_of)
        .map(|b| {
            let a = &b["data"]["attributes"];
            (
                flag_of(&b),
                a["message"].clone(),
                a["attributes"]["prev_value"].clone(),
                a["attributes"]["new_value"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "banner".to_owned(),
                json!("go-feature-flag added flag banner (via GO Feature Flag)"),
                json!({}),
                json!({"variations": {"on": true}, "defaultRule": {"variation": "on"}})
            ),
            (
                "legacy".to_owned(),
                json!("go-feature-flag deleted flag legacy (via GO Feature Flag)"),
                json!({"variations": {"on": true}, "defaultRule": {"variation": "on"}}),
                json!({})
            ),
            (
                "theme".to_owned(),
                json!("go-feature-flag updated flag theme (via GO Feature Flag)"),
                old,
                new
            ),
        ]
    );
    let tags = body_of(&requests[2])["data"]["attributes"]["tags"].clone();
    assert_eq!(
        tags,
        json!([
            "env:prod",
            "service:default-service",
            "feature_flag:theme",
            "flag_source:go-feature-flag"
        ])
    );
    let sentry = served
        .sentry
        .as_ref()
        .unwrap_or_else(|| panic!("no sentry"));
    let items = sentry.accepted(3);
    assert!(
        items
            .iter()
            .all(|i| i["created_by"] == json!({"id": "go-feature-flag", "type": "name"}))
    );
    // A notification without a change (an empty diff) is nothing to relay.
    let (status, _) =
        served.go_feature_flag(r#"{"meta": {"hostname": "h"}, "flags": {"added": {}}}"#);
    assert_eq!(status, 200);
}

/// Every log line of this test binary.
static LOGS: KeptLogs = KeptLogs::new();

#[test]
fn unsigned_tampered_oversized_and_malformed_growthbook_and_go_feature_flag_deliveries_send_nothing()
 {
    LOGS.install();
    let served = Served::start_both(relay_config().with_max_body_bytes(4096));
    let (millis, _) = millis_ago(5);
    let mut marked = feature("true");
    marked["id"] = json!("secret-marker-flag");
    let gb = growthbook(
        "feature.created",
        json!({"object": marked}),
        Value::Null,
        millis,
    );
    let goff = json!({"meta": {"hostname": "h"}, "flags": {"added": {"secret-marker-flag": {"variations": {"on": true}}}}})
        .to_string();
    let gb_good = hmac_signature(&Secret::new(GROWTHBOOK_SECRET), gb.as_bytes());
    let gb_wrong = hmac_signature(&Secret::new("ewhk_guess"), gb.as_bytes());
    let goff_good = hmac_signature(&Secret::new(GOFF_SECRET), goff.as_bytes());
    let goff_prefixed = format!("sha256={goff_good}");
    let goff_wrong = format!(
        "sha256={}",
        hmac_signature(&Secret::new("guess"), goff.as_bytes())
    );
    let gb_tampered = gb.replace("\"true\"", "\"false\"");
    let goff_tampered = goff.replace("true", "false");
    type Refused<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a [u8]);
    let refused: Vec<Refused<'_>> = vec![
        ("/growthbook", vec![], gb.as_bytes()),
        (
            "/growthbook",
            vec![("X-GrowthBook-Signature", &gb_wrong)],
            gb.as_bytes(),
        ),
        (
            "/growthbook",
            vec![("X-GrowthBook-Signature", &gb_good)],
            gb_tampered.as_bytes(),
        ),
        (
            "/growthbook",
            vec![("X-GrowthBook-Signature", "not hex")],
            gb.as_bytes(),
        ),
        (
            "/growthbook",
            vec![("X-Hub-Signature-256", &gb_good)],
            gb.as_bytes(),
        ),
        ("/go-feature-flag", vec![], goff.as_bytes()),
        (
            "/go-feature-flag",
            vec![("X-Hub-Signature-256", &goff_wrong)],
            goff.as_bytes(),
        ),
        (
            "/go-feature-flag",
            vec![("X-Hub-Signature-256", &goff_prefixed)],
            goff_tampered.as_bytes(),
        ),
        // The bare hex, without GitHub's `sha256=`, is not how GO Feature Flag signs.
        (
            "/go-feature-flag",
            vec![("X-Hub-Signature-256", &goff_good)],
            goff.as_bytes(),
        ),
        (
            "/go-feature-flag",
            vec![("X-GrowthBook-Signature", &goff_good)],
            goff.as_bytes(),
        ),
    ];
    for (path, headers, payload) in &refused {
        let (status, answer) = served.post(path, headers, payload);
        assert_eq!(status, 401, "{path} {headers:?}: {answer}");
        assert_eq!(answer, json!({"error": "missing or wrong signature"}));
    }

    let huge = format!(
        r#"{{"event": "feature.created", "pad": "{}"}}"#,
        "x".repeat(8192)
    );
    let (status, _) = served.growthbook(&huge);
    assert_eq!(status, 413);
    let (status, _) = served.go_feature_flag(&huge);
    assert_eq!(status, 413);

    for (malformed, reason) in [
        ("[]", "the body is not a JSON object"),
        (
            "{\"event\": ",
            "the body is not JSON: EOF while parsing a value at line 1 column 10",
        ),
        (r#"{"object": "feature"}"#, "missing field `event`"),
        (
            r#"{"event": "feature.updated", "data": []}"#,
            "`data` is not an object",
        ),
        (
            r#"{"event": "feature.updated", "data": {"object": 1}}"#,
            "`data.object` is not an object",
        ),
        (
            r#"{"event": "feature.deleted", "data": {"object": {"project": "p"}}}"#,
            "a feature.deleted event without `data.object.id`",
        ),
    ] {
        assert_eq!(
            served.growthbook(malformed),
            (400, json!({"error": reason})),
            "{malformed}"
        );
    }
    for (malformed, reason) in [
        ("\"flags\"", "the body is not a JSON object"),
        (r#"{"meta": {"hostname": "h"}}"#, "`flags` is not an object"),
        (
            r#"{"flags": {"added": []}}"#,
            "`flags.added` is not an object",
        ),
        (
            r#"{"flags": {"updated": {"f": {"new_value": {}}}}}"#,
            "an updated flag without `old_value` and `new_value`",
        ),
    ] {
        assert_eq!(
            served.go_feature_flag(malformed),
            (400, json!({"error": reason})),
            "{malformed}"
        );
    }

    let (datadog, sentry) = served.fence_both(1);
    assert!(
        datadog.is_empty() && sentry.is_empty(),
        "nothing reached either destination"
    );
    let stats = served.relay.stats();
    assert_eq!(
        (stats.unauthorized, stats.malformed, stats.relayed),
        (10, 10, 1)
    );
    let logged = LOGS.text();
    for secret in [
        "secret-marker-flag",
        GROWTHBOOK_SECRET,
        GOFF_SECRET,
        SENTRY_SECRET,
        API_KEY,
    ] {
        assert!(!logged.contains(secret), "{secret} logged");
    }
    let debug = format!("{:?}", served.relay);
    for secret in [GROWTHBOOK_SECRET, GOFF_SECRET, SENTRY_SECRET] {
        assert!(!debug.contains(secret), "{debug}");
    }
}
