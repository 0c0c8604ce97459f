//! The evaluation metrics shared by the Go, JavaScript, Java and .NET hooks, plus a duration
//! histogram.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use openfeature_hooks_core::{EvaluationRecord, EvaluationSink, EvaluationStarted};
use opentelemetry::metrics::{
    AsyncInstrument, Histogram, Meter, MeterProvider, ObservableCounter, ObservableUpDownCounter,
};
use opentelemetry::{InstrumentationScope, KeyValue};

use crate::attribute_naming::{self, AttributeNaming};
use crate::attributes::reason_value;
use crate::distinct_contexts::DistinctContexts;
use crate::series_table::{Parts, SeriesTable};

/// Instrument names.
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
/// follow the chosen [`AttributeNaming`].
///
/// The counters are observable instruments: each series (flag, provider, variant, reason, error
/// type) counts in an atomic and the totals are reported at collection. An evaluation then costs
/// two lookups of cached series and one histogram record, instead of five SDK calls that each
/// build and hash an attribute set. At most [`MAX_SERIES`] series per table are kept.
///
/// Create **one** `MetricsSink` per meter provider and clone it (cheaply) for every hook that
/// should report into it: each sink registers its own observable instruments, so two separately
/// created sinks on one meter would both report the same series, and a collector keeps only one
/// of the two totals.
#[derive(Clone, Debug)]
pub struct MetricsSink {
    state: Arc<MetricsState>,
    duration: Histogram<f64>,
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
    naming: AttributeNaming,
    flags: SeriesTable<FlagSeries>,
    outcomes: SeriesTable<OutcomeSeries>,
}

/// One (flag, provider): requests and evaluations in flight.
#[derive(Debug)]
struct FlagSeries {
    attributes: Vec<KeyValue>,
    requests: AtomicU64,
    active: AtomicI64,
}

type FlagHandle = Arc<crate::series_table::Series<FlagSeries>>;

/// One outcome of one flag: success with (variant, reason), or failure with an error type.
#[derive(Debug)]
struct OutcomeSeries {
    /// The flag's series, so recording needs one lookup (`None` for the shared overflow series).
    flag: Option<FlagHandle>,
    failed: bool,
    attributes: Vec<KeyValue>,
    count: AtomicU64,
    duration_attributes: Vec<KeyValue>,
}

fn overflow_attributes() -> Vec<KeyValue> {
    vec![KeyValue::new("otel.metric.overflow", true)]
}

impl MetricsState {
    fn flag_attributes(&self, flag_key: &str, provider: Option<&str>) -> Vec<KeyValue> {
        let mut attributes = vec![KeyValue::new(attribute_naming::KEY, flag_key.to_owned())];
        if let Some(provider) = provider {
            for names in self.naming.revisions() {
                attributes.push(KeyValue::new(names.provider, provider.to_owned()));
            }
        }
        attributes
    }

    fn flag(&self, flag_key: &str, provider: Option<&str>) -> FlagHandle {
        let make = |attributes| FlagSeries {
            attributes,
            requests: AtomicU64::new(0),
            active: AtomicI64::new(0),
        };
        self.flags.get(
            [Some(flag_key), provider, None, None, None],
            || make(self.flag_attributes(flag_key, provider)),
            || make(overflow_attributes()),
        )
    }

    fn outcome(
        &self,
        record: &EvaluationRecord<'_>,
    ) -> Arc<crate::series_table::Series<OutcomeSeries>> {
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
            let base = self.flag_attributes(record.flag_key, record.provider_name);
            let mut reason_attributes = Vec::new();
            if let Some(reason) = &record.reason {
                let text = reason_value(reason);
                for names in self.naming.revisions() {
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
                        for names in self.naming.revisions() {
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
                count: AtomicU64::new(0),
                duration_attributes,
            }
        };
        let make_overflow = || OutcomeSeries {
            flag: None,
            failed: error_type.is_some(),
            attributes: overflow_attributes(),
            count: AtomicU64::new(0),
            duration_attributes: overflow_attributes(),
        };
        self.outcomes.get(parts, make, make_overflow)
    }
}

impl MetricsSink {
    /// Creates the instruments on `meter`, with today's attribute names.
    pub fn new(meter: &Meter) -> Self {
        Self::with_meter_and_naming(meter, AttributeNaming::default())
    }

