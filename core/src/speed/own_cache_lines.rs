//! A value on cache lines no other value shares.

use std::ops::Deref;

/// `T` aligned and padded to 128 bytes, so that no other value shares its cache lines (two
/// lines: Intel's prefetcher fetches them in pairs).
///
/// For data every evaluation reads that lives in an allocation of its own, such as a sink's
/// `Arc` of a user's logger. The allocator puts the next allocation right after a small one, on
/// the same cache line; when another thread writes that neighbour, every read of the line on
/// the evaluation path waits for it to come back from the other core. Found with two threads
/// evaluating with every backend on (`examples/cpu_per_evaluation.rs` under `perf`): one load
/// of the log event sink's logger took 1.7% of the evaluating threads' time, against 0.2% with
/// one (BENCHMARKS.md, "2026-11-29, 18:25").
///
/// ```
/// use std::sync::Arc;
/// use openfeature_hooks_core::__private::OwnCacheLines;
///
/// let shared = Arc::new(OwnCacheLines(5_u64));
/// assert_eq!(**shared, 5);
/// assert_eq!(std::mem::align_of_val(&*shared), 128);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(align(128))]
pub struct OwnCacheLines<T>(pub T);

impl<T> Deref for OwnCacheLines<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}
