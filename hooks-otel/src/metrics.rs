//! The evaluation metrics shared by the Go, JavaScript, Java and .NET hooks, plus a duration
//! histogram.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use openfeature_hooks_core::__private::StripedCount;
use openfeature_hooks_core::DEFAULT_QUEUE_CAPACITY;
use openfeature_hooks_core::{
    BackgroundStats, EvaluationRecord, EvaluationSink, EvaluationStarted, FlushOutcome,
};
use opentelemetry::metrics::{
    AsyncInstrument, Meter, MeterProvider, ObservableCounter, ObservableUpDownCounter,
};
use opentelemetry::{InstrumentationScope, KeyValue};

use crate::attribute_naming::{self, AttributeNaming, SharedNaming};
use crate::attributes::reason_value;
use crate::distinct_contexts::DistinctContexts;
use crate::duration_histogram::{DurationAttributes, DurationHistogram};
use crate::series_table::{Parts, Series, SeriesCache, SeriesTable};

thread_local! {
    /// This thread's recently used flag series (see `SeriesCache`).
    static FLAG_CACHE: SeriesCache<FlagSeries> = SeriesCache::new();
    /// This thread's recently used outcome series.
    static OUTCOME_CACHE: SeriesCache<OutcomeSeries> = SeriesCache::new();
}

/// The names of the instruments [`MetricsSink`] reports, for queries, alerts and views.
pub mod instrument {
    /// Up-down counter of evaluations in flight (`{request}`).
    pub const ACTIVE_COUNT: &str = "feature_flag.evaluation_active_count";
    /// Counter of evaluations started (`{request}`).
    pub const REQUESTS_TOTAL: &str = "feature_flag.evaluation_requests_total";
    /// Counter of successful evaluations (`{impression}`).
    pub const SUCCESS_TOTAL: &str = "feature_flag.evaluation_success_total";
    /// Counter of failed evaluations (`{request}`).
    pub const ERROR_TOTAL: &str = "feature_flag.evaluation_error_total";
    /// Histogram of evaluation durations in seconds.
    pub const DURATION: &str = "feature_flag.evaluation.duration";
    /// Gauge of distinct contexts per flag and variant (`{context}`), opt-in: see
    /// [`MetricsSink::with_distinct_contexts`](crate::MetricsSink::with_distinct_contexts).
    pub const DISTINCT_CONTEXTS: &str = "feature_flag.evaluation.distinct_contexts";
}

/// Bucket boundaries of the duration histogram, in seconds: 10 µs to 10 s. Local evaluations
/// take microseconds, remote ones milliseconds; the SDK's default boundaries start at 5 ms and
/// would put every local evaluation in the first bucket.
pub const DURATION_BOUNDARIES: [f64; 19] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How many distinct series each table keeps before new ones share an overflow series with the
/// attribute `otel.metric.overflow = true` (the SDK's own cardinality limit is also 2000).
pub const MAX_SERIES: usize = 2000;

