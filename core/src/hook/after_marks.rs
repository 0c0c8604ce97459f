//! Which live evaluations already had their `after` stage recorded.
//!
//! # Why this exists
//!
//! `open-feature` 0.3 has no hook data, and its stages disagree when another hook's `after`
//! fails: it then runs every hook's `error` stage and hands `finally` an error, yet returns the
//! provider's value to the caller. The hook records successes in `after` (the only stage that
//! sees the value the caller gets) and failures in `error` (the only stage that sees the error
//! code). To record exactly once, `error` must know whether this evaluation's `after` already
//! recorded it.
//!
//! The SDK passes the same `&HookContext` to `after`, `error` and `finally` of one evaluation.
//! That `HookContext` is a local of the evaluation's future, and a future does not move once it
//! is polled (it is pinned), so its address identifies the evaluation among all evaluations
//! alive at that moment. `after` marks the address, `error` takes the mark, `finally` clears it.
//!
//! # Cost and bounds
//!
//! A fixed table of atomic slots, no lock, no allocation. An address has one neighbourhood: the
//! [`WINDOW`] slots of one cache line, chosen by the high bits of a multiplicative hash of the
//! address. Marking reads that line and places the mark with one compare-and-swap; clearing reads
//! the line up to the mark and stores a zero. [`WINDOW`] evaluations in their `after`..`finally`
//! window can share a neighbourhood before a mark is refused (there are [`LINES`] of them, and
//! an evaluation sits in that window only while the SDK runs the other hooks' `after` and the
//! `finally` stages). A refused mark is counted ([`AfterMarks::unmarked`]); its only effect is
//! that if another hook's `after` then fails, that evaluation is recorded twice (success and
//! error).
//!
//! A key is in its line at most once (`mark` finds a mark already there before placing one), so
//! clearing stops at the first match. Measured: BENCHMARKS.md, "2026-11-29, 11:30"; the window
//! used to be 16 slots over two or three lines, all read on every clear, and the hash took the
//! product's low bits, which depend only on the address's low bits (the same in every thread's
//! stack at the same depth).
//!
//! If the caller drops an evaluation future between our `after` and our `finally` (possible only
//! when another hook awaits there), its mark stays until an evaluation at the same address
//! reaches `finally`. Meanwhile it can hide one error record of an evaluation at that same
//! address. The table never grows.

use std::sync::atomic::{AtomicUsize, Ordering};

use open_feature::HookContext;

use crate::fibonacci_index;

/// Neighbourhoods in the table (8 KiB in all).
pub(crate) const LINES: usize = 128;
/// How many slots one address may use: one cache line of them.
pub(crate) const WINDOW: usize = 8;

/// One neighbourhood, on a cache line of its own.
#[repr(align(64))]
struct Line([AtomicUsize; WINDOW]);

pub(crate) struct AfterMarks {
    /// An array, not a slice: indices below its known length need no bounds checks.
    lines: Box<[Line; LINES]>,
    unmarked: AtomicUsize,
}

impl std::fmt::Debug for AfterMarks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfterMarks")
            .field("unmarked", &self.unmarked())
            .finish_non_exhaustive()
    }
}

impl Default for AfterMarks {
    fn default() -> Self {
        Self {
            lines: Box::new([const { Line([const { AtomicUsize::new(0) }; WINDOW]) }; LINES]),
            unmarked: AtomicUsize::new(0),
        }
    }
}

fn key(context: &HookContext<'_>) -> usize {
    std::ptr::from_ref(context) as usize
}

/// The neighbourhood of an address, without its alignment bits.
fn line_index(key: usize) -> usize {
    const { assert!(LINES.is_power_of_two()) };
    fibonacci_index((key >> 3) as u64, LINES)
}

impl AfterMarks {
    fn window(&self, key: usize) -> &[AtomicUsize; WINDOW] {
        &self.lines[line_index(key)].0
    }

    /// Marks the evaluation as recorded by `after`.
    pub(crate) fn mark(&self, context: &HookContext<'_>) {
        self.mark_key(key(context));
    }

