//! Evaluation reasons in the semantic-convention vocabulary, and the table that maps
//! provider-specific reasons onto it.

use std::borrow::Cow;
use std::fmt;

use open_feature::EvaluationReason;

/// Longest custom reason kept, in bytes; longer ones are cut at a character boundary.
pub const MAX_CUSTOM_REASON_LEN: usize = 128;

/// Why a flag evaluated to its value, in the vocabulary of the OpenTelemetry semantic conventions
/// and the OpenFeature observability appendix (`feature_flag.result.reason`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason<'a> {
    /// `static`: the value is static, no dynamic evaluation happened.
    Static,
    /// `default`: the value fell back to a pre-configured value.
    Default,
    /// `targeting_match`: a targeting rule or individual target matched.
    TargetingMatch,
    /// `split`: a pseudorandom assignment (percentage rollout, experiment).
    Split,
    /// `cached`: the value came from a cache.
    Cached,
    /// `disabled`: the flag is disabled in the management system.
    Disabled,
    /// `unknown`: the reason could not be determined.
    Unknown,
    /// `stale`: the value is non-authoritative or possibly out of date.
    Stale,
    /// `error`: the value is the result of an error.
    Error,
    /// A provider-specific reason no table entry maps, in lower snake case.
    Other(Cow<'a, str>),
}

impl Reason<'_> {
    /// The reason as the convention writes it (`targeting_match`, or the custom name).
    pub fn as_str(&self) -> &str {
        match self {
            Reason::Other(name) => name,
            known => known.as_static_str().unwrap_or_default(),
        }
    }

    /// The well-known name as a `&'static str`, or `None` for a custom reason. Backends whose
    /// APIs want owned or static strings use this to avoid allocating for the common case.
    pub fn as_static_str(&self) -> Option<&'static str> {
        Some(match self {
            Reason::Static => "static",
            Reason::Default => "default",
            Reason::TargetingMatch => "targeting_match",
            Reason::Split => "split",
            Reason::Cached => "cached",
            Reason::Disabled => "disabled",
            Reason::Unknown => "unknown",
            Reason::Stale => "stale",
            Reason::Error => "error",
            Reason::Other(_) => return None,
        })
    }

    /// A copy that borrows from `self` (never allocates).
    pub fn reborrow(&self) -> Reason<'_> {
        self.with_other(Cow::Borrowed)
    }

    /// A copy whose custom name (if any) is `other(name)`: the one place every variant is
    /// copied, for copies of another lifetime.
    pub(crate) fn with_other<'s, 'b>(
        &'s self,
        other: impl FnOnce(&'s str) -> Cow<'b, str>,
    ) -> Reason<'b> {
        match self {
            Reason::Other(name) => Reason::Other(other(name)),
            Reason::Static => Reason::Static,
            Reason::Default => Reason::Default,
            Reason::TargetingMatch => Reason::TargetingMatch,
            Reason::Split => Reason::Split,
            Reason::Cached => Reason::Cached,
            Reason::Disabled => Reason::Disabled,
            Reason::Unknown => Reason::Unknown,
            Reason::Stale => Reason::Stale,
            Reason::Error => Reason::Error,
        }
    }

    /// Maps an `open-feature` reason without a table: the SDK's own variants map one to one,
    /// `Other` is matched against the convention's names, else kept in lower snake case.
    fn from_sdk(reason: &EvaluationReason) -> Reason<'_> {
        match reason {
            EvaluationReason::Static => Reason::Static,
            EvaluationReason::Default => Reason::Default,
            EvaluationReason::TargetingMatch => Reason::TargetingMatch,
            EvaluationReason::Split => Reason::Split,
            EvaluationReason::Cached => Reason::Cached,
            EvaluationReason::Disabled => Reason::Disabled,
            EvaluationReason::Unknown => Reason::Unknown,
            EvaluationReason::Error => Reason::Error,
            EvaluationReason::Other(raw) => well_known(raw).unwrap_or_else(|| custom(raw)),
        }
    }
}

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The convention's names, for provider reasons that arrive as `EvaluationReason::Other`
/// (`STALE` has no SDK variant; providers also send `TARGETING_MATCH` and friends as strings).
const WELL_KNOWN: [Reason<'static>; 9] = [
    Reason::Static,
    Reason::Default,
    Reason::TargetingMatch,
    Reason::Split,
    Reason::Cached,
    Reason::Disabled,
    Reason::Unknown,
    Reason::Stale,
    Reason::Error,
];

