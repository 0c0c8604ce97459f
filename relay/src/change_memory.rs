//! What the relay remembers, bounded: changes already relayed and the destinations that took
//! them (sources retry, and Flipt has no event id), the last state seen per object (Flipt sends
//! new states only), the flag of each Flipt rule (its distributions name only the rule), and
//! which instances announced a change (GO Feature Flag's instances each announce every change).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value};

use crate::relay::Pending;

/// Instances counted per announced change; more share the count of the first.
const MAX_INSTANCES: usize = 256;

/// The default of [`RelayConfig::memory_capacity`](crate::RelayConfig::memory_capacity): the
/// deliveries, object states, Flipt rules and GO Feature Flag announcements remembered (each).
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

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries.get_mut(key)
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

/// The destinations a change was queued for; while some are missing, what to queue for them
/// when the source delivers it again (so they get what the others got).
#[derive(Debug)]
pub(crate) struct Accepted {
    /// Bits of [`Destination`](crate::relay::Destination).
    pub(crate) destinations: u8,
    pub(crate) pending: Option<Box<Pending>>,
}

/// Who announced one change, within a window that starts with its first announcement.
#[derive(Debug)]
pub(crate) struct Announced {
    since: Instant,
    /// `since` as milliseconds since the epoch: part of the change's key.
    stamp: u128,
    /// Announcements per instance.
    by_instance: Vec<(String, u32)>,
}

/// Everything the relay remembers.
#[derive(Debug)]
pub(crate) struct ChangeMemory {
    pub(crate) deliveries: Bounded<String, Accepted>,
    pub(crate) states: Bounded<String, Remembered>,
    pub(crate) rules: Bounded<String, String>,
    pub(crate) announced: Bounded<String, Announced>,
}

impl ChangeMemory {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            deliveries: Bounded::new(capacity),
            states: Bounded::new(capacity),
            rules: Bounded::new(capacity),
            announced: Bounded::new(capacity),
        }
    }

    /// The key of the change `change` as `instance` announces it now: instances announce
    /// each change once each, so the `n`th announcement by one instance within `window` of the
    /// first is the `n`th occurrence of that change (a flag turned on, off and on again), and
    /// every instance's `n`th is the same one. After the window a change starts over.
    pub(crate) fn announcement(
        &mut self,
        change: &str,
        instance: &str,
        window: Duration,
        now: Instant,
    ) -> String {
        let key = change.to_owned();
        let previous = self.announced.get(&key);
        let expired = previous
            .is_none_or(|announced| now.saturating_duration_since(announced.since) > window);
        if expired {
            // Never the stamp of the window before, however close the clock.
            let stamp = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
                .max(previous.map_or(0, |announced| announced.stamp + 1));
            self.announced.insert(
                key.clone(),
                Announced {
                    since: now,
                    stamp,
                    by_instance: Vec::new(),
                },
            );
        }
        let Some(announced) = self.announced.get_mut(&key) else {
            return format!("{change}@0#1");
        };
        let count = match announced
            .by_instance
            .iter_mut()
            .find(|(name, _)| name == instance)
        {
            Some((_, count)) => {
                *count = count.saturating_add(1);
                *count
            }
            None => {
                if announced.by_instance.len() < MAX_INSTANCES {
                    announced.by_instance.push((instance.to_owned(), 1));
                }
                1
            }
        };
        format!("{change}@{}#{count}", announced.stamp)
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

    #[test]
    fn each_instance_announces_each_occurrence_once() {
        let mut memory = ChangeMemory::new(10);
        let window = Duration::from_secs(60);
        let start = Instant::now();
        let a1 = memory.announcement("t", "a", window, start);
        let b1 = memory.announcement("t", "b", window, start);
        assert_eq!(a1, b1, "two instances, one change");
        let a2 = memory.announcement("t", "a", window, start);
        assert_ne!(a1, a2, "the same instance again: the change happened again");
        assert_eq!(memory.announcement("t", "b", window, start), a2);
        let later = memory.announcement("t", "b", window, start + Duration::from_secs(61));
        assert!(later.ends_with("#1") && later != a1, "{later}");
    }
}
