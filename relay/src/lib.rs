//! Relays the flag changes that flag systems announce into Datadog change tracking and Sentry
//! change tracking.
//!
//! Datadog correlates a flag change with the errors and latency that follow it when the change
//! arrives as an Events API v2 `change` event; Sentry marks a flag changed shortly before an
//! issue as "suspect" and draws flag changes on the issue's chart when the change reaches its
//! flag webhook. Flipt, LaunchDarkly, Unleash, GrowthBook and GO Feature Flag post every
//! change to a webhook; this crate receives those webhooks, checks that they come from the
//! source, and sends each change to every configured destination.
//!
//! Mount the router in a service, or run the `openfeature-hooks-relay` binary
//! ([`RelaySettings`] lists its environment variables):
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use openfeature_hooks_datadog::{ApiKey, ChangeEvents, ChangeEventsConfig, ChangeOrigin};
//! use openfeature_hooks_relay::{
//!     AuditLog, Destinations, ImpactMap, Relay, RelayConfig, Secret, SentryChanges,
//!     SentryChangesConfig,
//! };
//!
//! let origin = ChangeOrigin { service: "checkout".into(), env: Some("prod".into()) };
//! let datadog = Arc::new(ChangeEvents::start(ChangeEventsConfig::new(
//!     ApiKey::new("<DD_API_KEY>"),
//!     "datadoghq.com",
//!     origin,
//! )));
//! let sentry = Arc::new(SentryChanges::start(SentryChangesConfig::new(
//!     "https://us.sentry.io/api/0/organizations/acme/flags/hooks/provider/generic/",
//!     Secret::new("<generic provider secret>"),
//! )));
//! let config = RelayConfig::new()
//!     .with_flipt_signing_secret(Secret::new("<flipt signing secret>"))
//!     .with_growthbook_secret(Secret::new("<growthbook webhook secret>"))
//!     .with_impact(ImpactMap::new().flag("new-checkout", ["checkout", "cart"]));
//! let destinations = Destinations::new().with_datadog(datadog).with_sentry(sentry);
//! let relay = Relay::with_destinations(config, destinations, Some(AuditLog::stdout(1024)));
//!
//! // Serve it with axum (`axum::serve(listener, router)`), or nest it in your own router.
//! let router: axum::Router = relay.router();
//! # drop(router);
//!
//! // On shutdown: deliver what is queued, within a bound.
//! assert!(relay.shutdown(Duration::from_secs(5)));
//! ```
//!
//! # Sources
//!
//! A source's route exists once its secret is set in [`RelayConfig`].
//!
//! | route | source | authenticity |
//! | --- | --- | --- |
//! | `POST /flipt` | Flipt v1.27 to v1.61 audit events, versions `0.1` and `0.2` | [`FLIPT_SIGNATURE_HEADER`]: HMAC-SHA256 of the body |
//! | `POST /launchdarkly` | LaunchDarkly webhooks | [`LAUNCHDARKLY_SIGNATURE_HEADER`]: HMAC-SHA256 of the body |
//! | `POST /unleash` | Unleash webhook addon (default body) | `Authorization`: the configured value |
//! | `POST /growthbook` | GrowthBook event webhooks (`feature.created`, `feature.updated`, `feature.deleted`) | [`GROWTHBOOK_SIGNATURE_HEADER`]: HMAC-SHA256 of the body |
//! | `POST /go-feature-flag` | GO Feature Flag's webhook notifier (relay proxy or SDK) | [`GO_FEATURE_FLAG_SIGNATURE_HEADER`]: `sha256=` and the HMAC-SHA256 of the body |
//! | `GET /health` | - | - (the counters, no secret) |
//!
//! [`Relay::router`] lists the answers. Signatures and the `Authorization` value are compared
//! in constant time; a refused delivery gets `401`, and nothing from its body is parsed or
//! logged.
//!
//! # Destinations
//!
//! [`Destinations`] holds any non-empty set of them, each with its own bounded queue, sender
//! thread, retries and counters, so one that is down or slow never delays the other:
//!
//! - **Datadog change tracking**, through [`openfeature_hooks_datadog::ChangeEvents`]: each
//!   change becomes one event, with `changed_resource` the flag, the author, `prev_value` and
//!   `new_value`, the `env` tag, `impacted_resources` from an [`ImpactMap`], a readable message
//!   and a link back to the flag where one is known.
//! - **Sentry change tracking**, through [`SentryChanges`], which posts to Sentry's generic flag
//!   webhook signed with `X-Sentry-Signature`: each change becomes one item with `action`, a
//!   `change_id` stable across retries and redeliveries, `created_at`, `created_by` (`email`
//!   when the source gives one, else a name or an id) and `flag` (names over 100 characters
//!   keep their first 91, then `~` and eight hex digits of their hash).
//!
//! Flipt sends new states only: the relay remembers the last state it saw of each object
//! (bounded, [`DEFAULT_MEMORY_CAPACITY`]) to fill `prev_value`, and says so when it does not
//! know it. Redeliveries (same Flipt or GrowthBook body, same LaunchDarkly `_id` or Unleash
//! `id`, the same GO Feature Flag diff from another instance) are not relayed twice. Each
//! relayed change is also written as a JSON line ([`AuditLog`]) off the request path, naming
//! the destinations it was queued for.
//!
//! Secrets ([`Secret`]) and the API key never appear in `Debug` output or logs. The binary
//! stops within `RELAY_SHUTDOWN_TIMEOUT_SECS` ([`serve_until`], [`Relay::shutdown`]).
//!
//! # Crate feature flags
//!
//! This crate has no optional features.