fn well_known(raw: &str) -> Option<Reason<'static>> {
    WELL_KNOWN
        .iter()
        .find(|reason| reason.as_str().eq_ignore_ascii_case(raw))
        .cloned()
}

/// A reason no table maps: empty becomes `unknown`, anything else lower snake case, bounded.
fn custom(raw: &str) -> Reason<'_> {
    if raw.trim().is_empty() {
        return Reason::Unknown;
    }
    let is_snake = raw.len() <= MAX_CUSTOM_REASON_LEN
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if is_snake {
        Reason::Other(Cow::Borrowed(raw))
    } else {
        Reason::Other(Cow::Owned(to_lower_snake_case(raw)))
    }
}

/// `RULE_MATCH`, `RuleMatch`, `rule-match`, `Rule Match` all become `rule_match`.
fn to_lower_snake_case(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_CUSTOM_REASON_LEN));
    let mut previous_lower_or_digit = false;
    for ch in raw.chars() {
        if ch.is_alphanumeric() {
            if ch.is_uppercase() && previous_lower_or_digit && !out.ends_with('_') {
                out.push('_');
            }
            previous_lower_or_digit = ch.is_lowercase() || ch.is_numeric();
            out.extend(ch.to_lowercase());
        } else {
            previous_lower_or_digit = false;
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        }
        if out.len() >= MAX_CUSTOM_REASON_LEN {
            break;
        }
    }
    while out.len() > MAX_CUSTOM_REASON_LEN {
        out.pop();
    }
    let trimmed = out.trim_end_matches('_').len();
    out.truncate(trimmed);
    if out.is_empty() {
        out.push_str("unknown");
    }
    out
}

/// One row of the built-in table: which provider reason maps to which convention reason.
struct BuiltinEntry {
    provider: &'static str,
    raw: &'static str,
    reason: Reason<'static>,
}

macro_rules! builtin {
    ($( $provider:literal : $raw:literal => $reason:ident ),* $(,)?) => {
        &[ $( BuiltinEntry { provider: $provider, raw: $raw, reason: Reason::$reason } ),* ]
    };
}

/// Provider-specific reasons and what they mean in the convention's vocabulary. Matched
/// case-insensitively. The convention's own names (`TARGETING_MATCH`, `STALE`, ...) need no
/// entry: they are recognised whatever their case, which covers flagd, ConfigCat's and Unleash's
/// providers when they send the standard names.
const BUILTIN: &[BuiltinEntry] = builtin![
    // LaunchDarkly evaluation reason kinds.
    "LaunchDarkly": "OFF" => Disabled,
    "LaunchDarkly": "FALLTHROUGH" => Default,
    "LaunchDarkly": "TARGET_MATCH" => TargetingMatch,
    "LaunchDarkly": "RULE_MATCH" => TargetingMatch,
    "LaunchDarkly": "PREREQUISITE_FAILED" => Disabled,
    "LaunchDarkly": "ERROR" => Error,
    // LaunchDarkly reasons with `inExperiment: true` (a percentage rollout in an experiment).
    "LaunchDarkly": "IN_EXPERIMENT" => Split,
    "LaunchDarkly": "FALLTHROUGH_IN_EXPERIMENT" => Split,
    "LaunchDarkly": "RULE_MATCH_IN_EXPERIMENT" => Split,
    // Flipt `EvaluationReason` enum names.
    "Flipt": "MATCH_EVALUATION_REASON" => TargetingMatch,
    "Flipt": "DEFAULT_EVALUATION_REASON" => Default,
    "Flipt": "FLAG_DISABLED_EVALUATION_REASON" => Disabled,
    "Flipt": "UNKNOWN_EVALUATION_REASON" => Unknown,
    "Flipt": "ERROR_EVALUATION_REASON" => Error,
    // flagd: the standard names, plus the reason its providers give when falling back.
    "flagd": "FALLBACK" => Default,
    // Unleash: a toggle's enabled state and its variant assignment.
    "Unleash": "ENABLED" => TargetingMatch,
    "Unleash": "VARIANT" => Split,
    "Unleash": "NOT_FOUND" => Error,
    // ConfigCat: what matched in the evaluation.
    "ConfigCat": "TARGETING_RULE" => TargetingMatch,
    "ConfigCat": "MATCHED_TARGETING_RULE" => TargetingMatch,
    "ConfigCat": "PERCENTAGE_OPTION" => Split,
    "ConfigCat": "MATCHED_PERCENTAGE_OPTION" => Split,
    "ConfigCat": "DEFAULT_VALUE" => Default,
    // GrowthBook feature result sources.
    "GrowthBook": "defaultValue" => Default,
    "GrowthBook": "force" => TargetingMatch,
    "GrowthBook": "experiment" => Split,
    "GrowthBook": "override" => Static,
    "GrowthBook": "unknownFeature" => Error,
    "GrowthBook": "prerequisite" => Disabled,
    "GrowthBook": "cyclicPrerequisite" => Error,
];

