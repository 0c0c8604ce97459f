//! Evaluation failures: the convention's `error.type` values and the error message.

use std::fmt;

use open_feature::{EvaluationError, EvaluationErrorCode};

/// Why an evaluation failed, as the convention's `error.type` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorType {
    /// `flag_not_found`
    FlagNotFound,
    /// `invalid_context`
    InvalidContext,
    /// `parse_error`
    ParseError,
    /// `provider_fatal`. `open-feature` 0.3 has no such code; kept so records from other
    /// sources (and later SDK versions) can carry it.
    ProviderFatal,
    /// `provider_not_ready`
    ProviderNotReady,
    /// `targeting_key_missing`
    TargetingKeyMissing,
    /// `type_mismatch`
    TypeMismatch,
    /// `general`: any other error; its text becomes the message.
    General,
}

impl ErrorType {
    /// The value the convention writes for `error.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::FlagNotFound => "flag_not_found",
            ErrorType::InvalidContext => "invalid_context",
            ErrorType::ParseError => "parse_error",
            ErrorType::ProviderFatal => "provider_fatal",
            ErrorType::ProviderNotReady => "provider_not_ready",
            ErrorType::TargetingKeyMissing => "targeting_key_missing",
            ErrorType::TypeMismatch => "type_mismatch",
            ErrorType::General => "general",
        }
    }

    /// Maps an `open-feature` error code.
    pub fn from_code(code: &EvaluationErrorCode) -> Self {
        match code {
            EvaluationErrorCode::ProviderNotReady => ErrorType::ProviderNotReady,
            EvaluationErrorCode::FlagNotFound => ErrorType::FlagNotFound,
            EvaluationErrorCode::ParseError => ErrorType::ParseError,
            EvaluationErrorCode::TypeMismatch => ErrorType::TypeMismatch,
            EvaluationErrorCode::TargetingKeyMissing => ErrorType::TargetingKeyMissing,
            EvaluationErrorCode::InvalidContext => ErrorType::InvalidContext,
            EvaluationErrorCode::General(_) => ErrorType::General,
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed evaluation: its error type and, when there is one worth keeping, its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvaluationFailure<'a> {
    /// The convention's `error.type`.
    pub error_type: ErrorType,
    /// The error message (`feature_flag.error.message`).
    ///
    /// For `General(text)` the text is the message (the SDK has no other place for it); when the
    /// text is empty the error's `message` is used. A message that only repeats the error type
    /// (`FLAG_NOT_FOUND`, any case) is dropped, as the convention asks.
    pub message: Option<&'a str>,
}

impl<'a> EvaluationFailure<'a> {
    /// Normalises an `open-feature` error.
    pub fn from_error(error: &'a EvaluationError) -> Self {
        let error_type = ErrorType::from_code(&error.code);
        let general_text = match &error.code {
            EvaluationErrorCode::General(text) => Some(text.as_str()),
            _ => None,
        };
        let message = [general_text, error.message.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .find(|text| !text.is_empty() && !repeats_type(text, error_type));
        Self {
            error_type,
            message,
        }
    }
}

/// `FLAG_NOT_FOUND`, `flag_not_found` and `Flag Not Found` all only repeat the type.
fn repeats_type(text: &str, error_type: ErrorType) -> bool {
    let name = error_type.as_str().as_bytes();
    let mut letters = text
        .bytes()
        .filter(|b| !matches!(b, b'_' | b' ' | b'-'))
        .map(|b| b.to_ascii_lowercase());
    let mut expected = name.iter().copied().filter(|b| *b != b'_');
    loop {
        match (letters.next(), expected.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: EvaluationErrorCode, message: Option<&str>) -> EvaluationError {
        EvaluationError {
            code,
            message: message.map(str::to_owned),
        }
    }

    #[test]
    fn every_code_maps_to_its_convention_value() {
        let cases = [
            (EvaluationErrorCode::ProviderNotReady, "provider_not_ready"),
            (EvaluationErrorCode::FlagNotFound, "flag_not_found"),
            (EvaluationErrorCode::ParseError, "parse_error"),
            (EvaluationErrorCode::TypeMismatch, "type_mismatch"),
            (
                EvaluationErrorCode::TargetingKeyMissing,
                "targeting_key_missing",
            ),
            (EvaluationErrorCode::InvalidContext, "invalid_context"),
            (EvaluationErrorCode::General("boom".into()), "general"),
        ];
        for (code, expected) in cases {
            assert_eq!(ErrorType::from_code(&code).as_str(), expected);
        }
        assert_eq!(ErrorType::ProviderFatal.as_str(), "provider_fatal");
    }

    #[test]
    fn general_text_is_the_message() {
        let e = error(
            EvaluationErrorCode::General("backend timed out".into()),
            None,
        );
        let failure = EvaluationFailure::from_error(&e);
        assert_eq!(failure.error_type, ErrorType::General);
        assert_eq!(failure.message, Some("backend timed out"));
    }

    #[test]
    fn general_without_text_falls_back_to_message() {
        let e = error(
            EvaluationErrorCode::General(String::new()),
            Some("from message"),
        );
        assert_eq!(
            EvaluationFailure::from_error(&e).message,
            Some("from message")
        );
    }

    #[test]
    fn message_of_other_codes_is_kept() {
        let e = error(EvaluationErrorCode::ParseError, Some("bad json at 3:4"));
        let failure = EvaluationFailure::from_error(&e);
        assert_eq!(failure.error_type, ErrorType::ParseError);
        assert_eq!(failure.message, Some("bad json at 3:4"));
    }

    #[test]
    fn messages_that_repeat_the_type_are_dropped() {
        for text in ["FLAG_NOT_FOUND", "flag_not_found", "Flag not found", "  "] {
            let e = error(EvaluationErrorCode::FlagNotFound, Some(text));
            assert_eq!(EvaluationFailure::from_error(&e).message, None, "{text:?}");
        }
        let e = error(
            EvaluationErrorCode::FlagNotFound,
            Some("flag not found: checkout"),
        );
        assert_eq!(
            EvaluationFailure::from_error(&e).message,
            Some("flag not found: checkout")
        );
        let e = error(EvaluationErrorCode::FlagNotFound, None);
        assert_eq!(EvaluationFailure::from_error(&e).message, None);
    }
}
