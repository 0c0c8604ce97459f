//! A bounded table of metric series, found by their attribute texts without allocating.
//!
//! Recording a measurement through the SDK hashes, sorts and looks up a freshly built attribute
//! set every time. The metrics sink instead keeps one entry per series with its attribute set
//! built once, counts in atomics, and lets observable instruments report the totals at
//! collection time.
//!
//! Finding a series in the table takes a read lock on one of its shards: a lock word every
//! thread writes, so evaluating threads contend on it. [`SeriesCache`] keeps, per thread, the
//! series it found last per hash slot: a repeated lookup is a hash and a comparison of the
//! texts, no shared write. Measured in `benches/otel_sinks.rs` (`metrics`), see BENCHMARKS.md.
//!
//! Before hashing, the cache looks in a second set of slots, chosen by the *address* of the
//! series' first text (the caller's flag key: usually a literal, at the same address on every
//! evaluation). An address says nothing about the text there, so a slot found this way is used
//! only if its series' texts equal the ones asked for, exactly as a slot found by hash; it
//! saves the hash of the five texts (`perf`: about 20 of the metrics sink's ~80 ns on the
//! evaluating thread went to hashing; BENCHMARKS.md, "2026-11-29, 11:30"). Keys built at
//! run time miss it and take the hash path, as before.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::thread::LocalKey;

use openfeature_hooks_core::__private::{FastBuildHasher, fibonacci_index, fold_hashes};

/// The texts that identify a series (absent parts are `None`).
pub(crate) type Parts<'a> = [Option<&'a str>; 5];

const SHARDS: usize = 8;
/// Slots of each thread's cache of series, per series type.
const CACHE_SLOTS: usize = 64;

/// Tells tables apart in the per-thread caches (an address could be reused by a later table).
static NEXT_TABLE_ID: AtomicU64 = AtomicU64::new(1);

/// One thread's recently found series, direct-mapped by hash: declare one per series type
/// with `thread_local!` and pass it to [`SeriesTable::with_series`]. At most 64 entries per
/// thread; an entry keeps its series alive until replaced.
#[derive(Debug)]
pub(crate) struct SeriesCache<E> {
    /// By the hash of the texts.
    slots: RefCell<Vec<Option<CachedSeries<E>>>>,
    /// By the address of the first text (see the module docs).
    by_address: RefCell<Vec<Option<CachedSeries<E>>>>,
}

#[derive(Debug)]
struct CachedSeries<E> {
    table: u64,
    /// The hash of the texts, or the first text's address in `by_address`.
    tag: u64,
    series: Arc<Series<E>>,
}

impl<E> SeriesCache<E> {
    pub(crate) fn new() -> Self {
        Self {
            slots: RefCell::new(Vec::new()),
            by_address: RefCell::new(Vec::new()),
        }
    }

    /// Visits the cached series at `slot` of `slots`, if it is `table`'s, tagged `tag`, and has
    /// `parts` (under the borrow: its reference count is not touched).
    fn visit<R>(
        slots: &RefCell<Vec<Option<CachedSeries<E>>>>,
        slot: usize,
        (table, tag): (u64, u64),
        parts: &Parts<'_>,
        visit: &mut impl FnMut(&Arc<Series<E>>) -> R,
    ) -> Option<R> {
        let slots = slots.try_borrow().ok()?;
        let entry = slots.get(slot)?.as_ref()?;
        (entry.table == table && entry.tag == tag && entry.series.is(parts))
            .then(|| visit(&entry.series))
    }

    fn keep(
        slots: &RefCell<Vec<Option<CachedSeries<E>>>>,
        slot: usize,
        table: u64,
        tag: u64,
        series: &Arc<Series<E>>,
    ) {
        if let Ok(mut slots) = slots.try_borrow_mut() {
            if slots.is_empty() {
                slots.resize_with(CACHE_SLOTS, || None);
            }
            slots[slot] = Some(CachedSeries {
                table,
                tag,
                series: series.clone(),
            });
        }
    }
}

/// The `by_address` slot of a first text at `address` in table `table`.
fn address_slot(address: u64, table: u64) -> usize {
    // The address's alignment bits carry nothing.
    fibonacci_index((address >> 3) ^ table.rotate_left(32), CACHE_SLOTS)
}

/// One series: its identifying texts and its data.
#[derive(Debug)]
pub(crate) struct Series<E> {
    parts: [Option<Box<str>>; 5],
    pub(crate) data: E,
}

impl<E> Series<E> {
    fn is(&self, parts: &Parts<'_>) -> bool {
        self.parts
            .iter()
            .zip(parts)
            .all(|(mine, theirs)| mine.as_deref() == *theirs)
    }
}

/// The map's keys are already hashes: use them as they are.
#[derive(Clone, Copy, Debug, Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Shard<E> = RwLock<HashMap<u64, Vec<Arc<Series<E>>>, BuildHasherDefault<AlreadyHashed>>>;

