//! The flags of nested spans' hubs that are gone, kept by trace, for the errors reported
//! after them.
//!
//! # Why
//!
//! Sentry's span layer (`sentry-tracing`) enters every span in a hub of its own, made from the
//! hub the span was created in, and drops that hub when the span is exited. A flag evaluated in
//! a nested span (an `#[instrument]` function) is recorded in such a hub, and an error reported
//! after the span returned, in the request's hub, did not carry it. Sentry's Python SDK keeps a
//! request's flags for the whole request.
//!
//! # How
//!
//! - A hub whose active span is a child span (not a transaction) when it records its first flag
//!   remembers that span in its registration (an `Arc` clone: nothing more on the evaluation
//!   path).
//! - When that hub is gone (the last scope carrying its event processor is dropped), its flags
//!   are merged into the flags kept for the span's trace.
//! - [`with_flags_context`](crate::with_flags_context) adds a `before_send` step: an error event
//!   gets the flags kept for its trace (`contexts.trace.trace_id`) that it does not already
//!   carry, as older than its own hub's, the newest [`FlagBuffer::capacity`] kept.
//!
//! A hub whose active span is a transaction is a request's own hub (sentry-tower's, a bound
//! hub, or the hub of one poll of a request span under Sentry's span layer); its flags are not
//! kept. Keeping them cost every request 360 to 430 ns when it ended (+616.5 → +974 ns with
//! this copy, +1 044 with the first one, in `sentry_sink_first_flag_in_a_fresh_hub_and_trace`;
//! BENCHMARKS.md "2026-11-29, 15:40"): a new entry in this table, the eviction of an old one,
//! and a copy of the transaction's trace context for its id. That served only errors reported
//! after the request. An error after a handler's `.await` misses the flags of
//! the poll before when no request hub is bound inside the request span (see the README); with
//! one, every poll records in it. A hub with no span keeps its flags to itself too: without a
//! span, every request hub made from one parent reports the parent's trace id.
//!
//! Isolation is per trace here: two requests continuing one upstream trace see each other's
//! nested spans' flags.
//!
//! # Bounds and cost
//!
//! At most [`MAX_TRACES_KEPT`] traces and [`MAX_TRACE_FLAGS_KEPT`] flags in all; the traces
//! whose flags were kept first are forgotten first. The work runs where a nested span's hub is
//! dropped (the span's exit): reading the span's trace id (sentry-core only gives it by copying
//! the trace context), one lock of a shard of the table (of eight), and a copy of the hub's
//! flags (the buffer's clone, sharing the flag names, for a trace's first hub).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use openfeature_hooks_core::__private::{FastBuildHasher, fibonacci_index};
use sentry::protocol::{Context, Event, TraceId, Value};
use sentry::{TransactionContext, TransactionOrSpan};

use crate::flag_buffer::FlagBuffer;
use crate::hub_flags::{flag_entry, flag_of_entry, flags_context_values};

/// Traces whose flags are kept at most.
pub const MAX_TRACES_KEPT: usize = 4_096;

/// Flags kept at most, over every trace (about 100 bytes each plus the flag's name).
pub const MAX_TRACE_FLAGS_KEPT: usize = 32_768;

const SHARDS: usize = 8;

/// One shard of the table: its traces' flags, and the order they were first kept in.
#[derive(Default)]
struct Shard {
    traces: HashMap<TraceId, FlagBuffer, FastBuildHasher>,
    order: VecDeque<TraceId>,
    flags: usize,
}

impl Shard {
    /// Merges `flags` (oldest first) into `trace`'s, then forgets the oldest traces until
    /// the shard is within its bounds.
    fn keep(&mut self, trace: TraceId, flags: &FlagBuffer) {
        match self.traces.entry(trace) {
            // A trace's first hub: a copy of its buffer shares the flag names.
            Entry::Vacant(vacant) => {
                vacant.insert(flags.clone());
                self.order.push_back(trace);
                self.flags += flags.len();
            }
            Entry::Occupied(mut occupied) => {
                let kept = occupied.get_mut();
                let before = kept.len();
                for (name, value) in flags.iter() {
                    kept.set(name, value.clone());
                }
                // Setting never shortens a buffer.
                self.flags = (self.flags + kept.len()).saturating_sub(before);
            }
        }
        while self.order.len() > MAX_TRACES_KEPT / SHARDS
            || (self.flags > MAX_TRACE_FLAGS_KEPT / SHARDS && self.order.len() > 1)
        {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(forgotten) = self.traces.remove(&oldest) {
                self.flags = self.flags.saturating_sub(forgotten.len());
            }
        }
    }
}

static TRACES: OnceLock<[Mutex<Shard>; SHARDS]> = OnceLock::new();

fn shard(trace: TraceId) -> MutexGuard<'static, Shard> {
    const { assert!(SHARDS.is_power_of_two()) };
    let shards = TRACES.get_or_init(Default::default);
    let index = fibonacci_index(FastBuildHasher::default().hash_one(trace), SHARDS);
    shards[index].lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether a hub whose active span is `span` when it records its first flag has its flags kept
/// for the span's trace when it is gone: a child span's hub, not a transaction's.
pub(crate) fn is_kept_under(span: &TransactionOrSpan) -> bool {
    matches!(span, TransactionOrSpan::Span(_))
}

/// Keeps the flags of a hub that is gone, under the trace of `span`, the span that was active
/// when the hub recorded its first flag.
pub(crate) fn keep(span: &TransactionOrSpan, flags: &FlagBuffer) {
    if flags.is_empty() {
        return;
    }
    let trace = trace_id_of(span);
    shard(trace).keep(trace, flags);
}

