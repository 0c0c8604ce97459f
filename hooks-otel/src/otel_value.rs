//! Flag values as OpenTelemetry values: typed for logs (maps and lists allowed), scalars or JSON
//! text for spans and metrics (whose attributes cannot hold maps).

use std::collections::HashMap;

use open_feature::Value;
use openfeature_hooks_core::__private::{DEPTH_LIMIT_MARKER, MAX_VALUE_DEPTH};
use openfeature_hooks_core::JsonValue;
use opentelemetry::logs::AnyValue;
use opentelemetry::{Key, StringValue};

/// A flag value as a log attribute: booleans, integers, doubles and strings as themselves
/// (NaN and infinities stay doubles, which OTLP carries), arrays as lists, structs as maps,
/// nesting past [`MAX_VALUE_DEPTH`] replaced by [`DEPTH_LIMIT_MARKER`].
pub fn log_value(value: &Value) -> AnyValue {
    log_value_at(value, 0)
}

fn log_value_at(value: &Value, depth: usize) -> AnyValue {
    match value {
        Value::Bool(flag) => AnyValue::Boolean(*flag),
        Value::Int(number) => AnyValue::Int(*number),
        Value::Float(number) => AnyValue::Double(*number),
        Value::String(text) => AnyValue::String(StringValue::from(text.clone())),
        Value::Array(_) | Value::Struct(_) if depth >= MAX_VALUE_DEPTH => {
            AnyValue::String(StringValue::from(DEPTH_LIMIT_MARKER))
        }
        Value::Array(items) => AnyValue::ListAny(Box::new(
            items
                .iter()
                .map(|item| log_value_at(item, depth + 1))
                .collect(),
        )),
        Value::Struct(fields) => AnyValue::Map(Box::new(
            fields
                .fields
                .iter()
                .map(|(key, value)| (Key::from(key.clone()), log_value_at(value, depth + 1)))
                .collect::<HashMap<_, _>>(),
        )),
    }
}

/// A flag value as a span or metric attribute: scalars as themselves, arrays and structs as
/// their JSON text (see [`JsonValue`]).
pub fn attribute_value(value: &Value) -> opentelemetry::Value {
    match value {
        Value::Bool(flag) => opentelemetry::Value::Bool(*flag),
        Value::Int(number) => opentelemetry::Value::I64(*number),
        Value::Float(number) => opentelemetry::Value::F64(*number),
        Value::String(text) => opentelemetry::Value::String(StringValue::from(text.clone())),
        Value::Array(_) | Value::Struct(_) => {
            opentelemetry::Value::String(StringValue::from(JsonValue::new(value).to_json_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use open_feature::StructValue;

    use super::*;

    #[test]
    fn typed_log_values() {
        assert_eq!(log_value(&Value::Bool(true)), AnyValue::Boolean(true));
        assert_eq!(log_value(&Value::Int(7)), AnyValue::Int(7));
        assert_eq!(
            log_value(&Value::String("x".into())),
            AnyValue::String("x".into())
        );
        let nested = Value::Struct(
            StructValue::default().with_field("list", Value::Array(vec![Value::Int(1)])),
        );
        let AnyValue::Map(map) = log_value(&nested) else {
            unreachable!("a struct is a map")
        };
        assert_eq!(
            map.get(&Key::from("list")),
            Some(&AnyValue::ListAny(Box::new(vec![AnyValue::Int(1)])))
        );
    }

    #[test]
    fn deep_values_are_cut() {
        let mut value = Value::Int(1);
        for _ in 0..500 {
            value = Value::Array(vec![value]);
        }
        let mut any = log_value(&value);
        let mut depth = 0;
        while let AnyValue::ListAny(mut items) = any {
            any = items.pop().unwrap_or(AnyValue::Int(0));
            depth += 1;
        }
        assert_eq!(depth, MAX_VALUE_DEPTH);
        assert_eq!(any, AnyValue::String(DEPTH_LIMIT_MARKER.into()));
        while let Value::Array(mut items) = value {
            value = items.pop().unwrap_or(Value::Bool(false));
        }
    }

    #[test]
    fn span_values() {
        assert_eq!(
            attribute_value(&Value::Float(0.5)),
            opentelemetry::Value::F64(0.5)
        );
        let s = Value::Struct(StructValue::default().with_field("a", 1_i64));
        assert_eq!(
            attribute_value(&s),
            opentelemetry::Value::String(r#"{"a":1}"#.into())
        );
    }
}