/// Maps provider reasons (`EvaluationReason::Other`) onto the convention's vocabulary.
///
/// The built-in rows cover LaunchDarkly, Flipt, flagd, Unleash, ConfigCat and GrowthBook; see
/// [`ReasonTable::builtin_rows`]. Rows added with [`ReasonTable::with`] take precedence over the
/// built-in ones. Matching is ASCII case-insensitive. A reason no row maps is kept, in lower
/// snake case (`RuleMatchV2` becomes `rule_match_v2`); an empty one becomes `unknown`.
///
/// ```
/// use open_feature::EvaluationReason;
/// use openfeature_hooks_core::{Reason, ReasonTable};
///
/// let table = ReasonTable::builtin().with("HOLDOUT", Reason::Split);
/// let raw = EvaluationReason::Other("rule_match".into());
/// assert_eq!(table.normalise(&raw), Reason::TargetingMatch);
/// assert_eq!(table.normalise(&EvaluationReason::Other("holdout".into())), Reason::Split);
/// assert_eq!(table.normalise(&EvaluationReason::Other("Sticky Bucket".into())).as_str(), "sticky_bucket");
/// ```
#[derive(Clone, Debug)]
pub struct ReasonTable {
    user: Vec<(Cow<'static, str>, Reason<'static>)>,
    include_builtin: bool,
}

impl Default for ReasonTable {
    fn default() -> Self {
        Self::builtin()
    }
}

impl ReasonTable {
    /// The built-in rows.
    pub fn builtin() -> Self {
        Self {
            user: Vec::new(),
            include_builtin: true,
        }
    }

    /// No rows at all: only the convention's own names are recognised.
    pub fn empty() -> Self {
        Self {
            user: Vec::new(),
            include_builtin: false,
        }
    }

    /// Adds or overrides a row: `provider_reason` (any case) now means `reason`.
    #[must_use]
    pub fn with(
        mut self,
        provider_reason: impl Into<Cow<'static, str>>,
        reason: Reason<'static>,
    ) -> Self {
        let provider_reason = provider_reason.into();
        self.user
            .retain(|(raw, _)| !raw.eq_ignore_ascii_case(&provider_reason));
        self.user.push((provider_reason, reason));
        self
    }

