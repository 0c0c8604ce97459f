//! Many tasks on a multi-threaded runtime: exactly one record per evaluation, none duplicated,
//! including evaluations where another hook's `after` fails after ours.

mod support;

use std::collections::HashSet;
use std::sync::Arc;

use open_feature::{EvaluationContext, OpenFeature};
use openfeature_hooks_core::{ContextIdPolicy, TelemetryHook};
use openfeature_hooks_testkit::RecordingSink;

const TASKS: usize = 16;
const PER_TASK: usize = 2_500;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_evaluation_is_recorded_exactly_once() {
    let sink = RecordingSink::new();
    let hook = TelemetryHook::builder()
        .sink(sink.clone())
        .context_id(ContextIdPolicy::Keep)
        .build();
    let stats = hook.clone();
    let mut api = OpenFeature::default();
    api.set_provider(support::provider()).await;
    // Half the tasks use a client whose other hook fails in `after` (after yielding), so marks
    // are set, moved across threads and taken under load.
    let plain = Arc::new(api.create_client().with_hook(hook.clone()));
    let with_failing_after = Arc::new(
        api.create_client()
            .with_hook(support::FailingHook::after())
            .with_hook(hook),
    );

    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let client = if task % 2 == 0 {
                plain.clone()
            } else {
                with_failing_after.clone()
            };
            tokio::spawn(async move {
                for i in 0..PER_TASK {
                    let context =
                        EvaluationContext::default().with_targeting_key(format!("{task}/{i}"));
                    // Flags without a metadata `contextId`: the unique targeting key is the id.
                    let key = ["plain", "broken", "ld-rule"][i % 3];
                    let result = client.get_bool_value(key, Some(&context), None).await;
                    assert_eq!(result.is_ok(), key != "broken", "{key}");
                }
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.is_ok());
    }

    let records = sink.records();
    assert_eq!(records.len(), TASKS * PER_TASK);
    let ids: HashSet<_> = records
        .iter()
        .filter_map(|r| r.context_id.clone())
        .collect();
    assert_eq!(ids.len(), TASKS * PER_TASK, "no evaluation recorded twice");
    // Every record says what its caller got: only `broken` is a failure.
    for record in &records {
        assert_eq!(
            record.error_type.is_some(),
            record.flag_key == "broken",
            "{record:?}"
        );
    }
    assert_eq!(stats.stats().unmarked_evaluations, 0);
}
