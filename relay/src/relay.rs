//! The relay itself: from a parsed delivery to each destination's queue, with what it remembers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use openfeature_hooks_core::__private::Rfc3339;
use openfeature_hooks_datadog::__private::change_event_body_at;
use openfeature_hooks_datadog::{ChangeEvents, FlagChange, NotQueued};
use serde_json::{Map, Value, json};

use crate::change_memory::{Accepted, ChangeMemory, Remembered};
use crate::sentry_changes::SentryChange;
use crate::{AuditLog, Delivery, PrevValue, RelayConfig, SentryChanges, Source, SourceChange};

/// Counters of a [`Relay`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayStats {
    /// Changes queued for at least one destination (each destination's own counters are its
    /// sender's).
    pub relayed: u64,
    /// Changes not relayed again because every destination already had them.
    pub duplicates: u64,
    /// Deliveries that announced no change (denied requests, other event kinds).
    pub ignored: u64,
    /// Deliveries refused for a missing or wrong signature or secret (`401`).
    pub unauthorized: u64,
    /// Deliveries refused as unreadable (`400`).
    pub malformed: u64,
    /// Deliveries answered `503` because a destination's queue was full or stopped.
    pub unavailable: u64,
    /// Changes older than the last one seen of the same object (relayed, state not replaced).
    pub out_of_order: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    relayed: AtomicU64,
    duplicates: AtomicU64,
    ignored: AtomicU64,
    pub(crate) unauthorized: AtomicU64,
    pub(crate) malformed: AtomicU64,
    unavailable: AtomicU64,
    out_of_order: AtomicU64,
}

/// The answer to a delivery.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

/// A destination, as a bit of [`Accepted::destinations`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Destination {
    Datadog = 1,
    Sentry = 2,
}

impl Destination {
    const ALL: [Destination; 2] = [Destination::Datadog, Destination::Sentry];

    fn bit(self) -> u8 {
        self as u8
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Destination::Datadog => "datadog",
            Destination::Sentry => "sentry",
        }
    }

    fn names(bits: u8) -> Vec<&'static str> {
        Self::ALL
            .iter()
            .filter(|d| bits & d.bit() != 0)
            .map(|d| d.as_str())
            .collect()
    }
}

/// What each destination gets for one change, kept while a destination has not taken it.
#[derive(Debug)]
pub(crate) struct Pending {
    datadog: FlagChange,
    sentry: SentryChange,
}

/// Where a [`Relay`] sends changes: Datadog change tracking, Sentry change tracking, or both.
/// Each has its own bounded queue, retries and counters.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Destinations {
    /// Datadog's Events API, as `change` events.
    pub datadog: Option<Arc<ChangeEvents>>,
    /// Sentry's generic flag webhook.
    pub sentry: Option<Arc<SentryChanges>>,
}

impl Destinations {
    /// No destination yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends to Datadog through `events`.
    #[must_use]
    pub fn with_datadog(mut self, events: Arc<ChangeEvents>) -> Self {
        self.datadog = Some(events);
        self
    }

    /// Sends to Sentry through `sentry`.
    #[must_use]
    pub fn with_sentry(mut self, sentry: Arc<SentryChanges>) -> Self {
        self.sentry = Some(sentry);
        self
    }

    /// The destinations' names, in order (`datadog`, `sentry`).
    pub fn names(&self) -> Vec<&'static str> {
        Destination::names(self.bits())
    }

    fn bits(&self) -> u8 {
        let mut bits = 0;
        if self.datadog.is_some() {
            bits |= Destination::Datadog.bit();
        }
        if self.sentry.is_some() {
            bits |= Destination::Sentry.bit();
        }
        bits
    }
}

pub(crate) struct Inner {
    pub(crate) config: RelayConfig,
    pub(crate) destinations: Destinations,
    audit: Option<AuditLog>,
    memory: Mutex<ChangeMemory>,
    pub(crate) counters: Counters,
}