/// Records the evaluation metrics:
///
/// | instrument | kind, unit | when | attributes |
/// | --- | --- | --- | --- |
/// | `feature_flag.evaluation_active_count` | up-down counter, `{request}` | +1 at start, -1 when recorded | key, provider |
/// | `feature_flag.evaluation_requests_total` | counter, `{request}` | at start | key, provider |
/// | `feature_flag.evaluation_success_total` | counter, `{impression}` | on success | key, provider, variant, reason |
/// | `feature_flag.evaluation_error_total` | counter, `{request}` | on failure | key, provider, `error.type` |
/// | `feature_flag.evaluation.duration` | histogram, `s` | when recorded | key, provider, reason, `error.type` |
///
/// Only low-cardinality attributes: never messages, values or context ids. Attribute names
/// follow the chosen [`AttributeNaming`] ([`with_naming`](Self::with_naming)). The duration
/// histogram's buckets are [`DURATION_BOUNDARIES`]; each table of series keeps at most
/// [`MAX_SERIES`] series, then shares one overflow series.
///
/// The counters are observable instruments: each series (flag, provider, variant, reason, error
/// type) counts in atomics and the totals are reported at collection. An evaluation then costs
/// two lookups of series (in a per-thread cache: no lock) and atomic additions, instead of five
/// SDK calls that each build and hash an attribute set. Each count is striped (one 64-byte
/// cache line per CPU, at most 32), so threads evaluating the same flag on different cores do
/// not take turns at one cache line. With both tables full on a machine of 32 CPUs or more, the
/// counts take 8 MiB (2 KiB a series); with 8 CPUs, 2 MiB.
///
/// The duration is measured on the evaluation path (from the `before` stage to the record) and
/// recorded into the SDK's histogram on a background thread (`openfeature-metrics`), behind a
/// bounded queue per evaluating thread: a full queue drops the duration and counts it
/// ([`MetricsSink::stats`]); the
/// counters are never dropped. [`MetricsSink::flush`] waits (bounded) until every queued
/// duration is recorded: call it before the provider's `force_flush` when reading an exporter.
///
/// Create **one** `MetricsSink` per meter provider and clone it (cheaply) for every hook that
/// should report into it: each sink registers its own observable instruments, so two separately
/// created sinks on one meter would both report the same series, and a collector keeps only one
/// of the two totals. Clones share the instruments, the counts and the options: set the options
/// before cloning and before the first evaluation.
///
/// ```
/// use openfeature_hooks_core::TelemetryHook;
/// use openfeature_hooks_otel::{AttributeNaming, MetricsSink};
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
///
/// let meters = SdkMeterProvider::builder().build();
/// let metrics = MetricsSink::from_provider(&meters)
///     .with_naming(AttributeNaming::Both)
///     .with_queue_capacity(16_384)
///     .with_distinct_contexts();
/// let hook = TelemetryHook::builder().sink(metrics.clone()).build();
/// // ... evaluate flags; before reading an exporter, flush the durations:
/// assert!(metrics.flush(std::time::Duration::from_secs(5)).is_complete());
/// # drop(hook);
/// ```
#[derive(Clone, Debug)]
pub struct MetricsSink {
    state: Arc<MetricsState>,
    /// Records durations into the SDK's histogram, off the evaluation path.
    durations: DurationHistogram,
    _instruments: Arc<ObservableInstruments>,
    meter: Meter,
    distinct_contexts: Option<Arc<DistinctContexts>>,
}

#[derive(Debug)]
struct ObservableInstruments {
    _active: ObservableUpDownCounter<i64>,
    _requests: ObservableCounter<u64>,
    _success: ObservableCounter<u64>,
    _errors: ObservableCounter<u64>,
}

#[derive(Debug)]
struct MetricsState {
    /// Read when a series is created; the distinct-context gauge reads the same.
    naming: Arc<SharedNaming>,
    flags: SeriesTable<FlagSeries>,
    outcomes: SeriesTable<OutcomeSeries>,
    /// Each outcome's duration attributes, by [`OutcomeSeries::duration_id`].
    duration_attributes: Arc<DurationAttributes>,
    /// The opt-in gauge, registered at most once whatever the clones ask.
    distinct_contexts: OnceLock<Arc<DistinctContexts>>,
}

/// One (flag, provider): evaluations started, and those recorded in the outcome table's
/// overflow series.
///
/// Evaluations in flight are not counted apart: they are the requests less the evaluations
/// recorded, which the outcome series of the flag already count (see [`MetricsState::active`]).
/// An evaluation then costs one atomic addition at its start and one at its record, not two
/// each.
#[derive(Debug)]
struct FlagSeries {
    attributes: Vec<KeyValue>,
    /// Striped: every thread evaluating a hot flag adds to it.
    requests: StripedCount,
    /// Evaluations of this flag recorded in the outcome table's overflow series, which counts
    /// them for many flags at once.
    recorded_in_overflow: AtomicU64,
}

type FlagHandle = Arc<Series<FlagSeries>>;

/// One outcome of one flag: success with (variant, reason), or failure with an error type.
#[derive(Debug)]
struct OutcomeSeries {
    /// The flag's series, so recording needs one lookup (`None` for the shared overflow series).
    flag: Option<FlagHandle>,
    failed: bool,
    attributes: Vec<KeyValue>,
    /// Striped, like [`FlagSeries::requests`].
    count: StripedCount,
    /// Its duration attributes' id in [`MetricsState::duration_attributes`].
    duration_id: u32,
}

fn overflow_attributes() -> Vec<KeyValue> {
    vec![KeyValue::new("otel.metric.overflow", true)]
}

