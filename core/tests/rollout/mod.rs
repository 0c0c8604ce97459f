//! A provider that answers like a percentage rollout: the variant depends on the flag and the
//! targeting key, and the test can change a flag's version or force a variant mid-run.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use open_feature::provider::{
    FeatureProvider, ProviderMetadata, ProviderStatus, ResolutionDetails,
};
use open_feature::{
    EvaluationContext, EvaluationError, EvaluationErrorCode, EvaluationReason, EvaluationResult,
    FlagMetadata, StructValue,
};

/// Per-flag overrides the test changes while evaluating.
#[derive(Clone, Debug, Default)]
struct Overrides {
    version: HashMap<String, i64>,
    variant: HashMap<String, String>,
}

/// Flags whose key starts with `broken` fail with `PARSE_ERROR`; every other string flag
/// answers one of three variants (`v0`..`v2`) chosen by hashing (flag, targeting key), with
/// metadata `version` (1 unless changed) and `flagSetId` `shop`.
#[derive(Clone, Debug, Default)]
pub struct RolloutProvider {
    metadata: ProviderMetadata,
    overrides: Arc<Mutex<Overrides>>,
}

impl RolloutProvider {
    pub fn new() -> Self {
        Self {
            metadata: ProviderMetadata::new("rollout"),
            overrides: Arc::default(),
        }
    }

    /// The variant `flag` gives `targeting_key` (without overrides).
    pub fn variant_of(flag: &str, targeting_key: &str) -> String {
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one((flag, targeting_key));
        format!("v{}", hash % 3)
    }

    pub fn set_version(&self, flag: &str, version: i64) {
        self.lock().version.insert(flag.to_owned(), version);
    }

    pub fn force_variant(&self, flag: &str, variant: &str) {
        self.lock()
            .variant
            .insert(flag.to_owned(), variant.to_owned());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Overrides> {
        self.overrides
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn resolve(
        &self,
        flag: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        if flag.starts_with("broken") {
            return Err(EvaluationError {
                code: EvaluationErrorCode::ParseError,
                message: Some("bad rule".into()),
            });
        }
        let overrides = self.lock();
        let targeting_key = context.targeting_key.as_deref().unwrap_or("");
        let variant = overrides
            .variant
            .get(flag)
            .cloned()
            .unwrap_or_else(|| Self::variant_of(flag, targeting_key));
        let version = overrides.version.get(flag).copied().unwrap_or(1);
        Ok(ResolutionDetails {
            value: format!("value-of-{variant}"),
            variant: Some(variant),
            reason: Some(EvaluationReason::Split),
            flag_metadata: Some(
                FlagMetadata::default()
                    .with_value("version", version)
                    .with_value("flagSetId", "shop"),
            ),
        })
    }
}

fn mismatch<T>() -> EvaluationResult<ResolutionDetails<T>> {
    Err(EvaluationError {
        code: EvaluationErrorCode::TypeMismatch,
        message: Some("rollout flags are strings".into()),
    })
}

#[async_trait]
impl FeatureProvider for RolloutProvider {
    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    fn status(&self) -> ProviderStatus {
        ProviderStatus::Ready
    }

    async fn resolve_bool_value(
        &self,
        _: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        mismatch()
    }

    async fn resolve_int_value(
        &self,
        _: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        mismatch()
    }

    async fn resolve_float_value(
        &self,
        _: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        mismatch()
    }

    async fn resolve_string_value(
        &self,
        flag: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        self.resolve(flag, context)
    }

    async fn resolve_struct_value(
        &self,
        _: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        mismatch()
    }
}
