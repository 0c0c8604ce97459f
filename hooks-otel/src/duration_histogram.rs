//! The duration histogram, recorded on a background thread from (series id, seconds) pairs.
//!
//! Recording into the SDK's histogram hashes and looks up the attribute set and takes the
//! bucket's lock: work that does not need the evaluation's moment once the duration is
//! measured. The evaluation path therefore sends only the outcome series' id and the seconds,
//! 16 bytes, through a bounded queue. An id rather than a reference-counted series: the
//! series' counters are written by every evaluating thread, and a reference count or an
//! attribute list read by the background thread beside them would move their cache line
//! between cores on every evaluation. The background thread keeps its own copy of each
//! series' attributes, fetched from the registry the first time it meets an id.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use openfeature_hooks_core::{BackgroundStats, BackgroundWorker, Drain};
use opentelemetry::KeyValue;
use opentelemetry::metrics::Histogram;

/// The attribute sets durations are recorded under, by id. Written when an outcome series is
/// created (bounded by the series table's limit), read by the background thread on a miss.
#[derive(Debug, Default)]
pub(crate) struct DurationAttributes(Mutex<Vec<Arc<[KeyValue]>>>);

impl DurationAttributes {
    /// Registers `attributes`, returning their id.
    pub(crate) fn register(&self, attributes: Vec<KeyValue>) -> u32 {
        let mut sets = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        sets.push(attributes.into());
        u32::try_from(sets.len() - 1).unwrap_or(u32::MAX)
    }
}

/// The duration histogram behind its queue. Clones share the queue and thread.
#[derive(Clone, Debug)]
pub(crate) struct DurationHistogram {
    worker: BackgroundWorker<(u32, f64)>,
    histogram: Histogram<f64>,
    attributes: Arc<DurationAttributes>,
}

impl DurationHistogram {
    /// Records into `histogram` on a thread of its own, at most `capacity` durations of each
    /// evaluating thread waiting (a queue per thread: the histogram does not care about order).
    pub(crate) fn start(
        histogram: Histogram<f64>,
        attributes: Arc<DurationAttributes>,
        capacity: usize,
    ) -> Self {
        let recorder = Recorder {
            histogram: histogram.clone(),
            attributes: attributes.clone(),
            known: Vec::new(),
        };
        Self {
            worker: BackgroundWorker::start_per_thread("openfeature-metrics", capacity, recorder),
            histogram,
            attributes,
        }
    }

    /// The same histogram behind a new queue of `capacity` (this one's thread stops when its
    /// last clone goes).
    pub(crate) fn with_capacity(&self, capacity: usize) -> Self {
        Self::start(self.histogram.clone(), self.attributes.clone(), capacity)
    }

    /// Queues one duration of the series registered as `id`; dropped (counted) when full.
    pub(crate) fn record(&self, id: u32, seconds: f64) {
        self.worker.try_send((id, seconds));
    }

    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        self.worker.flush(timeout)
    }

    pub(crate) fn stats(&self) -> BackgroundStats {
        self.worker.stats()
    }
}

/// The background side.
struct Recorder {
    histogram: Histogram<f64>,
    attributes: Arc<DurationAttributes>,
    /// This thread's copy of the registry.
    known: Vec<Arc<[KeyValue]>>,
}

impl Drain<(u32, f64)> for Recorder {
    fn handle(&mut self, (id, seconds): (u32, f64)) {
        let id = id as usize;
        if id >= self.known.len() {
            let sets = self
                .attributes
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.known.extend(sets[self.known.len()..].iter().cloned());
        }
        if let Some(attributes) = self.known.get(id) {
            self.histogram.record(seconds, attributes);
        }
    }
}