impl MetricsState {
    fn flag_attributes(&self, flag_key: &str, provider: Option<&str>) -> Vec<KeyValue> {
        let mut attributes = vec![KeyValue::new(attribute_naming::KEY, flag_key.to_owned())];
        if let Some(provider) = provider {
            for names in self.naming.get().revisions() {
                attributes.push(KeyValue::new(names.provider, provider.to_owned()));
            }
        }
        attributes
    }

    /// Evaluations in flight per flag series, from the counters: the requests less the
    /// evaluations recorded. Each record is counted (with `Release`) after its request, and
    /// the recorded counts are read (with `Acquire`) before the requests, so a record is never
    /// seen without its request; a negative difference (an evaluation recorded by a sink that
    /// was not told of its start) reads as zero.
    fn active(&self, mut observe: impl FnMut(i64, &[KeyValue])) {
        let mut recorded: HashMap<*const FlagSeries, u64> = HashMap::new();
        self.outcomes.for_each(|outcome| {
            if let Some(flag) = &outcome.flag {
                *recorded.entry(&raw const flag.data).or_default() += outcome.count.sum();
            }
        });
        self.flags.for_each(|flag| {
            let done = recorded.get(&(&raw const *flag)).copied().unwrap_or(0)
                + flag.recorded_in_overflow.load(Ordering::Acquire);
            let requests = flag.requests.sum();
            let active = i64::try_from(requests.saturating_sub(done)).unwrap_or(i64::MAX);
            observe(active, &flag.attributes);
        });
    }

    fn flag(&self, flag_key: &str, provider: Option<&str>) -> FlagHandle {
        self.with_flag(flag_key, provider, Arc::clone)
    }

    /// Calls `visit` with the series of (flag, provider), from this thread's cache if it can.
    fn with_flag<R>(
        &self,
        flag_key: &str,
        provider: Option<&str>,
        visit: impl FnMut(&FlagHandle) -> R,
    ) -> R {
        let make = |attributes| FlagSeries {
            attributes,
            requests: StripedCount::new(),
            recorded_in_overflow: AtomicU64::new(0),
        };
        self.flags.with_series(
            &FLAG_CACHE,
            [Some(flag_key), provider, None, None, None],
            || make(self.flag_attributes(flag_key, provider)),
            || make(overflow_attributes()),
            visit,
        )
    }

    /// Calls `visit` with the series of the record's outcome, from this thread's cache if it
    /// can.
    fn with_outcome<R>(
        &self,
        record: &EvaluationRecord<'_>,
        visit: impl FnMut(&Arc<Series<OutcomeSeries>>) -> R,
    ) -> R {
        let error_type = record.error_type().map(|t| t.as_str());
        let variant = if error_type.is_none() {
            record.variant
        } else {
            None
        };
        let reason = record.reason.as_ref().map(|r| r.as_str());
        let parts: Parts<'_> = [
            Some(record.flag_key),
            record.provider_name,
            variant,
            reason,
            error_type,
        ];
        let make = || {
            let naming = self.naming.get();
            let base = self.flag_attributes(record.flag_key, record.provider_name);
            let mut reason_attributes = Vec::new();
            if let Some(reason) = &record.reason {
                let text = reason_value(reason);
                for names in naming.revisions() {
                    reason_attributes.push(KeyValue::new(names.reason, text.clone()));
                }
            }
            let error_attribute =
                error_type.map(|t| KeyValue::new(attribute_naming::ERROR_TYPE, t));
            let mut attributes = base.clone();
            match &error_attribute {
                Some(error) => attributes.push(error.clone()),
                None => {
                    if let Some(variant) = variant {
                        for names in naming.revisions() {
                            attributes.push(KeyValue::new(names.variant, variant.to_owned()));
                        }
                    }
                    attributes.extend(reason_attributes.iter().cloned());
                }
            }
            let mut duration_attributes = base;
            duration_attributes.extend(reason_attributes);
            duration_attributes.extend(error_attribute);
            OutcomeSeries {
                flag: Some(self.flag(record.flag_key, record.provider_name)),
                failed: error_type.is_some(),
                attributes,
                count: StripedCount::new(),
                duration_id: self.duration_attributes.register(duration_attributes),
            }
        };
        let make_overflow = || OutcomeSeries {
            flag: None,
            failed: error_type.is_some(),
            attributes: overflow_attributes(),
            count: StripedCount::new(),
            duration_id: self.duration_attributes.register(overflow_attributes()),
        };
        self.outcomes
            .with_series(&OUTCOME_CACHE, parts, make, make_overflow, visit)
    }
}