/// Series by identity, at most `limit` of them; past the limit every new identity shares one
/// overflow series (as the SDK does with `otel.metric.overflow`).
#[derive(Debug)]
pub(crate) struct SeriesTable<E> {
    id: u64,
    shards: [Shard<E>; SHARDS],
    len: AtomicUsize,
    limit: usize,
    overflow: OnceLock<Arc<Series<E>>>,
}

impl<E> SeriesTable<E> {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            id: NEXT_TABLE_ID.fetch_add(1, Ordering::Relaxed),
            shards: std::array::from_fn(|_| RwLock::new(HashMap::default())),
            len: AtomicUsize::new(0),
            limit,
            overflow: OnceLock::new(),
        }
    }

    /// Calls `visit` with the series of `parts` (see [`SeriesTable::get`]), found in this
    /// thread's `cache` when it found it before, without touching the table's locks.
    pub(crate) fn with_series<R>(
        &self,
        cache: &'static LocalKey<SeriesCache<E>>,
        parts: Parts<'_>,
        make: impl FnOnce() -> E,
        make_overflow: impl FnOnce() -> E,
        mut visit: impl FnMut(&Arc<Series<E>>) -> R,
    ) -> R {
        const { assert!(CACHE_SLOTS.is_power_of_two()) };
        let address = parts[0].map_or(0, |text| text.as_ptr() as u64);
        let by_address = address_slot(address, self.id);
        let hit = cache.try_with(|cache| {
            SeriesCache::visit(
                &cache.by_address,
                by_address,
                (self.id, address),
                &parts,
                &mut visit,
            )
        });
        if let Ok(Some(result)) = hit {
            return result;
        }
        let hash = hash(&parts);
        let slot = (hash as usize) % CACHE_SLOTS;
        // Found by hash, the address slot is left as it is: a flag whose outcomes alternate
        // (an experiment's variants) would otherwise rewrite it, a reference count up and one
        // down, on every evaluation. It is filled from the table, below.
        let hit = cache.try_with(|cache| {
            SeriesCache::visit(&cache.slots, slot, (self.id, hash), &parts, &mut visit)
        });
        if let Ok(Some(result)) = hit {
            return result;
        }
        let series = self.get_hashed(hash, parts, make, make_overflow);
        // The overflow series stands for many parts: it is not cached, so a full table costs a
        // table lookup per evaluation, never a wrong series.
        if series.parts[0].is_some() {
            let _ = cache.try_with(|cache| {
                SeriesCache::keep(&cache.slots, slot, self.id, hash, &series);
                SeriesCache::keep(&cache.by_address, by_address, self.id, address, &series);
            });
        }
        visit(&series)
    }

    /// The series of `parts`, created with `make` if new (or the overflow series, made with
    /// `make_overflow`, when the table is full).
    #[cfg(test)]
    pub(crate) fn get(
        &self,
        parts: Parts<'_>,
        make: impl FnOnce() -> E,
        make_overflow: impl FnOnce() -> E,
    ) -> Arc<Series<E>> {
        self.get_hashed(hash(&parts), parts, make, make_overflow)
    }

    fn get_hashed(
        &self,
        hash: u64,
        parts: Parts<'_>,
        make: impl FnOnce() -> E,
        make_overflow: impl FnOnce() -> E,
    ) -> Arc<Series<E>> {
        let shard = &self.shards[(hash >> 32) as usize % SHARDS];
        {
            let read = shard.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(found) = read
                .get(&hash)
                .and_then(|list| list.iter().find(|s| s.is(&parts)))
            {
                return found.clone();
            }
        }
        let mut write = shard.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = write
            .get(&hash)
            .and_then(|list| list.iter().find(|s| s.is(&parts)))
        {
            return found.clone();
        }
        if self.len.load(Ordering::Relaxed) >= self.limit {
            // Full: nothing is inserted, not even an empty bucket, so memory stays bounded.
            drop(write);
            return self
                .overflow
                .get_or_init(|| {
                    Arc::new(Series {
                        parts: Default::default(),
                        data: make_overflow(),
                    })
                })
                .clone();
        }
        self.len.fetch_add(1, Ordering::Relaxed);
        let series = Arc::new(Series {
            parts: parts.map(|p| p.map(Box::from)),
            data: make(),
        });
        write.entry(hash).or_default().push(series.clone());
        series
    }

    /// Visits every series, the overflow series last.
    pub(crate) fn for_each(&self, mut visit: impl FnMut(&E)) {
        for shard in &self.shards {
            let read = shard.read().unwrap_or_else(PoisonError::into_inner);
            read.values()
                .flatten()
                .for_each(|series| visit(&series.data));
        }
        if let Some(overflow) = self.overflow.get() {
            visit(&overflow.data);
        }
    }
}

