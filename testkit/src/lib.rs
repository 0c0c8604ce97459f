//! Test support for the openfeature-hooks crates (not published): the published in-memory
//! provider under the names the tests use ([`FixtureProvider`], [`FixtureFlag`]), a sink that
//! keeps owned copies of records, an HTTP endpoint on loopback that records what real exporters
//! send, a gate that holds an exporter or writer until opened, a logger that keeps every line, a
//! global allocator that counts allocations per thread, and the paired timing of two cases that
//! benches report differences with.

#![warn(missing_docs, unreachable_pub)]

mod bench_client;
mod clock_slack;
mod counting_allocator;
mod do_nothing_hook;
mod drop_exporters;
mod gate;
mod http_receiver;
mod kept_logs;
mod paired_turns;
mod recording_sink;
mod remote_parent;
mod shared_buffer;

pub use bench_client::{BENCH_FLAG, bench_provider, fixture_client};
pub use clock_slack::{CLOCK_SLACK, within_clock_slack};
pub use counting_allocator::{CountingAllocator, thread_allocations};
pub use do_nothing_hook::{DoNothingHook, ScriptedHook};
pub use drop_exporters::{CountingLogs, DropLogs, DropSpans};
pub use gate::{Gate, GatedLogProcessor};
pub use http_receiver::{HttpReceiver, ReceivedRequest, Reply};
pub use kept_logs::KeptLogs;
/// The in-memory provider the tests, benches and examples evaluate through
/// ([`openfeature_hooks_in_memory`]), under its test names.
pub use openfeature_hooks_in_memory::{
    InMemoryFlag as FixtureFlag, InMemoryProvider as FixtureProvider,
};
pub use paired_turns::{PairedTurns, Quartiles, RoundFigures, time_bool_evaluations};
pub use recording_sink::{RecordedEvaluation, RecordingSink};
pub use remote_parent::remote_parent_with_trace_state;
pub use shared_buffer::SharedBuffer;
