//! The built `openfeature-hooks-relay` binary, started from environment variables only, and
//! deliveries signed as each source signs them.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use openfeature_hooks_relay::__private::hmac_signature;
use openfeature_hooks_relay::Secret;
use serde_json::Value;

pub const FLIPT: &str = "bin-flipt-secret";
pub const LAUNCHDARKLY: &str = "bin-launchdarkly-secret";
pub const UNLEASH: &str = "Bearer bin-unleash-secret";
pub const GROWTHBOOK: &str = "ewhk_bin_growthbook_secret";
pub const GO_FEATURE_FLAG: &str = "bin-goff-secret";
pub const SENTRY: &str = "0123456789abcdef0123456789abcdef";
pub const DD_KEY: &str = "bin-dd-api-key-5555";

pub struct RelayProcess {
    child: Option<Child>,
    pub url: String,
    stderr: Arc<Mutex<Vec<String>>>,
    agent: ureq::Agent,
}

/// Every source's secret, for [`RelayProcess::start`].
pub fn all_sources() -> Vec<(&'static str, String)> {
    vec![
        ("RELAY_FLIPT_SIGNING_SECRET", FLIPT.into()),
        ("RELAY_LAUNCHDARKLY_SECRET", LAUNCHDARKLY.into()),
        ("RELAY_UNLEASH_AUTHORIZATION", UNLEASH.into()),
        ("RELAY_GROWTHBOOK_SECRET", GROWTHBOOK.into()),
        ("RELAY_GO_FEATURE_FLAG_SECRET", GO_FEATURE_FLAG.into()),
    ]
}

/// Datadog's variables, pointing at `intake`.
pub fn datadog(intake: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DD_API_KEY", DD_KEY.into()),
        ("DD_EVENTS_URL", format!("{intake}/api/v2/events")),
        ("DD_SERVICE", "checkout".into()),
        ("DD_ENV", "prod".into()),
    ]
}

/// Sentry's variables, pointing at `url`.
pub fn sentry(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("RELAY_SENTRY_WEBHOOK_URL", url.into()),
        ("RELAY_SENTRY_WEBHOOK_SECRET", SENTRY.into()),
    ]
}

impl RelayProcess {
    /// Starts the binary with exactly `vars` (and `RELAY_LISTEN` on a free loopback port), and
    /// waits until it says where it listens.
    pub fn start(vars: &[(&str, String)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_openfeature-hooks-relay"));
        command.env_clear().env("RELAY_LISTEN", "127.0.0.1:0");
        for (name, value) in vars {
            command.env(name, value);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the relay: {e}"));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (lines, err) = (stderr.clone(), child.stderr.take());
        std::thread::spawn(move || {
            if let Some(err) = err {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    lines
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(line);
                }
            }
        });
        let mut process = Self {
            child: Some(child),
            url: String::new(),
            stderr,
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .into(),
        };
        let line = process.wait_for_stderr("listening on ", Duration::from_secs(20));
        let address = line
            .split_once("listening on ")
            .map(|(_, a)| a.trim().to_owned())
            .unwrap_or_default();
        process.url = format!("http://{address}");
        process
    }

    /// The first line of standard error containing `text`, waiting at most `timeout`.
    pub fn wait_for_stderr(&self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.stderr().into_iter().find(|l| l.contains(text)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} on stderr: {:?}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
        super::post(
            &self.agent,
            &format!("{}{path}", self.url),
            headers,
            body.as_bytes(),
        )
    }

    pub fn flipt(&self, body: &str) -> (u16, Value) {
        let signature = hmac_signature(&Secret::new(FLIPT), body.as_bytes());
        self.post("/flipt", &[("x-flipt-webhook-signature", &signature)], body)
    }

    pub fn launchdarkly(&self, body: &str) -> (u16, Value) {
        let signature = hmac_signature(&Secret::new(LAUNCHDARKLY), body.as_bytes());
        self.post("/launchdarkly", &[("X-LD-Signature", &signature)], body)
    }

    pub fn unleash(&self, body: &str) -> (u16, Value) {
        self.post("/unleash", &[("Authorization", UNLEASH)], body)
    }

    pub fn growthbook(&self, body: &str) -> (u16, Value) {
        let signature = hmac_signature(&Secret::new(GROWTHBOOK), body.as_bytes());
        self.post(
            "/growthbook",
            &[("X-GrowthBook-Signature", &signature)],
            body,
        )
    }

    pub fn go_feature_flag(&self, body: &str) -> (u16, Value) {
        let signature = format!(
            "sha256={}",
            hmac_signature(&Secret::new(GO_FEATURE_FLAG), body.as_bytes())
        );
        self.post(
            "/go-feature-flag",
            &[("X-Hub-Signature-256", &signature)],
            body,
        )
    }

    pub fn health(&self) -> Value {
        let response = self.agent.get(&format!("{}/health", self.url)).call();
        match response {
            Ok(mut r) => serde_json::from_str(&r.body_mut().read_to_string().unwrap_or_default())
                .unwrap_or(Value::Null),
            Err(e) => panic!("health: {e}"),
        }
    }

    /// Polls `/health` until `done` holds for it (bounded): the destinations' counters move on
    /// their own threads.
    pub fn health_until(&self, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let health = self.health();
            if done(&health) || Instant::now() >= deadline {
                return health;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit status, standard output (the audit lines) and standard error.
    pub fn terminate(mut self, limit: Duration) -> (ExitStatus, Vec<Value>, Vec<String>) {
        let mut child = self.child.take().unwrap_or_else(|| panic!("no child"));
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        assert!(killed.is_ok_and(|s| s.success()), "kill -TERM");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut out = String::new();
            if let Some(mut stdout) = child.stdout.take() {
                let _ = stdout.read_to_string(&mut out);
            }
            let _ = sender.send((child.wait(), out));
        });
        let (status, out) = receiver
            .recv_timeout(limit)
            .unwrap_or_else(|_| panic!("the relay did not stop within {limit:?}"));
        let status = status.unwrap_or_else(|e| panic!("wait: {e}"));
        // Standard error ends with the process; its reader thread has it all shortly after.
        let _ = self.wait_for_stderr("stopped: ", Duration::from_secs(5));
        let audit = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
            .collect();
        (status, audit, self.stderr())
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
