//! Property tests: the parsers give a defined result (a delivery or a reason) for any JSON and
//! any bytes, and whatever they accept maps to a change event within the Events API limits.

use openfeature_hooks_datadog::__private::change_event_body;
use openfeature_hooks_datadog::{ChangeOrigin, limits};
use openfeature_hooks_relay::__private::{
    Delivery, MAX_SENTRY_TEXT, ParseError, parse_flipt, parse_go_feature_flag, parse_growthbook,
    parse_launchdarkly, parse_unleash, sentry_text, valid_hmac_signature, valid_shared_secret,
};
use openfeature_hooks_relay::Secret;
use proptest::prelude::*;

mod support;
use serde_json::{Map, Value, json};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects shaped like the sources' deliveries, with arbitrary values in the known fields.
fn delivery_like() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "version",
        "type",
        "action",
        "metadata",
        "payload",
        "timestamp",
        "status",
        "_id",
        "date",
        "kind",
        "member",
        "accesses",
        "previousVersion",
        "currentVersion",
        "_links",
        "id",
        "createdBy",
        "createdAt",
        "featureName",
        "environment",
        "project",
        "data",
        "preData",
        "tags",
        "comment",
        "titleVerb",
        "event",
        "object",
        "created",
        "user",
        "environments",
        "flags",
        "meta",
    ]);
    let values = prop_oneof![
        any_json(),
        prop::sample::select(vec![
            json!("flag"),
            json!("variant"),
            json!("rule"),
            json!("rollout"),
            json!("distribution"),
            json!("segment"),
            json!("constraint"),
            json!("created"),
            json!("updated"),
            json!("deleted"),
            json!("denied"),
            json!("feature-created"),
            json!("2026-11-28T19:07:55Z"),
            json!({"key": "k", "flag_key": "f", "rule_id": 1}),
            json!([{"action": "updateOn", "resource": "proj/p:env/e:flag/k"}]),
            json!({"actor": {"email": "a@b"}}),
            json!("feature.created"),
            json!("feature.updated"),
            json!("feature.deleted"),
            json!({"object": {"id": "f", "tags": ["t"]}, "previous_attributes": {"defaultValue": "x"}}),
            json!({"object": {"id": 3}, "previous_attributes": 1}),
            json!({"type": "dashboard", "email": "a@b", "name": "n", "id": "i"}),
            json!({"type": "api_key", "apiKey": "k"}),
            json!(["production", 1, null]),
            json!({"hostname": "h"}),
            json!({"added": {"a": {"x": 1}}, "deleted": {"d": 2}, "updated": {"u": {"old_value": {}, "new_value": 3}}}),
            json!({"updated": {"u": {"old_value": null}}, "added": []}),
        ])
        .prop_map(|v| v),
    ];
    prop::collection::vec((names, values), 0..14).prop_map(|pairs| {
        Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<Map<_, _>>(),
        )
    })
}

fn check(delivery: &Delivery) {
    let origin = ChangeOrigin {
        service: "s".into(),
        env: None,
    };
    if let Delivery::Changes {
        changes,
        delivery_key,
    } = delivery
    {
        assert!(!changes.is_empty());
        assert!(!delivery_key.is_empty());
        for change in changes {
            let flag = change.flag.clone().unwrap_or_default();
            let event = openfeature_hooks_datadog::FlagChange::new(
                flag,
                Map::new(),
                change.new_value.clone(),
            );
            let body = change_event_body(&event, &origin);
            let a = &body["data"]["attributes"];
            assert!(
                a["title"]
                    .as_str()
                    .is_some_and(|t| t.chars().count() <= limits::TITLE)
            );
            assert!(
                a["attributes"]["new_value"]
                    .as_object()
                    .is_some_and(|o| o.len() <= limits::PROPERTIES)
            );
        }
    }
}

/// A parser of one source's deliveries.
type Parser = fn(&[u8]) -> Result<Delivery, ParseError>;

