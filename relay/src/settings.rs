//! The binary's configuration, from environment variables.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use openfeature_hooks_datadog::{ApiKey, ChangeEventsConfig, ChangeOrigin};

use crate::{ImpactMap, RelayConfig, Secret, SentryChangesConfig};

/// Where audit lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditTarget {
    /// Standard output (the default).
    Stdout,
    /// Appended to a file.
    File(PathBuf),
    /// Nowhere.
    Off,
}

/// Everything the binary needs, read by [`from_env`](Self::from_env).
///
/// | variable | meaning | default |
/// | --- | --- | --- |
/// | `DD_API_KEY` | Events API key; enables Datadog | - |
/// | `DD_SITE` | Datadog site | `datadoghq.com` |
/// | `DD_EVENTS_URL` | full Events API URL instead (a proxy) | from `DD_SITE` |
/// | `DD_SERVICE` | the service a change impacts when the impact map names none | `unknown-service` |
/// | `DD_ENV` | `env` tag when the source names no environment (Flipt, GO Feature Flag) | none |
/// | `RELAY_SENTRY_WEBHOOK_URL` | Sentry's generic flag hook, organization included; enables Sentry | - |
/// | `RELAY_SENTRY_WEBHOOK_SECRET` | the secret registered in Sentry for the generic provider (required with the URL) | - |
/// | `RELAY_LISTEN` | address to listen on | `0.0.0.0:8080` |
/// | `RELAY_FLIPT_SIGNING_SECRET` | Flipt's `audit.sinks.webhook.signing_secret`; enables `/flipt` | - |
/// | `RELAY_LAUNCHDARKLY_SECRET` | the LaunchDarkly webhook's secret; enables `/launchdarkly` | - |
/// | `RELAY_UNLEASH_AUTHORIZATION` | the Unleash addon's `Authorization` value; enables `/unleash` | - |
/// | `RELAY_GROWTHBOOK_SECRET` | the GrowthBook event webhook's secret; enables `/growthbook` | - |
/// | `RELAY_GO_FEATURE_FLAG_SECRET` | the GO Feature Flag webhook notifier's `secret`; enables `/go-feature-flag` | - |
/// | `RELAY_IMPACTED_SERVICES` | impact map, e.g. `new-checkout=checkout,cart;tag:payments=billing` | none |
/// | `RELAY_FLIPT_URL`, `RELAY_UNLEASH_URL`, `RELAY_GROWTHBOOK_URL` | UI addresses, for links in the events | none |
/// | `RELAY_GO_FEATURE_FLAG_WINDOW_SECS` | GO Feature Flag instances' announcements of one change within this many seconds are one change | `300` |
/// | `RELAY_MAX_BODY_BYTES` | body size limit | `1048576` |
/// | `RELAY_QUEUE_CAPACITY` | changes waiting at most, per destination (then `503`) | `1024` |
/// | `RELAY_AUDIT` | `stdout`, `off` or a file path | `stdout` |
/// | `RELAY_SHUTDOWN_TIMEOUT_SECS` | bound on shutdown after `SIGTERM`/`SIGINT` | `10` |
///
/// At least one destination (Datadog, Sentry) and one source secret are required. Values are
/// trimmed; addresses that could never be reached (a scheme in `DD_SITE`, a URL without one)
/// are refused at start rather than failing every request.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RelaySettings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The relay.
    pub relay: RelayConfig,
    /// The Datadog sender, when `DD_API_KEY` is set.
    pub datadog: Option<ChangeEventsConfig>,
    /// The Sentry sender, when `RELAY_SENTRY_WEBHOOK_URL` is set.
    pub sentry: Option<SentryChangesConfig>,
    /// Where audit lines go.
    pub audit: AuditTarget,
    /// How long shutdown may take, in all.
    pub shutdown_timeout: Duration,
}

