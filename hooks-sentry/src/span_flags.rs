//! `flag.evaluation.<name>` attributes on the active span.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Bound;

use sentry::protocol::Value;
use sentry::{Hub, TransactionOrSpan};

/// The prefix of flag attributes on spans.
pub const SPAN_ATTRIBUTE_PREFIX: &str = "flag.evaluation.";

/// Flag attributes one span keeps at most (Sentry's SDK spec).
pub const MAX_FLAGS_PER_SPAN: usize = 10;

/// Sets `flag.evaluation.<name>` on the hub's active span or transaction: a flag already there is
/// updated; a new one is added only while the span has fewer than [`MAX_FLAGS_PER_SPAN`]. The
/// root transaction counts as a span (its data is sent in the transaction's trace context).
pub(crate) fn record_on_active_span(hub: &Hub, name: &str, value: Value) {
    let Some(span) = hub.configure_scope(|scope| scope.get_span()) else {
        return;
    };
    SPAN_KEY.with(|key| {
        let Ok(mut key) = key.try_borrow_mut() else {
            return;
        };
        key.clear();
        key.push_str(SPAN_ATTRIBUTE_PREFIX);
        key.push_str(name);
        match span {
            TransactionOrSpan::Transaction(transaction) => {
                let mut data = transaction.data();
                let (present, exists) = count_flags(data.iter().map(|(k, _)| k.as_str()), &key);
                if exists || present < MAX_FLAGS_PER_SPAN {
                    data.set_data(Cow::Owned(key.clone()), value);
                }
            }
            TransactionOrSpan::Span(span) => {
                let mut data = span.data();
                if let Some(existing) = data.get_mut(key.as_str()) {
                    // Present: update in place, no key allocated.
                    *existing = value;
                    return;
                }
                // Flag keys sort together: one ordered pass over them counts them.
                let present = data
                    .range::<str, _>((Bound::Included(SPAN_ATTRIBUTE_PREFIX), Bound::Unbounded))
                    .take_while(|(existing, _)| existing.starts_with(SPAN_ATTRIBUTE_PREFIX))
                    .take(MAX_FLAGS_PER_SPAN)
                    .count();
                if present < MAX_FLAGS_PER_SPAN {
                    data.set_data(key.clone(), value);
                }
            }
        }
    });
}

/// (flag attributes present, whether `key` is one of them).
fn count_flags<'a>(keys: impl Iterator<Item = &'a str>, key: &str) -> (usize, bool) {
    keys.filter(|k| k.starts_with(SPAN_ATTRIBUTE_PREFIX))
        .fold((0, false), |(count, exists), k| {
            (count + 1, exists || k == key)
        })
}

thread_local! {
    /// The attribute name, built here to avoid an allocation per evaluation.
    static SPAN_KEY: RefCell<String> = const { RefCell::new(String::new()) };
}
