//! The fixed-size, lock-free table behind [`ExposureDedup`](crate::ExposureDedup): which
//! exposure keys passed recently, and when.
//!
//! # Layout
//!
//! Buckets of [`WAYS`] slots, one 64-byte cache line each. A slot is one `AtomicU64`: the key's
//! fingerprint (39 bits of its hash, low bit set) above a 24-bit time stamp, `0` meaning empty.
//! A key's bucket comes from the low bits of its 64-bit hash ([`exposure_hash`], a
//! folded-multiply hash), its fingerprint from the high 40 bits. A new key is taken for a live
//! one only if its fingerprint equals one of the at most 8 in its bucket: a chance of 8 in 2^39,
//! one new key in about 70 billion. Memory is `capacity × 8` bytes, whatever the key space:
//! 512 KiB for the default 65 536 slots.
//!
//! [`exposure_hash`]: crate::exposure_key::exposure_hash
//!
//! # Time
//!
//! Stamps count ticks of `2^shift` nanoseconds, the largest power of two that still gives at
//! least 64 ticks per window, so reading a tick is a shift, and a window is between 64 and 127
//! ticks: a key passes again between one tick (under 1/64 of the window) before and after its
//! window ends. Ticks wrap after 2^24 of them (at least 131 072 windows: two and a half years
//! for ten minutes); an entry left untouched exactly that long looks fresh once more.
//!
//! # Exactly one pass per new key, without locks
//!
//! A slot only ever goes from empty to full, never back, and a key is only ever placed (a) in
//! the lowest empty slot of its bucket, or (b) when the bucket has no empty slot, in the slot
//! its fingerprint names, or (c) over its own expired entry. Every
//! placement is a compare-and-swap from the value the scan read. Two evaluations of one new key
//! therefore aim at the same slot: the lowest empty slot can only move up, and a full bucket
//! gives the same slot to both. One compare-and-swap wins and that evaluation passes; the other
//! fails, scans again, finds the key and is suppressed. A scan that keeps losing to other keys
//! gives up after [`ATTEMPTS`] rounds and lets the evaluation pass: an extra record, never a
//! hidden one.
//!
//! Replacing another key's entry before its window ended is an eviction: counted, and that key's
//! next evaluation passes again (an extra record).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Slots per bucket: one cache line of `AtomicU64`s.
pub(crate) const WAYS: usize = 8;
const STAMP_BITS: u32 = 24;
const STAMP_MASK: u64 = (1 << STAMP_BITS) - 1;
/// Rounds of scan and compare-and-swap before an evaluation passes anyway.
const ATTEMPTS: usize = 8;
/// The fewest ticks in a window.
const MIN_TICKS_PER_WINDOW: u64 = 64;

#[repr(align(64))]
struct Bucket([AtomicU64; WAYS]);

/// What the table decided for one evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// First in its window: record it.
    Pass {
        /// It replaced another key's entry whose window had not ended.
        evicted: bool,
    },
    /// Seen within the window: do not record it.
    Suppress,
}

pub(crate) struct ExposureTable {
    buckets: Box<[Bucket]>,
    bucket_mask: u64,
    tick_shift: u32,
    window_ticks: u64,
}

impl ExposureTable {
    /// A table of at least `capacity` slots (rounded up to a power of two, at least one
    /// bucket) for windows of `window` (at least 64 ns).
    pub(crate) fn new(capacity: usize, window: Duration) -> Self {
        let slots = capacity.max(WAYS).next_power_of_two();
        let buckets = slots / WAYS;
        let window_nanos = u64::try_from(window.as_nanos())
            .unwrap_or(u64::MAX)
            .max(MIN_TICKS_PER_WINDOW);
        let tick_shift = (window_nanos / MIN_TICKS_PER_WINDOW).ilog2();
        Self {
            buckets: (0..buckets)
                .map(|_| Bucket([const { AtomicU64::new(0) }; WAYS]))
                .collect(),
            bucket_mask: buckets as u64 - 1,
            tick_shift,
            window_ticks: window_nanos >> tick_shift,
        }
    }

    /// How many slots the table has.
    pub(crate) fn capacity(&self) -> usize {
        self.buckets.len() * WAYS
    }

    /// How many slots hold an entry (expired ones included): a scan, for stats and tests.
    pub(crate) fn occupied(&self) -> usize {
        self.buckets
            .iter()
            .flat_map(|bucket| &bucket.0)
            .filter(|slot| slot.load(Ordering::Relaxed) != 0)
            .count()
    }

    /// The tick of `elapsed`.
    #[inline]
    pub(crate) fn tick(&self, elapsed: Duration) -> u64 {
        let nanos = elapsed
            .as_secs()
            .wrapping_mul(1_000_000_000)
            .wrapping_add(u64::from(elapsed.subsec_nanos()));
        nanos >> self.tick_shift
    }

