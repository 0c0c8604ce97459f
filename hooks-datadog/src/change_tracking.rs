//! The sink that turns what evaluations reveal into change events.

use std::sync::Arc;
use std::time::Duration;

use openfeature_hooks_core::{EvaluationRecord, EvaluationSink, FlushOutcome};

use crate::ChangeEvents;
use crate::change_detector::ChangeDetector;

/// Watches evaluations for flag changes and sends each one it finds through [`ChangeEvents`] as
/// a [`FlagChange`](crate::FlagChange). The evaluation only pays for a lookup of the flag's
/// last state; sending is queued.
///
/// Two signs that a flag changed, each reported once:
///
/// - its `version` metadata differs from the last one seen (`prev_value` / `new_value`:
///   `{"version": …}`);
/// - a variant it never served before is served, after the flag was first seen
///   (`{"variants": [known…]}` → `{"variants": [known…, new]}`): a rollout or a new rule.
///
/// The first sighting of a flag is not a change, and failed evaluations are ignored. The
/// state is bounded: [`MAX_TRACKED_FLAGS`](crate::MAX_TRACKED_FLAGS) flags (past it the state
/// is forgotten and rebuilt, so a change in that window is missed, never invented) and
/// [`MAX_TRACKED_VARIANTS`](crate::MAX_TRACKED_VARIANTS) variants per flag (past it new
/// variants are not reported).
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
