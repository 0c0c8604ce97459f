//! A bounded queue and the one thread that drains it: how sinks move work that does not need
//! the evaluation's moment (formatting, export, aggregation) off the evaluation path.
//!
//! # Why this shape
//!
//! - **Bounded, dropping when full.** A slow writer or exporter fills the queue; the evaluation
//!   then drops the item (counted in [`BackgroundStats::dropped`]) instead of waiting.
//! - **No lock on the evaluation path.** The queue is `crossbeam-channel`'s array flavour: a
//!   send is a compare-and-swap on the tail and a store in the slot. It takes a lock only to
//!   wake a receiver *blocked* in `recv`, so the worker never blocks there: it drains with
//!   `try_recv` and then parks with a timeout, and senders wake it only when the queue is half
//!   full (`Thread::unpark`, an atomic swap unless the worker is asleep). Blocking in `recv`
//!   instead would make every send after an idle moment a futex wake-up (a system call) on the
//!   evaluation path. Reading the queue's length reads the head the worker writes (a cache miss
//!   while it works), so a sender looks only every 32nd send of its thread, or on every send
//!   for queues of at most 64 items. Measured in an A/B of two runs each way: metrics +329/+328
//!   → +296/+276 ns, JSON lines +201/+197 → +137/+168 ns (BENCHMARKS.md).
//! - **Polling interval.** 1 ms while items arrive, doubling to [`MAX_IDLE_PARK`] while none do:
//!   an idle process wakes the worker a few times a second, a busy one hands it batches.
//! - **A panicking drain does not stop the worker.** A user's writer, exporter or event
//!   mutator runs in [`Drain::handle`]; a panic there is caught, counted
//!   ([`BackgroundStats::panics`]) and logged the first time, as the hook does for sinks on the
//!   evaluation path, and the worker goes on with the next item.
//! - **Flush and shutdown are bounded.** [`BackgroundWorker::flush`] queues a marker behind
//!   everything already queued and waits (at most its timeout) until the worker reaches it.
//!   Dropping the last handle lets the worker drain what is queued and stop; the drop waits at
//!   most [`SHUTDOWN_TIMEOUT`] for it, then leaves the thread to finish on its own.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};

use crate::panic_guard::PanicGuard;

/// The queue capacity sinks use unless told otherwise: like OpenTelemetry's batch processors
/// (2048), a few milliseconds of a busy service's evaluations.
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;

/// The longest the worker sleeps between looks at an empty queue.
pub const MAX_IDLE_PARK: Duration = Duration::from_millis(100);

/// How long dropping the last handle waits for the worker to drain the queue and stop.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

const MIN_PARK: Duration = Duration::from_millis(1);

/// A sender looks at the queue's length once per this many sends (per thread, all queues).
const LENGTH_CHECK_EVERY: u32 = 32;

thread_local! {
    /// Sends by this thread, to look at queue lengths only now and then.
    static SENDS: Cell<u32> = const { Cell::new(0) };
}

/// What a worker does with the items it takes from the queue, on its own thread.
pub trait Drain<T>: Send + 'static {
    /// Handles one item.
    fn handle(&mut self, item: T);

    /// The queue is empty for now, or a flush reached the worker: write out anything buffered.
    fn idle(&mut self) {}
}

/// Counters of a [`BackgroundWorker`], for health checks and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackgroundStats {
    /// Items accepted into the queue (handled, plus those waiting).
    pub queued: u64,
    /// Items dropped because the queue was full (or the worker could not start).
    pub dropped: u64,
    /// Items the worker has handled (including those whose handling panicked).
    pub handled: u64,
    /// Panics caught in the drain (the worker goes on).
    pub panics: u64,
    /// The queue's capacity.
    pub capacity: usize,
}

impl BackgroundStats {
    /// The counters of two queues added up, for a sink whose items wait in both; the capacity
    /// is the larger.
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self {
            queued: self.queued + other.queued,
            dropped: self.dropped + other.dropped,
            handled: self.handled + other.handled,
            panics: self.panics + other.panics,
            capacity: self.capacity.max(other.capacity),
        }
    }
}

