//! What exposure deduplication and sampling add to one flag evaluation, beside the bare SDK
//! evaluation and the sinks they wrap, in the same run.
//!
//! Run: `cargo bench -p openfeature-hooks-core --bench volume_control`
//!
//! Targets (issue 12): a suppressed evaluation at most 40 ns over `TelemetryHook` + `NoopSink`;
//! a passing one at most 60 ns over the wrapped sink alone. Results in BENCHMARKS.md.
//!
//! Cases, all through a real `open-feature` client and the fixture provider:
//! - `bare`, `core_noop_sink`: the baselines of the suppressed path, one context.
//! - `dedup_suppressed_noop_sink`: `ExposureDedup<NoopSink>` with the real clock, the same
//!   exposure every time (suppressed after the first).
//! - `sampled_out_noop_sink`: `SampledSink<NoopSink>` at rate 0.01 with a context that is out.
//! - `noop_sink_rotating`, `dedup_passing_noop_sink_rotating`, `json_lines_rotating`,
//!   `dedup_passing_json_lines_rotating`: the no-op and JSON-lines sinks alone, and behind
//!   `ExposureDedup`, over 65 536 contexts in turn (and the no-op pair over 4 096, `_4k`, whose
//!   table lines and contexts stay in cache) with a clock that moves a window per
//!   reading, so every evaluation passes (the table's scan and compare-and-swap, over a full
//!   table's worth of keys, are paid every time).
//!
//! `volume_paired/*` reports each of the targets' comparisons directly: the wrapper's case and
//! the case it is measured against run in turns in one loop, and criterion's time is their
//! difference (see [`paired`]). Separate runs of the two cases differ by ±40 ns from batch to
//! batch on the shared bench machine; paired, they are measured under the same conditions.
//!
//! Every case is timed in chunks of [`CHUNK`] evaluations; between chunks, outside the timed
//! part, a JSON-lines sink is flushed. Without that, the JSON-lines cases measured the overload
//! regime, not the sink: the writer formats a line with metadata far slower than this loop
//! evaluates, so its queue stayed full and 95% of the records were dropped (84% behind the
//! deduplication, whose extra nanoseconds let more through), and the pair compared two drop
//! rates. In chunks nothing is dropped (the bench prints the sinks' stats to show it), and
//! each record is written into a queue slot the writer has read, as in a service whose writer
//! keeps up.

use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use open_feature::{Client, EvaluationContext, EvaluationReason};
use openfeature_hooks_core::MonotonicClock;
use openfeature_hooks_core::{
    Clock, EvaluationRecord, EvaluationSink, ExposureDedup, FlagType, JsonLinesSink, NoopSink,
    SampledSink, TelemetryHook,
};
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider, fixture_client};

const SAMPLE_RATE: f64 = 0.01;
const WINDOW: Duration = Duration::from_secs(600);
const ROTATING_CONTEXTS: usize = 65_536;
/// Records the wrapper alone rotates over: few enough that their contexts stay in cache, as
/// the context of a real evaluation is (the SDK and provider just read it). 65 536 records'
/// targeting keys would miss the cache on every read, a cost the bare sink never pays.
const ROTATING_RECORDS: usize = 4_096;

/// The real clock plus one more window at every reading: every exposure has expired, and a
/// reading costs what the default clock's does (plus an uncontended load and store: the bench
/// is single-threaded).
#[derive(Debug, Default)]
struct WindowPerReading {
    clock: MonotonicClock,
    readings: AtomicU64,
}

impl Clock for WindowPerReading {
    fn elapsed(&self) -> Duration {
        let readings = self.readings.load(Ordering::Relaxed) + 1;
        self.readings.store(readings, Ordering::Relaxed);
        self.clock.elapsed() + Duration::from_secs((WINDOW.as_secs() + 1) * readings)
    }
}

/// Evaluations timed between two flushes of a JSON-lines sink: a quarter of its default queue,
/// so that a chunk never fills it.
const CHUNK: u64 = 1024;

