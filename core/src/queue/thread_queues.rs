//! A queue per thread, swept by one worker: how an evaluating thread hands items to a
//! background thread without writing a cache line that another core writes on every send.
//!
//! # Why
//!
//! A shared bounded queue (`crossbeam-channel`'s array flavour) costs every send a
//! compare-and-swap on the tail and a load of the slot's stamp, both on cache lines the worker
//! on the other core wrote last. Under `perf`, on the every-backend evaluation with one
//! evaluating thread, that was ~60 ns for the hook's queue and ~25 ns for the duration
//! histogram's; with two evaluating threads the tail's compare-and-swap went from 150 to 692
//! samples. Here a thread locks a mutex only it uses between sweeps (its cache line stays in
//! its core's cache), pushes, and unlocks; the worker takes each thread's items in one swap
//! when it wakes (every millisecond while items arrive). Measurements: BENCHMARKS.md,
//! "2026-11-29, 20:30 to 22:00 UTC".
//!
//! # What it guarantees
//!
//! - **Bounded.** Each queue holds at most `capacity` items, counting those the worker has
//!   taken and not handled yet; a push to a full queue is refused and counted. A queue's
//!   buffer grows as items arrive, to at most `capacity` items (copying what it holds, as a
//!   `Vec` does: a thread's first busy moments, not every round), and buffers circulate
//!   between the queues and the worker. [`ThreadQueues::trim`] frees the empty ones; the
//!   worker calls it once the process has been quiet for a while, so a burst's memory does not
//!   stay. Freeing them sooner (a buffer found a quarter used by a sweep) made the hook's
//!   queue regrow, copying, on the evaluation path of a bursty bench: `realloc` was 2.2% of
//!   its samples.
//! - **One thread's items in the order it pushed them.** A thread always pushes to the same
//!   queue (by its [thread number](crate::speed::thread_number)); the worker takes a queue's items
//!   whole. Items of different threads are not ordered with each other.
//! - **Nothing pushed before a sweep starts is missed by it**: each queue is taken under its
//!   lock, so a flush that asks for a sweep sees everything pushed before it asked.
//! - The first [`THREAD_QUEUES`] threads to push each have a queue of their own; later threads
//!   share them (by thread number), which is still correct, only slower when two share.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::queue::background_worker::wake_at;
use crate::speed::own_cache_lines::OwnCacheLines;
use crate::speed::thread_number::thread_number;

/// How many queues a set has: the first this many threads each push to their own.
pub(crate) const THREAD_QUEUES: usize = 64;

/// The worker gives back room in a queue after handling this many of its items, so a big batch
/// frees room as it goes (one lock per this many items).
const RELEASE_EVERY: usize = 32;

/// A set of per-thread queues of at most `capacity` items each.
pub(crate) struct ThreadQueues<T> {
    /// Each on cache lines of its own: a thread's pushes touch only its queue's lines.
    queues: Box<[OwnCacheLines<Mutex<ThreadQueue<T>>>]>,
    capacity: usize,
    /// A push that brings its queue to this length asks the caller to wake the worker.
    wake_at: usize,
}

struct ThreadQueue<T> {
    items: Vec<T>,
    /// Items the worker took from this queue and has not handled yet: they still count
    /// against the capacity, as they would in a shared queue.
    taken: usize,
    /// Pushes accepted, ever.
    accepted: u64,
    /// Pushes refused because the queue was full.
    dropped: u64,
}

/// What became of a [`ThreadQueues::push_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued.
    Queued,
    /// Queued, and the queue is now half full: wake the worker.
    QueuedWake,
    /// The queue was full: the item was dropped and counted.
    Full,
}

