//! Metric-based enrichment: `dd.dynamic_config.is_experiment_enabled` over DogStatsD.

use crate::env_value::env_value;
use std::io::{Error, ErrorKind};
use std::net::UdpSocket;
use std::panic::RefUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cadence::{Gauged, MetricSink, QueuingMetricSink, SinkStats, StatsdClient, UdpMetricSink};
use open_feature::Value;
use openfeature_hooks_core::{
    BackgroundStats, DEFAULT_QUEUE_CAPACITY, EvaluationRecord, EvaluationSink,
};

use crate::tag_text::{MAX_TAG_LEN, truncate};

/// The metric Datadog's change tracking reads.
pub const ENRICHMENT_METRIC: &str = "dd.dynamic_config.is_experiment_enabled";

/// Sends `dd.dynamic_config.is_experiment_enabled` = 1 (true) or 0 (false) for every boolean
/// evaluation, tagged `experiment.id:<flag key>` and `service:<service>`, to DogStatsD:
///
/// ```text
/// dd.dynamic_config.is_experiment_enabled:1|g|#experiment.id:new-checkout,service:checkout
/// ```
///
/// Sending never blocks the evaluation: metrics go through `cadence`'s queuing sink (a bounded
/// queue of [`DEFAULT_QUEUE_CAPACITY`] metrics unless
/// [`with_queue_capacity`](Self::with_queue_capacity) says otherwise, drained by its own
/// thread) to a non-blocking UDP socket. A metric that finds the queue full is dropped and
/// counted ([`stats`](Self::stats)). Non-boolean and failed evaluations send nothing. The flag
/// key and the service are cut to [`MAX_TAG_LEN`] characters.
pub struct EnrichmentMetricSink {
    client: StatsdClient,
    /// The client's queue, for its counters (clones share them).
    queue: QueuingMetricSink,
    /// The UDP sink the queue's thread sends through, kept to build the queue again.
    udp: Wrapped,
    service: String,
    capacity: usize,
    counters: Arc<Counters>,
}

/// What the queue's thread sends through.
type Wrapped = Arc<dyn MetricSink + Send + Sync + RefUnwindSafe>;

/// One [`Wrapped`] sink shared by the queues built on it.
struct Shared(Wrapped);

impl MetricSink for Shared {
    fn emit(&self, metric: &str) -> std::io::Result<usize> {
        self.0.emit(metric)
    }

    fn flush(&self) -> std::io::Result<()> {
        self.0.flush()
    }

    fn stats(&self) -> SinkStats {
        self.0.stats()
    }
}

/// What cadence's queue does not count.
#[derive(Debug, Default)]
struct Counters {
    /// Metrics the queue refused (full).
    dropped: AtomicU64,
    /// Metrics the UDP socket failed to send.
    lost: AtomicU64,
}

