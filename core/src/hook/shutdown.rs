//! Shutdown: what a bounded flush left behind ([`FlushOutcome`]), and the guard a service keeps
//! in `main` so that every queue behind a hook is drained when it returns ([`ShutdownGuard`]).
//! Used by service owners (through [`TelemetryHook::flush`], [`TelemetryHook::shutdown`] and
//! [`TelemetryHook::shutdown_guard`]) and by sink authors, whose
//! [`EvaluationSink::flush`](crate::EvaluationSink::flush) returns a [`FlushOutcome`].

use std::time::Duration;

use crate::TelemetryHook;
use crate::queue::background_worker::BackgroundStats;

/// How long a [`ShutdownGuard`] waits, unless told otherwise: as long as OpenTelemetry's
/// providers wait in their own `shutdown`.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// What a bounded flush or shutdown left undelivered.
///
/// ```
/// use std::time::Duration;
/// use openfeature_hooks_core::{JsonLinesSink, TelemetryHook};
///
/// let hook = TelemetryHook::builder().sink(JsonLinesSink::new(std::io::sink())).build();
/// let outcome = hook.flush(Duration::from_secs(5));
/// assert!(outcome.is_complete());
/// assert_eq!(outcome.left, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use = "a flush can time out and leave records undelivered"]
#[non_exhaustive]
pub struct FlushOutcome {
    /// Records still waiting in a queue, or being handled, when the timeout passed; zero when
    /// everything queued before the call was delivered.
    pub left: u64,
    /// Whether the timeout passed before every queue was flushed.
    pub timed_out: bool,
}

impl FlushOutcome {
    /// Nothing left: every queue was flushed in time.
    pub const COMPLETE: Self = Self {
        left: 0,
        timed_out: false,
    };

    /// The timeout passed with `left` records still waiting.
    pub fn timed_out(left: u64) -> Self {
        Self {
            left,
            timed_out: true,
        }
    }

    /// Whether every queue was flushed in time.
    pub fn is_complete(&self) -> bool {
        !self.timed_out
    }

    /// The outcome of flushing one queue: complete when `flushed`, else what its counters
    /// say is still waiting.
    pub fn of_queue(flushed: bool, stats: BackgroundStats) -> Self {
        if flushed {
            Self::COMPLETE
        } else {
            Self::timed_out(stats.waiting())
        }
    }

    /// Two outcomes together (two queues, or two sinks).
    pub fn and(self, other: Self) -> Self {
        Self {
            left: self.left + other.left,
            timed_out: self.timed_out || other.timed_out,
        }
    }
}

/// Shuts a [`TelemetryHook`] down when dropped: kept in `main`, it drains every queue the
/// hook's evaluations feed when `main` returns, at most its timeout, so that a hook registered
/// on the global OpenFeature API (never dropped) loses nothing at exit. Like
/// `tracing_appender`'s `WorkerGuard` and `sentry::init`'s guard.
///
/// Drop it **before** shutting down the OpenTelemetry providers (or dropping Sentry's guard):
/// the hook's queues hand their last records to the providers, whose own shutdown then exports
/// them.
///
/// ```
/// use openfeature_hooks_core::{JsonLinesSink, TelemetryHook};
///
/// let hook = TelemetryHook::builder().sink(JsonLinesSink::new(std::io::stdout())).build();
/// let guard = hook.shutdown_guard();
/// // api.add_hook(hook).await; ... the service runs ...
/// drop(guard); // every queue drained, at most 5 s; then shut down the providers
/// ```
#[derive(Debug)]
#[must_use = "dropping the guard at once shuts the hook down"]
pub struct ShutdownGuard {
    hook: TelemetryHook,
    timeout: Duration,
}

impl ShutdownGuard {
    pub(crate) fn new(hook: TelemetryHook) -> Self {
        Self {
            hook,
            timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// How long the drop waits at most (default [`DEFAULT_SHUTDOWN_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl Drop for ShutdownGuard {
    fn drop(&mut self) {
        let outcome = self.hook.shutdown(self.timeout);
        if !outcome.is_complete() {
            log::warn!(
                target: "openfeature_hooks",
                "the hook's queues were not drained within {:?}: {} records left undelivered",
                self.timeout,
                outcome.left
            );
        }
    }
}
