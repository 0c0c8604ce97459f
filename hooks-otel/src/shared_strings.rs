//! Attribute texts that repeat on every evaluation, shared through core's per-thread cache.

use openfeature_hooks_core::shared_text;
use opentelemetry::StringValue;

/// `text` as an attribute value backed by a shared `Arc<str>` (see
/// [`shared_text`](openfeature_hooks_core::shared_text)).
pub(crate) fn shared(text: &str) -> StringValue {
    StringValue::from(shared_text(text))
}