    /// Creates the instruments on a meter of `provider` whose scope is this crate.
    pub fn from_provider(provider: &impl MeterProvider) -> Self {
        let scope = InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Self::new(&provider.meter_with_scope(scope))
    }

    /// Creates the instruments on `meter`, with `naming`'s attribute names.
    pub fn with_meter_and_naming(meter: &Meter, naming: AttributeNaming) -> Self {
        let state = Arc::new(MetricsState {
            naming,
            flags: SeriesTable::new(MAX_SERIES),
            outcomes: SeriesTable::new(MAX_SERIES),
        });
        let active_state = state.clone();
        let instruments = ObservableInstruments {
            _active: meter
                .i64_observable_up_down_counter(instrument::ACTIVE_COUNT)
                .with_unit("{request}")
                .with_description("Flag evaluations in progress")
                .with_callback(move |observer| {
                    active_state.flags.for_each(|f| {
                        observer.observe(f.active.load(Ordering::Relaxed), &f.attributes)
                    });
                })
                .build(),
            _requests: observable_counter(
                meter,
                CounterSpec::REQUESTS,
                &state,
                |state, observer| {
                    state.flags.for_each(|f| {
                        observer.observe(f.requests.load(Ordering::Relaxed), &f.attributes)
                    });
                },
            ),
            _success: observable_counter(meter, CounterSpec::SUCCESS, &state, |state, observer| {
                state.outcomes.for_each(|o| {
                    if !o.failed {
                        observer.observe(o.count.load(Ordering::Relaxed), &o.attributes);
                    }
                });
            }),
            _errors: observable_counter(meter, CounterSpec::ERRORS, &state, |state, observer| {
                state.outcomes.for_each(|o| {
                    if o.failed {
                        observer.observe(o.count.load(Ordering::Relaxed), &o.attributes);
                    }
                });
            }),
        };
        Self {
            state,
            duration: meter
                .f64_histogram(instrument::DURATION)
                .with_unit("s")
                .with_description("Duration of flag evaluations")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            _instruments: Arc::new(instruments),
            meter: meter.clone(),
            distinct_contexts: None,
        }
    }

    /// Also reports `feature_flag.evaluation.distinct_contexts`: an observable gauge of how many
    /// distinct contexts received each (flag, variant) since the process started, such as how
    /// many users are in a 5% rollout. Off by default.
    ///
    /// Each series is a HyperLogLog sketch ([`DistinctCounter`](openfeature_hooks_core::DistinctCounter):
    /// 4 KiB, 1.6% relative standard error) fed with a hash of the raw context id (flag metadata
    /// `contextId`, else the targeting key), whatever the hook's context id policy: no context
    /// id is stored or exported, only the estimate. At most
    /// [`MAX_DISTINCT_CONTEXT_SERIES`](crate::MAX_DISTINCT_CONTEXT_SERIES) series (1 MiB), then
    /// an overflow series. Failed evaluations and evaluations without a context id are not
    /// counted. Estimates are per process: they cannot be summed across instances (a context
    /// seen by two instances counts in both).
    #[must_use]
    pub fn with_distinct_contexts(mut self) -> Self {
        self.distinct_contexts = Some(Arc::new(DistinctContexts::register(
            &self.meter,
            self.state.naming,
        )));
        self
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

    fn started(&self, evaluation: &EvaluationStarted<'_>) {
        let flag = self
            .state
            .flag(evaluation.flag_key, evaluation.provider_name);
        flag.data.requests.fetch_add(1, Ordering::Relaxed);
        flag.data.active.fetch_add(1, Ordering::Relaxed);
    }

    fn record(&self, record: &EvaluationRecord<'_>) {
        let outcome = self.state.outcome(record);
        outcome.data.count.fetch_add(1, Ordering::Relaxed);
        if let Some(distinct_contexts) = &self.distinct_contexts {
            distinct_contexts.record(record);
        }
        if record.started.is_some() {
            // Only evaluations counted at start are in flight.
            let flag = match &outcome.data.flag {
                Some(flag) => flag.clone(),
                None => self.state.flag(record.flag_key, record.provider_name),
            };
            flag.data.active.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(start) = record.started {
            self.duration.record(
                start.elapsed().as_secs_f64(),
                &outcome.data.duration_attributes,
            );
        }
    }
}
