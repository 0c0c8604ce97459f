//! Sampling: whole contexts kept at the stated rate, the rate written on every kept record, a
//! random fraction of evaluations without context.

mod rollout;

use std::collections::HashMap;
use std::time::Duration;

use open_feature::{EvaluationContext, OpenFeature};
use openfeature_hooks_core::{
    ContextIdPolicy, EvaluationRecord, EvaluationSink, FlagType, JsonLinesSink, NoopSink,
    SampledSink, TelemetryHook,
};
use openfeature_hooks_testkit::SharedBuffer;
use rollout::RolloutProvider;
use serde_json::Value as Json;

#[tokio::test]
async fn a_context_is_always_in_or_always_out_and_lines_state_the_rate() {
    let out = SharedBuffer::new();
    // Room for every line, so none is dropped while the writer thread catches up.
    let json_lines = JsonLinesSink::new(out.clone()).with_queue_capacity(16_384);
    let hook = TelemetryHook::builder()
        .sink(SampledSink::new(0.25, json_lines.clone()))
        .context_id(ContextIdPolicy::Keep)
        .build();
    let mut api = OpenFeature::default();
    api.set_provider(RolloutProvider::new()).await;
    let client = api.create_client().with_hook(hook);
    const CONTEXTS: usize = 2_000;
    const FLAGS: usize = 3;
    const ROUNDS: usize = 2;
    for _ in 0..ROUNDS {
        for id in 0..CONTEXTS {
            let context = EvaluationContext::default().with_targeting_key(format!("user-{id}"));
            for flag in 0..FLAGS {
                let _ = client
                    .get_string_value(&format!("flag-{flag}"), Some(&context), None)
                    .await;
            }
        }
    }
    assert!(
        json_lines.flush(Duration::from_secs(10)).is_complete(),
        "lines not written"
    );
    assert_eq!(json_lines.stats().dropped, 0);
    let mut per_context: HashMap<String, usize> = HashMap::new();
    for line in out.text().lines() {
        let line: Json = serde_json::from_str(line).unwrap_or(Json::Null);
        assert_eq!(line["sample_rate"], 0.25, "{line}");
        *per_context
            .entry(line["context_id"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    // Every kept context has all its evaluations; the others have none.
    assert!(
        per_context.values().all(|&n| n == FLAGS * ROUNDS),
        "{per_context:?}"
    );
    let kept = per_context.len() as f64 / CONTEXTS as f64;
    // 2 000 contexts: a binomial standard deviation of about 1%; allow four.
    assert!((kept - 0.25).abs() < 0.04, "kept {kept}");
}

fn fraction_kept(sampler: &SampledSink<NoopSink>, contexts: usize, with_id: bool) -> f64 {
    let mut kept = 0_usize;
    let mut id = String::new();
    for i in 0..contexts {
        use std::fmt::Write;
        id.clear();
        let _ = write!(id, "user-{i}");
        let context = if with_id {
            EvaluationContext::default().with_targeting_key(id.as_str())
        } else {
            EvaluationContext::default()
        };
        let record = EvaluationRecord::new("checkout", FlagType::Bool, &context);
        kept += usize::from(sampler.keeps(&record));
    }
    kept as f64 / contexts as f64
}

#[test]
fn the_kept_fraction_of_a_million_contexts_is_within_one_percent_of_the_rate() {
    for rate in [0.5, 0.1, 0.01] {
        let sampler = SampledSink::new(rate, NoopSink);
        let kept = fraction_kept(&sampler, 1_000_000, true);
        assert!(
            (kept - rate).abs() <= rate * 0.01,
            "rate {rate}: kept {kept}"
        );
        // The same contexts again: the same decisions.
        assert_eq!(fraction_kept(&sampler, 1_000_000, true), kept);
    }
}

#[test]
fn without_a_context_each_evaluation_is_drawn_at_the_rate() {
    let sampler = SampledSink::new(0.1, NoopSink);
    let kept = fraction_kept(&sampler, 1_000_000, false);
    assert!((kept - 0.1).abs() <= 0.1 * 0.01, "kept {kept}");
}

#[test]
fn seeds_choose_other_contexts_and_rates_nest() {
    let context = |i: usize| EvaluationContext::default().with_targeting_key(format!("u{i}"));
    let a = SampledSink::new(0.5, NoopSink);
    let b = SampledSink::new(0.5, NoopSink).with_seed(7);
    let differ = (0..1000)
        .filter(|&i| {
            let ctx = context(i);
            let record = EvaluationRecord::new("f", FlagType::Bool, &ctx);
            a.keeps(&record) != b.keeps(&record)
        })
        .count();
    assert!((300..700).contains(&differ), "{differ}");

    // A sampler behind a sampler: the record states the product of the rates.
    let out = SharedBuffer::new();
    let json_lines = JsonLinesSink::new(out.clone());
    let nested = SampledSink::new(0.5, SampledSink::new(0.5, json_lines.clone()));
    for i in 0..200 {
        let ctx = context(i);
        nested.record(&EvaluationRecord::new("f", FlagType::Bool, &ctx));
    }
    assert!(
        json_lines.flush(Duration::from_secs(10)).is_complete(),
        "lines not written"
    );
    let lines: Vec<Json> = out
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or(Json::Null))
        .collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l["sample_rate"] == 0.25));
    assert_eq!(nested.stats().kept + nested.stats().dropped, 200);
    assert!(format!("{nested:?}").contains("rate: 0.5"));
}
