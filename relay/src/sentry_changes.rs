//! Sentry's change tracking as a destination: the generic flag webhook
//! (`POST /api/0/organizations/<org>/flags/hooks/provider/generic/`), its body exactly as Sentry's
//! serializer requires it, signed, and sent from a thread of its own behind a bounded queue.
//!
//! The sending policy is the Datadog sender's ([`ChangeEvents`](openfeature_hooks_datadog::ChangeEvents)):
//! a bounded queue that refuses when full ([`NotQueued`]), a request timeout, retries on
//! network errors, `429` and `5xx` with a doubling delay (at most ten times the first, or the
//! `Retry-After` asked, within that bound), no retry on any other refusal, and a shutdown that
//! ends retry delays at once and waits for the queue within a bound. The queue and its thread are
//! the workspace's [`BackgroundWorker`], as for the audit log. What Sentry adds: a `200` whose body
//! carries validation errors is a failure, not a delivery, and `401` means the secret is wrong.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use openfeature_hooks_core::__private::Rfc3339;
use openfeature_hooks_core::{BackgroundWorker, Drain};
use openfeature_hooks_datadog::NotQueued;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{ChangeKind, CreatedByType, Secret, hmac_signature};

/// The header Sentry checks: lowercase hex HMAC-SHA256 of the body with the secret registered
/// for the generic provider.
pub(crate) const SENTRY_SIGNATURE_HEADER: &str = "x-sentry-signature";

/// The longest `flag` and `created_by.id` Sentry's serializer accepts, in characters.
pub const MAX_SENTRY_TEXT: usize = 100;

/// Characters a longer name keeps before `~` and eight hex digits of its hash.
const KEPT_OF_LONG_TEXT: usize = MAX_SENTRY_TEXT - 9;

/// The most changes sent in one request (Sentry takes several per request).
pub(crate) const DEFAULT_SENTRY_BATCH: usize = 100;

/// What a text becomes in Sentry's `flag` and `created_by.id`, which take 1 to 100 characters
/// after Sentry trims whitespace and refuse NUL: NUL removed, whitespace trimmed as Sentry
/// trims it (Python's `str.strip`), and a text still longer than 100 characters cut to its
/// first 91, then `~` and the first eight hex digits of the SHA-256 of the whole text, so that
/// two long names that share a beginning stay two flags. `None` when nothing is left.
///
/// ```
/// use openfeature_hooks_relay::__private::sentry_text;
///
/// assert_eq!(sentry_text("  new-checkout\n").as_deref(), Some("new-checkout"));
/// let long = sentry_text(&"f".repeat(300)).unwrap_or_default();
/// assert_eq!(long.chars().count(), 100);
/// assert!(long.starts_with(&"f".repeat(91)) && long.as_bytes()[91] == b'~');
/// assert_eq!(sentry_text(" \0 "), None);
/// ```
pub fn sentry_text(text: &str) -> Option<String> {
    let cleaned: String = text.chars().filter(|c| *c != '\0').collect();
    let trimmed = cleaned.trim_matches(python_whitespace);
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.chars().count() <= MAX_SENTRY_TEXT {
        return Some(trimmed.to_owned());
    }
    let kept: String = trimmed.chars().take(KEPT_OF_LONG_TEXT).collect();
    let digest = Sha256::digest(trimmed.as_bytes());
    Some(format!("{kept}~{}", hex::encode(&digest[..4])))
}

/// Python's `str.isspace`, which Sentry's serializer trims with: Rust's whitespace and the
/// four information separators.
fn python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The `change_id` of the change known to the relay as `key` (the key it remembers relayed
/// changes by): the first 63 bits of its SHA-256, so the same change has the same id across
/// the relay's retries, a source's redeliveries and a restart, and different changes
/// different ids. Positive, so it fits a signed 64-bit column.
pub(crate) fn change_id(key: &str) -> i64 {
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::try_from(u64::from_be_bytes(first) >> 1).unwrap_or(i64::MAX)
}

/// One change as Sentry's generic provider takes it, its texts already within Sentry's rules.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SentryChange {
    item: Value,
}

impl SentryChange {
    /// The change known as `key`, of `flag`, by `author`; `author_fallback` when the author's
    /// text is empty once cleaned.
    pub(crate) fn new(
        key: &str,
        kind: ChangeKind,
        flag: &str,
        author: &str,
        created_by_type: CreatedByType,
        author_fallback: &str,
        created_at: SystemTime,
    ) -> Self {
        let flag = sentry_text(flag).unwrap_or_else(|| "unknown".to_owned());
        let (author, created_by_type) = match sentry_text(author) {
            // A shortened e-mail address is no longer one.
            Some(text) if created_by_type == CreatedByType::Email && text != author.trim() => {
                (text, CreatedByType::Name)
            }
            Some(text) => (text, created_by_type),
            None => (
                sentry_text(author_fallback).unwrap_or_else(|| "openfeature-hooks-relay".into()),
                CreatedByType::Name,
            ),
        };
        Self {
            item: json!({
                "action": kind.as_str(),
                "change_id": change_id(key),
                "created_at": Rfc3339::at(created_at).to_string(),
                "created_by": {"id": author, "type": created_by_type.as_str()},
                "flag": flag,
            }),
        }
    }

