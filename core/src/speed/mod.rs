//! The speed machinery: what keeps the evaluation path within its budget (every backend at or
//! under 2.0x a bare evaluation). None of it is public API: the hook and the queue use it from
//! here, the sibling crates through the hidden `__private` module.
//!
//! Each trick, what it buys as measured, and the paired bench case that measures it (paired:
//! the case and the bare evaluation alternate in one loop; see BENCHMARKS.md for the method and
//! the commits). A trick whose paired gain falls under 10 ns, this host's noise, is removed:
//! simpler wins a tie.
//!
//! | trick | where | what it buys | measured by |
//! | --- | --- | --- | --- |
//! | the evaluation clock on the CPU's time-stamp counter (`quanta`), one reading at each end of an evaluation for every sink | `tick_clock` | a reading 7.9 ns instead of 16.9; −11 to −100 ns on every backend (last batch −14) | `full_stack_paired/every_backend_over_bare`, `otel_paired/metrics_over_bare` |
//! | `FastHasher` (folded multiply, MurmurHash3 finaliser) for the bounded tables, `fibonacci_index` for their slots | `fast_hash` | no collisions on the soak's 10 M keys (the previous hasher suppressed 913 first exposures); the tail read 20 → 6.6 ns per text | the exposure soak; no isolating paired case |
//! | `fold_hashes`: independent hash chains folded at the end (metric series keys) | `fast_hash` | the series key's hash was 29% of the metrics sink's path; −30 ns, sequential | `otel_paired/metrics_over_bare` |
//! | texts interned once as `&'static str` (`shared_text`), a flag's texts cached per thread (`RecordTexts`), on cache lines of their own | `shared_text`, `record_texts` | no hash, probe or reference count per use; `RecordTexts::of` 35 → 12 ns; 13 to 27 ns on the span event's attributes (perf) | `full_stack_paired/every_backend_over_bare` |
//! | `StripedCount`: counters striped per CPU on lines of their own | `striped_count` | two threads counting one flag 166 → 32.5 ns | `metrics_counters/two_threads_one_flag` |
//! | `StripedCounters`: the first 64 threads own a stripe, a plain load and store | `striped_counters` | 9 ns a count on one thread (no locked instruction): the suppressed exposure stays at +31 ns against its 40 ns target | `volume_paired/dedup_suppressed_noop_sink_over_core_noop_sink` |
//! | `OwnCacheLines`: a value alone on its 128 bytes | `own_cache_lines` | a thread's queue never shares a line with another's; for the hook's data and the sinks, fewer shared-line misses with two threads (perf) | no two-thread paired case |
//! | a stable per-thread index | `thread_number` | one thread-local instead of two; picks stripes and queues | (infrastructure) |
//!
//! Elsewhere in the crate, beside the code they speed up: the per-thread queues
//! (`queue::thread_queues`: −30 to −101 ns on every backend), the queued item made under the
//! queue's lock and never when it is full (−126 to −218 ns while an exporter stalls), the
//! record's texts copied into one inline buffer (`queue::captured_texts`: −13 to −77 ns on JSON
//! lines), recycled rare parts (`queue::recycled_parts`: 9 allocations an evaluation to none),
//! the lock-free start table (`hook::start_table`: −22 ns), allocation-free stage futures
//! (`hook::stage_future`), the coarse monotonic clock of the exposure windows
//! (`volume::clock`: 4 ns a reading instead of 22), and the exposure key's two hash chains
//! (`volume::exposure_key`: −4 to −10.5 ns paired, and the mix that spreads the table's
//! buckets, which one chain did not).
//!
//! Removed for measuring under the noise: a prefetch of the exposure bucket's cache line
//! (passing evaluations −1.5 to −10.5 ns paired, median −7.5; suppressed ones paid +1.5 to +3).

pub(crate) mod fast_hash;
pub(crate) mod own_cache_lines;
pub(crate) mod record_texts;
pub(crate) mod shared_text;
pub(crate) mod striped_count;
pub(crate) mod striped_counters;
pub(crate) mod thread_number;
pub(crate) mod tick_clock;
