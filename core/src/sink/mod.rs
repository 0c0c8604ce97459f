//! Sinks: the [`EvaluationSink`](crate::EvaluationSink) trait every backend implements (with its
//! flush and loss counting), the closure and no-op sinks, and
//! [`JsonLinesSink`](crate::JsonLinesSink), which writes one JSON object per evaluation from a
//! thread of its own.
//!
//! Used by service owners (JSON lines, a closure) and by sink authors.

pub(crate) mod evaluation_sink;
pub(crate) mod json_lines;
pub(crate) mod json_object;
