//! The hook allocates nothing of its own per evaluation: with a counting global allocator, an
//! evaluation through `TelemetryHook` allocates no more than one through a hook that does
//! nothing (whose `async_trait` stages allocate a boxed future each).

// A counting `GlobalAlloc` cannot be written without `unsafe`; it only delegates to `System`.
#![allow(unsafe_code)]

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use open_feature::{Client, EvaluationContext, OpenFeature};
use openfeature_hooks_core::{NoopSink, TelemetryHook};
use openfeature_hooks_testkit::DoNothingHook;

struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Allocations of 100 evaluations of `key`.
async fn allocations(client: &Client, key: &str) -> usize {
    let context = EvaluationContext::default().with_targeting_key("user-1");
    let _ = client.get_bool_value(key, Some(&context), None).await; // warm-up
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..100 {
        let _ = client.get_bool_value(key, Some(&context), None).await;
    }
    ALLOCATIONS.load(Ordering::Relaxed) - before
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