impl EnrichmentMetricSink {
    /// Sends to the DogStatsD agent at `address` (`host:port`) for `service`.
    ///
    /// # Errors
    /// When no UDP socket can be opened or the address does not resolve.
    pub fn new(address: &str, service: &str) -> std::io::Result<Self> {
        let socket = UdpSocket::bind("0.0.0.0:0")?;
        socket.set_nonblocking(true)?;
        let udp = UdpMetricSink::from(address, socket).map_err(|error| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{address:?} is not a DogStatsD address: {error}"),
            )
        })?;
        Ok(Self::sending_through(Arc::new(udp), service))
    }

    /// Like [`new`](Self::new), with the agent from `DD_DOGSTATSD_URL` (`udp://host:port`), else
    /// `DD_AGENT_HOST` and `DD_DOGSTATSD_PORT` (default `localhost:8125`), and the service from
    /// `DD_SERVICE` (default `unnamed-rust-service`). A variable set to blank text counts as
    /// unset.
    ///
    /// # Errors
    /// [`InvalidInput`](ErrorKind::InvalidInput), naming the variable, when `DD_DOGSTATSD_URL`
    /// is not `udp://host:port` (a `unix://` socket is not supported) or `DD_DOGSTATSD_PORT`
    /// is not a port number; as [`new`](Self::new) otherwise, the message naming the
    /// variables the address came from.
    pub fn from_env() -> std::io::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env), with the variables read through `lookup`.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> std::io::Result<Self> {
        let env = |name: &str| env_value(&lookup, name);
        let invalid = |message: String| Error::new(ErrorKind::InvalidInput, message);
        let (address, source) = match env("DD_DOGSTATSD_URL") {
            Some(url) => {
                let address = match url.split_once("://") {
                    Some(("udp", address)) => address,
                    Some(_) => {
                        return Err(invalid(format!(
                            "DD_DOGSTATSD_URL is not udp://host:port (only UDP is supported): {url:?}"
                        )));
                    }
                    None => url.as_str(),
                };
                if address
                    .rsplit_once(':')
                    .is_none_or(|(_, port)| port.parse::<u16>().is_err())
                {
                    return Err(invalid(format!(
                        "DD_DOGSTATSD_URL has no port (udp://host:port): {url:?}"
                    )));
                }
                (address.to_owned(), "DD_DOGSTATSD_URL")
            }
            None => {
                let host = env("DD_AGENT_HOST").unwrap_or_else(|| "localhost".to_owned());
                let port = env("DD_DOGSTATSD_PORT").unwrap_or_else(|| "8125".to_owned());
                if port.parse::<u16>().is_err() {
                    return Err(invalid(format!(
                        "DD_DOGSTATSD_PORT is not a port number: {port:?}"
                    )));
                }
                (
                    format!("{host}:{port}"),
                    "DD_AGENT_HOST and DD_DOGSTATSD_PORT",
                )
            }
        };
        let service = env("DD_SERVICE").unwrap_or_else(|| "unnamed-rust-service".to_owned());
        Self::new(&address, &service)
            .map_err(|error| Error::new(error.kind(), format!("{source}: {error}")))
    }

    /// How many metrics may wait for the sending thread (default [`DEFAULT_QUEUE_CAPACITY`]);
    /// past that, new metrics are dropped and counted. Set it before the first evaluation: the
    /// sink starts a new queue and thread with this capacity, and its counters start again.
    #[must_use]
    pub fn with_queue_capacity(self, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let counters = Arc::new(Counters::default());
        let (client, queue) = client(&self.udp, capacity, &counters);
        Self {
            client,
            queue,
            capacity,
            counters,
            ..self
        }
    }

    /// The sink's counters: `queued`, metrics taken into its queue; `dropped`, refused because
    /// the queue was full; `handled`, taken off the queue and sent (the one being sent
    /// included), less `lost`, those the socket failed to send (its buffer full, say: UDP
    /// cannot tell whether an agent listens, so a metric sent to none counts as handled);
    /// `panics`, restarts of the sending thread; `capacity`, the queue's.
    pub fn stats(&self) -> BackgroundStats {
        let mut stats = BackgroundStats::default();
        stats.queued = self.queue.submitted();
        stats.dropped = self.counters.dropped.load(Ordering::Relaxed);
        stats.handled = self.queue.drained();
        stats.panics = self.queue.panics();
        stats.capacity = self.capacity;
        stats.with_lost(self.counters.lost.load(Ordering::Relaxed))
    }

    /// A sink for `service` sending through `udp`, on a queue of the default capacity.
    fn sending_through(udp: Wrapped, service: &str) -> Self {
        let counters = Arc::new(Counters::default());
        let (client, queue) = client(&udp, DEFAULT_QUEUE_CAPACITY, &counters);
        Self {
            client,
            queue,
            udp,
            service: truncate(service, MAX_TAG_LEN),
            capacity: DEFAULT_QUEUE_CAPACITY,
            counters,
        }
    }
}

/// A client sending through `udp` from a queue of `capacity` metrics and its own thread,
/// counting in `counters` what the socket failed to send; and the queue.
fn client(
    udp: &Wrapped,
    capacity: usize,
    counters: &Arc<Counters>,
) -> (StatsdClient, QueuingMetricSink) {
    let failed = counters.clone();
    let queue = QueuingMetricSink::builder()
        .with_capacity(capacity)
        .with_error_handler(move |_| {
            failed.lost.fetch_add(1, Ordering::Relaxed);
        })
        .build(Shared(udp.clone()));
    let client = StatsdClient::builder("", queue.clone()).build();
    (client, queue)
}

