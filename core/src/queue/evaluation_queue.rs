//! One bounded queue and one thread for every [`QueuedSink`] of a hook.

use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use open_feature::EvaluationContext;

use crate::panic_guard::PanicGuard;
use crate::queue::background_worker::{BackgroundStats, Drain};
use crate::queue::queued_sink::{PendingEvaluation, QueuedNeeds};
use crate::{
    EvaluationRecord, FlushOutcome, LazyWorker, QueuedEvaluation, QueuedRecord, QueuedSink,
};

/// The most sinks one queue serves; a hook's further queued sinks each keep a queue of their
/// own.
pub const MAX_QUEUED_SINKS: usize = 64;

/// A bounded queue drained by one background thread, shared by several [`QueuedSink`]s: each
/// evaluation is offered to every sink, captured once for those that accept it, and sent
/// once. The queue is per evaluating thread
/// ([`BackgroundWorker::start_per_thread`](crate::BackgroundWorker::start_per_thread)): each
/// thread's evaluations reach the sinks in its order, with no order between threads (each
/// record carries its own time), and the capacity bounds each thread's queue. A
/// [`TelemetryHook`](crate::TelemetryHook) makes one for its queued sinks (thread
/// `openfeature-hook`); a queued sink used on its own makes one for itself. The thread starts
/// with the first evaluation sent; dropping the last clone drains what is queued and stops it
/// (see [`BackgroundWorker`](crate::BackgroundWorker) for the bounds).
#[derive(Clone)]
pub struct EvaluationQueue {
    parts: Arc<QueueParts>,
}

/// What clones of a queue share; the thread stops when the last of them goes.
struct QueueParts {
    members: Arc<Members>,
    worker: LazyWorker<QueuedEvaluation>,
}

struct Members {
    sinks: Box<[Arc<dyn QueuedSink>]>,
    /// The sinks, one bit each, that need the metadata map, and the start.
    metadata: u64,
    start: u64,
    #[cfg(feature = "opentelemetry")]
    parent_span: bool,
    /// Panics in the sinks' background work.
    guard: PanicGuard,
    /// Panics in the sinks' `accepts` (a user's logger, say): that sink declines, the others
    /// still get the evaluation.
    accepts_guard: PanicGuard,
}

impl EvaluationQueue {
    /// A queue for `sinks` (at most [`MAX_QUEUED_SINKS`]), its thread named `name`, its
    /// capacity the largest the sinks ask for.
    pub(crate) fn new(name: &'static str, sinks: Vec<Arc<dyn QueuedSink>>) -> Self {
        let mut needs = QueuedNeeds::default();
        let (mut metadata, mut start) = (0, 0);
        for (index, sink) in sinks.iter().enumerate().take(MAX_QUEUED_SINKS) {
            let wants = sink.needs();
            metadata |= u64::from(wants.metadata) << index;
            start |= u64::from(wants.start) << index;
            needs = needs.union(wants);
        }
        let capacity = sinks
            .iter()
            .map(|sink| sink.queue_capacity())
            .max()
            .unwrap_or(1);
        let mut sinks = sinks;
        sinks.truncate(MAX_QUEUED_SINKS);
        let parts = QueueParts {
            members: Arc::new(Members {
                sinks: sinks.into_boxed_slice(),
                metadata,
                start,
                #[cfg(feature = "opentelemetry")]
                parent_span: needs.parent_span,
                guard: PanicGuard::new("a queued sink's background work"),
                accepts_guard: PanicGuard::new("a queued sink's `accepts`"),
            }),
            worker: LazyWorker::new(name).with_capacity(capacity).per_thread(),
        };
        Self {
            parts: Arc::new(parts),
        }
    }

    /// Offers `record` to every sink; when any accepts, captures it once, in the thread's queue,
    /// without waiting. When the queue is full the evaluation is dropped and counted, and
    /// nothing is captured.
    pub fn offer(&self, record: &EvaluationRecord<'_>) {
        let members = &*self.parts.members;
        let pending = self.pending();
        let mut accepted_by = 0_u64;
        for (index, sink) in members.sinks.iter().enumerate() {
            let accepted = members
                .accepts_guard
                .run(|| sink.accepts(record, &pending))
                .unwrap_or(false);
            if accepted {
                accepted_by |= 1 << index;
            }
        }
        if accepted_by != 0 {
            self.send(record, pending, accepted_by);
        }
    }

