//! The hook allocates nothing of its own per evaluation: with a counting global allocator, an
//! evaluation through `TelemetryHook` allocates no more than one through a hook that does
//! nothing (whose `async_trait` stages allocate a boxed future each). A record with a context
//! id and flag metadata is captured for a background sink without allocating either, once the
//! parts of an earlier record have been recycled; so is a string flag's value.

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

/// This thread's allocations during 100 evaluations of `key`, each after `settle` ran
/// (uncounted). `key` is a boolean flag, or a string flag when `string` is set.
async fn settled_allocations(client: &Client, key: &str, string: bool, settle: impl Fn()) -> usize {
    let context = EvaluationContext::default().with_targeting_key("user-1");
    let mut total = 0;
    for _ in 0..100 {
        settle();
        let before = thread_allocations();
        if string {
            let _ = client.get_string_value(key, Some(&context), None).await;
        } else {
            let _ = client.get_bool_value(key, Some(&context), None).await;
        }
        total += thread_allocations() - before;
    }
    total
}

/// Records whose parts live in the recycled boxes: one test, because the pool is the
/// process's and the tests of this file run side by side.
#[tokio::test(flavor = "current_thread")]
async fn records_with_rare_parts_are_queued_without_allocating() {
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
    let written = || assert!(json.flush(Duration::from_secs(10)).is_complete());
    // `bool-on` has a context id, a set id, a version and three metadata entries; `color`
    // answers "blue", a `String` the SDK hands the hook.
    for (key, string) in [("bool-on", false), ("color", true)] {
        let _ = settled_allocations(&queued, key, string, written).await; // warm-up: a box
        let with_noop = settled_allocations(&noop, key, string, || {}).await;
        let with_json = settled_allocations(&queued, key, string, written).await;
        assert_eq!(
            with_json, with_noop,
            "{key}: capturing the record for the JSON-lines writer allocated on the evaluating \
             thread"
        );
    }
    assert_eq!(json.stats().dropped, 0);
}