impl RelaySettings {
    /// Reads the process environment. Values are read without the whitespace around them (a
    /// secret stored with a trailing newline is the secret), and a blank value counts as
    /// unset.
    ///
    /// # Errors
    /// [`io::ErrorKind::NotFound`] when a required variable is missing: no destination, a
    /// Sentry URL without its secret or the reverse, no source secret. The message names the
    /// variables to set.
    ///
    /// [`io::ErrorKind::InvalidInput`] when a value cannot be used: a number, the listen
    /// address or the impact map that does not parse, a `DD_SITE` that is not a host name
    /// (`datadoghq.eu`, no scheme), a `DD_EVENTS_URL` or `RELAY_SENTRY_WEBHOOK_URL` that is
    /// not an `http://` or `https://` address. The message names the variable; it shows the
    /// value of a number, the address, the impact map and the site, never a URL (which may
    /// carry a proxy's credentials) nor a secret.
    pub fn from_env() -> io::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` instead of the process environment (for tests, and for
    /// a service that keeps its settings elsewhere).
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> io::Result<Self> {
        // Trimmed: a value stored with a trailing newline is the value.
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        fn number<T: std::str::FromStr>(
            name: &str,
            value: Option<String>,
            default: T,
        ) -> io::Result<T> {
            match value {
                None => Ok(default),
                Some(value) => value
                    .parse()
                    .map_err(|_| invalid(format!("{name} is not a number: {value:?}"))),
            }
        }
        let queue_capacity = number("RELAY_QUEUE_CAPACITY", var("RELAY_QUEUE_CAPACITY"), 1024)?;
        let datadog = match var("DD_API_KEY") {
            None => None,
            Some(api_key) => {
                let site = var("DD_SITE").unwrap_or_else(|| "datadoghq.com".to_owned());
                let host_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-');
                if !site.chars().all(host_name) {
                    return Err(invalid(format!(
                        "DD_SITE is not a Datadog site such as datadoghq.eu: {site:?}"
                    )));
                }
                let origin = ChangeOrigin {
                    service: var("DD_SERVICE").unwrap_or_else(|| "unknown-service".to_owned()),
                    env: var("DD_ENV"),
                };
                let events = ChangeEventsConfig::new(ApiKey::new(api_key), &site, origin)
                    .with_queue_capacity(queue_capacity);
                Some(match var("DD_EVENTS_URL") {
                    Some(url) => events.with_endpoint(web_address("DD_EVENTS_URL", url)?),
                    None => events,
                })
            }
        };
        let sentry = match (
            var("RELAY_SENTRY_WEBHOOK_URL"),
            var("RELAY_SENTRY_WEBHOOK_SECRET"),
        ) {
            (Some(url), Some(secret)) => Some(
                SentryChangesConfig::new(
                    web_address("RELAY_SENTRY_WEBHOOK_URL", url)?,
                    Secret::new(secret),
                )
                .with_queue_capacity(queue_capacity),
            ),
            (None, None) => None,
            (Some(_), None) => {
                return Err(missing(
                    "RELAY_SENTRY_WEBHOOK_URL is set without RELAY_SENTRY_WEBHOOK_SECRET (the generic provider's secret in Sentry)",
                ));
            }
            (None, Some(_)) => {
                return Err(missing(
                    "RELAY_SENTRY_WEBHOOK_SECRET is set without RELAY_SENTRY_WEBHOOK_URL",
                ));
            }
        };
        if datadog.is_none() && sentry.is_none() {
            return Err(missing(
                "no destination configured: set DD_API_KEY (Datadog), or RELAY_SENTRY_WEBHOOK_URL and RELAY_SENTRY_WEBHOOK_SECRET (Sentry), or both",
            ));
        }
        let listen = var("RELAY_LISTEN").unwrap_or_else(|| "0.0.0.0:8080".to_owned());
        let listen: SocketAddr = listen
            .parse()
            .map_err(|_| invalid(format!("RELAY_LISTEN is not an address: {listen:?}")))?;
        let mut relay = RelayConfig::new().with_max_body_bytes(number(
            "RELAY_MAX_BODY_BYTES",
            var("RELAY_MAX_BODY_BYTES"),
            crate::DEFAULT_MAX_BODY_BYTES,
        )?);
        if let Some(secret) = var("RELAY_FLIPT_SIGNING_SECRET") {
            relay = relay.with_flipt_signing_secret(Secret::new(secret));
        }
        if let Some(secret) = var("RELAY_LAUNCHDARKLY_SECRET") {
            relay = relay.with_launchdarkly_secret(Secret::new(secret));
        }
        if let Some(secret) = var("RELAY_UNLEASH_AUTHORIZATION") {
            relay = relay.with_unleash_authorization(Secret::new(secret));
        }
        if let Some(secret) = var("RELAY_GROWTHBOOK_SECRET") {
            relay = relay.with_growthbook_secret(Secret::new(secret));
        }
        if let Some(secret) = var("RELAY_GO_FEATURE_FLAG_SECRET") {
            relay = relay.with_go_feature_flag_secret(Secret::new(secret));
        }
        if relay.sources().is_empty() {
            return Err(missing(
                "no source configured: set RELAY_FLIPT_SIGNING_SECRET, RELAY_LAUNCHDARKLY_SECRET, RELAY_UNLEASH_AUTHORIZATION, RELAY_GROWTHBOOK_SECRET or RELAY_GO_FEATURE_FLAG_SECRET",
            ));
        }
        if let Some(spec) = var("RELAY_IMPACTED_SERVICES") {
            relay = relay.with_impact(
                ImpactMap::parse(&spec)
                    .map_err(|e| invalid(format!("RELAY_IMPACTED_SERVICES: {e}")))?,
            );
        }
        if let Some(url) = var("RELAY_FLIPT_URL") {
            relay = relay.with_flipt_url(url);
        }
        if let Some(url) = var("RELAY_UNLEASH_URL") {
            relay = relay.with_unleash_url(url);
        }
        if let Some(url) = var("RELAY_GROWTHBOOK_URL") {
            relay = relay.with_growthbook_url(url);
        }
        relay = relay.with_go_feature_flag_window(Duration::from_secs(number(
            "RELAY_GO_FEATURE_FLAG_WINDOW_SECS",
            var("RELAY_GO_FEATURE_FLAG_WINDOW_SECS"),
            crate::relay_config::DEFAULT_GO_FEATURE_FLAG_WINDOW.as_secs(),
        )?));
        let audit = match var("RELAY_AUDIT").as_deref().map(str::trim) {
            None | Some("stdout") => AuditTarget::Stdout,
            Some("off") => AuditTarget::Off,
            Some(path) => AuditTarget::File(PathBuf::from(path)),
        };
        let shutdown_timeout = Duration::from_secs(number(
            "RELAY_SHUTDOWN_TIMEOUT_SECS",
            var("RELAY_SHUTDOWN_TIMEOUT_SECS"),
            10,
        )?);
        Ok(Self {
            listen,
            relay,
            datadog,
            sentry,
            audit,
            shutdown_timeout,
        })
    }
}

/// A required variable is missing; `message` names it.
fn missing(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, message)
}

/// `url`, the value of `name`, when it is an HTTP address: without a scheme every request
/// would fail before reaching anybody. The message does not show the value, which may carry a
/// proxy's credentials.
fn web_address(name: &str, url: String) -> io::Result<String> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url)
    } else {
        Err(invalid(format!(
            "{name} is not an http:// or https:// address"
        )))
    }
}

/// A variable's value does not parse; `message` names it (and never holds a secret).
fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_environment_configures_everything_and_debug_shows_no_secret() {
        let settings = RelaySettings::from_lookup(lookup(&[
            ("DD_API_KEY", "api-key-value"),
            ("DD_ENV", "prod"),
            ("RELAY_LISTEN", "127.0.0.1:9999"),
            ("RELAY_FLIPT_SIGNING_SECRET", "flipt-secret-value"),
            ("RELAY_UNLEASH_AUTHORIZATION", "unleash-secret-value"),
            ("RELAY_GROWTHBOOK_SECRET", "growthbook-secret-value"),
            ("RELAY_GO_FEATURE_FLAG_SECRET", "goff-secret-value"),
            (
                "RELAY_SENTRY_WEBHOOK_URL",
                "https://sentry.example/api/0/organizations/o/flags/hooks/provider/generic/",
            ),
            ("RELAY_SENTRY_WEBHOOK_SECRET", "sentry-secret-value"),
            ("RELAY_IMPACTED_SERVICES", "f=a,b"),
            ("RELAY_AUDIT", "off"),
            ("RELAY_SHUTDOWN_TIMEOUT_SECS", "3"),
        ]));
        let settings = settings.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.listen.to_string(), "127.0.0.1:9999");
        assert_eq!(settings.audit, AuditTarget::Off);
        assert_eq!(settings.shutdown_timeout, Duration::from_secs(3));
        assert_eq!(settings.relay.impact.services("f", &[]), ["a", "b"]);
        assert!(settings.relay.launchdarkly_secret.is_none());
        assert_eq!(
            settings.relay.sources(),
            ["flipt", "unleash", "growthbook", "go-feature-flag"]
        );
        assert!(settings.datadog.is_some() && settings.sentry.is_some());
        let debug = format!("{settings:?}");
        for secret in [
            "api-key-value",
            "flipt-secret-value",
            "unleash-secret-value",
            "growthbook-secret-value",
            "goff-secret-value",
            "sentry-secret-value",
        ] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn addresses_that_could_never_be_reached_are_refused_at_start() {
        let with = |name: &'static str, value: &'static str| {
            // The first of a name is the one read.
            let vars = [
                (name, value),
                ("DD_API_KEY", "api-key-value"),
                ("RELAY_FLIPT_SIGNING_SECRET", "flipt-secret-value"),
                ("RELAY_SENTRY_WEBHOOK_SECRET", "sentry-secret-value"),
                (
                    "RELAY_SENTRY_WEBHOOK_URL",
                    "https://us.sentry.io/api/0/organizations/o/flags/hooks/provider/generic/",
                ),
            ];
            RelaySettings::from_lookup(lookup(&vars)).map_err(|e| (e.kind(), e.to_string()))
        };
        let invalid = io::ErrorKind::InvalidInput;
        // A scheme in the site, or an address without one, starts a relay that can send nothing
        // (every request fails before it reaches anybody, and nothing is logged).
        assert_eq!(
            with("DD_SITE", "https://datadoghq.eu").err(),
            Some((
                invalid,
                "DD_SITE is not a Datadog site such as datadoghq.eu: \"https://datadoghq.eu\""
                    .to_owned()
            ))
        );
        assert_eq!(
            with(
                "DD_EVENTS_URL",
                "user:password@proxy.internal/api/v2/events"
            )
            .err(),
            Some((
                invalid,
                "DD_EVENTS_URL is not an http:// or https:// address".to_owned()
            ))
        );
        assert_eq!(
            with(
                "RELAY_SENTRY_WEBHOOK_URL",
                "us.sentry.io/api/0/organizations/o/flags/hooks/provider/generic/"
            )
            .err(),
            Some((
                invalid,
                "RELAY_SENTRY_WEBHOOK_URL is not an http:// or https:// address".to_owned()
            ))
        );
        assert!(with("DD_SITE", "us5.datadoghq.com").is_ok());
        assert!(with("DD_EVENTS_URL", "http://127.0.0.1:8126/api/v2/events").is_ok());
    }

    #[test]
    fn values_are_read_without_the_whitespace_around_them() {
        // A secret stored with a trailing newline (`echo secret | kubectl create secret ...`)
        // is the secret: an HTTP header never carries the whitespace around its value, so an
        // `Authorization` value kept with it could never match.
        let settings = RelaySettings::from_lookup(lookup(&[
            ("DD_API_KEY", "api-key-value"),
            ("RELAY_UNLEASH_AUTHORIZATION", " Bearer unleash-secret\n"),
            ("RELAY_FLIPT_SIGNING_SECRET", "flipt-secret\n"),
            ("DD_SITE", " datadoghq.eu\n"),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let relay = &settings.relay;
        assert!(
            relay
                .unleash_authorization
                .as_ref()
                .is_some_and(|s| crate::valid_shared_secret(s, b"Bearer unleash-secret"))
        );
        let signature = crate::hmac_signature(&Secret::new("flipt-secret"), b"{}");
        assert!(
            relay
                .flipt_signing_secret
                .as_ref()
                .is_some_and(|s| crate::valid_hmac_signature(s, b"{}", &signature))
        );
    }

    #[test]
    fn missing_or_bad_settings_are_named_without_their_secret_values() {
        let error = |vars: &[(&str, &str)]| {
            RelaySettings::from_lookup(lookup(vars))
                .err()
                .map(|e| (e.kind(), e.to_string()))
        };
        let not_found = io::ErrorKind::NotFound;
        assert!(error(&[]).is_some_and(
            |(kind, e)| kind == not_found && e.starts_with("no destination configured")
        ));
        let sentry_only = RelaySettings::from_lookup(lookup(&[
            ("RELAY_SENTRY_WEBHOOK_URL", "http://127.0.0.1:1/"),
            ("RELAY_SENTRY_WEBHOOK_SECRET", "s"),
            ("RELAY_GROWTHBOOK_SECRET", "g"),
        ]));
        assert!(sentry_only.is_ok_and(|s| s.datadog.is_none() && s.sentry.is_some()));
        let half = error(&[
            ("RELAY_SENTRY_WEBHOOK_URL", "http://127.0.0.1:1/"),
            ("RELAY_GROWTHBOOK_SECRET", "g"),
        ]);
        assert!(half.is_some_and(
            |(kind, e)| kind == not_found && e.contains("without RELAY_SENTRY_WEBHOOK_SECRET")
        ));
        let secret_alone = error(&[
            ("RELAY_SENTRY_WEBHOOK_SECRET", "sentry-secret-value"),
            ("RELAY_GROWTHBOOK_SECRET", "g"),
        ]);
        assert_eq!(
            secret_alone,
            Some((
                not_found,
                "RELAY_SENTRY_WEBHOOK_SECRET is set without RELAY_SENTRY_WEBHOOK_URL".to_owned()
            ))
        );
        assert!(
            error(&[("DD_API_KEY", "k")]).is_some_and(|(kind, e)| kind == not_found
                && e.starts_with("no source configured"))
        );
        let bad = error(&[
            ("DD_API_KEY", "k"),
            ("RELAY_LAUNCHDARKLY_SECRET", "ld-secret-value"),
            ("RELAY_MAX_BODY_BYTES", "lots"),
        ]);
        assert_eq!(
            bad,
            Some((
                io::ErrorKind::InvalidInput,
                "RELAY_MAX_BODY_BYTES is not a number: \"lots\"".to_owned()
            ))
        );
        let bad_listen = error(&[
            ("DD_API_KEY", "k"),
            ("RELAY_LAUNCHDARKLY_SECRET", "ld-secret-value"),
            ("RELAY_LISTEN", "localhost"),
        ]);
        assert_eq!(
            bad_listen,
            Some((
                io::ErrorKind::InvalidInput,
                "RELAY_LISTEN is not an address: \"localhost\"".to_owned()
            ))
        );
        let bad_impact = error(&[
            ("DD_API_KEY", "k"),
            ("RELAY_LAUNCHDARKLY_SECRET", "ld-secret-value"),
            ("RELAY_IMPACTED_SERVICES", "new-checkout"),
        ]);
        assert!(
            bad_impact.is_some_and(|(kind, e)| kind == io::ErrorKind::InvalidInput
                && e.starts_with("RELAY_IMPACTED_SERVICES: "))
        );
    }
}
