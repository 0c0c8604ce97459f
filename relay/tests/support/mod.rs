//! A relay served by its real router on a loopback port, in front of a loopback Events API
//! intake (the testkit's HTTP receiver: a fake intake, since Datadog's own cannot run here).

#![allow(dead_code, unreachable_pub)]

pub mod binary;
pub mod sentry_receiver;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use openfeature_hooks_core::__private::Rfc3339;
use openfeature_hooks_datadog::{ApiKey, ChangeEvents, ChangeEventsConfig, ChangeOrigin};
use openfeature_hooks_relay::__private::hmac_signature;
use openfeature_hooks_relay::{
    AuditLog, Destinations, Relay, RelayConfig, Secret, SentryChanges, SentryChangesConfig,
};
use openfeature_hooks_testkit::{HttpReceiver, ReceivedRequest, SharedBuffer};
use serde_json::Value;

pub const API_KEY: &str = "dd-api-key-0123456789abcdef";
pub const FLIPT_SECRET: &str = "flipt-signing-secret";
pub const LD_SECRET: &str = "launchdarkly-webhook-secret";
pub const UNLEASH_AUTH: &str = "Bearer unleash-shared-secret";
pub const GROWTHBOOK_SECRET: &str = "ewhk_growthbook-webhook-secret";
pub const GOFF_SECRET: &str = "go-feature-flag-notifier-secret";
pub const SENTRY_SECRET: &str = "fedcba9876543210fedcba9876543210";

pub struct Served {
    pub relay: Relay,
    pub intake: HttpReceiver,
    pub url: String,
    pub audit: SharedBuffer,
    /// Sentry's stand-in, when Sentry is a destination too.
    pub sentry: Option<sentry_receiver::SentryReceiver>,
    agent: ureq::Agent,
    runtime: Option<tokio::runtime::Runtime>,
}

pub fn events_config(intake: &HttpReceiver) -> ChangeEventsConfig {
    ChangeEventsConfig::new(
        ApiKey::new(API_KEY),
        "datadoghq.com",
        ChangeOrigin {
            service: "default-service".into(),
            env: Some("prod".into()),
        },
    )
    .with_endpoint(format!("{}/api/v2/events", intake.url()))
    .with_timeout(Duration::from_millis(500))
    .with_retries(3, Duration::from_millis(20))
}

pub fn relay_config() -> RelayConfig {
    RelayConfig::new()
        .with_flipt_signing_secret(Secret::new(FLIPT_SECRET))
        .with_launchdarkly_secret(Secret::new(LD_SECRET))
        .with_unleash_authorization(Secret::new(UNLEASH_AUTH))
        .with_growthbook_secret(Secret::new(GROWTHBOOK_SECRET))
        .with_go_feature_flag_secret(Secret::new(GOFF_SECRET))
}

impl Served {
    pub fn start(config: RelayConfig) -> Self {
        let intake = HttpReceiver::start().unwrap_or_else(|e| panic!("no loopback port: {e}"));
        let events = events_config(&intake);
        Self::start_with(config, intake, events)
    }

    pub fn start_with(
        config: RelayConfig,
        intake: HttpReceiver,
        events: ChangeEventsConfig,
    ) -> Self {
        Self::start_to(config, intake, events, None)
    }

    /// Datadog and Sentry (a loopback stand-in) as destinations.
    pub fn start_both(config: RelayConfig) -> Self {
        let intake = HttpReceiver::start().unwrap_or_else(|e| panic!("no loopback port: {e}"));
        let events = events_config(&intake);
        let sentry = sentry_receiver::SentryReceiver::start(SENTRY_SECRET);
        Self::start_to(config, intake, events, Some(sentry))
    }

