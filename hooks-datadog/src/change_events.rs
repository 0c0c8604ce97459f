//! Sending change events to the Events API, off the evaluation path.

use crate::env_value::env_value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use openfeature_hooks_core::FlushOutcome;

use crate::change_event_body::change_event_body;
use crate::{ChangeOrigin, FlagChange};

/// The Events API key. Its `Debug` output never shows it, and this crate never logs it.
///
/// The HTTP client, ureq, logs the raw bytes of every request, this header included, at
/// `TRACE` level under the `ureq_proto` target (16 bytes a line, in hex and text): keep that
/// target at `DEBUG` or above wherever the key matters.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Where and how change events are sent.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ChangeEventsConfig {
    /// The Events API key (`DD-API-KEY`).
    pub api_key: ApiKey,
    /// The full URL of `POST /api/v2/events`.
    pub endpoint: String,
    /// Service and environment of the events.
    pub origin: ChangeOrigin,
    /// Events waiting at most; past it new events are dropped and counted.
    pub queue_capacity: usize,
    /// The time one request may take, connection included.
    pub timeout: Duration,
    /// Attempts per event (retries on 5xx, 429 and network errors; never on other 4xx).
    pub max_attempts: u32,
    /// The first retry's delay; each later one doubles it, up to 10 times it.
    pub backoff: Duration,
}

impl ChangeEventsConfig {
    /// Sends to `https://event-management-intake.<site>/api/v2/events`.
    pub fn new(api_key: ApiKey, site: &str, origin: ChangeOrigin) -> Self {
        Self {
            api_key,
            endpoint: format!("https://event-management-intake.{site}/api/v2/events"),
            origin,
            queue_capacity: 256,
            timeout: Duration::from_secs(5),
            max_attempts: 3,
            backoff: Duration::from_millis(500),
        }
    }

    /// The configuration from the standard Datadog variables: `DD_API_KEY` (required),
    /// `DD_SITE` (default `datadoghq.com`), `DD_SERVICE` (default `unnamed-rust-service`) and
    /// `DD_ENV` (none by default). A variable set to blank text counts as unset.
    ///
    /// # Errors
    /// [`NotFound`](std::io::ErrorKind::NotFound) without `DD_API_KEY` (change events are then
    /// simply off: `.ok()` turns that into `None`);
    /// [`InvalidInput`](std::io::ErrorKind::InvalidInput) when `DD_SITE` is not a host name
    /// (`datadoghq.eu`, `us5.datadoghq.com`: no scheme, no path). Both name the variable, never
    /// the key.
    pub fn from_env() -> std::io::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env), with the variables read through `lookup`.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> std::io::Result<Self> {
        let env = |name: &str| env_value(&lookup, name);
        let api_key = env("DD_API_KEY").ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "DD_API_KEY is not set: change events need an Events API key",
            )
        })?;
        let site = env("DD_SITE").unwrap_or_else(|| "datadoghq.com".to_owned());
        let host_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-');
        if !site.chars().all(host_name) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("DD_SITE is not a Datadog site such as datadoghq.eu: {site:?}"),
            ));
        }
        let origin = ChangeOrigin {
            service: env("DD_SERVICE").unwrap_or_else(|| "unnamed-rust-service".to_owned()),
            env: env("DD_ENV"),
        };
        Ok(Self::new(ApiKey::new(api_key), &site, origin))
    }

    /// Sends to `endpoint` instead (a proxy, or a test endpoint).
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// Sets the queue capacity.
    #[must_use]
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// Sets the request timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the attempts per event and the first retry delay.
    #[must_use]
    pub fn with_retries(mut self, max_attempts: u32, backoff: Duration) -> Self {
        self.max_attempts = max_attempts.max(1);
        self.backoff = backoff;
        self
    }
}

/// Why [`ChangeEvents::try_report`] did not queue a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotQueued {
    /// The queue is full: the endpoint is slower than the changes come.
    QueueFull,
    /// The sender was shut down.
    Stopped,
}

impl std::fmt::Display for NotQueued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotQueued::QueueFull => "the change-event queue is full",
            NotQueued::Stopped => "the change-event sender has stopped",
        })
    }
}

impl std::error::Error for NotQueued {}

/// Counters of a [`ChangeEvents`] sender.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangeEventStats {
    /// Events accepted by the API.
    pub sent: u64,
    /// Events dropped because the queue was full.
    pub dropped: u64,
    /// Events given up on (a 4xx other than 429, or every attempt failed).
    pub failed: u64,
    /// Requests made, retries included.
    pub requests: u64,
}

#[derive(Debug, Default)]
struct Counters {
    /// Events taken into the queue.
    queued: AtomicU64,
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    requests: AtomicU64,
    /// Notified, under its lock, each time an event is sent or given up on (for `flush`).
    settled: (Mutex<()>, Condvar),
}

