//! Test support for the openfeature-hooks crates (not published): an in-memory provider with
//! fixed flags, and a sink that keeps owned copies of records for assertions.

#![warn(missing_docs, unreachable_pub)]

mod fixture_provider;
mod recording_sink;

pub use fixture_provider::{FixtureFlag, FixtureProvider};
pub use recording_sink::{RecordedEvaluation, RecordingSink};
