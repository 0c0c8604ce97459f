//! The public `add_feature_flag` of Sentry's feature flag SDK spec.

use open_feature::Value;

use crate::flag_buffer::DEFAULT_CAPACITY;
use crate::flag_name::sentry_flag_name;
use crate::flag_value::any_result;
use crate::hub_flags::record_flag;

/// Records a flag evaluation that did not come through OpenFeature, in the current hub's buffer
/// and on its active span, exactly as [`SentrySink`](crate::SentrySink) records one.
///
/// Accepts booleans, integers, floats, strings and structures (anything that converts into an
/// OpenFeature `Value`); a value whose JSON would exceed 200 characters is recorded as its JSON
/// text cut to fit.
///
/// ```
/// openfeature_hooks_sentry::add_feature_flag("legacy-dark-mode", true);
/// openfeature_hooks_sentry::add_feature_flag("search-backend", "elastic");
/// ```
pub fn add_feature_flag(key: &str, value: impl Into<Value>) {
    let Some(name) = sentry_flag_name(key) else {
        return;
    };
    let result = any_result(&value.into());
    record_flag(DEFAULT_CAPACITY, &name, result, true);
}
