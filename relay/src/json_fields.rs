//! Reading fields of untrusted JSON: absent, null and mistyped fields are `None`, never a panic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `object[name]` as a non-empty string.
pub(crate) fn text<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    object
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// `object[name]` as a string, or a number written as text (Flipt ids and ranks vary).
pub(crate) fn text_or_number(object: &Map<String, Value>, name: &str) -> Option<String> {
    match object.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `object[name]` as an object.
pub(crate) fn object<'a>(
    object: &'a Map<String, Value>,
    name: &str,
) -> Option<&'a Map<String, Value>> {
    object.get(name).and_then(Value::as_object)
}

/// An RFC 3339 time (`2026-11-28T19:07:55Z`, any offset).
pub(crate) fn rfc3339(text: &str) -> Option<SystemTime> {
    let time = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
    let nanos = time.unix_timestamp_nanos();
    let nanos = u64::try_from(nanos).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))
}

/// Milliseconds since the epoch (LaunchDarkly's `date`).
pub(crate) fn epoch_millis(value: &Value) -> Option<SystemTime> {
    let millis = value.as_u64()?;
    UNIX_EPOCH.checked_add(Duration::from_millis(millis))
}

/// The body as a JSON object, or why not (the reason a `400` gives).
pub(crate) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, crate::ParseError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(crate::ParseError::new("the body is not a JSON object")),
        Err(error) => Err(crate::ParseError::new(format!(
            "the body is not JSON: {error}"
        ))),
    }
}
