//! Counters that many threads bump on every evaluation without sharing a cache line.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Stripes per counter set: threads beyond this share stripes (still correct, just contended).
const STRIPES: usize = 16;

/// `N` counters, each split into [`STRIPES`] cache-line-aligned stripes picked per thread, so
/// counting on every evaluation never bounces one line between cores. Reading sums the stripes.
pub(crate) struct StripedCounters<const N: usize> {
    stripes: Box<[Stripe<N>; STRIPES]>,
}

#[repr(align(128))]
struct Stripe<const N: usize>([AtomicU64; N]);

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline]
fn thread_stripe() -> usize {
    THREAD_STRIPE
        .try_with(|stripe| {
            let mut index = stripe.get();
            if index == usize::MAX {
                index = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
                stripe.set(index);
            }
            index
        })
        .unwrap_or(0)
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
        if let Some(cell) = self.stripes[thread_stripe()].0.get(counter) {
            cell.fetch_add(1, Ordering::Relaxed);
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
            for _ in 0..20 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        counters.add(0);
                    }
                    counters.add(1);
                });
            }
        });
        assert_eq!(counters.get(0), 20_000);
        assert_eq!(counters.get(1), 20);
    }
}
