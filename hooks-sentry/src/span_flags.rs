//! `flag.evaluation.<name>` attributes on the active span.

use std::borrow::Cow;
use std::cell::RefCell;
use std::hash::BuildHasher;
use std::ops::Bound;

use openfeature_hooks_core::__private::FastBuildHasher;
use sentry::protocol::Value;
use sentry::{Hub, TransactionOrSpan};

use crate::hub_flags::ActiveSpan;

/// The prefix of flag attributes on spans.
pub const SPAN_ATTRIBUTE_PREFIX: &str = "flag.evaluation.";

/// Flag attributes one span keeps at most (Sentry's SDK spec).
pub const MAX_FLAGS_PER_SPAN: usize = 10;

/// Sets `flag.evaluation.<name>` on the hub's active span or transaction (`active`, when this
/// evaluation has read it already): a flag already there is updated; a new one is added only
/// while the span has fewer than [`MAX_FLAGS_PER_SPAN`]. The root transaction counts as a span
/// (its data is sent in the transaction's trace context).
pub(crate) fn record_on_active_span(hub: &Hub, active: ActiveSpan, name: &str, value: Value) {
    let span = match active {
        ActiveSpan::Read(span) => span,
        ActiveSpan::Unread => hub.configure_scope(|scope| scope.get_span()),
    };
    let Some(span) = span else {
        return;
    };
    if is_unsampled_child(&span) {
        return;
    }
    if FULL_SPAN.with(|full| full.try_borrow().is_ok_and(|full| full.lacks(&span, name))) {
        return;
    }
    let full = SPAN_KEY.with(|key| {
        let Ok(mut key) = key.try_borrow_mut() else {
            return false;
        };
        key.clear();
        key.push_str(SPAN_ATTRIBUTE_PREFIX);
        key.push_str(name);
        match &span {
            TransactionOrSpan::Transaction(transaction) => {
                let mut data = transaction.data();
                let (present, held) = count_flags(data.iter(), &key);
                // Already there: sentry-core offers no update in place, and setting it again
                // would allocate the key for nothing.
                if held == Some(&value) {
                    return false;
                }
                if held.is_some() || present < MAX_FLAGS_PER_SPAN {
                    data.set_data(Cow::Owned(key.clone()), value);
                    return false;
                }
                true
            }
            TransactionOrSpan::Span(span) => {
                let mut data = span.data();
                if let Some(existing) = data.get_mut(key.as_str()) {
                    // Present: update in place, no key allocated.
                    *existing = value;
                    return false;
                }
                // Flag keys sort together: one ordered pass over them counts them.
                let present = data
                    .range::<str, _>((Bound::Included(SPAN_ATTRIBUTE_PREFIX), Bound::Unbounded))
                    .take_while(|(existing, _)| existing.starts_with(SPAN_ATTRIBUTE_PREFIX))
                    .take(MAX_FLAGS_PER_SPAN)
                    .count();
                if present < MAX_FLAGS_PER_SPAN {
                    data.set_data(key.clone(), value);
                    return false;
                }
                true
            }
        }
    });
    if full {
        FULL_SPAN.with(|full| {
            if let Ok(mut full) = full.try_borrow_mut() {
                full.remember(span, name);
            }
        });
    }
}

/// Whether `span` is a child span that will never be sent: its trace was not sampled (a
/// transaction that was not sampled spawns only such spans). Its attributes would be written
/// under its lock, a new key allocated, and dropped with it unsent; most spans of a service
/// that samples 10% of its traces are such spans. A child span knows its sampling decision
/// without its lock; an unsampled transaction already ignores what is set on it
/// (`TransactionData::set_data`), so transactions are not asked (asking takes their lock).
fn is_unsampled_child(span: &TransactionOrSpan) -> bool {
    match span {
        TransactionOrSpan::Transaction(_) => false,
        // Deprecated because `false` also means "tracing disabled, decision deferred": spans
        // are never sent then either (and this sink does not look them up at all).
        #[expect(
            deprecated,
            reason = "false means the span is not sent, which is all we ask"
        )]
        TransactionOrSpan::Span(span) => !span.is_sampled(),
    }
}

/// (flag attributes present, the value `key` holds if it is one of them).
fn count_flags<'a>(
    entries: impl Iterator<Item = (&'a String, &'a Value)>,
    key: &str,
) -> (usize, Option<&'a Value>) {
    entries
        .filter(|(k, _)| k.starts_with(SPAN_ATTRIBUTE_PREFIX))
        .fold((0, None), |(count, held), (k, v)| {
            (count + 1, held.or((k == key).then_some(v)))
        })
}

/// The last span this thread found full, and flags it found it lacking.
///
/// A span holds at most [`MAX_FLAGS_PER_SPAN`] flags and flags are never removed from it, so
/// "full, and without this flag" stays true for the span's whole life, whichever thread or hub
/// evaluates next: remembering it lets later evaluations of those flags in that span skip the
/// span's lock and the search of its attributes. Flags already on the span are always written
/// (another thread may have changed them since). Bounded: one span per thread (kept alive until
/// the thread meets another full span) and [`REMEMBERED_ABSENT`] name hashes, direct-mapped, so
/// the flags evaluated most often stay remembered.
struct FullSpan {
    span: Option<TransactionOrSpan>,
    absent: [u64; REMEMBERED_ABSENT],
}

const REMEMBERED_ABSENT: usize = 64;

impl Default for FullSpan {
    fn default() -> Self {
        Self {
            span: None,
            absent: [0; REMEMBERED_ABSENT],
        }
    }
}

impl FullSpan {
    fn hash(name: &str) -> u64 {
        FastBuildHasher::default().hash_one(name)
    }

    fn slot(name_hash: u64) -> usize {
        (name_hash >> 32) as usize % REMEMBERED_ABSENT
    }

    /// Whether `span` is the remembered full span and `name` one of the flags it lacks. The
    /// span is compared first: most evaluations run in a span that is not full, and then the
    /// name is not hashed (a few nanoseconds under `perf`, too few for the benches to resolve).
    fn lacks(&self, span: &TransactionOrSpan, name: &str) -> bool {
        if self.span.as_ref() != Some(span) {
            return false;
        }
        let name_hash = Self::hash(name);
        // 0 marks an empty slot: a name hashing to 0 is simply never remembered.
        name_hash != 0 && self.absent[Self::slot(name_hash)] == name_hash
    }

    fn remember(&mut self, span: TransactionOrSpan, name: &str) {
        if self.span.as_ref() != Some(&span) {
            self.span = Some(span);
            self.absent = [0; REMEMBERED_ABSENT];
        }
        let name_hash = Self::hash(name);
        self.absent[Self::slot(name_hash)] = name_hash;
    }
}

thread_local! {
    /// The attribute name, built here to avoid an allocation per evaluation.
    static SPAN_KEY: RefCell<String> = const { RefCell::new(String::new()) };
    /// See [`FullSpan`].
    static FULL_SPAN: RefCell<FullSpan> = RefCell::new(FullSpan::default());
}
