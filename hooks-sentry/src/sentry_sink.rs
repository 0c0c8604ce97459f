//! The sink that records evaluations for Sentry.

use openfeature_hooks_core::{EvaluationRecord, EvaluationSink};

use crate::RecordedValues;
use crate::flag_buffer::DEFAULT_CAPACITY;
use crate::flag_name::sentry_flag_name;
use crate::hub_flags::{record_flag, with_current_hub_flags};

/// Records flag evaluations for Sentry, in the current hub:
///
/// - the hub's buffer of its [`DEFAULT_CAPACITY`] most recent unique evaluations, attached to
///   error events as `contexts.flags`, oldest first, with the rules of Sentry's Python and
///   JavaScript SDKs: a flag evaluated again moves to the end with its new value, and a new
///   flag in a full buffer pushes out the oldest
///   ([`with_flags_context`](crate::with_flags_context) sends it as Sentry reads it);
/// - `flag.evaluation.<key>` on the active span or transaction, at most
///   [`MAX_FLAGS_PER_SPAN`](crate::MAX_FLAGS_PER_SPAN) per span, when the client sends spans:
///   with tracing disabled (Sentry's default: neither `traces_sample_rate` nor
///   `traces_sampler` set) every span is dropped unsent, so the active span is not looked up
///   at all, which saves this sink about half its cost. Whether a hub's client sends spans is
///   read when the hub records its first flag. A child span of a trace that was not sampled is
///   found but left alone: it is discarded unsent when it ends.
///
/// Values: booleans by default ([`RecordedValues`]). Flag names are what Sentry keeps: at most
/// [`MAX_FLAG_NAME_LEN`](crate::MAX_FLAG_NAME_LEN) characters of `a-z A-Z 0-9 _ . : -` (Sentry
/// drops any other name). A key with any other character has it replaced by `_`, and a longer
/// one is cut, so the flag is still recorded (two keys that differ only there then share a
/// name); an empty key records nothing. A failed evaluation removes the flag from the hub's
/// buffer and sets nothing on the span: the Rust SDK does not know the fallback the caller then
/// used, and the flag's previous value would be wrong.
///
/// Nothing is recorded when no Sentry client is bound to the current hub.
#[derive(Clone, Copy, Debug)]
pub struct SentrySink {
    capacity: usize,
    values: RecordedValues,
    spans: bool,
}

impl Default for SentrySink {
    fn default() -> Self {
        Self {
            capacity: DEFAULT_CAPACITY,
            values: RecordedValues::default(),
            spans: true,
        }
    }
}

impl SentrySink {
    /// A sink with Sentry's defaults: 100 flags per hub, booleans, spans on.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many flags each hub keeps (default [`DEFAULT_CAPACITY`], 100). Applies to hubs this
    /// sink records in first.
    #[must_use]
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Which values are recorded (default: booleans).
    #[must_use]
    pub fn with_values(mut self, values: RecordedValues) -> Self {
        self.values = values;
        self
    }

    /// Whether to set `flag.evaluation.<key>` on the active span (default: yes).
    ///
    /// Finding the active span is most of this sink's cost: sentry-core 0.49's only public way
    /// to read it, `Hub::configure_scope`, copies the hub's whole scope and writes it back,
    /// about 165 ns of every evaluation on the bench machine. `false` keeps flags in the hub's
    /// buffer (and on error events) only, for services that need the lowest overhead.
    #[must_use]
    pub fn with_spans(mut self, spans: bool) -> Self {
        self.spans = spans;
        self
    }
}

impl EvaluationSink for SentrySink {
    fn record(&self, record: &EvaluationRecord<'_>) {
        let Some(name) = sentry_flag_name(record.flag_key) else {
            return;
        };
        if record.is_failure() {
            with_current_hub_flags(self.capacity, |_, flags, _| flags.buffer().remove(&name));
            return;
        }
        let Some(result) = record.value.and_then(|value| self.values.result(value)) else {
            return;
        };
        record_flag(self.capacity, &name, result, self.spans);
    }
}
