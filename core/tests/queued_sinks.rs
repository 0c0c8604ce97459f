//! A sink of its own that works in the background, through the public API: built into a hook,
//! it is told of starts on the evaluation path, accepts on the evaluation path, and handles on
//! the hook's queue, with the evaluation's start and duration-bearing times; `record` is never
//! called on it. Used on its own, the same sink gets a queue of its own.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use open_feature::OpenFeature;
use openfeature_hooks_core::{
    EvaluationRecord, EvaluationSink, EvaluationStarted, PendingEvaluation, QueueMembership,
    QueuedEvaluation, QueuedNeeds, QueuedPart, QueuedSink, TelemetryHook,
};

const WAIT: Duration = Duration::from_secs(10);

/// What the sink saw on each side.
#[derive(Default)]
struct Seen {
    started: AtomicUsize,
    recorded: AtomicUsize,
    /// (flag key, start, end) of every evaluation handled on the queue's thread.
    handled: Mutex<Vec<(String, Option<SystemTime>, SystemTime)>>,
}

/// Accepts every flag but `plain`.
struct BackgroundHalf(Arc<Seen>);

impl QueuedSink for BackgroundHalf {
    fn accepts(&self, record: &EvaluationRecord<'_>, _pending: &PendingEvaluation) -> bool {
        record.flag_key != "plain"
    }

    fn handle(&self, record: &EvaluationRecord<'_>, evaluation: &QueuedEvaluation) {
        self.0
            .handled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((
                record.flag_key.to_owned(),
                evaluation.start_time(),
                evaluation.time(),
            ));
    }

    fn needs(&self) -> QueuedNeeds {
        QueuedNeeds::default().start()
    }
}

#[derive(Clone)]
struct CountingSink {
    seen: Arc<Seen>,
    half: Arc<BackgroundHalf>,
    membership: QueueMembership,
}

impl CountingSink {
    fn new() -> Self {
        let seen = Arc::new(Seen::default());
        Self {
            half: Arc::new(BackgroundHalf(seen.clone())),
            seen,
            membership: QueueMembership::new(),
        }
    }
}

impl EvaluationSink for CountingSink {
    fn record(&self, record: &EvaluationRecord<'_>) {
        self.seen.recorded.fetch_add(1, Ordering::Relaxed);
        self.membership.offer(|| self.half.clone(), record);
    }

    fn needs_start(&self) -> bool {
        true
    }

    fn started(&self, _evaluation: &EvaluationStarted<'_>) {
        self.seen.started.fetch_add(1, Ordering::Relaxed);
    }

    fn queued(&self) -> Option<QueuedPart> {
        Some(QueuedPart {
            sink: self.half.clone(),
            membership: self.membership.clone(),
        })
    }
}

async fn evaluate(hook: TelemetryHook, keys: &[&str]) {
    let mut api = OpenFeature::default();
    api.set_provider(support::provider()).await;
    let client = api.create_client().with_hook(hook);
    for key in keys {
        let _ = client.get_bool_value(key, None, None).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_queued_sink_in_a_hook_is_told_of_starts_and_handled_on_the_hooks_queue() {
    let sink = CountingSink::new();
    let hook = TelemetryHook::builder().sink(sink.clone()).build();
    evaluate(hook.clone(), &["bool-on", "plain", "bool-on"]).await;
    assert!(hook.flush(WAIT).is_complete());

    let seen = &sink.seen;
    assert_eq!(seen.started.load(Ordering::Relaxed), 3);
    assert_eq!(
        seen.recorded.load(Ordering::Relaxed),
        0,
        "the hook calls `accepts`"
    );
    let handled = seen.handled.lock().map(|h| h.clone()).unwrap_or_default();
    let keys: Vec<&str> = handled.iter().map(|(key, _, _)| key.as_str()).collect();
    assert_eq!(keys, ["bool-on", "bool-on"], "`plain` was declined");
    for (key, start, end) in &handled {
        let start = start.unwrap_or_else(|| panic!("{key}: no start"));
        assert!(start <= *end, "{key}: started after it ended");
    }
    assert_eq!(hook.stats().queue.queued, 2);
    assert_eq!(sink.membership.stats(0), hook.stats().queue);
}

#[tokio::test(flavor = "current_thread")]
async fn outside_a_hooks_queue_the_same_sink_uses_a_queue_of_its_own() {
    let sink = CountingSink::new();
    // Behind a closure sink, the hook sees an ordinary sink and calls `record`.
    let inner = sink.clone();
    let hook = TelemetryHook::builder()
        .sink(openfeature_hooks_core::FnSink(
            move |record: &EvaluationRecord<'_>| {
                inner.record(record);
            },
        ))
        .build();
    evaluate(hook.clone(), &["bool-on", "plain", "color"]).await;
    assert!(sink.membership.flush(WAIT).is_complete());

    assert_eq!(sink.seen.recorded.load(Ordering::Relaxed), 3);
    assert_eq!(sink.membership.stats(0).handled, 2);
    assert_eq!(hook.stats().queue.queued, 0, "the hook has no queue");
}
