//! The relay itself: from a parsed delivery to change events, with what it remembers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use openfeature_hooks_core::Rfc3339;
use openfeature_hooks_datadog::{ChangeEvents, FlagChange, NotQueued, change_event_body_at};
use serde_json::{Map, Value, json};

use crate::change_memory::{ChangeMemory, Remembered};
use crate::{AuditLog, Delivery, PrevValue, RelayConfig, Source, SourceChange};

/// Counters of a [`Relay`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayStats {
    /// Changes queued for Datadog.
    pub relayed: u64,
    /// Changes not relayed again because their delivery was seen before.
    pub duplicates: u64,
    /// Deliveries that announced no change (denied requests, other event kinds).
    pub ignored: u64,
    /// Deliveries refused for a missing or wrong signature or secret (`401`).
    pub unauthorized: u64,
    /// Deliveries refused as unreadable (`400`).
    pub malformed: u64,
    /// Deliveries answered `503` because the change-event queue was full or stopped.
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

pub(crate) struct Inner {
    pub(crate) config: RelayConfig,
    pub(crate) events: Arc<ChangeEvents>,
    audit: Option<AuditLog>,
    memory: Mutex<ChangeMemory>,
    pub(crate) counters: Counters,
}

/// Relays the changes that Flipt, LaunchDarkly and Unleash announce to Datadog through a
/// [`ChangeEvents`] sender. Cheap to clone (shared state); mount [`router`](Self::router).
///
/// Changes are queued in the order deliveries are accepted, one delivery at a time, so the
/// changes of one flag reach Datadog in the order their deliveries were answered.
#[derive(Clone)]
pub struct Relay {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("config", &self.inner.config)
            .field("stats", &self.stats())
            .field("events", &self.inner.events)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// A relay sending through `events`, writing each relayed change to `audit` when given.
    pub fn new(config: RelayConfig, events: Arc<ChangeEvents>, audit: Option<AuditLog>) -> Self {
        let memory = Mutex::new(ChangeMemory::new(config.memory_capacity));
        Self {
            inner: Arc::new(Inner {
                config,
                events,
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

    /// The change-event sender.
    pub fn events(&self) -> &ChangeEvents {
        &self.inner.events
    }

    /// The audit log, when there is one.
    pub fn audit(&self) -> Option<&AuditLog> {
        self.inner.audit.as_ref()
    }

    /// Stops taking changes, then lets the sender deliver what is queued and the audit log
    /// write its lines, waiting at most `timeout` in all: `true` if both finished. Events
    /// still queued after it are lost (the sender's [`ChangeEvents::shutdown`] bound).
    pub fn shutdown(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        let sent = self.inner.events.shutdown(timeout);
        let left = timeout.saturating_sub(start.elapsed());
        let written = self
            .inner
            .audit
            .as_ref()
            .is_none_or(|audit| audit.shutdown(left.max(Duration::from_millis(10))));
        sent && written
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
        let mut memory = self
            .inner
            .memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (mut relayed, mut duplicates) = (0u64, 0u64);
        for (index, change) in changes.into_iter().enumerate() {
            // A delivery announcing several changes may be cut by a full queue: each change
            // is remembered on its own, so a redelivery relays only the rest.
            let key = format!("{delivery_key}#{index}");
            if memory.deliveries.get(&key).is_some() {
                duplicates += 1;
                continue;
            }
            let source = change.source;
            let (flag_change, remember) = self.flag_change(&memory, change);
            let now = SystemTime::now();
            let audit_line = self.inner.audit.as_ref().map(|_| {
                let body = change_event_body_at(&flag_change, self.inner.events.origin(), now);
                json!({
                    "time": Rfc3339::at(now).to_string(),
                    "source": source.as_str(),
                    "delivery": key,
                    "event": body["data"]["attributes"],
                })
                .to_string()
            });
            match self.inner.events.try_report(flag_change) {
                Ok(()) => {
                    memory.deliveries.insert(key, ());
                    if let Some(remember) = remember {
                        remember.apply(&mut memory);
                    }
                    if let (Some(audit), Some(line)) = (&self.inner.audit, audit_line) {
                        audit.write(line);
                    }
                    relayed += 1;
                }
                Err(reason) => {
                    counters.relayed.fetch_add(relayed, Ordering::Relaxed);
                    counters.duplicates.fetch_add(duplicates, Ordering::Relaxed);
                    counters.unavailable.fetch_add(1, Ordering::Relaxed);
                    let error = match reason {
                        NotQueued::QueueFull => "the change-event queue is full; retry later",
                        _ => "the relay is shutting down; retry later",
                    };
                    return Answer {
                        status: 503,
                        body: json!({"error": error, "relayed": relayed}),
                    };
                }
            }
        }
        counters.relayed.fetch_add(relayed, Ordering::Relaxed);
        counters.duplicates.fetch_add(duplicates, Ordering::Relaxed);
        Answer {
            status: if relayed > 0 { 202 } else { 200 },
            body: json!({"relayed": relayed, "duplicates": duplicates}),
        }
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
        if let Some(url) = url {
            flag_change = flag_change.with_url(url);
        }
        if let Some(time) = change.timestamp {
            flag_change = flag_change.with_timestamp(time);
        }
        let deleted = change.action == "deleted" || change.action.contains("deleteFlag");
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
    }
}
