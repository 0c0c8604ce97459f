//! Flag values as Sentry records them.

use open_feature::Value;
use openfeature_hooks_core::JsonValue;
use sentry::protocol::Value as Json;

/// The longest flag result Sentry's ingest accepts, as JSON text in characters.
pub const MAX_RESULT_LEN: usize = 200;

/// Which evaluated values are recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordedValues {
    /// Booleans only, like Sentry's Python and JavaScript integrations (the default): Sentry's
    /// flag views and suspect-flag detection are built around on/off flags.
    #[default]
    Booleans,
    /// Booleans, numbers and strings (strings cut so the JSON stays within
    /// [`MAX_RESULT_LEN`] characters). Arrays and structs are never recorded.
    Scalars,
}

impl RecordedValues {
    /// The JSON result for `value`, or `None` when this choice does not record it.
    pub(crate) fn result(self, value: &Value) -> Option<Json> {
        match (self, value) {
            (_, Value::Bool(flag)) => Some(Json::Bool(*flag)),
            (RecordedValues::Scalars, Value::Int(number)) => Some(Json::from(*number)),
            (RecordedValues::Scalars, Value::Float(number)) => {
                serde_json::Number::from_f64(*number).map(Json::Number)
            }
            (RecordedValues::Scalars, Value::String(text)) => {
                Some(Json::String(bounded_text(text)))
            }
            _ => None,
        }
    }
}

/// Any value as a result within [`MAX_RESULT_LEN`]: scalars as themselves, strings cut,
/// arrays and structs as their JSON when it fits, else as their JSON text cut to fit.
pub(crate) fn any_result(value: &Value) -> Json {
    match value {
        Value::Array(_) | Value::Struct(_) => {
            // One character past the limit tells whether the whole text fits, without writing
            // the rest of a large value.
            let text = JsonValue::new(value).to_json_prefix(MAX_RESULT_LEN + 1);
            if text.chars().count() <= MAX_RESULT_LEN {
                serde_json::from_str(&text).unwrap_or(Json::Null)
            } else {
                Json::String(bounded_text(&text))
            }
        }
        other => RecordedValues::Scalars.result(other).unwrap_or(Json::Null),
    }
}

/// `text` cut so that, written as a JSON string (quotes and escapes included), it has at most
/// [`MAX_RESULT_LEN`] characters.
pub(crate) fn bounded_text(text: &str) -> String {
    let mut out = String::new();
    let mut length = 2; // the quotes
    for ch in text.chars() {
        let escaped = match ch {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            _ => 1,
        };
        if length + escaped > MAX_RESULT_LEN {
            break;
        }
        length += escaped;
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use open_feature::StructValue;

    use super::*;

    #[test]
    fn booleans_only_by_default() {
        assert_eq!(
            RecordedValues::Booleans.result(&Value::Bool(true)),
            Some(Json::Bool(true))
        );
        assert_eq!(
            RecordedValues::Booleans.result(&Value::String("x".into())),
            None
        );
        assert_eq!(RecordedValues::Booleans.result(&Value::Int(3)), None);
    }

    #[test]
    fn scalars_when_asked() {
        let scalars = RecordedValues::Scalars;
        assert_eq!(scalars.result(&Value::Int(3)), Some(Json::from(3)));
        assert_eq!(scalars.result(&Value::Float(0.5)), Some(Json::from(0.5)));
        assert_eq!(
            scalars.result(&Value::Float(f64::NAN)),
            None,
            "JSON has no NaN"
        );
        assert_eq!(scalars.result(&Value::Struct(StructValue::default())), None);
        let long = scalars.result(&Value::String("é\"".repeat(500)));
        let text = serde_json::to_string(&long).unwrap_or_default();
        assert!(text.chars().count() <= MAX_RESULT_LEN, "{}", text.len());
        assert!(text.chars().count() >= MAX_RESULT_LEN - 2);
    }

    #[test]
    fn any_result_is_bounded() {
        let small = Value::Struct(StructValue::default().with_field("a", 1_i64));
        assert_eq!(any_result(&small), serde_json::json!({"a": 1}));
        let big = Value::Array((0..1000).map(Value::Int).collect());
        let Json::String(text) = any_result(&big) else {
            unreachable!("a long array becomes text")
        };
        assert!(
            serde_json::to_string(&text)
                .unwrap_or_default()
                .chars()
                .count()
                <= MAX_RESULT_LEN
        );
        assert!(text.starts_with("[0,1,2,3,4"), "{text}");
        // `{"a":"…"}` is 8 characters around the text: at the limit it stays JSON, one more
        // and it becomes text.
        let at = |n: usize| Value::Struct(StructValue::default().with_field("a", "x".repeat(n)));
        assert!(any_result(&at(MAX_RESULT_LEN - 8)).is_object());
        assert!(any_result(&at(MAX_RESULT_LEN - 7)).is_string());
    }
}
