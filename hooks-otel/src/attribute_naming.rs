//! Which semantic-convention revision names the attributes.

/// The attribute names to write. Dashboards and alerts are built on names, and the conventions
/// renamed most flag attributes between revisions: pick the names your queries use, or both
/// during a migration.
///
/// | meaning | [`Current`](AttributeNaming::Current) (semconv ≥ 1.40) | [`Legacy`](AttributeNaming::Legacy) (the first log-event revision) |
/// | --- | --- | --- |
/// | key | `feature_flag.key` | `feature_flag.key` |
/// | variant | `feature_flag.result.variant` | `feature_flag.variant` |
/// | value | attribute `feature_flag.result.value` | log body field `value` |
/// | reason | `feature_flag.result.reason` | `feature_flag.evaluation.reason` |
/// | error type | `error.type` | `error.type` |
/// | error message | `feature_flag.error.message` | `feature_flag.evaluation.error.message` |
/// | provider | `feature_flag.provider.name` | `feature_flag.provider_name` |
/// | context id, set id, version | `feature_flag.context.id`, `feature_flag.set.id`, `feature_flag.version` | the same |
///
/// [`Both`](AttributeNaming::Both) writes every name of both columns (shared names once), so
/// old and new queries both match while dashboards move over. Spans, span events and metrics
/// have no log body: there the value is always the attribute `feature_flag.result.value`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttributeNaming {
    /// Today's names (the default).
    #[default]
    Current,
    /// The older revision's names.
    Legacy,
    /// Both sets at once, for a migration window.
    Both,
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
/// The event (and span) name.
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
            AttributeNaming::Current => std::slice::from_ref(&CURRENT),
            AttributeNaming::Legacy => std::slice::from_ref(&LEGACY),
            AttributeNaming::Both => &BOTH,
        }
    }

    /// Whether the value goes in the log body (`{"value": …}`).
    pub(crate) fn value_in_body(self) -> bool {
        !matches!(self, AttributeNaming::Current)
    }
}

static BOTH: [Names; 2] = [CURRENT, LEGACY];
