//! A bounded, lock-free memory of what was already done, for work worth doing once: a tag per
//! value per span, an experiment span per flag per trace.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many items each memory holds (8 bytes each, allocated once); past it, a new item evicts
/// an old one of its set, which may then be done a second time, never lost.
pub const MAX_REMEMBERED: usize = 16_384;
const WAYS: usize = 4;

/// Remembers 64-bit hashes of items in sets of four atomic slots (4-way set-associative),
/// shared by all threads: a task that moves between threads does not redo its work, and no
/// evaluation takes a lock.
///
/// A new item takes an empty way of its set when there is one, so while the memory has room
/// nothing is forgotten. Only a full set evicts, round-robin per thread: each thread counts its
/// own evictions, so a full memory (every new span's first tag, in a busy service) does not
/// make every thread bump one shared counter, a cache line that would bounce between cores on
/// every evaluation. Two threads racing on the same new item usually find each other through
/// the empty way they both try to take; when they do not, the work is done twice, never
/// skipped.
pub(crate) struct SeenOnce {
    slots: [AtomicU64; MAX_REMEMBERED],
}

thread_local! {
    /// This thread's evictions, for its round-robin choice of the way to evict.
    static EVICTIONS: Cell<usize> = const { Cell::new(0) };
}

/// The way the calling thread evicts next in a full set.
fn next_way() -> usize {
    EVICTIONS
        .try_with(|evictions| {
            let way = evictions.get().wrapping_add(1);
            evictions.set(way);
            way % WAYS
        })
        .unwrap_or(0)
}

impl SeenOnce {
    /// An empty memory (128 KiB).
    pub(crate) const fn new() -> Self {
        Self {
            slots: [const { AtomicU64::new(0) }; MAX_REMEMBERED],
        }
    }

    /// The ways of the set `item` belongs to.
    fn ways_of(&self, item: u64) -> &[AtomicU64] {
        let set = (item >> 32) as usize % (MAX_REMEMBERED / WAYS) * WAYS;
        &self.slots[set..set + WAYS]
    }

    /// `true` the first time `item` (a well-mixed hash) is seen, within memory; remembers it.
    pub(crate) fn first(&self, item: u64) -> bool {
        let item = item | 1; // 0 marks an empty slot
        let slots = self.ways_of(item);
        let mut empty = None;
        for slot in slots {
            match slot.load(Ordering::Relaxed) {
                held if held == item => return false,
                0 if empty.is_none() => empty = Some(slot),
                _ => {}
            }
        }
        if let Some(slot) = empty {
            match slot.compare_exchange(0, item, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(held) if held == item => return false,
                Err(_) => {}
            }
        }
        slots[next_way()].store(item, Ordering::Relaxed);
        true
    }
}

impl std::fmt::Debug for SeenOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeenOnce")
            .field("slots", &MAX_REMEMBERED)
            .field("ways", &WAYS)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An item of set `set` (below `MAX_REMEMBERED / WAYS`), as `first` places it.
    fn item_in_set(set: u64, low: u64) -> u64 {
        (set << 32) | (low << 1) | 1
    }

    /// Whether `item` is remembered, without inserting it.
    fn remembered(seen: &SeenOnce, item: u64) -> bool {
        seen.ways_of(item)
            .iter()
            .any(|slot| slot.load(Ordering::Relaxed) == item)
    }

    #[test]
    fn the_size_the_docs_state() {
        // SpanTagsSink and ExperimentSpanVolume state it in prose: 16 384 items, 128 KiB.
        assert_eq!(MAX_REMEMBERED, 16_384);
        assert_eq!(size_of::<SeenOnce>(), 128 * 1024);
    }

    #[test]
    fn once_then_bounded() {
        let seen = Box::new(SeenOnce::new());
        assert!(seen.first(1));
        assert!(!seen.first(1));
        for i in 2..100_000_u64 {
            seen.first(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
        assert_eq!(seen.slots.len(), MAX_REMEMBERED);
    }

    #[test]
    fn an_item_is_not_evicted_while_its_set_has_room() {
        // Items of one set, with another set's insertion between each: round-robin placement
        // alone put the fourth item in the first one's way, which was then done again.
        let seen = Box::new(SeenOnce::new());
        let first = item_in_set(4_001, 1);
        assert!(seen.first(first));
        for step in 1..WAYS as u64 {
            assert!(seen.first(item_in_set(3_000 + step, 1)));
            assert!(seen.first(item_in_set(4_001, 1 + step)));
            assert!(
                remembered(&seen, first),
                "forgotten after {step} more items in its set"
            );
        }
        assert!(!seen.first(first));
    }

    #[test]
    fn a_full_set_evicts_one_item_per_new_item() {
        let seen = Box::new(SeenOnce::new());
        let items: Vec<u64> = (1..=WAYS as u64)
            .map(|low| item_in_set(4_050, low))
            .collect();
        for &item in &items {
            assert!(seen.first(item));
        }
        assert!(items.iter().all(|&item| !seen.first(item)));
        assert!(seen.first(item_in_set(4_050, 99)));
        assert!(remembered(&seen, item_in_set(4_050, 99)));
        assert_eq!(
            items
                .iter()
                .filter(|&&item| remembered(&seen, item))
                .count(),
            WAYS - 1
        );
    }

    #[test]
    fn racing_threads_on_one_new_item() {
        let seen = SeenOnce::new();
        let firsts = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    if seen.first(item_in_set(77, 5)) {
                        firsts.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        // Racing threads meet on the set's first empty way: one of them takes it.
        assert_eq!(firsts.load(Ordering::Relaxed), 1);
    }
}
