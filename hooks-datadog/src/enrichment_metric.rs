//! Metric-based enrichment: `dd.dynamic_config.is_experiment_enabled` over DogStatsD.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cadence::{Gauged, QueuingMetricSink, StatsdClient, UdpMetricSink};
use open_feature::Value;
use openfeature_hooks_core::{EvaluationRecord, EvaluationSink};

use crate::tag_text::{MAX_TAG_LEN, truncate};

/// The metric Datadog's change tracking reads.
pub const ENRICHMENT_METRIC: &str = "dd.dynamic_config.is_experiment_enabled";

/// Metrics waiting to be sent at most; past it new ones are dropped and counted.
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;

/// Sends `dd.dynamic_config.is_experiment_enabled` = 1 (true) or 0 (false) for every boolean
/// evaluation, tagged `experiment.id:<flag key>` and `service:<service>`, to DogStatsD:
///
/// ```text
/// dd.dynamic_config.is_experiment_enabled:1|g|#experiment.id:new-checkout,service:checkout
/// ```
///
/// Sending never blocks the evaluation: metrics go through `cadence`'s queuing sink (a bounded
/// queue drained by its own thread) to a non-blocking UDP socket. Non-boolean and failed
/// evaluations send nothing.
pub struct EnrichmentMetricSink {
    client: StatsdClient,
    service: String,
    errors: Arc<AtomicU64>,
}

impl EnrichmentMetricSink {
    /// Sends to the DogStatsD agent at `address` (`host:port`) for `service`.
    ///
    /// # Errors
    /// When no UDP socket can be opened or the address does not resolve.
    pub fn new(address: &str, service: &str) -> std::io::Result<Self> {
        Self::with_queue_capacity(address, service, DEFAULT_QUEUE_CAPACITY)
    }

    /// Like [`new`](Self::new), with the agent from `DD_DOGSTATSD_URL` (`udp://host:port`), else
    /// `DD_AGENT_HOST` and `DD_DOGSTATSD_PORT` (default `localhost:8125`), and the service from
    /// `DD_SERVICE` (default `unnamed-rust-service`).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn from_env() -> std::io::Result<Self> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let address = env("DD_DOGSTATSD_URL")
            .map(|url| url.trim_start_matches("udp://").to_owned())
            .unwrap_or_else(|| {
                let host = env("DD_AGENT_HOST").unwrap_or_else(|| "localhost".to_owned());
                let port = env("DD_DOGSTATSD_PORT").unwrap_or_else(|| "8125".to_owned());
                format!("{host}:{port}")
            });
        let service = env("DD_SERVICE").unwrap_or_else(|| "unnamed-rust-service".to_owned());
        Self::new(&address, &service)
    }

    /// Like [`new`](Self::new), with a queue of `capacity` metrics.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_queue_capacity(
        address: &str,
        service: &str,
        capacity: usize,
    ) -> std::io::Result<Self> {
        let socket = UdpSocket::bind("0.0.0.0:0")?;
        socket.set_nonblocking(true)?;
        let udp = UdpMetricSink::from(address, socket).map_err(std::io::Error::other)?;
        let queue = QueuingMetricSink::with_capacity(udp, capacity.max(1));
        let errors = Arc::new(AtomicU64::new(0));
        let counted = errors.clone();
        let client = StatsdClient::builder("", queue)
            .with_error_handler(move |_| {
                counted.fetch_add(1, Ordering::Relaxed);
            })
            .build();
        Ok(Self {
            client,
            service: truncate(service, MAX_TAG_LEN),
            errors,
        })
    }

    /// Metrics that could not be queued or sent.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for EnrichmentMetricSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrichmentMetricSink")
            .field("service", &self.service)
            .field("errors", &self.errors())
            .finish_non_exhaustive()
    }
}

impl EvaluationSink for EnrichmentMetricSink {
    fn record(&self, record: &EvaluationRecord<'_>) {
        let Some(Value::Bool(enabled)) = record.value.filter(|_| !record.is_failure()) else {
            return;
        };
        let id = truncate(record.flag_key, MAX_TAG_LEN);
        let sent = self
            .client
            .gauge_with_tags(ENRICHMENT_METRIC, u64::from(*enabled))
            .with_tag("experiment.id", &id)
            .with_tag("service", &self.service)
            .try_send();
        if sent.is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}
