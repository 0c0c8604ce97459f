//! A gate that holds threads until it is opened: a stuck exporter or writer, on demand.

use std::fmt::Debug;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogExporter, LogProcessor, SdkLogRecord, SimpleLogProcessor};

/// Closed until opened; clones share it. [`Gate::wait`] blocks while it is closed.
///
/// ```
/// use openfeature_hooks_testkit::Gate;
///
/// let gate = Gate::default();
/// let waiting = gate.clone();
/// let thread = std::thread::spawn(move || waiting.wait());
/// gate.open();
/// assert!(thread.join().is_ok());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    /// Waits until the gate is open (at once if it is).
    pub fn wait(&self) {
        let (open, changed) = &*self.0;
        let mut open = open.lock().unwrap_or_else(PoisonError::into_inner);
        while !*open {
            open = changed.wait(open).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Opens the gate for good, letting every waiting and later thread through.
    pub fn open(&self) {
        let (open, changed) = &*self.0;
        *open.lock().unwrap_or_else(PoisonError::into_inner) = true;
        changed.notify_all();
    }
}

/// A log processor that hands each record to a simple processor exporting to its exporter, once
/// its gate is open: until then the thread emitting (a log sink's worker) is stuck.
#[derive(Debug)]
pub struct GatedLogProcessor<E: LogExporter> {
    gate: Gate,
    inner: SimpleLogProcessor<E>,
}

impl<E: LogExporter> GatedLogProcessor<E> {
    /// Exports to `exporter` once `gate` opens.
    pub fn new(gate: &Gate, exporter: E) -> Self {
        Self {
            gate: gate.clone(),
            inner: SimpleLogProcessor::new(exporter),
        }
    }
}

impl<E: LogExporter + Debug> LogProcessor for GatedLogProcessor<E> {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        self.gate.wait();
        self.inner.emit(record, scope);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
}
