//! A bounded queue and the one thread that drains it: how sinks move work that does not need
//! the evaluation's moment (formatting, export, aggregation) off the evaluation path.
//!
//! # Why this shape
//!
//! - **Bounded, dropping when full.** A slow writer or exporter fills the queue; the evaluation
//!   then drops the item (counted in [`BackgroundStats::dropped`]) instead of waiting.
//! - **Two intakes.** [`BackgroundWorker::start`] keeps one queue in sending order, for output
//!   whose order across threads matters (JSON lines, the relay's audit log).
//!   [`BackgroundWorker::start_per_thread`] gives each sending thread a queue of its own that
//!   the worker sweeps whole, for the hook's queued sinks and the duration histogram, whose
//!   items carry their own time: a send then writes only cache lines its own core holds. The
//!   queue's lock is the thread's own; the worker takes it for a swap per sweep and once per 32
//!   items handed over, never while handling an item. Measured on the every-backend
//!   evaluation: the send from ~60 to ~25 ns under `perf`, and the metrics sink's duration
//!   in a tight loop from 99..107 to 61..87 ns on one thread, 144..167 to 99..109 ns on two
//!   (BENCHMARKS.md, "2026-11-29, 20:30 to 22:00 UTC").
//! - **No lock shared by every thread on the evaluation path.** The in-order queue is
//!   `crossbeam-channel`'s array flavour: a
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
//!   everything already queued (per thread: asks for a sweep, which takes every thread's queue
//!   under its lock) and waits (at most its timeout) until the worker reaches it.
//!   Dropping the last handle lets the worker drain what is queued and stop; the drop waits at
//!   most [`SHUTDOWN_TIMEOUT`] for it, then leaves the thread to finish on its own.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use crate::panic_guard::PanicGuard;
use crate::queue::thread_queues::{Pushed, ThreadQueues};

/// The queue capacity sinks use unless told otherwise: like OpenTelemetry's batch processors
/// (2048), a few milliseconds of a busy service's evaluations.
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;

/// The longest the worker sleeps between looks at an empty queue.
pub const MAX_IDLE_PARK: Duration = Duration::from_millis(100);

/// How long dropping the last handle waits for the worker to drain the queue and stop.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

const MIN_PARK: Duration = Duration::from_millis(1);

/// Flush requests that may wait for a per-thread worker at once; more wait in `flush`.
const FLUSH_REQUESTS: usize = 64;

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
    /// Items the worker has handled (including those whose handling panicked), less those
    /// counted in `lost`: a record is never counted here when it went nowhere.
    pub handled: u64,
    /// Items handled whose destination was gone or failed (a logger whose provider was shut
    /// down, a writer that errors, a hook shut down before they reached it): counted by the
    /// sink that knows, and logged once by it. Zero for a bare worker.
    pub lost: u64,
    /// Panics caught in the drain (the worker goes on).
    pub panics: u64,
    /// The queue's capacity (each sending thread's, for a worker started
    /// [per thread](BackgroundWorker::start_per_thread)).
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
            lost: self.lost + other.lost,
            panics: self.panics + other.panics,
            capacity: self.capacity.max(other.capacity),
        }
    }

    /// Items accepted and not yet handled (waiting, or being handled).
    pub fn waiting(&self) -> u64 {
        self.queued.saturating_sub(self.handled + self.lost)
    }

    /// These counters with `lost` of the handled items moved from `handled` to `lost`: for a
    /// sink that learns after handing an item on that it went nowhere.
    #[must_use]
    pub fn with_lost(self, lost: u64) -> Self {
        let lost = lost.min(self.handled);
        Self {
            handled: self.handled - lost,
            lost: self.lost + lost,
            ..self
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
    /// `None` once the last handle is dropped: the worker then drains what is queued and stops.
    intake: Option<Intake<T>>,
    capacity: usize,
    thread: Option<Thread>,
    stopped: Receiver<()>,
    counters: Arc<Counters>,
}

/// Where senders put items, and how the worker takes them.
enum Intake<T> {
    /// One queue for every thread: items are handled in the order they were sent.
    InOrder {
        sender: Sender<Message<T>>,
        /// Senders wake the worker once the queue holds this many items.
        wake_at: usize,
        /// Set by a send that found the queue full, cleared by one that found room again:
        /// while it is set, a sender asks whether the queue is still full before it makes its
        /// item. Written only on those changes, so healthy sends only read it.
        seen_full: AtomicBool,
    },
    /// A queue per thread ([`ThreadQueues`]): each thread's items in its order.
    PerThread {
        queues: Arc<ThreadQueues<T>>,
        /// Flush requests, each answered once the worker has swept after receiving it.
        flushes: Sender<Sender<()>>,
    },
}

/// Only the worker and failed sends write these: a successful send touches no counter.
///
/// On cache lines of their own: the worker writes `handled` for every item, and the senders'
/// read-mostly `Shared` was allocated just before it.
#[repr(align(128))]
struct Counters {
    dropped: AtomicU64,
    /// Items the in-order worker has taken from its queue: handled, or being handled. The item
    /// it is stuck on is in neither the queue's length nor `handled`.
    taken: AtomicU64,
    handled: AtomicU64,
    /// Flush markers in the in-order queue, which its length counts but `queued` must not.
    flush_markers: AtomicU64,
    drain: PanicGuard,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            dropped: AtomicU64::new(0),
            taken: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            flush_markers: AtomicU64::new(0),
            drain: PanicGuard::new("a sink's background work (formatting, writing, exporting)"),
        }
    }
}