    /// The item of the request's `data`.
    pub(crate) fn item(&self) -> &Value {
        &self.item
    }
}

/// The request body for `changes`: `{"data": [...], "meta": {"version": 1}}`.
pub(crate) fn sentry_body(changes: &[SentryChange]) -> Value {
    let data: Vec<&Value> = changes.iter().map(SentryChange::item).collect();
    json!({"data": data, "meta": {"version": 1}})
}

/// Where and how changes are sent to Sentry. `Debug` never shows the secret.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SentryChangesConfig {
    /// The generic hook's full URL, organization included:
    /// `https://<region>.sentry.io/api/0/organizations/<org>/flags/hooks/provider/generic/`.
    pub url: String,
    /// The signing secret registered in Sentry for the generic provider.
    pub secret: Secret,
    /// Changes waiting at most (256 unless set); past it the relay answers `503` and the
    /// change is counted as dropped ([`SentryStats::dropped`]).
    pub queue_capacity: usize,
    /// The time one request may take, connection included.
    pub timeout: Duration,
    /// Attempts per request (retries on 5xx, 429 and network errors; never on other answers).
    pub max_attempts: u32,
    /// The first retry's delay; each later one doubles it, up to 10 times it.
    pub backoff: Duration,
    /// The most changes per request (100 unless set).
    pub max_batch: usize,
}

impl SentryChangesConfig {
    /// Sends to `url`, signed with `secret`: the Datadog sender's defaults (256 waiting, 5 s
    /// per request, 3 attempts, 500 ms first delay), at most 100 changes a request.
    pub fn new(url: impl Into<String>, secret: Secret) -> Self {
        Self {
            url: url.into(),
            secret,
            queue_capacity: 256,
            timeout: Duration::from_secs(5),
            max_attempts: 3,
            backoff: Duration::from_millis(500),
            max_batch: DEFAULT_SENTRY_BATCH,
        }
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

    /// Sets the attempts per request and the first retry delay.
    #[must_use]
    pub fn with_retries(mut self, max_attempts: u32, backoff: Duration) -> Self {
        self.max_attempts = max_attempts.max(1);
        self.backoff = backoff;
        self
    }

    /// Sets the most changes per request (at least 1).
    #[must_use]
    pub fn with_max_batch(mut self, changes: usize) -> Self {
        self.max_batch = changes.max(1);
        self
    }
}

/// Counters of a [`SentryChanges`] sender, in changes (a request may carry several).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentryStats {
    /// Changes Sentry accepted.
    pub sent: u64,
    /// Changes refused because the queue was full or the sender stopped.
    pub dropped: u64,
    /// Changes given up on: refused (`401`, `404`, another 4xx), every attempt failed, or
    /// answered with validation errors.
    pub failed: u64,
    /// Of the failed, those Sentry answered `200` with validation errors for.
    pub invalid: u64,
    /// Requests made, retries included.
    pub requests: u64,
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    invalid: AtomicU64,
    requests: AtomicU64,
}

/// Sends flag changes to Sentry's generic flag webhook from a thread of its own: queuing never
/// waits, so a slow, failing or hanging Sentry never slows a delivery, nor another
/// destination. A [`Relay`](crate::Relay) queues changes for it
/// ([`Destinations::with_sentry`](crate::Destinations::with_sentry)).
///
/// Each request carries up to [`max_batch`](SentryChangesConfig::max_batch) changes, signed
/// with `X-Sentry-Signature` (the hex HMAC-SHA256 of the body with the secret). Sentry takes
/// 1 to 100 characters in `flag` and `created_by.id` once it trims whitespace: the sender
/// trims as Sentry does and removes NUL, and a longer text keeps its first 91 characters, then
/// `~` and the first eight hex digits of the SHA-256 of the whole text, so two long names that
/// share a beginning stay two flags (a shortened e-mail address is sent as a `name`).
///
/// `401` (the secret is not the one registered in Sentry), `404` and other refusals are
/// logged once, then counted ([`SentryStats::failed`]); a `200` carrying validation errors
/// likewise ([`SentryStats::invalid`]).
pub struct SentryChanges {
    worker: BackgroundWorker<SentryChange>,
    /// Dropped on shutdown: a retry delay waiting on it ends at once.
    stop: Mutex<Option<SyncSender<()>>>,
    stopped: AtomicBool,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for SentryChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentryChanges")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl SentryChanges {
    /// Starts the sender.
    pub fn start(config: SentryChangesConfig) -> Self {
        let (stop, stopping) = sync_channel(0);
        let counters = Arc::new(Counters::default());
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let capacity = config.queue_capacity;
        let sender = Sender {
            batch: Vec::with_capacity(config.max_batch),
            config,
            agent,
            counters: counters.clone(),
            stopping,
            warned: Warned::default(),
        };
        Self {
            worker: BackgroundWorker::start("openfeature-hooks-relay-sentry", capacity, sender),
            stop: Mutex::new(Some(stop)),
            stopped: AtomicBool::new(false),
            counters,
        }
    }

