//! A fixed, lock-free table of evaluation starts: where `before` leaves an evaluation's start
//! and `after`/`error` takes it back.
//!
//! # Why a table of atomics, and what it bought
//!
//! The starts used to live in 16 sharded `Mutex<HashMap>`s: a lock, a hash-map insert and a
//! remove per evaluation, about 75 ns of the metrics sink's path in the every-backend profile
//! (`benches/full_stack.rs` under `perf`, 2026-11-28). Here a start is two 8-byte atomics in a
//! fixed array: `before` claims an empty slot with one compare-and-swap, `after` finds it by
//! its key and frees it. Nothing is allocated, no thread waits for another, and the memory is
//! fixed ([`START_SLOTS`] slots of 16 bytes) whatever the load. Measurement: BENCHMARKS.md,
//! "Late 2026-11-28".
//!
//! # Protocol
//!
//! A slot is `(key, start)`. `key` is 0 when the slot is free, and otherwise the nonzero hash of
//! the evaluation that holds it; `start` is the start's clock reading (`tick_clock`), never 0,
//! so 0 means "not written".
//!
//! - **push**: within the key's probe window, claim a free slot (`0 -> key`), then write the
//!   start. Only the evaluation that holds a key ever writes its start or takes it back, and
//!   `before` happens before `after` in that evaluation, so a start is always written before
//!   it is read.
//! - **take**: find the key in the window, read the start, clear it, free the slot (`key -> 0`).
//!   One compare-and-swap: the start is read and cleared with plain atomic loads and stores,
//!   since only its holder writes it.
//! - **full window**: a slot whose start the caller finds stale (older than its age limit)
//!   belongs to an evaluation that was cancelled between `before` and `after` (its future
//!   dropped), so it is reclaimed (`old key -> key`). If nothing is that old, the start is not
//!   tracked (counted by the caller). A reclaimed evaluation that was merely slow finds its key
//!   gone and has no start. If it takes its slot back at the very moment it is reclaimed, the
//!   take fails its compare-and-swap and returns nothing, and the reclaiming evaluation may
//!   lose its start too. A start is never handed to another evaluation.

use std::sync::atomic::{AtomicU64, Ordering};

/// Evaluations between `before` and `after` that the table holds at once, at most (16 bytes
/// each: 256 KiB).
pub const START_SLOTS: usize = 1 << 14;

/// Slots looked at for one key: two cache lines.
pub(crate) const PROBE: usize = 8;

#[derive(Default)]
struct Slot {
    key: AtomicU64,
    /// The start's clock reading; 0 when not written.
    start: AtomicU64,
}

/// What happened to a pushed start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Kept in a free slot.
    Kept,
    /// Kept in place of a start older than the age limit.
    Reclaimed,
    /// Not kept: every slot of its window holds a live start.
    Full,
}

pub(crate) struct StartTable {
    slots: Box<[Slot]>,
}

impl StartTable {
    pub(crate) fn new() -> Self {
        Self {
            slots: (0..START_SLOTS).map(|_| Slot::default()).collect(),
        }
    }

    /// A slot key for `hash`: never 0 (free).
    fn slot_key(hash: u64) -> u64 {
        hash | 1
    }

    fn window(&self, key: u64) -> impl Iterator<Item = &Slot> {
        let first = (key >> 32) as usize;
        (0..PROBE).map(move |i| &self.slots[(first + i) % START_SLOTS])
    }

    /// Keeps `start` (a clock reading; 0 is kept as 1) under `hash` (a well-mixed hash of the
    /// evaluation's identity). In a full window, a slot whose start `is_stale` is taken over.
    pub(crate) fn push(&self, hash: u64, start: u64, is_stale: impl Fn(u64) -> bool) -> Pushed {
        let key = Self::slot_key(hash);
        let written = start.max(1);
        for slot in self.window(key) {
            if slot.key.load(Ordering::Relaxed) == 0
                && slot
                    .key
                    .compare_exchange(0, key, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                slot.start.store(written, Ordering::Release);
                return Pushed::Kept;
            }
        }
        for slot in self.window(key) {
            let held = slot.key.load(Ordering::Acquire);
            if held == 0 {
                continue;
            }
            let kept = slot.start.load(Ordering::Acquire);
            if kept == 0 || !is_stale(kept) {
                continue;
            }
            if slot
                .key
                .compare_exchange(held, key, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                slot.start.store(written, Ordering::Release);
                return Pushed::Reclaimed;
            }
        }
        Pushed::Full
    }