impl Counters {
    /// Events sent or given up on.
    fn settled(&self) -> u64 {
        self.sent.load(Ordering::Acquire) + self.failed.load(Ordering::Acquire)
    }

    fn settle(&self, outcome: &AtomicU64) {
        outcome.fetch_add(1, Ordering::Release);
        let (lock, settled) = &self.settled;
        let _held = lock.lock().unwrap_or_else(PoisonError::into_inner);
        settled.notify_all();
    }
}

/// Sends change events from a thread of its own: [`report`](Self::report) only puts the event
/// in a bounded queue, so a slow, failing or hanging endpoint never slows the caller.
pub struct ChangeEvents {
    queue: Mutex<Option<SyncSender<FlagChange>>>,
    stop: Mutex<Option<SyncSender<()>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    /// Disconnects when the worker ends.
    done: Mutex<Receiver<()>>,
    counters: Arc<Counters>,
    origin: ChangeOrigin,
}

impl std::fmt::Debug for ChangeEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeEvents")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl ChangeEvents {
    /// Starts the sender.
    pub fn start(config: ChangeEventsConfig) -> Self {
        let (queue, events) = sync_channel(config.queue_capacity);
        let (stop, stopped) = sync_channel(0);
        let (finished, done) = sync_channel::<()>(0);
        let counters = Arc::new(Counters::default());
        let worker_counters = counters.clone();
        let origin = config.origin.clone();
        let worker = std::thread::Builder::new()
            .name("openfeature-hooks-datadog-events".to_owned())
            .spawn(move || {
                let _finished = finished;
                Worker::new(config, worker_counters, stopped).run(&events);
            })
            .ok();
        Self {
            queue: Mutex::new(Some(queue)),
            stop: Mutex::new(Some(stop)),
            worker: Mutex::new(worker),
            done: Mutex::new(done),
            counters,
            origin,
        }
    }

    /// Queues a change; `false` (and counted) when the queue is full or the sender stopped.
    pub fn report(&self, change: FlagChange) -> bool {
        self.try_report(change).is_ok()
    }

    /// Queues a change, or says why it was not (and counts it as dropped): a caller that can
    /// push back (a webhook receiver answering `503` so its source retries) learns that the
    /// queue is full. Never blocks.
    ///
    /// # Errors
    /// [`NotQueued::QueueFull`] when the queue holds
    /// [`queue_capacity`](ChangeEventsConfig::queue_capacity) events, [`NotQueued::Stopped`]
    /// after [`shutdown`](Self::shutdown).
    pub fn try_report(&self, change: FlagChange) -> Result<(), NotQueued> {
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let result = match queue.as_ref() {
            None => Err(NotQueued::Stopped),
            Some(queue) => queue.try_send(change).map_err(|error| match error {
                TrySendError::Full(_) => NotQueued::QueueFull,
                TrySendError::Disconnected(_) => NotQueued::Stopped,
            }),
        };
        match result {
            Ok(()) => self.counters.queued.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.counters.dropped.fetch_add(1, Ordering::Relaxed),
        };
        result
    }

    /// Waits until every event queued before this call is sent or given up on (retries
    /// included), at most `timeout`, and says how many were left. Not for the evaluation path.
    pub fn flush(&self, timeout: Duration) -> FlushOutcome {
        let deadline = Instant::now() + timeout;
        let counters = &*self.counters;
        let target = counters.queued.load(Ordering::Relaxed);
        let (lock, settled) = &counters.settled;
        let mut held = lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let done = counters.settled();
            if done >= target {
                return FlushOutcome::COMPLETE;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return FlushOutcome::timed_out(target - done);
            }
            held = settled
                .wait_timeout(held, remaining)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// The service and environment the events are tagged with, unless a change says otherwise.
    pub fn origin(&self) -> &ChangeOrigin {
        &self.origin
    }

    /// Whether it still takes changes (not shut down, its thread alive).
    pub fn is_running(&self) -> bool {
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner);
        queue.is_some() && worker.as_ref().is_some_and(|w| !w.is_finished())
    }

    /// The counters.
    pub fn stats(&self) -> ChangeEventStats {
        let c = &self.counters;
        ChangeEventStats {
            sent: c.sent.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            requests: c.requests.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting events, lets the sender finish what is queued, and waits for it at most
    /// `timeout`: `true` if it finished. Retry delays end at once; a request in flight can still
    /// take up to the configured request timeout, after which the thread ends on its own.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        self.close();
        let Some(worker) = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return true;
        };
        let done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        match done.recv_timeout(timeout) {
            Err(RecvTimeoutError::Disconnected) => worker.join().is_ok(),
            Ok(()) | Err(RecvTimeoutError::Timeout) => false,
        }
    }
}

