//! How every `from_env` of this crate reads a variable (`ChangeEventsConfig`,
//! `EnrichmentMetricSink`).

/// `name`'s value through `lookup`, trimmed; `None` when it is unset or blank.
pub(crate) fn env_value(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}
