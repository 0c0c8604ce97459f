//! `feature_flags.<key>` tags on the active span.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use openfeature_hooks_core::{
    EvaluationRecord, EvaluationSink, FastBuildHasher, SharedText, shared_text,
};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, Key, KeyValue, StringValue};

use crate::flag_tag::served;
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
/// Names and values follow Datadog's tag limits ([`tag_name_part`],
/// [`tag_value`](crate::tag_value)).
///
/// A tag just set on the span with the same value is not set again: OpenTelemetry's SDK appends
/// every `set_attribute`, so a flag evaluated in a loop would otherwise fill the span's attribute
/// limit (128) with copies, and the SDK would drop the application's own attributes after it.
/// The last tags set are remembered in a fixed lock-free table of [`RECENT_TAGS`] slots, so a
/// repeat costs a hash and four loads, and memory never grows.
#[derive(Clone, Copy, Debug, Default)]
pub struct SpanTagsSink;

impl SpanTagsSink {
    /// A span tag sink.
    pub fn new() -> Self {
        Self
    }
}

/// Slots of the memory of tags set (4-way set-associative, shared by all threads, 8 bytes each).
pub const RECENT_TAGS: usize = 16_384;
const WAYS: usize = 4;

/// The tags set recently, by hash: sets of four atomic slots, refilled round-robin, so tags that
/// land in the same set (a flag and the one evaluated next to it in a loop) do not evict each
/// other. Shared by all threads: a task that moves between threads does not set a tag again.
static RECENTLY_SET: [AtomicU64; RECENT_TAGS] = [const { AtomicU64::new(0) }; RECENT_TAGS];
static NEXT_WAY: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The tag name, built here to avoid an allocation per evaluation.
    static TAG_NAME: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The ways of the set `tag` belongs to.
fn ways_of(tag: u64) -> &'static [AtomicU64] {
    let set = (tag >> 32) as usize % (RECENT_TAGS / WAYS) * WAYS;
    &RECENTLY_SET[set..set + WAYS]
}

/// Whether `tag` (a hash of span, key and value) was set recently; if not, remembers it.
///
/// A new tag takes an empty way of its set when there is one, so while the table has room no
/// tag is forgotten before its span ends. Only a full set evicts (round-robin); the evicted tag,
/// if its span is still open, is set once more on its next evaluation. Two threads racing on
/// the same new tag usually find each other through the empty way they both try to take.
fn already_set(tag: u64) -> bool {
    let tag = tag | 1; // 0 marks an empty slot
    let slots = ways_of(tag);
    let mut empty = None;
    for slot in slots {
        match slot.load(Ordering::Relaxed) {
            held if held == tag => return true,
            0 if empty.is_none() => empty = Some(slot),
            _ => {}
        }
    }
    if let Some(slot) = empty {
        match slot.compare_exchange(0, tag, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return false,
            Err(held) if held == tag => return true,
            Err(_) => {}
        }
    }
    let way = NEXT_WAY.fetch_add(1, Ordering::Relaxed) % WAYS;
    slots[way].store(tag, Ordering::Relaxed);
    false
}

impl EvaluationSink for SpanTagsSink {
    fn record(&self, record: &EvaluationRecord<'_>) {
        Context::map_current(|context| {
            let span = context.span();
            if !span.is_recording() {
                return;
            }
            let (suffix, value) = match (served(record), record.error_type()) {
                (Some(value), _) => ("", value),
                (None, Some(error)) => (".error", error.as_str().to_owned()),
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
            if already_set(tag) {
                return;
            }
            let name = tag_name_part(record.flag_key);
            let key = TAG_NAME.with(|buffer| {
                let mut buffer = buffer.borrow_mut();
                buffer.clear();
                buffer.push_str(SPAN_TAG_PREFIX);
                buffer.push_str(&name);
                buffer.push_str(suffix);
                shared_text(&buffer)
            });
            let key = match key {
                SharedText::Interned(key) => Key::from_static_str(key),
                SharedText::Counted(key) => Key::from(key),
            };
            let value = match shared_text(&value) {
                SharedText::Interned(value) => StringValue::from(value),
                SharedText::Counted(value) => StringValue::from(value),
            };
            span.set_attribute(KeyValue::new(key, value));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tag of set `set` (below `RECENT_TAGS / WAYS`), as `already_set` places it.
    fn tag_in_set(set: u64, low: u64) -> u64 {
        (set << 32) | (low << 1) | 1
    }

    /// Whether `tag` is in the table, without inserting it.
    fn remembered(tag: u64) -> bool {
        ways_of(tag)
            .iter()
            .any(|slot| slot.load(Ordering::Relaxed) == tag)
    }

    #[test]
    fn a_tag_is_not_evicted_while_its_set_has_room() {
        // Tags of one set, with another set's insertion between each: round-robin placement
        // alone put the fourth tag in the first one's way, which was then set again.
        let first = tag_in_set(4_001, 1);
        assert!(!already_set(first));
        for step in 1..WAYS as u64 {
            assert!(!already_set(tag_in_set(3_000 + step, 1)));
            assert!(!already_set(tag_in_set(4_001, 1 + step)));
            assert!(
                remembered(first),
                "forgotten after {step} more tags in its set"
            );
        }
        assert!(already_set(first));
    }

    #[test]
    fn a_full_set_evicts_one_tag_per_new_tag() {
        let tags: Vec<u64> = (1..=WAYS as u64)
            .map(|low| tag_in_set(4_050, low))
            .collect();
        for &tag in &tags {
            assert!(!already_set(tag));
        }
        assert!(tags.iter().all(|&tag| already_set(tag)));
        assert!(!already_set(tag_in_set(4_050, 99)));
        assert!(remembered(tag_in_set(4_050, 99)));
        assert_eq!(
            tags.iter().filter(|&&tag| remembered(tag)).count(),
            WAYS - 1
        );
    }
}
