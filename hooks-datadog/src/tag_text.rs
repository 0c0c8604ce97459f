//! Flag keys and values as Datadog tag names and values.

use std::borrow::Cow;

use open_feature::Value;
use openfeature_hooks_core::JsonValue;

/// The longest tag Datadog keeps, in characters (names and values alike, here).
pub const MAX_TAG_LEN: usize = 200;

/// A flag key as part of a tag name: Datadog keeps letters (any script), digits, `_ - : . /`;
/// anything else becomes `_`, and the name is cut to [`MAX_TAG_LEN`] characters.
///
/// ```
/// use openfeature_hooks_datadog::__private::tag_name_part;
///
/// assert_eq!(tag_name_part("checkout.v2"), "checkout.v2");
/// assert_eq!(tag_name_part("new checkout!"), "new_checkout_");
/// ```
pub fn tag_name_part(key: &str) -> Cow<'_, str> {
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '.' | '/');
    if key.chars().count() <= MAX_TAG_LEN && key.chars().all(allowed) {
        return Cow::Borrowed(key);
    }
    Cow::Owned(
        key.chars()
            .take(MAX_TAG_LEN)
            .map(|c| if allowed(c) { c } else { '_' })
            .collect(),
    )
}

/// A value as tag text cut to [`MAX_TAG_LEN`] characters: booleans and numbers as written in
/// JSON, strings as themselves, arrays and structs as their JSON.
pub fn tag_value(value: &Value) -> String {
    tag_text(value).into_owned()
}

/// [`tag_value`], borrowed when the value's text is already a tag (booleans, short strings):
/// the evaluation path allocates nothing for those.
pub(crate) fn tag_text(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(text) => truncated(text, MAX_TAG_LEN),
        Value::Bool(flag) => Cow::Borrowed(bool_text(*flag)),
        Value::Int(number) => Cow::Owned(number.to_string()),
        // Only the first 200 characters are written: a huge structure costs what they cost.
        other => Cow::Owned(JsonValue::new(other).to_json_prefix(MAX_TAG_LEN)),
    }
}

/// [`tag_text`] as text that outlives the value: a boolean's text is a constant, not copied.
pub(crate) fn static_tag_text(value: &Value) -> Cow<'static, str> {
    match value {
        Value::Bool(flag) => Cow::Borrowed(bool_text(*flag)),
        other => Cow::Owned(tag_text(other).into_owned()),
    }
}

fn bool_text(flag: bool) -> &'static str {
    if flag { "true" } else { "false" }
}

/// `text` cut to at most `max` characters.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    truncated(text, max).into_owned()
}

/// `text` cut to at most `max` characters, borrowed.
pub(crate) fn truncated(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((end, _)) => Cow::Borrowed(&text[..end]),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use open_feature::StructValue;

    use super::*;

    #[test]
    fn a_static_text_is_the_same_as_a_borrowed_one() {
        let values = [
            Value::Bool(true),
            Value::Bool(false),
            Value::Int(-7),
            Value::Float(0.25),
            Value::String("treatment".into()),
            Value::String("é".repeat(300)),
            Value::String(String::new()),
            Value::Struct(StructValue::default().with_field("a", 1_i64)),
        ];
        for value in values {
            let borrowed = tag_text(&value).into_owned();
            assert_eq!(static_tag_text(&value), borrowed);
        }
    }

    #[test]
    fn names_and_values() {
        assert_eq!(
            tag_name_part("ü-flag"),
            "ü-flag",
            "unicode letters are kept"
        );
        assert_eq!(tag_name_part(&"k".repeat(500)).chars().count(), MAX_TAG_LEN);
        assert_eq!(tag_value(&Value::Bool(false)), "false");
        assert_eq!(tag_value(&Value::Float(0.5)), "0.5");
        assert_eq!(tag_value(&Value::Float(f64::NAN)), "null");
        assert_eq!(
            tag_value(&Value::String("é".repeat(300))).chars().count(),
            MAX_TAG_LEN
        );
        let s = Value::Struct(StructValue::default().with_field("a", 1_i64));
        assert_eq!(tag_value(&s), r#"{"a":1}"#);
    }
}
