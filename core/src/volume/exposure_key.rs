//! What makes two evaluations the same exposure, as one 64-bit hash.

use std::hash::{Hash, Hasher};

use open_feature::{FlagMetadataValue, Value};

use crate::speed::fast_hash::{FastHasher, fold_hashes, fold_one_more};
use crate::{EvaluationRecord, MAX_VALUE_DEPTH, context_id_source};

/// Where the exposure key of `record` lives in the table: a hash of its flag key and raw
/// context id ([`context_id_source`]) only. The table's bucket comes from it, so that the keys
/// of one flag and context (their variants, versions, failures) share a bucket.
#[inline]
pub(crate) fn exposure_place(record: &EvaluationRecord<'_>) -> u64 {
    // Two independent chains of multiplies, folded at the end (see `fold_hashes`): the fold's
    // multiply and rotation are also what spread the bucket index, its low bits. One chain
    // over both parts was tried: keys of one table crowded some buckets past their 8 ways
    // (`which_contexts_got_which_variant_stays_whole` saw a pair recorded twice).
    let mut flag = FastHasher::default();
    record.flag_key.hash(&mut flag);
    let mut context = FastHasher::default();
    context_id_source(record).hash(&mut context);
    fold_hashes(&[flag.finish(), context.finish()])
}

/// The exposure key of `record`, hashed, given its [`exposure_place`]:
///
/// - a success: flag key, raw context id ([`context_id_source`]), variant (or, without a
///   variant, a fingerprint of the value), flag version and set id;
/// - a failure: flag key, error type and raw context id.
///
/// Every part is written with its presence and its length, so `("ab", None)` and
/// `(None, "ab")` differ.
#[inline]
pub(crate) fn exposure_hash(place: u64, record: &EvaluationRecord<'_>) -> u64 {
    let mut outcome = FastHasher::default();
    match record.failure {
        Some(failure) => {
            outcome.write_u8(0xEE);
            failure.error_type.as_str().hash(&mut outcome);
        }
        None => {
            match (record.variant, record.value) {
                (Some(variant), _) => {
                    outcome.write_u8(1);
                    variant.hash(&mut outcome);
                }
                (None, Some(value)) => {
                    outcome.write_u8(2);
                    outcome.write_u64(value_fingerprint(value, 0));
                }
                (None, None) => outcome.write_u8(3),
            }
            write_metadata(record.version, &mut outcome);
            write_metadata(record.set_id, &mut outcome);
        }
    }
    fold_one_more(place, outcome.finish())
}

fn write_metadata(value: Option<&FlagMetadataValue>, hasher: &mut FastHasher) {
    match value {
        None => hasher.write_u8(0),
        Some(FlagMetadataValue::Bool(flag)) => {
            hasher.write_u8(1);
            hasher.write_u8(u8::from(*flag));
        }
        Some(FlagMetadataValue::Int(number)) => {
            hasher.write_u8(2);
            hasher.write_u64(*number as u64);
        }
        Some(FlagMetadataValue::Float(number)) => {
            hasher.write_u8(3);
            hasher.write_u64(number.to_bits());
        }
        Some(FlagMetadataValue::String(text)) => {
            hasher.write_u8(4);
            text.hash(hasher);
        }
    }
}

/// A hash of a flag value, for flags without variants: struct fields in any order give the same
/// hash; nesting past [`MAX_VALUE_DEPTH`] is not looked into.
fn value_fingerprint(value: &Value, depth: usize) -> u64 {
    let mut hasher = FastHasher::default();
    if depth > MAX_VALUE_DEPTH {
        hasher.write_u8(0xFF);
        return hasher.finish();
    }
    match value {
        Value::Bool(flag) => {
            hasher.write_u8(1);
            hasher.write_u8(u8::from(*flag));
        }
        Value::Int(number) => {
            hasher.write_u8(2);
            hasher.write_u64(*number as u64);
        }
        Value::Float(number) => {
            hasher.write_u8(3);
            hasher.write_u64(number.to_bits());
        }
        Value::String(text) => {
            hasher.write_u8(4);
            text.hash(&mut hasher);
        }
        Value::Array(items) => {
            hasher.write_u8(5);
            hasher.write_usize(items.len());
            for item in items {
                hasher.write_u64(value_fingerprint(item, depth + 1));
            }
        }
        Value::Struct(fields) => {
            hasher.write_u8(6);
            hasher.write_usize(fields.fields.len());
            // Order-independent: the map's iteration order is not stable.
            let sum = fields.fields.iter().fold(0_u64, |sum, (key, item)| {
                let mut field = FastHasher::default();
                key.hash(&mut field);
                field.write_u64(value_fingerprint(item, depth + 1));
                // `finish` is already well mixed: sums of fields do not cancel out.
                sum.wrapping_add(field.finish())
            });
            hasher.write_u64(sum);
        }
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use open_feature::{EvaluationContext, StructValue};

    use super::*;
    use crate::FlagType;

    #[test]
    fn every_part_of_the_key_counts() {
        let alice = EvaluationContext::default().with_targeting_key("alice");
        let bob = EvaluationContext::default().with_targeting_key("bob");
        let v1 = FlagMetadataValue::Int(1);
        let v2 = FlagMetadataValue::Int(2);
        let set = FlagMetadataValue::String("checkout".into());
        let mut base = EvaluationRecord::new("flag", FlagType::Bool, &alice);
        base.variant = Some("on");
        base.version = Some(&v1);
        let hash = |record: &EvaluationRecord<'_>| exposure_hash(exposure_place(record), record);
        let mut hashes = vec![hash(&base)];
        let mut other = base.clone();
        other.flag_key = "flag2";
        hashes.push(hash(&other));
        let mut other = base.clone();
        other.evaluation_context = &bob;
        hashes.push(hash(&other));
        let mut other = base.clone();
        other.variant = Some("off");
        hashes.push(hash(&other));
        let mut other = base.clone();
        other.version = Some(&v2);
        hashes.push(hash(&other));
        let mut other = base.clone();
        other.set_id = Some(&set);
        hashes.push(hash(&other));
        let mut sorted = hashes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), hashes.len(), "{hashes:?}");
        // Things outside the key do not change it.
        let mut same = base.clone();
        same.provider_name = Some("other");
        assert_eq!(hash(&same), hashes[0]);
    }

    #[test]
    fn struct_values_hash_the_same_in_any_field_order() {
        let a = Value::Struct(
            StructValue::default()
                .with_field("x", 1)
                .with_field("y", "z"),
        );
        let b = Value::Struct(
            StructValue::default()
                .with_field("y", "z")
                .with_field("x", 1),
        );
        let c = Value::Struct(
            StructValue::default()
                .with_field("y", "z")
                .with_field("x", 2),
        );
        assert_eq!(value_fingerprint(&a, 0), value_fingerprint(&b, 0));
        assert_ne!(value_fingerprint(&a, 0), value_fingerprint(&c, 0));
    }

    #[test]
    fn deep_values_stop_at_the_depth_limit() {
        let mut value = Value::Bool(true);
        for _ in 0..1_000 {
            value = Value::Array(vec![value]);
        }
        let _ = value_fingerprint(&value, 0);
    }
}
