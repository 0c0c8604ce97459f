//! LaunchDarkly webhooks: an audit-log entry per delivery.
//!
//! `{"_id", "date" (ms), "kind", "titleVerb", "comment", "member": {"email", "firstName",
//! "lastName"}, "accesses": [{"action", "resource"}], "previousVersion", "currentVersion",
//! "_links": {"site": {"href"}}}`; flag resources read `proj/<p>:env/<e>:flag/<key>`.

use openfeature_hooks_datadog::AuthorType;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::json_fields::{epoch_millis, object, parse_object, text};
use crate::{ChangeKind, CreatedByType, Delivery, ParseError, PrevValue, Source, SourceChange};

/// The header LaunchDarkly signs its webhooks with ("Sign this webhook"): the hex
/// HMAC-SHA256 of the body with the webhook's secret.
pub const LAUNCHDARKLY_SIGNATURE_HEADER: &str = "x-ld-signature";

/// Where LaunchDarkly's relative `_links.site.href` points.
pub(crate) const LAUNCHDARKLY_APP: &str = "https://app.launchdarkly.com";

/// A flag resource: `proj/<p>:env/<e>:flag/<key>` (no `env` for project-wide actions).
#[derive(Debug, PartialEq, Eq)]
struct FlagResource<'a> {
    project: Option<&'a str>,
    env: Option<&'a str>,
    key: &'a str,
}

fn flag_resource(resource: &str) -> Option<FlagResource<'_>> {
    let mut found = FlagResource {
        project: None,
        env: None,
        key: "",
    };
    for part in resource.split(':') {
        // Each part is `<kind>/<name>`, the name possibly followed by `;tags`.
        let (kind, name) = part.split_once('/')?;
        let name = name.split(';').next().unwrap_or(name);
        match kind {
            "proj" => found.project = Some(name),
            "env" => found.env = Some(name),
            "flag" => found.key = name,
            _ => {}
        }
    }
    (!found.key.is_empty()).then_some(found)
}

/// Reads one LaunchDarkly webhook delivery.
///
/// # Errors
/// When the body is not a JSON object or its `accesses` is not a list.
pub fn parse_launchdarkly(body: &[u8]) -> Result<Delivery, ParseError> {
    let entry = parse_object(body)?;
    if let Some(kind) = text(&entry, "kind")
        && kind != "flag"
    {
        return Ok(Delivery::Ignored(format!(
            "a {kind} entry is not a flag change"
        )));
    }
    let accesses = match entry.get("accesses") {
        Some(Value::Array(accesses)) => accesses.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err(ParseError::new("`accesses` is not a list")),
    };
    // One change per flag resource, with every action on it, in the order given.
    let mut flags: Vec<(FlagResource<'_>, Vec<&str>)> = Vec::new();
    for access in accesses.iter().filter_map(Value::as_object) {
        let Some(resource) = text(access, "resource").and_then(flag_resource) else {
            continue;
        };
        let action = text(access, "action").unwrap_or("update");
        match flags.iter_mut().find(|(known, _)| *known == resource) {
            Some((_, actions)) => actions.push(action),
            None => flags.push((resource, vec![action])),
        }
    }
    if flags.is_empty() {
        return Ok(Delivery::Ignored(
            "no flag resource in `accesses`".to_owned(),
        ));
    }
    let (author, created_by_type) = author(&entry);
    let timestamp = entry.get("date").and_then(epoch_millis);
    let url = object(&entry, "_links")
        .and_then(|links| object(links, "site"))
        .and_then(|site| text(site, "href"))
        .map(|href| {
            if href.starts_with('/') {
                format!("{LAUNCHDARKLY_APP}{href}")
            } else {
                href.to_owned()
            }
        });
    let previous = object(&entry, "previousVersion");
    let current = object(&entry, "currentVersion");
    let tags: Vec<String> = current
        .and_then(|c| c.get("tags"))
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let changes = flags
        .into_iter()
        .map(|(resource, actions)| {
            let mut change = SourceChange::new(Source::LaunchDarkly, &actions.join(","));
            // LaunchDarkly's `titleVerb` ends with the object ("turned on the flag").
            (change.verb, change.object) = match text(&entry, "titleVerb") {
                Some(title_verb) => (title_verb.to_owned(), resource.key.to_owned()),
                None => (verb(&actions), format!("flag {}", resource.key)),
            };
            change.state_key = format!(
                "launchdarkly/{}/{}/{}",
                resource.project.unwrap_or(""),
                resource.env.unwrap_or(""),
                resource.key
            );
            change.flag = Some(resource.key.to_owned());
            change.env = resource.env.map(str::to_owned);
            change.author = Some(author.clone());
            change.created_by_type = created_by_type;
            let created = actions.contains(&"createFlag") || actions.contains(&"cloneFlag");
            let deleted = actions.contains(&"deleteFlag");
            change.kind = match (created, deleted) {
                (_, true) => ChangeKind::Deleted,
                (true, false) => ChangeKind::Created,
                (false, false) => ChangeKind::Updated,
            };
            change.prev_value = match previous {
                Some(previous) => PrevValue::Given(previous.clone()),
                None if created => PrevValue::Absent,
                None => PrevValue::NotSent,
            };
            if !deleted && let Some(current) = current {
                change.new_value = current.clone();
            }
            change.flag_tags = tags.clone();
            change.url = url.clone();
            change.timestamp = timestamp;
            change.note = text(&entry, "comment").map(|c| format!("Comment: {c}"));
            let mut metadata = Map::new();
            metadata.insert("source".to_owned(), Value::from("launchdarkly"));
            metadata.insert("actions".to_owned(), Value::from(actions));
            if let Some(project) = resource.project {
                metadata.insert("project".to_owned(), Value::from(project));
            }
            if let Some(id) = text(&entry, "_id") {
                metadata.insert("audit_log_id".to_owned(), Value::from(id));
            }
            change.metadata = metadata;
            change
        })
        .collect();
    let delivery_key = match text(&entry, "_id") {
        Some(id) => format!("launchdarkly/{id}"),
        None => format!("launchdarkly/{}", hex::encode(Sha256::digest(body))),
    };
    Ok(Delivery::Changes {
        delivery_key,
        changes,
    })
}

fn author(entry: &Map<String, Value>) -> ((String, AuthorType), CreatedByType) {
    if let Some(member) = object(entry, "member") {
        if let Some(email) = text(member, "email") {
            return ((email.to_owned(), AuthorType::User), CreatedByType::Email);
        }
        let name = [text(member, "firstName"), text(member, "lastName")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if !name.is_empty() {
            return ((name, AuthorType::User), CreatedByType::Name);
        }
    }
    if let Some(token) = object(entry, "token").and_then(|t| text(t, "name")) {
        return ((token.to_owned(), AuthorType::Api), CreatedByType::Name);
    }
    (
        ("LaunchDarkly".to_owned(), AuthorType::System),
        CreatedByType::Name,
    )
}

/// A readable verb for the actions, when the entry has no `titleVerb`.
fn verb(actions: &[&str]) -> String {
    match actions {
        ["createFlag"] => "created".to_owned(),
        ["deleteFlag"] => "deleted".to_owned(),
        ["updateOn"] => "toggled".to_owned(),
        _ => format!("changed ({})", actions.join(", ")),
    }
}
