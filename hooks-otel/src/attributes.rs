//! The attributes of one evaluation, written once for every signal.

use open_feature::Value;
use openfeature_hooks_core::{EvaluationRecord, Reason, RecordTexts, metadata_text};
use opentelemetry::{Key, KeyValue, StringValue};

use crate::attribute_naming::{self, AttributeNaming};
use crate::otel_value::attribute_value;
use crate::shared_strings::shared;

/// A reason as an attribute value: the convention's names are static, custom ones shared.
pub(crate) fn reason_value(reason: &Reason<'_>) -> StringValue {
    match reason.as_static_str() {
        Some(name) => StringValue::from(name),
        None => shared(reason.as_str()),
    }
}

/// Where attributes go: a log record, or a list of `KeyValue`s for spans.
pub(crate) trait AttributeWriter {
    fn string(&mut self, key: Key, value: StringValue);
    fn flag_value(&mut self, key: Key, value: &Value);
}

/// Whether the signal has a log body for the older revision's `value` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    Available,
    None,
}

/// Writes the record's attributes under `naming`'s names. The flag value is written as an
/// attribute unless it goes in the log body (older naming, signals with a body).
#[inline(always)]
pub(crate) fn write_attributes(
    record: &EvaluationRecord<'_>,
    naming: AttributeNaming,
    body: Body,
    out: &mut impl AttributeWriter,
) {
    let key = |name: &'static str| Key::from_static_str(name);
    let texts = RecordTexts::of(record);
    let text = |interned: Option<&'static str>, text: &str| match interned {
        Some(interned) => StringValue::from(interned),
        None => shared(text),
    };
    out.string(
        key(attribute_naming::KEY),
        text(texts.map(|t| t.flag_key), record.flag_key),
    );
    let value_in_body = body == Body::Available && naming.value_in_body();
    let mut value_written = false;
    for names in naming.revisions() {
        if let Some(variant) = record.variant {
            out.string(
                key(names.variant),
                text(texts.and_then(|t| t.variant), variant),
            );
        }
        if let Some(value) = record.value {
            let name = names
                .value
                .or((!value_in_body).then_some(attribute_naming::VALUE));
            if let Some(name) = name.filter(|_| !value_written) {
                out.flag_value(key(name), value);
                value_written = true;
            }
        }
        if let Some(reason) = &record.reason {
            out.string(key(names.reason), reason_value(reason));
        }
        if let Some(message) = record.error_message() {
            out.string(
                key(names.error_message),
                StringValue::from(message.to_owned()),
            );
        }
        if let Some(provider) = record.provider_name {
            out.string(
                key(names.provider),
                text(texts.and_then(|t| t.provider_name), provider),
            );
        }
    }
    if let Some(error_type) = record.error_type() {
        out.string(
            key(attribute_naming::ERROR_TYPE),
            StringValue::from(error_type.as_str()),
        );
    }
    if let Some(id) = &record.context_id {
        out.string(
            key(attribute_naming::CONTEXT_ID),
            StringValue::from(id.as_str().to_owned()),
        );
    }
    if let Some(set_id) = record.set_id {
        out.string(
            key(attribute_naming::SET_ID),
            shared(&metadata_text(set_id)),
        );
    }
    if let Some(version) = record.version {
        out.string(
            key(attribute_naming::VERSION),
            shared(&metadata_text(version)),
        );
    }
    for custom in record.custom_attributes {
        out.flag_value(Key::from(custom.key.clone()), &custom.value);
    }
}

/// Attributes as `KeyValue`s, for spans and span events.
#[derive(Debug, Default)]
pub(crate) struct KeyValues(pub(crate) Vec<KeyValue>);

impl AttributeWriter for KeyValues {
    #[inline(always)]
    fn string(&mut self, key: Key, value: StringValue) {
        self.0.push(KeyValue::new(key, value));
    }

    #[inline(always)]
    fn flag_value(&mut self, key: Key, value: &Value) {
        self.0.push(KeyValue::new(key, attribute_value(value)));
    }
}

/// The attributes of a span or span event.
pub(crate) fn span_attributes(
    record: &EvaluationRecord<'_>,
    naming: AttributeNaming,
) -> Vec<KeyValue> {
    let per_revision = usize::from(record.variant.is_some())
        + usize::from(record.reason.is_some())
        + usize::from(record.error_message().is_some())
        + usize::from(record.provider_name.is_some());
    let count = 1
        + per_revision * naming.revisions().len()
        + usize::from(record.value.is_some())
        + usize::from(record.failure.is_some())
        + usize::from(record.context_id.is_some())
        + usize::from(record.set_id.is_some())
        + usize::from(record.version.is_some())
        + record.custom_attributes.len();
    let mut out = KeyValues(Vec::with_capacity(count));
    write_attributes(record, naming, Body::None, &mut out);
    out.0
}
