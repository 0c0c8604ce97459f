//! A change of a flag, as Datadog's change tracking records it.

use std::time::SystemTime;

use serde_json::{Map, Value};

/// Who or what made a change (`author.type` in the Events API).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorType {
    /// A person.
    User,
    /// A system (the default for changes the hook detects).
    System,
    /// An API client.
    Api,
    /// An automation.
    Automation,
}

impl AuthorType {
    /// The Events API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorType::User => "user",
            AuthorType::System => "system",
            AuthorType::Api => "api",
            AuthorType::Automation => "automation",
        }
    }
}

/// One flag change: detected from evaluations, reported by the application
/// ([`ChangeEvents::report`](crate::ChangeEvents::report)), or relayed from the flag system
/// that made it.
///
/// The optional parts (environment, impacted services, tags, link, time, metadata) default to
/// what the sender's [`ChangeOrigin`](crate::ChangeOrigin) and the moment of sending give.
#[derive(Clone, Debug, PartialEq)]
pub struct FlagChange {
    /// The flag key.
    pub flag: String,
    /// The state before (e.g. `{"version": "3"}`); at most 100 properties, 10 levels deep.
    pub prev_value: Map<String, Value>,
    /// The state after.
    pub new_value: Map<String, Value>,
    /// Who changed it.
    pub author: String,
    /// What kind of author.
    pub author_type: AuthorType,
    /// A sentence for the event's message.
    pub description: String,
    /// The environment the change happened in (`env:` tag); `None`: the origin's.
    pub env: Option<String>,
    /// The services the change impacts (`impacted_resources`, `service:` tags); empty: the
    /// origin's service.
    pub impacted_services: Vec<String>,
    /// More tags (`key:value`), after the `env`, `service` and `feature_flag` ones.
    pub tags: Vec<String>,
    /// A link back to the flag in the system that changed it (ends the message, and goes in
    /// `change_metadata.url`).
    pub url: Option<String>,
    /// When the change was made; `None`: when it is sent. A time older than the Events API
    /// accepts (18 hours) or in the future is sent as the time of sending, and the original
    /// goes in `change_metadata.source_timestamp`.
    pub timestamp: Option<SystemTime>,
    /// `change_metadata`; `{"source": "openfeature-hooks"}` unless set.
    pub change_metadata: Map<String, Value>,
}

impl FlagChange {
    /// A change of `flag` from `prev_value` to `new_value`, by the system.
    pub fn new(
        flag: impl Into<String>,
        prev_value: Map<String, Value>,
        new_value: Map<String, Value>,
    ) -> Self {
        let flag = flag.into();
        let mut change_metadata = Map::new();
        change_metadata.insert("source".to_owned(), Value::from("openfeature-hooks"));
        Self {
            description: format!("Feature flag {flag} changed"),
            flag,
            prev_value,
            new_value,
            author: "openfeature-hooks".to_owned(),
            author_type: AuthorType::System,
            env: None,
            impacted_services: Vec::new(),
            tags: Vec::new(),
            url: None,
            timestamp: None,
            change_metadata,
        }
    }

    /// Sets the author.
    #[must_use]
    pub fn with_author(mut self, name: impl Into<String>, kind: AuthorType) -> Self {
        self.author = name.into();
        self.author_type = kind;
        self
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the environment.
    #[must_use]
    pub fn with_env(mut self, env: impl Into<String>) -> Self {
        self.env = Some(env.into());
        self
    }

    /// Sets the impacted services.
    #[must_use]
    pub fn with_impacted_services(mut self, services: Vec<String>) -> Self {
        self.impacted_services = services;
        self
    }

    /// Adds a tag (`key:value`).
    #[must_use]
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Sets the link back to the flag.
    #[must_use]
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Sets when the change was made.
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: SystemTime) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Sets `change_metadata` (replacing the default `{"source": "openfeature-hooks"}`).
    #[must_use]
    pub fn with_change_metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.change_metadata = metadata;
        self
    }
}