impl<T> ThreadQueues<T> {
    /// Queues of at most `capacity` items each (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            queues: (0..THREAD_QUEUES)
                .map(|_| {
                    OwnCacheLines(Mutex::new(ThreadQueue {
                        items: Vec::new(),
                        taken: 0,
                        accepted: 0,
                        dropped: 0,
                    }))
                })
                .collect(),
            capacity,
            wake_at: wake_at(capacity),
        }
    }

    /// Pushes the item `make` returns onto this thread's queue; `make` is not called when the
    /// queue is full.
    ///
    /// `make` runs under the queue's lock, right where the item is stored: an evaluation's
    /// item (256 bytes) is copied once on its way into the buffer instead of three times, and
    /// not made at all when it would be dropped (BENCHMARKS.md, "The queued item made where it
    /// is stored"). `make` must not push to these queues.
    pub(crate) fn push_with(&self, make: impl FnOnce() -> T) -> Pushed {
        let mut queue = lock(&self.queues[this_threads_queue()]);
        let length = queue.items.len();
        if length + queue.taken >= self.capacity {
            queue.dropped += 1;
            return Pushed::Full;
        }
        if length == queue.items.capacity() {
            // Grow by doubling, never past the capacity.
            let more = length.max(4).min(self.capacity - length);
            queue.items.reserve_exact(more);
        }
        queue.items.push(make());
        queue.accepted += 1;
        if length + 1 == self.wake_at {
            Pushed::QueuedWake
        } else {
            Pushed::Queued
        }
    }

    /// Takes every queue's items, swapping each queue's buffer with `spare` (which must be
    /// empty), and hands each queue's items, oldest first, to `each`. The items taken count
    /// against their queue's capacity until handed over, released [`RELEASE_EVERY`] at a
    /// time. Returns how many items there were; `spare` is empty again afterwards.
    pub(crate) fn sweep(&self, spare: &mut Vec<T>, mut each: impl FnMut(T)) -> usize {
        let mut taken = 0;
        for queue in &self.queues {
            {
                let mut queue = lock(queue);
                if queue.items.is_empty() {
                    continue;
                }
                std::mem::swap(&mut queue.items, spare);
                queue.taken += spare.len();
            }
            taken += spare.len();
            let mut unreleased = 0;
            for item in spare.drain(..) {
                each(item);
                unreleased += 1;
                if unreleased == RELEASE_EVERY {
                    lock(queue).taken -= unreleased;
                    unreleased = 0;
                }
            }
            if unreleased > 0 {
                lock(queue).taken -= unreleased;
            }
        }
        taken
    }

    /// Frees the buffers of the queues that are empty, and `spare`'s: the next items a thread
    /// pushes allocate again.
    pub(crate) fn trim(&self, spare: &mut Vec<T>) {
        *spare = Vec::new();
        for queue in &self.queues {
            let mut queue = lock(queue);
            if queue.items.is_empty() {
                queue.items = Vec::new();
            }
        }
    }

    /// Items accepted, ever, over every queue.
    pub(crate) fn accepted(&self) -> u64 {
        self.queues.iter().map(|queue| lock(queue).accepted).sum()
    }

    /// Pushes refused, over every queue.
    pub(crate) fn dropped(&self) -> u64 {
        self.queues.iter().map(|queue| lock(queue).dropped).sum()
    }

    /// Each queue's capacity.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

/// The index of the calling thread's queue. While the thread's thread-locals are being
/// destroyed it has no number: queue 0.
#[inline]
fn this_threads_queue() -> usize {
    thread_number().map_or(0, |number| number % THREAD_QUEUES)
}