    /// What is read once for every sink before asking them.
    fn pending(&self) -> PendingEvaluation {
        #[cfg(feature = "opentelemetry")]
        {
            PendingEvaluation {
                parent: if self.parts.members.parent_span {
                    crate::queue::parent_span::ParentSpan::current()
                } else {
                    None
                },
            }
        }
        #[cfg(not(feature = "opentelemetry"))]
        PendingEvaluation::default()
    }

    fn send(&self, record: &EvaluationRecord<'_>, pending: PendingEvaluation, accepted_by: u64) {
        let members = &*self.parts.members;
        let start = if accepted_by & members.start != 0 {
            record.started.map(|start| start.time)
        } else {
            None
        };
        #[cfg(not(feature = "opentelemetry"))]
        let _ = pending;
        // Captured in the queue's buffer, and only when there is room.
        let capture = || QueuedEvaluation {
            record: if accepted_by & members.metadata != 0 {
                QueuedRecord::capture(record)
            } else {
                QueuedRecord::capture_without_metadata(record)
            },
            start,
            #[cfg(feature = "opentelemetry")]
            parent: pending.parent,
            accepted_by,
        };
        self.parts.worker.try_send_with(capture, || QueueDrain {
            members: self.parts.members.clone(),
            context: EvaluationContext::default(),
        });
    }

    /// Waits until every evaluation queued before this call is handled, the sinks are
    /// [idle](QueuedSink::idle) and what they handed on is
    /// [delivered where they can ask for it](QueuedSink::flush_destination), at most `timeout`
    /// in all; `false` on timeout. Not for the evaluation path.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        self.parts.worker.flush(timeout)
            && self.parts.members.sinks.iter().all(|sink| {
                sink.flush_destination(deadline.saturating_duration_since(Instant::now()))
            })
    }

    /// The queue's counters; `panics` counts those of every sink's `accepts` and background
    /// work.
    ///
    /// `lost` adds up what each sink [could not deliver](QueuedSink::lost): with one sink,
    /// evaluations; with several, an evaluation two sinks lost counts twice.
    pub fn stats(&self) -> BackgroundStats {
        let members = &self.parts.members;
        let lost = members.sinks.iter().map(|sink| sink.lost()).sum();
        let mut stats = self.parts.worker.stats().with_lost(lost);
        stats.panics += members.guard.panics() + members.accepts_guard.panics();
        stats
    }

    /// How many sinks the queue serves.
    pub fn sinks(&self) -> usize {
        self.parts.members.sinks.len()
    }
}

impl std::fmt::Debug for EvaluationQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvaluationQueue")
            .field("sinks", &self.sinks())
            .field("stats", &self.stats())
            .finish()
    }
}

/// The queue's thread: each evaluation to the sinks that accepted it.
struct QueueDrain {
    members: Arc<Members>,
    /// The empty context records are lent (the evaluation's is not captured).
    context: EvaluationContext,
}

impl Drain<QueuedEvaluation> for QueueDrain {
    fn handle(&mut self, evaluation: QueuedEvaluation) {
        let members = &*self.members;
        let record = evaluation.record.record(&self.context);
        let mut pending = evaluation.accepted_by;
        while pending != 0 {
            let index = pending.trailing_zeros() as usize;
            pending &= pending - 1;
            if let Some(sink) = members.sinks.get(index) {
                members.guard.run(|| sink.handle(&record, &evaluation));
            }
        }
    }

    fn idle(&mut self) {
        for sink in &self.members.sinks {
            self.members.guard.run(|| sink.idle());
        }
    }
}

/// A queued sink's half as it offers it to a hook
/// ([`EvaluationSink::queued`](crate::EvaluationSink::queued)).
#[derive(Clone)]
pub struct QueuedPart {
    /// The sink's background half.
    pub sink: Arc<dyn QueuedSink>,
    /// Where the sink's clones find the queues it is on, to flush them and read their stats.
    pub membership: QueueMembership,
}

impl std::fmt::Debug for QueuedPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedPart").finish_non_exhaustive()
    }
}

