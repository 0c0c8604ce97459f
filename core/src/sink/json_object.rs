//! A JSON object written field by field into a byte buffer, for objects whose keys are fixed.
//!
//! `serde_json` escapes every map key it writes, byte by byte, and serialises each entry
//! through its generic map machinery. The JSON-lines writer's keys are constant ASCII names
//! that need no escaping, so they are copied as written, and so are string values with nothing
//! to escape; other values go through `serde_json` (strings escaped, numbers formatted, nested
//! maps serialised). Measured on the JSON-lines writer thread (`perf`, 2026-11-29): escaping
//! took 100 ns of its ~300 ns a record, half of it on keys.

use serde::Serialize;

/// An object being written: `{`, then each field, then [`JsonObject::end`] writes `}`.
pub(crate) struct JsonObject<'b> {
    buffer: &'b mut Vec<u8>,
    first: bool,
    failed: bool,
}

impl<'b> JsonObject<'b> {
    /// Starts an object at the end of `buffer`.
    pub(crate) fn start(buffer: &'b mut Vec<u8>) -> Self {
        buffer.push(b'{');
        Self {
            buffer,
            first: true,
            failed: false,
        }
    }

    /// Writes `"key":` and `value` as a JSON string. `key` must need no escaping (a fixed
    /// name of ASCII letters, digits and `_`).
    ///
    /// A value with nothing to escape (no `"`, `\` or control character: flag keys,
    /// variants, provider names, reasons) is copied as it is; `serde_json` escapes the others.
    /// Its escaping writes through `io::Write` and looks every byte up in a table, and was the
    /// writer thread's largest cost, a quarter of its time (BENCHMARKS.md, "The JSON-lines
    /// writer's own time").
    pub(crate) fn string(&mut self, key: &'static str, value: &str) {
        if needs_no_escaping(value) {
            self.plain_string(key, value);
        } else {
            self.key(key);
            self.serialized(value);
        }
    }

    /// Writes `"key":` and `value` serialised by `serde_json`.
    pub(crate) fn value(&mut self, key: &'static str, value: &(impl Serialize + ?Sized)) {
        self.key(key);
        self.serialized(value);
    }

    /// Writes `"key":"text"` where `text` needs no escaping (see [`needs_no_escaping`]).
    pub(crate) fn plain_string(&mut self, key: &'static str, text: &str) {
        debug_assert!(needs_no_escaping(text));
        self.key(key);
        self.buffer.push(b'"');
        self.buffer.extend_from_slice(text.as_bytes());
        self.buffer.push(b'"');
    }

    /// Closes the object; `false` if a value could not be serialised (the object is then
    /// incomplete).
    pub(crate) fn end(self) -> bool {
        self.buffer.push(b'}');
        !self.failed
    }

    fn key(&mut self, key: &'static str) {
        debug_assert!(
            key.bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        );
        if !self.first {
            self.buffer.push(b',');
        }
        self.first = false;
        self.buffer.push(b'"');
        self.buffer.extend_from_slice(key.as_bytes());
        self.buffer.extend_from_slice(b"\":");
    }

    fn serialized(&mut self, value: &(impl Serialize + ?Sized)) {
        if serde_json::to_writer(&mut *self.buffer, value).is_err() {
            self.failed = true;
        }
    }
}

/// Whether `text` is a valid JSON string body as it is: no quote, backslash or control
/// character (UTF-8 beyond ASCII needs no escaping in JSON).
fn needs_no_escaping(text: &str) -> bool {
    text.bytes()
        .all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_make_one_valid_object() {
        let mut buffer = b"x".to_vec();
        let mut object = JsonObject::start(&mut buffer);
        object.plain_string("time", "2026-11-29T03:00:00.000000Z");
        object.string("text", "a \"quoted\" \\ line\nbreak \u{1}");
        object.value("number", &1.5);
        object.value("list", &[1, 2]);
        assert!(object.end());
        let parsed: serde_json::Value =
            serde_json::from_slice(&buffer[1..]).expect("the object is valid JSON");
        assert_eq!(
            parsed,
            serde_json::json!({
                "time": "2026-11-29T03:00:00.000000Z",
                "text": "a \"quoted\" \\ line\nbreak \u{1}",
                "number": 1.5,
                "list": [1, 2],
            })
        );
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for text in [
            "",
            "new-checkout",
            "on",
            "naïve-flag-ü-中文",
            "tab\there",
            "quote\"",
            "back\\slash",
            "\u{7f}del",
            "\u{1f}",
            "\u{2028}line-separator",
        ] {
            let mut buffer = Vec::new();
            let mut object = JsonObject::start(&mut buffer);
            object.string("text", text);
            assert!(object.end());
            let expected = format!(
                "{{\"text\":{}}}",
                serde_json::to_string(text).expect("a string serialises")
            );
            assert_eq!(String::from_utf8_lossy(&buffer), expected, "{text:?}");
        }
    }

    #[test]
    fn an_empty_object_is_braces() {
        let mut buffer = Vec::new();
        assert!(JsonObject::start(&mut buffer).end());
        assert_eq!(buffer, b"{}");
    }
}
