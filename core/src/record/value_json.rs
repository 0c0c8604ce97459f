//! Flag values as JSON, with a depth limit: shared by every backend that writes values as text.

use open_feature::{StructValue, Value};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// How deep a value is written: arrays and structs nested deeper are replaced by the string
/// [`DEPTH_LIMIT_MARKER`]. Keeps output bounded and recursion shallow for hostile values.
pub const MAX_VALUE_DEPTH: usize = 32;

/// What stands in for a value nested deeper than [`MAX_VALUE_DEPTH`].
pub const DEPTH_LIMIT_MARKER: &str = "[depth limit]";

/// A flag value serialised as JSON: booleans, numbers and strings as themselves, arrays as
/// arrays, structs as objects with sorted keys (stable output), NaN and infinities as `null`
/// (JSON has no such numbers), nesting bounded at 32 levels: deeper arrays and structs are
/// written as the string `"[depth limit]"`, so output stays bounded and recursion shallow for
/// hostile values.
///
/// ```
/// use open_feature::{StructValue, Value};
/// use openfeature_hooks_core::JsonValue;
///
/// let value = Value::Struct(StructValue::default().with_field("b", 1_i64).with_field("a", f64::NAN));
/// assert_eq!(JsonValue::new(&value).to_json_string(), r#"{"a":null,"b":1}"#);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct JsonValue<'a> {
    value: &'a Value,
    depth: usize,
    /// Characters of output that matter (see [`JsonValue::to_json_prefix`]); `usize::MAX`
    /// for all of it.
    budget: usize,
}

impl<'a> JsonValue<'a> {
    /// Wraps a value.
    pub fn new(value: &'a Value) -> Self {
        Self {
            value,
            depth: 0,
            budget: usize::MAX,
        }
    }

    /// The value as compact JSON text.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("null"))
    }

    /// The first `max_chars` characters of [`to_json_string`](Self::to_json_string), without
    /// writing the rest: what backends with a length limit (Datadog's 200-character tag
    /// values) keep of a value. Strings and keys are cut to `max_chars` characters before they
    /// are escaped, lists to `max_chars` items and structures to the `max_chars / 4 + 1`
    /// smallest keys (a field takes at least five characters with its comma), so a value of a
    /// megabyte costs about what its first characters cost.
    ///
    /// ```
    /// use open_feature::{StructValue, Value};
    /// use openfeature_hooks_core::JsonValue;
    ///
    /// let value = Value::Struct(StructValue::default().with_field("layout", "two-column"));
    /// assert_eq!(JsonValue::new(&value).to_json_prefix(12), r#"{"layout":"t"#);
    /// assert_eq!(JsonValue::new(&value).to_json_prefix(100), r#"{"layout":"two-column"}"#);
    /// ```
    pub fn to_json_prefix(&self, max_chars: usize) -> String {
        let budgeted = Self {
            budget: max_chars,
            ..*self
        };
        let mut text = budgeted.to_json_string();
        text.truncate(first_chars(&text, max_chars).len());
        text
    }

    fn nested(&self, value: &'a Value) -> Self {
        Self {
            value,
            depth: self.depth + 1,
            budget: self.budget,
        }
    }

    /// `text`, cut to the budget.
    fn cut<'t>(&self, text: &'t str) -> &'t str {
        first_chars(text, self.budget)
    }
}

/// The first `max` characters of `text` (all of it when it has no more).
fn first_chars(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

impl Serialize for JsonValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Value::Bool(flag) => serializer.serialize_bool(*flag),
            Value::Int(number) => serializer.serialize_i64(*number),
            Value::Float(number) if number.is_finite() => serializer.serialize_f64(*number),
            Value::Float(_) => serializer.serialize_unit(),
            Value::String(text) => serializer.serialize_str(self.cut(text)),
            Value::Array(_) | Value::Struct(_) if self.depth >= MAX_VALUE_DEPTH => {
                serializer.serialize_str(DEPTH_LIMIT_MARKER)
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items.iter().take(self.budget) {
                    seq.serialize_element(&self.nested(item))?;
                }
                seq.end()
            }
            Value::Struct(fields) => {
                let mut map = serializer.serialize_map(Some(fields.fields.len()))?;
                let shown = (self.budget / 4).saturating_add(1);
                for (key, value) in sorted_fields(fields, shown) {
                    map.serialize_entry(self.cut(key), &self.nested(value))?;
                }
                map.end()
            }
        }
    }
}

/// The `shown` fields with the smallest keys, sorted by key.
fn sorted_fields(fields: &StructValue, shown: usize) -> Vec<(&String, &Value)> {
    let mut sorted: Vec<_> = fields.fields.iter().collect();
    if shown < sorted.len() {
        // Only the smallest keys are written: select them, then sort just those.
        sorted.select_nth_unstable_by(shown, |a, b| a.0.cmp(b.0));
        sorted.truncate(shown);
    }
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(value: &Value) -> String {
        JsonValue::new(value).to_json_string()
    }

    #[test]
    fn a_prefix_is_the_start_of_the_whole_text() {
        let fields = (0..10_000).fold(StructValue::default(), |object, i| {
            object.with_field(
                format!("clé-{:05}", (i * 7_919) % 10_000),
                format!("valeur-ü-{i}"),
            )
        });
        let escapes = "\"\\\u{1}\n".repeat(5_000);
        let values = [
            Value::Struct(fields),
            Value::String(escapes.clone()),
            Value::Struct(StructValue::default().with_field(escapes.clone(), 1_i64)),
            Value::Array((0..10_000).map(Value::Int).collect()),
            Value::Array(vec![
                Value::String("x".repeat(300)),
                Value::Struct(StructValue::default().with_field("ü".repeat(300), "y")),
            ]),
            Value::Bool(true),
            Value::Float(f64::NAN),
            Value::Struct(StructValue::default()),
        ];
        for value in &values {
            let whole = json(value);
            for max in [0, 1, 2, 3, 5, 7, 13, 200, 1_000] {
                let expected: String = whole.chars().take(max).collect();
                assert_eq!(JsonValue::new(value).to_json_prefix(max), expected, "{max}");
            }
        }
    }

    #[test]
    fn scalars() {
        assert_eq!(json(&Value::Bool(true)), "true");
        assert_eq!(json(&Value::Int(-3)), "-3");
        assert_eq!(json(&Value::Float(0.25)), "0.25");
        assert_eq!(json(&Value::Float(f64::NAN)), "null");
        assert_eq!(json(&Value::Float(f64::NEG_INFINITY)), "null");
        assert_eq!(json(&Value::String("a\"b\nü".into())), r#""a\"b\nü""#);
    }

    #[test]
    fn containers_with_sorted_keys() {
        let value = Value::Struct(
            StructValue::default()
                .with_field("z", Value::Array(vec![Value::Int(1), Value::Bool(false)]))
                .with_field("a", "x"),
        );
        assert_eq!(json(&value), r#"{"a":"x","z":[1,false]}"#);
    }

    #[test]
    fn deep_nesting_is_cut_at_the_limit() {
        let mut value = Value::Int(1);
        for _ in 0..10_000 {
            value = Value::Array(vec![value]);
        }
        let expected = format!(
            "{}\"{DEPTH_LIMIT_MARKER}\"{}",
            "[".repeat(MAX_VALUE_DEPTH),
            "]".repeat(MAX_VALUE_DEPTH)
        );
        assert_eq!(json(&value), expected);
        // Dropping a 10 000-deep value recurses in open-feature's own Drop; unwrap it by hand.
        while let Value::Array(mut items) = value {
            value = items.pop().unwrap_or(Value::Bool(false));
        }
    }
}
