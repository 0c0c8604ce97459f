//! Exposure deduplication with a real `open-feature` client and the real JSON-lines sink: each
//! exposure recorded once per window, new variants, versions and contexts at once, windows
//! expired with an injected clock, exactly one record when many tasks race on a new key.

mod rollout;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use open_feature::{Client, EvaluationContext, OpenFeature};
use openfeature_hooks_core::{
    ContextIdKey, ContextIdPolicy, ExposureDedup, ExposureStats, JsonLinesSink, ManualClock,
    TelemetryHook,
};
use openfeature_hooks_testkit::SharedBuffer;
use rollout::RolloutProvider;
use serde_json::Value as Json;

const WINDOW: Duration = Duration::from_secs(600);

type Dedup = ExposureDedup<JsonLinesSink, ManualClock>;

struct Setup {
    client: Client,
    provider: RolloutProvider,
    clock: ManualClock,
    dedup: Arc<Dedup>,
    out: SharedBuffer,
}

async fn setup(policy: ContextIdPolicy, capacity: usize) -> Setup {
    let out = SharedBuffer::new();
    let clock = ManualClock::new();
    let dedup = Arc::new(
        ExposureDedup::builder()
            .window(WINDOW)
            .capacity(capacity)
            .clock(clock.clone())
            // Room for every line of the largest test: none may be dropped while the writer
            // thread catches up.
            .build(JsonLinesSink::new(out.clone()).with_queue_capacity(65_536)),
    );
    let hook = TelemetryHook::builder()
        .sink(dedup.clone())
        .context_id(policy)
        .build();
    let provider = RolloutProvider::new();
    let mut api = OpenFeature::default();
    api.set_provider(provider.clone()).await;
    Setup {
        client: api.create_client().with_hook(hook),
        provider,
        clock,
        dedup,
        out,
    }
}

/// The lines written so far: the sink writes on its own thread, so wait for it first.
fn lines(s: &Setup) -> Vec<Json> {
    assert!(
        s.dedup.inner().flush(Duration::from_secs(10)).is_complete(),
        "JSON lines not written in time"
    );
    assert_eq!(s.dedup.inner().stats().dropped, 0, "JSON lines dropped");
    s.out
        .text()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or(Json::Null))
        .collect()
}

fn user(id: &str) -> EvaluationContext {
    EvaluationContext::default().with_targeting_key(id)
}

impl Setup {
    async fn evaluate(&self, flag: &str, context: &EvaluationContext) {
        let _ = self
            .client
            .get_string_value(flag, Some(context), None)
            .await;
    }

    fn stats(&self) -> ExposureStats {
        self.dedup.stats()
    }
}

#[tokio::test]
async fn a_repeated_exposure_is_recorded_once_per_window() {
    let s = setup(ContextIdPolicy::Keep, 1024).await;
    let alice = user("alice");
    for _ in 0..100 {
        s.evaluate("checkout", &alice).await;
    }
    let first = lines(&s);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["flag_key"], "checkout");
    assert_eq!(first[0]["context_id"], "alice");
    assert_eq!(first[0]["version"], 1);
    assert_eq!(
        (s.stats().passed, s.stats().suppressed, s.stats().evicted),
        (1, 99, 0)
    );

    // Still inside the window: nothing more.
    s.clock.advance(WINDOW / 2);
    s.evaluate("checkout", &alice).await;
    assert_eq!(lines(&s).len(), 1);

    // The window since the recorded exposure has passed: recorded again, once.
    s.clock.advance(WINDOW / 2 + WINDOW / 32);
    for _ in 0..10 {
        s.evaluate("checkout", &alice).await;
    }
    assert_eq!(lines(&s).len(), 2);
    assert_eq!(s.stats().passed, 2);
    assert_eq!(s.stats().suppressed, 99 + 1 + 9);
}

#[tokio::test]
async fn a_new_variant_version_or_context_passes_at_once() {
    let s = setup(ContextIdPolicy::Keep, 1024).await;
    let alice = user("alice");
    s.evaluate("checkout", &alice).await;
    s.evaluate("checkout", &alice).await;
    assert_eq!(lines(&s).len(), 1);

    s.provider.force_variant("checkout", "brand-new");
    s.evaluate("checkout", &alice).await;
    s.evaluate("checkout", &alice).await;
    let after_variant = lines(&s);
    assert_eq!(after_variant.len(), 2);
    assert_eq!(after_variant[1]["variant"], "brand-new");

    s.provider.set_version("checkout", 2);
    s.evaluate("checkout", &alice).await;
    s.evaluate("checkout", &alice).await;
    let after_version = lines(&s);
    assert_eq!(after_version.len(), 3);
    assert_eq!(after_version[2]["version"], 2);

    s.evaluate("checkout", &user("bob")).await;
    s.evaluate("checkout", &user("bob")).await;
    let after_context = lines(&s);
    assert_eq!(after_context.len(), 4);
    assert_eq!(after_context[3]["context_id"], "bob");

    // Another flag for the same context is another exposure.
    s.evaluate("search", &alice).await;
    assert_eq!(lines(&s).len(), 5);
    assert_eq!(s.stats().passed, 5);
    assert_eq!(s.stats().suppressed, 4);
}

