//! Hooks that misbehave on purpose, and a provider with one flag of each kind.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use open_feature::{EvaluationErrorCode, EvaluationReason, StructValue, Value};
use openfeature_hooks_core::{
    EvaluationRecord, EvaluationSink, PendingEvaluation, QueueMembership, QueuedEvaluation,
    QueuedPart, QueuedSink,
};
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider, ScriptedHook};

/// The misbehaving hook of the lifecycle tests.
pub struct FailingHook;

impl FailingHook {
    pub fn before() -> ScriptedHook {
        ScriptedHook::failing_before()
    }

    pub fn after() -> ScriptedHook {
        ScriptedHook::failing_after()
    }
}

/// Flags: `bool-on` (variant, reason, full metadata), `plain` (no variant, no reason),
/// `ld-rule` (LaunchDarkly reason), `color` (string split), `ratio` (float), `layout` (struct),
/// `broken` (parse error with a message).
pub fn provider() -> FixtureProvider {
    FixtureProvider::new("fixture")
        .with_flag(
            "bool-on",
            FixtureFlag::new(true)
                .variant("on")
                .reason(Some(EvaluationReason::TargetingMatch))
                .metadata("flagSetId", "checkout")
                .metadata("version", 7_i64)
                .metadata("contextId", "ctx-from-metadata"),
        )
        .with_flag("plain", FixtureFlag::new(false).reason(None))
        .with_flag(
            "ld-rule",
            FixtureFlag::new(true)
                .variant("true")
                .reason(Some(EvaluationReason::Other("RULE_MATCH".into()))),
        )
        .with_flag(
            "color",
            FixtureFlag::new("blue")
                .variant("b")
                .reason(Some(EvaluationReason::Split)),
        )
        .with_flag(
            "ratio",
            FixtureFlag::new(0.25).reason(Some(EvaluationReason::Default)),
        )
        .with_flag(
            "layout",
            FixtureFlag::new(Value::Struct(
                StructValue::default().with_field("columns", 3_i64),
            )),
        )
        .with_flag(
            "broken",
            FixtureFlag::failing(
                EvaluationErrorCode::ParseError,
                Some("unexpected token at 1:7"),
            ),
        )
}

/// A queued sink that accepts every evaluation and only counts those reaching the queue's
/// thread.
#[derive(Clone, Default)]
pub struct QueuedNoop {
    half: Arc<CountHandled>,
    membership: QueueMembership,
}

#[derive(Default)]
struct CountHandled(AtomicUsize);

impl QueuedSink for CountHandled {
    fn accepts(&self, _record: &EvaluationRecord<'_>, _pending: &PendingEvaluation) -> bool {
        true
    }

    fn handle(&self, _record: &EvaluationRecord<'_>, _evaluation: &QueuedEvaluation) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl QueuedNoop {
    /// Evaluations handled on a queue's thread.
    pub fn handled(&self) -> usize {
        self.half.0.load(Ordering::Relaxed)
    }
}

impl EvaluationSink for QueuedNoop {
    fn record(&self, record: &EvaluationRecord<'_>) {
        self.membership.offer(|| self.half.clone(), record);
    }

    fn queued(&self) -> Option<QueuedPart> {
        Some(QueuedPart {
            sink: self.half.clone(),
            membership: self.membership.clone(),
        })
    }
}
