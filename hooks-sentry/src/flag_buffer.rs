//! The most recent unique flag evaluations, with the rules of Sentry's Python and JavaScript SDKs.

use std::collections::HashMap;
use std::sync::Arc;

use openfeature_hooks_core::__private::FastBuildHasher;
use sentry::protocol::Value;

/// How many evaluations a buffer keeps by default (`DEFAULT_FLAG_CAPACITY` in sentry-python).
pub const DEFAULT_CAPACITY: usize = 100;

const NIL: usize = usize::MAX;

/// One flag, linked oldest to newest.
#[derive(Clone, Debug)]
struct Slot {
    key: Arc<str>,
    value: Value,
    older: usize,
    newer: usize,
}

/// The `capacity` most recent unique flag evaluations, oldest first:
///
/// - setting a flag that is present moves it to the end with its new value;
/// - setting a new flag when full drops the oldest;
/// - reading never reorders.
///
/// ```
/// use openfeature_hooks_sentry::__private::FlagBuffer;
///
/// let mut buffer = FlagBuffer::new(3);
/// for flag in ["a", "b", "c", "d"] {
///     buffer.set(flag, true.into());
/// }
/// let names: Vec<_> = buffer.iter().map(|(name, _)| name).collect();
/// assert_eq!(names, ["b", "c", "d"]);
/// ```
///
/// Every operation is O(1): a hash index finds the flag, and the order is a doubly-linked list
/// in a slab (no allocation once the buffer has filled, except for new flag names).
#[derive(Clone, Debug)]
pub struct FlagBuffer {
    capacity: usize,
    index: HashMap<Arc<str>, usize, FastBuildHasher>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    oldest: usize,
    newest: usize,
}

impl Default for FlagBuffer {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl FlagBuffer {
    /// An empty buffer keeping at most `capacity` flags.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            // Grown as flags arrive: a hub per request usually holds a few, and reserving
            // room for 100 cost each request's first flag an allocation of ~3 KiB to fill and
            // free.
            index: HashMap::with_hasher(FastBuildHasher::default()),
            slots: Vec::new(),
            free: Vec::new(),
            oldest: NIL,
            newest: NIL,
        }
    }

    /// The most flags kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many flags are kept.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no flag is kept.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Records `flag` = `value` as the most recent evaluation.
    pub fn set(&mut self, flag: &str, value: Value) {
        if self.capacity == 0 {
            return;
        }
        if let Some(&slot) = self.index.get(flag) {
            self.slots[slot].value = value;
            self.unlink(slot);
            self.link_newest(slot);
            return;
        }
        if self.index.len() >= self.capacity {
            let oldest = self.oldest;
            self.forget(oldest);
        }
        let key: Arc<str> = Arc::from(flag);
        let fresh = Slot {
            key: key.clone(),
            value,
            older: NIL,
            newer: NIL,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = fresh;
                slot
            }
            None => {
                self.slots.push(fresh);
                self.slots.len() - 1
            }
        };
        self.index.insert(key, slot);
        self.link_newest(slot);
    }

    /// Forgets `flag`.
    pub fn remove(&mut self, flag: &str) {
        if let Some(&slot) = self.index.get(flag) {
            self.forget(slot);
        }
    }

    /// The value of `flag`, without reordering.
    pub fn get(&self, flag: &str) -> Option<&Value> {
        self.index.get(flag).map(|&slot| &self.slots[slot].value)
    }

    /// The flags, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        let mut next = self.oldest;
        std::iter::from_fn(move || {
            let slot = self.slots.get(next)?;
            next = slot.newer;
            Some((&*slot.key, &slot.value))
        })
    }

    fn forget(&mut self, slot: usize) {
        self.unlink(slot);
        self.index.remove(&self.slots[slot].key);
        self.slots[slot].value = Value::Null;
        self.free.push(slot);
    }

    fn unlink(&mut self, slot: usize) {
        let Slot { older, newer, .. } = self.slots[slot];
        match older {
            NIL => self.oldest = newer,
            older => self.slots[older].newer = newer,
        }
        match newer {
            NIL => self.newest = older,
            newer => self.slots[newer].older = older,
        }
    }

    fn link_newest(&mut self, slot: usize) {
        self.slots[slot].older = self.newest;
        self.slots[slot].newer = NIL;
        match self.newest {
            NIL => self.oldest = slot,
            newest => self.slots[newest].newer = slot,
        }
        self.newest = slot;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(buffer: &FlagBuffer) -> Vec<&str> {
        buffer.iter().map(|(name, _)| name).collect()
    }

    #[test]
    fn the_python_and_javascript_vector() {
        let mut buffer = FlagBuffer::new(3);
        for flag in ["a", "b", "c", "d"] {
            buffer.set(flag, Value::Bool(true));
        }
        assert_eq!(names(&buffer), ["b", "c", "d"]);
        buffer.set("e", Value::Bool(true));
        buffer.set("f", Value::Bool(true));
        assert_eq!(names(&buffer), ["d", "e", "f"]);
        buffer.set("e", Value::Bool(false));
        assert_eq!(names(&buffer), ["d", "f", "e"]);
        assert_eq!(buffer.get("e"), Some(&Value::Bool(false)));
        assert_eq!(names(&buffer), ["d", "f", "e"], "reads never reorder");
    }

    #[test]
    fn remove_and_refill() {
        let mut buffer = FlagBuffer::new(2);
        buffer.set("a", Value::Bool(true));
        buffer.set("b", Value::Bool(true));
        buffer.remove("a");
        buffer.set("c", Value::Bool(true));
        assert_eq!(names(&buffer), ["b", "c"]);
        assert_eq!(buffer.len(), 2);
    }

    #[test]
    fn many_updates_keep_the_order_bounded() {
        let mut buffer = FlagBuffer::new(100);
        for i in 0..100_000_u32 {
            buffer.set(
                &format!("flag-{}", i % 150),
                Value::Bool(i.is_multiple_of(2)),
            );
        }
        assert_eq!(buffer.len(), 100);
        assert!(buffer.slots.len() <= 100, "slots are reused");
        let names = names(&buffer);
        // The last 100 distinct keys set, oldest first.
        let expected: Vec<String> = (99_900..100_000)
            .map(|i| format!("flag-{}", i % 150))
            .collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn zero_capacity_keeps_nothing() {
        let mut buffer = FlagBuffer::new(0);
        buffer.set("a", Value::Bool(true));
        assert!(buffer.is_empty());
    }
}
