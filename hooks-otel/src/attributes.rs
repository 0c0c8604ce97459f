//! The attributes of one evaluation, written once for every signal.

use open_feature::Value;
use openfeature_hooks_core::__private::{RecordTexts, metadata_text};
use openfeature_hooks_core::{EvaluationRecord, Reason};
use opentelemetry::{Key, KeyValue, StringValue};

use crate::attribute_naming::{self, AttributeRules};
use crate::otel_value::attribute_value;
use crate::shared_strings::shared;

/// The attribute that carries [`EvaluationRecord::sample_rate`] on records that went through a
/// [`SampledSink`](openfeature_hooks_core::SampledSink): each such event stands for
/// `1 / sample_rate` evaluations. Not a semantic-convention name (there is none yet), so it is
/// namespaced to this library.
pub const SAMPLE_RATE: &str = "openfeature_hooks.sample_rate";

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

/// The value to write as the attribute `feature_flag.result.value`, by the rules'
/// [`ResultValue`](crate::ResultValue).
#[inline]
fn value_attribute<'a>(record: &EvaluationRecord<'a>, naming: AttributeRules) -> Option<&'a Value> {
    record
        .value
        .filter(|_| naming.writes_value_attribute(record.variant.is_some()))
}

/// Writes the record's attributes under `naming`'s names, taking the key, variant and provider
/// from `texts` (the record's [`RecordTexts`]) when they are interned. The flag value is written
/// as an attribute when `naming`'s [`ResultValue`](crate::ResultValue) asks for it, and
/// never under the older names of a signal with a body (the value goes in the log body there).
#[inline(always)]
pub(crate) fn write_attributes(
    record: &EvaluationRecord<'_>,
    texts: Option<RecordTexts>,
    naming: AttributeRules,
    body: Body,
    out: &mut impl AttributeWriter,
) {
    let key = |name: &'static str| Key::from_static_str(name);
    let text = |interned: Option<&'static str>, text: &str| match interned {
        Some(interned) => StringValue::from(interned),
        None => shared(text),
    };
    out.string(
        key(attribute_naming::KEY),
        text(texts.map(|t| t.flag_key), record.flag_key),
    );
    let value_in_body = body == Body::Available && naming.value_in_body();
    let value_attribute = value_attribute(record, naming);
    let mut value_written = false;
    for names in naming.revisions() {
        if let Some(variant) = record.variant {
            out.string(
                key(names.variant),
                text(texts.and_then(|t| t.variant), variant),
            );
        }
        if let Some(value) = value_attribute {
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
    if let Some(rate) = record.sample_rate {
        out.flag_value(key(SAMPLE_RATE), &Value::Float(rate));
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
    naming: AttributeRules,
) -> Vec<KeyValue> {
    let texts = RecordTexts::of(record);
    texts
        .and_then(|texts| common_span_attributes(record, texts, naming))
        .unwrap_or_else(|| written_span_attributes(record, texts, naming))
}

/// The attributes of a span or span event, through the general writer.
fn written_span_attributes(
    record: &EvaluationRecord<'_>,
    texts: Option<RecordTexts>,
    naming: AttributeRules,
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
        + usize::from(record.sample_rate.is_some())
        + record.custom_attributes.len();
    let mut out = KeyValues(Vec::with_capacity(count));
    write_attributes(record, texts, naming, Body::None, &mut out);
    out.0
}

/// The attributes of the most common record (a success under today's names, its `texts`
/// interned, no context id, set id, version or custom attributes), or `None` for any other.
///
/// [`write_attributes`] writes the same list (a test compares the two); this path exists for
/// speed alone. Two things let the compiler write each attribute straight into the list instead
/// of building it on the stack and copying it (a copy that reads back stores still in flight,
/// which stalls the processor): a capacity known at compile time that covers every push, and
/// the value and reason computed before the first push. The first took 88 ns to 58 ns on the
/// bench machine, the second 48 ns to 33 ns in a bench of the construction alone.
#[inline(never)]
fn common_span_attributes(
    record: &EvaluationRecord<'_>,
    texts: RecordTexts,
    naming: AttributeRules,
) -> Option<Vec<KeyValue>> {
    let common = naming.is_current()
        && record.failure.is_none()
        && record.context_id.is_none()
        && record.set_id.is_none()
        && record.version.is_none()
        && record.sample_rate.is_none()
        && record.custom_attributes.is_empty();
    if !common {
        return None;
    }
    let key = Key::from_static_str;
    let value = value_attribute(record, naming).map(attribute_value);
    let reason = record.reason.as_ref().map(reason_value);
    // At most five pushes below: key, variant, value, reason, provider.
    let mut attributes = Vec::with_capacity(5);
    attributes.push(KeyValue::new(
        key(attribute_naming::KEY),
        StringValue::from(texts.flag_key),
    ));
    if let Some(variant) = texts.variant {
        attributes.push(KeyValue::new(
            key(attribute_naming::CURRENT.variant),
            StringValue::from(variant),
        ));
    }
    if let Some(value) = value {
        attributes.push(KeyValue::new(key(attribute_naming::VALUE), value));
    }
    if let Some(reason) = reason {
        attributes.push(KeyValue::new(key(attribute_naming::CURRENT.reason), reason));
    }
    if let Some(provider) = texts.provider_name {
        attributes.push(KeyValue::new(
            key(attribute_naming::CURRENT.provider),
            StringValue::from(provider),
        ));
    }
    Some(attributes)
}

#[cfg(test)]
mod tests {
    use open_feature::{EvaluationContext, StructValue};
    use openfeature_hooks_core::{
        ContextId, CustomAttribute, ErrorType, EvaluationFailure, FlagType,
    };

    use super::*;
    use crate::{AttributeNaming, ResultValue};

    #[test]
    fn the_common_path_writes_what_the_general_writer_writes() {
        let context = EvaluationContext::default();
        let values = [
            None,
            Some(Value::Bool(true)),
            Some(Value::Int(7)),
            Some(Value::Float(0.5)),
            Some(Value::String("blue".into())),
            Some(Value::Struct(StructValue::default().with_field("a", 1_i64))),
        ];
        let reasons = [
            None,
            Some(Reason::TargetingMatch),
            Some(Reason::Other("vendor_rule".into())),
        ];
        let mut checked = 0;
        for value in &values {
            for reason in &reasons {
                for variant in [None, Some("on")] {
                    for provider in [None, Some("flagd")] {
                        for rule in RULES {
                            let naming = AttributeRules::new(AttributeNaming::Current, rule);
                            let mut record =
                                EvaluationRecord::new("checkout", FlagType::Bool, &context);
                            record.value = value.as_ref();
                            record.reason = reason.clone();
                            record.variant = variant;
                            record.provider_name = provider;
                            let texts = RecordTexts::of(&record).expect("short texts are interned");
                            let common = common_span_attributes(&record, texts, naming);
                            let written = written_span_attributes(&record, Some(texts), naming);
                            assert_eq!(common.as_ref(), Some(&written), "{rule:?} {record:?}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 216);
    }

    const RULES: [ResultValue; 3] = [
        ResultValue::WhenNoVariant,
        ResultValue::Always,
        ResultValue::Never,
    ];

    /// Whether `feature_flag.result.value` is among a span's attributes.
    fn has_value(record: &EvaluationRecord<'_>, naming: AttributeRules) -> bool {
        span_attributes(record, naming)
            .iter()
            .any(|kv| kv.key.as_str() == attribute_naming::VALUE)
    }

    #[test]
    fn the_value_follows_semconv_1_44_by_default() {
        let context = EvaluationContext::default();
        let value = Value::Bool(true);
        let mut record = EvaluationRecord::new("checkout", FlagType::Bool, &context);
        record.value = Some(&value);
        // No variant: conditionally required, so written.
        assert!(has_value(&record, AttributeRules::default()));
        // A variant: opt-in, so not written by default.
        record.variant = Some("on");
        assert!(!has_value(&record, AttributeRules::default()));
        assert!(has_value(
            &record,
            AttributeRules::new(AttributeNaming::Current, ResultValue::Always)
        ));
        // The general writer (a context id takes the record off the common path) agrees.
        record.context_id = Some(ContextId::Raw("user-1"));
        assert!(!has_value(&record, AttributeRules::default()));
        assert!(has_value(
            &record,
            AttributeRules::new(AttributeNaming::Current, ResultValue::Always)
        ));
    }

    #[test]
    fn every_naming_and_rule_writes_the_value_attribute_as_the_rule_says() {
        let context = EvaluationContext::default();
        let value = Value::String("blue".into());
        for naming in [
            AttributeNaming::Current,
            AttributeNaming::Legacy,
            AttributeNaming::Both,
        ] {
            for rule in RULES {
                for variant in [None, Some("b")] {
                    let mut record = EvaluationRecord::new("color", FlagType::String, &context);
                    record.value = Some(&value);
                    record.variant = variant;
                    let naming = AttributeRules::new(naming, rule);
                    let expected = match rule {
                        ResultValue::WhenNoVariant => variant.is_none(),
                        ResultValue::Always => true,
                        ResultValue::Never => false,
                    };
                    assert_eq!(
                        has_value(&record, naming),
                        expected,
                        "{naming:?} {variant:?}"
                    );
                    // Never written twice, whatever the revisions.
                    let count = span_attributes(&record, naming)
                        .iter()
                        .filter(|kv| kv.key.as_str() == attribute_naming::VALUE)
                        .count();
                    assert!(count <= 1, "{naming:?}");
                }
            }
        }
    }

    #[test]
    fn other_records_take_the_general_writer() {
        let context = EvaluationContext::default();
        let base = EvaluationRecord::new("checkout", FlagType::Bool, &context);
        let texts = RecordTexts::of(&base).expect("short texts are interned");
        for naming in [AttributeNaming::Legacy, AttributeNaming::Both] {
            let naming = AttributeRules::new(naming, ResultValue::default());
            assert_eq!(common_span_attributes(&base, texts, naming), None);
        }
        let mut failed = base.clone();
        failed.failure = Some(EvaluationFailure {
            error_type: ErrorType::FlagNotFound,
            message: None,
        });
        let mut with_id = base.clone();
        with_id.context_id = Some(ContextId::Raw("user-1"));
        let custom = [CustomAttribute::new("team", "growth")];
        let mut with_custom = base.clone();
        with_custom.custom_attributes = &custom;
        let long = "k".repeat(500);
        let mut long_key = base.clone();
        long_key.flag_key = &long;
        for record in [failed, with_id, with_custom, long_key] {
            // Not common: either a text cannot be interned, or the record has more than the
            // common path writes.
            let texts = RecordTexts::of(&record);
            let current = AttributeRules::default();
            let common = texts.and_then(|texts| common_span_attributes(&record, texts, current));
            assert_eq!(common, None, "{record:?}");
            assert_eq!(
                span_attributes(&record, current),
                written_span_attributes(&record, texts, current)
            );
        }
    }
}
