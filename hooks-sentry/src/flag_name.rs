//! Flag names as Sentry accepts them.

use std::borrow::Cow;

/// The longest flag name Sentry's ingest accepts, in characters.
pub const MAX_FLAG_NAME_LEN: usize = 200;

/// A flag key as a name Sentry keeps: at most [`MAX_FLAG_NAME_LEN`] characters of
/// `a-z A-Z 0-9 _ . : -` (Sentry drops any other flag name from the flags context).
///
/// - a valid key is used as it is;
/// - any other character becomes `_`, and a longer key is cut to 200 characters, so the flag is
///   still recorded (two keys that differ only in such characters then share a name);
/// - an empty key gives `None`: nothing is recorded.
///
/// ```
/// use openfeature_hooks_sentry::__private::sentry_flag_name;
///
/// assert_eq!(sentry_flag_name("checkout.v2").as_deref(), Some("checkout.v2"));
/// assert_eq!(sentry_flag_name("new checkout/ü").as_deref(), Some("new_checkout__"));
/// assert_eq!(sentry_flag_name(""), None);
/// ```
pub fn sentry_flag_name(key: &str) -> Option<Cow<'_, str>> {
    if key.is_empty() {
        return None;
    }
    // Every allowed character is one ASCII byte, so the byte table decides a valid key without
    // decoding it (this runs on every evaluation) and, for ASCII characters, each character.
    let allowed = |c: char| c.is_ascii() && ALLOWED_BYTES[c as usize];
    if key.len() <= MAX_FLAG_NAME_LEN && key.bytes().all(|byte| ALLOWED_BYTES[usize::from(byte)]) {
        return Some(Cow::Borrowed(key));
    }
    Some(Cow::Owned(
        key.chars()
            .take(MAX_FLAG_NAME_LEN)
            .map(|c| if allowed(c) { c } else { '_' })
            .collect(),
    ))
}

/// Which bytes are allowed characters: `a-z A-Z 0-9 _ . : -` (non-ASCII bytes never are).
static ALLOWED_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 128 {
        let c = byte as u8;
        table[byte] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'-');
        byte += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(matches!(
            sentry_flag_name("a-b_c.d:e"),
            Some(Cow::Borrowed(_))
        ));
        let long = "x".repeat(1_000_000);
        let cut = sentry_flag_name(&long).unwrap_or_default();
        assert_eq!(cut.len(), MAX_FLAG_NAME_LEN);
        let exactly = "y".repeat(MAX_FLAG_NAME_LEN);
        assert!(matches!(sentry_flag_name(&exactly), Some(Cow::Borrowed(_))));
        assert_eq!(sentry_flag_name("🚀").as_deref(), Some("_"));
        assert_eq!(sentry_flag_name("a b").as_deref(), Some("a_b"));
    }

    #[test]
    fn the_byte_table_agrees_with_the_character_rule() {
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32).take(70_000) {
            let key = c.to_string();
            let allowed = c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
            assert_eq!(
                matches!(sentry_flag_name(&key), Some(Cow::Borrowed(_))),
                allowed,
                "{c:?}"
            );
        }
    }
}
