//! Hooks other hooks are tested beside: one that does nothing, and one that misbehaves on cue.

use std::time::Duration;

use async_trait::async_trait;
use open_feature::{
    EvaluationContext, EvaluationDetails, EvaluationError, EvaluationErrorCode, Hook, HookContext,
    HookHints, Value,
};

/// A hook that does nothing, written the usual way (`async_trait`): what any hook costs at least,
/// and the baseline of the allocation test.
#[derive(Clone, Copy, Debug, Default)]
pub struct DoNothingHook;

#[async_trait]
impl Hook for DoNothingHook {
    async fn before<'a>(
        &self,
        context: &HookContext<'a>,
        hints: Option<&'a HookHints>,
    ) -> Result<Option<EvaluationContext>, EvaluationError> {
        ScriptedHook::default().before(context, hints).await
    }

    async fn after<'a>(
        &self,
        context: &HookContext<'a>,
        details: &EvaluationDetails<Value>,
        hints: Option<&'a HookHints>,
    ) -> Result<(), EvaluationError> {
        ScriptedHook::default().after(context, details, hints).await
    }

    async fn error<'a>(&self, _: &HookContext<'a>, _: &EvaluationError, _: Option<&'a HookHints>) {}

    async fn finally<'a>(
        &self,
        _: &HookContext<'a>,
        _: &EvaluationDetails<Value>,
        _: Option<&'a HookHints>,
    ) {
    }
}

/// A hook that misbehaves as told: its `before` can take time or fail, its `after` can fail (after
/// yielding once, so that on a multi-threaded runtime the evaluation may change threads).
#[derive(Clone, Copy, Debug, Default)]
pub struct ScriptedHook {
    /// `before` blocks this long.
    pub before_delay: Duration,
    /// `before` fails with `General("before hook failed")`.
    pub fail_before: bool,
    /// `after` yields, then fails with `General("after hook failed")`.
    pub fail_after: bool,
}

impl ScriptedHook {
    /// A hook whose `before` fails.
    pub fn failing_before() -> Self {
        Self {
            fail_before: true,
            ..Self::default()
        }
    }

    /// A hook whose `after` fails.
    pub fn failing_after() -> Self {
        Self {
            fail_after: true,
            ..Self::default()
        }
    }

    /// A hook whose `before` takes `delay`.
    pub fn slow_before(delay: Duration) -> Self {
        Self {
            before_delay: delay,
            ..Self::default()
        }
    }
}

fn failure(stage: &str) -> EvaluationError {
    EvaluationError {
        code: EvaluationErrorCode::General(format!("{stage} hook failed")),
        message: None,
    }
}

#[async_trait]
impl Hook for ScriptedHook {
    async fn before<'a>(
        &self,
        _: &HookContext<'a>,
        _: Option<&'a HookHints>,
    ) -> Result<Option<EvaluationContext>, EvaluationError> {
        if !self.before_delay.is_zero() {
            // Blocking on purpose: the time must pass inside the evaluation.
            std::thread::sleep(self.before_delay);
        }
        if self.fail_before {
            return Err(failure("before"));
        }
        Ok(None)
    }

    async fn after<'a>(
        &self,
        _: &HookContext<'a>,
        _: &EvaluationDetails<Value>,
        _: Option<&'a HookHints>,
    ) -> Result<(), EvaluationError> {
        if self.fail_after {
            YieldOnce(false).await;
            return Err(failure("after"));
        }
        Ok(())
    }

    async fn error<'a>(&self, _: &HookContext<'a>, _: &EvaluationError, _: Option<&'a HookHints>) {}

    async fn finally<'a>(
        &self,
        _: &HookContext<'a>,
        _: &EvaluationDetails<Value>,
        _: Option<&'a HookHints>,
    ) {
    }
}

/// Returns `Pending` once (waking itself), then `Ready`: a yield without a runtime dependency.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}
