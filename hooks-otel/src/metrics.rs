//! The evaluation metrics shared by the Go, JavaScript, Java and .NET hooks, plus a duration
//! histogram.

use openfeature_hooks_core::{EvaluationRecord, EvaluationSink, EvaluationStarted};
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider, UpDownCounter};
use opentelemetry::{InstrumentationScope, KeyValue, StringValue};

use crate::attribute_naming::{self, AttributeNaming};

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
}

/// Bucket boundaries of the duration histogram, in seconds: 10 µs to 10 s. Local evaluations
/// take microseconds, remote ones milliseconds; the SDK's default boundaries start at 5 ms and
/// would put every local evaluation in the first bucket.
pub const DURATION_BOUNDARIES: [f64; 19] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

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
#[derive(Debug)]
pub struct MetricsSink {
    naming: AttributeNaming,
    active: UpDownCounter<i64>,
    requests: Counter<u64>,
    success: Counter<u64>,
    errors: Counter<u64>,
    duration: Histogram<f64>,
}

impl MetricsSink {
    /// Creates the instruments on `meter`.
    pub fn new(meter: &Meter) -> Self {
        Self {
            naming: AttributeNaming::default(),
            active: meter
                .i64_up_down_counter(instrument::ACTIVE_COUNT)
                .with_unit("{request}")
                .with_description("Flag evaluations in progress")
                .build(),
            requests: meter
                .u64_counter(instrument::REQUESTS_TOTAL)
                .with_unit("{request}")
                .with_description("Flag evaluations started")
                .build(),
            success: meter
                .u64_counter(instrument::SUCCESS_TOTAL)
                .with_unit("{impression}")
                .with_description("Flag evaluations that succeeded")
                .build(),
            errors: meter
                .u64_counter(instrument::ERROR_TOTAL)
                .with_unit("{request}")
                .with_description("Flag evaluations that failed")
                .build(),
            duration: meter
                .f64_histogram(instrument::DURATION)
                .with_unit("s")
                .with_description("Duration of flag evaluations")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
        }
    }

    /// Creates the instruments on a meter of `provider` whose scope is this crate.
    pub fn from_provider(provider: &impl MeterProvider) -> Self {
        let scope = InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Self::new(&provider.meter_with_scope(scope))
    }

    /// The attribute names to write (default: [`AttributeNaming::Current`]).
    #[must_use]
    pub fn with_naming(mut self, naming: AttributeNaming) -> Self {
        self.naming = naming;
        self
    }

    fn base(&self, flag_key: &str, provider: Option<&str>, extra: usize) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(2 + 2 * extra + self.naming.revisions().len());
        attributes.push(KeyValue::new(attribute_naming::KEY, flag_key.to_owned()));
        if let Some(provider) = provider {
            for names in self.naming.revisions() {
                attributes.push(KeyValue::new(names.provider, provider.to_owned()));
            }
        }
        attributes
    }

    fn reason(&self, record: &EvaluationRecord<'_>, attributes: &mut Vec<KeyValue>) {
        if let Some(reason) = &record.reason {
            let text = match reason.as_static_str() {
                Some(name) => StringValue::from(name),
                None => StringValue::from(reason.as_str().to_owned()),
            };
            for names in self.naming.revisions() {
                attributes.push(KeyValue::new(names.reason, text.clone()));
            }
        }
    }
}

impl EvaluationSink for MetricsSink {
    fn needs_start(&self) -> bool {
        true
    }

    fn started(&self, evaluation: &EvaluationStarted<'_>) {
        let attributes = self.base(evaluation.flag_key, evaluation.provider_name, 0);
        self.requests.add(1, &attributes);
        self.active.add(1, &attributes);
    }

    fn record(&self, record: &EvaluationRecord<'_>) {
        let mut attributes = self.base(record.flag_key, record.provider_name, 2);
        if record.started.is_some() {
            // Only evaluations counted at start are in flight.
            self.active.add(-1, &attributes);
        }
        let base_len = attributes.len();
        match record.error_type() {
            None => {
                if let Some(variant) = record.variant {
                    for names in self.naming.revisions() {
                        attributes.push(KeyValue::new(names.variant, variant.to_owned()));
                    }
                }
                self.reason(record, &mut attributes);
                self.success.add(1, &attributes);
            }
            Some(error_type) => {
                attributes.push(KeyValue::new(
                    attribute_naming::ERROR_TYPE,
                    error_type.as_str(),
                ));
                self.errors.add(1, &attributes);
            }
        }
        if let Some(start) = record.started {
            attributes.truncate(base_len);
            self.reason(record, &mut attributes);
            if let Some(error_type) = record.error_type() {
                attributes.push(KeyValue::new(
                    attribute_naming::ERROR_TYPE,
                    error_type.as_str(),
                ));
            }
            self.duration
                .record(start.elapsed().as_secs_f64(), &attributes);
        }
    }
}
