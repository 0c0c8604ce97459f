//! One count that threads on every core add to at once, split so they do not share a cache
//! line.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::speed::thread_number::thread_number;

/// The most stripes a count has.
pub const MAX_COUNT_STRIPES: usize = 32;

/// A count that many threads add to, such as evaluations of one flag: one atomic per stripe, on
/// its own cache line, and each thread adds to the stripe of the CPU it runs on. Reading sums
/// them.
///
/// One atomic shared by every thread costs little on one thread and a great deal on several:
/// each addition then waits for the cache line to come from the core that added last. In
/// `otel_sinks`' `metrics_counters` (two threads counting one flag on the two-core bench
/// machine), the metrics sink's two counts per evaluation took an evaluation from 29 ns on one
/// thread to 180 ns on each of two (BENCHMARKS.md).
///
/// A count has as many stripes as the process may use CPUs, rounded up to a power of two, at
/// most [`MAX_COUNT_STRIPES`] (64 bytes each). On Linux a thread adds to the stripe of the CPU
/// it runs on (`sched_getcpu`, read from the kernel's restartable-sequences area by glibc 2.35
/// and later: a load): two threads only meet on a stripe when one is preempted between reading
/// its CPU and adding, or on machines with more CPUs than stripes. Elsewhere, and if the CPU
/// cannot be read, the stripe of the thread's number: two threads whose numbers fall on the
/// same stripe then share it.
///
/// Core's other striped counters (`striped_counters`, for a sink's few counters such as
/// sampling's) give each of the first 64 threads a stripe of its own, 9 KiB per set; a metrics
/// sink has a count per series, thousands at its limit, so a count here has fewer stripes,
/// shared by CPU.
///
/// Each addition is a release and each read of a stripe an acquire: a reader that sees an
/// addition sees what its thread had done before it (see [`StripedCount::add`]).
///
/// ```
/// use openfeature_hooks_core::__private::StripedCount;
///
/// let evaluations = StripedCount::new();
/// std::thread::scope(|scope| {
///     for _ in 0..4 {
///         scope.spawn(|| evaluations.add(1));
///     }
/// });
/// assert_eq!(evaluations.sum(), 4);
/// ```
pub struct StripedCount {
    stripes: Box<[Stripe]>,
}

#[derive(Default)]
#[repr(align(64))]
struct Stripe(AtomicU64);

/// The stripes of every count: the machine's parallelism, read once.
fn stripes() -> usize {
    static STRIPES: OnceLock<usize> = OnceLock::new();
    *STRIPES.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .next_power_of_two()
            .min(MAX_COUNT_STRIPES)
    })
}

/// The calling thread's stripe, before reducing it to a count's stripes.
#[inline]
fn current_stripe() -> usize {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `sched_getcpu` takes nothing and returns the CPU number, or -1.
        #[allow(unsafe_code)]
        let cpu = unsafe { libc::sched_getcpu() };
        if let Ok(cpu) = usize::try_from(cpu) {
            return cpu;
        }
    }
    // Thread-local storage is gone (a thread's destructors run): the first stripe.
    thread_number().unwrap_or(0)
}

impl StripedCount {
    /// A count at zero.
    pub fn new() -> Self {
        Self {
            stripes: (0..stripes()).map(|_| Stripe::default()).collect(),
        }
    }

    /// Adds `n` on the calling thread's stripe. A release: a reader whose [`sum`](Self::sum)
    /// includes this addition also sees the thread's writes before it (its addition to another
    /// count, say).
    #[inline]
    pub fn add(&self, n: u64) {
        let stripe = current_stripe() & (self.stripes.len() - 1);
        if let Some(stripe) = self.stripes.get(stripe) {
            stripe.0.fetch_add(n, Ordering::Release);
        }
    }

    /// The total: each stripe read with acquire. Not a snapshot: additions made while it sums
    /// may or may not be in it.
    pub fn sum(&self) -> u64 {
        self.stripes
            .iter()
            .map(|stripe| stripe.0.load(Ordering::Acquire))
            .fold(0, u64::wrapping_add)
    }
}

impl Default for StripedCount {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for StripedCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripedCount")
            .field("sum", &self.sum())
            .field("stripes", &self.stripes.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn additions_from_more_threads_than_stripes_add_up() {
        let count = StripedCount::new();
        let threads = MAX_COUNT_STRIPES + 5;
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        count.add(1);
                    }
                    count.add(2);
                });
            }
        });
        assert_eq!(count.sum(), threads as u64 * 1002);
    }

    #[test]
    fn stripes_are_a_power_of_two_within_the_limit() {
        let count = StripedCount::new();
        assert!(count.stripes.len().is_power_of_two());
        assert!(count.stripes.len() <= MAX_COUNT_STRIPES);
        assert_eq!(align_of::<Stripe>(), 64);
    }
}
