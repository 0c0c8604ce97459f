//! Texts that repeat on every evaluation (flag keys, variants, provider names, tag names),
//! shared instead of copied.

use std::cell::RefCell;
use std::fmt;
use std::hash::BuildHasher;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use crate::FastBuildHasher;

/// Longer texts are copied: caching huge keys would pin memory for nothing.
pub const MAX_SHARED_TEXT_LEN: usize = 128;
/// How many distinct texts the process interns, at most (so at most
/// `MAX_INTERNED_TEXTS * MAX_SHARED_TEXT_LEN` = 512 KiB of text, kept until the process exits).
pub const MAX_INTERNED_TEXTS: usize = 4096;
/// How many neighbouring slots of the interned table a text may take.
const PROBES: usize = 8;
/// Slots of each thread's cache of reference-counted texts, used once the interned table is full.
const THREAD_SLOTS: usize = 256;

/// The interned texts: written once per slot, then only read, without a lock.
static INTERNED: [OnceLock<&'static str>; MAX_INTERNED_TEXTS] =
    [const { OnceLock::new() }; MAX_INTERNED_TEXTS];

/// An interned text's storage: whole cache lines that hold nothing else.
///
/// Interned texts are read on every evaluation (the per-thread caches compare them with the
/// record's texts). Allocated as they are, a short text shares its cache line with whatever
/// the allocator puts beside it: when a background thread interned it (the log-event thread
/// does), with that thread's own allocations, which it writes all the time. Every read on the
/// evaluating thread was then a miss to the other core: `perf` on the every-backend evaluation
/// put ~27 ns on one load of the provider's interned name (BENCHMARKS.md, "2026-11-29,
/// 11:30").
#[repr(C, align(64))]
struct OwnLines<const N: usize>([u8; N]);

/// A copy of `text` (at most [`MAX_SHARED_TEXT_LEN`] bytes) in cache lines of its own, kept
/// for the life of the process like every interned text.
fn text_on_own_lines(text: &str) -> &'static str {
    fn copy<const N: usize>(text: &str) -> &'static [u8] {
        let lines: &'static mut OwnLines<N> = Box::leak(Box::new(OwnLines([0; N])));
        let kept = &mut lines.0[..text.len()];
        kept.copy_from_slice(text.as_bytes());
        kept
    }
    const { assert!(MAX_SHARED_TEXT_LEN <= 128) };
    let bytes = if text.len() <= 64 {
        copy::<64>(text)
    } else {
        copy::<128>(text)
    };
    // The bytes of a `str`: always valid.
    std::str::from_utf8(bytes).unwrap_or_default()
}

thread_local! {
    /// A direct-mapped cache per thread for texts the interned table has no room for: no lock,
    /// at most 256 entries of at most 128 bytes.
    static COUNTED: RefCell<Vec<Option<Arc<str>>>> = RefCell::new(vec![None; THREAD_SLOTS]);
}

/// A text shared instead of copied (see [`shared_text`]). Dereferences to `str`; backends turn
/// it into their own string types without copying (`opentelemetry::StringValue` and `Key` take
/// both a `&'static str` and an `Arc<str>`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SharedText {
    /// One of the process's interned texts: copying or dropping it touches no counter.
    Interned(&'static str),
    /// A reference-counted text: long texts, and texts met once the interned table is full.
    Counted(Arc<str>),
}

impl Deref for SharedText {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            SharedText::Interned(text) => text,
            SharedText::Counted(text) => text,
        }
    }
}

impl AsRef<str> for SharedText {
    fn as_ref(&self) -> &str {
        self
    }
}