impl std::fmt::Debug for EnrichmentMetricSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrichmentMetricSink")
            .field("service", &self.service)
            .field("stats", &self.stats())
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
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::mpsc::{Receiver, Sender, channel};
    use std::time::Duration;

    use open_feature::EvaluationContext;
    use openfeature_hooks_core::FlagType;
    use openfeature_hooks_testkit::Gate;

    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    /// A DogStatsD socket stand-in: each metric waits for the gate, is announced, then fails
    /// when asked to.
    struct GatedSink {
        gate: Gate,
        emitted: Mutex<Sender<String>>,
        failing: fn(&str) -> bool,
    }

    impl MetricSink for GatedSink {
        fn emit(&self, metric: &str) -> std::io::Result<usize> {
            self.gate.wait();
            let emitted = self.emitted.lock().unwrap_or_else(|e| e.into_inner());
            let _ = emitted.send(metric.to_owned());
            if (self.failing)(metric) {
                return Err(Error::new(ErrorKind::WouldBlock, "socket buffer full"));
            }
            Ok(metric.len())
        }
    }

    fn gated(failing: fn(&str) -> bool) -> (EnrichmentMetricSink, Gate, Receiver<String>) {
        let gate = Gate::default();
        let (sender, emitted) = channel();
        let sink = GatedSink {
            gate: gate.clone(),
            emitted: Mutex::new(sender),
            failing,
        };
        let sink = EnrichmentMetricSink::sending_through(Arc::new(sink), "checkout");
        (sink, gate, emitted)
    }

    fn evaluate(sink: &EnrichmentMetricSink, key: &str) {
        let context = EvaluationContext::default();
        let mut record = EvaluationRecord::new(key, FlagType::Bool, &context);
        record.value = Some(&Value::Bool(true));
        sink.record(&record);
    }

    #[test]
    fn with_queue_capacity_bounds_the_queue_and_drops_are_counted() {
        let (sink, gate, emitted) = gated(|_| false);
        let sink = sink.with_queue_capacity(2);
        for i in 0..10 {
            evaluate(&sink, &format!("flag-{i}"));
        }
        // The sending thread holds at most one metric at the gate, the queue two.
        let stats = sink.stats();
        assert!(stats.dropped >= 7, "{stats:?}");
        assert_eq!(stats.queued + stats.dropped, 10, "{stats:?}");
        assert_eq!(stats.capacity, 2);
        gate.open();
        for _ in 0..stats.queued {
            assert!(emitted.recv_timeout(WAIT).is_ok());
        }
        let after = sink.stats();
        assert_eq!(
            (after.handled, after.lost, after.dropped),
            (stats.queued, 0, stats.dropped)
        );
    }

    #[test]
    fn the_default_queue_takes_what_a_stuck_socket_holds_up() {
        let (sink, gate, emitted) = gated(|_| false);
        for i in 0..10 {
            evaluate(&sink, &format!("flag-{i}"));
        }
        let stats = sink.stats();
        assert_eq!((stats.queued, stats.dropped), (10, 0));
        assert_eq!(stats.capacity, DEFAULT_QUEUE_CAPACITY);
        gate.open();
        assert_eq!(emitted.iter().take(10).count(), 10);
    }

    #[test]
    fn metrics_the_socket_fails_to_send_are_lost_not_handled() {
        let (sink, gate, emitted) = gated(|metric| metric.contains("experiment.id:first"));
        gate.open();
        evaluate(&sink, "first");
        evaluate(&sink, "second");
        // The thread counts a failure before it takes the next metric.
        assert_eq!(emitted.iter().take(2).count(), 2);
        let stats = sink.stats();
        assert_eq!(
            (stats.queued, stats.handled, stats.lost, stats.dropped),
            (2, 1, 1, 0),
            "{stats:?}"
        );
    }

    #[test]
    fn a_changed_capacity_keeps_the_service() {
        let (sink, gate, emitted) = gated(|_| false);
        gate.open();
        evaluate(&sink.with_queue_capacity(8), "new-checkout");
        assert_eq!(
            emitted.recv_timeout(WAIT).ok().as_deref(),
            Some(
                "dd.dynamic_config.is_experiment_enabled:1|g|#experiment.id:new-checkout,service:checkout"
            )
        );
    }

    fn from(vars: &[(&str, &str)]) -> std::io::Result<EnrichmentMetricSink> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        EnrichmentMetricSink::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn from_env_names_the_variable_of_a_bad_value() {
        let cases = [
            ("DD_DOGSTATSD_URL", "unix:///var/run/datadog/dsd.socket"),
            ("DD_DOGSTATSD_URL", "udp://localhost"),
            ("DD_DOGSTATSD_URL", "udp://localhost:port"),
            ("DD_DOGSTATSD_PORT", "81250"),
        ];
        for (name, value) in cases {
            let error = from(&[(name, value)]).err();
            assert_eq!(
                error.as_ref().map(Error::kind),
                Some(ErrorKind::InvalidInput),
                "{name}={value}"
            );
            let message = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(message.starts_with(name), "{message}");
        }
    }

    #[test]
    fn from_env_takes_the_url_the_host_and_port_or_the_default() {
        for vars in [
            &[][..],
            &[("DD_DOGSTATSD_URL", "udp://127.0.0.1:8125")],
            &[("DD_DOGSTATSD_URL", "127.0.0.1:8125")],
            &[
                ("DD_AGENT_HOST", "127.0.0.1"),
                ("DD_DOGSTATSD_PORT", " 8125 "),
            ],
        ] {
            assert!(from(vars).is_ok(), "{vars:?}");
        }
    }

    #[test]
    fn an_address_that_does_not_resolve_is_invalid_input() {
        let error = EnrichmentMetricSink::new("no port here", "checkout").err();
        assert_eq!(
            error.as_ref().map(Error::kind),
            Some(ErrorKind::InvalidInput)
        );
        let error = from(&[("DD_AGENT_HOST", "no such host")]).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.starts_with("DD_AGENT_HOST"), "{message}");
    }
}
