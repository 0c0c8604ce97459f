//! What the relay accepts and how it maps changes.

use std::time::Duration;

use crate::{DEFAULT_MEMORY_CAPACITY, ImpactMap, Secret};

/// The default body size limit ([`RelayConfig::max_body_bytes`]): 1 MiB (LaunchDarkly's entries
/// carry whole flag versions). Larger deliveries get `413`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long after a GO Feature Flag instance first announces a change the same announcement
/// from other instances is that change again: 5 minutes, five times the relay proxy's default
/// polling interval (each instance sees a change at its own next poll).
pub(crate) const DEFAULT_GO_FEATURE_FLAG_WINDOW: Duration = Duration::from_secs(300);

/// Which sources the relay accepts (a source without its secret gets `404`), how it maps
/// their changes and what it remembers. `Debug` never shows a secret.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RelayConfig {
    /// Flipt's `audit.sinks.webhook.signing_secret`: enables `POST /flipt`.
    pub flipt_signing_secret: Option<Secret>,
    /// LaunchDarkly's webhook secret: enables `POST /launchdarkly`.
    pub launchdarkly_secret: Option<Secret>,
    /// The `Authorization` value configured in Unleash's webhook addon: enables
    /// `POST /unleash`.
    pub unleash_authorization: Option<Secret>,
    /// The GrowthBook event webhook's secret (`ewhk_...`): enables `POST /growthbook`.
    pub growthbook_secret: Option<Secret>,
    /// GO Feature Flag's webhook notifier `secret`: enables `POST /go-feature-flag`.
    pub go_feature_flag_secret: Option<Secret>,
    /// Services impacted by flags.
    pub impact: ImpactMap,
    /// Larger bodies get `413` ([`DEFAULT_MAX_BODY_BYTES`] unless set).
    pub max_body_bytes: usize,
    /// Deliveries, object states, Flipt rules and GO Feature Flag announcements remembered
    /// (each; [`DEFAULT_MEMORY_CAPACITY`] unless set). Past it the oldest is forgotten: a
    /// redelivery of a forgotten delivery is relayed again.
    pub memory_capacity: usize,
    /// Flipt's UI (e.g. `https://flipt.example.com`): links to
    /// `<url>/#/namespaces/<ns>/flags/<key>`.
    pub flipt_url: Option<String>,
    /// Unleash's UI: links to `<url>/projects/<project>/features/<name>`.
    pub unleash_url: Option<String>,
    /// GrowthBook's UI (e.g. `https://app.growthbook.io`): links to `<url>/features/<id>`.
    pub growthbook_url: Option<String>,
    /// Announcements of the same change by several GO Feature Flag instances within this
    /// window of the first are one change. 5 minutes unless set: five times the relay proxy's
    /// default polling interval.
    pub go_feature_flag_window: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            flipt_signing_secret: None,
            launchdarkly_secret: None,
            unleash_authorization: None,
            growthbook_secret: None,
            go_feature_flag_secret: None,
            impact: ImpactMap::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            memory_capacity: DEFAULT_MEMORY_CAPACITY,
            flipt_url: None,
            unleash_url: None,
            growthbook_url: None,
            go_feature_flag_window: DEFAULT_GO_FEATURE_FLAG_WINDOW,
        }
    }
}

impl RelayConfig {
    /// A relay that accepts nothing until a source's secret is set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts Flipt audit events signed with `secret`.
    #[must_use]
    pub fn with_flipt_signing_secret(mut self, secret: Secret) -> Self {
        self.flipt_signing_secret = Some(secret);
        self
    }

    /// Accepts LaunchDarkly webhooks signed with `secret`.
    #[must_use]
    pub fn with_launchdarkly_secret(mut self, secret: Secret) -> Self {
        self.launchdarkly_secret = Some(secret);
        self
    }

    /// Accepts Unleash webhooks whose `Authorization` header is `value`.
    #[must_use]
    pub fn with_unleash_authorization(mut self, value: Secret) -> Self {
        self.unleash_authorization = Some(value);
        self
    }

    /// Accepts GrowthBook event webhooks signed with `secret`.
    #[must_use]
    pub fn with_growthbook_secret(mut self, secret: Secret) -> Self {
        self.growthbook_secret = Some(secret);
        self
    }

    /// Accepts GO Feature Flag webhook notifications signed with `secret`.
    #[must_use]
    pub fn with_go_feature_flag_secret(mut self, secret: Secret) -> Self {
        self.go_feature_flag_secret = Some(secret);
        self
    }

    /// Sets the window in which several GO Feature Flag instances' announcements of one
    /// change are that change once (5 minutes unless set).
    #[must_use]
    pub fn with_go_feature_flag_window(mut self, window: Duration) -> Self {
        self.go_feature_flag_window = window;
        self
    }

    /// Sets the impact map.
    #[must_use]
    pub fn with_impact(mut self, impact: ImpactMap) -> Self {
        self.impact = impact;
        self
    }

    /// Sets the body size limit.
    #[must_use]
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets how much is remembered.
    #[must_use]
    pub fn with_memory_capacity(mut self, capacity: usize) -> Self {
        self.memory_capacity = capacity.max(1);
        self
    }

    /// Sets Flipt's UI address, for links.
    #[must_use]
    pub fn with_flipt_url(mut self, url: impl Into<String>) -> Self {
        self.flipt_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Sets Unleash's UI address, for links.
    #[must_use]
    pub fn with_unleash_url(mut self, url: impl Into<String>) -> Self {
        self.unleash_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Sets GrowthBook's UI address, for links.
    #[must_use]
    pub fn with_growthbook_url(mut self, url: impl Into<String>) -> Self {
        self.growthbook_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// The sources whose secret is set, by name (`flipt`, `launchdarkly`, `unleash`,
    /// `growthbook`, `go-feature-flag`).
    pub fn sources(&self) -> Vec<&'static str> {
        [
            (self.flipt_signing_secret.is_some(), "flipt"),
            (self.launchdarkly_secret.is_some(), "launchdarkly"),
            (self.unleash_authorization.is_some(), "unleash"),
            (self.growthbook_secret.is_some(), "growthbook"),
            (self.go_feature_flag_secret.is_some(), "go-feature-flag"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}
