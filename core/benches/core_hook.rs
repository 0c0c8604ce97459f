//! What the core hook adds to one flag evaluation, beside the bare SDK evaluation in the same run.
//!
//! Run: `cargo bench -p openfeature-hooks-core --bench core_hook`
//!
//! Results (2026-11-21, 2-core x86_64 VM, rustc 1.95.0; medians of six runs, table in
//! BENCHMARKS.md):
//!   bare evaluation                           479 ns
//!   + do-nothing async_trait hook             +128 ns
//!   + TelemetryHook, no-op sink               +102 ns  (+92 ns in an A/B, same code)
//!   + TelemetryHook, JSON lines to io::sink   +498 ns; +137 to +168 ns once formatting and
//!     writing left the evaluation path (A/B of 2026-11-28, BENCHMARKS.md, issue 15)
//!
//! `evaluation_paired/*` times the do-nothing hook, the no-op and the JSON-lines cases against
//! the bare evaluation in one loop (turns of each, alternated): the steadier figure on a shared
//! machine (the do-nothing hook is the floor every hook's figure stands on: the SDK's work for
//! any hook, and `async_trait`'s boxed futures, which `TelemetryHook` does without);
//! `core_json_lines_stalled_writer_over_bare` does so with a writer that has stopped, every
//! record dropped.
//!
//! `json_lines_writer/lines_written` measures the other half of that sink: records handed to
//! it and waited for until its thread has formatted and written them all, per line, in wall
//! time and in the CPU time of every thread of the process: work off the evaluation path is
//! still paid.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use open_feature::{Client, EvaluationContext, Value};
use openfeature_hooks_core::{
    EvaluationRecord, EvaluationSink, FlagType, JsonLinesSink, NoopSink, Reason, TelemetryHook,
};
use openfeature_hooks_testkit::{
    BENCH_FLAG, DoNothingHook, Gate, PairedTurns, bench_provider, fixture_client,
    time_bool_evaluations,
};

/// The flag every case evaluates.
const FLAG: &str = BENCH_FLAG;

/// The evaluations compared in one run.
#[derive(Clone, Copy)]
enum Case {
    Bare,
    DoNothingHook,
    CoreNoopSink,
    CoreJsonLinesToIoSink,
}

impl Case {
    const ALL: [Case; 4] = [
        Case::Bare,
        Case::DoNothingHook,
        Case::CoreNoopSink,
        Case::CoreJsonLinesToIoSink,
    ];

    fn name(self) -> &'static str {
        match self {
            Case::Bare => "bare",
            Case::DoNothingHook => "do_nothing_hook",
            Case::CoreNoopSink => "core_noop_sink",
            Case::CoreJsonLinesToIoSink => "core_json_lines_to_io_sink",
        }
    }

    /// A client evaluating with this case's hook, and the case's JSON-lines sink, if any (to
    /// flush).
    fn client(self, runtime: &tokio::runtime::Runtime) -> (Client, Option<JsonLinesSink>) {
        let json = matches!(self, Case::CoreJsonLinesToIoSink)
            .then(|| JsonLinesSink::new(std::io::sink()));
        let client = runtime.block_on(async {
            let client = fixture_client(bench_provider()).await;
            match self {
                Case::Bare => client,
                Case::DoNothingHook => client.with_hook(DoNothingHook),
                Case::CoreNoopSink => {
                    client.with_hook(TelemetryHook::builder().sink(NoopSink).build())
                }
                Case::CoreJsonLinesToIoSink => match &json {
                    Some(sink) => {
                        client.with_hook(TelemetryHook::builder().sink(sink.clone()).build())
                    }
                    None => client,
                },
            }
        });
        (client, json)
    }
}

fn evaluation(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let context = EvaluationContext::default().with_targeting_key("user-42");
    let mut group = c.benchmark_group("evaluation");
    for case in Case::ALL {
        let (client, json) = case.client(&runtime);
        group.bench_function(case.name(), |b| {
            b.to_async(&runtime).iter(|| async {
                black_box(client.get_bool_value(FLAG, Some(&context), None).await)
            });
        });
        if let Some(json) = &json {
            print_drops(case.name(), json);
        }
    }
    group.finish();
}

