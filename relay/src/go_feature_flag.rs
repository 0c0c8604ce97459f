//! GO Feature Flag's webhook notifier: one delivery per configuration diff an instance (a relay
//! proxy, or an SDK embedding the library) detects.
//!
//! `{"meta": {"hostname": "<instance>", ...}, "flags": {"added": {<key>: <flag>}, "deleted":
//! {<key>: <flag>}, "updated": {<key>: {"old_value": <flag>, "new_value": <flag>}}}}`. No author,
//! no time, no id; not retried by the notifier. Every instance polling the configuration
//! announces the same diff, differing in `meta.hostname`: each flag's change is identified by
//! its content ([`SourceChange::change_key`]) and its instance ([`SourceChange::announced_by`]),
//! and the relay makes one change of the instances' announcements.

use std::fmt::Write;

use openfeature_hooks_datadog::AuthorType;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::json_fields::{object, parse_object, text};
use crate::{ChangeKind, CreatedByType, Delivery, ParseError, PrevValue, Source, SourceChange};

/// The header GO Feature Flag's webhook notifier signs with: `sha256=` and the hex
/// HMAC-SHA256 of the body with the notifier's `secret`.
pub const GO_FEATURE_FLAG_SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// The author of every GO Feature Flag change: its notifications name nobody (the change is
/// a new configuration file the instances read).
pub(crate) const GO_FEATURE_FLAG_AUTHOR: &str = "go-feature-flag";

/// Reads one GO Feature Flag webhook notification: a change per added, deleted and updated
/// flag, in that order, each section by flag key.
///
/// # Errors
/// When the body is not a JSON object, `flags` or one of its sections is not an object, or an
/// updated flag is not `{"old_value", "new_value"}`.
pub fn parse_go_feature_flag(body: &[u8]) -> Result<Delivery, ParseError> {
    let notification = parse_object(body)?;
    let flags = object(&notification, "flags")
        .ok_or_else(|| ParseError::new("`flags` is not an object"))?;
    let instance = object(&notification, "meta")
        .and_then(|meta| text(meta, "hostname"))
        .unwrap_or("");
    let mut changes = Vec::new();
    for (section, kind) in [
        ("added", ChangeKind::Created),
        ("deleted", ChangeKind::Deleted),
        ("updated", ChangeKind::Updated),
    ] {
        let entries = match flags.get(section) {
            None | Some(Value::Null) => continue,
            Some(Value::Object(entries)) => entries,
            Some(_) => {
                return Err(ParseError::new(format!(
                    "`flags.{section}` is not an object"
                )));
            }
        };
        let mut keys: Vec<&String> = entries.keys().collect();
        keys.sort();
        for key in keys {
            let flag = &entries[key];
            let mut change = SourceChange::new(Source::GoFeatureFlag, section);
            change.kind = kind;
            change.verb = match kind {
                ChangeKind::Created => "added",
                ChangeKind::Deleted => "deleted",
                ChangeKind::Updated => "updated",
            }
            .to_owned();
            change.object = format!("flag {key}");
            change.state_key = format!("go-feature-flag/{key}");
            change.flag = Some(key.clone());
            change.author = Some((GO_FEATURE_FLAG_AUTHOR.to_owned(), AuthorType::System));
            change.created_by_type = CreatedByType::Name;
            match kind {
                ChangeKind::Created => {
                    change.prev_value = PrevValue::Absent;
                    change.new_value = as_map(flag);
                }
                ChangeKind::Deleted => change.prev_value = PrevValue::Given(as_map(flag)),
                ChangeKind::Updated => {
                    let (Some(old), Some(new)) = (
                        flag.get("old_value").filter(|v| !v.is_null()),
                        flag.get("new_value").filter(|v| !v.is_null()),
                    ) else {
                        return Err(ParseError::new(
                            "an updated flag without `old_value` and `new_value`",
                        ));
                    };
                    change.prev_value = PrevValue::Given(as_map(old));
                    change.new_value = as_map(new);
                }
            }
            let mut identity = format!("{section}\n{key}\n");
            canonical(flag, &mut identity);
            change.change_key = Some(format!(
                "go-feature-flag/{}",
                hex::encode(Sha256::digest(identity.as_bytes()))
            ));
            change.announced_by = Some(instance.to_owned());
            let mut metadata = Map::new();
            metadata.insert("source".to_owned(), Value::from("go-feature-flag"));
            metadata.insert("diff".to_owned(), Value::from(section));
            if !instance.is_empty() {
                metadata.insert("announced_by".to_owned(), Value::from(instance));
            }
            change.metadata = metadata;
            changes.push(change);
        }
    }
    if changes.is_empty() {
        return Ok(Delivery::Ignored(
            "a notification without an added, deleted or updated flag".to_owned(),
        ));
    }
    Ok(Delivery::Changes {
        delivery_key: format!("go-feature-flag/{}", hex::encode(Sha256::digest(body))),
        changes,
    })
}

/// A flag's configuration as an object (a value that is not one is kept under `value`).
fn as_map(value: &Value) -> Map<String, Value> {
    match value {
        Value::Object(object) => object.clone(),
        other => [("value".to_owned(), other.clone())].into_iter().collect(),
    }
}

/// `value` as JSON with every object's keys sorted: the same configuration gives the same
/// text whatever order an instance wrote it in.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            out.push('{');
            for (n, key) in keys.into_iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", Value::from(key.as_str()));
                canonical(&object[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_diff_from_two_instances_is_the_same_changes() {
        let a = br#"{"meta": {"hostname": "a"}, "flags": {"updated": {"f": {"old_value": {"x": 1, "y": [1, {"b": 2, "a": 1}]}, "new_value": {"x": 2}}}}}"#;
        let b = br#"{"flags": {"updated": {"f": {"new_value": {"x": 2}, "old_value": {"y": [1, {"a": 1, "b": 2}], "x": 1}}}}, "meta": {"hostname": "b"}}"#;
        let keys = |body: &[u8]| match parse_go_feature_flag(body) {
            Ok(Delivery::Changes { changes, .. }) => changes
                .into_iter()
                .map(|c| (c.change_key, c.announced_by))
                .collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        let (a, b) = (keys(a), keys(b));
        assert_eq!(a[0].0, b[0].0);
        assert_eq!(
            (a[0].1.as_deref(), b[0].1.as_deref()),
            (Some("a"), Some("b"))
        );
    }
}
