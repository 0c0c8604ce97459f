//! A hook's queue lives as long as the hook: a sink built into hook after hook (one per client,
//! say) does not keep the dropped hooks' queues and threads alive. Counted with the threads the
//! process has, in a test binary of its own so that no other test's hook runs beside it.

#![cfg(target_os = "linux")]

mod support;

use std::time::{Duration, Instant};

use open_feature::OpenFeature;
use openfeature_hooks_core::{EvaluationSink, TelemetryHook};

/// Threads of this process whose name starts with `prefix` (Linux names are cut to 15 bytes).
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
                .filter(|name| name.trim_end().starts_with(prefix))
                .count()
        })
        .unwrap_or_else(|e| panic!("/proc/self/task: {e}"))
}

/// Whether the threads named with `prefix` are all gone within `limit`.
fn exits(prefix: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while threads_named(prefix) > 0 {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

#[tokio::test(flavor = "current_thread")]
async fn dropped_hooks_leave_no_queue_and_no_thread_behind() {
    let mut api = OpenFeature::default();
    api.set_provider(support::provider()).await;
    let sink = support::QueuedNoop::default();
    for round in 0..20 {
        let hook = TelemetryHook::builder().sink(sink.clone()).build();
        let client = api.create_client().with_hook(hook.clone());
        let _ = client.get_bool_value("bool-on", None, None).await;
        assert!(hook.flush(Duration::from_secs(10)).is_complete());
        assert_eq!(
            threads_named("openfeature-hoo"),
            1,
            "round {round}: one hook, one thread"
        );
        drop(client);
        drop(hook);
        // Dropping the hook waited for its worker to finish; the thread itself leaves the
        // process a moment later, so its exit is awaited (a condition, not a delay).
        assert!(
            sink.queued()
                .is_some_and(|part| format!("{:?}", part.membership).contains("queues: 0")),
            "round {round}: the sink let go of the dropped hook's queue"
        );
        assert!(
            exits("openfeature-hoo", Duration::from_secs(10)),
            "round {round}: the hook's thread stopped"
        );
    }
    assert_eq!(sink.handled(), 20);
    assert!(format!("{:?}", sink.queued().map(|part| part.membership)).contains("queues: 0"));
}