impl ChangeEvents {
    /// Closes the queue (the worker drains it, then ends) and the stop channel (retry delays end).
    fn close(&self) {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

impl Drop for ChangeEvents {
    fn drop(&mut self) {
        self.close();
    }
}

struct Worker {
    config: ChangeEventsConfig,
    agent: ureq::Agent,
    counters: Arc<Counters>,
    stopped: Receiver<()>,
    warned: bool,
}

enum Outcome {
    Sent,
    Retry(Option<Duration>),
    GiveUp,
}

impl Worker {
    fn new(config: ChangeEventsConfig, counters: Arc<Counters>, stopped: Receiver<()>) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            config,
            agent,
            counters,
            stopped,
            warned: false,
        }
    }

    fn run(mut self, events: &Receiver<FlagChange>) {
        for change in events {
            let body = change_event_body(&change, &self.config.origin).to_string();
            self.deliver(&body);
        }
    }

    fn deliver(&mut self, body: &str) {
        let mut delay = self.config.backoff;
        for attempt in 1..=self.config.max_attempts {
            match self.post(body) {
                Outcome::Sent => {
                    self.counters.settle(&self.counters.sent);
                    return;
                }
                Outcome::GiveUp => break,
                Outcome::Retry(asked) if attempt < self.config.max_attempts => {
                    let wait = asked.unwrap_or(delay).min(self.config.backoff * 10);
                    // Waits on the stop channel, so shutdown ends the wait at once.
                    if !matches!(
                        self.stopped.recv_timeout(wait),
                        Err(RecvTimeoutError::Timeout)
                    ) {
                        break;
                    }
                    delay = (delay * 2).min(self.config.backoff * 10);
                }
                Outcome::Retry(_) => {}
            }
        }
        self.counters.settle(&self.counters.failed);
    }

    fn post(&mut self, body: &str) -> Outcome {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let response = self
            .agent
            .post(&self.config.endpoint)
            .header("DD-API-KEY", &self.config.api_key.0)
            .header("Content-Type", "application/json")
            .send(body);
        let response = match response {
            Ok(response) => response,
            Err(_) => return Outcome::Retry(None),
        };
        let status = response.status().as_u16();
        match status {
            200..=299 => Outcome::Sent,
            429 | 500..=599 => {
                let asked = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                Outcome::Retry(asked)
            }
            _ => {
                if !self.warned {
                    self.warned = true;
                    log::warn!(
                        target: "openfeature_hooks",
                        "Datadog Events API refused a change event with status {status}; not retried (later refusals are counted, not logged)"
                    );
                }
                Outcome::GiveUp
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::ErrorKind;

    use super::*;

    fn from(vars: &[(&str, &str)]) -> std::io::Result<ChangeEventsConfig> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        ChangeEventsConfig::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn from_env_without_an_api_key_is_not_found_and_names_the_variable() {
        for vars in [
            &[][..],
            &[("DD_API_KEY", "  ")],
            &[("DD_SITE", "datadoghq.eu")],
        ] {
            let error = from(vars).err();
            assert_eq!(
                error.as_ref().map(std::io::Error::kind),
                Some(ErrorKind::NotFound)
            );
            assert!(error.is_some_and(|e| e.to_string().contains("DD_API_KEY")));
        }
    }

    #[test]
    fn from_env_with_a_site_that_is_not_a_host_name_is_invalid_input_and_names_it() {
        for site in ["https://datadoghq.eu", "datadoghq.eu/", "us5 datadoghq.com"] {
            let error = from(&[("DD_API_KEY", "secret-key"), ("DD_SITE", site)]).err();
            assert_eq!(
                error.as_ref().map(std::io::Error::kind),
                Some(ErrorKind::InvalidInput),
                "{site}"
            );
            let message = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains("DD_SITE"), "{message}");
            assert!(!message.contains("secret-key"), "{message}");
        }
    }

    #[test]
    fn from_env_reads_the_standard_variables_and_their_defaults() {
        let config = from(&[("DD_API_KEY", " key\n")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.api_key, ApiKey::new("key"));
        assert_eq!(
            config.endpoint,
            "https://event-management-intake.datadoghq.com/api/v2/events"
        );
        assert_eq!(
            config.origin,
            ChangeOrigin {
                service: "unnamed-rust-service".into(),
                env: None
            }
        );
        let config = from(&[
            ("DD_API_KEY", "key"),
            ("DD_SITE", "datadoghq.eu"),
            ("DD_SERVICE", "checkout"),
            ("DD_ENV", "prod"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.endpoint,
            "https://event-management-intake.datadoghq.eu/api/v2/events"
        );
        assert_eq!(
            config.origin,
            ChangeOrigin {
                service: "checkout".into(),
                env: Some("prod".into())
            }
        );
    }
}