impl fmt::Debug for SharedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for SharedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// `text`, shared: for texts that repeat on every evaluation (flag keys, variants, provider
/// names), where copying each time would cost an allocation and sharing through a reference
/// count would cost two atomic operations per use.
///
/// - Texts of at most [`MAX_SHARED_TEXT_LEN`] bytes are interned: the first
///   [`MAX_INTERNED_TEXTS`] distinct ones the process meets are kept for its lifetime (512 KiB at
///   most) in a table read without a lock, and returned as [`SharedText::Interned`].
/// - Once that table is full (an application with thousands of flags, or a provider returning
///   per-user variants), texts come from a small per-thread cache of reference-counted copies.
/// - Longer texts are copied.
///
/// Memory stays bounded either way; a full table costs speed, never growth.
///
/// ```
/// use openfeature_hooks_core::__private::{SharedText, shared_text};
///
/// let a = shared_text("new-checkout");
/// let b = shared_text("new-checkout");
/// assert_eq!(&*a, "new-checkout");
/// if let (SharedText::Interned(a), SharedText::Interned(b)) = (a, b) {
///     assert!(std::ptr::eq(a, b));
/// }
/// ```
pub fn shared_text(text: &str) -> SharedText {
    if text.len() > MAX_SHARED_TEXT_LEN {
        return SharedText::Counted(Arc::from(text));
    }
    let hash = FastBuildHasher::default().hash_one(text);
    match interned_with_hash(text, hash) {
        Some(known) => SharedText::Interned(known),
        None => SharedText::Counted(counted(text, hash)),
    }
}

/// The interned copy of `text` (interning it if there is room), or `None` without making a
/// reference-counted copy: for callers that only use interned texts.
pub(crate) fn interned_text(text: &str) -> Option<&'static str> {
    if text.len() > MAX_SHARED_TEXT_LEN {
        return None;
    }
    interned_with_hash(text, FastBuildHasher::default().hash_one(text))
}

/// The interned copy of `text`, interning it if a slot near its hash is free.
fn interned_with_hash(text: &str, hash: u64) -> Option<&'static str> {
    let start = hash as usize % MAX_INTERNED_TEXTS;
    for probe in 0..PROBES {
        let slot = &INTERNED[(start + probe) % MAX_INTERNED_TEXTS];
        // Another thread may win the race for an empty slot with another text: then probe on.
        let known = *slot.get_or_init(|| text_on_own_lines(text));
        if known == text {
            return Some(known);
        }
    }
    None
}

/// The reference-counted copy this thread made for the same text recently, or a new one.
fn counted(text: &str, hash: u64) -> Arc<str> {
    let slot = (hash >> 32) as usize % THREAD_SLOTS;
    COUNTED
        .try_with(|cache| {
            let Ok(mut cache) = cache.try_borrow_mut() else {
                return Arc::from(text);
            };
            match &cache[slot] {
                Some(known) if **known == *text => known.clone(),
                _ => {
                    let fresh: Arc<str> = Arc::from(text);
                    cache[slot] = Some(fresh.clone());
                    fresh
                }
            }
        })
        .unwrap_or_else(|_| Arc::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_is_interned_once_and_long_texts_are_copied() {
        let (SharedText::Interned(a), SharedText::Interned(b)) =
            (shared_text("checkout"), shared_text("checkout"))
        else {
            panic!("short texts are interned while the table has room");
        };
        assert!(std::ptr::eq(a, b));
        let long = "k".repeat(1000);
        let SharedText::Counted(copy) = shared_text(&long) else {
            panic!("long texts are not interned");
        };
        assert_eq!(&*copy, long.as_str());
    }

    #[test]
    fn a_full_table_falls_back_to_counted_texts_and_stays_correct() {
        // More distinct texts than the table holds: every answer is still the right text, and
        // the table never holds more than its slots.
        let mut counted = 0;
        for i in 0..(3 * MAX_INTERNED_TEXTS) {
            let text = format!("flag-{i}");
            let shared = shared_text(&text);
            assert_eq!(&*shared, text.as_str());
            counted += usize::from(matches!(shared, SharedText::Counted(_)));
        }
        assert!(
            counted >= MAX_INTERNED_TEXTS,
            "{counted} texts were not interned"
        );
        assert!(INTERNED.iter().filter(|slot| slot.get().is_some()).count() <= MAX_INTERNED_TEXTS);
        // Texts interned earlier are still found.
        assert!(matches!(
            shared_text("checkout"),
            SharedText::Interned("checkout")
        ));
    }

    #[test]
    fn interned_texts_start_on_a_cache_line_of_their_own() {
        for text in [
            "",
            "on",
            "bench",
            &"v".repeat(64),
            &"w".repeat(65),
            &"ü".repeat(64),
        ] {
            let kept = text_on_own_lines(text);
            assert_eq!(kept, text);
            assert_eq!(kept.as_ptr() as usize % 64, 0, "{text}");
        }
    }
}
