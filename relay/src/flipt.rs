//! Flipt v1 audit events (v1.27 to v1.61), versions `0.1` and `0.2`.
//!
//! `{"version", "type", "action", "metadata": {"actor": {...}}, "payload", "timestamp",
//! "status"}`. Creations and updates carry the new state only, deletions the request (the
//! keys), denied requests (`status: denied`, version `0.2`) a null payload. No event id.

use openfeature_hooks_datadog::AuthorType;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::json_fields::{object, parse_object, rfc3339, text, text_or_number};
use crate::{ChangeKind, CreatedByType, Delivery, ParseError, PrevValue, Source, SourceChange};

/// The header Flipt's webhook audit sink signs with: the lowercase hex HMAC-SHA256 of the body
/// with `audit.sinks.webhook.signing_secret`.
pub const FLIPT_SIGNATURE_HEADER: &str = "x-flipt-webhook-signature";

/// Reads one Flipt audit event.
///
/// # Errors
/// When the body is not a JSON object, or lacks what a change of its type needs (`type`,
/// `action`, the payload's keys).
pub fn parse_flipt(body: &[u8]) -> Result<Delivery, ParseError> {
    let event = parse_object(body)?;
    let kind = text(&event, "type").ok_or_else(|| ParseError::new("missing field `type`"))?;
    let action = text(&event, "action").ok_or_else(|| ParseError::new("missing field `action`"))?;
    if text(&event, "status") == Some("denied") {
        return Ok(Delivery::Ignored(
            "a denied request changes nothing".to_owned(),
        ));
    }
    if !matches!(action, "created" | "updated" | "deleted") {
        return Ok(Delivery::Ignored(format!(
            "action {action:?} is not a change"
        )));
    }
    if matches!(kind, "namespace" | "token") {
        return Ok(Delivery::Ignored(format!(
            "a {kind} event is not a flag change"
        )));
    }
    let payload =
        object(&event, "payload").ok_or_else(|| ParseError::new("`payload` is not an object"))?;
    let namespace = text(payload, "namespace_key").unwrap_or("default");
    let required = |name: &str| {
        text_or_number(payload, name)
            .ok_or_else(|| ParseError::new(format!("a {kind} event without `payload.{name}`")))
    };
    let id = text_or_number(payload, "id");
    let mut change = SourceChange::new(Source::Flipt, action);
    let state = |what: &str| format!("flipt/{namespace}/{what}");
    match kind {
        "flag" => {
            let key = required("key")?;
            change.object = format!("flag {key}");
            change.state_key = state(&format!("flag/{key}"));
            change.flag = Some(key);
        }
        "variant" | "rule" | "rollout" => {
            let flag = required("flag_key")?;
            let name = match kind {
                "variant" => text_or_number(payload, "key").or_else(|| id.clone()),
                _ => id.clone().or_else(|| text_or_number(payload, "rank")),
            }
            .unwrap_or_default();
            change.object = format!("{kind} {name} of flag {flag}").replace("  ", " ");
            let part = id.clone().unwrap_or(name);
            change.state_key = state(&format!("flag/{flag}/{kind}/{part}"));
            if kind == "rule" {
                // Remembered so a later distribution of this rule finds its flag.
                change.rule_id = id.clone();
            }
            change.flag = Some(flag);
        }
        "distribution" => {
            let rule = text_or_number(payload, "rule_id");
            let part = id.clone().unwrap_or_default();
            change.object = match &rule {
                Some(rule) => format!("distribution {part} of rule {rule}"),
                None => format!("distribution {part}"),
            }
            .replace("  ", " ");
            change.state_key = state(&format!("distribution/{part}"));
            change.flag = text(payload, "flag_key").map(str::to_owned);
            change.rule_id = rule;
            if change.flag.is_none() && change.rule_id.is_none() {
                return Err(ParseError::new(
                    "a distribution event without `payload.flag_key` or `payload.rule_id`",
                ));
            }
        }
        "segment" => {
            let key = required("key")?;
            change.object = format!("segment {key}");
            change.state_key = state(&format!("segment/{key}"));
            change.flag = Some(format!("segment:{key}"));
        }
        "constraint" => {
            let segment = required("segment_key")?;
            let part = id.clone().unwrap_or_default();
            change.object = format!("constraint {part} of segment {segment}").replace("  ", " ");
            change.state_key = state(&format!("segment/{segment}/constraint/{part}"));
            change.flag = Some(format!("segment:{segment}"));
        }
        other => {
            return Ok(Delivery::Ignored(format!(
                "a {other} event is not a flag change"
            )));
        }
    }
    if id.is_none() && matches!(kind, "distribution" | "constraint") {
        // Without an id the object cannot be told apart from its siblings: no memory.
        change.state_key.clear();
    }
    change.prev_value = if action == "created" {
        PrevValue::Absent
    } else {
        PrevValue::FromMemory
    };
    if action != "deleted" {
        change.new_value = payload.clone();
    }
    let (author, author_type, created_by_type) = author(&event);
    change.author = Some((author, author_type));
    change.created_by_type = created_by_type;
    // A variant, rule or segment changing is an update of the flag it belongs to.
    change.kind = match (kind, action) {
        ("flag", "created") => ChangeKind::Created,
        ("flag", "deleted") => ChangeKind::Deleted,
        _ => ChangeKind::Updated,
    };
    change.timestamp = text(&event, "timestamp").and_then(rfc3339);
    let mut metadata = Map::new();
    metadata.insert("source".to_owned(), Value::from("flipt"));
    metadata.insert("flipt_type".to_owned(), Value::from(kind));
    metadata.insert("action".to_owned(), Value::from(action));
    metadata.insert("namespace".to_owned(), Value::from(namespace));
    if let Some(version) = text(&event, "version") {
        metadata.insert("audit_version".to_owned(), Value::from(version));
    }
    change.metadata = metadata;
    Ok(Delivery::Changes {
        delivery_key: format!("flipt/{}", hex::encode(Sha256::digest(body))),
        changes: vec![change],
    })
}

/// The actor: `metadata.actor` (v0.2: an object of optional `authentication`, `ip`, `email`,
/// `name`, `picture`; v0.1: a map of strings with the same names). The IP is never used.
fn author(event: &Map<String, Value>) -> (String, AuthorType, CreatedByType) {
    let actor = object(event, "metadata").and_then(|m| object(m, "actor"));
    let Some(actor) = actor else {
        return ("flipt".to_owned(), AuthorType::System, CreatedByType::Name);
    };
    if let Some(email) = text(actor, "email") {
        return (email.to_owned(), AuthorType::User, CreatedByType::Email);
    }
    if let Some(name) = text(actor, "name") {
        return (name.to_owned(), AuthorType::User, CreatedByType::Name);
    }
    match text(actor, "authentication") {
        Some(method @ ("token" | "kubernetes" | "jwt" | "github" | "oidc")) => {
            let kind = if method == "token" || method == "kubernetes" || method == "jwt" {
                AuthorType::Api
            } else {
                AuthorType::User
            };
            (format!("flipt ({method})"), kind, CreatedByType::Name)
        }
        Some(method) => (
            format!("flipt ({method})"),
            AuthorType::System,
            CreatedByType::Name,
        ),
        None => ("flipt".to_owned(), AuthorType::System, CreatedByType::Name),
    }
}
