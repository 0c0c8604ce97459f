//! Every pure entry point that turns provider data into backend attributes, fed with fuzzer
//! bytes: reason normalisation, error messages, the JSON and OpenTelemetry value writers,
//! Sentry flag names and values, Datadog tag names and values, change-event bodies.
//!
//! Run: `cargo fuzz run record_building -- -max_total_time=300` (from the repository root).

#![no_main]

use libfuzzer_sys::fuzz_target;
use open_feature::{EvaluationError, EvaluationErrorCode, EvaluationReason, StructValue, Value};
use openfeature_hooks::datadog::__private::{change_event_body, tag_name_part, tag_value};
use openfeature_hooks::datadog::{ChangeOrigin, FlagChange, MAX_TAG_LEN};
use openfeature_hooks::otel::__private::{attribute_value, log_value};
use openfeature_hooks::sentry::MAX_FLAG_NAME_LEN;
use openfeature_hooks::sentry::__private::sentry_flag_name;
use openfeature_hooks::{EvaluationFailure, JsonValue, ReasonTable};
use openfeature_hooks_core::__private::MAX_CUSTOM_REASON_LEN;

/// A value decoded from bytes: a small stack machine, so nesting and sizes are the fuzzer's.
fn value_from(bytes: &[u8]) -> Value {
    let mut stack: Vec<Value> = Vec::new();
    for chunk in bytes.chunks(3) {
        let op = chunk[0] % 8;
        let arg = chunk.get(1).copied().unwrap_or(0);
        match op {
            0 => stack.push(Value::Bool(arg % 2 == 0)),
            1 => stack.push(Value::Int(
                i64::from_le_bytes([arg, chunk.get(2).copied().unwrap_or(0), 0, 0, 0, 0, 0, 0])
                    - 1000,
            )),
            2 => stack.push(Value::Float(match arg % 4 {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 => f64::NEG_INFINITY,
                _ => f64::from(arg) / 7.0,
            })),
            3 => stack.push(Value::String(String::from_utf8_lossy(chunk).into_owned())),
            4 => {
                let items = stack.split_off(stack.len().saturating_sub(usize::from(arg % 4)));
                stack.push(Value::Array(items));
            }
            5 => {
                let inner = stack.pop().unwrap_or(Value::Bool(true));
                stack.push(Value::Struct(
                    StructValue::default().with_field(format!("f{arg}"), inner),
                ));
            }
            _ => {}
        }
    }
    stack.pop().unwrap_or(Value::Bool(false))
}

fuzz_target!(|data: &[u8]| {
    let split = data.len() / 3;
    let text = String::from_utf8_lossy(&data[..split]).into_owned();
    let more = String::from_utf8_lossy(&data[split..2 * split]).into_owned();
    let value = value_from(&data[2 * split..]);

    let reason = EvaluationReason::Other(text.clone());
    let table = ReasonTable::builtin();
    let normalised = table.normalise(&reason);
    assert!(normalised.as_str().len() <= MAX_CUSTOM_REASON_LEN.max(15));

    let error = EvaluationError {
        code: EvaluationErrorCode::General(text.clone()),
        message: Some(more.clone()),
    };
    let _ = EvaluationFailure::from_error(&error);

    let json = JsonValue::new(&value).to_json_string();
    assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
    let _ = (log_value(&value), attribute_value(&value));

    if let Some(name) = sentry_flag_name(&text) {
        assert!(name.chars().count() <= MAX_FLAG_NAME_LEN);
    }
    assert!(tag_name_part(&text).chars().count() <= MAX_TAG_LEN);
    assert!(tag_value(&value).chars().count() <= MAX_TAG_LEN);

    let mut map = serde_json::Map::new();
    map.insert(more, serde_json::from_str(&json).unwrap_or_default());
    let body = change_event_body(
        &FlagChange::new(text, map.clone(), map),
        &ChangeOrigin::default(),
    );
    assert!(body.to_string().len() < 1 << 20 || data.len() > 1 << 18);

    // open-feature's Drop recurses; unwind deep values iteratively.
    let mut value = value;
    loop {
        value = match value {
            Value::Array(mut items) => match items.pop() {
                Some(v) => v,
                None => break,
            },
            Value::Struct(mut s) => match s.fields.drain().next() {
                Some((_, v)) => v,
                None => break,
            },
            _ => break,
        };
    }
});