/// The series key's hash: each part hashed on its own, the five folded in order.
///
/// Hashing the parts as one tuple is one chain of dependent multiplies (a discriminant, the
/// bytes and a terminator per part: about fifteen for a common outcome). Hashed apart, the
/// parts' chains are independent and the processor runs them side by side; only the fold is
/// serial. The metrics sink does two lookups per evaluation: its `otel_sinks` figure went from
/// +336 to +306 ns in an A/B of three runs each (BENCHMARKS.md, "Late 2026-11-28").
fn hash(parts: &Parts<'_>) -> u64 {
    // What an absent part stands for: distinct per position.
    const ABSENT: [u64; 5] = [0x243F, 0x6A88, 0x85A3, 0x08D3, 0x1319];
    let lanes = [0, 1, 2, 3, 4].map(|i| match parts[i] {
        Some(text) => FastBuildHasher::default().hash_one(text),
        None => ABSENT[i],
    });
    fold_hashes(&lanes)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;

    #[test]
    fn a_part_hashes_differently_in_another_place_and_absent_differs_from_empty() {
        let one = hash(&[Some("a"), None, None, None, None]);
        assert_ne!(one, hash(&[None, Some("a"), None, None, None]));
        assert_ne!(one, hash(&[Some("a"), Some(""), None, None, None]));
        assert_ne!(
            hash(&[Some("a"), Some("b"), None, None, None]),
            hash(&[Some("b"), Some("a"), None, None, None])
        );
        assert_eq!(one, hash(&[Some("a"), None, None, None, None]));
    }

    #[test]
    fn same_parts_same_series_and_the_limit_overflows() {
        let table: SeriesTable<AtomicU64> = SeriesTable::new(2);
        let make = || AtomicU64::new(0);
        let a = table.get([Some("a"), None, None, None, None], make, make);
        let again = table.get([Some("a"), None, None, None, None], make, make);
        assert!(Arc::ptr_eq(&a, &again));
        let b = table.get([Some("a"), Some("b"), None, None, None], make, make);
        assert!(!Arc::ptr_eq(&a, &b));
        let c = table.get([Some("c"), None, None, None, None], make, make);
        let d = table.get([Some("d"), None, None, None, None], make, make);
        assert!(
            Arc::ptr_eq(&c, &d),
            "past the limit, new series share the overflow"
        );
        let mut seen = 0;
        table.for_each(|_| seen += 1);
        assert_eq!(seen, 3);
        // A full table stores nothing more, however many new series are asked for.
        for i in 0..10_000 {
            let _ = table.get([Some(&format!("k{i}")), None, None, None, None], make, make);
        }
        let buckets: usize = table
            .shards
            .iter()
            .map(|s| s.read().map(|m| m.len()).unwrap_or(0))
            .sum();
        assert_eq!(buckets, 2, "no bucket is added once the table is full");
    }

    thread_local! {
        static CACHE: SeriesCache<u8> = SeriesCache::new();
    }

    #[test]
    fn the_thread_cache_finds_each_tables_own_series() {
        let first: SeriesTable<u8> = SeriesTable::new(10);
        let second: SeriesTable<u8> = SeriesTable::new(1);
        let key = |k| [Some(k), None, None, None, None];
        for _ in 0..3 {
            let a = first.with_series(&CACHE, key("a"), || 1, || 0, Arc::clone);
            assert!(Arc::ptr_eq(&a, &first.get(key("a"), || 9, || 9)));
            let b = second.with_series(&CACHE, key("a"), || 2, || 0, Arc::clone);
            assert_eq!(
                (a.data, b.data),
                (1, 2),
                "tables never share a cached series"
            );
            // Past the second table's limit: its overflow, never another key's series.
            let c = second.with_series(&CACHE, key("c"), || 3, || 7, Arc::clone);
            assert_eq!(c.data, 7);
            let a_again = second.with_series(&CACHE, key("a"), || 5, || 0, Arc::clone);
            assert!(Arc::ptr_eq(&a_again, &b));
        }
    }

    #[test]
    fn none_and_empty_are_different() {
        let table: SeriesTable<u8> = SeriesTable::new(10);
        let x = table.get([Some("k"), None, None, None, None], || 1, || 0);
        let y = table.get([Some("k"), Some(""), None, None, None], || 2, || 0);
        assert_ne!(x.data, y.data);
    }

    #[test]
    fn an_address_is_never_taken_for_the_text_found_there() {
        // The address path keys on where the first text is: the same buffer holding another
        // text must find that text's series.
        let table: SeriesTable<u8> = SeriesTable::new(10);
        let find = |parts: Parts<'_>, made: u8| {
            table.with_series(&CACHE, parts, || made, || 0, Arc::clone)
        };
        let mut key = String::from("aa");
        let first = find([Some(&key), None, None, None, None], 1);
        let again = find([Some(&key), None, None, None, None], 9);
        assert!(Arc::ptr_eq(&first, &again));
        let address = key.as_ptr();
        key.replace_range(.., "bb");
        assert_eq!(key.as_ptr(), address, "the same buffer");
        let other = find([Some(&key), None, None, None, None], 2);
        assert_eq!(other.data, 2);
        // And the same address with another second part.
        let with_provider = find([Some(&key), Some("p"), None, None, None], 3);
        assert_eq!(with_provider.data, 3);
        let plain = find([Some(&key), None, None, None, None], 9);
        assert!(Arc::ptr_eq(&plain, &other));
    }
}
