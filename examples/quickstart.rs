//! Quickstart: a few flag evaluations recorded by openfeature-hooks, with no external service.
//!
//! Run: `cargo run --example quickstart --all-features`
//!
//! An in-memory provider answers a boolean, a string, a number and a struct flag, one flag
//! fails, and one answers with a provider-specific (LaunchDarkly) reason. Each evaluation is
//! written as a JSON line to stdout, then a table sums up what was recorded.

#![allow(clippy::print_stdout)] // printing is what this example is for

use open_feature::{
    EvaluationContext, EvaluationErrorCode, EvaluationReason, OpenFeature, StructValue, Value,
};
use openfeature_hooks::{ContextIdKey, ContextIdPolicy, JsonLinesSink, TelemetryHook};
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider, RecordingSink};

fn provider() -> FixtureProvider {
    FixtureProvider::new("in-memory")
        .with_flag(
            "new-checkout",
            FixtureFlag::new(true)
                .variant("on")
                .reason(Some(EvaluationReason::TargetingMatch))
                .metadata("flagSetId", "checkout")
                .metadata("version", "12"),
        )
        .with_flag(
            "button-color",
            FixtureFlag::new("green")
                .variant("treatment")
                .reason(Some(EvaluationReason::Split)),
        )
        .with_flag(
            "max-items",
            FixtureFlag::new(25_i64).reason(Some(EvaluationReason::Static)),
        )
        .with_flag(
            "banner",
            FixtureFlag::new(Value::Struct(
                StructValue::default()
                    .with_field("text", "Welcome back")
                    .with_field("dismissable", true),
            ))
            .variant("welcome"),
        )
        .with_flag(
            "beta-search",
            FixtureFlag::new(false)
                .variant("false")
                .reason(Some(EvaluationReason::Other("RULE_MATCH".into()))),
        )
        .with_flag(
            "pricing-v2",
            FixtureFlag::failing(
                EvaluationErrorCode::ParseError,
                Some("rule 3: unknown operator"),
            ),
        )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let recorded = RecordingSink::new();
    let hook = TelemetryHook::builder()
        .sink(JsonLinesSink::new(std::io::stdout()))
        .sink(recorded.clone())
        // Record a keyed hash of the targeting key, never the key itself.
        .context_id(ContextIdPolicy::hashed(ContextIdKey::random()))
        .build();

    let mut api = OpenFeature::default();
    api.set_provider(provider()).await;
    api.add_hook(hook).await;
    let client = api.create_named_client("quickstart");
    let user = EvaluationContext::default().with_targeting_key("user-42");

    println!("# one JSON line per evaluation\n");
    let _ = client
        .get_bool_value("new-checkout", Some(&user), None)
        .await;
    let _ = client
        .get_string_value("button-color", Some(&user), None)
        .await;
    let _ = client.get_int_value("max-items", Some(&user), None).await;
    let _ = client
        .get_struct_value::<StructValue>("banner", Some(&user), None)
        .await;
    let _ = client
        .get_bool_value("beta-search", Some(&user), None)
        .await;
    let fallback = client
        .get_bool_value("pricing-v2", Some(&user), None)
        .await
        .unwrap_or(false);
    println!("\n# pricing-v2 failed; the application fell back to {fallback}\n");

    println!(
        "{:<14} {:<8} {:<22} {:<10} {:<16} error",
        "flag", "type", "value", "variant", "reason"
    );
    for r in recorded.records() {
        let value = r.value.as_ref().map(short).unwrap_or_else(|| "-".into());
        println!(
            "{:<14} {:<8} {:<22} {:<10} {:<16} {}",
            r.flag_key,
            r.flag_type,
            value,
            r.variant.as_deref().unwrap_or("-"),
            r.reason.as_deref().unwrap_or("-"),
            match (&r.error_type, &r.error_message) {
                (Some(kind), Some(message)) => format!("{kind}: {message}"),
                (Some(kind), None) => kind.clone(),
                _ => "-".into(),
            }
        );
    }
}

fn short(value: &Value) -> String {
    let text = openfeature_hooks::JsonValue::new(value).to_json_string();
    if text.chars().count() > 22 {
        format!("{}…", text.chars().take(21).collect::<String>())
    } else {
        text
    }
}
