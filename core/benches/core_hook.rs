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

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use open_feature::{Client, EvaluationContext, EvaluationReason, OpenFeature};
use openfeature_hooks_core::{JsonLinesSink, NoopSink, TelemetryHook};
use openfeature_hooks_testkit::{DoNothingHook, FixtureFlag, FixtureProvider};

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

    fn client(self, runtime: &tokio::runtime::Runtime) -> Client {
        runtime.block_on(async {
            let mut api = OpenFeature::default();
            api.set_provider(
                FixtureProvider::new("bench").with_flag(
                    "new-checkout",
                    FixtureFlag::new(true)
                        .variant("on")
                        .reason(Some(EvaluationReason::TargetingMatch)),
                ),
            )
            .await;
            let client = api.create_client();
            match self {
                Case::Bare => client,
                Case::DoNothingHook => client.with_hook(DoNothingHook),
                Case::CoreNoopSink => {
                    client.with_hook(TelemetryHook::builder().sink(NoopSink).build())
                }
                Case::CoreJsonLinesToIoSink => client.with_hook(
                    TelemetryHook::builder()
                        .sink(JsonLinesSink::new(std::io::sink()))
                        .build(),
                ),
            }
        })
    }
}

fn evaluation(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let context = EvaluationContext::default().with_targeting_key("user-42");
    let mut group = c.benchmark_group("evaluation");
    for case in Case::ALL {
        let client = case.client(&runtime);
        group.bench_function(case.name(), |b| {
            b.to_async(&runtime).iter(|| async {
                black_box(
                    client
                        .get_bool_value("new-checkout", Some(&context), None)
                        .await,
                )
            });
        });
    }
    group.finish();
}

criterion_group!(benches, evaluation);
criterion_main!(benches);
