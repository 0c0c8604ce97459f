//! Sinks whose work waits for a background thread, sharing one queue per hook.

use crate::queue::background_worker::DEFAULT_QUEUE_CAPACITY;
use crate::{EvaluationRecord, QueuedEvaluation};

/// The background half of a sink: it says on the evaluation path whether an evaluation
/// concerns it ([`accepts`](Self::accepts)), and does its work from the captured evaluation on
/// a background thread ([`handle`](Self::handle)).
///
/// Why: a bounded queue costs an evaluation ~50 ns per send however small the item (the
/// queue's slots and tail were last written by the other core), and a capture of the record
/// as much again. A [`TelemetryHook`](crate::TelemetryHook) therefore captures each
/// evaluation once for all its queued sinks and sends it once, on one
/// [`EvaluationQueue`](crate::EvaluationQueue) drained by one thread (`openfeature-hook`),
/// which hands it to every sink that accepted it, in registration order. A sink offers this
/// half through [`EvaluationSink::queued`](crate::EvaluationSink::queued); used on its own (in
/// a wrapper, or called directly), the same half runs on a queue of its own.
///
/// Sinks of one queue share its capacity and its thread: one that blocks in `handle` (an
/// exporter writing synchronously to a slow endpoint) delays the others, and a full queue
/// drops the evaluation for all of them (counted once, in the queue's
/// [`stats`](crate::EvaluationQueue::stats)).
pub trait QueuedSink: Send + Sync + 'static {
    /// On the evaluation path: whether to queue `record` for this sink. Keep it cheap and
    /// non-blocking, like [`EvaluationSink::record`](crate::EvaluationSink::record), which a
    /// hook does not call on a queued sink. A panic here is contained and counted in the
    /// queue's stats: this sink declines, the others still get the evaluation.
    fn accepts(&self, record: &EvaluationRecord<'_>, pending: &PendingEvaluation) -> bool;

    /// On the queue's thread: the work for one accepted evaluation. `record` is the captured
    /// record ([`QueuedRecord::record`](crate::QueuedRecord::record): no evaluation context,
    /// no `started`/`ended`; the moment is [`QueuedEvaluation::time`]). A panic here is
    /// contained and counted in the queue's stats, and the other sinks still get the
    /// evaluation.
    fn handle(&self, record: &EvaluationRecord<'_>, evaluation: &QueuedEvaluation);

    /// On the queue's thread: the queue is empty for now, or a flush reached it. Write out
    /// anything buffered.
    fn idle(&self) {}

    /// Once a flush has reached this half's queue: waits, at most `timeout`, until what this
    /// half handed on is delivered where it can ask for it (the provider it was made from:
    /// its processors export now), and says whether that finished in time. It must return by
    /// its timeout even when the exporter hangs. Default: nothing to wait for.
    fn flush_destination(&self, _timeout: std::time::Duration) -> bool {
        true
    }

    /// Evaluations this half [handled](Self::handle) but could not deliver, because its
    /// destination was gone or failed (count them in `handle`, and log the first): the queue
    /// moves them from `handled` to `lost` in its stats. Default: none.
    fn lost(&self) -> u64 {
        0
    }

    /// What the captured evaluation must carry for this sink (default: the record only).
    fn needs(&self) -> QueuedNeeds {
        QueuedNeeds::default()
    }

    /// The capacity this sink asks for. A shared queue takes the largest of its sinks'.
    fn queue_capacity(&self) -> usize {
        DEFAULT_QUEUE_CAPACITY
    }

    /// The name of the thread of this sink's own queue, when it has one.
    fn thread_name(&self) -> &'static str {
        "openfeature-queued-sink"
    }
}

/// What a [`QueuedSink`] needs captured beyond the record. Build it with
/// `QueuedNeeds::default()` and the setters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueuedNeeds {
    /// The flag metadata map ([`EvaluationRecord::metadata`]; the set id and version are
    /// always captured).
    pub metadata: bool,
    /// The evaluation's start ([`QueuedEvaluation::start_time`]); the sink must also
    /// [need starts](crate::EvaluationSink::needs_start).
    pub start: bool,
    /// The span active during the evaluation ([`PendingEvaluation::parent_span_ids`],
    /// `QueuedEvaluation::parent_span`): only with the `opentelemetry` feature.
    pub parent_span: bool,
}

impl QueuedNeeds {
    /// With the flag metadata map.
    #[must_use]
    pub fn metadata(mut self) -> Self {
        self.metadata = true;
        self
    }

    /// With the evaluation's start.
    #[must_use]
    pub fn start(mut self) -> Self {
        self.start = true;
        self
    }

    /// With the span active during the evaluation.
    #[must_use]
    pub fn parent_span(mut self) -> Self {
        self.parent_span = true;
        self
    }

    pub(crate) fn union(self, other: Self) -> Self {
        Self {
            metadata: self.metadata || other.metadata,
            start: self.start || other.start,
            parent_span: self.parent_span || other.parent_span,
        }
    }
}

/// What the evaluation path has read once for every [`QueuedSink`] of a queue, before asking
/// them whether they [accept](QueuedSink::accepts) the evaluation.
#[derive(Debug, Default)]
pub struct PendingEvaluation {
    #[cfg(feature = "opentelemetry")]
    pub(crate) parent: Option<crate::queue::parent_span::ParentSpan>,
}

impl PendingEvaluation {
    /// The trace id, span id and flags of the span active during the evaluation, when it has
    /// valid ids and a sink of the queue [needs it](QueuedNeeds::parent_span)
    /// ([`QueuedEvaluation::parent_span`] has its whole context).
    #[cfg(feature = "opentelemetry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
    pub fn parent_span_ids(
        &self,
    ) -> Option<(
        opentelemetry::trace::TraceId,
        opentelemetry::trace::SpanId,
        opentelemetry::trace::TraceFlags,
    )> {
        self.parent
            .as_ref()
            .map(crate::queue::parent_span::ParentSpan::ids)
    }
}