enum Message<T> {
    Item(T),
    Flush(Sender<()>),
}

/// A bounded queue drained by one named background thread. Cheap to clone: clones share the
/// queue, and the thread stops once the last clone is dropped (see the module docs).
pub struct BackgroundWorker<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for BackgroundWorker<T> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

struct Shared<T> {
    sender: Option<Sender<Message<T>>>,
    /// Senders wake the worker once the queue holds this many items.
    wake_at: usize,
    capacity: usize,
    thread: Option<Thread>,
    stopped: Receiver<()>,
    counters: Arc<Counters>,
}

/// Only the worker and failed sends write these: a successful send touches no counter.
///
/// On cache lines of their own: the worker writes `handled` for every item, and the senders'
/// read-mostly `Shared` was allocated just before it.
#[repr(align(128))]
struct Counters {
    dropped: AtomicU64,
    handled: AtomicU64,
    drain: PanicGuard,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            dropped: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            drain: PanicGuard::new("a sink's background work (formatting, writing, exporting)"),
        }
    }
}

impl<T: Send + 'static> BackgroundWorker<T> {
    /// Starts a thread named `name` that hands every queued item to `drain`; at most
    /// `capacity` items wait (at least 1).
    pub fn start(name: &str, capacity: usize, drain: impl Drain<T>) -> Self {
        let capacity = capacity.max(1);
        let (sender, receiver) = crossbeam_channel::bounded(capacity);
        let (stopped_sender, stopped) = crossbeam_channel::bounded(1);
        let counters = Arc::new(Counters::default());
        let worker_counters = counters.clone();
        let thread = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                run(receiver, drain, &worker_counters);
                let _ = stopped_sender.send(());
            })
            .map(|handle| handle.thread().clone());
        if let Err(error) = &thread {
            log::error!(
                target: "openfeature_hooks",
                "cannot start the {name} thread, its items are dropped and counted: {error}"
            );
        }
        Self {
            shared: Arc::new(Shared {
                sender: Some(sender),
                wake_at: (capacity / 2).max(1),
                capacity,
                thread: thread.ok(),
                stopped,
                counters,
            }),
        }
    }

    /// Queues `item` without waiting; `false` (and counted as dropped) when the queue is full.
    pub fn try_send(&self, item: T) -> bool {
        let shared = &*self.shared;
        let (Some(sender), Some(thread)) = (&shared.sender, &shared.thread) else {
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        };
        match sender.try_send(Message::Item(item)) {
            Ok(()) => {
                if should_check_length(shared.capacity) && sender.len() >= shared.wake_at {
                    thread.unpark();
                }
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Waits until the worker has handled everything queued before this call and written it
    /// out ([`Drain::idle`]), at most `timeout`. `true` when it did, `false` on timeout.
    ///
    /// Not for the evaluation path: it waits.
    pub fn flush(&self, timeout: Duration) -> bool {
        let shared = &*self.shared;
        let (Some(sender), Some(thread)) = (&shared.sender, &shared.thread) else {
            return true;
        };
        let deadline = Instant::now() + timeout;
        let (done, reached) = crossbeam_channel::bounded(1);
        thread.unpark();
        if sender
            .send_deadline(Message::Flush(done), deadline)
            .is_err()
        {
            return false;
        }
        thread.unpark();
        !matches!(
            reached.recv_deadline(deadline),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected)
        )
    }

    /// The worker's counters.
    pub fn stats(&self) -> BackgroundStats {
        let counters = &self.shared.counters;
        let handled = counters.handled.load(Ordering::Relaxed);
        let waiting = self.shared.sender.as_ref().map_or(0, Sender::len);
        BackgroundStats {
            queued: handled + waiting as u64,
            dropped: counters.dropped.load(Ordering::Relaxed),
            handled,
            panics: counters.drain.panics(),
            capacity: self.shared.capacity,
        }
    }
}

/// Whether this send should look at the queue's length (see the module docs).
fn should_check_length(capacity: usize) -> bool {
    capacity <= 64
        || SENDS
            .try_with(|sends| {
                let count = sends.get().wrapping_add(1);
                sends.set(count);
                count % LENGTH_CHECK_EVERY == 0
            })
            .unwrap_or(true)
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Disconnect: the worker drains what is queued, then stops.
        drop(self.sender.take());
        if let Some(thread) = &self.thread {
            thread.unpark();
            let _ = self.stopped.recv_timeout(SHUTDOWN_TIMEOUT);
        }
    }
}

