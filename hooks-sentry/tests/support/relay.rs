//! Sentry's own event normaliser: Relay's `StoreNormalizer`, published on PyPI as
//! `sentry-relay`, installed into a virtual environment under the target directory on first use
//! (once per process) and run on event payloads exactly as Sentry's ingest would read them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// The version the tests were written against.
const RELAY_VERSION: &str = "0.10.1";

/// Reads a JSON array of event payloads on stdin, writes the normalised array on stdout.
const NORMALISE: &str = "\
import json, sys
from sentry_relay.processing import StoreNormalizer
normalizer = StoreNormalizer(project_id=1)
json.dump([normalizer.normalize_event(event) for event in json.load(sys.stdin)], sys.stdout)
";

fn run(command: &mut Command) {
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(status.success(), "{command:?} failed: {status}");
}

/// The venv's Python with `sentry-relay` installed (python3 with venv and pip are required).
fn python() -> PathBuf {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(install).clone()
}

fn install() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("sentry-relay-{RELAY_VERSION}"));
    let python = venv.join("bin").join("python");
    // Written after a complete install, so an interrupted one is redone.
    let installed = venv.join("installed");
    if !installed.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        run(Command::new(venv.join("bin").join("pip")).args([
            "install",
            "--quiet",
            &format!("sentry-relay=={RELAY_VERSION}"),
        ]));
        std::fs::write(&installed, RELAY_VERSION)
            .unwrap_or_else(|e| panic!("cannot mark the install: {e}"));
    }
    python
}

/// Each payload as Relay's store normaliser leaves it.
pub fn normalise(payloads: &[Value]) -> Vec<Value> {
    let mut child = Command::new(python())
        .args(["-c", NORMALISE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start Relay's normaliser: {e}"));
    let input = serde_json::to_vec(payloads).unwrap_or_else(|e| panic!("payloads: {e}"));
    child
        .stdin
        .take()
        .unwrap_or_else(|| panic!("no stdin"))
        .write_all(&input)
        .unwrap_or_else(|e| panic!("cannot write to the normaliser: {e}"));
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("normaliser: {e}"));
    assert!(
        output.status.success(),
        "the normaliser failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("the normaliser wrote no JSON array: {e}"))
}
