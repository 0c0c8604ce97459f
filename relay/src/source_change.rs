//! What a parser makes of one delivery: the changes it announces, in the sources' own terms,
//! before the relay adds what it remembers and the configured impact.

use std::fmt;
use std::time::SystemTime;

use openfeature_hooks_datadog::AuthorType;
use serde_json::{Map, Value};

/// The flag system a delivery comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// Flipt v1 audit events (`audit.sinks.webhook`).
    Flipt,
    /// LaunchDarkly webhooks.
    LaunchDarkly,
    /// Unleash's webhook addon.
    Unleash,
    /// GrowthBook event webhooks.
    GrowthBook,
    /// GO Feature Flag's webhook notifier (relay proxy or SDK).
    GoFeatureFlag,
}

impl Source {
    /// The source's name in tags, metadata and audit lines (`flipt`, `launchdarkly`,
    /// `unleash`, `growthbook`, `go-feature-flag`).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Flipt => "flipt",
            Source::LaunchDarkly => "launchdarkly",
            Source::Unleash => "unleash",
            Source::GrowthBook => "growthbook",
            Source::GoFeatureFlag => "go-feature-flag",
        }
    }
}

/// What a change did to its flag, as Sentry's change tracking records it (`action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// The flag was created.
    Created,
    /// The flag, or a part of it (a rule, a variant, a strategy, an environment), changed.
    Updated,
    /// The flag was deleted (or archived, where the source archives instead).
    Deleted,
}

impl ChangeKind {
    /// Sentry's name: `created`, `updated` or `deleted`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Deleted => "deleted",
        }
    }
}

/// What the author's text is, as Sentry's `created_by.type` records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreatedByType {
    /// An e-mail address the source gave as one.
    Email,
    /// An identifier (a user id, a token id).
    Id,
    /// A name, or what the relay says when the source names nobody.
    Name,
}

impl CreatedByType {
    /// Sentry's name: `email`, `id` or `name`.
    pub fn as_str(self) -> &'static str {
        match self {
            CreatedByType::Email => "email",
            CreatedByType::Id => "id",
            CreatedByType::Name => "name",
        }
    }
}

/// The state before a change, as far as the source or the relay knows it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum PrevValue {
    /// The source sent it (LaunchDarkly's `previousVersion`, Unleash's `preData`).
    Given(Map<String, Value>),
    /// The object did not exist before (a creation).
    Absent,
    /// The source sends new states only (Flipt): the relay fills it from the last state it saw.
    FromMemory,
    /// The source did not send it.
    NotSent,
}

/// One change a delivery announces.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SourceChange {
    /// Where it comes from.
    pub source: Source,
    /// The flag (`changed_resource`). `None` for a Flipt distribution whose flag is known only
    /// through its rule (see `rule_id`).
    pub flag: Option<String>,
    /// A Flipt distribution's rule, to find its flag from the rules seen before.
    pub rule_id: Option<String>,
    /// What changed, e.g. `flag`, `variant blue`, `rule 2` (for the message).
    pub object: String,
    /// The source's action, e.g. `updated`, `updateOn`, `feature-environment-enabled`.
    pub action: String,
    /// A past-tense verb for the message (`updated`, `turned on`).
    pub verb: String,
    /// Where the object's state is remembered (unique per source, namespace and object).
    pub state_key: String,
    /// The environment, when the source names one.
    pub env: Option<String>,
    /// More environments the change affects, when the source names several (GrowthBook):
    /// `env:` tags after the first.
    pub more_envs: Vec<String>,
    /// Who made the change, and what kind of author.
    pub author: Option<(String, AuthorType)>,
    /// What the author's text is (an e-mail address, an id, a name), for Sentry.
    pub created_by_type: CreatedByType,
    /// What the change did to the flag, for Sentry.
    pub kind: ChangeKind,
    /// The state before.
    pub prev_value: PrevValue,
    /// The state after (empty after a deletion).
    pub new_value: Map<String, Value>,
    /// The flag's tags, matched against the configured impact map.
    pub flag_tags: Vec<String>,
    /// A link back to the object, when the source gives one.
    pub url: Option<String>,
    /// When the change was made.
    pub timestamp: Option<SystemTime>,
    /// Source details for `change_metadata` (project, namespace, actions, ids).
    pub metadata: Map<String, Value>,
    /// Extra context for the message (a LaunchDarkly comment).
    pub note: Option<String>,
    /// The change's identity when it is not the delivery's (`<delivery key>#<index>`): GO
    /// Feature Flag's instances announce the same change each in a delivery of its own.
    pub change_key: Option<String>,
    /// The instance that announced the change (GO Feature Flag's `meta.hostname`): the relay
    /// counts each instance's announcements of a change to tell a repeat from a new change.
    pub announced_by: Option<String>,
}

impl SourceChange {
    pub(crate) fn new(source: Source, action: &str) -> Self {
        Self {
            source,
            flag: None,
            rule_id: None,
            object: "flag".to_owned(),
            action: action.to_owned(),
            verb: action.to_owned(),
            state_key: String::new(),
            env: None,
            more_envs: Vec::new(),
            author: None,
            created_by_type: CreatedByType::Name,
            kind: ChangeKind::Updated,
            prev_value: PrevValue::NotSent,
            new_value: Map::new(),
            flag_tags: Vec::new(),
            url: None,
            timestamp: None,
            metadata: Map::new(),
            note: None,
            change_key: None,
            announced_by: None,
        }
    }
}

/// What a parser found in a delivery.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Delivery {
    /// Changes to relay, with the key that identifies this delivery among redeliveries (the
    /// source's event id, or a hash of the body for Flipt, which has none).
    Changes {
        /// The delivery's identity.
        delivery_key: String,
        /// The changes, at least one.
        changes: Vec<SourceChange>,
    },
    /// Nothing to relay, and why (a denied request, a token event, a project event).
    Ignored(String),
}

/// Why a delivery could not be read: the reason a `400` gives (never a copy of the body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(String);

impl ParseError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }

    /// The reason.
    pub fn reason(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}
