//! The record's optional attributes, by name, so they can be excluded for every backend at once.

/// An attribute of the record that can be excluded (see
/// [`TelemetryHookBuilder::exclude`](crate::TelemetryHookBuilder::exclude)).
///
/// The flag key, flag type and error type cannot be excluded: the conventions require them, and
/// without them a record says nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Attribute {
    /// The evaluated value (`feature_flag.result.value`): exclude it when values can hold
    /// personal data or secrets.
    Value,
    /// The variant (`feature_flag.result.variant`).
    Variant,
    /// The normalised and the raw provider reason (`feature_flag.result.reason`).
    Reason,
    /// The error message (`feature_flag.error.message`): messages can quote user input.
    ErrorMessage,
    /// The context id (`feature_flag.context.id`), whatever the context id policy.
    ContextId,
    /// The provider name (`feature_flag.provider.name`).
    ProviderName,
    /// The set id (`feature_flag.set.id`).
    SetId,
    /// The flag version (`feature_flag.version`).
    Version,
    /// The whole flag metadata map.
    Metadata,
}

impl Attribute {
    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// A set of [`Attribute`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttributeSet(u16);

impl AttributeSet {
    /// The empty set.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// The set plus `attribute`.
    #[must_use]
    pub const fn with(self, attribute: Attribute) -> Self {
        Self(self.0 | attribute.bit())
    }

    /// Whether `attribute` is in the set.
    pub const fn contains(self, attribute: Attribute) -> bool {
        self.0 & attribute.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Attribute> for AttributeSet {
    fn from_iter<I: IntoIterator<Item = Attribute>>(iter: I) -> Self {
        iter.into_iter().fold(Self::empty(), Self::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_membership() {
        let set: AttributeSet = [Attribute::Value, Attribute::Metadata]
            .into_iter()
            .collect();
        assert!(set.contains(Attribute::Value));
        assert!(set.contains(Attribute::Metadata));
        assert!(!set.contains(Attribute::Variant));
        assert!(!set.is_empty());
        assert!(AttributeSet::empty().is_empty());
    }
}
