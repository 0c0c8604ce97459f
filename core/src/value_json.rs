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
/// (JSON has no such numbers), nesting bounded by [`MAX_VALUE_DEPTH`].
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
}

impl<'a> JsonValue<'a> {
    /// Wraps a value.
    pub fn new(value: &'a Value) -> Self {
        Self { value, depth: 0 }
    }

    /// The value as compact JSON text.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("null"))
    }

    fn nested(&self, value: &'a Value) -> Self {
        Self {
            value,
            depth: self.depth + 1,
        }
    }
}

impl Serialize for JsonValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Value::Bool(flag) => serializer.serialize_bool(*flag),
            Value::Int(number) => serializer.serialize_i64(*number),
            Value::Float(number) if number.is_finite() => serializer.serialize_f64(*number),
            Value::Float(_) => serializer.serialize_unit(),
            Value::String(text) => serializer.serialize_str(text),
            Value::Array(_) | Value::Struct(_) if self.depth >= MAX_VALUE_DEPTH => {
                serializer.serialize_str(DEPTH_LIMIT_MARKER)
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&self.nested(item))?;
                }
                seq.end()
            }
            Value::Struct(fields) => {
                let mut map = serializer.serialize_map(Some(fields.fields.len()))?;
                for (key, value) in sorted_fields(fields) {
                    map.serialize_entry(key, &self.nested(value))?;
                }
                map.end()
            }
        }
    }
}

fn sorted_fields(fields: &StructValue) -> Vec<(&String, &Value)> {
    let mut sorted: Vec<_> = fields.fields.iter().collect();
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
