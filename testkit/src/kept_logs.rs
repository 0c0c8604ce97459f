//! A logger that keeps every line, to check what code logs and what it must never log.

use std::sync::{Mutex, PoisonError};

/// Keeps every `log` line of the process once installed, at every level, except the HTTP
/// client's own (`ureq_proto`): at TRACE it hex-dumps raw requests, headers and keys included,
/// which is the client's documented behaviour, not the code under test's (and cut into 16-byte
/// lines, which a text search would miss anyway).
///
/// ```
/// use openfeature_hooks_testkit::KeptLogs;
///
/// static LOGS: KeptLogs = KeptLogs::new();
/// LOGS.install();
/// log::warn!("refused: 403");
/// assert!(LOGS.text().contains("WARN refused: 403"));
/// ```
#[derive(Debug)]
pub struct KeptLogs {
    lines: Mutex<Vec<String>>,
}

impl KeptLogs {
    /// No line kept yet.
    pub const fn new() -> Self {
        Self {
            lines: Mutex::new(Vec::new()),
        }
    }

    /// Makes this the process's logger, at every level. Only the first logger of a process
    /// takes: install the same one in every test of a binary.
    pub fn install(&'static self) {
        let _ = log::set_logger(self);
        log::set_max_level(log::LevelFilter::Trace);
    }

    /// Every line kept so far, one per line, each as `LEVEL message`.
    pub fn text(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n")
    }
}

impl Default for KeptLogs {
    fn default() -> Self {
        Self::new()
    }
}

impl log::Log for KeptLogs {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        if record.target().starts_with("ureq_proto") {
            return;
        }
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!("{} {}", record.level(), record.args()));
    }

    fn flush(&self) {}
}
