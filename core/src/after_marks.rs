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
//! A fixed table of atomic slots, no lock, no allocation: marking is one compare-and-swap,
//! clearing a read of the window and a plain store. A mark may sit in any of [`WINDOW`] slots
//! after the address's hash, so [`WINDOW`] evaluations in their `after`..`finally` window can
//! share a neighbourhood before a mark is refused. A refused mark is counted
//! ([`AfterMarks::unmarked`]); its only effect is that if another hook's `after` then fails,
//! that evaluation is recorded twice (success and error).
//!
//! If the caller drops an evaluation future between our `after` and our `finally` (possible only
//! when another hook awaits there), its mark stays until an evaluation at the same address
//! reaches `finally`. Meanwhile it can hide one error record of an evaluation at that same
//! address. The table never grows.

use std::sync::atomic::{AtomicUsize, Ordering};

use open_feature::HookContext;

const SLOTS: usize = 1024;
/// How many slots one address may use.
pub(crate) const WINDOW: usize = 16;

pub(crate) struct AfterMarks {
    /// An array, not a slice: indices modulo its known length need no bounds checks.
    slots: Box<[AtomicUsize; SLOTS]>,
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
            slots: Box::new([const { AtomicUsize::new(0) }; SLOTS]),
            unmarked: AtomicUsize::new(0),
        }
    }
}

fn key(context: &HookContext<'_>) -> usize {
    std::ptr::from_ref(context) as usize
}

fn first_slot(key: usize) -> usize {
    // Fibonacci hashing of the address without its alignment bits.
    ((key >> 3) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize % SLOTS
}

impl AfterMarks {
    fn window(&self, key: usize) -> impl Iterator<Item = &AtomicUsize> {
        let start = first_slot(key);
        (0..WINDOW).map(move |i| &self.slots[(start + i) % SLOTS])
    }

    /// Marks the evaluation as recorded by `after`.
    pub(crate) fn mark(&self, context: &HookContext<'_>) {
        let key = key(context);
        let placed = self.window(key).any(|slot| {
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
        let key = key(context);
        self.window(key).fold(false, |found, slot| {
            let ours = slot.load(Ordering::Acquire) == key;
            if ours {
                slot.store(0, Ordering::Release);
            }
            found | ours
        })
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
        assert!(marks.slots.iter().all(|s| s.load(Ordering::Relaxed) == 0));
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
            .for_each(|slot| slot.store(1, Ordering::Relaxed));
        marks.mark(&hooks[0]);
        assert_eq!(marks.unmarked(), 1);
        assert!(!marks.take(&hooks[0]));
    }
}
