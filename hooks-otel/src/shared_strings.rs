//! Attribute texts that repeat on every evaluation, shared through core's interned texts.

use openfeature_hooks_core::__private::{SharedText, shared_text};
use opentelemetry::StringValue;

/// `text` as an attribute value that shares core's copy (see
/// [`shared_text`](openfeature_hooks_core::__private::shared_text)): interned texts become static strings,
/// which the SDK copies and frees without touching a reference count.
pub(crate) fn shared(text: &str) -> StringValue {
    match shared_text(text) {
        SharedText::Interned(text) => StringValue::from(text),
        SharedText::Counted(text) => StringValue::from(text),
    }
}
