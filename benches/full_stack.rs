//! Every backend at once, inside a request span, beside the bare evaluation in the same span and
//! the same run: the figure issues 13 and 15 ask for.
//!
//! The stack: OpenTelemetry log events through a batch processor, metrics, span events; Sentry
//! with a transaction and a child span active; Datadog span tags and an experiment span per
//! evaluation. Each iteration opens a request span (simple processor, spans dropped), evaluates
//! once inside it, and ends it; the Sentry hub and its span stay active for the whole run.
//! `production_setup_in_span` is the same stack with log events behind `ExposureDedup`, as the
//! README's production setup has them; `every_backend_sentry_spans_off_in_span` leaves Sentry's
//! spans alone (`SentrySink::with_spans(false)`), whose active span costs a scope copy to read.
//! The `_flag_with_metadata` pair evaluates a flag whose
//! provider sends a set id, a version and a scope, as flagd does; the `_string_flag` pair, a
//! string flag.
//!
//! Run (quietly, A/B on two commits back to back):
//! `cargo bench --features full --bench full_stack -- --warm-up-time 2 --measurement-time 8`
//!
//! Results: BENCHMARKS.md, "Every backend at once".

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use open_feature::{Client, EvaluationContext, EvaluationReason, OpenFeature, StructValue, Value};
use openfeature_hooks::datadog::{ExperimentSpanSink, ExperimentSpanVolume, SpanTagsSink};
use openfeature_hooks::otel::{LogEventSink, MetricsSink, SpanEventSink};
use openfeature_hooks::sentry::SentrySink;
use openfeature_hooks::{
    EvaluationSink, ExposureDedup, JsonLinesSink, TelemetryHook, TelemetryHookBuilder,
};
use openfeature_hooks_testkit::{DropLogs, DropSpans, FixtureFlag, FixtureProvider};
use opentelemetry::trace::{Tracer, TracerProvider};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use sentry::test::TestTransport;
use sentry::{ClientOptions, Hub};

/// The providers every backend reports into.
struct Backends {
    logs: SdkLoggerProvider,
    meters: SdkMeterProvider,
    traces: SdkTracerProvider,
}

impl Backends {
    fn new() -> Self {
        Self {
            logs: SdkLoggerProvider::builder()
                .with_batch_exporter(DropLogs)
                .build(),
            meters: SdkMeterProvider::builder()
                .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
                .build(),
            traces: SdkTracerProvider::builder()
                .with_simple_exporter(DropSpans)
                .build(),
        }
    }

    /// The hook with every backend on.
    fn every_backend(&self) -> TelemetryHookBuilder {
        self.stack(LogEventSink::from_provider(&self.logs))
    }

    /// The same backends as the README's production setup has them: log events only for new
    /// exposures (the bench evaluates the same flag for the same user, so after the first
    /// evaluation every log event is suppressed), everything else on every evaluation.
    fn production_setup(&self) -> TelemetryHookBuilder {
        self.stack(ExposureDedup::new(LogEventSink::from_provider(&self.logs)))
    }

    /// Every backend, but Sentry's flags stay off its spans (`SentrySink::with_spans(false)`):
    /// reading Sentry's active span is the costliest step of the stack (BENCHMARKS.md).
    fn every_backend_sentry_spans_off(&self) -> TelemetryHookBuilder {
        self.stack_with(
            LogEventSink::from_provider(&self.logs),
            SentrySink::new().with_spans(false),
        )
    }

    /// Every backend, with `log_events` as the log-event sink.
    fn stack(&self, log_events: impl EvaluationSink) -> TelemetryHookBuilder {
        self.stack_with(log_events, SentrySink::new())
    }

    /// Every backend, with `log_events` and `sentry` as those backends' sinks.
    fn stack_with(
        &self,
        log_events: impl EvaluationSink,
        sentry: SentrySink,
    ) -> TelemetryHookBuilder {
        TelemetryHook::builder()
            .sink(log_events)
            .sink(MetricsSink::from_provider(&self.meters))
            .sink(SpanEventSink::new())
            .sink(sentry)
            .sink(SpanTagsSink::new())
            .sink(
                ExperimentSpanSink::new(self.traces.tracer("openfeature-hooks"))
                    .with_volume(ExperimentSpanVolume::Every),
            )
    }
}

/// The flag of every case but the `_flag_with_metadata` ones.
const PLAIN_FLAG: &str = "new-checkout";
/// A flag whose provider sends metadata with every evaluation, as flagd does (its set id and
/// version, and a scope): records with rare parts, which sinks that queue records copy.
const FLAG_WITH_METADATA: &str = "new-checkout-flagd";
/// A string flag (a multivariate experiment): its value is a text, which sinks that queue
/// records copy.
const STRING_FLAG: &str = "checkout-layout";
/// An object flag (a configuration): its value is a structure of texts and numbers, which sinks
/// that queue records copy.
const STRUCT_FLAG: &str = "checkout-config";