    fn mark_key(&self, key: usize) {
        let window = self.window(key);
        // Already there: left by an evaluation at this address whose future was dropped before
        // its `finally`; it now marks this one. Never placed twice, so `take` stops at the first.
        if window
            .iter()
            .any(|slot| slot.load(Ordering::Relaxed) == key)
        {
            return;
        }
        let placed = window.iter().any(|slot| {
            slot.compare_exchange(0, key, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        });
        if !placed {
            self.unmarked.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes the evaluation's mark; `true` if there was one.
    ///
    /// A plain store clears it: other evaluations only write to empty slots (by compare-and-swap
    /// from zero), and only an evaluation at this address writes or clears this key, of which
    /// one is alive at a time. So a slot holding the key cannot change under us.
    pub(crate) fn take(&self, context: &HookContext<'_>) -> bool {
        self.take_key(key(context))
    }

    fn take_key(&self, key: usize) -> bool {
        match self
            .window(key)
            .iter()
            .find(|slot| slot.load(Ordering::Acquire) == key)
        {
            Some(slot) => {
                slot.store(0, Ordering::Release);
                true
            }
            None => false,
        }
    }

    /// How many marks did not fit (see the module docs).
    pub(crate) fn unmarked(&self) -> usize {
        self.unmarked.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use open_feature::{ClientMetadata, EvaluationContext, Type, provider::ProviderMetadata};

    use super::*;

    fn contexts(context: &EvaluationContext, n: usize) -> Vec<HookContext<'_>> {
        (0..n)
            .map(|_| HookContext {
                flag_key: "flag",
                flag_type: Type::Bool,
                evaluation_context: context,
                provider_metadata: ProviderMetadata::default(),
                default_value: None,
                client_metadata: ClientMetadata::default(),
            })
            .collect()
    }

    #[test]
    fn mark_take_take() {
        let marks = AfterMarks::default();
        let ctx = EvaluationContext::default();
        let hooks = contexts(&ctx, 2);
        marks.mark(&hooks[0]);
        assert!(!marks.take(&hooks[1]), "another evaluation is not marked");
        assert!(marks.take(&hooks[0]));
        assert!(!marks.take(&hooks[0]), "a mark is taken once");
    }

    #[test]
    fn many_live_evaluations_all_keep_their_marks() {
        let marks = AfterMarks::default();
        let ctx = EvaluationContext::default();
        let hooks = contexts(&ctx, 512);
        hooks.iter().for_each(|h| marks.mark(h));
        assert_eq!(marks.unmarked(), 0);
        assert!(hooks.iter().all(|h| marks.take(h)));
        assert!(
            marks
                .lines
                .iter()
                .flat_map(|line| &line.0)
                .all(|s| s.load(Ordering::Relaxed) == 0)
        );
    }

    #[test]
    fn a_full_neighbourhood_refuses_and_counts() {
        let marks = AfterMarks::default();
        let ctx = EvaluationContext::default();
        let hooks = contexts(&ctx, 1);
        let key = key(&hooks[0]);
        // Fill the address's whole window with other (fake) evaluations.
        marks
            .window(key)
            .iter()
            .for_each(|slot| slot.store(1, Ordering::Relaxed));
        marks.mark(&hooks[0]);
        assert_eq!(marks.unmarked(), 1);
        assert!(!marks.take(&hooks[0]));
    }

    #[test]
    fn the_same_stack_offset_in_many_threads_spreads_over_the_table() {
        // Thread stacks are 2 MiB apart: their evaluations at the same depth have addresses
        // that differ only in high bits. They must not share one neighbourhood.
        let marks = AfterMarks::default();
        let keys: Vec<usize> = (0..64).map(|i| 0x7f00_0000_1e48 + i * (2 << 20)).collect();
        keys.iter().for_each(|&key| marks.mark_key(key));
        assert_eq!(marks.unmarked(), 0);
        assert!(keys.iter().all(|&key| marks.take_key(key)));
    }

    #[test]
    fn a_mark_left_behind_is_adopted_not_doubled() {
        // An evaluation's future dropped between `after` and `finally` leaves its mark; the
        // next evaluation at that address marks it again: one mark, taken once.
        let marks = AfterMarks::default();
        let key = 0x5555_0000_0040;
        marks.mark_key(key);
        marks.mark_key(key);
        assert!(marks.take_key(key));
        assert!(!marks.take_key(key), "the mark was placed once");
    }
}