impl MetricsSink {
    /// Creates the instruments on `meter` (what `MeterProvider::meter` and
    /// `opentelemetry::global::meter` return), with today's attribute names.
    pub fn new(meter: &Meter) -> Self {
        let capacity = DEFAULT_QUEUE_CAPACITY;
        let state = Arc::new(MetricsState {
            naming: Arc::default(),
            flags: SeriesTable::new(MAX_SERIES),
            outcomes: SeriesTable::new(MAX_SERIES),
            duration_attributes: Arc::default(),
            distinct_contexts: OnceLock::new(),
        });
        let active_state = state.clone();
        let instruments = ObservableInstruments {
            _active: meter
                .i64_observable_up_down_counter(instrument::ACTIVE_COUNT)
                .with_unit("{request}")
                .with_description("Flag evaluations in progress")
                .with_callback(move |observer| {
                    active_state.active(|active, attributes| observer.observe(active, attributes));
                })
                .build(),
            _requests: observable_counter(
                meter,
                CounterSpec::REQUESTS,
                &state,
                |state, observer| {
                    state
                        .flags
                        .for_each(|f| observer.observe(f.requests.sum(), &f.attributes));
                },
            ),
            _success: observable_counter(meter, CounterSpec::SUCCESS, &state, |state, observer| {
                state.outcomes.for_each(|o| {
                    if !o.failed {
                        observer.observe(o.count.sum(), &o.attributes);
                    }
                });
            }),
            _errors: observable_counter(meter, CounterSpec::ERRORS, &state, |state, observer| {
                state.outcomes.for_each(|o| {
                    if o.failed {
                        observer.observe(o.count.sum(), &o.attributes);
                    }
                });
            }),
        };
        let duration = meter
            .f64_histogram(instrument::DURATION)
            .with_unit("s")
            .with_description("Duration of flag evaluations")
            .with_boundaries(DURATION_BOUNDARIES.to_vec())
            .build();
        Self {
            durations: DurationHistogram::start(
                duration,
                state.duration_attributes.clone(),
                capacity,
            ),
            state,
            _instruments: Arc::new(instruments),
            meter: meter.clone(),
            distinct_contexts: None,
        }
    }

    /// Creates the instruments on a meter of `provider` whose instrumentation scope is this
    /// crate (`openfeature-hooks-otel`, and its version). Takes the global provider too:
    /// `MetricsSink::from_provider(&*opentelemetry::global::meter_provider())`.
    pub fn from_provider<P>(provider: &P) -> Self
    where
        P: MeterProvider + ?Sized,
    {
        let scope = InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Self::new(&provider.meter_with_scope(scope))
    }

    /// The attribute names to write (default: [`AttributeNaming::Current`]), on the counters,
    /// the histogram and the distinct-context gauge alike, whichever of this and
    /// [`with_distinct_contexts`](Self::with_distinct_contexts) comes first. Series are named
    /// when they are created: set it before the first evaluation (series already created keep
    /// their names). Clones share it.
    #[must_use]
    pub fn with_naming(self, naming: AttributeNaming) -> Self {
        self.state.naming.set(naming);
        self
    }

