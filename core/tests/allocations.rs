//! The hook allocates nothing of its own per evaluation: with a counting global allocator, an
//! evaluation through `TelemetryHook` allocates no more than one through a hook that does
//! nothing (whose `async_trait` stages allocate a boxed future each). A record with a context
//! id and flag metadata is captured for a background sink without allocating either, once the
//! parts of an earlier record have been recycled.

mod support;

use std::time::Duration;

use open_feature::{Client, EvaluationContext, OpenFeature};
use openfeature_hooks_core::{
    ContextIdPolicy, EvaluationSink, JsonLinesSink, NoopSink, TelemetryHook,
};
use openfeature_hooks_testkit::{CountingAllocator, DoNothingHook, thread_allocations};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Allocations of 100 evaluations of `key`.
async fn allocations(client: &Client, key: &str) -> usize {
    let context = EvaluationContext::default().with_targeting_key("user-1");
    let _ = client.get_bool_value(key, Some(&context), None).await; // warm-up
    let before = thread_allocations();
    for _ in 0..100 {
        let _ = client.get_bool_value(key, Some(&context), None).await;
    }
    thread_allocations() - before
}

#[tokio::test(flavor = "current_thread")]
async fn telemetry_hook_allocates_less_than_a_do_nothing_hook() {
    let mut api = OpenFeature::default();
    api.set_provider(support::provider()).await;
    let bare = api.create_client();
    let do_nothing = api.create_client().with_hook(DoNothingHook);
    let telemetry = api
        .create_client()
        .with_hook(TelemetryHook::builder().sink(NoopSink).build());

    for key in ["bool-on", "ld-rule", "broken"] {
        let bare = allocations(&bare, key).await;
        let do_nothing = allocations(&do_nothing, key).await;
        let telemetry = allocations(&telemetry, key).await;
        // The SDK itself allocates per registered hook (it clones the hook context for
        // `before`); the do-nothing hook adds a boxed future per stage, ours adds nothing.
        assert!(
            telemetry < do_nothing,
            "{key}: bare {bare}, do-nothing {do_nothing}, telemetry {telemetry}"
        );
        assert!(
            do_nothing - telemetry >= 300,
            "{key}: at least three boxed futures saved per evaluation: {do_nothing} vs {telemetry}"
        );
    }
}

/// This thread's allocations during one evaluation of `key`, after `settle` ran (untimed).
async fn settled_allocations(client: &Client, key: &str, settle: impl Fn()) -> usize {
    let context = EvaluationContext::default().with_targeting_key("user-1");
    let mut total = 0;
    for _ in 0..100 {
        settle();
        let before = thread_allocations();
        let _ = client.get_bool_value(key, Some(&context), None).await;
        total += thread_allocations() - before;
    }
    total
}

#[tokio::test(flavor = "current_thread")]
async fn a_record_with_metadata_and_a_context_id_is_queued_without_allocating() {
    let mut api = OpenFeature::default();
    api.set_provider(support::provider()).await;
    let json = JsonLinesSink::new(std::io::sink());
    let hook = |sink: Box<dyn EvaluationSink>| {
        TelemetryHook::builder()
            .context_id(ContextIdPolicy::Keep)
            .sink(sink)
            .build()
    };
    let noop = api.create_client().with_hook(hook(Box::new(NoopSink)));
    let queued = api.create_client().with_hook(hook(Box::new(json.clone())));
    // The writer drops each record before the next evaluation, so its parts are back in the
    // pool: what a service whose writer keeps up sees.
    let written = || assert!(json.flush(Duration::from_secs(10)));
    // `bool-on` has a context id, a set id, a version and three metadata entries.
    let _ = settled_allocations(&queued, "bool-on", written).await; // warm-up: the first box
    let with_noop = settled_allocations(&noop, "bool-on", || {}).await;
    let with_json = settled_allocations(&queued, "bool-on", written).await;
    assert_eq!(
        with_json, with_noop,
        "capturing the record for the JSON-lines writer allocated on the evaluating thread"
    );
    assert_eq!(json.stats().dropped, 0);
}
