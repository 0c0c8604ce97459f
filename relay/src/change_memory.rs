//! What the relay remembers, bounded: deliveries already relayed (sources retry, and Flipt has
//! no event id), the last state seen per object (Flipt sends new states only), and the flag of
//! each Flipt rule (its distributions name only the rule).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::SystemTime;

use serde_json::{Map, Value};

/// The default number of deliveries, states and rules remembered (each).
pub const DEFAULT_MEMORY_CAPACITY: usize = 10_000;

/// A map of at most `capacity` entries; past it the oldest inserted is forgotten.
#[derive(Debug)]
pub(crate) struct Bounded<K, V> {
    entries: HashMap<K, V>,
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V> Bounded<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    pub(crate) fn insert(&mut self, key: K, value: V) {
        if self.entries.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
            while self.order.len() > self.capacity {
                if let Some(oldest) = self.order.pop_front() {
                    self.entries.remove(&oldest);
                }
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The last state seen of one object.
#[derive(Debug)]
pub(crate) struct Remembered {
    /// When that state was made (the source's time).
    pub(crate) time: Option<SystemTime>,
    /// The state; `None` after a deletion.
    pub(crate) state: Option<Map<String, Value>>,
}

/// Everything the relay remembers.
#[derive(Debug)]
pub(crate) struct ChangeMemory {
    pub(crate) deliveries: Bounded<String, ()>,
    pub(crate) states: Bounded<String, Remembered>,
    pub(crate) rules: Bounded<String, String>,
}

impl ChangeMemory {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            deliveries: Bounded::new(capacity),
            states: Bounded::new(capacity),
            rules: Bounded::new(capacity),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_entry_is_forgotten_past_the_capacity() {
        let mut map = Bounded::new(2);
        map.insert(1, "a");
        map.insert(2, "b");
        map.insert(1, "a again");
        map.insert(3, "c");
        assert_eq!(map.len(), 2);
        assert_eq!(map.get(&1), None);
        assert_eq!(map.get(&2), Some(&"b"));
        assert_eq!(map.get(&3), Some(&"c"));
    }
}