/// How long `iters` runs take, timed in chunks of at most [`CHUNK`] by `time_chunk` (given a
/// chunk's size, it runs that many and returns how long they took), with `sink` flushed
/// (untimed) after each chunk.
fn timed_in_chunks(
    iters: u64,
    sink: Option<&JsonLinesSink>,
    mut time_chunk: impl FnMut(u64) -> Duration,
) -> Duration {
    let mut timed = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let chunk = left.min(CHUNK);
        timed += time_chunk(chunk);
        left -= chunk;
        flush(sink);
    }
    timed
}

/// Waits until `sink`, if any, has written everything queued.
fn flush(sink: Option<&JsonLinesSink>) {
    if let Some(sink) = sink {
        let _ = sink.flush(Duration::from_secs(30));
    }
}

/// How long `count` calls of `one` take.
fn time_calls(count: u64, mut one: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..count {
        one();
    }
    start.elapsed()
}

/// Prints a JSON-lines sink's counters: `dropped` must stay 0 for the figures to mean what
/// the module docs say.
#[allow(clippy::print_stderr)] // the stats are part of the bench's report
fn print_stats(case: &str, sink: Option<&JsonLinesSink>) {
    // A case left out by the command line's filter queued nothing: nothing to say.
    if let Some(stats) = sink
        .map(JsonLinesSink::stats)
        .filter(|stats| stats.queued > 0)
    {
        eprintln!("{case}: JSON-lines sink {stats:?}");
    }
}

#[derive(Clone, Copy)]
enum Case {
    Bare,
    CoreNoopSink,
    DedupSuppressedNoopSink,
    SampledOutNoopSink,
    NoopSinkRotating,
    DedupPassingNoopSinkRotating,
    NoopSinkRotating4k,
    DedupPassingNoopSinkRotating4k,
    JsonLinesRotating,
    DedupPassingJsonLinesRotating,
}

impl Case {
    const ALL: [Case; 10] = [
        Case::Bare,
        Case::CoreNoopSink,
        Case::DedupSuppressedNoopSink,
        Case::SampledOutNoopSink,
        Case::NoopSinkRotating,
        Case::DedupPassingNoopSinkRotating,
        Case::NoopSinkRotating4k,
        Case::DedupPassingNoopSinkRotating4k,
        Case::JsonLinesRotating,
        Case::DedupPassingJsonLinesRotating,
    ];

