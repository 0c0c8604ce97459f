//! Sampling: a sink wrapper that keeps a fixed fraction of records, whole contexts at a time.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;

use crate::sink::evaluation_sink::forward_to_wrapped_sink;
use crate::speed::fast_hash::mix64;
use crate::speed::striped_counters::StripedCounters;
use crate::{EvaluationRecord, EvaluationSink, context_fingerprint};

const KEPT: usize = 0;
const DROPPED: usize = 1;

/// Wraps any sink so that it receives a fraction `rate` of the records.
///
/// - **With a context id** ([`context_id_source`](crate::context_id_source)), the choice depends
///   on the context only: a context is always in or always out, for every flag, in every process
///   using the same rate and seed. Per-context analysis (which variants did this user see?)
///   stays whole, and the kept fraction of contexts is `rate`.
/// - **Without one**, each evaluation is kept with probability `rate`, independently.
///
/// Every record passed on carries the rate in [`EvaluationRecord::sample_rate`] (multiplied
/// with any rate an outer sampler set), and the JSON-lines sink and the OpenTelemetry log events
/// write it out, so counts can be scaled back: each kept record stands for `1 / sample_rate`
/// evaluations. Keep counting sinks (metrics) outside the sampler.
///
/// The decision costs a hash of the context id (or a per-thread random number) and one
/// comparison; nothing is allocated or locked.
///
/// ```
/// use openfeature_hooks_core::{JsonLinesSink, SampledSink, TelemetryHook};
///
/// let hook = TelemetryHook::builder()
///     .sink(SampledSink::new(0.05, JsonLinesSink::new(std::io::stdout())))
///     .build();
/// # drop(hook);
/// ```
pub struct SampledSink<S> {
    sink: S,
    rate: f64,
    /// Records whose draw is below this pass; `None` keeps everything.
    threshold: Option<u64>,
    seed: u64,
    counters: StripedCounters<2>,
}

/// What a [`SampledSink`] did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SamplingStats {
    /// Records passed to the wrapped sink.
    pub kept: u64,
    /// Records left out.
    pub dropped: u64,
}

impl<S: EvaluationSink> SampledSink<S> {
    /// Keeps a fraction `rate` of records (clamped to 0..=1; NaN keeps nothing) for `sink`.
    pub fn new(rate: f64, sink: S) -> Self {
        let rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        // 2^64 as a float; `as` saturates, and a rate of 1 keeps everything.
        let threshold = (rate < 1.0).then_some((rate * 18_446_744_073_709_551_616.0) as u64);
        Self {
            sink,
            rate,
            threshold,
            seed: 0,
            counters: StripedCounters::new(),
        }
    }

    /// Chooses another subset of contexts for the same rate (default 0). Services that should
    /// keep the same contexts use the same seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

impl<S> SampledSink<S> {
    /// The rate.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Kept and dropped so far.
    pub fn stats(&self) -> SamplingStats {
        SamplingStats {
            kept: self.counters.get(KEPT),
            dropped: self.counters.get(DROPPED),
        }
    }

    /// The wrapped sink.
    pub fn inner(&self) -> &S {
        &self.sink
    }

    /// Whether `record` is kept: the sampling decision alone.
    #[inline]
    pub fn keeps(&self, record: &EvaluationRecord<'_>) -> bool {
        let Some(threshold) = self.threshold else {
            return true;
        };
        let draw = match context_fingerprint(record) {
            Some(fingerprint) if self.seed == 0 => fingerprint,
            Some(fingerprint) => mix64(fingerprint ^ self.seed),
            None => random_draw(),
        };
        draw < threshold
    }
}

thread_local! {
    static RANDOM_STATE: Cell<u64> = const { Cell::new(0) };
}

/// A per-thread pseudo-random `u64` (a Weyl sequence through `mix64`), seeded from the
/// operating system's randomness on first use.
#[inline]
fn random_draw() -> u64 {
    RANDOM_STATE
        .try_with(|state| {
            let mut current = state.get();
            if current == 0 {
                current = RandomState::new().hash_one(0x5eed_u64) | 1;
            }
            current = current.wrapping_add(0x9E37_79B9_7F4A_7C15);
            state.set(current);
            mix64(current)
        })
        .unwrap_or(0)
}

impl<S: EvaluationSink> EvaluationSink for SampledSink<S> {
    #[inline]
    fn record(&self, record: &EvaluationRecord<'_>) {
        if !self.keeps(record) {
            self.counters.add(DROPPED);
            return;
        }
        self.counters.add(KEPT);
        let mut sampled = record.clone();
        sampled.sample_rate = Some(record.sample_rate.unwrap_or(1.0) * self.rate);
        self.sink.record(&sampled);
    }

    forward_to_wrapped_sink!(sink);
}

impl<S> fmt::Debug for SampledSink<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SampledSink")
            .field("sink", &std::any::type_name::<S>())
            .field("rate", &self.rate)
            .field("seed", &self.seed)
            .field("stats", &self.stats())
            .finish()
    }
}