/// The hook's cases against the bare evaluation in the same loop ([`PairedTurns`]; the
/// JSON-lines sink flushed, untimed, after the case's turns): criterion reports the
/// nanoseconds the case adds per evaluation. `evaluation` runs the cases minutes apart, when
/// the shared bench machine's load may differ; paired, both sides see the same machine.
fn evaluation_paired(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let context = EvaluationContext::default().with_targeting_key("user-42");
    let (bare, _) = Case::Bare.client(&runtime);
    let mut group = c.benchmark_group("evaluation_paired");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    for case in [
        Case::DoNothingHook,
        Case::CoreNoopSink,
        Case::CoreJsonLinesToIoSink,
    ] {
        let (client, json) = case.client(&runtime);
        let turns = PairedTurns::new(PairedTurns::EVALUATIONS_PER_TURN);
        group.bench_function(format!("{}_over_bare", case.name()), |b| {
            b.iter_custom(|iters| {
                turns.difference(
                    iters,
                    |count| runtime.block_on(time_bool_evaluations(&bare, FLAG, &context, count)),
                    |count| runtime.block_on(time_bool_evaluations(&client, FLAG, &context, count)),
                    || {
                        if let Some(json) = &json {
                            let _ = json.flush(Duration::from_secs(10));
                        }
                    },
                )
            });
        });
        turns.print_rounds(&format!("evaluation_paired/{}_over_bare", case.name()));
        if let Some(json) = &json {
            print_drops(case.name(), json);
        }
    }
    // A writer that has stopped: once the sink's queue is full (the warm-up fills it), every
    // record is dropped and counted. What an evaluation costs while a service's disk or pipe
    // is stuck.
    let stalled = Gate::default();
    let json = JsonLinesSink::new(StalledWriter(stalled.clone()));
    let client = runtime.block_on(async {
        fixture_client(bench_provider())
            .await
            .with_hook(TelemetryHook::builder().sink(json.clone()).build())
    });
    let turns = PairedTurns::new(PairedTurns::EVALUATIONS_PER_TURN);
    group.bench_function("core_json_lines_stalled_writer_over_bare", |b| {
        b.iter_custom(|iters| {
            turns.difference(
                iters,
                |count| runtime.block_on(time_bool_evaluations(&bare, FLAG, &context, count)),
                |count| runtime.block_on(time_bool_evaluations(&client, FLAG, &context, count)),
                || {},
            )
        });
    });
    turns.print_rounds("evaluation_paired/core_json_lines_stalled_writer_over_bare");
    print_drops("core_json_lines_stalled_writer", &json);
    stalled.open();
    group.finish();
}

/// A writer whose writes wait until its gate opens.
struct StalledWriter(Gate);

impl std::io::Write for StalledWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.wait();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Says how many lines a case dropped: a dropped line costs the evaluation less than a
/// queued one, so a figure with drops understates the sink.
#[allow(clippy::print_stdout)] // the drops are part of the bench's report
fn print_drops(case: &str, json: &JsonLinesSink) {
    let stats = json.stats();
    // A case left out by the command line's filter queued nothing: nothing to say.
    if stats.queued == 0 {
        return;
    }
    println!(
        "{case}: {} lines queued, {} dropped",
        stats.queued, stats.dropped
    );
}

/// Lines per measured batch: well under the sink's queue, so none is dropped.
const LINES_PER_BATCH: u64 = 2048;

/// The CPU time the process has used so far, on every thread: what the writer thread spends
/// counts, however its work overlaps the sending thread's.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // one call into the C library, see SAFETY
fn process_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the duration of the call, and
    // CLOCK_PROCESS_CPUTIME_ID is supported by every Linux kernel this builds for.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &raw mut now) };
    if status != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// JSON lines end to end: records handed to the sink and waited for until its thread has
/// formatted and written them all. `lines_written` is the wall-clock time a line, bound by the
/// slower of the two threads; `cpu_per_line` is the CPU time of the whole process a line
/// (both threads, and the wake-ups between them).
fn json_lines_writer(c: &mut Criterion) {
    let context = EvaluationContext::default();
    let mut record = EvaluationRecord::new(FLAG, FlagType::Bool, &context);
    record.value = Some(&Value::Bool(true));
    record.variant = Some("on");
    record.reason = Some(Reason::TargetingMatch);
    record.provider_name = Some("bench");
    let sink =
        JsonLinesSink::new(std::io::sink()).with_queue_capacity(4 * LINES_PER_BATCH as usize);
    let write_batch = || {
        for _ in 0..LINES_PER_BATCH {
            sink.record(black_box(&record));
        }
        assert!(sink.flush(Duration::from_secs(10)).is_complete());
    };
    let mut group = c.benchmark_group("json_lines_writer");
    group.throughput(Throughput::Elements(LINES_PER_BATCH));
    group.bench_function("lines_written", |b| b.iter(write_batch));
    #[cfg(target_os = "linux")]
    group.bench_function("cpu_per_line", |b| {
        b.iter_custom(|batches| {
            let start = process_cpu_time();
            for _ in 0..batches {
                write_batch();
            }
            process_cpu_time().saturating_sub(start)
        });
    });
    group.finish();
    assert_eq!(sink.stats().dropped, 0, "the bench measured dropped lines");
}

criterion_group!(benches, evaluation, evaluation_paired, json_lines_writer);
criterion_main!(benches);