    fn name(self) -> &'static str {
        match self {
            Case::Bare => "bare",
            Case::CoreNoopSink => "core_noop_sink",
            Case::DedupSuppressedNoopSink => "dedup_suppressed_noop_sink",
            Case::SampledOutNoopSink => "sampled_out_noop_sink",
            Case::NoopSinkRotating => "noop_sink_rotating",
            Case::DedupPassingNoopSinkRotating => "dedup_passing_noop_sink_rotating",
            Case::NoopSinkRotating4k => "noop_sink_rotating_4k",
            Case::DedupPassingNoopSinkRotating4k => "dedup_passing_noop_sink_rotating_4k",
            Case::JsonLinesRotating => "json_lines_rotating",
            Case::DedupPassingJsonLinesRotating => "dedup_passing_json_lines_rotating",
        }
    }

    /// How many contexts the case takes in turn (1: always the same).
    fn contexts(self) -> usize {
        match self {
            Case::NoopSinkRotating
            | Case::DedupPassingNoopSinkRotating
            | Case::JsonLinesRotating
            | Case::DedupPassingJsonLinesRotating => ROTATING_CONTEXTS,
            Case::NoopSinkRotating4k | Case::DedupPassingNoopSinkRotating4k => ROTATING_RECORDS,
            _ => 1,
        }
    }

    /// The case's client, and its JSON-lines sink (to flush) when it has one.
    fn client(self, runtime: &tokio::runtime::Runtime) -> (Client, Option<JsonLinesSink>) {
        // Made only for the JSON-lines cases: a sink starts its writer thread at once.
        let mut json = None;
        let mut json_lines = || json.insert(JsonLinesSink::new(std::io::sink())).clone();
        let client = runtime.block_on(async {
            let client = fixture_client(
                FixtureProvider::new("bench").with_flag(
                    "new-checkout",
                    FixtureFlag::new(true)
                        .variant("on")
                        .reason(Some(EvaluationReason::TargetingMatch))
                        .metadata("version", 3_i64),
                ),
            )
            .await;
            let hook = match self {
                Case::Bare => return client,
                Case::CoreNoopSink => TelemetryHook::builder().sink(NoopSink).build(),
                Case::DedupSuppressedNoopSink => TelemetryHook::builder()
                    .sink(ExposureDedup::new(NoopSink))
                    .build(),
                Case::SampledOutNoopSink => TelemetryHook::builder()
                    .sink(SampledSink::new(SAMPLE_RATE, NoopSink))
                    .build(),
                Case::NoopSinkRotating | Case::NoopSinkRotating4k => {
                    TelemetryHook::builder().sink(NoopSink).build()
                }
                Case::DedupPassingNoopSinkRotating | Case::DedupPassingNoopSinkRotating4k => {
                    TelemetryHook::builder()
                        .sink(
                            ExposureDedup::builder()
                                .window(WINDOW)
                                .clock(WindowPerReading::default())
                                .build(NoopSink),
                        )
                        .build()
                }
                Case::JsonLinesRotating => TelemetryHook::builder().sink(json_lines()).build(),
                Case::DedupPassingJsonLinesRotating => TelemetryHook::builder()
                    .sink(
                        ExposureDedup::builder()
                            .window(WINDOW)
                            .clock(WindowPerReading::default())
                            .build(json_lines()),
                    )
                    .build(),
            };
            client.with_hook(hook)
        });
        (client, json)
    }
}

/// The contexts the cases evaluate with.
struct Contexts {
    /// The first `user-N` that a 1% sample leaves out.
    one: EvaluationContext,
    /// Taken in turn by the rotating cases.
    rotating: Vec<EvaluationContext>,
}

impl Contexts {
    /// The contexts, and the runtime the evaluations run on.
    fn with_runtime() -> Option<(tokio::runtime::Runtime, Self)> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().ok()?;
        Some((runtime, Self::new()?))
    }

    fn new() -> Option<Self> {
        let sampler = SampledSink::new(SAMPLE_RATE, NoopSink);
        let one = (0..1000)
            .map(|i| EvaluationContext::default().with_targeting_key(format!("user-{i}")))
            .find(|context| {
                !sampler.keeps(&EvaluationRecord::new(
                    "new-checkout",
                    FlagType::Bool,
                    context,
                ))
            })?;
        let rotating = (0..ROTATING_CONTEXTS)
            .map(|i| EvaluationContext::default().with_targeting_key(format!("user-{i}")))
            .collect();
        Some(Self { one, rotating })
    }
}

/// One case's client, ready to evaluate.
struct Evaluator<'a> {
    case: Case,
    client: Client,
    json: Option<JsonLinesSink>,
    contexts: &'a Contexts,
    next: Cell<usize>,
}

impl<'a> Evaluator<'a> {
    fn new(case: Case, runtime: &tokio::runtime::Runtime, contexts: &'a Contexts) -> Self {
        let (client, json) = case.client(runtime);
        Self {
            case,
            client,
            json,
            contexts,
            next: Cell::new(0),
        }
    }

    /// How long `count` evaluations take, each with the case's next context.
    fn time(&self, runtime: &tokio::runtime::Runtime, count: u64) -> Duration {
        runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..count {
                let contexts = self.case.contexts();
                let context = if contexts > 1 {
                    let i = self.next.get();
                    self.next.set((i + 1) % contexts);
                    &self.contexts.rotating[i]
                } else {
                    &self.contexts.one
                };
                let _ = black_box(
                    self.client
                        .get_bool_value("new-checkout", Some(context), None)
                        .await,
                );
            }
            start.elapsed()
        })
    }
}

