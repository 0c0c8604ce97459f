//! The Events API v2 body of a change event, within the documented limits.

use openfeature_hooks_core::Rfc3339;
use serde_json::{Map, Value, json};

use crate::FlagChange;
use crate::tag_text::truncate;

/// Events API limits (Datadog's documentation of `POST /api/v2/events`).
pub mod limits {
    /// Title length.
    pub const TITLE: usize = 500;
    /// Message length.
    pub const MESSAGE: usize = 4000;
    /// Number of tags.
    pub const TAGS: usize = 100;
    /// Length of one tag.
    pub const TAG: usize = 200;
    /// Aggregation key length.
    pub const AGGREGATION_KEY: usize = 100;
    /// Length of resource and author names.
    pub const NAME: usize = 128;
    /// Properties of `prev_value`, `new_value` and `change_metadata`.
    pub const PROPERTIES: usize = 100;
    /// Nesting depth of those objects.
    pub const DEPTH: usize = 10;
}

/// Where the change happened: the service and environment the events are tagged with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeOrigin {
    /// The impacted service (`impacted_resources`, `service:` tag).
    pub service: String,
    /// The environment (`env:` tag), when known.
    pub env: Option<String>,
}

/// The JSON body of a change event for `change`, every field within [`limits`].
pub fn change_event_body(change: &FlagChange, origin: &ChangeOrigin) -> Value {
    let mut tags = vec![
        format!("service:{}", origin.service),
        format!("feature_flag:{}", change.flag),
    ];
    if let Some(env) = &origin.env {
        tags.insert(0, format!("env:{env}"));
    }
    let tags: Vec<String> = tags
        .iter()
        .take(limits::TAGS)
        .map(|t| truncate(t, limits::TAG))
        .collect();
    json!({
        "data": {
            "type": "event",
            "attributes": {
                "category": "change",
                "title": truncate(&format!("Feature flag {} changed", change.flag), limits::TITLE),
                "message": truncate(&change.description, limits::MESSAGE),
                "tags": tags,
                "timestamp": Rfc3339::now().to_string(),
                "aggregation_key": truncate(&change.flag, limits::AGGREGATION_KEY),
                "attributes": {
                    "changed_resource": {"name": truncate(&change.flag, limits::NAME), "type": "feature_flag"},
                    "impacted_resources": [{"name": truncate(&origin.service, limits::NAME), "type": "service"}],
                    "prev_value": bounded(&change.prev_value, 1),
                    "new_value": bounded(&change.new_value, 1),
                    "author": {"name": truncate(&change.author, limits::NAME), "type": change.author_type.as_str()},
                    "change_metadata": {"source": "openfeature-hooks"},
                }
            }
        }
    })
}

/// At most [`limits::PROPERTIES`] properties per object and [`limits::DEPTH`] levels.
fn bounded(object: &Map<String, Value>, depth: usize) -> Value {
    Value::Object(
        object
            .iter()
            .take(limits::PROPERTIES)
            .map(|(key, value)| (key.clone(), bounded_value(value, depth + 1)))
            .collect(),
    )
}

fn bounded_value(value: &Value, depth: usize) -> Value {
    match value {
        Value::Object(_) | Value::Array(_) if depth >= limits::DEPTH => {
            Value::String("[depth limit]".to_owned())
        }
        Value::Object(object) => bounded(object, depth),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .take(limits::PROPERTIES)
                .map(|item| bounded_value(item, depth + 1))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_of(value: &Value) -> usize {
        match value {
            Value::Object(map) => 1 + map.values().map(depth_of).max().unwrap_or(0),
            Value::Array(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
            _ => 0,
        }
    }

    #[test]
    fn huge_changes_stay_within_the_limits() {
        let mut deep = json!("leaf");
        for _ in 0..50 {
            deep = json!({ "d": deep });
        }
        let mut wide = Map::new();
        for i in 0..500 {
            wide.insert(format!("p{i}"), json!(i));
        }
        wide.insert("deep".into(), deep);
        let flag = "f".repeat(1000);
        let change = FlagChange::new(flag, wide.clone(), wide).with_description("m".repeat(10_000));
        let origin = ChangeOrigin {
            service: "s".repeat(1000),
            env: Some("prod".into()),
        };
        let body = change_event_body(&change, &origin);
        let a = &body["data"]["attributes"];
        assert_eq!(
            a["title"].as_str().map(|t| t.chars().count()),
            Some(limits::TITLE)
        );
        assert_eq!(a["message"].as_str().map(str::len), Some(limits::MESSAGE));
        assert_eq!(
            a["aggregation_key"].as_str().map(str::len),
            Some(limits::AGGREGATION_KEY)
        );
        assert!(a["tags"].as_array().is_some_and(|t| {
            t.iter()
                .all(|t| t.as_str().is_some_and(|t| t.len() <= limits::TAG))
        }));
        let inner = &a["attributes"];
        assert_eq!(
            inner["changed_resource"]["name"].as_str().map(str::len),
            Some(limits::NAME)
        );
        assert_eq!(
            inner["impacted_resources"][0]["name"]
                .as_str()
                .map(str::len),
            Some(limits::NAME)
        );
        assert_eq!(
            inner["prev_value"].as_object().map(|o| o.len()),
            Some(limits::PROPERTIES)
        );
        assert!(
            depth_of(&inner["new_value"]) <= limits::DEPTH,
            "{}",
            depth_of(&inner["new_value"])
        );
    }
}
