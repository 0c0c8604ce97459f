//! The HTTP face of the relay: one route per source, a health route.

use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::relay::Answer;
use crate::{
    Delivery, FLIPT_SIGNATURE_HEADER, GO_FEATURE_FLAG_SIGNATURE_HEADER,
    GROWTHBOOK_SIGNATURE_HEADER, LAUNCHDARKLY_SIGNATURE_HEADER, ParseError, Relay, Secret,
    parse_flipt, parse_go_feature_flag, parse_growthbook, parse_launchdarkly, parse_unleash,
    valid_hmac_signature, valid_shared_secret,
};

impl Relay {
    /// The routes, to serve or to mount in a service:
    ///
    /// | route | answers |
    /// | --- | --- |
    /// | `POST /flipt` | Flipt audit events signed with `x-flipt-webhook-signature` |
    /// | `POST /launchdarkly` | LaunchDarkly webhooks signed with `X-LD-Signature` |
    /// | `POST /unleash` | Unleash webhooks whose `Authorization` is the configured value |
    /// | `POST /growthbook` | GrowthBook event webhooks signed with `X-GrowthBook-Signature` |
    /// | `POST /go-feature-flag` | GO Feature Flag notifications signed with `X-Hub-Signature-256` |
    /// | `GET /health` | `200` and the counters of the relay and of each destination, while every destination runs; `503` once one stopped |
    ///
    /// A source route exists only when its secret is configured. Deliveries get `202` (changes
    /// queued), `200` (a redelivery, or nothing to relay), `400` (unreadable, with the reason),
    /// `401` (unsigned, wrongly signed, wrong secret: nothing read, nothing logged), `413`
    /// (larger than [`max_body_bytes`](crate::RelayConfig::max_body_bytes)) or `503` (a
    /// destination's queue is full: the source retries later, and its changes go only where
    /// they did not go yet).
    pub fn router(&self) -> Router {
        let config = &self.inner.config;
        let mut router = Router::new().route("/health", get(health));
        if config.flipt_signing_secret.is_some() {
            router = router.route("/flipt", post(flipt));
        }
        if config.launchdarkly_secret.is_some() {
            router = router.route("/launchdarkly", post(launchdarkly));
        }
        if config.unleash_authorization.is_some() {
            router = router.route("/unleash", post(unleash));
        }
        if config.growthbook_secret.is_some() {
            router = router.route("/growthbook", post(growthbook));
        }
        if config.go_feature_flag_secret.is_some() {
            router = router.route("/go-feature-flag", post(go_feature_flag));
        }
        router
            .layer(DefaultBodyLimit::max(config.max_body_bytes))
            .with_state(self.clone())
    }

    fn refuse(&self) -> Response {
        self.inner
            .counters
            .unauthorized
            .fetch_add(1, Ordering::Relaxed);
        answer(Answer {
            status: 401,
            body: json!({"error": "missing or wrong signature"}),
        })
    }

    fn parsed(&self, parsed: Result<Delivery, ParseError>) -> Response {
        match parsed {
            Ok(delivery) => answer(self.relay(delivery)),
            Err(error) => {
                self.inner
                    .counters
                    .malformed
                    .fetch_add(1, Ordering::Relaxed);
                answer(Answer {
                    status: 400,
                    body: json!({"error": error.reason()}),
                })
            }
        }
    }
}

fn signed(secret: Option<&Secret>, headers: &HeaderMap, name: &str, body: &[u8]) -> bool {
    let signature = headers.get(name).and_then(|v| v.to_str().ok());
    match (secret, signature) {
        (Some(secret), Some(signature)) => valid_hmac_signature(secret, body, signature),
        _ => false,
    }
}

async fn flipt(State(relay): State<Relay>, headers: HeaderMap, body: Bytes) -> Response {
    let secret = relay.inner.config.flipt_signing_secret.as_ref();
    if !signed(secret, &headers, FLIPT_SIGNATURE_HEADER, &body) {
        return relay.refuse();
    }
    relay.parsed(parse_flipt(&body))
}

async fn launchdarkly(State(relay): State<Relay>, headers: HeaderMap, body: Bytes) -> Response {
    let secret = relay.inner.config.launchdarkly_secret.as_ref();
    if !signed(secret, &headers, LAUNCHDARKLY_SIGNATURE_HEADER, &body) {
        return relay.refuse();
    }
    relay.parsed(parse_launchdarkly(&body))
}

async fn unleash(State(relay): State<Relay>, headers: HeaderMap, body: Bytes) -> Response {
    let authorized = match (
        relay.inner.config.unleash_authorization.as_ref(),
        headers.get(header::AUTHORIZATION),
    ) {
        (Some(expected), Some(presented)) => valid_shared_secret(expected, presented.as_bytes()),
        _ => false,
    };
    if !authorized {
        return relay.refuse();
    }
    relay.parsed(parse_unleash(&body))
}

async fn growthbook(State(relay): State<Relay>, headers: HeaderMap, body: Bytes) -> Response {
    let secret = relay.inner.config.growthbook_secret.as_ref();
    if !signed(secret, &headers, GROWTHBOOK_SIGNATURE_HEADER, &body) {
        return relay.refuse();
    }
    relay.parsed(parse_growthbook(&body))
}

async fn go_feature_flag(State(relay): State<Relay>, headers: HeaderMap, body: Bytes) -> Response {
    let secret = relay.inner.config.go_feature_flag_secret.as_ref();
    // `sha256=<hex>`, as GitHub writes it.
    let signature = headers
        .get(GO_FEATURE_FLAG_SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("sha256="));
    let signed = match (secret, signature) {
        (Some(secret), Some(signature)) => valid_hmac_signature(secret, &body, signature),
        _ => false,
    };
    if !signed {
        return relay.refuse();
    }
    relay.parsed(parse_go_feature_flag(&body))
}

async fn health(State(relay): State<Relay>) -> Response {
    let stats = relay.stats();
    let running = relay.running();
    let mut destinations = serde_json::Map::new();
    if let Some(events) = relay.datadog() {
        let s = events.stats();
        destinations.insert(
            "datadog".to_owned(),
            json!({"running": events.is_running(), "sent": s.sent, "dropped": s.dropped,
                   "failed": s.failed, "requests": s.requests}),
        );
    }
    if let Some(sentry) = relay.sentry() {
        let s = sentry.stats();
        destinations.insert(
            "sentry".to_owned(),
            json!({"running": sentry.is_running(), "sent": s.sent, "dropped": s.dropped,
                   "failed": s.failed, "invalid": s.invalid, "requests": s.requests}),
        );
    }
    answer(Answer {
        status: if running { 200 } else { 503 },
        body: json!({
            "status": if running { "ok" } else { "stopped" },
            "relayed": stats.relayed,
            "duplicates": stats.duplicates,
            "ignored": stats.ignored,
            "unauthorized": stats.unauthorized,
            "malformed": stats.malformed,
            "unavailable": stats.unavailable,
            "out_of_order": stats.out_of_order,
            "destinations": destinations,
            "audit_dropped": relay.audit().map_or(0, crate::AuditLog::dropped),
        }),
    })
}

fn answer(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        Value::to_string(&answer.body),
    )
        .into_response()
}