    /// Queues a change, or says why not (and counts it as dropped). Never waits.
    pub(crate) fn try_report(&self, change: SentryChange) -> Result<(), NotQueued> {
        let result = if self.stopped.load(Ordering::Relaxed) {
            Err(NotQueued::Stopped)
        } else if self.worker.try_send(change) {
            Ok(())
        } else {
            Err(NotQueued::QueueFull)
        };
        if result.is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Whether it still takes changes (not shut down).
    pub fn is_running(&self) -> bool {
        !self.stopped.load(Ordering::Relaxed)
    }

    /// The counters.
    pub fn stats(&self) -> SentryStats {
        let c = &self.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        SentryStats {
            sent: load(&c.sent),
            dropped: load(&c.dropped),
            failed: load(&c.failed),
            invalid: load(&c.invalid),
            requests: load(&c.requests),
        }
    }

    /// Stops taking changes, ends retry delays, and waits at most `timeout` until what is
    /// queued has been sent (or given up on): `true` if it was. A request in flight can still
    /// take up to the request timeout.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        self.stopped.store(true, Ordering::Relaxed);
        self.stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.worker.flush(timeout)
    }
}

/// Which configuration problems were logged already: each is logged once, then counted.
#[derive(Default)]
struct Warned {
    invalid: bool,
    unauthorized: bool,
    refused: bool,
}

/// The sending thread's side.
struct Sender {
    config: SentryChangesConfig,
    agent: ureq::Agent,
    counters: Arc<Counters>,
    stopping: Receiver<()>,
    batch: Vec<SentryChange>,
    warned: Warned,
}

enum Outcome {
    Sent,
    /// A `2xx` with validation errors in its body (a short summary of them).
    Invalid(String),
    Retry(Option<Duration>),
    GiveUp,
}

impl Drain<SentryChange> for Sender {
    fn handle(&mut self, change: SentryChange) {
        self.batch.push(change);
        if self.batch.len() >= self.config.max_batch {
            self.send_batch();
        }
    }

    fn idle(&mut self) {
        if !self.batch.is_empty() {
            self.send_batch();
        }
    }
}

impl Sender {
    fn send_batch(&mut self) {
        let changes = std::mem::take(&mut self.batch);
        let count = changes.len() as u64;
        let body = sentry_body(&changes).to_string();
        let signature = hmac_signature(&self.config.secret, body.as_bytes());
        let ceiling = self.config.backoff * 10;
        let mut delay = self.config.backoff;
        for attempt in 1..=self.config.max_attempts {
            match self.post(&body, &signature) {
                Outcome::Sent => {
                    self.counters.sent.fetch_add(count, Ordering::Relaxed);
                    return;
                }
                Outcome::Invalid(errors) => {
                    self.counters.invalid.fetch_add(count, Ordering::Relaxed);
                    if !std::mem::replace(&mut self.warned.invalid, true) {
                        log::error!(
                            target: "openfeature_hooks",
                            "Sentry answered 200 with validation errors for {count} flag changes, which it did not record: {errors} (later ones are counted, not logged)"
                        );
                    }
                    break;
                }
                Outcome::GiveUp => break,
                Outcome::Retry(asked) if attempt < self.config.max_attempts => {
                    let wait = asked.unwrap_or(delay).min(ceiling);
                    if !matches!(
                        self.stopping.recv_timeout(wait),
                        Err(RecvTimeoutError::Timeout)
                    ) {
                        break;
                    }
                    delay = (delay * 2).min(ceiling);
                }
                Outcome::Retry(_) => {}
            }
        }
        self.counters.failed.fetch_add(count, Ordering::Relaxed);
    }

