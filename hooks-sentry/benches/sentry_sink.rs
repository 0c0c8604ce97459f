//! What the Sentry sink adds to one flag evaluation, beside the bare evaluation in the same run,
//! with a full 100-flag buffer and an active span (the steady state of a busy request; the
//! flag already on the span, `_flag_on_span`, or on the active transaction,
//! `_flag_on_transaction`), and
//! what the first flag of a fresh hub costs (a hub per request, the first evaluation of each
//! request: `sentry_sink_first_flag_in_a_fresh_hub` against `bare_in_a_fresh_hub`, under a
//! request transaction that already carries ten flag attributes, `_flagged_transaction`, and
//! with a transaction per hub, `_and_trace`), and requests
//! interleaved on one thread, each evaluation in another hub than the last
//! (`sentry_sink_requests_interleaved` against `bare_requests_interleaved`).
//!
//! Run: `cargo bench -p openfeature-hooks-sentry --bench sentry_sink`
//!
//! Results (2026-11-21, 2-core x86_64 VM, rustc 1.95.0): see BENCHMARKS.md, "Sentry".

use std::hint::black_box;
use std::sync::Arc;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use open_feature::{Client, EvaluationContext};
use openfeature_hooks_core::TelemetryHook;
use openfeature_hooks_sentry::{SentrySink, add_feature_flag};
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider, fixture_client};
use sentry::test::TestTransport;
use sentry::{ClientOptions, Hub};

async fn client(hook: Option<TelemetryHook>) -> Client {
    let client = fixture_client(
        FixtureProvider::new("bench").with_flag("new-checkout", FixtureFlag::new(true)),
    )
    .await;
    match hook {
        Some(hook) => client.with_hook(hook),
        None => client,
    }
}