    /// The built-in rows as `(provider, provider reason, convention reason)`, for documentation.
    pub fn builtin_rows() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
        BUILTIN
            .iter()
            .map(|entry| (entry.provider, entry.raw, entry.reason.as_str()))
    }

    /// Normalises one reason. Allocates only for an unmapped reason not already in lower snake
    /// case.
    pub fn normalise<'a>(&'a self, reason: &'a EvaluationReason) -> Reason<'a> {
        let EvaluationReason::Other(raw) = reason else {
            return Reason::from_sdk(reason);
        };
        if let Some((_, mapped)) = self
            .user
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(raw))
        {
            return mapped.reborrow();
        }
        if self.include_builtin
            && let Some(entry) = BUILTIN.iter().find(|e| e.raw.eq_ignore_ascii_case(raw))
        {
            return entry.reason.reborrow();
        }
        Reason::from_sdk(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn other(raw: &str) -> EvaluationReason {
        EvaluationReason::Other(raw.to_owned())
    }

    #[test]
    fn sdk_variants_map_one_to_one() {
        let table = ReasonTable::builtin();
        let cases = [
            (EvaluationReason::Static, "static"),
            (EvaluationReason::Default, "default"),
            (EvaluationReason::TargetingMatch, "targeting_match"),
            (EvaluationReason::Split, "split"),
            (EvaluationReason::Cached, "cached"),
            (EvaluationReason::Disabled, "disabled"),
            (EvaluationReason::Unknown, "unknown"),
            (EvaluationReason::Error, "error"),
        ];
        for (raw, expected) in cases {
            assert_eq!(table.normalise(&raw).as_str(), expected, "{raw:?}");
        }
    }

    #[test]
    fn convention_names_sent_as_strings_are_recognised_in_any_case() {
        let table = ReasonTable::empty();
        assert_eq!(table.normalise(&other("STALE")), Reason::Stale);
        assert_eq!(table.normalise(&other("stale")), Reason::Stale);
        assert_eq!(
            table.normalise(&other("Targeting_Match")),
            Reason::TargetingMatch
        );
        assert_eq!(table.normalise(&other("SPLIT")), Reason::Split);
    }

    #[test]
    fn builtin_provider_rows() {
        let table = ReasonTable::builtin();
        let cases = [
            ("OFF", Reason::Disabled),
            ("FALLTHROUGH", Reason::Default),
            ("TARGET_MATCH", Reason::TargetingMatch),
            ("RULE_MATCH", Reason::TargetingMatch),
            ("rule_match", Reason::TargetingMatch),
            ("PREREQUISITE_FAILED", Reason::Disabled),
            ("ERROR", Reason::Error),
            ("FALLTHROUGH_IN_EXPERIMENT", Reason::Split),
            ("MATCH_EVALUATION_REASON", Reason::TargetingMatch),
            ("DEFAULT_EVALUATION_REASON", Reason::Default),
            ("FLAG_DISABLED_EVALUATION_REASON", Reason::Disabled),
            ("UNKNOWN_EVALUATION_REASON", Reason::Unknown),
            ("ERROR_EVALUATION_REASON", Reason::Error),
            ("FALLBACK", Reason::Default),
            ("ENABLED", Reason::TargetingMatch),
            ("MATCHED_PERCENTAGE_OPTION", Reason::Split),
            ("defaultValue", Reason::Default),
            ("DEFAULTVALUE", Reason::Default),
            ("experiment", Reason::Split),
            ("force", Reason::TargetingMatch),
            ("unknownFeature", Reason::Error),
        ];
        for (raw, expected) in cases {
            assert_eq!(table.normalise(&other(raw)), expected, "{raw}");
        }
    }

    #[test]
    fn every_builtin_row_maps_to_a_convention_reason() {
        for (_, raw, reason) in ReasonTable::builtin_rows() {
            assert!(
                WELL_KNOWN.iter().any(|r| r.as_str() == reason),
                "{raw} -> {reason}"
            );
        }
    }

    #[test]
    fn user_rows_extend_and_override() {
        let table = ReasonTable::builtin()
            .with("RULE_MATCH", Reason::Split)
            .with("holdout", Reason::Other("holdout_group".into()));
        assert_eq!(table.normalise(&other("rule_match")), Reason::Split);
        assert_eq!(table.normalise(&other("HOLDOUT")).as_str(), "holdout_group");
        // Overriding twice keeps only the last row.
        let table = table.with("rule_match", Reason::Static);
        assert_eq!(table.normalise(&other("RULE_MATCH")), Reason::Static);
    }

    #[test]
    fn empty_table_keeps_provider_reasons() {
        let table = ReasonTable::empty();
        assert_eq!(table.normalise(&other("RULE_MATCH")).as_str(), "rule_match");
    }

    #[test]
    fn unmapped_reasons_become_lower_snake_case() {
        let table = ReasonTable::builtin();
        let cases = [
            ("SOME_NEW_REASON", "some_new_reason"),
            ("RuleMatchV2", "rule_match_v2"),
            ("rule-match", "rule_match"),
            ("Sticky Bucket", "sticky_bucket"),
            ("  padded  ", "padded"),
            ("already_snake", "already_snake"),
            ("ÜBER_GRUND", "über_grund"),
            ("!!!", "unknown"),
            ("", "unknown"),
            ("   ", "unknown"),
        ];
        for (raw, expected) in cases {
            assert_eq!(table.normalise(&other(raw)).as_str(), expected, "{raw:?}");
        }
    }

    #[test]
    fn snake_case_reasons_are_borrowed_not_copied() {
        let table = ReasonTable::builtin();
        let raw = other("sticky_bucket");
        assert!(matches!(
            table.normalise(&raw),
            Reason::Other(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn huge_custom_reasons_are_bounded() {
        let table = ReasonTable::builtin();
        let raw = other(&"Ä".repeat(100_000));
        let reason = table.normalise(&raw);
        assert!(reason.as_str().len() <= MAX_CUSTOM_REASON_LEN);
        assert!(reason.as_str().chars().all(|c| c == 'ä'));
        let raw = other(&"a".repeat(100_000));
        assert_eq!(table.normalise(&raw).as_str().len(), MAX_CUSTOM_REASON_LEN);
    }
}
