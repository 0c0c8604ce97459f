//! A fast hasher for the hook's internal tables.

use std::hash::{BuildHasherDefault, Hasher};

/// A fast, non-cryptographic, well-mixed hasher for the hook's own bounded tables: evaluation
/// starts keyed by task and key pointer, metric series, interned texts, Datadog's memory of tags
/// set, and the volume controls' exposure keys and context fingerprints.
///
/// Each 8-byte word is mixed in with a folded multiply (the full 128-bit product's halves XORed,
/// as in foldhash and wyhash), and [`finish`](Hasher::finish) runs the state through
/// MurmurHash3's finaliser, so every input bit moves every output bit and the result can be
/// split into a table index, a fingerprint and a sampling draw. Some tables (Datadog's tags set
/// once per span, exposure deduplication) take the 64-bit hash as the key's identity, so the
/// hash must not collide on structured keys: the multiply-rotate scheme of rustc's `FxHasher`,
/// used here before, gave 113 000 identical hashes on 10 million keys `("flag-N", "user-T-I")`;
/// this one gives none (a test checks a million), for about 1 ns more per word.
///
/// The output is stable across processes and this crate's 0.x releases (sampling keeps the same
/// contexts everywhere). Keys come from the application's code and providers, and every table
/// using this hasher is bounded, so even a crafted collision costs a slower lookup or one extra
/// or missing record, never unbounded memory. std's default SipHash took a fifth of the metrics
/// sink's time.
#[derive(Clone, Copy, Debug)]
pub struct FastHasher {
    state: u64,
}

const SEED: u64 = 0x243F_6A88_85A3_08D3;
const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Default for FastHasher {
    fn default() -> Self {
        Self { state: SEED }
    }
}

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        let product = u128::from(self.state ^ word) * u128::from(MULTIPLIER);
        self.state = (product as u64) ^ ((product >> 64) as u64) ^ word.rotate_left(23);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(read_u64(chunk));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            self.add(read_tail(rest) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        mix64(self.state)
    }
}

/// One hash of several, in order, for keys whose parts are hashed apart: one part's chain of
/// dependent multiplies does not wait for another's, so the processor runs them side by side
/// and only this fold is serial. A key hashed as one stream is a single chain (a discriminant,
/// the bytes and a terminator per part), paid in full wherever the hash is on the critical
/// path of an evaluation.
///
/// The parts' hashes must be well mixed already (as [`FastHasher`]'s are): the fold only
/// combines them.
///
/// ```
/// use std::hash::BuildHasher;
/// use openfeature_hooks_core::__private::{FastBuildHasher, fold_hashes};
///
/// let part = |text: &str| FastBuildHasher::default().hash_one(text);
/// assert_ne!(
///     fold_hashes(&[part("a"), part("b")]),
///     fold_hashes(&[part("b"), part("a")]),
/// );
/// ```
#[inline]
pub fn fold_hashes(hashes: &[u64]) -> u64 {
    hashes
        .iter()
        .fold(0, |folded, &hash| fold_one_more(folded, hash))
}

/// The slot of `value` in a table of `slots` slots (a power of two): Fibonacci hashing, the high
/// bits of `value` times 2⁶⁴/φ, which depend on every bit of `value`. For per-thread caches and
/// tables indexed by an address, where a full [`FastHasher`] pass is more than the index needs
/// and the low bits alone (alignment, or the same offset in every thread's stack) would crowd
/// a few slots.
///
/// ```
/// use openfeature_hooks_core::__private::fibonacci_index;
///
/// // Addresses 2 MiB apart (the same depth of different threads' stacks) spread out.
/// let slots: std::collections::HashSet<usize> =
///     (0..64).map(|i| fibonacci_index(0x7f00_0000_1e48 + i * (2 << 20), 128)).collect();
/// assert!(slots.len() > 32);
/// assert!(slots.iter().all(|&slot| slot < 128));
/// ```
#[inline]
#[must_use]
pub fn fibonacci_index(value: u64, slots: usize) -> usize {
    debug_assert!(slots.is_power_of_two());
    let product = value.wrapping_mul(MULTIPLIER);
    // A table of one slot takes no bits: slot 0.
    product
        .checked_shr(u64::BITS - slots.trailing_zeros())
        .unwrap_or(0) as usize
}

/// `fold_hashes` of a key's parts so far (`folded`) and one more part: `fold_hashes(&[a, b, c])`
/// is `fold_one_more(fold_hashes(&[a, b]), c)`.
#[inline]
pub(crate) fn fold_one_more(folded: u64, hash: u64) -> u64 {
    // Odd, so multiplying keeps every bit of the fold.
    const FOLD: u64 = 0x9E37_79B9_7F4A_7C15;
    (folded ^ hash).wrapping_mul(FOLD).rotate_left(29)
}

/// The finaliser of MurmurHash3 (`fmix64`): every input bit moves every output bit.
#[inline]
pub(crate) fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Eight bytes as a little-endian word (`bytes` has exactly eight).
#[inline]
pub(crate) fn read_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

/// One to seven bytes as a word, read with at most two overlapping loads instead of a `memcpy`
/// call (the tail of every short key goes through here). Which bytes overlap depends only on
/// the length, which the caller mixes in, so equal texts always give equal words.
#[inline]
pub(crate) fn read_tail(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    if len >= 4 {
        let low = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let high = u32::from_le_bytes([
            bytes[len - 4],
            bytes[len - 3],
            bytes[len - 2],
            bytes[len - 1],
        ]);
        u64::from(low) | (u64::from(high) << 32)
    } else {
        // One to three bytes: first, middle and last (repeats for short texts).
        u64::from(bytes[0]) | (u64::from(bytes[len / 2]) << 8) | (u64::from(bytes[len - 1]) << 16)
    }
}

/// `BuildHasher` for [`FastHasher`], for `HashMap::with_hasher`.
pub type FastBuildHasher = BuildHasherDefault<FastHasher>;

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasher, Hash};

    use super::*;

    fn hash(value: impl Hash) -> u64 {
        FastBuildHasher::default().hash_one(value)
    }

    #[test]
    fn distinguishes_nearby_keys() {
        let keys = ["a", "b", "ab", "ba", "checkout", "checkout2", "", "a\0"];
        let hashes: std::collections::HashSet<_> = keys.iter().map(hash).collect();
        assert_eq!(hashes.len(), keys.len());
        assert_ne!(
            hash((Some("a"), None::<&str>)),
            hash((None::<&str>, Some("a")))
        );
        assert_eq!(hash("checkout"), hash(String::from("checkout")));
    }

    #[test]
    fn every_byte_of_short_texts_counts() {
        // The tail is read with overlapping loads: each byte must still reach the hash.
        for len in 1..=17 {
            let base = vec![b'a'; len];
            for position in 0..len {
                let mut changed = base.clone();
                changed[position] = b'b';
                assert_ne!(
                    hash(&base[..]),
                    hash(&changed[..]),
                    "len {len} byte {position}"
                );
            }
        }
    }

    #[test]
    fn no_identical_hashes_among_a_million_structured_keys() {
        let mut hashes: Vec<u64> = (0..1_000_000_u32)
            .map(|i| {
                hash((
                    format!("flag-{}", i % 10),
                    Some(format!("user-{}-{}", i % 8, i / 8)),
                ))
            })
            .collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), 1_000_000);
    }
}