fn evaluation(c: &mut Criterion) {
    let Some((runtime, contexts)) = Contexts::with_runtime() else {
        return;
    };
    let mut group = c.benchmark_group("volume");
    for case in Case::ALL {
        let evaluator = Evaluator::new(case, &runtime, &contexts);
        group.bench_function(case.name(), |b| {
            b.iter_custom(|iters| {
                timed_in_chunks(iters, evaluator.json.as_ref(), |count| {
                    evaluator.time(&runtime, count)
                })
            });
        });
        print_stats(case.name(), evaluator.json.as_ref());
    }
    group.finish();
}

/// The comparisons the targets make, each as (the wrapper's case, the case it is
/// measured against).
const PAIRS: [(Case, Case); 4] = [
    (Case::DedupSuppressedNoopSink, Case::CoreNoopSink),
    (
        Case::DedupPassingNoopSinkRotating4k,
        Case::NoopSinkRotating4k,
    ),
    (Case::DedupPassingNoopSinkRotating, Case::NoopSinkRotating),
    (Case::DedupPassingJsonLinesRotating, Case::JsonLinesRotating),
];

/// Evaluations of one side of a pair per turn.
const PAIRED_TURN: u64 = 256;

/// Each pair's difference, measured in the same loop: turns of [`PAIRED_TURN`] evaluations of
/// each side, in the order A B B A (so that a drift of the machine's speed within a round
/// falls on both sides alike), the side's JSON-lines sink flushed after each turn (untimed).
/// The time criterion reports per iteration is the wrapper side's time minus the other side's:
/// the nanoseconds the wrapper adds to a whole evaluation. Separate runs of the two cases, minutes
/// apart, differ by ±40 ns on the shared bench machine; paired, the machine's state is the
/// same for both.
///
/// Criterion sizes its runs by the reported time, which here is a small difference: the
/// group's warm-up and measurement times are set so that a run takes a few seconds.
fn paired(c: &mut Criterion) {
    let Some((runtime, contexts)) = Contexts::with_runtime() else {
        return;
    };
    let mut group = c.benchmark_group("volume_paired");
    group
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    for (case, baseline) in PAIRS {
        let with = Evaluator::new(case, &runtime, &contexts);
        let without = Evaluator::new(baseline, &runtime, &contexts);
        let name = format!("{}_over_{}", case.name(), baseline.name());
        group.bench_function(name.as_str(), |b| {
            b.iter_custom(|iters| {
                let (mut with_time, mut without_time) = (Duration::ZERO, Duration::ZERO);
                let rounds = iters.div_ceil(2 * PAIRED_TURN);
                // Each turn starts with every writer idle (a side never runs while the other
                // side's writer drains its backlog), and both sides run the same turns, so
                // what a turn's first evaluations pay falls on both alike.
                let turn = |side: &Evaluator<'_>, count| {
                    let time = side.time(&runtime, count);
                    flush(side.json.as_ref());
                    time
                };
                for _ in 0..rounds {
                    without_time += turn(&without, PAIRED_TURN);
                    with_time += turn(&with, PAIRED_TURN);
                    with_time += turn(&with, PAIRED_TURN);
                    without_time += turn(&without, PAIRED_TURN);
                }
                // Per iteration of criterion's: `rounds * 2 * PAIRED_TURN` evaluations of each
                // side stand for `iters`.
                let scale =
                    |time: Duration| time.mul_f64(iters as f64 / (rounds * 2 * PAIRED_TURN) as f64);
                // Criterion refuses a zero time: a difference at or below zero reports 1 ns
                // per iteration, which can only overstate what the wrapper adds.
                let floor = Duration::from_nanos(iters);
                scale(with_time)
                    .saturating_sub(scale(without_time))
                    .max(floor)
            });
        });
        print_stats(&name, with.json.as_ref());
        print_stats(&name, without.json.as_ref());
    }
    group.finish();
}

