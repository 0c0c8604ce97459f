//! Volume control: wrappers any sink can take to record fewer events without losing a question
//! ([`ExposureDedup`](crate::ExposureDedup): each exposure once per window, through a fixed
//! lock-free table; [`SampledSink`](crate::SampledSink): a fraction of contexts, the rate
//! stated on each record), the distinct-context counter the metrics sink reports, and the
//! clocks the windows read ([`ManualClock`](crate::ManualClock) for tests).
//!
//! Used by service owners in the production setup (README, "Production setup") and by the
//! OpenTelemetry backend (distinct contexts).

pub(crate) mod clock;
pub(crate) mod distinct_count;
pub(crate) mod exposure_dedup;
pub(crate) mod exposure_key;
pub(crate) mod exposure_table;
pub(crate) mod sampling;
