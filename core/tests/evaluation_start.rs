//! Start times reach the record of the same evaluation, through a real client, with many
//! concurrent evaluations of the same literal key whose providers take different times.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use open_feature::provider::{FeatureProvider, ProviderMetadata, ResolutionDetails};
use open_feature::{EvaluationContext, EvaluationResult, OpenFeature, StructValue};
use openfeature_hooks_core::{EvaluationRecord, EvaluationSink, EvaluationStarted, TelemetryHook};

/// Answers `true` after sleeping the number of milliseconds in the targeting key.
struct SleepingProvider(ProviderMetadata);

#[async_trait]
impl FeatureProvider for SleepingProvider {
    fn metadata(&self) -> &ProviderMetadata {
        &self.0
    }
    async fn resolve_bool_value(
        &self,
        _: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        let millis: u64 = context
            .targeting_key
            .as_deref()
            .and_then(|k| k.parse().ok())
            .unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(millis)).await;
        Ok(ResolutionDetails::new(true))
    }
    async fn resolve_int_value(
        &self,
        _: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        Ok(ResolutionDetails::new(0))
    }
    async fn resolve_float_value(
        &self,
        _: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        Ok(ResolutionDetails::new(0.0))
    }
    async fn resolve_string_value(
        &self,
        _: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        Ok(ResolutionDetails::new(String::new()))
    }
    async fn resolve_struct_value(
        &self,
        _: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        Ok(ResolutionDetails::new(StructValue::default()))
    }
}

/// Keeps (targeting key, measured duration) and counts `started` calls.
#[derive(Default)]
struct DurationSink {
    durations: Mutex<Vec<(String, Option<Duration>)>>,
    started: AtomicUsize,
}

impl EvaluationSink for DurationSink {
    fn record(&self, record: &EvaluationRecord<'_>) {
        let key = record
            .evaluation_context
            .targeting_key
            .clone()
            .unwrap_or_default();
        let duration = record.duration();
        self.durations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((key, duration));
    }
    fn needs_start(&self) -> bool {
        true
    }
    fn started(&self, _: &EvaluationStarted<'_>) {
        self.started.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_record_gets_its_own_evaluations_start() {
    let sink = Arc::new(DurationSink::default());
    let hook = TelemetryHook::builder().sink(sink.clone()).build();
    let stats = hook.clone();
    let mut api = OpenFeature::default();
    api.set_provider(SleepingProvider(ProviderMetadata::new("sleepy")))
        .await;
    api.add_hook(hook).await;
    let client = Arc::new(api.create_client());

    // N evaluations of one literal key, each starting one step after the previous and each
    // taking four steps, so about four are in flight at once and they end in the order they
    // started. A start handed to the wrong evaluation would be off by at least one step.
    const N: u64 = 20;
    const STEP: Duration = Duration::from_millis(20);
    let sleep_ms = (STEP * 4).as_millis().to_string();
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let client = client.clone();
            let context = EvaluationContext::default().with_targeting_key(sleep_ms.clone());
            tokio::spawn(async move {
                tokio::time::sleep(STEP * i as u32).await;
                client
                    .get_bool_value("same-literal", Some(&context), None)
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert!(matches!(task.await, Ok(Ok(true))));
    }

    let durations = sink
        .durations
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert_eq!(durations.len(), N as usize);
    assert_eq!(sink.started.load(Ordering::Relaxed), N as usize);
    for (key, duration) in durations {
        let slept = Duration::from_millis(key.parse().unwrap_or(0));
        let measured = duration.unwrap_or_default();
        assert!(
            measured >= slept,
            "{key}: measured {measured:?} < slept {slept:?}"
        );
        assert!(
            measured < slept + STEP * 3 / 4,
            "{key}: measured {measured:?}, a neighbour's start?"
        );
    }
    assert_eq!(stats.stats().untracked_starts, 0);
}

#[tokio::test]
async fn no_start_when_an_earlier_before_hook_failed() {
    let sink = Arc::new(DurationSink::default());
    let mut api = OpenFeature::default();
    api.set_provider(support::provider()).await;
    let client = api
        .create_client()
        .with_hook(support::FailingHook::before())
        .with_hook(TelemetryHook::builder().sink(sink.clone()).build());
    assert!(client.get_bool_value("bool-on", None, None).await.is_err());
    let durations = sink
        .durations
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert_eq!(durations, vec![(String::new(), None)]);
    assert_eq!(sink.started.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn hooks_without_start_sinks_track_nothing() {
    let records = openfeature_hooks_testkit::RecordingSink::new();
    let mut api = OpenFeature::default();
    api.set_provider(support::provider()).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen_in_sink = seen.clone();
    let client = api.create_client().with_hook(
        TelemetryHook::builder()
            .sink(records)
            .sink(openfeature_hooks_core::FnSink(
                move |r: &EvaluationRecord<'_>| {
                    seen_in_sink
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(r.started.is_some());
                },
            ))
            .build(),
    );
    let _ = client.get_bool_value("bool-on", None, None).await;
    assert_eq!(
        *seen.lock().unwrap_or_else(PoisonError::into_inner),
        vec![false]
    );
}
