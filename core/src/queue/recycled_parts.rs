//! Recycling the rare parts of queued records between the threads that capture them and the
//! background threads that drop them.
//!
//! # Why
//!
//! A record with a context id, a version or flag metadata (flagd sends a version and a set id
//! with every evaluation) used to be captured into fresh allocations (a box, a map, its texts)
//! on the evaluation path and freed on the sink's background thread. With glibc's allocator a
//! block freed by another thread does not return to the evaluating thread's cache: the
//! evaluation's next allocations take the allocator's slow path and its arena lock, which the
//! background thread takes too while it frees, and on two cores the two contend on every
//! record. `volume_paired` measured it: ExposureDedup in front of the JSON-lines sink
//! (records with flag metadata) added +370 to +440 ns over the JSON-lines sink alone, and
//! +71 to +76 ns with the whole process pinned to one core; with the rare parts not captured
//! at all (a test build), +88 to +94 ns on two cores. The evaluation itself was 1 140 ns with
//! the JSON-lines sink alone against 790 to 970 without the allocations (BENCHMARKS.md,
//! "2026-11-29").
//!
//! # How
//!
//! Dropping a queued record with rare parts (on the background thread) returns its box here,
//! with every buffer it holds; capturing one takes a box from here and refills it in place
//! ([`RareParts::refill`]): once a box has carried a record of the same shape, nothing is
//! allocated or freed on either side. The pool is a bounded lock-free queue: taking and
//! returning are a compare-and-swap each, and when it is empty a new box is allocated, when it
//! is full a returned box is freed. It is one queue for the process: evaluating threads share
//! its head as they already share the tail of each sink's own queue, one more such line per
//! record with rare parts (not measured beyond the two cores of the bench machine).
//!
//! # Bounds
//!
//! At most [`POOL_CAPACITY`] boxes wait here, each keeping at most [`MAX_RETAINED_BYTES`] of
//! buffers (a box holding more, after a huge metadata map say, is freed instead): about 1.4 MiB
//! at most for the whole process, whatever the load.

use std::sync::LazyLock;

use crossbeam_channel::{Receiver, Sender};

use crate::queue::rare_parts::RareParts;

/// Boxes kept for reuse, at most: a quarter of a sink queue's default capacity in flight, then
/// new ones are allocated.
pub(crate) const POOL_CAPACITY: usize = 1024;

/// Bytes of buffers a returned box may keep and still be reused.
pub(crate) const MAX_RETAINED_BYTES: usize = 1024;

/// The pool's two ends: returned boxes go in one, boxes to refill come out of the other.
type Pool = (Sender<Box<RareParts>>, Receiver<Box<RareParts>>);

static POOL: LazyLock<Pool> = LazyLock::new(|| crossbeam_channel::bounded(POOL_CAPACITY));

/// A box to refill: a recycled one when there is one.
pub(crate) fn take() -> Box<RareParts> {
    POOL.1.try_recv().unwrap_or_default()
}

/// Returns `parts` for reuse, or frees it (the pool is full, or it keeps too much).
pub(crate) fn give_back(mut parts: Box<RareParts>) {
    parts.release_metadata_map();
    if worth_keeping(&parts) {
        let _ = POOL.0.try_send(parts);
    }
}

/// Whether `parts` keeps few enough bytes of buffers to be pooled.
fn worth_keeping(parts: &RareParts) -> bool {
    parts.retained_bytes() <= MAX_RETAINED_BYTES
}

/// Boxes waiting for reuse now.
#[cfg(test)]
pub(crate) fn waiting() -> usize {
    POOL.1.len()
}

#[cfg(test)]
mod tests {
    use open_feature::{EvaluationContext, FlagMetadata};

    use super::*;
    use crate::{ContextId, EvaluationRecord, FlagType};

    #[test]
    fn parts_holding_huge_texts_are_freed_not_pooled() {
        let context = EvaluationContext::default();
        let small = FlagMetadata::default().with_value("owner", "growth");
        let huge_text = "é".repeat(10_000);
        let huge = FlagMetadata::default().with_value("owner", huge_text.as_str());
        let mut record = EvaluationRecord::new("checkout", FlagType::Bool, &context);
        record.context_id = Some(ContextId::Raw("user-1"));
        let mut parts = RareParts::default();
        record.metadata = Some(&small);
        parts.refill(&record, true);
        assert!(worth_keeping(&parts));
        // A huge value grows a buffer past the bound: such parts are not kept.
        record.metadata = Some(&huge);
        parts.refill(&record, true);
        assert_eq!(parts.metadata(), Some(&huge));
        assert!(!worth_keeping(&parts));
        record.metadata = None;
        record.context_id = Some(ContextId::Raw(&huge_text));
        parts.refill(&record, true);
        assert!(!worth_keeping(&parts), "the grown buffers stay counted");
    }
}
