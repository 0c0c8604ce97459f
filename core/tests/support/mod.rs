//! Hooks that misbehave on purpose, and a provider with one flag of each kind.

#![allow(dead_code, unreachable_pub)]

use async_trait::async_trait;
use open_feature::{
    EvaluationContext, EvaluationDetails, EvaluationError, EvaluationErrorCode, EvaluationReason,
    Hook, HookContext, HookHints, StructValue, Value,
};
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider};

/// A hook whose `before` or `after` fails (after yielding once, so that on a multi-threaded
/// runtime the evaluation can move to another thread between stages).
pub struct FailingHook {
    pub fail_before: bool,
    pub fail_after: bool,
}

impl FailingHook {
    pub fn before() -> Self {
        Self {
            fail_before: true,
            fail_after: false,
        }
    }

    pub fn after() -> Self {
        Self {
            fail_before: false,
            fail_after: true,
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
impl Hook for FailingHook {
    async fn before<'a>(
        &self,
        _: &HookContext<'a>,
        _: Option<&'a HookHints>,
    ) -> Result<Option<EvaluationContext>, EvaluationError> {
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
            tokio::task::yield_now().await;
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
