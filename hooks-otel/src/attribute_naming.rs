//! Which semantic-convention revision names the attributes, and when the value is one.

use std::sync::atomic::{AtomicU8, Ordering};

/// The attribute names to write. Dashboards and alerts are built on names, and the conventions
/// renamed most flag attributes between revisions: pick the names your queries use, or both
/// during a migration. Every sink takes it with `.with_naming(…)`.
///
/// | meaning | [`Current`](AttributeNaming::Current) (semconv 1.40 to 1.44) | [`Legacy`](AttributeNaming::Legacy) (the first log-event revision) |
/// | --- | --- | --- |
/// | key | `feature_flag.key` | `feature_flag.key` |
/// | variant | `feature_flag.result.variant` | `feature_flag.variant` |
/// | value | attribute `feature_flag.result.value`, by [`ResultValue`] | log body field `value` |
/// | reason | `feature_flag.result.reason` | `feature_flag.evaluation.reason` |
/// | error type | `error.type` | `error.type` |
/// | error message | `feature_flag.error.message` | `feature_flag.evaluation.error.message` |
/// | provider | `feature_flag.provider.name` | `feature_flag.provider_name` |
/// | context id, set id, version | `feature_flag.context.id`, `feature_flag.set.id`, `feature_flag.version` | the same |
///
/// [`Both`](AttributeNaming::Both) writes every name of both columns (shared names once), so
/// old and new queries both match while dashboards move over.
///
/// The older revision put the value in the log event's body: with
/// [`Legacy`](AttributeNaming::Legacy) or [`Both`](AttributeNaming::Both), a log event's body
/// carries `{"value": …}` whenever the evaluation has a value. Spans, span events and metrics
/// have no body: there the value, when written, is always the attribute
/// `feature_flag.result.value`. When that attribute is written is a separate option,
/// [`ResultValue`], which the naming does not change.
///
/// ```
/// use openfeature_hooks_otel::{AttributeNaming, LogEventSink, MetricsSink, SpanEventSink};
/// use opentelemetry_sdk::logs::SdkLoggerProvider;
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
///
/// assert_eq!(AttributeNaming::default(), AttributeNaming::Current);
/// let logs = SdkLoggerProvider::builder().build();
/// let meters = SdkMeterProvider::builder().build();
/// let events = LogEventSink::from_provider(&logs).with_naming(AttributeNaming::Both);
/// let span_events = SpanEventSink::new().with_naming(AttributeNaming::Both);
/// let metrics = MetricsSink::from_provider(&meters).with_naming(AttributeNaming::Both);
/// # drop((events, span_events, metrics));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttributeNaming {
    /// Today's names (the default): semantic conventions 1.40 to 1.44.
    #[default]
    Current,
    /// The older revision's names, the value in the log body.
    Legacy,
    /// Both sets at once, for a migration window.
    Both,
}

/// When the flag value is written as the attribute `feature_flag.result.value`: set on the
/// sinks that write it, [`LogEventSink`](crate::LogEventSink),
/// [`SpanEventSink`](crate::SpanEventSink) and
/// [`EvaluationSpanSink`](crate::EvaluationSpanSink), with `.with_result_value(…)` (metrics
/// never carry values).
///
/// Semantic conventions 1.44 make `feature_flag.result.value` *conditionally required when
/// there is no variant* and *opt-in when there is one*: a variant already names what was
/// served, and the value can be large or personal. That is the default here
/// ([`ResultValue::WhenNoVariant`]) on every signal. [`ResultValue::Always`] is what the
/// JavaScript hook does; [`ResultValue::Never`] keeps values out of the attributes altogether
/// (`TelemetryHook`'s `.exclude(Attribute::Value)` keeps them out of every backend, log bodies
/// included).
///
/// The rule is the attribute's. Under [`AttributeNaming::Legacy`] or [`AttributeNaming::Both`]
/// a log event's body keeps its own rule, the value whenever there is one.
///
/// ```
/// use openfeature_hooks_otel::{AttributeNaming, ResultValue, SpanEventSink};
///
/// assert_eq!(ResultValue::default(), ResultValue::WhenNoVariant);
/// let sink = SpanEventSink::new()
///     .with_naming(AttributeNaming::Current)
///     .with_result_value(ResultValue::Always);
/// # drop(sink);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResultValue {
    /// Only when the evaluation has no variant (the default): semantic conventions 1.44,
    /// conditionally required without a variant, opt-in with one.
    #[default]
    WhenNoVariant,
    /// Whenever the evaluation has a value, variant or not (the JavaScript hook's behaviour).
    Always,
    /// Never as an attribute.
    Never,
}

