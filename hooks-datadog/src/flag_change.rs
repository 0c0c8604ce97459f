//! A change of a flag, as Datadog's change tracking records it.

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

/// One flag change: detected from evaluations, or reported by the application
/// ([`ChangeEvents::report`](crate::ChangeEvents::report)).
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
}

impl FlagChange {
    /// A change of `flag` from `prev_value` to `new_value`, by the system.
    pub fn new(
        flag: impl Into<String>,
        prev_value: Map<String, Value>,
        new_value: Map<String, Value>,
    ) -> Self {
        let flag = flag.into();
        Self {
            description: format!("Feature flag {flag} changed"),
            flag,
            prev_value,
            new_value,
            author: "openfeature-hooks".to_owned(),
            author_type: AuthorType::System,
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
}
