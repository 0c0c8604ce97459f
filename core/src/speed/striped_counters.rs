//! Counters that many threads bump on every evaluation without sharing a cache line.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::speed::thread_number::thread_number;

/// Stripes owned by one thread each.
const STRIPES: usize = 64;
/// Stripes shared, with `fetch_add`, by the threads that came later.
const SHARED_STRIPES: usize = 8;

/// `N` counters, each split into [`STRIPES`] cache-line-aligned stripes picked per thread, so
/// counting on every evaluation never bounces one line between cores. Reading sums the stripes.
///
/// The first [`STRIPES`] threads of the process (by [`thread_number`]) each own a stripe, and
/// only the owner writes it: a plain load and store, no locked instruction (9 ns on the bench
/// machine). Later threads share [`SHARED_STRIPES`] other stripes and add with `fetch_add`.
pub(crate) struct StripedCounters<const N: usize> {
    stripes: Box<[Stripe<N>; STRIPES + SHARED_STRIPES]>,
}

#[repr(align(128))]
struct Stripe<const N: usize>([AtomicU64; N]);

/// The thread's stripe, and whether the thread owns it.
#[inline]
fn thread_stripe() -> (usize, bool) {
    // Thread-local storage is gone (a thread's destructors run): share the first shared stripe.
    let number = thread_number().unwrap_or(STRIPES);
    if number < STRIPES {
        (number, true)
    } else {
        (STRIPES + number % SHARED_STRIPES, false)
    }
}

impl<const N: usize> StripedCounters<N> {
    pub(crate) fn new() -> Self {
        Self {
            stripes: Box::new(std::array::from_fn(|_| {
                Stripe(std::array::from_fn(|_| AtomicU64::new(0)))
            })),
        }
    }

    /// Adds one to counter `counter` (`< N`).
    #[inline]
    pub(crate) fn add(&self, counter: usize) {
        let (stripe, owned) = thread_stripe();
        if let Some(cell) = self.stripes[stripe].0.get(counter) {
            if owned {
                // Only this thread writes this stripe: no read-modify-write needed.
                cell.store(cell.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            } else {
                cell.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The total of counter `counter`.
    pub(crate) fn get(&self, counter: usize) -> u64 {
        self.stripes
            .iter()
            .filter_map(|stripe| stripe.0.get(counter))
            .map(|cell| cell.load(Ordering::Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up() {
        let counters = StripedCounters::<2>::new();
        std::thread::scope(|scope| {
            for _ in 0..(STRIPES + 20) {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        counters.add(0);
                    }
                    counters.add(1);
                });
            }
        });
        assert_eq!(counters.get(0), (STRIPES as u64 + 20) * 1000);
        assert_eq!(counters.get(1), STRIPES as u64 + 20);
    }
}
