//! GrowthBook event webhooks (`feature.created`, `feature.updated`, `feature.deleted`).
//!
//! `{"event", "object": "feature", "api_version", "created" (ms), "data": {"object": {id,
//! owner, project, valueType, defaultValue, tags, environments, revision{version, comment,
//! date, createdBy, publishedBy}, archived, ...}, "previous_attributes": {the fields that
//! changed}}, "user": {"type": "dashboard"|"api_key"|"system", ...} | null, "tags",
//! "environments": [the environments whose configuration changed]}`. No event id: a
//! redelivery (GrowthBook retries a failed one up to three times) has the same body.
//!
//! `feature.revision.published` is not relayed: GrowthBook sends `feature.updated` for the
//! same publication, whose `data.object.revision` carries the same comment and publisher, and
//! relaying both would record the change twice. Other events (experiments, saved groups, safe
//! rollouts, ramp schedules, draft revisions, test deliveries) are not flag changes.

use openfeature_hooks_datadog::AuthorType;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::json_fields::{epoch_millis, object, parse_object, rfc3339, text};
use crate::{ChangeKind, CreatedByType, Delivery, ParseError, PrevValue, Source, SourceChange};

/// The header GrowthBook signs its event webhooks with: the hex HMAC-SHA256 of the body with the
/// webhook's secret (`ewhk_...`).
pub const GROWTHBOOK_SIGNATURE_HEADER: &str = "x-growthbook-signature";

/// Reads one GrowthBook event webhook delivery.
///
/// # Errors
/// When the body is not a JSON object, has no `event`, or a feature event lacks
/// `data.object.id`.
pub fn parse_growthbook(body: &[u8]) -> Result<Delivery, ParseError> {
    let event = parse_object(body)?;
    let name = text(&event, "event").ok_or_else(|| ParseError::new("missing field `event`"))?;
    let (verb, kind) = match name {
        "feature.created" => ("created", ChangeKind::Created),
        "feature.updated" => ("updated", ChangeKind::Updated),
        "feature.deleted" => ("deleted", ChangeKind::Deleted),
        "feature.revision.published" => {
            return Ok(Delivery::Ignored(
                "a feature.revision.published event repeats its feature.updated event".to_owned(),
            ));
        }
        other => {
            return Ok(Delivery::Ignored(format!(
                "a {other} event is not a flag change"
            )));
        }
    };
    let data = object(&event, "data").ok_or_else(|| ParseError::new("`data` is not an object"))?;
    let feature =
        object(data, "object").ok_or_else(|| ParseError::new("`data.object` is not an object"))?;
    let id = text(feature, "id")
        .ok_or_else(|| ParseError::new(format!("a {name} event without `data.object.id`")))?;
    let project = text(feature, "project");
    let mut change = SourceChange::new(Source::GrowthBook, name);
    change.verb = verb.to_owned();
    change.kind = kind;
    change.object = format!("feature {id}");
    change.state_key = format!("growthbook/{}/{id}", project.unwrap_or(""));
    change.flag = Some(id.to_owned());
    let environments = strings(event.get("environments"));
    let mut environments = environments.into_iter();
    change.env = environments.next();
    change.more_envs = environments.collect();
    let (author, author_type, created_by_type) = author(event.get("user"));
    change.author = Some((author, author_type));
    change.created_by_type = created_by_type;
    change.prev_value = match kind {
        ChangeKind::Created => PrevValue::Absent,
        ChangeKind::Deleted => PrevValue::Given(feature.clone()),
        ChangeKind::Updated => match object(data, "previous_attributes") {
            // The feature as it was: today's, with the fields that changed put back.
            Some(previous) => {
                let mut before = feature.clone();
                for (field, value) in previous {
                    before.insert(field.clone(), value.clone());
                }
                PrevValue::Given(before)
            }
            None => PrevValue::NotSent,
        },
    };
    if kind != ChangeKind::Deleted {
        change.new_value = feature.clone();
    }
    change.flag_tags = strings(feature.get("tags"));
    change.timestamp = event
        .get("created")
        .and_then(epoch_millis)
        .or_else(|| text(feature, "dateUpdated").and_then(rfc3339));
    let revision = object(feature, "revision");
    if kind == ChangeKind::Updated
        && let Some(comment) = revision.and_then(|r| text(r, "comment"))
    {
        change.note = Some(format!("Comment: {comment}"));
    }
    let mut metadata = Map::new();
    metadata.insert("source".to_owned(), Value::from("growthbook"));
    metadata.insert("growthbook_event".to_owned(), Value::from(name));
    if let Some(project) = project {
        metadata.insert("project".to_owned(), Value::from(project));
    }
    if let Some(version) = revision
        .and_then(|r| r.get("version"))
        .filter(|v| v.is_number())
    {
        metadata.insert("revision".to_owned(), version.clone());
    }
    change.metadata = metadata;
    Ok(Delivery::Changes {
        delivery_key: format!("growthbook/{}", hex::encode(Sha256::digest(body))),
        changes: vec![change],
    })
}

/// The non-empty strings of a list.
fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The author from `user`: a dashboard user's e-mail address (else name, else id); an API
/// key's e-mail address, name or id (never the key); the system, with its subtype.
fn author(user: Option<&Value>) -> (String, AuthorType, CreatedByType) {
    let system = || {
        (
            "GrowthBook".to_owned(),
            AuthorType::System,
            CreatedByType::Name,
        )
    };
    let Some(user) = user.and_then(Value::as_object) else {
        return system();
    };
    let person = |kind: AuthorType| {
        if let Some(email) = text(user, "email") {
            Some((email.to_owned(), kind, CreatedByType::Email))
        } else if let Some(name) = text(user, "name") {
            Some((name.to_owned(), kind, CreatedByType::Name))
        } else {
            text(user, "id").map(|id| (id.to_owned(), kind, CreatedByType::Id))
        }
    };
    match text(user, "type") {
        Some("dashboard") => person(AuthorType::User).unwrap_or_else(system),
        Some("api_key") => person(AuthorType::Api).unwrap_or_else(|| {
            (
                "GrowthBook API key".to_owned(),
                AuthorType::Api,
                CreatedByType::Name,
            )
        }),
        _ => match text(user, "subtype") {
            Some(subtype) => (
                format!("GrowthBook ({subtype})"),
                AuthorType::System,
                CreatedByType::Name,
            ),
            None => system(),
        },
    }
}
