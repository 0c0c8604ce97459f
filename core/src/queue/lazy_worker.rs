//! A [`BackgroundWorker`] whose thread starts with its first item.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::queue::background_worker::DEFAULT_QUEUE_CAPACITY;
use crate::{BackgroundStats, BackgroundWorker, Drain};

/// A [`BackgroundWorker`] started by the first [`try_send`](Self::try_send), for sinks whose
/// builder methods must all have run before the drain is made: a sink that is built but never
/// records starts no thread. Clones share the worker.
///
/// ```
/// use std::time::Duration;
/// use openfeature_hooks_core::{Drain};
/// use openfeature_hooks_core::__private::{LazyWorker};
///
/// struct Print;
/// impl Drain<String> for Print {
///     fn handle(&mut self, line: String) {
///         println!("{line}");
///     }
/// }
///
/// let worker = LazyWorker::new("printer").with_capacity(16);
/// assert_eq!(worker.stats().queued, 0); // no thread yet
/// worker.try_send("hello".to_owned(), || Print);
/// assert!(worker.flush(Duration::from_secs(5)));
/// assert_eq!(worker.stats().handled, 1);
/// ```
pub struct LazyWorker<T> {
    name: &'static str,
    capacity: usize,
    per_thread: bool,
    worker: Arc<OnceLock<BackgroundWorker<T>>>,
}

impl<T> Clone for LazyWorker<T> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            capacity: self.capacity,
            per_thread: self.per_thread,
            worker: self.worker.clone(),
        }
    }
}

impl<T: Send + 'static> LazyWorker<T> {
    /// A worker whose thread will be named `name`, with a queue of [`DEFAULT_QUEUE_CAPACITY`].
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            capacity: DEFAULT_QUEUE_CAPACITY,
            per_thread: false,
            worker: Arc::new(OnceLock::new()),
        }
    }

    /// How many items may wait (at least 1). This makes a new, unstarted worker: call it while
    /// building the sink, before the first item.
    #[must_use]
    pub fn with_capacity(self, capacity: usize) -> Self {
        Self {
            capacity,
            worker: Arc::new(OnceLock::new()),
            ..self
        }
    }

    /// A queue per sending thread ([`BackgroundWorker::start_per_thread`]) instead of one
    /// queue in sending order; `capacity` then bounds each thread's queue. This makes a new,
    /// unstarted worker: call it while building the sink.
    #[must_use]
    pub fn per_thread(self) -> Self {
        Self {
            per_thread: true,
            worker: Arc::new(OnceLock::new()),
            ..self
        }
    }

    /// The queue's capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Queues `item` without waiting, starting the thread with the drain `start` makes if this
    /// is the first item; `false` (and counted as dropped) when the queue is full.
    pub fn try_send<D: Drain<T>>(&self, item: T, start: impl FnOnce() -> D) -> bool {
        self.try_send_with(|| item, start)
    }

    /// Queues the item `make` returns, as [`try_send`](Self::try_send) does; see
    /// [`BackgroundWorker::try_send_with`] for when `make` runs.
    pub fn try_send_with<D: Drain<T>>(
        &self,
        make: impl FnOnce() -> T,
        start: impl FnOnce() -> D,
    ) -> bool {
        self.worker
            .get_or_init(|| {
                if self.per_thread {
                    BackgroundWorker::start_per_thread(self.name, self.capacity, start())
                } else {
                    BackgroundWorker::start(self.name, self.capacity, start())
                }
            })
            .try_send_with(make)
    }

    /// [`BackgroundWorker::flush`]; `true` at once when nothing was ever sent.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.worker.get().is_none_or(|worker| worker.flush(timeout))
    }

    /// [`BackgroundWorker::stats`]; zeros (and the capacity) when nothing was ever sent.
    pub fn stats(&self) -> BackgroundStats {
        self.worker.get().map_or_else(
            || BackgroundStats {
                capacity: self.capacity,
                ..BackgroundStats::default()
            },
            BackgroundWorker::stats,
        )
    }
}

impl<T> std::fmt::Debug for LazyWorker<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyWorker")
            .field("name", &self.name)
            .field("capacity", &self.capacity)
            .field("per_thread", &self.per_thread)
            .field("started", &self.worker.get().is_some())
            .finish()
    }
}
