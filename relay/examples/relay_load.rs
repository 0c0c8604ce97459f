//! Load figure for the relay: signed Flipt deliveries from client threads, through the real
//! router on loopback, to a loopback intake. Prints deliveries accepted per second, the rate
//! at which change events reached the intake, and the process's peak memory.
//!
//! `cargo run --release -p openfeature-hooks-relay --example relay_load [deliveries] [clients]
//! [queue capacity]` (a refused delivery, `503` on a full queue, is counted, not retried).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use openfeature_hooks_datadog::{ApiKey, ChangeEvents, ChangeEventsConfig, ChangeOrigin};
use openfeature_hooks_relay::{Relay, RelayConfig, Secret, hmac_signature};
use openfeature_hooks_testkit::HttpReceiver;

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
    let secret = "load-secret";
    let intake = HttpReceiver::start().unwrap();
    let events = Arc::new(ChangeEvents::start(
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
    ));
    let relay = Relay::new(
        RelayConfig::new().with_flipt_signing_secret(Secret::new(secret)),
        events,
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
    let received = intake.wait_until(Duration::from_secs(600), |r| {
        r.len() >= deliveries - refused
    });
    let delivered_in = start.elapsed();
    let intake_bytes: usize = received.iter().map(|r| r.body.len() + 200).sum();
    println!(
        "{deliveries} deliveries, {clients} clients, queue {queue}: accepted {:.0}/s ({refused} refused), \
         events at the intake {:.0}/s; peak memory {} MiB (before load {} MiB; the in-process \
         intake holds ~{} MiB of received bodies)",
        (deliveries - refused) as f64 / accepted_in.as_secs_f64(),
        received.len() as f64 / delivered_in.as_secs_f64(),
        peak_memory_kib() / 1024,
        before / 1024,
        intake_bytes / (1024 * 1024),
    );
    assert!(relay.shutdown(Duration::from_secs(5)));
}