    /// How many durations of one evaluating thread may wait for the histogram (default
    /// [`DEFAULT_QUEUE_CAPACITY`]; the queue is per thread); past that, durations are dropped
    /// and counted in [`stats`](Self::stats). The counters are never dropped. Set it before
    /// the first evaluation.
    #[must_use]
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.durations = self.durations.with_capacity(capacity);
        self
    }

    /// Also reports `feature_flag.evaluation.distinct_contexts`: an observable gauge of how many
    /// distinct contexts received each (flag, variant) since the process started, such as how
    /// many users are in a 5% rollout. Off by default.
    ///
    /// Each series is a HyperLogLog sketch (4 KiB, 1.6% relative standard error) fed with a
    /// hash of the raw context id (flag metadata `contextId`, else the targeting key), whatever
    /// the hook's context id policy: no context id is stored or exported, only the estimate. At
    /// most [`MAX_DISTINCT_CONTEXT_SERIES`](crate::MAX_DISTINCT_CONTEXT_SERIES) series (1 MiB),
    /// then an overflow series. Failed evaluations and evaluations without a context id are not
    /// counted. Estimates are per process: they cannot be summed across instances (a context
    /// seen by two instances counts in both).
    ///
    /// The gauge is registered once per sink: asked again (on the sink or a clone), it keeps
    /// the gauge and the estimates it has. Clones made before it do not count contexts.
    #[must_use]
    pub fn with_distinct_contexts(mut self) -> Self {
        let distinct_contexts = self.state.distinct_contexts.get_or_init(|| {
            Arc::new(DistinctContexts::register(
                &self.meter,
                self.state.naming.clone(),
            ))
        });
        self.distinct_contexts = Some(distinct_contexts.clone());
        self
    }

    /// Waits until every duration queued before this call is recorded in the histogram, at
    /// most `timeout`, and says how many were left. Not for the evaluation path.
    ///
    /// A duration recorded after the meter provider was shut down is not exported, and
    /// OpenTelemetry's SDK (0.33) gives an instrument no sign of it: shut the hook down (its
    /// [`ShutdownGuard`](openfeature_hooks_core::ShutdownGuard)) before the provider, so that
    /// this queue is empty when the provider's own shutdown exports the histogram.
    pub fn flush(&self, timeout: Duration) -> FlushOutcome {
        FlushOutcome::of_queue(self.durations.flush(timeout), self.durations.stats())
    }

    /// This sink's counters, those of its duration queue: durations `queued`, `dropped`
    /// because the queue was full, and `handled` (recorded into the histogram). The counters
    /// (requests, successes, errors) are never dropped.
    pub fn stats(&self) -> BackgroundStats {
        self.durations.stats()
    }
}

/// Name, unit and description of an observable counter.
struct CounterSpec {
    name: &'static str,
    unit: &'static str,
    description: &'static str,
}

impl CounterSpec {
    const REQUESTS: Self = Self {
        name: instrument::REQUESTS_TOTAL,
        unit: "{request}",
        description: "Flag evaluations started",
    };
    const SUCCESS: Self = Self {
        name: instrument::SUCCESS_TOTAL,
        unit: "{impression}",
        description: "Flag evaluations that succeeded",
    };
    const ERRORS: Self = Self {
        name: instrument::ERROR_TOTAL,
        unit: "{request}",
        description: "Flag evaluations that failed",
    };
}

/// An observable `u64` counter whose callback reads `state` with `observe`.
fn observable_counter(
    meter: &Meter,
    spec: CounterSpec,
    state: &Arc<MetricsState>,
    observe: fn(&MetricsState, &dyn AsyncInstrument<u64>),
) -> ObservableCounter<u64> {
    let state = state.clone();
    meter
        .u64_observable_counter(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .with_callback(move |observer| observe(&state, observer))
        .build()
}

impl EvaluationSink for MetricsSink {
    fn needs_start(&self) -> bool {
        true
    }

    fn flush(&self, timeout: Duration) -> FlushOutcome {
        MetricsSink::flush(self, timeout)
    }

    fn started(&self, evaluation: &EvaluationStarted<'_>) {
        self.state
            .with_flag(evaluation.flag_key, evaluation.provider_name, |flag| {
                flag.data.requests.add(1);
            });
    }

    fn record(&self, record: &EvaluationRecord<'_>) {
        let seconds = record.duration().map(|took| took.as_secs_f64());
        if let Some(distinct_contexts) = &self.distinct_contexts {
            distinct_contexts.record(record);
        }
        let mut duration_id = None;
        self.state.with_outcome(record, |outcome| {
            // Release: whoever reads this count sees the request counted at the start (the
            // evaluations in flight are the difference).
            outcome.data.count.add(1);
            if outcome.data.flag.is_none() {
                // The overflow series counts many flags: count this one's record on its flag.
                self.state
                    .with_flag(record.flag_key, record.provider_name, |flag| {
                        flag.data
                            .recorded_in_overflow
                            .fetch_add(1, Ordering::Release);
                    });
            }
            if record.started.is_some() {
                duration_id = Some(outcome.data.duration_id);
            }
        });
        if let (Some(id), Some(seconds)) = (duration_id, seconds) {
            self.durations.record(id, seconds);
        }
    }
}