/// What the attribute writer follows: the names, and when the value is an attribute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AttributeRules {
    pub(crate) naming: AttributeNaming,
    pub(crate) result_value: ResultValue,
}

impl AttributeRules {
    #[cfg(test)]
    pub(crate) const fn new(naming: AttributeNaming, result_value: ResultValue) -> Self {
        Self {
            naming,
            result_value,
        }
    }

    /// Whether the attribute `feature_flag.result.value` is written for an evaluation that has
    /// a value, given whether it has a variant.
    pub(crate) fn writes_value_attribute(self, has_variant: bool) -> bool {
        match self.result_value {
            ResultValue::WhenNoVariant => !has_variant,
            ResultValue::Always => true,
            ResultValue::Never => false,
        }
    }

    /// Whether these are today's names alone (whatever the value rule).
    pub(crate) fn is_current(self) -> bool {
        self.naming == AttributeNaming::Current
    }

    /// The revisions to write, in order.
    pub(crate) fn revisions(self) -> &'static [Names] {
        self.naming.revisions()
    }

    /// Whether the value goes in the log body (`{"value": …}`).
    pub(crate) fn value_in_body(self) -> bool {
        self.naming != AttributeNaming::Current
    }
}

/// An [`AttributeNaming`] that clones of a sink share and read when they create a series, so
/// that it can be set after the instruments are registered (they cannot be registered again).
#[derive(Debug, Default)]
pub(crate) struct SharedNaming(AtomicU8);

impl SharedNaming {
    pub(crate) fn get(&self) -> AttributeNaming {
        match self.0.load(Ordering::Relaxed) {
            1 => AttributeNaming::Legacy,
            2 => AttributeNaming::Both,
            _ => AttributeNaming::Current,
        }
    }

    pub(crate) fn set(&self, naming: AttributeNaming) {
        let code = match naming {
            AttributeNaming::Current => 0,
            AttributeNaming::Legacy => 1,
            AttributeNaming::Both => 2,
        };
        self.0.store(code, Ordering::Relaxed);
    }
}

/// One revision's names.
#[derive(Debug)]
pub(crate) struct Names {
    pub(crate) variant: &'static str,
    pub(crate) reason: &'static str,
    pub(crate) error_message: &'static str,
    pub(crate) provider: &'static str,
    /// `None`: the value goes in the log body.
    pub(crate) value: Option<&'static str>,
}

pub(crate) const KEY: &str = "feature_flag.key";
pub(crate) const ERROR_TYPE: &str = "error.type";
pub(crate) const CONTEXT_ID: &str = "feature_flag.context.id";
pub(crate) const SET_ID: &str = "feature_flag.set.id";
pub(crate) const VERSION: &str = "feature_flag.version";
pub(crate) const VALUE: &str = "feature_flag.result.value";
/// The name of every log event, span event and span the sinks write (semantic conventions'
/// `feature_flag.evaluation`), for processors and queries that pick them out.
pub const EVENT_NAME: &str = "feature_flag.evaluation";

pub(crate) const CURRENT: Names = Names {
    variant: "feature_flag.result.variant",
    reason: "feature_flag.result.reason",
    error_message: "feature_flag.error.message",
    provider: "feature_flag.provider.name",
    value: Some(VALUE),
};

