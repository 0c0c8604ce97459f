//! Datadog's own test agent (`ddapm-test-agent`, from PyPI), installed into a virtual
//! environment under the target directory on first use, started on free loopback ports, and
//! stopped when dropped.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

/// The version the tests were written against.
const AGENT_VERSION: &str = "1.69.1";

pub struct TestAgent {
    child: Child,
    pub port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

fn run(command: &mut Command) {
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(status.success(), "{command:?} failed: {status}");
}

/// The agent's executable, installing it if needed (python3 with venv and pip are required).
/// Installed once per process: tests that start agents concurrently wait for the same install.
fn executable() -> PathBuf {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(install).clone()
}

fn install() -> PathBuf {
    let venv =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ddapm-test-agent-{AGENT_VERSION}"));
    let agent = venv.join("bin").join("ddapm-test-agent");
    if !agent.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        run(Command::new(venv.join("bin").join("pip")).args([
            "install",
            "--quiet",
            &format!("ddapm-test-agent=={AGENT_VERSION}"),
        ]));
    }
    agent
}

/// Attempts to start an agent before a test gives up: a port found free can be taken by
/// another process before the agent binds it, and the agent then exits at once.
const START_ATTEMPTS: usize = 3;

/// The end of what the agent wrote to stderr that is kept for a failure's message.
const STDERR_KEPT: usize = 4096;

impl TestAgent {
    /// Starts an agent and waits until it says it listens (retrying on fresh ports if it exits
    /// first).
    pub fn start() -> Self {
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start() {
                Ok(agent) => return agent,
                Err(failure) => failures.push(failure),
            }
        }
        panic!("ddapm-test-agent did not start: {failures:#?}");
    }

    /// One attempt on fresh ports; on failure, what the agent wrote to stderr.
    fn try_start() -> Result<Self, String> {
        let port = free_port();
        let mut child = Command::new(executable())
            .arg(format!("--port={port}"))
            .arg(format!("--otlp-http-port={}", free_port()))
            .arg(format!("--otlp-grpc-port={}", free_port()))
            .arg("--host=127.0.0.1")
            .env("PYTHONUNBUFFERED", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start ddapm-test-agent: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let (ready, is_ready) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Running APM server on port") {
                    let _ = ready.send(());
                }
            }
        });
        // Drained all along, so that the agent never blocks on a full pipe; the end is kept.
        let stderr_tail = std::thread::spawn(move || {
            let mut tail = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                tail.push_str(&line);
                tail.push('\n');
                if tail.len() > 2 * STDERR_KEPT {
                    let cut = (tail.len() - STDERR_KEPT..tail.len())
                        .find(|&at| tail.is_char_boundary(at))
                        .unwrap_or(tail.len());
                    tail.drain(..cut);
                }
            }
            tail
        });
        let mut agent = Self { child, port };
        if is_ready.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = agent.child.kill();
            let _ = agent.child.wait();
            return Err(stderr_tail.join().unwrap_or_default());
        }
        Ok(agent)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET /test/session/traces`: every trace received, as JSON.
    pub fn traces(&self) -> serde_json::Value {
        let mut response = ureq::get(&format!("{}/test/session/traces", self.url()))
            .call()
            .unwrap_or_else(|e| panic!("traces: {e}"));
        let text = response.body_mut().read_to_string().unwrap_or_default();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("traces are not JSON: {e}: {text}"))
    }
}

/// Every span of `traces` (as [`TestAgent::traces`] answers them: a list of traces, each a list
/// of spans), in one list.
pub fn spans_of(traces: &serde_json::Value) -> Vec<&serde_json::Value> {
    traces
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_array)
        .flatten()
        .collect()
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