/// The queues a queued sink (and its clones) is on: the queue of each hook it was built into,
/// while that hook lives, and its own, made by its first evaluation outside a hook (in a
/// wrapper, or called directly). A sink keeps one in an `Arc`-shared field and reports its
/// [`flush`](Self::flush) and [`stats`](Self::stats) as its own.
#[derive(Clone, Default)]
pub struct QueueMembership(Arc<MembershipInner>);

#[derive(Default)]
struct MembershipInner {
    own: OnceLock<EvaluationQueue>,
    /// The queues of the hooks the sink was built into, while those hooks live: a sink does
    /// not keep a dropped hook's queue (and thread) alive, and hooks built and dropped again
    /// and again leave nothing behind. Read only by `flush`, `stats` and `joined`, never on
    /// the evaluation path.
    hooks: Mutex<Vec<Weak<QueueParts>>>,
}

impl QueueMembership {
    /// No queue yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Offers `record` to the sink's own queue, made on first use for the sink `sink` gives
    /// (thread [`QueuedSink::thread_name`]): for the sink's
    /// [`EvaluationSink::record`](crate::EvaluationSink::record), when it is reached outside
    /// a hook's queue. `sink` runs only the first time, so that no evaluation pays for a
    /// clone of the sink's `Arc`.
    pub fn offer(&self, sink: impl FnOnce() -> Arc<dyn QueuedSink>, record: &EvaluationRecord<'_>) {
        self.0
            .own
            .get_or_init(|| {
                let sink = sink();
                EvaluationQueue::new(sink.thread_name(), vec![sink])
            })
            .offer(record);
    }

    pub(crate) fn joined(&self, queue: &EvaluationQueue) {
        let mut hooks = self.0.hooks.lock().unwrap_or_else(PoisonError::into_inner);
        hooks.retain(|hook| hook.strong_count() > 0);
        hooks.push(Arc::downgrade(&queue.parts));
    }

    fn queues(&self) -> Vec<EvaluationQueue> {
        let hooks = self.0.hooks.lock().unwrap_or_else(PoisonError::into_inner);
        let live = hooks
            .iter()
            .filter_map(Weak::upgrade)
            .map(|parts| EvaluationQueue { parts });
        self.0.own.get().cloned().into_iter().chain(live).collect()
    }

    /// Flushes every queue the sink is on, at most `timeout` in all.
    pub fn flush(&self, timeout: Duration) -> FlushOutcome {
        let deadline = Instant::now() + timeout;
        self.queues()
            .iter()
            .fold(FlushOutcome::COMPLETE, |outcome, queue| {
                let flushed = queue.flush(deadline.saturating_duration_since(Instant::now()));
                outcome.and(FlushOutcome::of_queue(flushed, queue.stats()))
            })
    }

    /// The counters of the queues the sink is on, added up (the capacity is the largest):
    /// on a hook's queue, they count every evaluation queued for any of its sinks. Zeros and
    /// `default_capacity` when it is on none yet.
    pub fn stats(&self, default_capacity: usize) -> BackgroundStats {
        let queues = self.queues();
        let none = BackgroundStats {
            capacity: if queues.is_empty() {
                default_capacity
            } else {
                0
            },
            ..BackgroundStats::default()
        };
        queues
            .iter()
            .map(EvaluationQueue::stats)
            .fold(none, BackgroundStats::plus)
    }
}