/// Every parser the relay has.
const PARSERS: [Parser; 5] = [
    parse_flipt,
    parse_launchdarkly,
    parse_unleash,
    parse_growthbook,
    parse_go_feature_flag,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_json_is_a_delivery_or_a_reason(value in prop_oneof![any_json(), delivery_like()]) {
        let body = value.to_string();
        for parse in PARSERS {
            match parse(body.as_bytes()) {
                Ok(delivery) => check(&delivery),
                Err(reason) => prop_assert!(!reason.reason().is_empty()),
            }
        }
    }

    #[test]
    fn any_bytes_are_a_delivery_or_a_reason(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        for parse in PARSERS {
            if let Ok(delivery) = parse(&bytes) {
                check(&delivery);
            }
        }
    }

    #[test]
    fn any_text_becomes_a_name_sentry_accepts_or_none(text in prop_oneof![
        ".{0,160}",
        prop::collection::vec(prop_oneof![Just('\0'), Just(' '), Just('\u{1f}'), Just('\u{3000}'), any::<char>()], 0..200)
            .prop_map(|chars| chars.into_iter().collect::<String>()),
    ]) {
        let python_space = |c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
        let kept: String = text.chars().filter(|c| *c != '\0').collect();
        let kept = kept.trim_matches(python_space);
        match sentry_text(&text) {
            None => prop_assert!(kept.is_empty()),
            Some(name) => {
                prop_assert!(!name.is_empty() && name.chars().count() <= MAX_SENTRY_TEXT);
                prop_assert!(!name.contains('\0'));
                prop_assert_eq!(name.trim_matches(python_space).chars().count(), name.chars().count());
                if kept.chars().count() <= MAX_SENTRY_TEXT {
                    prop_assert_eq!(name.as_str(), kept);
                } else {
                    prop_assert_eq!(name.chars().count(), MAX_SENTRY_TEXT);
                }
            }
        }
    }

    #[test]
    fn any_signature_or_secret_is_checked_without_panicking(
        body in prop::collection::vec(any::<u8>(), 0..64),
        signature in ".{0,80}",
        presented in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let secret = Secret::new("s");
        let expected = openfeature_hooks_relay::__private::hmac_signature(&secret, &body);
        prop_assert_eq!(valid_hmac_signature(&secret, &body, &signature), signature.trim().eq_ignore_ascii_case(&expected));
        prop_assert_eq!(valid_shared_secret(&secret, &presented), presented == b"s");
        let empty = Secret::new("");
        prop_assert!(!valid_hmac_signature(&empty, &body, &signature));
        prop_assert!(!valid_shared_secret(&empty, &presented));
    }
}

/// The relay's mapping too (memory, rules, impact, message, audit line), through the real
/// router: any delivery-shaped body, signed, gets a defined answer, and whatever reaches
/// Sentry passes its generic serializer.
#[test]
fn any_signed_delivery_gets_a_defined_answer_from_the_router() {
    let served = support::Served::start_both(support::relay_config());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    });
    let result = runner.run(&delivery_like(), |value| {
        let body = value.to_string();
        for (status, _) in [
            served.flipt(&body),
            served.launchdarkly(&body),
            served.unleash(&body),
            served.growthbook(&body),
            served.go_feature_flag(&body),
        ] {
            prop_assert!([200, 202, 400].contains(&status), "{status} for {body}");
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    served.fence_both(1);
    let sentry = served
        .sentry
        .as_ref()
        .map(|s| s.requests())
        .unwrap_or_default();
    assert!(!sentry.is_empty());
    for request in &sentry {
        assert!(
            request.accepted(),
            "{:?}: {}",
            request.errors,
            String::from_utf8_lossy(&request.body)
        );
    }
}

#[test]
fn deep_json_is_refused_with_a_reason_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for parse in PARSERS {
        assert!(parse(deep.as_bytes()).is_err());
    }
}
