//! Texts that repeat on every evaluation (flag keys, variants, provider names, tag names),
//! shared instead of copied.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::Arc;

use crate::FastBuildHasher;

const SLOTS: usize = 256;
/// Longer texts are copied: caching huge keys would pin memory for nothing.
pub const MAX_SHARED_TEXT_LEN: usize = 128;

thread_local! {
    /// A direct-mapped cache per thread: no lock, at most 256 entries of at most 128 bytes.
    static SHARED: RefCell<Vec<Option<Arc<str>>>> = RefCell::new(vec![None; SLOTS]);
}

/// `text` as an `Arc<str>`: the one this thread made for the same text recently (a reference
/// count instead of an allocation), or a new one. For low-cardinality texts: a per-user id would
/// only evict useful entries. Backends turn it into their own string types
/// (`opentelemetry::StringValue` and `Key` take an `Arc<str>` without copying).
///
/// ```
/// use openfeature_hooks_core::shared_text;
///
/// let a = shared_text("new-checkout");
/// let b = shared_text("new-checkout");
/// assert!(std::sync::Arc::ptr_eq(&a, &b));
/// ```
pub fn shared_text(text: &str) -> Arc<str> {
    if text.len() > MAX_SHARED_TEXT_LEN {
        return Arc::from(text);
    }
    let slot = (FastBuildHasher::default().hash_one(text) >> 32) as usize % SLOTS;
    SHARED
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
    fn same_text_is_shared_and_long_texts_are_copied() {
        assert!(Arc::ptr_eq(
            &shared_text("checkout"),
            &shared_text("checkout")
        ));
        let long = "k".repeat(1000);
        assert_eq!(&*shared_text(&long), long.as_str());
        assert!(!Arc::ptr_eq(&shared_text(&long), &shared_text(&long)));
    }

    #[test]
    fn colliding_texts_replace_each_other_correctly() {
        for i in 0..10_000 {
            let text = format!("flag-{i}");
            assert_eq!(&*shared_text(&text), text.as_str());
        }
    }
}
