//! The README's first command works: the quickstart example (built by `cargo test`) runs with no
//! service and shows, for each evaluation, what every backend received.

#![cfg(feature = "full")]

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/<this test> -> target/<profile>/examples/<name>
    let test = std::env::current_exe().unwrap_or_else(|e| panic!("no current exe: {e}"));
    let profile = test
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap_or_else(|| panic!("odd path {test:?}"));
    profile.join("examples").join(name)
}

#[test]
fn quickstart_shows_every_backend_for_every_evaluation() {
    let output = Command::new(example("quickstart"))
        .output()
        .unwrap_or_else(|e| panic!("quickstart did not run (is it built?): {e}"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let row = |flag: &str| {
        stdout
            .lines()
            .find(|line| line.starts_with(&format!("{flag} ")))
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| panic!("no row for {flag} in:\n{stdout}"))
    };
    assert_eq!(
        row("new-checkout"),
        "new-checkout on / targeting_match true tag on + experiment span"
    );
    assert_eq!(
        row("beta-search"),
        "beta-search off / targeting_match false tag off + experiment span"
    );
    assert_eq!(
        row("button-color"),
        "button-color treatment / split - tag treatment + experiment span"
    );
    assert_eq!(
        row("pricing-v2"),
        "pricing-v2 error.type=parse_error - error tag parse_error"
    );
    // The JSON lines carry a hashed context id, never the targeting key.
    assert_eq!(stdout.matches("\"flag_key\"").count(), 6);
    assert!(!stdout.contains("user-42"));
}
