//! Test support for the openfeature-hooks crates (not published): an in-memory provider with
//! fixed flags, a sink that keeps owned copies of records, an HTTP endpoint on loopback that
//! records what real exporters send, a gate that holds an exporter or writer until opened, a
//! logger that keeps every line, a global allocator that counts allocations per thread, and the
//! paired timing of two cases that benches report differences with.

#![warn(missing_docs, unreachable_pub)]

mod bench_client;
mod clock_slack;
mod counting_allocator;
mod do_nothing_hook;
mod drop_exporters;
mod fixture_provider;
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
pub use drop_exporters::{DropLogs, DropSpans};
pub use fixture_provider::{FixtureFlag, FixtureProvider};
pub use gate::{Gate, GatedLogProcessor};
pub use http_receiver::{HttpReceiver, ReceivedRequest, Reply};
pub use kept_logs::KeptLogs;
pub use paired_turns::{PairedTurns, Quartiles, RoundFigures, time_bool_evaluations};
pub use recording_sink::{RecordedEvaluation, RecordingSink};
pub use remote_parent::remote_parent_with_trace_state;
pub use shared_buffer::SharedBuffer;
