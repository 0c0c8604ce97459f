//! A bounded memory of what was already done, for work worth doing once (a span per flag per
//! trace, a tag per value per span).

use std::collections::HashSet;

use openfeature_hooks_core::FastBuildHasher;

/// How many items are remembered; past it the oldest half is forgotten (an item may then be done
/// a second time, never lost).
pub const MAX_REMEMBERED: usize = 16_384;

/// Remembers hashes of items in two generations, at most [`MAX_REMEMBERED`] in all.
#[derive(Debug, Default)]
pub(crate) struct SeenOnce {
    current: HashSet<u64, FastBuildHasher>,
    previous: HashSet<u64, FastBuildHasher>,
}

impl SeenOnce {
    /// `true` the first time `item` is seen (within memory).
    pub(crate) fn first(&mut self, item: u64) -> bool {
        if self.current.contains(&item) || self.previous.contains(&item) {
            return false;
        }
        if self.current.len() >= MAX_REMEMBERED / 2 {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(item);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_then_bounded() {
        let mut seen = SeenOnce::default();
        assert!(seen.first(1));
        assert!(!seen.first(1));
        for i in 2..100_000 {
            seen.first(i);
        }
        assert!(seen.current.len() + seen.previous.len() <= MAX_REMEMBERED);
    }
}
