//! Where records go: the trait every backend implements.

use std::sync::Arc;
use std::time::Duration;

use crate::{EvaluationRecord, EvaluationStarted, FlushOutcome, OwnCacheLines, QueuedPart};

/// Receives every evaluation record of a [`TelemetryHook`](crate::TelemetryHook).
///
/// `record` runs inside the application's flag evaluation: it must not block on I/O, and should
/// hand network export to a background exporter (OpenTelemetry's batch processors, Sentry's
/// transport thread, a bounded queue). A panic in `record` is caught by the hook, reported once,
/// and the sink keeps receiving records.
pub trait EvaluationSink: Send + Sync + 'static {
    /// Records one evaluation.
    fn record(&self, record: &EvaluationRecord<'_>);

    /// Whether this sink needs [`EvaluationRecord::started`] (spans, durations). Asked once, when
    /// the hook is built; the hook only tracks start times if a sink needs them.
    fn needs_start(&self) -> bool {
        false
    }

    /// Called from the `before` stage, for sinks that [need starts](Self::needs_start): an
    /// evaluation of a recorded flag begins (request and in-flight counters).
    fn started(&self, _evaluation: &EvaluationStarted<'_>) {}

    /// For a sink whose work waits for a background thread: its [`QueuedSink`](crate::QueuedSink)
    /// half. Asked once, when the hook is built; a hook then never calls
    /// [`record`](Self::record) on this sink, but captures each evaluation once for all such
    /// sinks and queues it once on the hook's [`EvaluationQueue`](crate::EvaluationQueue).
    /// `None` (the default): the hook calls `record`.
    fn queued(&self) -> Option<QueuedPart> {
        None
    }

    /// Waits until what this sink queued before the call (in a queue of its own, or on the
    /// hook's queue, or in a sink it wraps) is delivered, at most `timeout`, and says what was
    /// left. [`TelemetryHook::flush`](crate::TelemetryHook::flush) calls it on every sink; a
    /// sink with a queue must implement it, a wrapper must forward it. Not for the evaluation
    /// path. Default: nothing waits.
    fn flush(&self, _timeout: Duration) -> FlushOutcome {
        FlushOutcome::COMPLETE
    }

    /// Records this sink handled but could not deliver because its destination was gone or
    /// failed (a provider shut down, a writer that errors), as counted in its own stats;
    /// [`TelemetryHook::stats`](crate::TelemetryHook::stats) adds them up in
    /// [`HookStats::lost`](crate::HookStats::lost). A wrapper must forward it. Default: none.
    fn lost(&self) -> u64 {
        0
    }
}

/// A sink that holds another and hands it everything.
macro_rules! forward_evaluation_sink {
    ($([$($generics:tt)*] $holder:ty),+) => {$(
        impl<$($generics)*> EvaluationSink for $holder {
            fn record(&self, record: &EvaluationRecord<'_>) {
                (**self).record(record);
            }

            fn needs_start(&self) -> bool {
                (**self).needs_start()
            }

            fn started(&self, evaluation: &EvaluationStarted<'_>) {
                (**self).started(evaluation);
            }

            fn queued(&self) -> Option<QueuedPart> {
                (**self).queued()
            }

            fn flush(&self, timeout: Duration) -> FlushOutcome {
                (**self).flush(timeout)
            }

            fn lost(&self) -> u64 {
                (**self).lost()
            }
        }
    )+};
}

/// Inside the `EvaluationSink` impl of a wrapper that decides only what reaches the sink in
/// its field `$sink` (`ExposureDedup`, `SampledSink`): everything but `record` goes to that
/// sink, so that starts, the hook's flush and its loss counts reach it.
macro_rules! forward_to_wrapped_sink {
    ($sink:ident) => {
        fn needs_start(&self) -> bool {
            self.$sink.needs_start()
        }

        fn started(&self, evaluation: &$crate::EvaluationStarted<'_>) {
            self.$sink.started(evaluation);
        }

        fn flush(&self, timeout: std::time::Duration) -> $crate::FlushOutcome {
            self.$sink.flush(timeout)
        }

        fn lost(&self) -> u64 {
            self.$sink.lost()
        }
    };
}
pub(crate) use forward_to_wrapped_sink;

// `OwnCacheLines`: the hook keeps each sink on cache lines of its own.
forward_evaluation_sink!(
    [S: EvaluationSink + ?Sized] Arc<S>,
    [S: EvaluationSink + ?Sized] Box<S>,
    [S: EvaluationSink] OwnCacheLines<S>
);

/// A sink made of a closure: `FnSink(|record| ...)`.
///
/// ```
/// use openfeature_hooks_core::{FnSink, TelemetryHook};
///
/// let hook = TelemetryHook::builder()
///     .sink(FnSink(|record: &openfeature_hooks_core::EvaluationRecord<'_>| {
///         let _ = record.flag_key;
///     }))
///     .build();
/// # drop(hook);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct FnSink<F>(pub F);

impl<F> EvaluationSink for FnSink<F>
where
    F: Fn(&EvaluationRecord<'_>) + Send + Sync + 'static,
{
    fn record(&self, record: &EvaluationRecord<'_>) {
        (self.0)(record);
    }
}

/// A sink that drops every record: the baseline of the benchmarks.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopSink;

impl EvaluationSink for NoopSink {
    fn record(&self, _record: &EvaluationRecord<'_>) {}
}