impl<T: Send + 'static> BackgroundWorker<T> {
    /// Starts a thread named `name` that hands every queued item to `drain`, in the order
    /// they were sent; at most `capacity` items wait (at least 1).
    pub fn start(name: &str, capacity: usize, drain: impl Drain<T>) -> Self {
        let capacity = capacity.max(1);
        let (sender, receiver) = crossbeam_channel::bounded(capacity);
        let intake = Intake::InOrder {
            sender,
            wake_at: wake_at(capacity),
            seen_full: AtomicBool::new(false),
        };
        Self::spawn(name, capacity, intake, move |counters| {
            run_in_order(&receiver, drain, counters);
        })
    }

    /// Starts a thread named `name` that hands every queued item to `drain`, with a queue per
    /// sending thread: each thread's items in the order it sent them, no order between
    /// threads. At most `capacity` items wait **per
    /// thread** (at least 1); the first 64 sending threads each have their own queue, later
    /// ones share them. For work on the evaluation path whose order across threads does not
    /// matter: a send touches no cache line the worker writes on every item.
    pub fn start_per_thread(name: &str, capacity: usize, drain: impl Drain<T>) -> Self {
        let queues = Arc::new(ThreadQueues::new(capacity));
        let (flushes, requests) = crossbeam_channel::bounded(FLUSH_REQUESTS);
        let intake = Intake::PerThread {
            queues: queues.clone(),
            flushes,
        };
        Self::spawn(name, queues.capacity(), intake, move |counters| {
            run_per_thread(&queues, &requests, drain, counters);
        })
    }

    fn spawn(
        name: &str,
        capacity: usize,
        intake: Intake<T>,
        run: impl FnOnce(&Counters) + Send + 'static,
    ) -> Self {
        let (stopped_sender, stopped) = crossbeam_channel::bounded(1);
        let counters = Arc::new(Counters::default());
        let worker_counters = counters.clone();
        let thread = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                run(&worker_counters);
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
                intake: Some(intake),
                capacity,
                thread: thread.ok(),
                stopped,
                counters,
            }),
        }
    }

    /// Queues `item` without waiting; `false` (and counted as dropped) when the queue is full.
    pub fn try_send(&self, item: T) -> bool {
        self.try_send_with(|| item)
    }

    /// Queues the item `make` returns without waiting; `false` (and counted as dropped) when
    /// the queue is full. A per-thread worker ([`start_per_thread`](Self::start_per_thread))
    /// calls `make` only when there is room, under the thread's queue lock, next to where the
    /// item is stored: a large item is copied fewer times, and never made to be dropped. An
    /// in-order worker ([`start`](Self::start)) calls it unless its queue was found full by
    /// an earlier send and still is. `make` must not send to this worker.
    pub fn try_send_with(&self, make: impl FnOnce() -> T) -> bool {
        let shared = &*self.shared;
        let (Some(intake), Some(thread)) = (&shared.intake, &shared.thread) else {
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        };
        match intake {
            Intake::PerThread { queues, .. } => match queues.push_with(make) {
                Pushed::Queued => true,
                Pushed::QueuedWake => {
                    thread.unpark();
                    true
                }
                // Counted in the queue.
                Pushed::Full => false,
            },
            Intake::InOrder {
                sender,
                wake_at,
                seen_full,
            } => {
                // A queue found full is asked again first: an item is not made only to be
                // dropped while the worker is stuck.
                if seen_full.load(Ordering::Relaxed) && sender.is_full() {
                    shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
                match sender.try_send(Message::Item(make())) {
                    Ok(()) => {
                        if seen_full.load(Ordering::Relaxed) {
                            seen_full.store(false, Ordering::Relaxed);
                        }
                        if should_check_length(shared.capacity) && sender.len() >= *wake_at {
                            thread.unpark();
                        }
                        true
                    }
                    Err(error) => {
                        if error.is_full() {
                            seen_full.store(true, Ordering::Relaxed);
                        }
                        shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
                        false
                    }
                }
            }
        }
    }

    /// Waits until the worker has handled everything queued before this call and written it
    /// out ([`Drain::idle`]), at most `timeout`. `true` when it did, `false` on timeout.
    ///
    /// Not for the evaluation path: it waits.
    pub fn flush(&self, timeout: Duration) -> bool {
        let shared = &*self.shared;
        let (Some(intake), Some(thread)) = (&shared.intake, &shared.thread) else {
            return true;
        };
        let deadline = Instant::now() + timeout;
        let (done, reached) = crossbeam_channel::bounded(1);
        thread.unpark();
        let asked = match intake {
            Intake::InOrder { sender, .. } => {
                shared
                    .counters
                    .flush_markers
                    .fetch_add(1, Ordering::Relaxed);
                let sent = sender.send_deadline(Message::Flush(done), deadline).is_ok();
                if !sent {
                    shared
                        .counters
                        .flush_markers
                        .fetch_sub(1, Ordering::Relaxed);
                }
                sent
            }
            Intake::PerThread { flushes, .. } => flushes.send_deadline(done, deadline).is_ok(),
        };
        if !asked {
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
        // Acquire: what the worker counted before an item's `handled` is seen below, so
        // `queued` is never below `handled`.
        let handled = counters.handled.load(Ordering::Acquire);
        let (queued, dropped_in_queues) = match &self.shared.intake {
            Some(Intake::InOrder { sender, .. }) => (
                (counters.taken.load(Ordering::Relaxed) + sender.len() as u64)
                    .saturating_sub(counters.flush_markers.load(Ordering::Relaxed)),
                0,
            ),
            Some(Intake::PerThread { queues, .. }) => (queues.accepted(), queues.dropped()),
            None => (handled, 0),
        };
        BackgroundStats {
            queued,
            dropped: counters.dropped.load(Ordering::Relaxed) + dropped_in_queues,
            handled,
            lost: 0,
            panics: counters.drain.panics(),
            capacity: self.shared.capacity,
        }
    }
}

/// The queue length at which senders wake the worker: half full.
pub(crate) fn wake_at(capacity: usize) -> usize {
    (capacity / 2).max(1)
}

/// Parks the worker for `park`, then doubles it up to [`MAX_IDLE_PARK`] for the next time
/// nothing arrives.
fn park_and_back_off(park: &mut Duration) {
    thread::park_timeout(*park);
    *park = (*park * 2).min(MAX_IDLE_PARK);
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
        drop(self.intake.take());
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

fn run_in_order<T>(receiver: &Receiver<Message<T>>, mut drain: impl Drain<T>, counters: &Counters) {
    let mut park = MIN_PARK;
    loop {
        match receiver.try_recv() {
            Ok(Message::Item(item)) => {
                counters.taken.fetch_add(1, Ordering::Relaxed);
                counters.drain.run(|| drain.handle(item));
                counters.handled.fetch_add(1, Ordering::Release);
                park = MIN_PARK;
            }
            Ok(Message::Flush(done)) => {
                counters.flush_markers.fetch_sub(1, Ordering::Relaxed);
                counters.drain.run(|| drain.idle());
                let _ = done.send(());
            }
            Err(TryRecvError::Empty) => {
                counters.drain.run(|| drain.idle());
                park_and_back_off(&mut park);
            }
            Err(TryRecvError::Disconnected) => {
                counters.drain.run(|| drain.idle());
                return;
            }
        }
    }
}

/// The worker of [`BackgroundWorker::start_per_thread`]: sweeps every thread's queue until a
/// sweep finds nothing, then writes out and parks as [`run_in_order`] does. A flush request is
/// answered after a sweep that began once it had arrived.
fn run_per_thread<T>(
    queues: &ThreadQueues<T>,
    requests: &Receiver<Sender<()>>,
    mut drain: impl Drain<T>,
    counters: &Counters,
) {
    let mut park = MIN_PARK;
    let mut spare = Vec::new();
    let mut answering = Vec::new();
    let mut trimmed = true;
    loop {
        let mut disconnected = false;
        loop {
            match requests.try_recv() {
                Ok(done) => answering.push(done),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    disconnected = true;
                    break;
                }
            }
        }
        let taken = queues.sweep(&mut spare, |item| {
            counters.drain.run(|| drain.handle(item));
            counters.handled.fetch_add(1, Ordering::Release);
        });
        if taken > 0 {
            park = MIN_PARK;
            trimmed = false;
            if answering.is_empty() && !disconnected {
                continue;
            }
        }
        counters.drain.run(|| drain.idle());
        for done in answering.drain(..) {
            let _ = done.send(());
        }
        if disconnected {
            // Senders are gone (the last handle dropped): one last sweep found what they left.
            if taken == 0 {
                return;
            }
            continue;
        }
        if taken == 0 {
            if park == MAX_IDLE_PARK && !trimmed {
                // Quiet for the whole back-off (~130 ms): give the buffers back.
                queues.trim(&mut spare);
                trimmed = true;
            }
            park_and_back_off(&mut park);
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

    /// Both kinds of worker: in sending order, and per thread.
    const KINDS: [bool; 2] = [false, true];

    fn start(per_thread: bool, capacity: usize, drain: impl Drain<u32>) -> BackgroundWorker<u32> {
        if per_thread {
            BackgroundWorker::start_per_thread("test-per-thread", capacity, drain)
        } else {
            BackgroundWorker::start("test-in-order", capacity, drain)
        }
    }

    fn seen(seen: &Mutex<Vec<u32>>) -> Vec<u32> {
        seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    #[test]
    fn flush_waits_for_everything_queued_before_it() {
        for per_thread in KINDS {
            let collected = Arc::new(Mutex::new(Vec::new()));
            let worker = start(per_thread, 64, Collect(collected.clone()));
            for i in 0..50 {
                assert!(worker.try_send(i));
            }
            assert!(worker.flush(Duration::from_secs(10)));
            assert_eq!(
                seen(&collected),
                (0..50).collect::<Vec<_>>(),
                "{per_thread}"
            );
            let stats = worker.stats();
            assert_eq!((stats.queued, stats.handled, stats.dropped), (50, 50, 0));
        }
    }

    #[test]
    fn per_thread_a_flush_waits_for_other_threads_items_and_each_keeps_its_order() {
        let collected = Arc::new(Mutex::new(Vec::new()));
        let worker = start(true, 1_000, Collect(collected.clone()));
        let senders: Vec<_> = (0..3_u32)
            .map(|thread| {
                let worker = worker.clone();
                std::thread::spawn(move || (0..300).all(|i| worker.try_send(thread * 1_000 + i)))
            })
            .collect();
        for sender in senders {
            assert!(matches!(sender.join(), Ok(true)));
        }
        assert!(worker.flush(Duration::from_secs(10)));
        crate::queue::thread_queues::tests::assert_each_thread_in_order(&seen(&collected), 3, 300);
        assert_eq!(worker.stats().queued, 900);
    }

    /// Says when it holds an item, then waits until it is released (every item at once, when
    /// the sender of `released` is dropped).
    struct Stuck {
        holding: Sender<()>,
        released: Receiver<()>,
    }

    impl Drain<u32> for Stuck {
        fn handle(&mut self, _item: u32) {
            let _ = self.holding.send(());
            let _ = self.released.recv();
        }
    }

    /// A stuck drain, what it says when it holds an item, and its release.
    fn stuck() -> (Stuck, Receiver<()>, Sender<()>) {
        let (holding, held) = crossbeam_channel::unbounded();
        let (release, released) = crossbeam_channel::unbounded();
        (Stuck { holding, released }, held, release)
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        for per_thread in KINDS {
            let (stuck, held, release) = stuck();
            let worker = start(per_thread, 4, stuck);
            let accepted = (0..100).filter(|&i| worker.try_send(i)).count();
            // At most the queue plus the one item the worker holds.
            assert!(accepted <= 5, "{per_thread}: {accepted}");
            // Counted once the worker holds an item, however late it woke.
            assert!(
                held.recv_timeout(Duration::from_secs(10)).is_ok(),
                "{per_thread}"
            );
            let stats = worker.stats();
            assert_eq!(stats.dropped, 100 - accepted as u64, "{per_thread}");
            assert_eq!(stats.queued, accepted as u64, "{per_thread}");
            assert!(
                !worker.flush(Duration::from_millis(50)),
                "a stuck worker cannot flush"
            );
            drop(release);
            drop(worker);
        }
    }

    #[test]
    fn a_full_queue_makes_no_item_to_drop_and_makes_them_again_once_it_has_room() {
        for per_thread in KINDS {
            let (stuck, held, release) = stuck();
            let worker = start(per_thread, 4, stuck);
            let made = std::cell::Cell::new(0_u64);
            let make = |item| {
                made.set(made.get() + 1);
                item
            };
            // The worker holds the first item before the queue fills: no room is freed below.
            assert!(worker.try_send_with(|| make(0)));
            assert!(
                held.recv_timeout(Duration::from_secs(10)).is_ok(),
                "{per_thread}"
            );
            let accepted = 1
                + (1..100)
                    .filter(|&i| worker.try_send_with(|| make(i)))
                    .count() as u64;
            // Per thread, nothing is made without room; in order, the one send that first
            // found the queue full made its item.
            let wasted = u64::from(!per_thread);
            assert_eq!(made.get(), accepted + wasted, "{per_thread}");
            assert_eq!(worker.stats().dropped, 100 - accepted, "{per_thread}");
            drop(release);
            assert!(worker.flush(Duration::from_secs(10)), "{per_thread}");
            assert!(worker.try_send_with(|| make(100)), "room again");
            assert_eq!(made.get(), accepted + wasted + 1, "{per_thread}");
            drop(worker);
        }
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
        for per_thread in KINDS {
            let collected = Arc::new(Mutex::new(Vec::new()));
            let worker = start(per_thread, 64, PanicsOnOdd(collected.clone()));
            for i in 0..10 {
                assert!(worker.try_send(i));
            }
            assert!(worker.flush(Duration::from_secs(10)), "the worker stopped");
            assert_eq!(seen(&collected), [0, 2, 4, 6, 8]);
            let stats = worker.stats();
            assert_eq!((stats.handled, stats.panics), (10, 5));
        }
    }

    #[test]
    fn dropping_the_last_handle_drains_the_queue() {
        for per_thread in KINDS {
            let collected = Arc::new(Mutex::new(Vec::new()));
            let worker = start(per_thread, 64, Collect(collected.clone()));
            let clone = worker.clone();
            for i in 0..10 {
                assert!(clone.try_send(i));
            }
            drop(worker);
            drop(clone);
            assert_eq!(seen(&collected).len(), 10, "{per_thread}");
        }
    }
}