/// The trace id of `span`. `get_trace_context` would clone the transaction's whole context,
/// its data map included (the root's flag attributes among it); building a context that
/// continues from the span reads only the ids, under the span's lock.
fn trace_id_of(span: &TransactionOrSpan) -> TraceId {
    TransactionContext::continue_from_span("", "", Some(span.clone())).trace_id()
}

/// The event's trace id, from its trace context.
fn trace_of(event: &Event<'_>) -> Option<TraceId> {
    match event.contexts.get("trace")? {
        Context::Trace(trace) => Some(trace.trace_id),
        _ => None,
    }
}

/// Adds to `event` the flags kept for its trace that it does not carry yet, as older than its
/// own, keeping the newest of them all up to the kept buffer's capacity.
pub(crate) fn add_trace_flags(event: &mut Event<'static>) {
    let Some(trace) = trace_of(event) else {
        return;
    };
    // A clone shares the flag names: the shard's lock is held no longer than that.
    let Some(kept) = shard(trace).traces.get(&trace).cloned() else {
        return;
    };
    if kept.is_empty() {
        return;
    }
    let Some(values) = flags_context_values(event) else {
        return;
    };
    let carried = |name: &str| {
        values
            .iter()
            .any(|entry| flag_of_entry(entry) == Some(name))
    };
    let older: Vec<Value> = kept
        .iter()
        .filter(|(name, _)| !carried(name))
        .map(|(name, value)| flag_entry(name.to_owned(), value.clone()))
        .collect();
    values.splice(0..0, older);
    let excess = values.len().saturating_sub(kept.capacity());
    values.drain(..excess);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(flags: &[(&str, bool)]) -> FlagBuffer {
        let mut buffer = FlagBuffer::new(100);
        for (name, value) in flags {
            buffer.set(name, Value::Bool(*value));
        }
        buffer
    }

    fn trace(n: u8) -> TraceId {
        TraceId::from([n; 16])
    }

    #[test]
    fn a_spans_trace_id_is_read_without_its_context() {
        let context = TransactionContext::new_with_trace_id("GET /", "http.server", trace(7));
        let transaction = sentry::start_transaction(context);
        transaction.set_data("flag.evaluation.a", Value::Bool(true));
        let child = transaction.start_child("db", "query");
        for span in [
            TransactionOrSpan::from(transaction.clone()),
            TransactionOrSpan::from(child),
        ] {
            assert_eq!(trace_id_of(&span), trace(7));
            assert_eq!(trace_id_of(&span), span.get_trace_context().trace_id);
        }
    }

    #[test]
    fn a_shard_forgets_its_oldest_traces_first() {
        let mut shard = Shard::default();
        let per_shard = MAX_TRACES_KEPT / SHARDS;
        for i in 0..=per_shard {
            let id = u16::try_from(i).unwrap_or(u16::MAX).to_be_bytes();
            let mut bytes = [0; 16];
            bytes[..2].copy_from_slice(&id);
            shard.keep(TraceId::from(bytes), &buffer(&[("a", true)]));
        }
        assert_eq!(shard.traces.len(), per_shard);
        assert_eq!(shard.flags, per_shard);
        assert!(!shard.traces.contains_key(&TraceId::from([0; 16])));
    }

    #[test]
    fn a_shard_keeps_at_most_its_share_of_flags() {
        let mut shard = Shard::default();
        let many: Vec<String> = (0..100).map(|i| format!("flag-{i}")).collect();
        let mut full = FlagBuffer::new(100);
        for name in &many {
            full.set(name, Value::Bool(true));
        }
        for n in 0..=u8::MAX {
            shard.keep(trace(n), &full);
        }
        assert!(
            shard.flags <= MAX_TRACE_FLAGS_KEPT / SHARDS,
            "{}",
            shard.flags
        );
        assert_eq!(
            shard.flags,
            shard.traces.values().map(FlagBuffer::len).sum::<usize>()
        );
        assert!(
            shard.traces.contains_key(&trace(u8::MAX)),
            "the newest stays"
        );
    }

    #[test]
    fn the_table_stays_within_its_bounds() {
        let flags = buffer(&[("a", true), ("b", false)]);
        for _ in 0..MAX_TRACES_KEPT + 1_000 {
            let transaction =
                sentry::start_transaction(sentry::TransactionContext::new("GET /", "http"));
            keep(&transaction.start_child("db", "query").into(), &flags);
        }
        let shards = TRACES.get_or_init(Default::default);
        let (traces, kept): (usize, usize) = shards
            .iter()
            .map(|shard| {
                let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
                (shard.traces.len(), shard.flags)
            })
            .fold((0, 0), |(t, f), (traces, flags)| (t + traces, f + flags));
        assert!(traces <= MAX_TRACES_KEPT, "{traces} traces");
        assert!(kept <= MAX_TRACE_FLAGS_KEPT, "{kept} flags");
        assert!(
            traces >= MAX_TRACES_KEPT / 2,
            "{traces} traces: shards fill evenly"
        );
    }

    #[test]
    fn merging_again_updates_the_trace_without_counting_twice() {
        let mut shard = Shard::default();
        shard.keep(trace(1), &buffer(&[("a", true), ("b", true)]));
        shard.keep(trace(1), &buffer(&[("b", false), ("c", true)]));
        assert_eq!(shard.flags, 3);
        let kept = &shard.traces[&trace(1)];
        let names: Vec<&str> = kept.iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(kept.get("b"), Some(&Value::Bool(false)));
        assert_eq!(shard.order.len(), 1);
    }
}
