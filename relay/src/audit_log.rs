//! The audit trail: each relayed change as one JSON line, written by a thread of its own
//! behind a bounded queue, so a slow disk or a blocked stdout never slows a delivery.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use openfeature_hooks_core::{BackgroundWorker, Drain};

/// A capacity for [`AuditLog`] (the binary's): lines waiting to be written at most; past it
/// lines are dropped and counted ([`AuditLog::dropped`]).
pub const DEFAULT_AUDIT_CAPACITY: usize = 4096;

/// The audit trail of a [`Relay`](crate::Relay): one JSON line per relayed change (its source,
/// the delivery, the destinations it was queued for and what each got), written off the
/// request path through the same bounded queue and writer thread as the hook's sinks
/// ([`BackgroundWorker`]). Queuing a line never blocks: when the queue is full the line is
/// dropped and counted ([`dropped`](Self::dropped)).
pub struct AuditLog {
    worker: BackgroundWorker<String>,
    written: Arc<AtomicU64>,
    stopped: AtomicBool,
    /// Lines refused after [`shutdown`](Self::shutdown).
    refused: AtomicU64,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("written", &self.written())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// The writer thread's side: one line per change, flushed whenever the queue runs empty so
/// lines show up promptly.
struct AuditLines<W: Write> {
    out: BufWriter<W>,
    written: Arc<AtomicU64>,
}

impl<W: Write + Send + 'static> Drain<String> for AuditLines<W> {
    fn handle(&mut self, line: String) {
        if writeln!(self.out, "{line}").is_ok() {
            self.written.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn idle(&mut self) {
        let _ = self.out.flush();
    }
}

impl AuditLog {
    /// Writes to `out`, at most `capacity` lines waiting.
    pub fn start(out: impl Write + Send + 'static, capacity: usize) -> Self {
        let written = Arc::new(AtomicU64::new(0));
        let lines = AuditLines {
            out: BufWriter::new(out),
            written: written.clone(),
        };
        Self {
            worker: BackgroundWorker::start("openfeature-hooks-relay-audit", capacity, lines),
            written,
            stopped: AtomicBool::new(false),
            refused: AtomicU64::new(0),
        }
    }

    /// Writes to standard output.
    pub fn stdout(capacity: usize) -> Self {
        Self::start(std::io::stdout(), capacity)
    }

    /// Appends to the file at `path` (created if missing).
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn file(path: &Path, capacity: usize) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self::start(file, capacity))
    }

    /// Queues one line (without its newline); `false` (and counted) when the queue is full or
    /// the log stopped.
    pub(crate) fn write(&self, line: String) -> bool {
        if self.stopped.load(Ordering::Relaxed) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        self.worker.try_send(line)
    }

    /// Lines dropped because the queue was full, or refused after shutdown.
    pub fn dropped(&self) -> u64 {
        self.worker.stats().dropped + self.refused.load(Ordering::Relaxed)
    }

    /// Lines written.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Stops taking lines and waits at most `timeout` until every queued line is written:
    /// `true` if done. The writer thread ends when the log is dropped.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        self.stopped.store(true, Ordering::Relaxed);
        self.worker.flush(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{Receiver, Sender, channel};

    /// A writer that says when a write starts, then blocks until the test opens the gate.
    struct Gated {
        entered: Sender<()>,
        gate: Receiver<()>,
        out: Sender<Vec<u8>>,
    }

    impl Write for Gated {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let _ = self.entered.send(());
            let _ = self.gate.recv();
            let _ = self.out.send(bytes.to_vec());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_blocked_writer_never_blocks_the_caller_and_drops_are_counted() {
        let (entered, started) = channel();
        let (open, gate) = channel();
        let (out, written) = channel();
        let audit = AuditLog::start(Gated { entered, gate, out }, 2);
        // The first line reaches the writer (the queue ran empty, so it is flushed) and the
        // thread is stuck there.
        assert!(audit.write("{\"n\":0}".to_owned()));
        assert!(started.recv_timeout(Duration::from_secs(5)).is_ok());
        let accepted = (1..=100)
            .filter(|n| audit.write(format!("{{\"n\":{n}}}")))
            .count();
        assert_eq!(accepted, 2, "the queue's capacity, no more");
        assert_eq!(audit.dropped(), 98);
        drop(open);
        assert!(audit.shutdown(Duration::from_secs(5)));
        let text: Vec<u8> = written.try_iter().flatten().collect();
        assert_eq!(
            String::from_utf8_lossy(&text).lines().collect::<Vec<_>>(),
            ["{\"n\":0}", "{\"n\":1}", "{\"n\":2}"]
        );
        assert_eq!(audit.written(), 3);
    }
}