#[tokio::test]
async fn one_flag_and_context_remember_eight_outcomes_and_a_ninth_evicts_the_oldest() {
    // The outcomes of one flag for one context share a table bucket of eight entries (its
    // line is prefetched early): the ninth variant takes the first one's entry, counted as an
    // eviction, and the first variant passes again (an extra record, never a hidden one).
    let s = setup(ContextIdPolicy::Keep, 1024).await;
    let alice = user("alice");
    for round in 1..=9 {
        s.provider
            .force_variant("checkout", &format!("variant-{round}"));
        s.evaluate("checkout", &alice).await;
        s.clock.advance(Duration::from_secs(10));
    }
    assert_eq!((s.stats().passed, s.stats().evicted), (9, 1));
    for round in 3..=9 {
        s.provider
            .force_variant("checkout", &format!("variant-{round}"));
        s.evaluate("checkout", &alice).await;
    }
    assert_eq!(s.stats().passed, 9, "the newest eight are remembered");
    s.provider.force_variant("checkout", "variant-1");
    s.evaluate("checkout", &alice).await;
    let written = lines(&s);
    assert_eq!(written.len(), 10);
    assert_eq!(written[9]["variant"], "variant-1");
}

#[tokio::test]
async fn contexts_stay_apart_when_the_output_omits_or_hashes_the_id() {
    for policy in [
        ContextIdPolicy::Omit,
        ContextIdPolicy::hashed(ContextIdKey::from_bytes([3; 16])),
    ] {
        let s = setup(policy, 1024).await;
        for round in 0..3 {
            for id in 0..50 {
                s.evaluate("checkout", &user(&format!("user-{id}"))).await;
            }
            assert_eq!(lines(&s).len(), 50, "round {round}");
        }
        let ids: HashSet<String> = lines(&s)
            .iter()
            .map(|line| line["context_id"].to_string())
            .collect();
        // Omit: no id at all (one `null` entry); Hash: 50 distinct hashes, no raw id.
        assert!(ids.len() == 1 || ids.len() == 50, "{ids:?}");
        assert!(!s.out.text().contains("user-"));
    }
}

#[tokio::test]
async fn failures_pass_once_per_flag_error_type_and_context_per_window() {
    let s = setup(ContextIdPolicy::Keep, 1024).await;
    let alice = user("alice");
    for _ in 0..5 {
        s.evaluate("broken-rule", &alice).await;
        // A type mismatch on a working flag is another error type.
        let _ = s
            .client
            .get_bool_value("checkout", Some(&alice), None)
            .await;
        s.evaluate("broken-rule", &user("bob")).await;
    }
    let recorded = lines(&s);
    let errors: Vec<(String, String, String)> = recorded
        .iter()
        .map(|line| {
            (
                line["flag_key"].as_str().unwrap_or("").to_owned(),
                line["error_type"].as_str().unwrap_or("").to_owned(),
                line["context_id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            ("broken-rule".into(), "parse_error".into(), "alice".into()),
            ("checkout".into(), "type_mismatch".into(), "alice".into()),
            ("broken-rule".into(), "parse_error".into(), "bob".into()),
        ]
    );
    // A success of the same flag and context is not hidden by its failure.
    s.evaluate("checkout", &alice).await;
    assert_eq!(lines(&s).len(), 4);
    s.clock.advance(WINDOW * 2);
    s.evaluate("broken-rule", &alice).await;
    assert_eq!(lines(&s).len(), 5, "the failure passes again next window");
}

#[test]
fn racing_tasks_on_one_new_key_give_exactly_one_record() {
    race_on_new_keys(65_536);
}

#[test]
fn racing_tasks_on_a_full_table_give_exactly_one_record() {
    // Eight slots, filled after the first eight keys: every later key replaces the oldest
    // entry while 15 other tasks race it.
    race_on_new_keys(8);
}

/// 16 tasks on 8 worker threads evaluate each of 200 new keys at once, released together by a
/// barrier; each key must give exactly one line.
fn race_on_new_keys(capacity: usize) {
    const TASKS: usize = 16;
    const KEYS: usize = 200;
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(8)
        .build()
    else {
        panic!("no runtime");
    };
    runtime.block_on(async {
        let s = Arc::new(setup(ContextIdPolicy::Keep, capacity).await);
        for key in 0..KEYS {
            let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let s = Arc::clone(&s);
                    let barrier = Arc::clone(&barrier);
                    tokio::spawn(async move {
                        let context = user(&format!("racer-{key}"));
                        barrier.wait().await;
                        s.evaluate("checkout", &context).await;
                    })
                })
                .collect();
            for task in tasks {
                assert!(task.await.is_ok());
            }
        }
        let mut per_context: HashMap<String, usize> = HashMap::new();
        for line in lines(&s) {
            *per_context
                .entry(line["context_id"].as_str().unwrap_or("").to_owned())
                .or_default() += 1;
        }
        assert_eq!(per_context.len(), KEYS);
        assert!(per_context.values().all(|&n| n == 1), "{per_context:?}");
        let stats = s.stats();
        assert_eq!(stats.passed, KEYS as u64);
        assert_eq!(stats.suppressed, (KEYS * (TASKS - 1)) as u64);
    });
}