/// A queue's lock; a panic while it was held (none of the code above panics) leaves it usable.
fn lock<T>(queue: &Mutex<ThreadQueue<T>>) -> MutexGuard<'_, ThreadQueue<T>> {
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn swept(queues: &ThreadQueues<u32>) -> Vec<u32> {
        let mut spare = Vec::new();
        let mut seen = Vec::new();
        let taken = queues.sweep(&mut spare, |item| seen.push(item));
        assert_eq!(taken, seen.len());
        assert!(spare.is_empty());
        seen
    }

    #[test]
    fn a_threads_items_come_out_in_order_and_the_queue_is_bounded() {
        let queues = ThreadQueues::new(8);
        let pushed: Vec<Pushed> = (0..10).map(|i| queues.push_with(|| i)).collect();
        assert_eq!(pushed[3], Pushed::QueuedWake, "half of 8 reached");
        assert_eq!(pushed.iter().filter(|p| **p == Pushed::Full).count(), 2);
        assert_eq!((queues.accepted(), queues.dropped()), (8, 2));
        assert_eq!(swept(&queues), (0..8).collect::<Vec<_>>());
        // The next round reuses a buffer and still keeps the bound.
        assert_eq!(queues.push_with(|| 100), Pushed::Queued);
        assert_eq!(swept(&queues), [100]);
        assert_eq!(queues.accepted(), 9);
    }

    #[test]
    fn items_the_worker_holds_count_against_the_capacity_until_handled() {
        let queues = ThreadQueues::new(4);
        for i in 0..4 {
            assert_ne!(queues.push_with(|| i), Pushed::Full);
        }
        let mut spare = Vec::new();
        let mut during = Vec::new();
        queues.sweep(&mut spare, |item| {
            // While the worker holds the batch, the queue is still full.
            during.push((item, queues.push_with(|| 10 + item)));
        });
        assert!(
            during.iter().all(|(_, pushed)| *pushed == Pushed::Full),
            "{during:?}"
        );
        assert_eq!(queues.dropped(), 4);
        // Handed over: room again.
        assert_eq!(queues.push_with(|| 99), Pushed::Queued);
    }

    #[test]
    fn a_capacity_of_zero_holds_one_item() {
        let queues = ThreadQueues::new(0);
        assert_eq!(queues.capacity(), 1);
        assert_eq!(
            queues.push_with(|| 1),
            Pushed::QueuedWake,
            "one item is half of one"
        );
        assert_eq!(queues.push_with(|| 2), Pushed::Full);
        assert_eq!((queues.accepted(), queues.dropped()), (1, 1));
        assert_eq!(swept(&queues), [1]);
    }

    #[test]
    fn a_full_queue_makes_no_item() {
        let queues = ThreadQueues::new(1);
        let made = std::cell::Cell::new(0);
        let make = |item| {
            made.set(made.get() + 1);
            item
        };
        assert_ne!(queues.push_with(|| make(1)), Pushed::Full);
        assert_eq!(queues.push_with(|| make(2)), Pushed::Full);
        assert_eq!(made.get(), 1, "the refused item was never made");
        assert_eq!(swept(&queues), [1]);
    }

    #[test]
    fn a_buffer_never_grows_past_the_capacity() {
        let queues = ThreadQueues::new(5);
        for i in 0..5 {
            assert_ne!(queues.push_with(|| i), Pushed::Full);
        }
        assert_eq!(
            lock(&queues.queues[this_threads_queue()]).items.capacity(),
            5
        );
    }

    #[test]
    fn trimming_frees_the_empty_queues_buffers_and_keeps_the_items() {
        let queues = ThreadQueues::new(4_096);
        let mut spare = Vec::new();
        for i in 0..4_000 {
            assert_ne!(queues.push_with(|| i), Pushed::Full);
        }
        queues.sweep(&mut spare, drop);
        assert!(spare.capacity() >= 4_000, "kept for the next round");
        queues.push_with(|| 7);
        queues.trim(&mut spare);
        assert_eq!(spare.capacity(), 0);
        assert_eq!(swept(&queues), [7], "a queue with items keeps them");
        queues.trim(&mut spare);
        assert_eq!(
            lock(&queues.queues[this_threads_queue()]).items.capacity(),
            0
        );
    }

    #[test]
    fn each_thread_keeps_its_own_order() {
        let queues = std::sync::Arc::new(ThreadQueues::new(1_000));
        let threads: Vec<_> = (0..4_u32)
            .map(|thread| {
                let queues = queues.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        assert_ne!(queues.push_with(|| thread * 1_000 + i), Pushed::Full);
                    }
                })
            })
            .collect();
        let mut seen = Vec::new();
        let mut spare = Vec::new();
        for thread in threads {
            // Sweeping while the threads push: every item exactly once, each thread's in order.
            queues.sweep(&mut spare, |item| seen.push(item));
            assert!(thread.join().is_ok());
        }
        queues.sweep(&mut spare, |item| seen.push(item));
        assert_each_thread_in_order(&seen, 4, 500);
    }

    /// `seen` holds items `thread * 1000 + i` for each of `threads` threads and `i` below
    /// `per_thread`, each exactly once, and each thread's in its order.
    pub(crate) fn assert_each_thread_in_order(seen: &[u32], threads: u32, per_thread: u32) {
        assert_eq!(seen.len(), (threads * per_thread) as usize);
        for thread in 0..threads {
            let own: Vec<u32> = seen
                .iter()
                .copied()
                .filter(|item| item / 1_000 == thread)
                .collect();
            let sent: Vec<u32> = (0..per_thread).map(|i| thread * 1_000 + i).collect();
            assert_eq!(own, sent, "thread {thread}");
        }
    }
}
