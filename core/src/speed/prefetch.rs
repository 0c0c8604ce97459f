//! Asking for a cache line before it is read.
//!
//! `ExposureDedup` reads one bucket of its table per evaluation: one line of 64 bytes somewhere
//! in 512 KiB (the default table), which a busy service's other data has usually pushed out of
//! the core's caches by the next evaluation of the same flag. Reading it costs a cache miss on
//! the evaluation path, and the clock read just before (whose `lfence` waits for earlier loads)
//! kept that miss from overlapping anything. The bucket now comes from the flag key and
//! context alone, so the line is asked for as soon as those two are hashed and arrives while
//! the rest of the key is hashed and the clock is read: a prefetch is not held back by the
//! fence, an early load would be. Measured in `volume_paired` (BENCHMARKS.md, "2026-11-29"),
//! three batches of six paired runs against the code before: a passing evaluation over a full
//! table (65 536 contexts) +66.5/+71/+80 → +63.5/+60.5/+70 ns, around the JSON-lines sink
//! +64.5/+66/+88.5 → +57/+61/+78 ns; a suppressed one (its bucket already cached) pays for the
//! hint, +32.5/+31/+32.5 → +35.5/+34/+34 ns (the first two batches without `fold_one_more`,
//! which took one multiply back off that path).

/// Asks for the cache line holding the start of `value`; nothing happens where the processor
/// has no such hint (other than x86-64 here).
#[inline]
pub(crate) fn prefetch_line<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)] // one hint instruction, see SAFETY
    // SAFETY: a prefetch never faults and neither reads into nor writes to the program's
    // memory; the address comes from a live reference anyway.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