    /// Takes the start kept under `hash`, if any.
    pub(crate) fn take(&self, hash: u64) -> Option<u64> {
        let key = Self::slot_key(hash);
        for slot in self.window(key) {
            if slot.key.load(Ordering::Acquire) != key {
                continue;
            }
            // Only this evaluation writes this start while it holds the key, so a plain load
            // and store do; zeroing it first keeps evictors away (they skip unwritten starts).
            let kept = slot.start.load(Ordering::Relaxed);
            slot.start.store(0, Ordering::Relaxed);
            if slot
                .key
                .compare_exchange(key, 0, Ordering::Release, Ordering::Relaxed)
                .is_err()
            {
                // An evictor reclaimed the slot before the start was zeroed: that start was
                // older than the age limit, and the slot is the evictor's now.
                return None;
            }
            return (kept != 0).then_some(kept);
        }
        None
    }

    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.key.load(Ordering::Relaxed) != 0)
            .count()
    }
}

impl std::fmt::Debug for StartTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartTable")
            .field("slots", &START_SLOTS)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts are plain numbers here: stale when more than 60 below 1 000.
    fn stale(kept: u64) -> bool {
        kept + 60 < 1_000
    }

    #[test]
    fn a_start_comes_back_once() {
        let table = StartTable::new();
        assert_eq!(table.push(7 << 32, 990, stale), Pushed::Kept);
        assert_eq!(table.take(7 << 32), Some(990));
        assert_eq!(table.take(7 << 32), None);
        assert_eq!(table.held(), 0);
    }

    #[test]
    fn another_key_never_gets_it() {
        let table = StartTable::new();
        table.push(1 << 40, 990, stale);
        assert_eq!(table.take(2 << 40), None);
        assert!(table.take(1 << 40).is_some());
    }

    #[test]
    fn a_full_window_refuses_live_starts_and_reclaims_stale_ones() {
        let table = StartTable::new();
        // Keys with the same high bits share a window.
        for i in 0..PROBE as u64 {
            assert_eq!(table.push((5 << 32) | (i << 4), 880, stale), Pushed::Kept);
        }
        assert_eq!(
            table.push((5 << 32) | 0xf00, 1_000, stale),
            Pushed::Reclaimed
        );
        assert_eq!(table.take((5 << 32) | 0xf00), Some(1_000));
        let live = StartTable::new();
        for i in 0..PROBE as u64 {
            assert_eq!(live.push((9 << 32) | (i << 4), 990, stale), Pushed::Kept);
        }
        assert_eq!(live.push((9 << 32) | 0xf00, 1_000, stale), Pushed::Full);
        assert_eq!(live.take((9 << 32) | 0xf00), None);
        assert_eq!(live.held(), PROBE);
    }

    #[test]
    fn a_start_of_zero_is_kept_as_one() {
        let table = StartTable::new();
        table.push(3 << 32, 0, stale);
        assert_eq!(table.take(3 << 32), Some(1));
    }

    #[test]
    fn racing_threads_each_get_their_own_start() {
        let table = StartTable::new();
        std::thread::scope(|scope| {
            for thread in 0..4u64 {
                let table = &table;
                scope.spawn(move || {
                    for i in 0..10_000u64 {
                        // Few windows, so threads contend for the same slots.
                        let hash = ((i % 3) << 32) | (thread << 20) | (i << 4);
                        let start = (thread << 32) | (i + 1);
                        if table.push(hash, start, |_| false) == Pushed::Kept {
                            assert_eq!(table.take(hash), Some(start));
                        }
                    }
                });
            }
        });
        assert_eq!(table.held(), 0);
    }
}
