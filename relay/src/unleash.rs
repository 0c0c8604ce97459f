//! Unleash's webhook addon, default body: the event itself.
//!
//! `{"id", "type", "createdBy", "createdAt", "project", "environment", "featureName", "data",
//! "preData", "tags": [{"type", "value"}]}`. Unleash signs nothing: the relay requires a shared
//! secret in `Authorization` (the addon's `authorization` setting).

use openfeature_hooks_datadog::AuthorType;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::json_fields::{parse_object, rfc3339, text, text_or_number};
use crate::{ChangeKind, CreatedByType, Delivery, ParseError, PrevValue, Source, SourceChange};

/// Reads one Unleash webhook delivery.
///
/// # Errors
/// When the body is not a JSON object or has no `type`.
pub fn parse_unleash(body: &[u8]) -> Result<Delivery, ParseError> {
    let event = parse_object(body)?;
    let kind = text(&event, "type").ok_or_else(|| ParseError::new("missing field `type`"))?;
    if !kind.starts_with("feature") {
        return Ok(Delivery::Ignored(format!(
            "a {kind} event is not a flag change"
        )));
    }
    let Some(feature) = text(&event, "featureName") else {
        return Ok(Delivery::Ignored(format!(
            "a {kind} event without `featureName` names no flag"
        )));
    };
    let project = text(&event, "project");
    let env = text(&event, "environment");
    let mut change = SourceChange::new(Source::Unleash, kind);
    change.verb = verb(kind);
    change.object = format!("flag {feature}");
    change.state_key = format!(
        "unleash/{}/{}/{feature}",
        project.unwrap_or(""),
        env.unwrap_or("")
    );
    change.flag = Some(feature.to_owned());
    change.env = env.map(str::to_owned);
    change.author = Some(match text(&event, "createdBy") {
        Some("unknown") | None => ("unleash".to_owned(), AuthorType::System),
        Some(name) => {
            // `createdBy` is a user name or an e-mail address, whichever the user logs in with.
            if looks_like_email(name) {
                change.created_by_type = CreatedByType::Email;
            }
            (name.to_owned(), AuthorType::User)
        }
    });
    change.kind = match kind {
        "feature-created" => ChangeKind::Created,
        "feature-archived" | "feature-deleted" => ChangeKind::Deleted,
        _ => ChangeKind::Updated,
    };
    change.prev_value = match event.get("preData") {
        Some(Value::Object(pre)) => PrevValue::Given(pre.clone()),
        _ if kind == "feature-created" => PrevValue::Absent,
        _ => PrevValue::NotSent,
    };
    change.new_value = match event.get("data") {
        Some(Value::Object(data)) => data.clone(),
        // Some events carry a scalar or a list (`feature-tagged`): kept under a name.
        Some(Value::Null) | None => Map::new(),
        Some(other) => [("data".to_owned(), other.clone())].into_iter().collect(),
    };
    change.flag_tags = event
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(Value::as_object)
                .filter_map(|tag| {
                    let value = text(tag, "value")?;
                    Some(match text(tag, "type") {
                        Some(kind) => format!("{kind}:{value}"),
                        None => value.to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    change.timestamp = text(&event, "createdAt").and_then(rfc3339);
    let mut metadata = Map::new();
    metadata.insert("source".to_owned(), Value::from("unleash"));
    metadata.insert("unleash_type".to_owned(), Value::from(kind));
    if let Some(project) = project {
        metadata.insert("project".to_owned(), Value::from(project));
    }
    let id = text_or_number(&event, "id");
    if let Some(id) = &id {
        metadata.insert("unleash_event_id".to_owned(), Value::from(id.as_str()));
    }
    change.metadata = metadata;
    let delivery_key = match id {
        Some(id) => format!("unleash/{id}"),
        None => format!("unleash/{}", hex::encode(Sha256::digest(body))),
    };
    Ok(Delivery::Changes {
        delivery_key,
        changes: vec![change],
    })
}

/// `local@domain.tld`, without spaces: what Unleash's `createdBy` holds for a user who logs in
/// with an e-mail address.
fn looks_like_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

/// A readable verb for the event type.
fn verb(kind: &str) -> String {
    match kind {
        "feature-created" => "created",
        "feature-updated" | "feature-metadata-updated" => "updated",
        "feature-environment-enabled" => "enabled",
        "feature-environment-disabled" => "disabled",
        "feature-strategy-add" => "added a strategy to",
        "feature-strategy-update" => "updated a strategy of",
        "feature-strategy-remove" => "removed a strategy from",
        "feature-variants-updated" | "feature-environment-variants-updated" => {
            "updated the variants of"
        }
        "feature-archived" => "archived",
        "feature-revived" => "revived",
        "feature-deleted" => "deleted",
        other => return format!("changed ({other})"),
    }
    .to_owned()
}
