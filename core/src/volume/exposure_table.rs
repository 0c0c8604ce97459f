//! The fixed-size, lock-free table behind [`ExposureDedup`](crate::ExposureDedup): which
//! exposure keys passed recently, and when.
//!
//! # Layout
//!
//! Buckets of [`WAYS`] slots, one 64-byte cache line each. A slot is one `AtomicU64`: the key's
//! fingerprint (39 bits of its hash, low bit set) above a 24-bit time stamp, `0` meaning empty.
//! A key's bucket comes from the low bits of its place ([`exposure_place`]: the flag key and
//! context only), its
//! fingerprint from the high 40 bits of its whole 64-bit hash ([`exposure_hash`], a
//! folded-multiply hash). A new key is taken for a live one only if its fingerprint equals one
//! of the at most 8 in its bucket: a chance of 8 in 2^39, one new key in about 70 billion.
//! Memory is `capacity × 8` bytes, whatever the key space: 512 KiB for the default 65 536
//! slots. The keys of one flag and context share a bucket: at most 8 of their outcomes
//! (variants, versions, failures) are remembered at once, and a ninth evicts the oldest, which
//! can only mean an extra record later.
//!
//! [`exposure_place`]: crate::volume::exposure_key::exposure_place
//! [`exposure_hash`]: crate::volume::exposure_key::exposure_hash
//!
//! # Time
//!
//! Stamps count ticks of `2^shift` nanoseconds, the largest power of two that still gives at
//! least 64 ticks per window, so reading a tick is a shift, and a window is between 64 and 127
//! ticks: a key passes again between one tick (under 1/64 of the window) before and after its
//! window ends. Ticks wrap after 2^24 of them (at least 131 072 windows: two and a half years
//! for ten minutes); an entry left untouched exactly that long looks fresh once more.
//!
//! # Which entry a new key replaces
//!
//! The lowest empty slot of its bucket; in a full bucket, the entry that passed longest ago:
//! expired entries go first, and among live ones the oldest, so keys that keep passing stay and
//! two busy keys never take each other's slot while an older entry is left. Replacing an entry
//! whose window had not ended is an eviction: counted, and that key's next evaluation passes
//! again (an extra record).
//!
//! # Exactly one pass per new key, without locks
//!
//! Every placement is a compare-and-swap from the value the scan read, so a slot changed since
//! the scan makes it fail and scan again. A slot only ever goes from empty to full, never back,
//! and a write only ever makes a slot younger (it stamps the current tick). Two evaluations of
//! one new key therefore choose the same slot: for them to choose different slots, one of them
//! must have seen a slot older, or emptier, than the other did, which means that slot changed
//! between their scans, and the one that read it first fails its compare-and-swap. The winner
//! passes; the other scans again, finds the key and is suppressed. A scan that keeps losing to
//! other keys gives up after [`ATTEMPTS`] rounds and lets the evaluation pass: an extra record,
//! never a hidden one. (One narrow exception, also only an extra record: an evaluation delayed
//! between reading the clock and its compare-and-swap across a tick boundary writes a stamp a
//! tick older than the entry it replaces.)

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

    /// The bucket of keys placed at `place`.
    #[inline]
    fn bucket(&self, place: u64) -> &[AtomicU64; WAYS] {
        &self.buckets[(place & self.bucket_mask) as usize].0
    }

    /// Whether the key of `hash`, placed at `place`, passes at `tick`, recording it if so.
    #[inline]
    pub(crate) fn admit(&self, place: u64, hash: u64, tick: u64) -> Admission {
        let bucket = self.bucket(place);
        // Never zero, so a full slot is never mistaken for an empty one.
        let fingerprint = (hash >> STAMP_BITS) | 1;
        let stamp = tick & STAMP_MASK;
        let entry = (fingerprint << STAMP_BITS) | stamp;
        for _ in 0..ATTEMPTS {
            // The slot a new key would take: the lowest empty one, else the one whose entry
            // passed longest ago (expired entries first), the lowest index among equals.
            let mut victim = (0, 0, 0);
            let mut own = None;
            for (index, slot) in bucket.iter().enumerate() {
                let seen = slot.load(Ordering::Acquire);
                if seen == 0 {
                    // Slots fill in order: the rest are empty too.
                    victim = (index, 0, u64::MAX);
                    break;
                }
                if seen >> STAMP_BITS == fingerprint {
                    own = Some((index, seen));
                    break;
                }
                let age = self.age(seen, stamp);
                if index == 0 || age > victim.2 {
                    victim = (index, seen, age);
                }
            }
            let (index, expected, evicted) = match own {
                Some((index, seen)) => {
                    if self.age(seen, stamp) < self.window_ticks {
                        return Admission::Suppress;
                    }
                    (index, seen, false)
                }
                None => {
                    let (index, seen, age) = victim;
                    (index, seen, seen != 0 && age < self.window_ticks)
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

    /// Ticks since the entry `seen` was stamped, at `stamp`.
    #[inline]
    fn age(&self, seen: u64, stamp: u64) -> u64 {
        stamp.wrapping_sub(seen & STAMP_MASK) & STAMP_MASK
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
        assert_eq!(table.admit(7, 7, start), Admission::Pass { evicted: false });
        assert_eq!(table.admit(7, 7, start), Admission::Suppress);
        let almost = table.tick(MINUTE.mul_f64(0.98));
        assert_eq!(table.admit(7, 7, almost), Admission::Suppress);
        let later = table.tick(MINUTE.mul_f64(1.02));
        assert_eq!(table.admit(7, 7, later), Admission::Pass { evicted: false });
        assert_eq!(table.admit(7, 7, later), Admission::Suppress);
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
    fn a_full_bucket_evicts_the_oldest_entry_and_counts_it() {
        let table = ExposureTable::new(8, MINUTE);
        assert_eq!(table.capacity(), 8);
        // Eight keys fill the only bucket, one tick apart; a ninth evicts the oldest (the first).
        let keys: Vec<u64> = (1..=9).map(|i| i << 40).collect();
        for (tick, key) in keys[..8].iter().enumerate() {
            assert_eq!(
                table.admit(*key, *key, tick as u64),
                Admission::Pass { evicted: false }
            );
        }
        assert_eq!(table.occupied(), 8);
        assert_eq!(
            table.admit(keys[8], keys[8], 8),
            Admission::Pass { evicted: true }
        );
        assert_eq!(table.admit(keys[8], keys[8], 8), Admission::Suppress);
        // The evicted key passes again: an extra record, never a hidden one; the others stay.
        assert!(matches!(
            table.admit(keys[0], keys[0], 9),
            Admission::Pass { .. }
        ));
        for key in &keys[2..8] {
            assert_eq!(table.admit(*key, *key, 9), Admission::Suppress);
        }
        assert_eq!(table.occupied(), 8);
    }

    #[test]
    fn two_busy_keys_in_a_full_bucket_do_not_take_each_others_slot() {
        let table = ExposureTable::new(8, MINUTE);
        for i in 1..=8_u64 {
            let _ = table.admit(i << 40, i << 40, 0);
        }
        let (a, b) = (100 << 40, 200 << 40);
        let passes = (0..1_000)
            .filter(|i| {
                let key = if i % 2 == 0 { a } else { b };
                matches!(table.admit(key, key, 1), Admission::Pass { .. })
            })
            .count();
        assert_eq!(passes, 2);
    }

    #[test]
    fn an_expired_entry_is_replaced_without_counting_an_eviction() {
        let table = ExposureTable::new(8, MINUTE);
        for i in 1..=8_u64 {
            let _ = table.admit(i << 40, i << 40, 0);
        }
        let later = table.tick(MINUTE * 2);
        assert_eq!(
            table.admit(99 << 40, 99 << 40, later),
            Admission::Pass { evicted: false }
        );
    }
}
