//! A burst of 100 000 evaluations on four tasks, log events through the SDK's batch processor:
//! with the SDK's queue sized together with the hook's (the hook's capacity times the
//! evaluating threads), every event the hook does not count as dropped arrives; at the SDK's
//! default queue (2 048) the SDK drops events the hook handed it, which no stat of ours can see
//! (the test prints how many, for the README's production section).

mod support;

use std::sync::Arc;
use std::time::Duration;

use openfeature_hooks_core::{DEFAULT_QUEUE_CAPACITY, TelemetryHook};
use openfeature_hooks_otel::LogEventSink;
use openfeature_hooks_testkit::CountingLogs;
use opentelemetry_sdk::logs::{BatchConfigBuilder, BatchLogProcessor, SdkLoggerProvider};

const TASKS: usize = 4;
const PER_TASK: usize = 25_000;
const EVALUATIONS: u64 = (TASKS * PER_TASK) as u64;

/// Runs the burst with the SDK's queue at `sdk_queue` (`None`: its default) and returns (events
/// exported, evaluations the hook counted as dropped or lost).
async fn burst(sdk_queue: Option<usize>) -> (u64, u64) {
    let exported = CountingLogs::default();
    let mut batch = BatchConfigBuilder::default();
    if let Some(size) = sdk_queue {
        batch = batch.with_max_queue_size(size);
    }
    let logger_provider = SdkLoggerProvider::builder()
        .with_log_processor(
            BatchLogProcessor::builder(exported.clone())
                .with_batch_config(batch.build())
                .build(),
        )
        .build();
    let hook = TelemetryHook::builder()
        .sink(LogEventSink::from_provider(&logger_provider))
        .build();
    let mut api = support::checkout_api().await;
    api.add_hook(hook.clone()).await;
    let api = Arc::new(api);
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let api = api.clone();
            tokio::spawn(async move {
                let client = api.create_client();
                for _ in 0..PER_TASK {
                    assert_eq!(
                        client.get_bool_value("checkout", None, None).await,
                        Ok(true)
                    );
                }
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.is_ok());
    }
    assert!(hook.shutdown(Duration::from_secs(30)).is_complete());
    assert!(logger_provider.shutdown().is_ok());
    let stats = hook.stats();
    (exported.exported(), stats.queue.dropped + stats.lost)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[allow(clippy::print_stderr)] // the figure for the README
async fn sized_together_the_queues_lose_nothing_the_hook_does_not_count() {
    let (exported, counted) = burst(Some(DEFAULT_QUEUE_CAPACITY * TASKS)).await;
    assert_eq!(
        exported + counted,
        EVALUATIONS,
        "every event arrives or is counted by the hook"
    );

    let (exported, counted) = burst(None).await;
    assert!(exported + counted <= EVALUATIONS);
    let silent = EVALUATIONS - exported - counted;
    eprintln!(
        "at the SDK's default queue: {silent} of {EVALUATIONS} events ({:.1}%) dropped by the SDK \
         without a count of ours; {counted} counted by the hook",
        silent as f64 * 100.0 / EVALUATIONS as f64
    );
}
