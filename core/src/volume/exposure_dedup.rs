//! Exposure deduplication: a sink wrapper that passes each exposure once per window.

use std::fmt;
use std::time::Duration;

use crate::sink::evaluation_sink::forward_to_wrapped_sink;
use crate::speed::striped_counters::StripedCounters;
use crate::volume::exposure_key::{exposure_hash, exposure_place};
use crate::volume::exposure_table::{Admission, ExposureTable};
use crate::{Clock, EvaluationRecord, EvaluationSink, MonotonicClock};

/// The default window of [`ExposureDedup`]: ten minutes, as LaunchDarkly's `DedupingHook`.
pub const DEFAULT_EXPOSURE_WINDOW: Duration = Duration::from_secs(600);

/// The default capacity of [`ExposureDedup`]: 65 536 exposure keys (512 KiB), as the Datadog
/// tracers' exposure cache.
pub const DEFAULT_EXPOSURE_CAPACITY: usize = 65_536;

const PASSED: usize = 0;
const SUPPRESSED: usize = 1;
const EVICTED: usize = 2;

/// Wraps any sink so that it receives each **exposure** once per window instead of every
/// evaluation: a `feature_flag.evaluation` log event, a JSON line or a user's own record only
/// when a context first sees a flag's variant.
///
/// # The exposure key
///
/// An evaluation passes if its key did not pass within the last `window`:
///
/// - success: flag key, context, variant (without a variant: a fingerprint of the value), flag
///   version (`version` metadata) and set id (`flagSetId` metadata). A new variant, a new version
///   or a new context passes at once.
/// - failure: flag key, error type and context. Failures pass once per window per
///   (flag, error type, context), so a new kind of failure is never hidden behind an old one.
///
/// The context is the raw context id ([`context_id_source`](crate::context_id_source): flag
/// metadata `contextId`, else the targeting key), hashed in memory: deduplication works the same
/// whether the record keeps, hashes or omits the context id. Evaluations without a context id
/// share one key per flag and variant.
///
/// # Bounds
///
/// A fixed table of `capacity` slots (rounded up to a power of two; 8 bytes each), allocated
/// once, lock-free: one time read, one hash and one cache line per evaluation. Memory does not
/// grow with the number of keys. When a key's slots are all taken, it replaces another key's
/// entry: that key then passes again early (an *extra* record, counted as
/// [`evicted`](ExposureStats::evicted)); a key that did not pass within its window is never
/// suppressed. Of many threads evaluating the same new key at once, exactly one passes. The
/// module docs of `exposure_table` explain how. Windows are kept within 1/64 of their length; the
/// default clock moves in kernel ticks (1 to 4 ms), so windows under a second are approximate.
///
/// # Defaults
///
/// [`DEFAULT_EXPOSURE_WINDOW`] (10 minutes) and [`DEFAULT_EXPOSURE_CAPACITY`] (65 536 keys).
/// Size the capacity to the exposures expected in one window (contexts active in a window ×
/// flags they evaluate); too small costs extra records, never lost ones.
///
/// # Where to use it
///
/// The conventions define `feature_flag.evaluation` as one event per evaluation, so
/// deduplication is the application's choice, per sink. Keep [`MetricsSink`]-like sinks, which
/// count evaluations, outside the wrapper; they see every evaluation anyway (the hook hands every
/// record to every sink). The wrapped sink's [`started`](EvaluationSink::started) is called for
/// every evaluation, as without the wrapper.
///
/// [`MetricsSink`]: https://docs.rs/openfeature-hooks-otel/latest/openfeature_hooks_otel/struct.MetricsSink.html
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use openfeature_hooks_core::{ExposureDedup, JsonLinesSink, TelemetryHook};
///
/// let exposures = Arc::new(
///     ExposureDedup::builder()
///         .window(Duration::from_secs(300))
///         .capacity(100_000)
///         .build(JsonLinesSink::new(std::io::stdout())),
/// );
/// let hook = TelemetryHook::builder().sink(exposures.clone()).build();
/// // Later, for a health check:
/// let stats = exposures.stats();
/// assert_eq!(stats.passed + stats.suppressed, 0);
/// # drop(hook);
/// ```
pub struct ExposureDedup<S, C = MonotonicClock> {
    sink: S,
    table: ExposureTable,
    clock: C,
    window: Duration,
    counters: StripedCounters<3>,
}

