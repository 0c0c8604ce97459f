//! An in-memory OpenFeature provider: each flag key answers with a fixed value, variant, reason
//! and metadata, or with a chosen error.
//!
//! ```
//! use open_feature::{EvaluationReason, OpenFeature};
//! use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let provider = InMemoryProvider::new("in-memory")
//!     .with_flag("new-checkout", InMemoryFlag::new(true).variant("on"))
//!     .with_flag(
//!         "banner-text",
//!         InMemoryFlag::new("Welcome back")
//!             .variant("returning")
//!             .reason(EvaluationReason::TargetingMatch)
//!             .metadata("owner", "growth"),
//!     );
//!
//! let mut api = OpenFeature::singleton_mut().await;
//! api.set_provider(provider).await;
//! let client = api.create_client();
//! drop(api);
//!
//! assert_eq!(client.get_bool_value("new-checkout", None, None).await, Ok(true));
//!
//! let banner = client.get_string_details("banner-text", None, None).await;
//! let banner = banner.map(|d| (d.value, d.variant, d.reason));
//! assert_eq!(
//!     banner,
//!     Ok((
//!         "Welcome back".to_owned(),
//!         Some("returning".to_owned()),
//!         Some(EvaluationReason::TargetingMatch),
//!     ))
//! );
//! # }
//! ```
//!
//! OpenFeature's JavaScript, Java and Go SDKs ship an `InMemoryProvider`; the Rust SDK
//! (`open-feature` 0.3) does not. This one answers the way theirs does for a flag without
//! targeting: the flag's value, its variant, reason `STATIC` unless set otherwise, and the
//! flag's metadata. Beyond that:
//!
//! - [`InMemoryFlag::failing`] makes a flag's evaluation fail with an error code and message,
//!   to see what an application (or a hook) does with a provider error.
//! - [`InMemoryProvider::with_fallback`] answers every key without a flag of its own, for runs
//!   over many keys.
//! - A key with no flag and no fallback fails with `FLAG_NOT_FOUND`; asking for a type other
//!   than the flag's value fails with `TYPE_MISMATCH`.
//!
//! Flags are fixed when the provider is built: the evaluation context is not consulted, and a
//! registered provider's flags do not change (register a new provider to change them). The
//! provider reports [`ProviderStatus::Ready`] from the start.

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
///
/// ```
/// use open_feature::{EvaluationErrorCode, EvaluationReason};
/// use openfeature_hooks_in_memory::InMemoryFlag;
///
/// let on = InMemoryFlag::new(true)
///     .variant("on")
///     .reason(EvaluationReason::TargetingMatch)
///     .metadata("flagSetId", "checkout");
/// let broken = InMemoryFlag::failing(EvaluationErrorCode::ParseError, Some("bad rule"));
/// # let _ = (on, broken);
/// ```
#[derive(Clone, Debug)]
pub struct InMemoryFlag {
    answer: Result<Value, EvaluationError>,
    variant: Option<String>,
    reason: Option<EvaluationReason>,
    metadata: Option<FlagMetadata>,
}

impl InMemoryFlag {
    /// A flag that evaluates to `value`, with no variant, reason `STATIC` and no metadata.
    pub fn new(value: impl Into<Value>) -> Self {
        Self {
            answer: Ok(value.into()),
            variant: None,
            reason: Some(EvaluationReason::Static),
            metadata: None,
        }
    }

    /// A flag whose evaluation fails with `code` and `message` (variant, reason and metadata
    /// are not given with an error).
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

    /// Sets the variant the flag answers with.
    #[must_use]
    pub fn variant(mut self, variant: impl Into<String>) -> Self {
        self.variant = Some(variant.into());
        self
    }

    /// Sets the reason the flag answers with (`None`: the provider gives no reason).
    #[must_use]
    pub fn reason(mut self, reason: impl Into<Option<EvaluationReason>>) -> Self {
        self.reason = reason.into();
        self
    }

    /// Adds one flag metadata entry (a later entry with the same key replaces it).
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<FlagMetadataValue>) -> Self {
        self.metadata = Some(
            self.metadata
                .take()
                .unwrap_or_default()
                .with_value(key, value),
        );
        self
    }
}

/// An in-memory provider: each key answers with its [`InMemoryFlag`], a key without one with
/// the fallback flag if there is one and with `FLAG_NOT_FOUND` if not, and asking for a type
/// other than the flag's fails with `TYPE_MISMATCH`.
///
/// ```
/// use open_feature::{EvaluationErrorCode, OpenFeature};
/// use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut api = OpenFeature::default();
/// api.set_provider(InMemoryProvider::new("in-memory").with_flag("on", InMemoryFlag::new(true)))
///     .await;
/// let client = api.create_client();
/// assert_eq!(client.get_bool_value("on", None, None).await, Ok(true));
/// let missing = client.get_bool_value("missing", None, None).await;
/// assert_eq!(missing.map_err(|e| e.code), Err(EvaluationErrorCode::FlagNotFound));
/// let wrong_type = client.get_int_value("on", None, None).await;
/// assert_eq!(wrong_type.map_err(|e| e.code), Err(EvaluationErrorCode::TypeMismatch));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct InMemoryProvider {
    metadata: ProviderMetadata,
    flags: HashMap<String, InMemoryFlag>,
    fallback: Option<InMemoryFlag>,
}

impl InMemoryProvider {
    /// A provider with no flags whose metadata names it `name` (what hooks and telemetry see
    /// as the provider).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            metadata: ProviderMetadata::new(name),
            flags: HashMap::new(),
            fallback: None,
        }
    }

    /// Adds the flag `key` (replacing any flag already under that key).
    #[must_use]
    pub fn with_flag(mut self, key: impl Into<String>, flag: InMemoryFlag) -> Self {
        self.flags.insert(key.into(), flag);
        self
    }

    /// Answers every key it has no flag for with `flag`, instead of `FLAG_NOT_FOUND` (for runs
    /// over many keys).
    #[must_use]
    pub fn with_fallback(mut self, flag: InMemoryFlag) -> Self {
        self.fallback = Some(flag);
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

/// A provider named `in-memory` with no flags.
impl Default for InMemoryProvider {
    fn default() -> Self {
        Self::new("in-memory")
    }
}

#[async_trait]
impl FeatureProvider for InMemoryProvider {
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

#[cfg(test)]
mod tests;

/// The README's example, run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;
