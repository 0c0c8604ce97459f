//! A HyperLogLog sketch: how many distinct things were seen, in 4 KiB, without keeping any.

use std::sync::atomic::{AtomicU8, Ordering};

/// log2 of the number of registers.
const PRECISION: u32 = 12;
const REGISTERS: usize = 1 << PRECISION;
/// Hash bits left after the register index; ranks go from 0 (empty) to `RANK_BITS + 1`.
const RANK_BITS: u32 = 64 - PRECISION;

/// Counts distinct 64-bit hashes in fixed memory: a HyperLogLog sketch of 4 096 one-byte
/// registers, updated lock-free from any thread, estimated with Ertl's improved estimator
/// (Otmar Ertl, *New cardinality estimation algorithms for HyperLogLog sketches*, 2017), which
/// needs no bias tables and is accurate from zero to billions.
///
/// - **Memory**: [`DistinctCounter::BYTES`] (4 096) bytes, whatever the count.
/// - **Error**: relative standard error [`DistinctCounter::STANDARD_ERROR`] (1.04 / √4096 =
///   1.6%); about 99.7% of estimates fall within three standard errors (4.9%). Small counts are
///   nearly exact (a handful of contexts is counted exactly unless two share a register and rank).
/// - **Input**: well-mixed hashes, such as `context_fingerprint`;
///   inserting the same hash again changes nothing. Nothing inserted can be read back.
///
/// ```
/// use std::hash::{BuildHasher, RandomState};
/// use openfeature_hooks_core::__private::DistinctCounter;
///
/// let counter = DistinctCounter::new();
/// let hasher = RandomState::new();
/// for user in 0..1000_u64 {
///     counter.insert(hasher.hash_one(user));
///     counter.insert(hasher.hash_one(user)); // again: no change
/// }
/// let estimate = counter.estimate();
/// assert!((estimate - 1000.0).abs() < 1000.0 * 3.0 * DistinctCounter::STANDARD_ERROR);
/// ```
pub struct DistinctCounter {
    registers: Box<[AtomicU8; REGISTERS]>,
}

impl DistinctCounter {
    /// Bytes of state per counter.
    pub const BYTES: usize = REGISTERS;
    /// Relative standard error of [`estimate`](Self::estimate): 1.04 / √4096.
    pub const STANDARD_ERROR: f64 = 1.04 / 64.0;

    /// An empty counter.
    pub fn new() -> Self {
        Self {
            registers: Box::new([const { AtomicU8::new(0) }; REGISTERS]),
        }
    }

    /// Counts `hash` (a well-mixed 64-bit hash of the thing seen).
    #[inline]
    pub fn insert(&self, hash: u64) {
        let index = (hash >> RANK_BITS) as usize;
        let rest = hash << PRECISION;
        // Leading zeros of the remaining bits, plus one; all zero gives the top rank.
        let rank = (rest.leading_zeros().min(RANK_BITS) + 1) as u8;
        let register = &self.registers[index % REGISTERS];
        // Most inserts change nothing: read before writing, so a hot counter is not written.
        if register.load(Ordering::Relaxed) < rank {
            register.fetch_max(rank, Ordering::Relaxed);
        }
    }

    /// The estimated number of distinct hashes inserted.
    pub fn estimate(&self) -> f64 {
        let mut histogram = [0_u32; RANK_BITS as usize + 2];
        for register in self.registers.iter() {
            let rank = usize::from(register.load(Ordering::Relaxed));
            if let Some(count) = histogram.get_mut(rank) {
                *count += 1;
            }
        }
        ertl_estimate(&histogram)
    }
}

impl Default for DistinctCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for DistinctCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistinctCounter")
            .field("estimate", &self.estimate())
            .finish()
    }
}

/// Ertl's improved raw estimator from the histogram of register values (`histogram[k]` =
/// registers holding `k`, for `k` in `0..=q+1`).
fn ertl_estimate(histogram: &[u32]) -> f64 {
    let m = REGISTERS as f64;
    let q = RANK_BITS as usize;
    let mut z = m * tau(1.0 - f64::from(histogram[q + 1]) / m);
    for k in (1..=q).rev() {
        z = 0.5 * (z + f64::from(histogram[k]));
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    let alpha_infinity = 0.5 / std::f64::consts::LN_2;
    alpha_infinity * m * m / z
}

/// σ(x) = x + Σ_{k≥1} x^(2^k) 2^(k-1); infinite at 1 (an empty sketch estimates 0).
fn sigma(x: f64) -> f64 {
    if x >= 1.0 {
        return f64::INFINITY;
    }
    let mut x = x;
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if z == previous {
            return z;
        }
    }
}

/// τ(x) = (1 - x - Σ_{k≥1} (1 - x^(2^-k))² 2^-k) / 3.
fn tau(x: f64) -> f64 {
    if x <= 0.0 || x >= 1.0 {
        return 0.0;
    }
    let mut x = x;
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z == previous {
            return z / 3.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::context_fingerprint::text_fingerprint;

    /// Inserts `n` distinct context ids (each twice) and checks the estimate.
    fn within_stated_error(n: usize) {
        let counter = DistinctCounter::new();
        for i in 0..n {
            let hash = text_fingerprint(&format!("user-{i}"));
            counter.insert(hash);
            counter.insert(hash);
        }
        let estimate = counter.estimate();
        let error = (estimate - n as f64).abs() / n as f64;
        assert!(
            error <= 3.0 * DistinctCounter::STANDARD_ERROR,
            "{n} contexts estimated as {estimate:.1} ({:.2}% off)",
            error * 100.0
        );
    }

    #[test]
    fn threads_inserting_at_once_lose_nothing() {
        // Four threads insert overlapping halves of 40 000 contexts: 40 000 distinct in all.
        let counter = DistinctCounter::new();
        std::thread::scope(|scope| {
            for thread in 0..4_usize {
                let counter = &counter;
                scope.spawn(move || {
                    let start = thread * 10_000;
                    for i in start..start + 20_000 {
                        counter.insert(text_fingerprint(&format!("user-{}", i % 40_000)));
                    }
                });
            }
        });
        let estimate = counter.estimate();
        assert!(
            (estimate - 40_000.0).abs() <= 40_000.0 * 3.0 * DistinctCounter::STANDARD_ERROR,
            "{estimate}"
        );
    }

    #[test]
    fn empty_is_zero() {
        assert_eq!(DistinctCounter::new().estimate(), 0.0);
    }

    #[test]
    fn ten_contexts() {
        within_stated_error(10);
    }

    #[test]
    fn a_thousand_contexts() {
        within_stated_error(1_000);
    }

    #[test]
    fn a_million_contexts() {
        within_stated_error(1_000_000);
    }

    #[test]
    fn every_size_between_is_within_the_error_too() {
        // Across the switch from mostly-empty registers to full ones (where plain
        // HyperLogLog needs bias corrections).
        for n in [100, 3_000, 10_000, 30_000, 100_000] {
            within_stated_error(n);
        }
    }
}