pub(crate) const LEGACY: Names = Names {
    variant: "feature_flag.variant",
    reason: "feature_flag.evaluation.reason",
    error_message: "feature_flag.evaluation.error.message",
    provider: "feature_flag.provider_name",
    value: None,
};

impl AttributeNaming {
    /// The revisions to write, in order.
    pub(crate) fn revisions(self) -> &'static [Names] {
        match self {
            Self::Current => std::slice::from_ref(&CURRENT),
            Self::Legacy => std::slice::from_ref(&LEGACY),
            Self::Both => &BOTH,
        }
    }
}

static BOTH: [Names; 2] = [CURRENT, LEGACY];

#[cfg(test)]
mod tests {
    #![allow(deprecated)]

    use opentelemetry_semantic_conventions::attribute as semconv;

    use super::*;

    /// Every name we write is the conventions' own (the crate follows semconv's registry; its
    /// 0.33 release carries schema 1.42, whose flag attributes 1.43 and 1.44 left unchanged).
    #[test]
    fn names_are_the_conventions_names() {
        assert_eq!(KEY, semconv::FEATURE_FLAG_KEY);
        assert_eq!(ERROR_TYPE, semconv::ERROR_TYPE);
        assert_eq!(CONTEXT_ID, semconv::FEATURE_FLAG_CONTEXT_ID);
        assert_eq!(SET_ID, semconv::FEATURE_FLAG_SET_ID);
        assert_eq!(VERSION, semconv::FEATURE_FLAG_VERSION);
        assert_eq!(VALUE, semconv::FEATURE_FLAG_RESULT_VALUE);
        assert_eq!(CURRENT.variant, semconv::FEATURE_FLAG_RESULT_VARIANT);
        assert_eq!(CURRENT.reason, semconv::FEATURE_FLAG_RESULT_REASON);
        assert_eq!(CURRENT.error_message, semconv::FEATURE_FLAG_ERROR_MESSAGE);
        assert_eq!(CURRENT.provider, semconv::FEATURE_FLAG_PROVIDER_NAME);
        // The older names are the conventions' deprecated ones (`feature_flag.provider_name`,
        // renamed in 1.33, is no longer in the registry).
        assert_eq!(LEGACY.variant, semconv::FEATURE_FLAG_VARIANT);
        assert_eq!(LEGACY.reason, semconv::FEATURE_FLAG_EVALUATION_REASON);
        assert_eq!(
            LEGACY.error_message,
            semconv::FEATURE_FLAG_EVALUATION_ERROR_MESSAGE
        );
    }

    #[test]
    fn the_default_is_the_1_44_rule() {
        let rules = AttributeRules::default();
        assert_eq!(rules.naming, AttributeNaming::Current);
        assert_eq!(rules.result_value, ResultValue::WhenNoVariant);
        assert!(rules.writes_value_attribute(false));
        assert!(!rules.writes_value_attribute(true));
        let always = AttributeRules::new(AttributeNaming::Current, ResultValue::Always);
        assert!(always.writes_value_attribute(true) && always.writes_value_attribute(false));
        let never = AttributeRules::new(AttributeNaming::Current, ResultValue::Never);
        assert!(!never.writes_value_attribute(true) && !never.writes_value_attribute(false));
        // The rule changes neither the names nor where the older revision puts the value.
        assert!(AttributeRules::new(AttributeNaming::Legacy, ResultValue::Never).value_in_body());
        assert!(always.is_current() && !always.value_in_body());
    }

    #[test]
    fn a_shared_naming_reads_back_what_was_set() {
        let shared = SharedNaming::default();
        assert_eq!(shared.get(), AttributeNaming::Current);
        for naming in [
            AttributeNaming::Legacy,
            AttributeNaming::Both,
            AttributeNaming::Current,
        ] {
            shared.set(naming);
            assert_eq!(shared.get(), naming);
        }
    }
}