#[test]
fn which_contexts_got_which_variant_stays_whole() {
    // 10 flags x 1 000 contexts, each evaluated 5 times from 8 tasks on 4 threads, in different
    // orders: the deduplicated lines hold every (context, flag, variant) exactly once.
    const FLAGS: usize = 10;
    const CONTEXTS: usize = 1_000;
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
    else {
        panic!("no runtime");
    };
    runtime.block_on(async {
        let s = Arc::new(setup(ContextIdPolicy::Keep, 65_536).await);
        let tasks: Vec<_> = (0..8)
            .map(|task| {
                let s = Arc::clone(&s);
                tokio::spawn(async move {
                    let rounds = if task < 5 { 1 } else { 0 };
                    for _ in 0..rounds {
                        for i in 0..CONTEXTS * FLAGS {
                            // Each task walks the pairs from another starting point.
                            let pair = (i + task * 1_237) % (CONTEXTS * FLAGS);
                            let context = user(&format!("user-{}", pair / FLAGS));
                            s.evaluate(&format!("flag-{}", pair % FLAGS), &context)
                                .await;
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.is_ok());
        }
        let mut seen: HashMap<(String, String), String> = HashMap::new();
        for line in lines(&s) {
            let context = line["context_id"].as_str().unwrap_or("").to_owned();
            let flag = line["flag_key"].as_str().unwrap_or("").to_owned();
            let variant = line["variant"].as_str().unwrap_or("").to_owned();
            assert_eq!(variant, RolloutProvider::variant_of(&flag, &context));
            let previous = seen.insert((context.clone(), flag.clone()), variant);
            assert!(previous.is_none(), "({context}, {flag}) recorded twice");
        }
        assert_eq!(seen.len(), FLAGS * CONTEXTS);
        let stats = s.stats();
        assert_eq!(stats.passed, (FLAGS * CONTEXTS) as u64);
        assert_eq!(stats.suppressed, (4 * FLAGS * CONTEXTS) as u64);
        assert_eq!(stats.evicted, 0);
    });
}

#[tokio::test]
async fn a_full_table_stays_at_capacity_and_never_hides_a_new_key() {
    let s = setup(ContextIdPolicy::Keep, 64).await;
    assert_eq!(s.dedup.capacity(), 64);
    for id in 0..2_000 {
        s.evaluate("checkout", &user(&format!("user-{id}"))).await;
    }
    // Every new context passed although the table holds 64.
    assert_eq!(lines(&s).len(), 2_000);
    assert_eq!(s.dedup.occupied(), 64);
    let stats = s.stats();
    assert_eq!(stats.passed, 2_000);
    assert!(stats.evicted >= 2_000 - 64, "{stats:?}");
}

#[tokio::test]
async fn debug_says_the_configuration_and_the_stats() {
    let s = setup(ContextIdPolicy::Keep, 1000).await;
    s.evaluate("checkout", &user("alice")).await;
    s.evaluate("checkout", &user("alice")).await;
    let debug = format!("{:?}", s.dedup);
    for part in [
        "window: 600s",
        "capacity: 1024",
        "ManualClock",
        "JsonLinesSink",
        "passed: 1",
        "suppressed: 1",
        "evicted: 0",
    ] {
        assert!(debug.contains(part), "{part} missing from {debug}");
    }
}

#[test]
fn distinct_keys_are_never_suppressed_even_in_a_full_table() {
    // Every exposure key new: nothing may be held back, however full the table. (A weaker
    // hash once made 1 in 10 000 such keys collide with a live entry and vanish.)
    use openfeature_hooks_core::{EvaluationRecord, EvaluationSink, FlagType, NoopSink};
    let dedup = ExposureDedup::new(NoopSink);
    let flags: Vec<String> = (0..10).map(|i| format!("flag-{i}")).collect();
    for i in 0..300_000_usize {
        let context = user(&format!("user-{}-{}", i % 8, i / 8));
        let mut record = EvaluationRecord::new(&flags[i % 10], FlagType::Bool, &context);
        record.variant = Some("on");
        dedup.record(&record);
    }
    let stats = dedup.stats();
    assert_eq!((stats.passed, stats.suppressed), (300_000, 0), "{stats:?}");
    assert_eq!(dedup.occupied(), dedup.capacity());
}