/// Relays the changes that Flipt, LaunchDarkly, Unleash, GrowthBook and GO Feature Flag
/// announce to every configured destination ([`Destinations`]). Cheap to clone (shared
/// state); mount [`router`](Self::router).
///
/// Changes are queued in the order deliveries are accepted, one delivery at a time, so the
/// changes of one flag reach each destination in the order their deliveries were answered.
/// When a destination's queue is full the delivery is answered `503`, the other destinations
/// still get its changes, and the relay remembers which destinations took each change: the
/// source's redelivery is queued only for the destinations that did not, with what the others
/// got.
#[derive(Clone)]
pub struct Relay {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("config", &self.inner.config)
            .field("stats", &self.stats())
            .field("destinations", &self.inner.destinations)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// A relay sending to Datadog through `events`, writing each relayed change to `audit`
    /// when given. [`with_destinations`](Self::with_destinations) sends to Sentry too.
    pub fn new(config: RelayConfig, events: Arc<ChangeEvents>, audit: Option<AuditLog>) -> Self {
        Self::with_destinations(config, Destinations::new().with_datadog(events), audit)
    }

    /// A relay sending to `destinations`, writing each relayed change to `audit` when given.
    /// Without any destination every change is answered `503`.
    pub fn with_destinations(
        config: RelayConfig,
        destinations: Destinations,
        audit: Option<AuditLog>,
    ) -> Self {
        let memory = Mutex::new(ChangeMemory::new(config.memory_capacity));
        Self {
            inner: Arc::new(Inner {
                config,
                destinations,
                audit,
                memory,
                counters: Counters::default(),
            }),
        }
    }

    /// The counters.
    pub fn stats(&self) -> RelayStats {
        let c = &self.inner.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RelayStats {
            relayed: load(&c.relayed),
            duplicates: load(&c.duplicates),
            ignored: load(&c.ignored),
            unauthorized: load(&c.unauthorized),
            malformed: load(&c.malformed),
            unavailable: load(&c.unavailable),
            out_of_order: load(&c.out_of_order),
        }
    }

    /// The Datadog sender, when Datadog is a destination.
    pub fn datadog(&self) -> Option<&ChangeEvents> {
        self.inner.destinations.datadog.as_deref()
    }

    /// The Sentry sender, when Sentry is a destination.
    pub fn sentry(&self) -> Option<&SentryChanges> {
        self.inner.destinations.sentry.as_deref()
    }

    /// The audit log, when there is one.
    pub fn audit(&self) -> Option<&AuditLog> {
        self.inner.audit.as_ref()
    }

