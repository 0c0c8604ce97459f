//! The audit trail: each relayed change as one JSON line, written by a thread of its own
//! behind a bounded queue, so a slow disk or a blocked stdout never slows a delivery.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// The default number of lines waiting to be written; past it lines are dropped and counted.
pub const DEFAULT_AUDIT_CAPACITY: usize = 4096;

/// Writes JSON lines off the request path. [`write`](Self::write) never blocks: when the queue
/// is full the line is dropped and counted ([`dropped`](Self::dropped)).
pub struct AuditLog {
    queue: Mutex<Option<SyncSender<String>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    done: Mutex<Receiver<()>>,
    dropped: AtomicU64,
    written: Arc<AtomicU64>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("written", &self.written())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Writes to `out`, at most `capacity` lines waiting.
    pub fn start(out: impl Write + Send + 'static, capacity: usize) -> Self {
        let (queue, lines) = sync_channel::<String>(capacity.max(1));
        let (finished, done) = sync_channel::<()>(0);
        let written = Arc::new(AtomicU64::new(0));
        let counter = written.clone();
        let worker = std::thread::Builder::new()
            .name("openfeature-hooks-relay-audit".to_owned())
            .spawn(move || {
                let _finished = finished;
                let mut out = std::io::BufWriter::new(out);
                loop {
                    // Flush whenever the queue runs empty, so lines show up promptly.
                    let line = match lines.try_recv() {
                        Ok(line) => line,
                        Err(TryRecvError::Empty) => {
                            let _ = out.flush();
                            match lines.recv() {
                                Ok(line) => line,
                                Err(_) => break,
                            }
                        }
                        Err(TryRecvError::Disconnected) => break,
                    };
                    if writeln!(out, "{line}").is_ok() {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let _ = out.flush();
            })
            .ok();
        Self {
            queue: Mutex::new(Some(queue)),
            worker: Mutex::new(worker),
            done: Mutex::new(done),
            dropped: AtomicU64::new(0),
            written,
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
    pub fn write(&self, line: String) -> bool {
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let queued = queue.as_ref().is_some_and(|q| q.try_send(line).is_ok());
        if !queued {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        queued
    }

    /// Lines dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Lines written.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Stops taking lines, writes what is queued and waits at most `timeout`: `true` if done.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(worker) = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return true;
        };
        let done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        match done.recv_timeout(timeout) {
            Err(RecvTimeoutError::Disconnected) => worker.join().is_ok(),
            Ok(()) | Err(RecvTimeoutError::Timeout) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{Sender, channel};

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
