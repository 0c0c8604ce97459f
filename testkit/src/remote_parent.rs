//! The span context a request from another service brings.

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

/// A sampled remote parent with a two-member W3C trace state (`dd=s:2;t.dm:-4`,
/// `other=vendor-value`), as a request propagated by another service carries it: every local
/// span started under it inherits the trace state.
pub fn remote_parent_with_trace_state() -> Context {
    let state = TraceState::from_key_value([("dd", "s:2;t.dm:-4"), ("other", "vendor-value")])
        .unwrap_or_default();
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c_u128),
        SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
        TraceFlags::SAMPLED,
        true,
        state,
    ))
}
