//! The README's install lines are what a fresh crate needs: two crates are made from exactly
//! those `[dependencies]` lines (this family's crates by path instead of version, as if
//! published), with the README's Rust blocks as their code, and checked by cargo with no
//! lockfile, resolving versions as a new user's crate would.
//!
//! - every backend (`full`): all the lines and the README's two "Use" programs and production
//!   set-up. Datadog's tracer holds OpenTelemetry at `=0.33.0`.
//! - OpenTelemetry alone (`otel`): the facade and the OpenTelemetry lines, with the production
//!   set-up; cargo picks the newest OpenTelemetry 0.33 patch, the one the README says is
//!   supported besides 0.33.0.
//!
//! They use a target directory of their own under `target/`, kept between runs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The fenced blocks of `language` in the README section whose heading starts with `heading`.
fn blocks(readme: &str, heading: &str, language: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_section = false;
    let mut block: Option<String> = None;
    for line in readme.lines() {
        if let Some(current) = block.as_mut() {
            if line.trim_start().starts_with("```") {
                out.push(block.take().unwrap_or_default());
            } else {
                current.push_str(line);
                current.push('\n');
            }
            continue;
        }
        if let Some(title) = line.strip_prefix("## ") {
            in_section = title.starts_with(heading);
            continue;
        }
        if in_section
            && let Some(info) = line.trim_start().strip_prefix("```")
            && info.split(',').next() == Some(language)
        {
            block = Some(String::new());
        }
    }
    out
}

/// A doc-test block as the program a reader gets once the hidden lines are shown.
fn shown(block: &str) -> String {
    block
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            if trimmed == "#" {
                ""
            } else if let Some(rest) = trimmed.strip_prefix("# ") {
                rest
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `[dependencies]` lines of the README's install blocks, this family's crates by path.
fn dependency_lines(toml_blocks: &[String], root: &Path) -> String {
    let mut lines = String::new();
    for block in toml_blocks {
        for line in block.lines() {
            let line = line.trim();
            if line.is_empty() || line == "[dependencies]" {
                continue;
            }
            let line = match family_crate_path(line, root) {
                Some(path) => {
                    let path = format!("path = {:?}", path.display().to_string());
                    match line.split_once('=') {
                        // `name = "0.1"`
                        Some((name, value)) if value.trim_start().starts_with('"') => {
                            format!("{} = {{ {path} }}", name.trim())
                        }
                        // `name = { version = "0.1", ... }`
                        _ => line.replace(r#"version = "0.1""#, &path),
                    }
                }
                None => line.to_owned(),
            };
            lines.push_str(&line);
            lines.push('\n');
        }
    }
    lines
}

/// Where a crate of this family named on `line` lives in the workspace.
fn family_crate_path(line: &str, root: &Path) -> Option<PathBuf> {
    let name = line.split([' ', '=']).next()?;
    match name {
        "openfeature-hooks" => Some(root.to_path_buf()),
        "openfeature-hooks-in-memory" => Some(root.join("in-memory")),
        "openfeature-hooks-relay" => Some(root.join("relay")),
        other => other
            .strip_prefix("openfeature-hooks-")
            .map(|backend| root.join(format!("hooks-{backend}"))),
    }
}

/// Writes a crate named `name` with `dependencies` and the `programs` (one module each) under
/// `target/install-lines`, and checks it.
fn check_fresh_crate(name: &str, dependencies: &str, programs: &[String]) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target").join("install-lines").join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap_or_else(|e| panic!("{e}"));
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         # Not a member of the workspace around it.\n[workspace]\n\n[dependencies]\n{dependencies}"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap_or_else(|e| panic!("{e}"));
    let mut main = String::from("#![allow(dead_code, unused)]\n\nfn main() {}\n");
    for (index, program) in programs.iter().enumerate() {
        let body = shown(program);
        if body.contains("fn main(") {
            main.push_str(&format!("\nmod readme_{index} {{\n{body}\n}}\n"));
        } else {
            main.push_str(&format!(
                "\nmod readme_{index} {{\nfn run() {{\n{body}\n}}\n}}\n"
            ));
        }
    }
    std::fs::write(dir.join("src/main.rs"), main).unwrap_or_else(|e| panic!("{e}"));
    // No lockfile: resolved as a new crate would be, every run.
    let _ = std::fs::remove_file(dir.join("Cargo.lock"));
    let output = Command::new(env!("CARGO"))
        .arg("check")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .env(
            "CARGO_TARGET_DIR",
            root.join("target").join("install-lines").join("target"),
        )
        .output()
        .unwrap_or_else(|e| panic!("cargo: {e}"));
    assert!(
        output.status.success(),
        "a fresh crate from the README's install lines ({name}) does not build:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn readme() -> (String, PathBuf) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("README.md")).unwrap_or_else(|e| panic!("{e}"));
    (text, root)
}

#[test]
fn the_readme_lines_build_every_backends_examples() {
    let (readme, root) = readme();
    let toml = blocks(&readme, "Install", "toml");
    assert!(
        toml.len() >= 4,
        "the install section lists each backend's lines"
    );
    let mut programs = blocks(&readme, "Use", "rust");
    assert_eq!(programs.len(), 2, "the two Use set-ups");
    programs.extend(blocks(&readme, "Production setup", "rust"));
    check_fresh_crate("every-backend", &dependency_lines(&toml, &root), &programs);
}

#[test]
fn the_opentelemetry_lines_alone_build_with_the_newest_patch() {
    let (readme, root) = readme();
    let toml = blocks(&readme, "Install", "toml");
    // The facade with `otel` only, the SDK's own lines and the production set-up (which
    // uses OpenTelemetry sinks only); no Datadog tracer to hold the patch version back.
    let every = toml.first().cloned().unwrap_or_default();
    assert!(every.contains(r#"features = ["full"]"#), "{every}");
    let otel_alone = every.replace(r#"features = ["full"]"#, r#"features = ["otel"]"#);
    let opentelemetry = toml
        .iter()
        .find(|block| block.contains("opentelemetry_sdk"))
        .cloned()
        .unwrap_or_default();
    let programs = blocks(&readme, "Production setup", "rust");
    assert_eq!(programs.len(), 1);
    check_fresh_crate(
        "opentelemetry-alone",
        &dependency_lines(&[otel_alone, opentelemetry], &root),
        &programs,
    );
}
