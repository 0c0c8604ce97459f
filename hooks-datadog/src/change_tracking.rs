//! The sink that turns what evaluations reveal into change events.

use std::sync::Arc;
use std::time::Duration;

use openfeature_hooks_core::{EvaluationRecord, EvaluationSink, FlushOutcome};

use crate::{ChangeDetector, ChangeEvents};

/// Watches evaluations with a [`ChangeDetector`] and sends what it finds through
/// [`ChangeEvents`]. The evaluation only pays for the detector's lookup; sending is queued.
#[derive(Debug)]
pub struct ChangeTrackingSink {
    detector: ChangeDetector,
    events: Arc<ChangeEvents>,
}

impl ChangeTrackingSink {
    /// Sends detected changes through `events`: a sender as [`ChangeEvents::start`] returns
    /// it, or an `Arc` of one (keep a clone to report changes yourself, read its stats and
    /// shut it down).
    pub fn new(events: impl Into<Arc<ChangeEvents>>) -> Self {
        Self {
            detector: ChangeDetector::new(),
            events: events.into(),
        }
    }
}

impl EvaluationSink for ChangeTrackingSink {
    fn record(&self, record: &EvaluationRecord<'_>) {
        if let Some(change) = self.detector.observe(record) {
            self.events.report(change);
        }
    }

    fn flush(&self, timeout: Duration) -> FlushOutcome {
        self.events.flush(timeout)
    }

    fn lost(&self) -> u64 {
        self.events.stats().failed
    }
}
