//! The record: one evaluation, normalised once into an [`EvaluationRecord`](crate::EvaluationRecord)
//! that borrows from the evaluation, and the vocabulary it is written in: the flag type, the
//! reason and its provider table, the error type, the context id and its policy, the
//! attributes a user can exclude, flag values as depth-limited JSON, and RFC 3339 times. The
//! normaliser builds records from the SDK's stages.
//!
//! Used by the hook (it builds the records), by every sink (they read them) and by sink
//! authors.

pub(crate) mod attribute;
pub(crate) mod context_fingerprint;
pub(crate) mod context_id;
pub(crate) mod error_type;
pub(crate) mod evaluation_record;
pub(crate) mod flag_type;
pub(crate) mod normaliser;
pub(crate) mod reason;
pub(crate) mod timestamp;
pub(crate) mod value_json;