    fn post(&mut self, body: &str, signature: &str) -> Outcome {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let response = self
            .agent
            .post(&self.config.url)
            .header(SENTRY_SIGNATURE_HEADER, signature)
            .header("Content-Type", "application/json")
            .send(body);
        let mut response = match response {
            Ok(response) => response,
            Err(_) => return Outcome::Retry(None),
        };
        let status = response.status().as_u16();
        match status {
            200..=299 => {
                let text = response
                    .body_mut()
                    .with_config()
                    .limit(64 * 1024)
                    .read_to_string()
                    .unwrap_or_default();
                match validation_errors(&text) {
                    None => Outcome::Sent,
                    Some(errors) => Outcome::Invalid(errors),
                }
            }
            429 | 500..=599 => Outcome::Retry(
                response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs),
            ),
            401 => {
                if !std::mem::replace(&mut self.warned.unauthorized, true) {
                    log::error!(
                        target: "openfeature_hooks",
                        "Sentry refused the signature (401): RELAY_SENTRY_WEBHOOK_SECRET is not the secret registered for the generic provider of the organization in RELAY_SENTRY_WEBHOOK_URL; flag changes are not recorded in Sentry until it is (later refusals are counted, not logged)"
                    );
                }
                Outcome::GiveUp
            }
            _ => {
                if !std::mem::replace(&mut self.warned.refused, true) {
                    let hint = if status == 404 {
                        ": no such organization or provider, or the organization has no flag change tracking; check RELAY_SENTRY_WEBHOOK_URL"
                    } else {
                        ""
                    };
                    log::error!(
                        target: "openfeature_hooks",
                        "Sentry refused flag changes with status {status}{hint}; not retried (later refusals are counted, not logged)"
                    );
                }
                Outcome::GiveUp
            }
        }
    }
}

/// The validation errors a `2xx` body carries: Sentry answers an accepted request with an
/// empty body, and a request its serializer refuses with `200` and the errors as JSON.
fn validation_errors(body: &str) -> Option<String> {
    let body = body.trim();
    let empty = body.is_empty()
        || matches!(
            serde_json::from_str::<Value>(body),
            Ok(Value::Null) | Ok(Value::String(_))
        )
        || matches!(serde_json::from_str::<Value>(body), Ok(Value::Object(o)) if o.is_empty())
        || matches!(serde_json::from_str::<Value>(body), Ok(Value::Array(a)) if a.is_empty());
    if empty {
        return None;
    }
    let mut summary: String = body.chars().take(300).collect();
    if summary.len() < body.len() {
        summary.push('…');
    }
    Some(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_follow_sentrys_rules() {
        assert_eq!(sentry_text("\u{1f} a\0b \u{3000}").as_deref(), Some("ab"));
        assert_eq!(sentry_text(&"x".repeat(100)), Some("x".repeat(100)));
        let a = sentry_text(&format!("{}a", "p".repeat(120))).unwrap_or_default();
        let b = sentry_text(&format!("{}b", "p".repeat(120))).unwrap_or_default();
        assert_ne!(a, b, "long names that share a beginning stay apart");
        assert_eq!((a.chars().count(), b.chars().count()), (100, 100));
        assert_eq!(
            sentry_text(&"é".repeat(150)).map(|t| t.chars().count()),
            Some(100)
        );
    }

    #[test]
    fn change_ids_are_stable_positive_and_distinct() {
        assert_eq!(change_id("flipt/abc#0"), change_id("flipt/abc#0"));
        assert_ne!(change_id("flipt/abc#0"), change_id("flipt/abc#1"));
        assert!((0..1000).all(|n| change_id(&format!("k{n}")) >= 0));
    }

    #[test]
    fn a_long_email_is_sent_as_a_name_and_an_empty_author_as_the_source() {
        let at = SystemTime::UNIX_EPOCH;
        let long = format!("{}@example.com", "a".repeat(120));
        let change = SentryChange::new(
            "k",
            ChangeKind::Updated,
            "f",
            &long,
            CreatedByType::Email,
            "flipt",
            at,
        );
        assert_eq!(change.item()["created_by"]["type"], json!("name"));
        let change = SentryChange::new(
            "k",
            ChangeKind::Deleted,
            "f",
            " ",
            CreatedByType::Email,
            "flipt",
            at,
        );
        assert_eq!(
            change.item()["created_by"],
            json!({"id": "flipt", "type": "name"})
        );
        assert_eq!(change.item()["action"], json!("deleted"));
        assert_eq!(
            change.item()["created_at"],
            json!("1970-01-01T00:00:00.000000Z")
        );
    }

    #[test]
    fn only_an_empty_answer_is_a_delivery() {
        for accepted in ["", " ", "null", "{}", "[]", "\"\""] {
            assert_eq!(validation_errors(accepted), None, "{accepted}");
        }
        assert!(validation_errors(r#"{"data": [{"flag": ["too long"]}]}"#).is_some());
        assert!(validation_errors(r#"{"meta": ["This field is required."]}"#).is_some());
    }
}
