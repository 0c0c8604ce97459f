//! The span active during an evaluation, captured for a background thread.
//!
//! Only with the `opentelemetry` feature: the active span is read through OpenTelemetry's
//! context (which `tracing-opentelemetry` also sets for `tracing` spans).

use std::cell::RefCell;
use std::sync::Arc;

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

/// A span's trace id, span id and flags: what a log record's trace context takes.
pub(crate) type ParentSpanIds = (TraceId, SpanId, TraceFlags);

/// The ids of the span active during an evaluation, as queued: 40 bytes, where a
/// `SpanContext` takes 64 (every byte of a queued item is written into a queue slot the other
/// core read last). Only its ids: a clone of the active `Context` would keep the span open,
/// and a span ends when its last reference goes, here possibly on the background thread.
///
/// A span context's trace state (the W3C `tracestate` a request brought in, which every local
/// span of its trace inherits) is a list of owned strings: cloning it would allocate on the
/// evaluation path for every evaluation, and free on the background thread. So a span with a
/// trace state is queued as its bare ids plus the state shared through a per-thread cache: one
/// copy per span per thread, whatever the number of evaluations under it. Spans without one
/// (the common case) are copied as they are.
#[derive(Clone, Debug)]
pub(crate) struct ParentSpan {
    /// The trace id's bytes: a `TraceId` is a `u128`, aligned to 16 bytes, which would make
    /// this 48 bytes.
    trace_id: [u8; 16],
    span_id: SpanId,
    flags: TraceFlags,
    remote: bool,
    /// The span's trace state, when it has one.
    state: Option<Arc<TraceState>>,
}

thread_local! {
    /// The trace state of the span this thread captured last: a span's context never changes,
    /// so its trace and span id identify it.
    static LAST_STATE: RefCell<Option<(TraceId, SpanId, Arc<TraceState>)>> =
        const { RefCell::new(None) };
}

impl ParentSpan {
    /// The span active on this thread, when it has valid ids.
    pub(crate) fn current() -> Option<Self> {
        Context::map_current(|context| {
            let span = context.span();
            let ids = span.span_context();
            ids.is_valid().then(|| Self::of(ids))
        })
    }

    fn of(ids: &SpanContext) -> Self {
        let state = (*ids.trace_state() != TraceState::NONE).then(|| shared_state(ids));
        Self {
            trace_id: ids.trace_id().to_bytes(),
            span_id: ids.span_id(),
            flags: ids.trace_flags(),
            remote: ids.is_remote(),
            state,
        }
    }

    /// The span's trace id, span id and flags.
    pub(crate) fn ids(&self) -> ParentSpanIds {
        (TraceId::from_bytes(self.trace_id), self.span_id, self.flags)
    }

    /// The span's whole context, trace state included (cloned here: call it on the background
    /// thread).
    pub(crate) fn span_context(&self) -> SpanContext {
        SpanContext::new(
            TraceId::from_bytes(self.trace_id),
            self.span_id,
            self.flags,
            self.remote,
            self.state
                .as_deref()
                .map_or(TraceState::NONE, TraceState::clone),
        )
    }
}

/// `ids`'s trace state, shared with the evaluations before this one under the same span.
fn shared_state(ids: &SpanContext) -> Arc<TraceState> {
    LAST_STATE
        .try_with(|last| {
            let mut last = last.try_borrow_mut().ok()?;
            if let Some((trace_id, span_id, state)) = last.as_ref()
                && *trace_id == ids.trace_id()
                && *span_id == ids.span_id()
            {
                return Some(state.clone());
            }
            let state = Arc::new(ids.trace_state().clone());
            *last = Some((ids.trace_id(), ids.span_id(), state.clone()));
            Some(state)
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| Arc::new(ids.trace_state().clone()))
}
