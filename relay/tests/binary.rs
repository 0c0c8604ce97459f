//! The built `openfeature-hooks-relay` binary: configured from its environment, it answers
//! its health route, relays a signed Flipt delivery to a loopback intake, writes the audit line
//! and stops within its shutdown bound on SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use openfeature_hooks_relay::__private::hmac_signature;
use openfeature_hooks_relay::Secret;
use openfeature_hooks_testkit::{HttpReceiver, Reply};
use serde_json::{Value, json};

const API_KEY: &str = "binary-test-api-key-9876";
const SECRET: &str = "binary-test-flipt-secret";

struct Running {
    child: Child,
    url: String,
    stderr: Receiver<String>,
}

fn start(intake: &HttpReceiver, shutdown_secs: u64) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_openfeature-hooks-relay"))
        .env_clear()
        .env("DD_API_KEY", API_KEY)
        .env("DD_EVENTS_URL", format!("{}/api/v2/events", intake.url()))
        .env("DD_SERVICE", "checkout")
        .env("DD_ENV", "prod")
        .env("RELAY_LISTEN", "127.0.0.1:0")
        .env("RELAY_FLIPT_SIGNING_SECRET", SECRET)
        .env("RELAY_IMPACTED_SERVICES", "new-checkout=checkout,cart")
        .env("RELAY_SHUTDOWN_TIMEOUT_SECS", shutdown_secs.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the relay: {e}"));
    let (lines, stderr) = channel();
    let err = child.stderr.take();
    std::thread::spawn(move || {
        if let Some(err) = err {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        }
    });
    let mut url = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while url.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = stderr
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the relay never said where it listens"));
        if let Some((_, address)) = line.split_once("listening on ") {
            url = Some(format!("http://{}", address.trim()));
        }
    }
    Running {
        child,
        url: url.unwrap_or_default(),
        stderr,
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn flipt_delivery(running: &Running) -> u16 {
    let at = openfeature_hooks_core::__private::Rfc3339::now().to_string();
    let body = json!({"version": "0.2", "type": "flag", "action": "updated",
        "metadata": {"actor": {"email": "alice@example.com"}},
        "payload": {"key": "new-checkout", "enabled": true, "namespace_key": "default"},
        "timestamp": at, "status": "success"})
    .to_string();
    let signature = hmac_signature(&Secret::new(SECRET), body.as_bytes());
    agent()
        .post(&format!("{}/flipt", running.url))
        .header("x-flipt-webhook-signature", &signature)
        .send(body.as_bytes())
        .map(|r| r.status().as_u16())
        .unwrap_or_else(|e| panic!("delivery failed: {e}"))
}

/// Sends SIGTERM and waits (on the process, not by polling) at most `limit`.
fn terminate(mut running: Running, limit: Duration) -> (ExitStatus, Duration, String, String) {
    let start = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM");
    let mut stdout = running.child.stdout.take();
    let (exited, exit) = channel();
    let mut child = running.child;
    std::thread::spawn(move || {
        let mut out = String::new();
        if let Some(stdout) = stdout.as_mut() {
            let _ = stdout.read_to_string(&mut out);
        }
        let _ = exited.send((child.wait(), out));
    });
    let (status, stdout) = exit
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("the relay did not stop within {limit:?}"));
    let elapsed = start.elapsed();
    let stderr: Vec<String> = running.stderr.try_iter().collect();
    let status = status.unwrap_or_else(|e| panic!("wait: {e}"));
    (status, elapsed, stdout, stderr.join("\n"))
}

#[test]
fn the_binary_relays_a_signed_delivery_end_to_end_and_stops_on_sigterm() {
    let intake = HttpReceiver::start().unwrap_or_else(|e| panic!("no loopback port: {e}"));
    let running = start(&intake, 3);

    let health = agent()
        .get(&format!("{}/health", running.url))
        .call()
        .map(|mut r| {
            (
                r.status().as_u16(),
                r.body_mut().read_to_string().unwrap_or_default(),
            )
        })
        .unwrap_or_else(|e| panic!("health: {e}"));
    assert_eq!(health.0, 200);
    let health: Value = serde_json::from_str(&health.1).unwrap_or(Value::Null);
    assert_eq!(health["status"], json!("ok"));

    assert_eq!(flipt_delivery(&running), 202);
    let requests = intake.wait_until(Duration::from_secs(10), |r| !r.is_empty());
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("dd-api-key"), Some(API_KEY));
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap_or(Value::Null);
    let a = &body["data"]["attributes"];
    assert_eq!(
        a["tags"],
        json!([
            "env:prod",
            "service:checkout",
            "service:cart",
            "feature_flag:new-checkout",
            "flag_source:flipt"
        ])
    );
    assert_eq!(
        a["attributes"]["author"],
        json!({"name": "alice@example.com", "type": "user"})
    );
    assert_eq!(a["attributes"]["new_value"]["enabled"], json!(true));

    let (status, elapsed, stdout, stderr) = terminate(running, Duration::from_secs(3 + 2));
    assert!(status.success(), "drained: {status:?}\n{stderr}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let audit: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
        .collect();
    assert_eq!(audit.len(), 1, "{stdout}");
    assert_eq!(
        audit[0]["event"]["attributes"]["changed_resource"]["name"],
        json!("new-checkout")
    );
    assert!(stderr.contains("1 change events sent"), "{stderr}");
    for secret in [API_KEY, SECRET] {
        assert!(!stderr.contains(secret) && !stdout.contains(secret));
    }
}

#[test]
fn the_binary_stops_within_its_bound_even_when_the_intake_hangs() {
    let intake = HttpReceiver::start().unwrap_or_else(|e| panic!("no loopback port: {e}"));
    intake.reply_with(Reply::Hang);
    let running = start(&intake, 1);
    assert_eq!(flipt_delivery(&running), 202);
    intake.wait_until(Duration::from_secs(10), |r| !r.is_empty());
    let (status, elapsed, _, stderr) = terminate(running, Duration::from_secs(1 + 2));
    assert!(
        !status.success(),
        "not drained is reported by the exit status"
    );
    assert!(elapsed < Duration::from_millis(1800), "{elapsed:?}");
    assert!(stderr.contains("not drained within the bound"), "{stderr}");
}

#[test]
fn the_binary_refuses_to_start_without_its_configuration() {
    let output = Command::new(env!("CARGO_BIN_EXE_openfeature-hooks-relay"))
        .env_clear()
        .env("DD_API_KEY", API_KEY)
        .output()
        .unwrap_or_else(|e| panic!("cannot start the relay: {e}"));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no source configured"), "{stderr}");
    assert!(!stderr.contains(API_KEY));
}