    fn start_to(
        config: RelayConfig,
        intake: HttpReceiver,
        events: ChangeEventsConfig,
        sentry: Option<sentry_receiver::SentryReceiver>,
    ) -> Self {
        let audit = SharedBuffer::new();
        let mut destinations =
            Destinations::new().with_datadog(Arc::new(ChangeEvents::start(events)));
        if let Some(sentry) = &sentry {
            destinations = destinations.with_sentry(Arc::new(SentryChanges::start(
                SentryChangesConfig::new(sentry.url(), Secret::new(SENTRY_SECRET))
                    .with_timeout(Duration::from_millis(500))
                    .with_retries(3, Duration::from_millis(20)),
            )));
        }
        let relay = Relay::with_destinations(
            config,
            destinations,
            Some(AuditLog::start(audit.clone(), 4096)),
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap_or_else(|e| panic!("no loopback port: {e}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("address: {e}"));
        let router = relay.router();
        runtime.spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Self {
            relay,
            intake,
            url: format!("http://{address}"),
            audit,
            sentry,
            agent,
            runtime: Some(runtime),
        }
    }

    /// POSTs `body` to `path` with `headers`; the status and the answer's JSON.
    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
        post(&self.agent, &format!("{}{path}", self.url), headers, body)
    }

    pub fn flipt(&self, body: &str) -> (u16, Value) {
        let signature = hmac_signature(&Secret::new(FLIPT_SECRET), body.as_bytes());
        self.post(
            "/flipt",
            &[("x-flipt-webhook-signature", &signature)],
            body.as_bytes(),
        )
    }

    pub fn launchdarkly(&self, body: &str) -> (u16, Value) {
        let signature = hmac_signature(&Secret::new(LD_SECRET), body.as_bytes());
        self.post(
            "/launchdarkly",
            &[("X-LD-Signature", &signature)],
            body.as_bytes(),
        )
    }

    pub fn growthbook(&self, body: &str) -> (u16, Value) {
        let signature = hmac_signature(&Secret::new(GROWTHBOOK_SECRET), body.as_bytes());
        self.post(
            "/growthbook",
            &[("X-GrowthBook-Signature", &signature)],
            body.as_bytes(),
        )
    }

    pub fn go_feature_flag(&self, body: &str) -> (u16, Value) {
        let signature = format!(
            "sha256={}",
            hmac_signature(&Secret::new(GOFF_SECRET), body.as_bytes())
        );
        self.post(
            "/go-feature-flag",
            &[("X-Hub-Signature-256", &signature)],
            body.as_bytes(),
        )
    }

    /// [`fence`](Self::fence) at both destinations: what reached Datadog and Sentry before it.
    pub fn fence_both(&self, n: u32) -> (Vec<ReceivedRequest>, Vec<Value>) {
        let datadog = self.fence(n);
        let sentry = self.sentry.as_ref().map_or_else(Vec::new, |sentry| {
            let fence = format!("fence-{n}");
            let items =
                sentry_receiver::accepted_items(&sentry.wait_until(Duration::from_secs(20), |r| {
                    sentry_receiver::accepted_items(r)
                        .iter()
                        .any(|i| i["flag"] == fence.as_str())
                }));
            items
                .into_iter()
                .take_while(|i| i["flag"] != fence.as_str())
                .collect()
        });
        (datadog, sentry)
    }

    pub fn unleash(&self, body: &str) -> (u16, Value) {
        self.post(
            "/unleash",
            &[("Authorization", UNLEASH_AUTH)],
            body.as_bytes(),
        )
    }

    /// The Datadog sender's counters.
    pub fn datadog_stats(&self) -> openfeature_hooks_datadog::ChangeEventStats {
        self.relay
            .datadog()
            .map(ChangeEvents::stats)
            .unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        let response = self.agent.get(&format!("{}{path}", self.url)).call();
        answer(response)
    }

    /// Waits until the intake received `count` requests.
    pub fn received(&self, count: usize) -> Vec<ReceivedRequest> {
        self.intake
            .wait_until(Duration::from_secs(20), |r| r.len() >= count)
    }

    /// Sends a marker change (an Unleash event of flag `fence-<n>`) and waits until the intake
    /// has it: the sender is one FIFO queue, so whatever was queued before has arrived too, and
    /// anything not arrived by then was never queued.
    pub fn fence(&self, n: u32) -> Vec<ReceivedRequest> {
        let body = format!(
            r#"{{"id": {}, "type": "feature-updated", "createdBy": "fence", "featureName": "fence-{n}", "data": {{}}}}"#,
            1_000_000 + n
        );
        let (status, answer) = self.unleash(&body);
        assert_eq!(status, 202, "{answer}");
        let requests = self.intake.wait_until(Duration::from_secs(20), |r| {
            r.iter()
                .any(|r| flag_of(&body_of(r)) == format!("fence-{n}"))
        });
        requests
            .into_iter()
            .take_while(|r| flag_of(&body_of(r)) != format!("fence-{n}"))
            .collect()
    }

    pub fn audit_lines(&self) -> Vec<Value> {
        self.audit
            .text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
            .collect()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_millis(100));
        }
    }
}

pub fn post(agent: &ureq::Agent, url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
    let mut request = agent.post(url).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request.send(body))
}

fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
    match response {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_string().unwrap_or_default();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        }
        Err(error) => panic!("request failed: {error}"),
    }
}

pub fn body_of(request: &ReceivedRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap_or(Value::Null)
}

pub fn flag_of(body: &Value) -> String {
    body["data"]["attributes"]["attributes"]["changed_resource"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A time `seconds_ago`, as the sources write it and as the event carries it.
pub fn time_ago(seconds_ago: u64) -> (SystemTime, String) {
    let time = SystemTime::now() - Duration::from_secs(seconds_ago);
    // Whole milliseconds, so every source's precision (LaunchDarkly: ms) holds it exactly.
    let millis = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let time = SystemTime::UNIX_EPOCH + Duration::from_millis(millis as u64);
    (time, Rfc3339::at(time).to_string())
}