    /// Stops taking changes, then lets each sender deliver what is queued and the audit log
    /// write its lines, waiting at most `timeout` in all: `true` if all finished. Changes
    /// still queued after it are lost (the senders' shutdown bound). The destinations stop
    /// taking changes at once and drain side by side, so a hanging one does not use up the
    /// other's time.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        let destinations = &self.inner.destinations;
        let sentry = destinations.sentry.clone();
        // Each waits on its own thread; Datadog's on this one.
        let sentry_done = sentry.map(|sentry| {
            std::thread::Builder::new()
                .name("openfeature-hooks-relay-shutdown".to_owned())
                .spawn(move || sentry.shutdown(timeout))
        });
        let datadog_done = destinations
            .datadog
            .as_ref()
            .is_none_or(|events| events.shutdown(timeout));
        let sentry_done = match sentry_done {
            None => true,
            Some(Ok(thread)) => thread.join().unwrap_or(false),
            Some(Err(_)) => false,
        };
        let left = timeout.saturating_sub(start.elapsed());
        let written = self
            .inner
            .audit
            .as_ref()
            .is_none_or(|audit| audit.shutdown(left.max(Duration::from_millis(10))));
        datadog_done && sentry_done && written
    }

    /// Whether every destination still takes changes.
    pub(crate) fn running(&self) -> bool {
        let destinations = &self.inner.destinations;
        destinations
            .datadog
            .as_ref()
            .is_none_or(|events| events.is_running())
            && destinations
                .sentry
                .as_ref()
                .is_none_or(|sentry| sentry.is_running())
    }

    /// Relays what a checked delivery announces.
    pub(crate) fn relay(&self, delivery: Delivery) -> Answer {
        let counters = &self.inner.counters;
        let (delivery_key, changes) = match delivery {
            Delivery::Ignored(reason) => {
                counters.ignored.fetch_add(1, Ordering::Relaxed);
                return Answer {
                    status: 200,
                    body: json!({"relayed": 0, "ignored": reason}),
                };
            }
            Delivery::Changes {
                delivery_key,
                changes,
            } => (delivery_key, changes),
        };
        let configured = self.inner.destinations.bits();
        if configured == 0 {
            counters.unavailable.fetch_add(1, Ordering::Relaxed);
            return Answer {
                status: 503,
                body: json!({"error": "no destination is configured", "relayed": 0}),
            };
        }
        let mut memory = self
            .inner
            .memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // `relayed`: changes queued for the first time; `queued`: changes queued anywhere by
        // this delivery (a redelivery completing one counts there only).
        let (mut relayed, mut queued, mut duplicates) = (0u64, 0u64, 0u64);
        // Destinations that refused a change of this delivery get none of its later changes,
        // so each still gets them in order when the source delivers again.
        let mut refused = 0u8;
        let mut refusal = NotQueued::QueueFull;
        let now_instant = Instant::now();
        for (index, change) in changes.into_iter().enumerate() {
            // A delivery announcing several changes may be cut by a full queue: each change
            // is remembered on its own, so a redelivery relays only the rest.
            let key = match (&change.change_key, &change.announced_by) {
                (Some(change_key), Some(instance)) => memory.announcement(
                    change_key,
                    instance,
                    self.inner.config.go_feature_flag_window,
                    now_instant,
                ),
                (Some(change_key), None) => change_key.clone(),
                (None, _) => format!("{delivery_key}#{index}"),
            };
            let (done, pending) = match memory.deliveries.get_mut(&key) {
                Some(accepted) => (accepted.destinations, accepted.pending.take()),
                None => (0, None),
            };
            let missing = configured & !done;
            if missing == 0 {
                duplicates += 1;
                continue;
            }
            let wanted = missing & !refused;
            if wanted == 0 {
                if let (Some(accepted), Some(pending)) = (memory.deliveries.get_mut(&key), pending)
                {
                    accepted.pending = Some(pending);
                }
                continue;
            }
            let source = change.source;
            let now = SystemTime::now();
            let (pending, remember) = match pending {
                Some(pending) => (*pending, None),
                None => {
                    let (datadog, remember) = self.flag_change(&memory, change.clone());
                    let author = datadog.author.clone();
                    let sentry = SentryChange::new(
                        &key,
                        change.kind,
                        &datadog.flag,
                        &author,
                        if change.author.is_some() {
                            change.created_by_type
                        } else {
                            crate::CreatedByType::Name
                        },
                        source.as_str(),
                        change.timestamp.unwrap_or(now),
                    );
                    (Pending { datadog, sentry }, remember)
                }
            };
            let mut taken = 0u8;
            for destination in Destination::ALL {
                if wanted & destination.bit() == 0 {
                    continue;
                }
                let queued = match destination {
                    Destination::Datadog => self
                        .inner
                        .destinations
                        .datadog
                        .as_ref()
                        .map(|events| events.try_report(pending.datadog.clone())),
                    Destination::Sentry => self
                        .inner
                        .destinations
                        .sentry
                        .as_ref()
                        .map(|sentry| sentry.try_report(pending.sentry.clone())),
                };
                match queued {
                    Some(Ok(())) => taken |= destination.bit(),
                    Some(Err(reason)) => {
                        refused |= destination.bit();
                        if reason == NotQueued::Stopped {
                            refusal = NotQueued::Stopped;
                        }
                    }
                    None => {}
                }
            }
            let now_done = done | taken;
            if taken != 0 {
                queued += 1;
                if let Some(audit) = &self.inner.audit {
                    audit.write(self.audit_line(
                        source,
                        &key,
                        taken,
                        configured & !now_done,
                        &pending,
                        now,
                    ));
                }
                if done == 0 {
                    if let Some(remember) = remember {
                        remember.apply(&mut memory);
                    }
                    relayed += 1;
                }
            }
            if now_done != 0 {
                let complete = now_done == configured;
                memory.deliveries.insert(
                    key,
                    Accepted {
                        destinations: now_done,
                        pending: (!complete).then(|| Box::new(pending)),
                    },
                );
            }
        }
        counters.relayed.fetch_add(relayed, Ordering::Relaxed);
        counters.duplicates.fetch_add(duplicates, Ordering::Relaxed);
        if refused != 0 {
            counters.unavailable.fetch_add(1, Ordering::Relaxed);
            let names = Destination::names(refused).join(" and ");
            let error = match refusal {
                NotQueued::Stopped => "the relay is shutting down; retry later".to_owned(),
                _ => format!("the {names} queue is full; retry later"),
            };
            return Answer {
                status: 503,
                body: json!({"error": error, "relayed": queued, "refused_by": Destination::names(refused)}),
            };
        }
        Answer {
            status: if queued > 0 { 202 } else { 200 },
            body: json!({"relayed": queued, "duplicates": duplicates}),
        }
    }

    /// The audit line of a change queued for the destinations `taken` (and still `waiting`
    /// for others): what each of them got.
    fn audit_line(
        &self,
        source: Source,
        key: &str,
        taken: u8,
        waiting: u8,
        pending: &Pending,
        now: SystemTime,
    ) -> String {
        let mut line = Map::new();
        line.insert("time".into(), Value::from(Rfc3339::at(now).to_string()));
        line.insert("source".into(), Value::from(source.as_str()));
        line.insert("delivery".into(), Value::from(key));
        line.insert("destinations".into(), json!(Destination::names(taken)));
        if waiting != 0 {
            line.insert("waiting_for".into(), json!(Destination::names(waiting)));
        }
        if let (true, Some(events)) = (
            taken & Destination::Datadog.bit() != 0,
            &self.inner.destinations.datadog,
        ) {
            let body = change_event_body_at(&pending.datadog, events.origin(), now);
            line.insert("event".into(), body["data"]["attributes"].clone());
        }
        if taken & Destination::Sentry.bit() != 0 {
            line.insert("sentry".into(), pending.sentry.item().clone());
        }
        Value::Object(line).to_string()
    }

    /// The change event for `change`, and what to remember once it is queued.
    fn flag_change(
        &self,
        memory: &ChangeMemory,
        change: SourceChange,
    ) -> (FlagChange, Option<Remember>) {
        let config = &self.inner.config;
        let namespace = change
            .metadata
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_owned();
        let rule_key = change.rule_id.as_ref().map(|r| format!("{namespace}/{r}"));
        let mut object = change.object.clone();
        let flag = match (&change.flag, &rule_key) {
            (Some(flag), _) => flag.clone(),
            (None, Some(rule)) => match memory.rules.get(rule) {
                Some(flag) => {
                    object = format!("{object} of flag {flag}");
                    flag.clone()
                }
                None => format!("rule:{}", change.rule_id.as_deref().unwrap_or("")),
            },
            (None, None) => "unknown".to_owned(),
        };
        let remembered = (!change.state_key.is_empty())
            .then(|| memory.states.get(&change.state_key))
            .flatten();
        let out_of_order = matches!(
            (remembered.and_then(|r| r.time), change.timestamp),
            (Some(last), Some(this)) if this < last
        );
        let unknown = |why: &str| -> Map<String, Value> {
            [("unknown".to_owned(), Value::from(why))]
                .into_iter()
                .collect()
        };
        let prev_value = match &change.prev_value {
            PrevValue::Given(previous) => previous.clone(),
            PrevValue::Absent => Map::new(),
            PrevValue::NotSent => unknown("the source did not send the previous state"),
            PrevValue::FromMemory if out_of_order => unknown(
                "this delivery is older than the last one seen of this object; its previous state is not known",
            ),
            PrevValue::FromMemory => match remembered {
                Some(Remembered {
                    state: Some(state), ..
                }) => state.clone(),
                Some(Remembered { state: None, .. }) => Map::new(),
                None => unknown(
                    "no earlier state seen by this relay (it remembers the last states since it started)",
                ),
            },
        };
        let (author, author_type) = change.author.clone().unwrap_or((
            change.source.as_str().to_owned(),
            openfeature_hooks_datadog::AuthorType::System,
        ));
        let mut message = format!("{author} {} {object}", change.verb);
        if let Some(env) = &change.env {
            message.push_str(&format!(" in {env}"));
            for more in &change.more_envs {
                message.push_str(&format!(", {more}"));
            }
        }
        if change.source == Source::Flipt && namespace != "default" {
            message.push_str(&format!(" (namespace {namespace})"));
        }
        message.push_str(&format!(" ({})", source_name(change.source)));
        if let Some(note) = &change.note {
            message.push_str("\n\n");
            message.push_str(note);
        }
        let url = change.url.clone().or_else(|| match change.source {
            Source::Flipt if !flag.starts_with("segment:") && !flag.starts_with("rule:") => config
                .flipt_url
                .as_ref()
                .map(|base| format!("{base}/#/namespaces/{namespace}/flags/{flag}")),
            Source::Unleash => config.unleash_url.as_ref().map(|base| {
                let project = change
                    .metadata
                    .get("project")
                    .and_then(Value::as_str)
                    .unwrap_or("default");
                format!("{base}/projects/{project}/features/{flag}")
            }),
            Source::GrowthBook => config
                .growthbook_url
                .as_ref()
                .map(|base| format!("{base}/features/{flag}")),
            _ => None,
        });
        let mut metadata = change.metadata.clone();
        if out_of_order {
            metadata.insert("out_of_order".to_owned(), Value::Bool(true));
            self.inner
                .counters
                .out_of_order
                .fetch_add(1, Ordering::Relaxed);
        }
        let services = config.impact.services(&flag, &change.flag_tags);
        let mut flag_change = FlagChange::new(flag.clone(), prev_value, change.new_value.clone())
            .with_author(author, author_type)
            .with_description(message)
            .with_impacted_services(services)
            .with_tag(format!("flag_source:{}", change.source.as_str()))
            .with_change_metadata(metadata);
        if let Some(env) = &change.env {
            flag_change = flag_change.with_env(env.clone());
        }
        for more in &change.more_envs {
            flag_change = flag_change.with_tag(format!("env:{more}"));
        }
        if let Some(url) = url {
            flag_change = flag_change.with_url(url);
        }
        if let Some(time) = change.timestamp {
            flag_change = flag_change.with_timestamp(time);
        }
        let deleted = change.action == "deleted"
            || change.action == "feature.deleted"
            || change.action.contains("deleteFlag");
        let remember = Remember {
            state: (!change.state_key.is_empty() && !out_of_order).then(|| {
                (
                    change.state_key.clone(),
                    Remembered {
                        time: change.timestamp,
                        state: (!deleted).then(|| change.new_value.clone()),
                    },
                )
            }),
            rule: rule_key
                .filter(|_| change.flag.is_some())
                .map(|rule| (rule, flag)),
        };
        (flag_change, Some(remember))
    }
}

/// What to remember once a change is queued.
struct Remember {
    state: Option<(String, Remembered)>,
    rule: Option<(String, String)>,
}

impl Remember {
    fn apply(self, memory: &mut ChangeMemory) {
        if let Some((key, state)) = self.state {
            memory.states.insert(key, state);
        }
        if let Some((rule, flag)) = self.rule {
            memory.rules.insert(rule, flag);
        }
    }
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Flipt => "via Flipt",
        Source::LaunchDarkly => "via LaunchDarkly",
        Source::Unleash => "via Unleash",
        Source::GrowthBook => "via GrowthBook",
        Source::GoFeatureFlag => "via GO Feature Flag",
    }
}
