//! The type a flag was evaluated as.

use std::fmt;

use open_feature::Type;

/// The type the caller evaluated the flag as. `Copy`, unlike `open_feature::Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FlagType {
    /// `get_bool_value` / `get_bool_details`.
    Bool,
    /// `get_int_value`.
    Int,
    /// `get_float_value`.
    Float,
    /// `get_string_value`.
    String,
    /// An array (not reachable through `open-feature` 0.3's client, kept for completeness).
    Array,
    /// `get_struct_value`.
    Struct,
}

impl FlagType {
    /// A lower-case name: `boolean`, `integer`, `float`, `string`, `array`, `object` (the names
    /// OpenFeature's other SDKs use for flag types).
    pub fn as_str(self) -> &'static str {
        match self {
            FlagType::Bool => "boolean",
            FlagType::Int => "integer",
            FlagType::Float => "float",
            FlagType::String => "string",
            FlagType::Array => "array",
            FlagType::Struct => "object",
        }
    }
}

impl From<&Type> for FlagType {
    fn from(value: &Type) -> Self {
        match value {
            Type::Bool => FlagType::Bool,
            Type::Int => FlagType::Int,
            Type::Float => FlagType::Float,
            Type::String => FlagType::String,
            Type::Array => FlagType::Array,
            Type::Struct => FlagType::Struct,
        }
    }
}

impl fmt::Display for FlagType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
