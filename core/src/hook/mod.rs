//! The hook: [`TelemetryHook`](crate::TelemetryHook), the one `open_feature::Hook` every
//! backend is reached through, its builder and stats, its shutdown (one flush for every queue,
//! the [`ShutdownGuard`](crate::ShutdownGuard)), and how it follows one evaluation across the
//! SDK's stages: the `after` marks that keep a failure from being recorded twice, the start
//! times carried from `before`, and stage futures that allocate nothing.
//!
//! Used by service owners (build, register, keep the guard) and by the sinks it calls.

pub(crate) mod after_marks;
pub(crate) mod builder;
pub(crate) mod evaluation_start;
pub(crate) mod shutdown;
pub(crate) mod stage_future;
pub(crate) mod start_table;
pub(crate) mod telemetry_hook;
