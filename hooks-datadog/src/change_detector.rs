//! Detects flag changes from what evaluations reveal, with bounded state.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use openfeature_hooks_core::__private::{FastBuildHasher, metadata_text};
use openfeature_hooks_core::EvaluationRecord;
use serde_json::{Map, Value, json};

use crate::FlagChange;

/// Flags whose last state a [`ChangeTrackingSink`](crate::ChangeTrackingSink) remembers at
/// most; past it the state is forgotten and rebuilt (a change during that window is missed,
/// never invented).
pub const MAX_TRACKED_FLAGS: usize = 10_000;
/// Variants a [`ChangeTrackingSink`](crate::ChangeTrackingSink) remembers per flag at most;
/// past it a newly served variant is not reported.
pub const MAX_TRACKED_VARIANTS: usize = 32;

#[derive(Debug, Default)]
struct FlagState {
    version: Option<String>,
    variants: Vec<String>,
}

/// Watches evaluations for two signs that a flag changed:
///
/// - its `version` metadata differs from the last one seen (`prev_value`/`new_value`:
///   `{"version": …}`);
/// - a variant it never served before is served, after the flag was first seen
///   (`{"variants": [known…]}` → `{"variants": [known…, new]}`): a rollout or a new rule.
///
/// The first sighting of a flag is not a change. State is bounded by [`MAX_TRACKED_FLAGS`] and
/// [`MAX_TRACKED_VARIANTS`].
#[derive(Debug, Default)]
pub struct ChangeDetector {
    flags: Mutex<HashMap<String, FlagState, FastBuildHasher>>,
}

impl ChangeDetector {
    /// A detector that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The change this evaluation reveals, if any.
    pub fn observe(&self, record: &EvaluationRecord<'_>) -> Option<FlagChange> {
        if record.is_failure() {
            return None;
        }
        let version = record.version.map(|v| metadata_text(v).into_owned());
        let variant = record.variant;
        if version.is_none() && variant.is_none() {
            return None;
        }
        let mut flags = self.flags.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(state) = flags.get_mut(record.flag_key) else {
            if flags.len() >= MAX_TRACKED_FLAGS {
                flags.clear();
            }
            flags.insert(
                record.flag_key.to_owned(),
                FlagState {
                    version,
                    variants: variant.map(|v| vec![v.to_owned()]).unwrap_or_default(),
                },
            );
            return None;
        };
        if let Some(version) = version
            && state.version.as_ref() != Some(&version)
        {
            let previous = state.version.replace(version.clone());
            if let Some(variant) = variant {
                state.variants = vec![variant.to_owned()];
            }
            let change = FlagChange::new(
                record.flag_key,
                object(json!({"version": previous})),
                object(json!({"version": version})),
            );
            return Some(change.with_description(format!(
                "Feature flag {} changed version: {} -> {}",
                record.flag_key,
                previous.as_deref().unwrap_or("unknown"),
                version
            )));
        }
        let variant = variant?;
        if state.variants.iter().any(|known| known == variant)
            || state.variants.len() >= MAX_TRACKED_VARIANTS
        {
            return None;
        }
        let before = state.variants.clone();
        state.variants.push(variant.to_owned());
        let change = FlagChange::new(
            record.flag_key,
            object(json!({"variants": before})),
            object(json!({"variants": state.variants})),
        );
        Some(change.with_description(format!(
            "Feature flag {} started serving variant {variant}",
            record.flag_key
        )))
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
