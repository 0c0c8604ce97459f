//! A sink that writes each record as one line of JSON.

use std::cell::RefCell;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use open_feature::{EvaluationReason, FlagMetadataValue};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::timestamp::Rfc3339;
use crate::{EvaluationRecord, EvaluationSink, JsonValue};

/// Per-thread buffers larger than this are released after use, so one huge value does not pin
/// memory for the life of the thread.
const KEPT_BUFFER_CAPACITY: usize = 64 * 1024;

thread_local! {
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Writes every record as one JSON object per line (JSON Lines) to any `io::Write`.
///
/// Useful to export evaluations for analysis (which context got which variant, and why), and as
/// the simplest sink to see what the hook records. Each line is serialised first, then written
/// with one `write_all` under a lock, so lines from concurrent evaluations never interleave.
///
/// The writer is called inside the evaluation: give it something that does not block for long
/// (`io::stdout()`, a `BufWriter` around a file, a pipe). Write errors are counted
/// ([`JsonLinesSink::write_errors`]) and logged once; they never reach the evaluation.
///
/// Fields, present only when known: `time` (RFC 3339, UTC), `flag_key`, `flag_type`, `value`,
/// `variant`, `reason`, `provider_reason` (a provider-specific reason as the provider wrote it),
/// `error_type`, `error_message`, `context_id`, `provider`, `client`, `set_id`, `version`,
/// `metadata`, `attributes` (custom attributes), `sample_rate` (behind a
/// [`SampledSink`](crate::SampledSink)). The evaluation context is never written.
///
/// ```
/// use openfeature_hooks_core::{JsonLinesSink, TelemetryHook};
///
/// let hook = TelemetryHook::builder()
///     .sink(JsonLinesSink::new(std::io::stdout()))
///     .build();
/// # drop(hook);
/// ```
pub struct JsonLinesSink<W> {
    writer: Mutex<W>,
    write_errors: AtomicU64,
}

impl<W: Write + Send + 'static> JsonLinesSink<W> {
    /// A sink writing to `writer`.
    pub fn new(writer: W) -> Self {
        Self {
            writer: Mutex::new(writer),
            write_errors: AtomicU64::new(0),
        }
    }

    /// How many lines could not be written.
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(Ordering::Relaxed)
    }

    /// Flushes the writer.
    ///
    /// # Errors
    /// The writer's flush error.
    pub fn flush(&self) -> std::io::Result<()> {
        self.lock().flush()
    }

    /// Gives the writer back (for example a `Vec<u8>` in a test).
    pub fn into_inner(self) -> W {
        self.writer
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, W> {
        // A panic while writing leaves at worst a partial line; keep writing.
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_line(&self, line: &[u8]) {
        if let Err(error) = self.lock().write_all(line)
            && self.write_errors.fetch_add(1, Ordering::Relaxed) == 0
        {
            log::error!(
                target: "openfeature_hooks",
                "JsonLinesSink cannot write, later errors are counted but not logged: {error}"
            );
        }
    }
}

impl<W: Write + Send + 'static> EvaluationSink for JsonLinesSink<W> {
    fn record(&self, record: &EvaluationRecord<'_>) {
        let line = RecordLine {
            time: Rfc3339::now(),
            record,
        };
        let reentered = LINE
            .try_with(|buffer| {
                let Ok(mut buffer) = buffer.try_borrow_mut() else {
                    return true;
                };
                buffer.clear();
                line.write_to(&mut buffer);
                self.write_line(&buffer);
                if buffer.capacity() > KEPT_BUFFER_CAPACITY {
                    *buffer = Vec::new();
                }
                false
            })
            .unwrap_or(true);
        if reentered {
            // The writer itself evaluated a flag, or the thread is shutting down.
            let mut buffer = Vec::new();
            line.write_to(&mut buffer);
            self.write_line(&buffer);
        }
    }
}

impl<W> std::fmt::Debug for JsonLinesSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesSink")
            .field("write_errors", &self.write_errors.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

struct RecordLine<'r, 'a> {
    time: Rfc3339,
    record: &'r EvaluationRecord<'a>,
}

impl RecordLine<'_, '_> {
    fn write_to(&self, buffer: &mut Vec<u8>) {
        if serde_json::to_writer(&mut *buffer, self).is_err() {
            // Only a failing `Serialize` of ours could get here; write a line that says so.
            buffer.clear();
            buffer.extend_from_slice(br#"{"error":"record not serialisable"}"#);
        }
        buffer.push(b'\n');
    }
}

impl Serialize for RecordLine<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.record;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("time", &format_args!("{}", self.time))?;
        map.serialize_entry("flag_key", r.flag_key)?;
        map.serialize_entry("flag_type", r.flag_type.as_str())?;
        if let Some(value) = r.value {
            map.serialize_entry("value", &JsonValue::new(value))?;
        }
        if let Some(variant) = r.variant {
            map.serialize_entry("variant", variant)?;
        }
        if let Some(reason) = &r.reason {
            map.serialize_entry("reason", reason.as_str())?;
        }
        if let Some(EvaluationReason::Other(raw)) = r.provider_reason {
            map.serialize_entry("provider_reason", raw)?;
        }
        if let Some(failure) = r.failure {
            map.serialize_entry("error_type", failure.error_type.as_str())?;
            if let Some(message) = failure.message {
                map.serialize_entry("error_message", message)?;
            }
        }
        if let Some(id) = &r.context_id {
            map.serialize_entry("context_id", id.as_str())?;
        }
        if let Some(provider) = r.provider_name {
            map.serialize_entry("provider", provider)?;
        }
        if let Some(client) = r.client_name {
            map.serialize_entry("client", client)?;
        }
        if let Some(set_id) = r.set_id {
            map.serialize_entry("set_id", &MetadataJson(set_id))?;
        }
        if let Some(version) = r.version {
            map.serialize_entry("version", &MetadataJson(version))?;
        }
        if let Some(metadata) = r.metadata {
            let mut entries: Vec<_> = metadata.values.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            map.serialize_entry("metadata", &MetadataMap(&entries))?;
        }
        if let Some(rate) = r.sample_rate {
            map.serialize_entry("sample_rate", &rate)?;
        }
        if !r.custom_attributes.is_empty() {
            map.serialize_entry("attributes", &CustomAttributesJson(r.custom_attributes))?;
        }
        map.end()
    }
}

struct MetadataJson<'a>(&'a FlagMetadataValue);

impl Serialize for MetadataJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            FlagMetadataValue::Bool(flag) => serializer.serialize_bool(*flag),
            FlagMetadataValue::Int(number) => serializer.serialize_i64(*number),
            FlagMetadataValue::Float(number) if number.is_finite() => {
                serializer.serialize_f64(*number)
            }
            FlagMetadataValue::Float(_) => serializer.serialize_unit(),
            FlagMetadataValue::String(text) => serializer.serialize_str(text),
        }
    }
}

struct MetadataMap<'a>(&'a [(&'a String, &'a FlagMetadataValue)]);

impl Serialize for MetadataMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, &MetadataJson(value))?;
        }
        map.end()
    }
}

struct CustomAttributesJson<'a>(&'a [crate::CustomAttribute]);

impl Serialize for CustomAttributesJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for attribute in self.0 {
            map.serialize_entry(&attribute.key, &JsonValue::new(&attribute.value))?;
        }
        map.end()
    }
}
