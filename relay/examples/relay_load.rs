//! Load figure for the relay: signed Flipt deliveries from client threads, through the real
//! router on loopback, to a loopback Datadog intake and a loopback Sentry hook (both answer
//! as the real ones do on success: `202`, and `200` with an empty body). Prints deliveries
//! accepted per second, the rate at which changes reached each destination, and the process's
//! peak memory.
//!
//! `cargo run --release -p openfeature-hooks-relay --example relay_load [deliveries] [clients]
//! [queue capacity] [both|datadog|sentry]` (a refused delivery, `503` on a full queue, is
//! counted, not retried; the queue capacity is each destination's).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use openfeature_hooks_datadog::{ApiKey, ChangeEvents, ChangeEventsConfig, ChangeOrigin};
use openfeature_hooks_relay::__private::hmac_signature;
use openfeature_hooks_relay::{
    Destinations, Relay, RelayConfig, Secret, SentryChanges, SentryChangesConfig,
};
use openfeature_hooks_testkit::{HttpReceiver, ReceivedRequest};

/// The changes in Sentry requests (several per request).
fn sentry_items(requests: &[ReceivedRequest]) -> usize {
    requests
        .iter()
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
        .map(|b| b["data"].as_array().map_or(0, Vec::len))
        .sum()
}

fn peak_memory_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let deliveries = args.first().copied().unwrap_or(30_000);
    let clients = args.get(1).copied().unwrap_or(8);
    let queue = args.get(2).copied().unwrap_or(deliveries);
    let which = std::env::args()
        .skip(1)
        .find(|a| a.parse::<usize>().is_err())
        .unwrap_or_else(|| "both".to_owned());
    let (to_datadog, to_sentry) = (which != "sentry", which != "datadog");
    let secret = "load-secret";
    let intake = HttpReceiver::start().unwrap();
    let sentry_hook = HttpReceiver::start().unwrap();
    let mut destinations = Destinations::new();
    if to_datadog {
        destinations = destinations.with_datadog(Arc::new(ChangeEvents::start(
            ChangeEventsConfig::new(
                ApiKey::new("k"),
                "datadoghq.com",
                ChangeOrigin {
                    service: "svc".into(),
                    env: Some("load".into()),
                },
            )
            .with_endpoint(format!("{}/api/v2/events", intake.url()))
            .with_queue_capacity(queue),
        )));
    }
    if to_sentry {
        destinations = destinations.with_sentry(Arc::new(SentryChanges::start(
            SentryChangesConfig::new(
                format!(
                    "{}/api/0/organizations/load/flags/hooks/provider/generic/",
                    sentry_hook.url()
                ),
                Secret::new("0123456789abcdef0123456789abcdef"),
            )
            .with_queue_capacity(queue),
        )));
    }
    let relay = Relay::with_destinations(
        RelayConfig::new().with_flipt_signing_secret(Secret::new(secret)),
        destinations,
        None,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/flipt", listener.local_addr().unwrap());
    let router = relay.router();
    runtime.spawn(async move { axum::serve(listener, router).await });
    let before = peak_memory_kib();

    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let url = url.clone();
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut refused = 0;
                for n in (client..deliveries).step_by(clients) {
                    let body = format!(
                        r#"{{"version":"0.2","type":"flag","action":"updated","metadata":{{"actor":{{"email":"load@example.com"}}}},"payload":{{"key":"flag-{}","enabled":true,"description":"{n}","namespace_key":"default"}},"timestamp":"2026-11-28T19:00:00Z","status":"success"}}"#,
                        n % 1000
                    );
                    let signature = hmac_signature(&Secret::new(secret), body.as_bytes());
                    let status = agent
                        .post(&url)
                        .header("x-flipt-webhook-signature", &signature)
                        .send(body.as_bytes())
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    if status != 202 {
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    let refused: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let accepted_in = start.elapsed();
    // Every change queued is delivered before the senders' shutdown returns: each
    // destination's figure is what it received by then.
    let (datadog_done, sentry_done) = std::thread::scope(|scope| {
        let datadog = scope.spawn(|| {
            relay
                .datadog()
                .map(|d| (d.shutdown(Duration::from_secs(600)), start.elapsed()))
        });
        let sentry = scope.spawn(|| {
            relay
                .sentry()
                .map(|s| (s.shutdown(Duration::from_secs(600)), start.elapsed()))
        });
        (datadog.join().unwrap(), sentry.join().unwrap())
    });
    let received = intake.requests();
    let sentry_received = sentry_hook.requests();
    let datadog_in = datadog_done.map_or(Duration::from_secs(1), |(_, t)| t);
    let sentry_in = sentry_done.map_or(Duration::from_secs(1), |(_, t)| t);
    let bodies: usize = received
        .iter()
        .chain(&sentry_received)
        .map(|r| r.body.len() + 200)
        .sum();
    println!(
        "{deliveries} deliveries, {clients} clients, queue {queue} per destination, to {which}: \
         accepted {:.0}/s ({refused} answered 503), changes at Datadog {:.0}/s ({} in all), \
         at Sentry {:.0}/s ({} in {} requests); peak memory {} MiB (before load {} MiB; the \
         in-process receivers hold ~{} MiB of received bodies)",
        (deliveries - refused) as f64 / accepted_in.as_secs_f64(),
        received.len() as f64 / datadog_in.as_secs_f64(),
        received.len(),
        sentry_items(&sentry_received) as f64 / sentry_in.as_secs_f64(),
        sentry_items(&sentry_received),
        sentry_received.len(),
        peak_memory_kib() / 1024,
        before / 1024,
        bodies / (1024 * 1024),
    );
    assert!(datadog_done.is_none_or(|(drained, _)| drained));
    assert!(sentry_done.is_none_or(|(drained, _)| drained));
}
