//! One evaluation as an [`EvaluationQueue`](crate::EvaluationQueue) carries it to its thread.

use std::time::SystemTime;

use crate::QueuedRecord;

/// An evaluation captured once for every [`QueuedSink`](crate::QueuedSink) of a queue that
/// accepted it: the record ([`QueuedRecord`]), its moment, and what the sinks
/// [need](crate::QueuedNeeds) beyond it.
///
/// Aligned to a cache line, so that each slot of the queue holds whole lines: unaligned (224
/// bytes), the slot the evaluation writes shares a line with the one the background thread
/// reads, and a log event alone added +240 ns to an evaluation instead of +214 ns
/// (BENCHMARKS.md, "One queue per hook").
#[derive(Debug)]
#[repr(align(64))]
pub struct QueuedEvaluation {
    pub(crate) record: QueuedRecord,
    pub(crate) start: Option<SystemTime>,
    #[cfg(feature = "opentelemetry")]
    pub(crate) parent: Option<crate::queue::parent_span::ParentSpan>,
    /// The queue's sinks that accepted it, one bit each in registration order.
    pub(crate) accepted_by: u64,
}

impl QueuedEvaluation {
    /// The captured record.
    pub fn queued_record(&self) -> &QueuedRecord {
        &self.record
    }

    /// When the evaluation was recorded (its moment, not the background thread's).
    pub fn time(&self) -> SystemTime {
        self.record.time()
    }

    /// When the evaluation started, for a sink that [needs it](crate::QueuedNeeds::start) and
    /// when the hook saw the start.
    pub fn start_time(&self) -> Option<SystemTime> {
        self.start
    }

    /// The span active during the evaluation, trace state included, for a sink that
    /// [needs it](crate::QueuedNeeds::parent_span), when it had valid ids.
    #[cfg(feature = "opentelemetry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
    pub fn parent_span(&self) -> Option<opentelemetry::trace::SpanContext> {
        self.parent
            .as_ref()
            .map(crate::queue::parent_span::ParentSpan::span_context)
    }

    /// The same span's ids, without cloning its trace state.
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

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    /// Every byte of a queued item is written into a queue slot the other core read last
    /// (BENCHMARKS.md, "One queue per hook"): an evaluation with a parent span takes four
    /// cache lines, whole.
    #[test]
    fn a_queued_evaluation_takes_four_cache_lines() {
        assert!(size_of::<crate::QueuedRecord>() <= 160);
        assert!(size_of::<super::QueuedEvaluation>() <= 256);
        assert_eq!(align_of::<super::QueuedEvaluation>(), 64);
    }
}
