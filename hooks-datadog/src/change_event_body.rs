//! The Events API v2 body of a change event, within the documented limits.

use std::time::{Duration, SystemTime};

use openfeature_hooks_core::__private::Rfc3339;
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
    /// Number of impacted resources.
    pub const IMPACTED_RESOURCES: usize = 100;
}

/// Where the change happened: the service and environment the events are tagged with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeOrigin {
    /// The impacted service (`impacted_resources`, `service:` tag).
    pub service: String,
    /// The environment (`env:` tag), when known.
    pub env: Option<String>,
}

/// How far back the Events API accepts an event's time (18 hours), less a margin for clocks
/// and queueing: an older change is sent with the time of sending.
pub const MAX_EVENT_AGE: Duration = Duration::from_secs(17 * 3600 + 45 * 60);
/// How far ahead of the clock a change's time may be before it is sent with the time of
/// sending (clock skew between the flag system and this host).
pub const MAX_EVENT_SKEW: Duration = Duration::from_secs(5 * 60);

/// The JSON body of a change event for `change`, every field within [`limits`], sent now.
pub fn change_event_body(change: &FlagChange, origin: &ChangeOrigin) -> Value {
    change_event_body_at(change, origin, SystemTime::now())
}

/// The JSON body of a change event for `change`, sent at `now`, every field within
/// [`limits`].
///
/// Tags: `env:` (the change's environment, else the origin's), one `service:` per impacted
/// service (the change's, else the origin's service), `feature_flag:`, then the change's own.
/// The message is the description, followed by the change's link on a line of its own.
pub fn change_event_body_at(change: &FlagChange, origin: &ChangeOrigin, now: SystemTime) -> Value {
    let services: Vec<&str> = if change.impacted_services.is_empty() {
        vec![origin.service.as_str()]
    } else {
        change
            .impacted_services
            .iter()
            .map(String::as_str)
            .take(limits::IMPACTED_RESOURCES)
            .collect()
    };
    let mut tags = Vec::with_capacity(3 + services.len() + change.tags.len());
    if let Some(env) = change.env.as_ref().or(origin.env.as_ref()) {
        tags.push(format!("env:{env}"));
    }
    tags.extend(services.iter().map(|s| format!("service:{s}")));
    tags.push(format!("feature_flag:{}", change.flag));
    tags.extend(change.tags.iter().cloned());
    let tags: Vec<String> = tags
        .iter()
        .take(limits::TAGS)
        .map(|t| truncate(t, limits::TAG))
        .collect();
    let impacted: Vec<Value> = services
        .iter()
        .map(|s| json!({"name": truncate(s, limits::NAME), "type": "service"}))
        .collect();
    let mut metadata = change.change_metadata.clone();
    if let Some(url) = &change.url {
        metadata.insert("url".to_owned(), Value::from(url.as_str()));
    }
    let timestamp = match change.timestamp {
        Some(time) if accepted_time(time, now) => time,
        Some(time) => {
            metadata.insert(
                "source_timestamp".to_owned(),
                Value::from(Rfc3339::at(time).to_string()),
            );
            now
        }
        None => now,
    };
    let message = match &change.url {
        Some(url) => format!("{}\n\n{url}", change.description),
        None => change.description.clone(),
    };
    json!({
        "data": {
            "type": "event",
            "attributes": {
                "category": "change",
                "title": truncate(&format!("Feature flag {} changed", change.flag), limits::TITLE),
                "message": truncate(&message, limits::MESSAGE),
                "tags": tags,
                "timestamp": Rfc3339::at(timestamp).to_string(),
                "aggregation_key": truncate(&change.flag, limits::AGGREGATION_KEY),
                "attributes": {
                    "changed_resource": {"name": truncate(&change.flag, limits::NAME), "type": "feature_flag"},
                    "impacted_resources": impacted,
                    "prev_value": bounded(&change.prev_value, 1),
                    "new_value": bounded(&change.new_value, 1),
                    "author": {"name": truncate(&change.author, limits::NAME), "type": change.author_type.as_str()},
                    "change_metadata": bounded(&metadata, 1),
                }
            }
        }
    })
}

fn accepted_time(time: SystemTime, now: SystemTime) -> bool {
    match now.duration_since(time) {
        Ok(age) => age <= MAX_EVENT_AGE,
        Err(ahead) => ahead.duration() <= MAX_EVENT_SKEW,
    }
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
