//! Distinct contexts per flag and variant, counted in fixed memory, exported as a gauge.

use std::sync::Arc;

use openfeature_hooks_core::__private::{DistinctCounter, context_fingerprint};
use openfeature_hooks_core::EvaluationRecord;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Meter, ObservableGauge};

use crate::attribute_naming::{self, SharedNaming};
use crate::metrics::instrument;
use crate::series_table::{SeriesCache, SeriesTable};

thread_local! {
    /// This thread's recently used distinct-context series (see `SeriesCache`).
    static DISTINCT_CACHE: SeriesCache<DistinctSeries> = SeriesCache::new();
}

/// How many (flag, variant) series the distinct-context gauge of
/// [`MetricsSink::with_distinct_contexts`](crate::MetricsSink::with_distinct_contexts) keeps,
/// 4 KiB each: at most 1 MiB. Later series share one overflow series
/// (`otel.metric.overflow = true`).
pub const MAX_DISTINCT_CONTEXT_SERIES: usize = 256;

/// The opt-in distinct-context gauge of [`MetricsSink`](crate::MetricsSink).
pub(crate) struct DistinctContexts {
    series: Arc<SeriesTable<DistinctSeries>>,
    /// The sink's, read when a series is created.
    naming: Arc<SharedNaming>,
    _gauge: ObservableGauge<u64>,
}

struct DistinctSeries {
    attributes: Vec<KeyValue>,
    contexts: DistinctCounter,
}

impl std::fmt::Debug for DistinctSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistinctSeries")
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

impl DistinctContexts {
    /// Registers the gauge on `meter`.
    pub(crate) fn register(meter: &Meter, naming: Arc<SharedNaming>) -> Self {
        let series = Arc::new(SeriesTable::new(MAX_DISTINCT_CONTEXT_SERIES));
        let observed = Arc::clone(&series);
        let gauge = meter
            .u64_observable_gauge(instrument::DISTINCT_CONTEXTS)
            .with_unit("{context}")
            .with_description(
                "Distinct contexts that received each flag variant since the process started \
                 (HyperLogLog estimate, 1.6% standard error)",
            )
            .with_callback(move |observer| {
                observed.for_each(|series: &DistinctSeries| {
                    observer.observe(
                        series.contexts.estimate().round() as u64,
                        &series.attributes,
                    );
                });
            })
            .build();
        Self {
            series,
            naming,
            _gauge: gauge,
        }
    }

    /// Counts `record`'s context under its flag and variant: successes with a context id only.
    #[inline]
    pub(crate) fn record(&self, record: &EvaluationRecord<'_>) {
        if record.is_failure() {
            return;
        }
        let Some(context) = context_fingerprint(record) else {
            return;
        };
        let make = || {
            let mut attributes = vec![KeyValue::new(
                attribute_naming::KEY,
                record.flag_key.to_owned(),
            )];
            if let Some(variant) = record.variant {
                for names in self.naming.get().revisions() {
                    attributes.push(KeyValue::new(names.variant, variant.to_owned()));
                }
            }
            DistinctSeries {
                attributes,
                contexts: DistinctCounter::new(),
            }
        };
        let overflow = || DistinctSeries {
            attributes: vec![KeyValue::new("otel.metric.overflow", true)],
            contexts: DistinctCounter::new(),
        };
        self.series.with_series(
            &DISTINCT_CACHE,
            [Some(record.flag_key), record.variant, None, None, None],
            make,
            overflow,
            |series| series.data.contexts.insert(context),
        );
    }
}

impl std::fmt::Debug for DistinctContexts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistinctContexts")
            .field("max_series", &MAX_DISTINCT_CONTEXT_SERIES)
            .field("bytes_per_series", &DistinctCounter::BYTES)
            .finish_non_exhaustive()
    }
}