impl std::fmt::Debug for QueueMembership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueMembership")
            .field("queues", &self.queues().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Duration;

    use open_feature::{EvaluationContext, FlagMetadata};

    use super::*;
    use crate::{FlagType, QueuedNeeds};

    /// Accepts the flags whose key starts with `prefix`; remembers what it handled.
    struct Prefix {
        prefix: &'static str,
        needs: QueuedNeeds,
        seen: Mutex<Vec<(String, bool)>>,
    }

    impl Prefix {
        fn new(prefix: &'static str, needs: QueuedNeeds) -> Arc<Self> {
            Arc::new(Self {
                prefix,
                needs,
                seen: Mutex::new(Vec::new()),
            })
        }

        /// (flag key, whether the record had its metadata map) of every evaluation handled.
        fn seen(&self) -> Vec<(String, bool)> {
            self.seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }
    }

    impl QueuedSink for Prefix {
        fn accepts(&self, record: &EvaluationRecord<'_>, _pending: &PendingEvaluation) -> bool {
            record.flag_key.starts_with(self.prefix)
        }

        fn handle(&self, record: &EvaluationRecord<'_>, _evaluation: &QueuedEvaluation) {
            self.seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((record.flag_key.to_owned(), record.metadata.is_some()));
        }

        fn needs(&self) -> QueuedNeeds {
            self.needs
        }
    }

    fn offer(queue: &EvaluationQueue, key: &str, metadata: &FlagMetadata) {
        let context = EvaluationContext::default();
        let mut record = EvaluationRecord::new(key, FlagType::Bool, &context);
        record.metadata = Some(metadata);
        queue.offer(&record);
    }

    #[test]
    fn each_evaluation_is_queued_once_for_the_sinks_that_accept_it() {
        let with_map = Prefix::new("a", QueuedNeeds::default().metadata());
        let without = Prefix::new("ab", QueuedNeeds::default());
        let queue = EvaluationQueue::new("test-queue", vec![with_map.clone(), without.clone()]);
        let metadata = FlagMetadata::default().with_value("owner", "growth");
        for key in ["a", "ab", "b", "abc"] {
            offer(&queue, key, &metadata);
        }
        assert!(queue.flush(Duration::from_secs(10)));

        // "b" concerns no sink: not queued at all.
        let stats = queue.stats();
        assert_eq!((stats.queued, stats.handled, stats.dropped), (3, 3, 0));
        let expected = |keys: &[&str]| -> Vec<(String, bool)> {
            keys.iter().map(|key| ((*key).to_owned(), true)).collect()
        };
        assert_eq!(with_map.seen(), expected(&["a", "ab", "abc"]));
        // The map is captured because a sink that needs it accepted the evaluation; both
        // sinks read the same capture.
        assert_eq!(without.seen(), expected(&["ab", "abc"]));
    }

    #[test]
    fn the_map_is_left_out_when_no_accepting_sink_needs_it() {
        let with_map = Prefix::new("a", QueuedNeeds::default().metadata());
        let without = Prefix::new("b", QueuedNeeds::default());
        let queue = EvaluationQueue::new("test-queue", vec![with_map, without.clone()]);
        offer(
            &queue,
            "b",
            &FlagMetadata::default().with_value("owner", "growth"),
        );
        assert!(queue.flush(Duration::from_secs(10)));
        assert_eq!(without.seen(), [("b".to_owned(), false)]);
    }

    /// Accepts nothing: panics instead.
    struct PanicsInAccepts;

    impl QueuedSink for PanicsInAccepts {
        fn accepts(&self, record: &EvaluationRecord<'_>, _pending: &PendingEvaluation) -> bool {
            panic!("accepts fails on {}", record.flag_key)
        }

        fn handle(&self, _record: &EvaluationRecord<'_>, _evaluation: &QueuedEvaluation) {}
    }

    #[test]
    fn a_sink_that_panics_in_accepts_leaves_the_others_their_evaluations() {
        let other = Prefix::new("", QueuedNeeds::default());
        let queue =
            EvaluationQueue::new("test-queue", vec![Arc::new(PanicsInAccepts), other.clone()]);
        for key in ["a", "b", "c"] {
            offer(&queue, key, &FlagMetadata::default());
        }
        assert!(queue.flush(Duration::from_secs(10)));
        assert_eq!(other.seen().len(), 3);
        let stats = queue.stats();
        assert_eq!((stats.handled, stats.panics), (3, 3));
    }

    #[test]
    fn a_sink_outside_a_hook_gets_a_queue_of_its_own() {
        let sink = Prefix::new("", QueuedNeeds::default());
        let as_queued: Arc<dyn QueuedSink> = sink.clone();
        let membership = QueueMembership::new();
        assert_eq!(
            membership.stats(7).capacity,
            7,
            "no queue before the first record"
        );
        let context = EvaluationContext::default();
        for key in ["x", "y"] {
            membership.offer(
                || as_queued.clone(),
                &EvaluationRecord::new(key, FlagType::Bool, &context),
            );
        }
        assert!(membership.flush(Duration::from_secs(10)).is_complete());
        assert_eq!(membership.stats(7).handled, 2);
        assert_eq!(sink.seen().len(), 2);
    }
}
