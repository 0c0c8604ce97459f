//! A span tag's name and value without building or interning them on every evaluation.
//!
//! Tagging a span took, per evaluation: the flag key checked and copied into a tag name
//! (`tag_name_part`, ~10 ns), the name interned (a lookup, ~16 ns) and the value interned
//! (~16 ns); `perf` on `full_stack`'s every-backend case, where each request span gets its tag.
//! When the record's texts are interned ([`RecordTexts`]: one lookup, cached per thread), an
//! interned flag key is the same pointer for the same text for the life of the process, so
//! each thread keeps the tag names it built by that pointer, and the value is the interned
//! variant itself (at most 128 bytes: never cut) or a boolean's constant text.

use std::cell::RefCell;

use open_feature::Value;
use openfeature_hooks_core::__private::{RecordTexts, fibonacci_index};
use openfeature_hooks_core::EvaluationRecord;
use opentelemetry::{Key, StringValue};

/// Tag names kept per thread, by interned flag key.
const SLOTS: usize = 64;

/// One thread's tag names, in the thread's own storage: a heap block's first and last cache
/// lines are shared with its neighbours, which other threads may write (a block freed by
/// another thread is reused from that thread's cache), and `perf` caught a slot there costing
/// ~27 ns a read on the every-backend evaluation (BENCHMARKS.md, "2026-11-29, 11:30").
type Names = [Option<(usize, bool, Key)>; SLOTS];

thread_local! {
    static NAMES: RefCell<Names> = const { RefCell::new([const { None }; SLOTS]) };
}

/// The slot of an interned flag key at `address`. Interned texts start on cache lines of their
/// own, so the address's low six bits are always zero.
fn slot_of(address: usize) -> usize {
    const { assert!(SLOTS.is_power_of_two()) };
    fibonacci_index(address as u64 >> 6, SLOTS)
}

/// The tag name for `flag_key`, an interned text, with the `.error` suffix when `error`: from
/// this thread's memory, or made with `make` and remembered.
pub(crate) fn tag_name(flag_key: &'static str, error: bool, make: impl FnOnce() -> Key) -> Key {
    let address = flag_key.as_ptr() as usize;
    let slot = slot_of(address);
    let known = NAMES
        .try_with(|names| match names.try_borrow().ok()?.get(slot)? {
            Some((known, known_error, name)) if *known == address && *known_error == error => {
                Some(name.clone())
            }
            _ => None,
        })
        .ok()
        .flatten();
    if let Some(name) = known {
        return name;
    }
    let name = make();
    let _ = NAMES.try_with(|names| {
        if let Ok(mut names) = names.try_borrow_mut() {
            names[slot] = Some((address, error, name.clone()));
        }
    });
    name
}

/// The tag value of a served flag, when it needs no lookup: the interned variant, or a
/// boolean's text.
pub(crate) fn served_text(
    record: &EvaluationRecord<'_>,
    texts: &RecordTexts,
) -> Option<StringValue> {
    match (texts.variant, record.value) {
        (Some(variant), _) => Some(StringValue::from(variant)),
        (None, Some(Value::Bool(true))) => Some(StringValue::from("true")),
        (None, Some(Value::Bool(false))) => Some(StringValue::from("false")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use openfeature_hooks_core::__private::{SharedText, shared_text};

    use super::*;
    use crate::span_tags::tag_key;

    fn interned(text: &str) -> &'static str {
        match shared_text(text) {
            SharedText::Interned(text) => text,
            SharedText::Counted(_) => panic!("{text} is short enough to intern"),
        }
    }

    #[test]
    fn each_flag_and_suffix_keeps_its_own_name() {
        let keys = ["checkout", "dark-mode", "weird key!/ü", "checkout"];
        for round in 0..3 {
            for key in keys {
                let key = interned(key);
                for (error, suffix) in [(false, ""), (true, ".error")] {
                    let name = tag_name(key, error, || tag_key(key, suffix));
                    assert_eq!(name, tag_key(key, suffix), "round {round}, {key}{suffix}");
                }
            }
        }
    }
}
