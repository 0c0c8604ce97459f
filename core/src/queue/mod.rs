//! The background queue: how work that does not need the evaluation's moment (formatting,
//! export, aggregation) leaves it. A bounded queue drained by one thread
//! ([`BackgroundWorker`](crate::BackgroundWorker): one queue in sending order, or one per
//! evaluating thread; drops counted, flush and shutdown bounded); the hook's one queue for its
//! [`QueuedSink`](crate::QueuedSink)s, so that each evaluation is captured and queued once for
//! all of them; the captured record it carries ([`QueuedRecord`](crate::QueuedRecord): texts
//! copied into one buffer, rare parts recycled); and the span active during the evaluation.
//!
//! Used by the hook, by the backends' queued sinks (log events, experiment spans, durations,
//! JSON lines) and by sink authors who move work off the evaluation path.

pub(crate) mod background_worker;
pub(crate) mod captured_texts;
pub(crate) mod evaluation_queue;
pub(crate) mod lazy_worker;
#[cfg(feature = "opentelemetry")]
pub(crate) mod parent_span;
pub(crate) mod queued_evaluation;
pub(crate) mod queued_record;
pub(crate) mod queued_sink;
pub(crate) mod rare_parts;
pub(crate) mod recycled_parts;
pub(crate) mod thread_queues;
