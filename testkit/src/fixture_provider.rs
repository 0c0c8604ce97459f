//! An in-memory OpenFeature provider with fixed answers.

use std::collections::HashMap;

use async_trait::async_trait;
use open_feature::provider::{
    FeatureProvider, ProviderMetadata, ProviderStatus, ResolutionDetails,
};
use open_feature::{
    EvaluationContext, EvaluationError, EvaluationErrorCode, EvaluationReason, EvaluationResult,
    FlagMetadata, FlagMetadataValue, StructValue, Value,
};

/// One flag's fixed answer: a value with its variant, reason and metadata, or an error.
#[derive(Clone, Debug)]
pub struct FixtureFlag {
    answer: Result<Value, EvaluationError>,
    variant: Option<String>,
    reason: Option<EvaluationReason>,
    metadata: Option<FlagMetadata>,
}

impl FixtureFlag {
    /// A flag that evaluates to `value` with reason `STATIC`.
    pub fn new(value: impl Into<Value>) -> Self {
        Self {
            answer: Ok(value.into()),
            variant: None,
            reason: Some(EvaluationReason::Static),
            metadata: None,
        }
    }

    /// A flag whose evaluation fails with `code` and `message`.
    pub fn failing(code: EvaluationErrorCode, message: Option<&str>) -> Self {
        Self {
            answer: Err(EvaluationError {
                code,
                message: message.map(str::to_owned),
            }),
            variant: None,
            reason: None,
            metadata: None,
        }
    }

    /// Sets the variant.
    #[must_use]
    pub fn variant(mut self, variant: impl Into<String>) -> Self {
        self.variant = Some(variant.into());
        self
    }

    /// Sets the reason (`None`: the provider gives none).
    #[must_use]
    pub fn reason(mut self, reason: Option<EvaluationReason>) -> Self {
        self.reason = reason;
        self
    }

    /// Adds one metadata entry.
    #[must_use]
    pub fn metadata(mut self, key: &str, value: impl Into<FlagMetadataValue>) -> Self {
        self.metadata = Some(
            self.metadata
                .take()
                .unwrap_or_default()
                .with_value(key, value),
        );
        self
    }
}

/// An in-memory provider: each key answers with its [`FixtureFlag`], unknown keys fail with
/// `FLAG_NOT_FOUND`, and asking for the wrong type fails with `TYPE_MISMATCH`.
///
/// ```
/// use open_feature::{EvaluationErrorCode, OpenFeature};
/// use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider};
///
/// # futures_lite_block_on(async {
/// let mut api = OpenFeature::default();
/// api.set_provider(FixtureProvider::new("fixture").with_flag("on", FixtureFlag::new(true).variant("v1")))
///     .await;
/// let client = api.create_client();
/// assert_eq!(client.get_bool_value("on", None, None).await, Ok(true));
/// let missing = client.get_bool_value("missing", None, None).await;
/// assert_eq!(missing.map_err(|e| e.code), Err(EvaluationErrorCode::FlagNotFound));
/// let wrong_type = client.get_int_value("on", None, None).await;
/// assert_eq!(wrong_type.map_err(|e| e.code), Err(EvaluationErrorCode::TypeMismatch));
/// # });
/// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().map(|rt| rt.block_on(f)).ok().unwrap_or_else(|| unreachable!())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct FixtureProvider {
    metadata: ProviderMetadata,
    flags: HashMap<String, FixtureFlag>,
    fallback: Option<FixtureFlag>,
}

impl FixtureProvider {
    /// A provider named `name` with no flags.
    pub fn new(name: &str) -> Self {
        Self {
            metadata: ProviderMetadata::new(name),
            flags: HashMap::new(),
            fallback: None,
        }
    }

    /// Answers every key it has no flag for with `flag` (for soak and load runs over many keys).
    #[must_use]
    pub fn with_fallback(mut self, flag: FixtureFlag) -> Self {
        self.fallback = Some(flag);
        self
    }

    /// Adds a flag.
    #[must_use]
    pub fn with_flag(mut self, key: impl Into<String>, flag: FixtureFlag) -> Self {
        self.flags.insert(key.into(), flag);
        self
    }

    fn resolve<T>(
        &self,
        key: &str,
        convert: impl FnOnce(&Value) -> Option<T>,
    ) -> EvaluationResult<ResolutionDetails<T>> {
        let Some(flag) = self.flags.get(key).or(self.fallback.as_ref()) else {
            return Err(EvaluationError {
                code: EvaluationErrorCode::FlagNotFound,
                message: Some(format!("no flag named {key:?}")),
            });
        };
        let value = flag.answer.as_ref().map_err(Clone::clone)?;
        let value = convert(value).ok_or_else(|| EvaluationError {
            code: EvaluationErrorCode::TypeMismatch,
            message: Some(format!("flag {key:?} is a {:?}", value.get_type())),
        })?;
        Ok(ResolutionDetails {
            value,
            variant: flag.variant.clone(),
            reason: flag.reason.clone(),
            flag_metadata: flag.metadata.clone(),
        })
    }
}

#[async_trait]
impl FeatureProvider for FixtureProvider {
    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    fn status(&self) -> ProviderStatus {
        ProviderStatus::Ready
    }

    async fn resolve_bool_value(
        &self,
        key: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        self.resolve(key, Value::as_bool)
    }

    async fn resolve_int_value(
        &self,
        key: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        self.resolve(key, Value::as_i64)
    }

    async fn resolve_float_value(
        &self,
        key: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        self.resolve(key, Value::as_f64)
    }

    async fn resolve_string_value(
        &self,
        key: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        self.resolve(key, |v| v.as_str().map(str::to_owned))
    }

    async fn resolve_struct_value(
        &self,
        key: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        self.resolve(key, |v| v.as_struct().cloned())
    }
}