/// The wrappers' own cost, without the SDK around it: `EvaluationSink::record` called directly
/// on a record built once (rotating over the same contexts as above for the passing case). Much
/// less noisy than the whole evaluation on a loaded machine; the difference between a wrapper
/// and its sink alone is exactly what the wrapper adds to an evaluation.
fn wrapper_alone(c: &mut Criterion) {
    let sampler = SampledSink::new(SAMPLE_RATE, NoopSink);
    let Some(contexts) = Contexts::new() else {
        return;
    };
    let value = open_feature::Value::Bool(true);
    let version = open_feature::FlagMetadataValue::Int(3);
    let record = |context| {
        let mut record = EvaluationRecord::new("new-checkout", FlagType::Bool, context);
        record.value = Some(&value);
        record.variant = Some("on");
        record.version = Some(&version);
        record
    };
    let one_record = record(&contexts.one);
    let rotating_records: Vec<EvaluationRecord<'_>> = contexts.rotating[..ROTATING_RECORDS]
        .iter()
        .map(record)
        .collect();

    let mut group = c.benchmark_group("wrapper_alone");
    let noop = NoopSink;
    group.bench_function("noop_sink", |b| {
        b.iter_custom(|iters| {
            timed_in_chunks(iters, None, |count| {
                time_calls(count, || noop.record(black_box(&one_record)))
            })
        });
    });
    let dedup = ExposureDedup::new(NoopSink);
    group.bench_function("dedup_suppressed_noop_sink", |b| {
        b.iter_custom(|iters| {
            timed_in_chunks(iters, None, |count| {
                time_calls(count, || dedup.record(black_box(&one_record)))
            })
        });
    });
    group.bench_function("sampled_out_noop_sink", |b| {
        b.iter_custom(|iters| {
            timed_in_chunks(iters, None, |count| {
                time_calls(count, || sampler.record(black_box(&one_record)))
            })
        });
    });
    let json = JsonLinesSink::new(std::io::sink());
    let next = Cell::new(0_usize);
    let rotate = || {
        let i = next.get();
        next.set((i + 1) % ROTATING_RECORDS);
        &rotating_records[i]
    };
    group.bench_function("noop_sink_rotating", |b| {
        b.iter_custom(|iters| {
            timed_in_chunks(iters, None, |count| {
                time_calls(count, || noop.record(black_box(rotate())))
            })
        });
    });
    let passing_noop = ExposureDedup::builder()
        .window(WINDOW)
        .clock(WindowPerReading::default())
        .build(NoopSink);
    group.bench_function("dedup_passing_noop_sink_rotating", |b| {
        b.iter_custom(|iters| {
            timed_in_chunks(iters, None, |count| {
                time_calls(count, || passing_noop.record(black_box(rotate())))
            })
        });
    });
    group.bench_function("json_lines_rotating", |b| {
        b.iter_custom(|iters| {
            timed_in_chunks(iters, Some(&json), |count| {
                time_calls(count, || json.record(black_box(rotate())))
            })
        });
    });
    print_stats("json_lines_rotating", Some(&json));
    let passing = ExposureDedup::builder()
        .window(WINDOW)
        .clock(WindowPerReading::default())
        .build(JsonLinesSink::new(std::io::sink()));
    group.bench_function("dedup_passing_json_lines_rotating", |b| {
        b.iter_custom(|iters| {
            timed_in_chunks(iters, Some(passing.inner()), |count| {
                time_calls(count, || {
                    passing.record(black_box(rotate()));
                })
            })
        });
    });
    print_stats("dedup_passing_json_lines_rotating", Some(passing.inner()));
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs, so that several can be taken back to back on a shared machine.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40);
    targets = evaluation, paired, wrapper_alone
}
criterion_main!(benches);