impl<T> std::fmt::Debug for BackgroundWorker<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counters = &self.shared.counters;
        f.debug_struct("BackgroundWorker")
            .field("capacity", &self.shared.capacity)
            .field("dropped", &counters.dropped.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn run<T>(receiver: Receiver<Message<T>>, mut drain: impl Drain<T>, counters: &Counters) {
    let mut park = MIN_PARK;
    loop {
        match receiver.try_recv() {
            Ok(Message::Item(item)) => {
                counters.drain.run(|| drain.handle(item));
                counters.handled.fetch_add(1, Ordering::Relaxed);
                park = MIN_PARK;
            }
            Ok(Message::Flush(done)) => {
                counters.drain.run(|| drain.idle());
                let _ = done.send(());
            }
            Err(TryRecvError::Empty) => {
                counters.drain.run(|| drain.idle());
                thread::park_timeout(park);
                park = (park * 2).min(MAX_IDLE_PARK);
            }
            Err(TryRecvError::Disconnected) => {
                counters.drain.run(|| drain.idle());
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    struct Collect(Arc<Mutex<Vec<u32>>>);

    impl Drain<u32> for Collect {
        fn handle(&mut self, item: u32) {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(item);
        }
    }

    #[test]
    fn flush_waits_for_everything_queued_before_it() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let worker = BackgroundWorker::start("test-worker", 64, Collect(seen.clone()));
        for i in 0..50 {
            assert!(worker.try_send(i));
        }
        assert!(worker.flush(Duration::from_secs(10)));
        let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
        let stats = worker.stats();
        assert_eq!((stats.queued, stats.handled, stats.dropped), (50, 50, 0));
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        struct Stuck(Receiver<()>);
        impl Drain<u32> for Stuck {
            fn handle(&mut self, _item: u32) {
                let _ = self.0.recv();
            }
        }
        let (release, stuck) = crossbeam_channel::unbounded();
        let worker = BackgroundWorker::start("test-stuck", 4, Stuck(stuck));
        let accepted = (0..100).filter(|&i| worker.try_send(i)).count();
        // At most the queue plus the one item the worker holds.
        assert!(accepted <= 5, "{accepted}");
        assert_eq!(worker.stats().dropped, 100 - accepted as u64);
        assert!(
            !worker.flush(Duration::from_millis(50)),
            "a stuck worker cannot flush"
        );
        for _ in 0..200 {
            let _ = release.send(());
        }
        drop(worker);
    }

    #[test]
    fn a_panicking_drain_is_counted_and_the_worker_goes_on() {
        struct PanicsOnOdd(Arc<Mutex<Vec<u32>>>);
        impl Drain<u32> for PanicsOnOdd {
            fn handle(&mut self, item: u32) {
                assert!(item.is_multiple_of(2), "odd item {item}");
                self.0.lock().unwrap_or_else(|p| p.into_inner()).push(item);
            }
        }
        let seen = Arc::new(Mutex::new(Vec::new()));
        let worker = BackgroundWorker::start("test-panics", 64, PanicsOnOdd(seen.clone()));
        for i in 0..10 {
            assert!(worker.try_send(i));
        }
        assert!(worker.flush(Duration::from_secs(10)), "the worker stopped");
        let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(seen, [0, 2, 4, 6, 8]);
        let stats = worker.stats();
        assert_eq!((stats.handled, stats.panics), (10, 5));
    }

    #[test]
    fn dropping_the_last_handle_drains_the_queue() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let worker = BackgroundWorker::start("test-drop", 64, Collect(seen.clone()));
        let clone = worker.clone();
        for i in 0..10 {
            assert!(clone.try_send(i));
        }
        drop(worker);
        drop(clone);
        assert_eq!(seen.lock().map(|s| s.len()).unwrap_or_default(), 10);
    }
}