    /// Whether the key of `hash` passes at `tick`, recording it if so.
    #[inline]
    pub(crate) fn admit(&self, hash: u64, tick: u64) -> Admission {
        let bucket = &self.buckets[(hash & self.bucket_mask) as usize].0;
        // Never zero, so a full slot is never mistaken for an empty one.
        let fingerprint = (hash >> STAMP_BITS) | 1;
        let stamp = tick & STAMP_MASK;
        let entry = (fingerprint << STAMP_BITS) | stamp;
        for _ in 0..ATTEMPTS {
            let mut lowest_empty = None;
            let mut own = None;
            for (index, slot) in bucket.iter().enumerate() {
                let seen = slot.load(Ordering::Acquire);
                if seen == 0 {
                    // Slots fill in order: the rest are empty too.
                    lowest_empty = Some(index);
                    break;
                }
                if seen >> STAMP_BITS == fingerprint {
                    own = Some((index, seen));
                    break;
                }
            }
            let (index, expected, evicted) = match (own, lowest_empty) {
                (Some((index, seen)), _) => {
                    if self.fresh(seen, stamp) {
                        return Admission::Suppress;
                    }
                    (index, seen, false)
                }
                (None, Some(index)) => (index, 0, false),
                (None, None) => {
                    let index = ((fingerprint >> 1) % WAYS as u64) as usize;
                    let seen = bucket[index].load(Ordering::Acquire);
                    (index, seen, self.fresh(seen, stamp))
                }
            };
            if bucket[index]
                .compare_exchange(expected, entry, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Admission::Pass { evicted };
            }
        }
        Admission::Pass { evicted: false }
    }

    /// Whether an entry stamped in `seen` is still within its window at `stamp`.
    #[inline]
    fn fresh(&self, seen: u64, stamp: u64) -> bool {
        let age = stamp.wrapping_sub(seen & STAMP_MASK) & STAMP_MASK;
        age < self.window_ticks
    }
}

impl std::fmt::Debug for ExposureTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExposureTable")
            .field("capacity", &self.capacity())
            .field("ways", &WAYS)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn table() -> ExposureTable {
        ExposureTable::new(64, MINUTE)
    }

    #[test]
    fn a_key_passes_once_per_window() {
        let table = table();
        let start = table.tick(Duration::ZERO);
        assert_eq!(table.admit(7, start), Admission::Pass { evicted: false });
        assert_eq!(table.admit(7, start), Admission::Suppress);
        let almost = table.tick(MINUTE.mul_f64(0.98));
        assert_eq!(table.admit(7, almost), Admission::Suppress);
        let later = table.tick(MINUTE.mul_f64(1.02));
        assert_eq!(table.admit(7, later), Admission::Pass { evicted: false });
        assert_eq!(table.admit(7, later), Admission::Suppress);
    }

    #[test]
    fn window_ticks_are_between_64_and_127() {
        for window in [
            Duration::from_nanos(1),
            Duration::from_millis(1),
            Duration::from_secs(1),
            Duration::from_secs(600),
            Duration::from_secs(86_400 * 365),
        ] {
            let table = ExposureTable::new(8, window);
            assert!((64..128).contains(&table.window_ticks), "{window:?}");
        }
    }

    #[test]
    fn a_full_bucket_evicts_the_fingerprints_slot_and_counts_it() {
        let table = ExposureTable::new(8, MINUTE);
        assert_eq!(table.capacity(), 8);
        // Eight keys fill the only bucket; a ninth evicts a live one.
        let keys: Vec<u64> = (1..=9).map(|i| i << 40).collect();
        for key in &keys[..8] {
            assert_eq!(table.admit(*key, 0), Admission::Pass { evicted: false });
        }
        assert_eq!(table.occupied(), 8);
        assert_eq!(table.admit(keys[8], 0), Admission::Pass { evicted: true });
        assert_eq!(table.admit(keys[8], 0), Admission::Suppress);
        // The evicted key passes again: an extra record, never a hidden one.
        let passes_again = keys[..8]
            .iter()
            .filter(|key| matches!(table.admit(**key, 0), Admission::Pass { .. }))
            .count();
        assert!(passes_again >= 1);
        assert_eq!(table.occupied(), 8);
    }

    #[test]
    fn an_expired_entry_is_replaced_without_counting_an_eviction() {
        let table = ExposureTable::new(8, MINUTE);
        for i in 1..=8_u64 {
            let _ = table.admit(i << 40, 0);
        }
        let later = table.tick(MINUTE * 2);
        assert_eq!(
            table.admit(99 << 40, later),
            Admission::Pass { evicted: false }
        );
    }
}