/// What an [`ExposureDedup`] did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExposureStats {
    /// Evaluations passed to the wrapped sink.
    pub passed: u64,
    /// Evaluations held back: their exposure passed within the window.
    pub suppressed: u64,
    /// Entries replaced before their window ended because the table was full where they lived;
    /// each may cause one extra record later. Many of them mean the capacity is too small.
    pub evicted: u64,
}

/// Configures an [`ExposureDedup`].
#[must_use]
#[derive(Debug)]
pub struct ExposureDedupBuilder<C = MonotonicClock> {
    window: Duration,
    capacity: usize,
    clock: C,
}

impl ExposureDedup<(), MonotonicClock> {
    /// Starts a builder with the defaults.
    pub fn builder() -> ExposureDedupBuilder {
        ExposureDedupBuilder {
            window: DEFAULT_EXPOSURE_WINDOW,
            capacity: DEFAULT_EXPOSURE_CAPACITY,
            clock: MonotonicClock::new(),
        }
    }
}

impl<S: EvaluationSink> ExposureDedup<S> {
    /// Wraps `sink` with the default window and capacity.
    pub fn new(sink: S) -> Self {
        ExposureDedup::builder().build(sink)
    }
}

impl<C: Clock> ExposureDedupBuilder<C> {
    /// How long an exposure is remembered (default [`DEFAULT_EXPOSURE_WINDOW`]; at least 1 ms).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window.max(Duration::from_millis(1));
        self
    }

    /// How many exposure keys are remembered (default [`DEFAULT_EXPOSURE_CAPACITY`]; rounded up
    /// to a power of two, at least 8, at most 2^27).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.clamp(8, 1 << 27);
        self
    }

    /// The time source (default [`MonotonicClock`]); tests give a
    /// [`ManualClock`](crate::ManualClock).
    pub fn clock<D: Clock>(self, clock: D) -> ExposureDedupBuilder<D> {
        ExposureDedupBuilder {
            window: self.window,
            capacity: self.capacity,
            clock,
        }
    }

    /// Wraps `sink`.
    pub fn build<S: EvaluationSink>(self, sink: S) -> ExposureDedup<S, C> {
        ExposureDedup {
            sink,
            table: ExposureTable::new(self.capacity, self.window),
            clock: self.clock,
            window: self.window,
            counters: StripedCounters::new(),
        }
    }
}

impl<S, C> ExposureDedup<S, C> {
    /// Passed, suppressed and evicted so far.
    pub fn stats(&self) -> ExposureStats {
        ExposureStats {
            passed: self.counters.get(PASSED),
            suppressed: self.counters.get(SUPPRESSED),
            evicted: self.counters.get(EVICTED),
        }
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The number of exposure keys the table holds (the capacity asked for, rounded up).
    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// How many slots of the table hold a key, expired ones included. Scans the whole table:
    /// for tests and occasional checks, not for every evaluation.
    pub fn occupied(&self) -> usize {
        self.table.occupied()
    }

    /// The wrapped sink.
    pub fn inner(&self) -> &S {
        &self.sink
    }
}

impl<S: EvaluationSink, C: Clock> EvaluationSink for ExposureDedup<S, C> {
    #[inline]
    fn record(&self, record: &EvaluationRecord<'_>) {
        let place = exposure_place(record);
        let hash = exposure_hash(place, record);
        let tick = self.table.tick(self.clock.elapsed());
        match self.table.admit(place, hash, tick) {
            Admission::Suppress => self.counters.add(SUPPRESSED),
            Admission::Pass { evicted } => {
                self.counters.add(PASSED);
                if evicted {
                    self.counters.add(EVICTED);
                }
                self.sink.record(record);
            }
        }
    }

    forward_to_wrapped_sink!(sink);
}

impl<S, C> fmt::Debug for ExposureDedup<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExposureDedup")
            .field("sink", &std::any::type_name::<S>())
            .field("window", &self.window)
            .field("capacity", &self.capacity())
            .field("clock", &std::any::type_name::<C>())
            .field("stats", &self.stats())
            .finish()
    }
}
