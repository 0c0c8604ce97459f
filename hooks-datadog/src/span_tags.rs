//! `feature_flags.<key>` tags on the active span.

use std::borrow::Cow;
use std::cell::RefCell;
use std::hash::BuildHasher;

use openfeature_hooks_core::__private::{FastBuildHasher, RecordTexts, SharedText, shared_text};
use openfeature_hooks_core::{EvaluationRecord, EvaluationSink};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, Key, KeyValue, StringValue};

use crate::flag_tag::served;
use crate::seen_once::{MAX_REMEMBERED, SeenOnce};
use crate::span_tag_key;
use crate::tag_text::tag_name_part;

/// The prefix of flag tags on spans, as Datadog RUM names them.
pub const SPAN_TAG_PREFIX: &str = "feature_flags.";

/// Tags the span active during the evaluation with `feature_flags.<key>` = the variant, or the
/// value when there is no variant, so traces can be filtered by flag
/// (`@feature_flags.new-checkout:on`). Failed evaluations tag
/// `feature_flags.<key>.error` with the error type instead. Nothing happens without a
/// recording span.
///
/// Datadog's Rust tracer (`datadog-opentelemetry`) is an OpenTelemetry layer, so the active span
/// is the OpenTelemetry context's span; `tracing` users reach it through `tracing-opentelemetry`.
/// Names follow Datadog's tag rules: letters (any script), digits and `_ - : . /` are kept,
/// anything else in the key becomes `_`. Values: booleans and numbers as written in JSON,
/// strings as themselves, arrays and structs as their JSON. Key and value are each cut to
/// [`MAX_TAG_LEN`](crate::MAX_TAG_LEN) characters.
///
/// A tag just set on the span with the same value is not set again: OpenTelemetry's SDK appends
/// every `set_attribute`, so a flag evaluated in a loop would otherwise fill the span's attribute
/// limit (128) with copies, and the SDK would drop the application's own attributes after it.
/// The tags set recently, on every span, are remembered in one fixed lock-free table of 16 384
/// slots (128 KiB), so a repeat costs a hash and four loads, and memory never grows; once it
/// is full, an older tag may be set a second time, never skipped.
#[derive(Clone, Copy, Debug, Default)]
pub struct SpanTagsSink;

impl SpanTagsSink {
    /// A span tag sink.
    pub fn new() -> Self {
        Self
    }
}

/// Tags remembered as set ([`MAX_REMEMBERED`]): a repeat within them is not set again.
pub const RECENT_TAGS: usize = MAX_REMEMBERED;

/// The tags set recently, by hash, shared by all threads: a task that moves between threads
/// does not set a tag again.
static RECENTLY_SET: SeenOnce = SeenOnce::new();

thread_local! {
    /// The tag name, built here to avoid an allocation per evaluation.
    static TAG_NAME: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The tag name of `flag_key` with `suffix`: `feature_flags.<key><suffix>`, cut and cleaned to
/// Datadog's rules, interned when short.
pub(crate) fn tag_key(flag_key: &str, suffix: &str) -> Key {
    let name = tag_name_part(flag_key);
    let key = TAG_NAME.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        buffer.clear();
        buffer.push_str(SPAN_TAG_PREFIX);
        buffer.push_str(&name);
        buffer.push_str(suffix);
        shared_text(&buffer)
    });
    match key {
        SharedText::Interned(key) => Key::from_static_str(key),
        SharedText::Counted(key) => Key::from(key),
    }
}

impl EvaluationSink for SpanTagsSink {
    fn record(&self, record: &EvaluationRecord<'_>) {
        Context::map_current(|context| {
            let span = context.span();
            // A sampled span records until it ends (then `set_attribute` is a no-op); asking
            // it costs no lock, unlike `is_recording`, which only unsampled spans need.
            if !(span.span_context().is_sampled() || span.is_recording()) {
                return;
            }
            // A failure's tag value is its error type's constant text.
            let (suffix, value, error) = match (served(record), record.error_type()) {
                (Some(value), _) => ("", value, None),
                (None, Some(error)) => (".error", Cow::Borrowed(error.as_str()), Some(error)),
                (None, None) => return,
            };
            let ids = span.span_context();
            let tag = FastBuildHasher::default().hash_one((
                ids.trace_id().to_bytes(),
                ids.span_id().to_bytes(),
                record.flag_key,
                suffix,
                &value,
            ));
            if !RECENTLY_SET.first(tag) {
                return;
            }
            let texts = RecordTexts::of(record);
            let key = match texts {
                Some(texts) => span_tag_key::tag_name(texts.flag_key, !suffix.is_empty(), || {
                    tag_key(texts.flag_key, suffix)
                }),
                None => tag_key(record.flag_key, suffix),
            };
            let known_value = match (error, texts) {
                (Some(error), _) => Some(StringValue::from(error.as_str())),
                (None, Some(texts)) => span_tag_key::served_text(record, &texts),
                (None, None) => None,
            };
            let value = known_value.unwrap_or_else(|| match shared_text(&value) {
                SharedText::Interned(value) => StringValue::from(value),
                SharedText::Counted(value) => StringValue::from(value),
            });
            span.set_attribute(KeyValue::new(key, value));
        });
    }
}
