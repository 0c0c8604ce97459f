//! Attribute texts that repeat on every evaluation (flag keys, variants, provider names),
//! shared instead of copied.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::Arc;

use openfeature_hooks_core::FastBuildHasher;
use opentelemetry::StringValue;

const SLOTS: usize = 256;
/// Longer texts are copied: a cache of huge keys would pin memory for nothing.
const MAX_SHARED_LEN: usize = 128;

thread_local! {
    /// A direct-mapped cache per thread: no lock, at most 256 entries of at most 128 bytes.
    static SHARED: RefCell<Vec<Option<Arc<str>>>> = RefCell::new(vec![None; SLOTS]);
}

/// `text` as an attribute value: a shared `Arc<str>` when this thread saw the same text
/// recently (a reference count instead of an allocation), a copy otherwise. Use it for
/// low-cardinality texts only; a per-user id would only evict useful entries.
pub(crate) fn shared(text: &str) -> StringValue {
    if text.len() > MAX_SHARED_LEN {
        return StringValue::from(text.to_owned());
    }
    let slot = (FastBuildHasher::default().hash_one(text) >> 32) as usize % SLOTS;
    SHARED
        .try_with(|cache| {
            let Ok(mut cache) = cache.try_borrow_mut() else {
                return StringValue::from(text.to_owned());
            };
            match &cache[slot] {
                Some(known) if **known == *text => StringValue::from(known.clone()),
                _ => {
                    let fresh: Arc<str> = Arc::from(text);
                    cache[slot] = Some(fresh.clone());
                    StringValue::from(fresh)
                }
            }
        })
        .unwrap_or_else(|_| StringValue::from(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_value_and_long_texts_are_copied() {
        assert_eq!(shared("checkout").as_str(), "checkout");
        assert_eq!(shared("checkout").as_str(), "checkout");
        assert_eq!(shared("other").as_str(), "other");
        let long = "k".repeat(1000);
        assert_eq!(shared(&long).as_str(), long);
    }

    #[test]
    fn colliding_texts_replace_each_other_correctly() {
        for i in 0..10_000 {
            let text = format!("flag-{i}");
            assert_eq!(shared(&text).as_str(), text);
        }
    }
}