fn sink(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let hub_with_tracing = hub(ClientOptions::new().traces_sample_rate(1.0));
    // Tracing on, this trace not sampled: what most requests see at a 10% sample rate.
    let hub_not_sampling = hub(ClientOptions::new().traces_sample_rate(0.0));
    // Sentry's default: tracing disabled (no sample rate, no sampler), so no span is ever sent.
    let hub_without_tracing = hub(ClientOptions::new());
    let context = EvaluationContext::default().with_targeting_key("user-42");
    let bare = runtime.block_on(client(None));
    let with_sentry = runtime.block_on(client(Some(
        TelemetryHook::builder().sink(SentrySink::new()).build(),
    )));
    let buffer_only = runtime.block_on(client(Some(
        TelemetryHook::builder()
            .sink(SentrySink::new().with_spans(false))
            .build(),
    )));
    let core_only = runtime.block_on(client(Some(
        TelemetryHook::builder()
            .sink(openfeature_hooks_core::NoopSink)
            .build(),
    )));

    let mut group = c.benchmark_group("sentry");
    let mut bench = |name: &str, client: &Client| {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                black_box(
                    client
                        .get_bool_value("new-checkout", Some(&context), None)
                        .await,
                )
            });
        });
    };
    let evaluate_once = |client: &Client| {
        runtime.block_on(async {
            let _ = client
                .get_bool_value("new-checkout", Some(&context), None)
                .await;
        });
    };
    Hub::run(hub_with_tracing, || {
        let (transaction, span) = request();
        // A full buffer, and the flag already recorded once (the steady state).
        fill_buffer();
        evaluate_once(&with_sentry);

        let cases = [
            ("bare", &bare),
            ("core_noop_sink", &core_only),
            ("sentry_sink_buffer_only", &buffer_only),
            ("sentry_sink_full_buffer_active_span", &with_sentry),
        ];
        for (name, client) in cases {
            bench(name, client);
        }
        span.finish();

        // The other steady state: the flag is one of the span's 10 flag attributes, so every
        // evaluation updates it (the span's lock and a search of its attributes).
        let span = handler_span(&transaction);
        evaluate_once(&with_sentry);
        fill_buffer();
        bench("sentry_sink_full_buffer_flag_on_span", &with_sentry);
        // A request without child spans (sentry-tower without `tracing` spans): the
        // transaction is the active span, and the flag one of its attributes.
        sentry::configure_scope(|scope| scope.set_span(Some(transaction.clone().into())));
        evaluate_once(&with_sentry);
        bench("sentry_sink_full_buffer_flag_on_transaction", &with_sentry);
        span.finish();
        transaction.finish();
    });
    // The same steady state in a trace that was not sampled (the span is found, then left
    // alone), and under a client whose tracing is disabled (the sink skips the span).
    for (hub, name) in [
        (hub_not_sampling, "sentry_sink_full_buffer_unsampled_span"),
        (
            hub_without_tracing,
            "sentry_sink_full_buffer_tracing_disabled",
        ),
    ] {
        Hub::run(hub, || {
            let (transaction, span) = request();
            fill_buffer();
            bench(name, &with_sentry);
            span.finish();
            transaction.finish();
        });
    }
    // A hub per request (sentry-tower's `NewSentryLayer`, `bind_hub`): each evaluation is the
    // first of its hub, which registers the hub's buffer and adds its event processor. The
    // bare case makes and drops the same hub.
    let parent = hub(ClientOptions::new().traces_sample_rate(1.0));
    Hub::run(parent.clone(), || {
        let (transaction, span) = request();
        let first_flag = |name: &str, client: &Client, group: &mut BenchmarkGroup<'_, WallTime>| {
            group.bench_function(name, |b| {
                b.iter(|| {
                    Hub::run(Arc::new(Hub::new_from_top(&parent)), || {
                        evaluate_once(client);
                    });
                });
            });
        };
        first_flag("bare_in_a_fresh_hub", &bare, &mut group);
        first_flag(
            "sentry_sink_first_flag_in_a_fresh_hub",
            &with_sentry,
            &mut group,
        );
        // The request's transaction already carries ten flag attributes (its own flags): the
        // hub's flags are kept for the trace when it is dropped, which reads the trace's id.
        for i in 0..10 {
            transaction.set_data(&format!("flag.evaluation.flag-{i}"), true.into());
        }
        first_flag(
            "sentry_sink_first_flag_in_a_fresh_hub_flagged_transaction",
            &with_sentry,
            &mut group,
        );
        span.finish();
        transaction.finish();
    });
    // The same with a trace per request: each hub starts a transaction of its own (left
    // unfinished, so nothing is sent), and the hub's flags are kept for a new trace when it is
    // dropped (see `trace_flags`).
    for (name, client) in [
        ("bare_in_a_fresh_hub_and_trace", &bare),
        (
            "sentry_sink_first_flag_in_a_fresh_hub_and_trace",
            &with_sentry,
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                Hub::run(Arc::new(Hub::new_from_top(&parent)), || {
                    let transaction = sentry::start_transaction(sentry::TransactionContext::new(
                        "GET /",
                        "http.server",
                    ));
                    sentry::configure_scope(|scope| {
                        scope.set_span(Some(transaction.clone().into()));
                    });
                    evaluate_once(client);
                });
            });
        });
    }
    // Requests interleaved on one thread, as an async runtime's worker runs them: each
    // evaluation is in another request's hub than the last one on this thread.
    let requests = [
        Arc::new(Hub::new_from_top(&parent)),
        Arc::new(Hub::new_from_top(&parent)),
    ];
    for request in &requests {
        Hub::run(request.clone(), || {
            fill_buffer();
            evaluate_once(&with_sentry);
        });
    }
    for (name, client) in [
        ("bare_requests_interleaved", &bare),
        ("sentry_sink_requests_interleaved", &with_sentry),
    ] {
        group.bench_function(name, |b| {
            let mut turn = 0;
            b.iter(|| {
                turn ^= 1;
                Hub::run(requests[turn].clone(), || evaluate_once(client));
            });
        });
    }
    group.finish();
}

/// A request's transaction, and a handler span under it made the current hub's active span.
fn request() -> (sentry::Transaction, sentry::Span) {
    let transaction =
        sentry::start_transaction(sentry::TransactionContext::new("GET /", "http.server"));
    let span = handler_span(&transaction);
    (transaction, span)
}

/// A new handler span under `transaction`, made the current hub's active span.
fn handler_span(transaction: &sentry::Transaction) -> sentry::Span {
    let span = transaction.start_child("handler", "function");
    sentry::configure_scope(|scope| scope.set_span(Some(span.clone().into())));
    span
}

/// Fills the current hub's buffer with 100 other flags: the steady state of a busy request.
fn fill_buffer() {
    for i in 0..100_u32 {
        add_feature_flag(&format!("flag-{i}"), i.is_multiple_of(2));
    }
}

/// A hub whose client is made from `options`, with a test transport.
fn hub(options: ClientOptions) -> Arc<Hub> {
    let mut options = options.dsn("https://public@sentry.invalid/1");
    options.transport = Some(Arc::new(TestTransport::new()));
    Arc::new(Hub::new(
        Some(Arc::new(sentry::Client::from(options))),
        Arc::new(Default::default()),
    ))
}

criterion_group!(benches, sink);
criterion_main!(benches);