#![warn(missing_docs, unreachable_pub)]

mod audit_log;
mod change_memory;
mod flipt;
mod go_feature_flag;
mod growthbook;
mod impact_map;
mod json_fields;
mod launchdarkly;
mod relay;
mod relay_config;
mod router;
mod secret;
mod sentry_changes;
mod serve;
mod settings;
mod signature;
mod source_change;
mod unleash;

pub use audit_log::{AuditLog, DEFAULT_AUDIT_CAPACITY};
pub use change_memory::DEFAULT_MEMORY_CAPACITY;
pub use flipt::FLIPT_SIGNATURE_HEADER;
pub use go_feature_flag::GO_FEATURE_FLAG_SIGNATURE_HEADER;
pub use growthbook::GROWTHBOOK_SIGNATURE_HEADER;
pub use impact_map::ImpactMap;
pub use launchdarkly::LAUNCHDARKLY_SIGNATURE_HEADER;
pub use relay::{Destinations, Relay, RelayStats};
pub use relay_config::{DEFAULT_MAX_BODY_BYTES, RelayConfig};
pub use secret::Secret;
pub use sentry_changes::{SentryChanges, SentryChangesConfig, SentryStats};
pub use serve::serve_until;
pub use settings::{AuditTarget, RelaySettings};

/// The parsers, what they make of a delivery, the signature checks and Sentry's text rule:
/// used by this crate's tests and fuzz targets.
///
/// **Not part of the public API**: it carries no semver promise and may change in any
/// release. Services mount [`Relay::router`], which calls these.
#[doc(hidden)]
pub mod __private {
    pub use crate::flipt::parse_flipt;
    pub use crate::go_feature_flag::parse_go_feature_flag;
    pub use crate::growthbook::parse_growthbook;
    pub use crate::launchdarkly::parse_launchdarkly;
    pub use crate::sentry_changes::{MAX_SENTRY_TEXT, sentry_text};
    pub use crate::signature::{hmac_signature, valid_hmac_signature, valid_shared_secret};
    pub use crate::source_change::{
        ChangeKind, CreatedByType, Delivery, ParseError, PrevValue, Source, SourceChange,
    };
    pub use crate::unleash::parse_unleash;
}

// Inside this crate the hidden items are named from the root, like the public ones.
#[allow(unused_imports)]
pub(crate) use __private::*;