/// Which flag a case evaluates, and how.
#[derive(Clone, Copy)]
enum Flag {
    Bool(&'static str),
    String(&'static str),
    Struct(&'static str),
}

impl Flag {
    /// One evaluation of the flag.
    async fn evaluate(self, client: &Client, context: &EvaluationContext) {
        match self {
            Flag::Bool(key) => {
                let _ = black_box(client.get_bool_value(key, Some(context), None).await);
            }
            Flag::String(key) => {
                let _ = black_box(client.get_string_value(key, Some(context), None).await);
            }
            Flag::Struct(key) => {
                let _ = black_box(
                    client
                        .get_struct_value::<StructValue>(key, Some(context), None)
                        .await,
                );
            }
        }
    }
}

async fn client(hook: Option<TelemetryHook>) -> Client {
    let mut api = OpenFeature::default();
    api.set_provider(
        FixtureProvider::new("bench")
            .with_flag(
                PLAIN_FLAG,
                FixtureFlag::new(true)
                    .variant("on")
                    .reason(Some(EvaluationReason::TargetingMatch)),
            )
            .with_flag(
                FLAG_WITH_METADATA,
                FixtureFlag::new(true)
                    .variant("on")
                    .reason(Some(EvaluationReason::TargetingMatch))
                    .metadata("flagSetId", "checkout")
                    .metadata("version", "v7")
                    .metadata("scope", "web-storefront"),
            )
            .with_flag(
                STRING_FLAG,
                FixtureFlag::new("two-column-treatment")
                    .variant("two-column-treatment")
                    .reason(Some(EvaluationReason::Split)),
            )
            .with_flag(
                STRUCT_FLAG,
                FixtureFlag::new(Value::Struct(
                    StructValue::default()
                        .with_field("layout", "two-column")
                        .with_field("columns", 2_i64)
                        .with_field("banner", "holiday-sale"),
                ))
                .variant("holiday")
                .reason(Some(EvaluationReason::TargetingMatch)),
            ),
    )
    .await;
    let client = api.create_client();
    match hook {
        Some(hook) => client.with_hook(hook),
        None => client,
    }
}

fn full_stack(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let backends = Backends::new();
    let app = backends.traces.tracer("app");
    let context = EvaluationContext::default().with_targeting_key("user-42");
    let mut options = ClientOptions::new()
        .dsn("https://public@sentry.invalid/1")
        .traces_sample_rate(1.0);
    options.transport = Some(Arc::new(TestTransport::new()));
    let hub = Arc::new(Hub::new(
        Some(Arc::new(sentry::Client::from(options))),
        Arc::new(Default::default()),
    ));

    let cases: Vec<(&str, Flag, Option<TelemetryHook>)> = vec![
        ("bare_in_span", Flag::Bool(PLAIN_FLAG), None),
        (
            "every_backend_in_span",
            Flag::Bool(PLAIN_FLAG),
            Some(backends.every_backend().build()),
        ),
        (
            "production_setup_in_span",
            Flag::Bool(PLAIN_FLAG),
            Some(backends.production_setup().build()),
        ),
        (
            "every_backend_sentry_spans_off_in_span",
            Flag::Bool(PLAIN_FLAG),
            Some(backends.every_backend_sentry_spans_off().build()),
        ),
        (
            "every_backend_and_json_lines_in_span",
            Flag::Bool(PLAIN_FLAG),
            Some(
                backends
                    .every_backend()
                    .sink(JsonLinesSink::new(std::io::sink()))
                    .build(),
            ),
        ),
        (
            "bare_in_span_flag_with_metadata",
            Flag::Bool(FLAG_WITH_METADATA),
            None,
        ),
        (
            "every_backend_in_span_flag_with_metadata",
            Flag::Bool(FLAG_WITH_METADATA),
            Some(backends.every_backend().build()),
        ),
        ("bare_in_span_struct_flag", Flag::Struct(STRUCT_FLAG), None),
        (
            "every_backend_in_span_struct_flag",
            Flag::Struct(STRUCT_FLAG),
            Some(backends.every_backend().build()),
        ),
        ("bare_in_span_string_flag", Flag::String(STRING_FLAG), None),
        (
            "every_backend_in_span_string_flag",
            Flag::String(STRING_FLAG),
            Some(backends.every_backend().build()),
        ),
    ];
    Hub::run(hub, || {
        let transaction =
            sentry::start_transaction(sentry::TransactionContext::new("GET /", "http.server"));
        let span = transaction.start_child("handler", "function");
        sentry::configure_scope(|scope| scope.set_span(Some(span.clone().into())));
        let mut group = c.benchmark_group("full_stack");
        for (name, flag, hook) in cases {
            let client = runtime.block_on(client(hook));
            group.bench_function(name, |b| {
                b.iter(|| {
                    app.in_span("request", |_| {
                        runtime.block_on(flag.evaluate(&client, &context));
                    })
                });
            });
        }
        group.finish();
        span.finish();
        transaction.finish();
    });
    let _ = backends.logs.shutdown();
    let _ = backends.meters.shutdown();
    let _ = backends.traces.shutdown();
}

criterion_group!(benches, full_stack);
criterion_main!(benches);
