//! The speed machinery: what keeps the evaluation path within its budget. None of it is public
//! API; the sibling crates reach it through the hidden `__private` module.

pub(crate) mod fast_hash;
pub(crate) mod own_cache_lines;
pub(crate) mod prefetch;
pub(crate) mod record_texts;
pub(crate) mod shared_text;
pub(crate) mod striped_count;
pub(crate) mod striped_counters;
pub(crate) mod thread_number;
pub(crate) mod tick_clock;
