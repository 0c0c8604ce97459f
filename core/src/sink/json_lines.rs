//! A sink that writes each record as one line of JSON, formatted and written on its own thread.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use open_feature::{EvaluationContext, EvaluationReason, FlagMetadataValue};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::queue::background_worker::{BackgroundStats, Drain};
use crate::queue::lazy_worker::LazyWorker;
use crate::record::timestamp::{Rfc3339Text, Rfc3339Writer};
use crate::sink::json_object::JsonObject;
use crate::{EvaluationRecord, EvaluationSink, FlushOutcome, JsonValue, QueuedRecord};

/// The worker writes its lines in one `write_all` once this many bytes are waiting, or when
/// the queue runs empty; a buffer grown past it by one huge line is released after the write.
const WRITE_CHUNK: usize = 64 * 1024;

/// Writes every record as one JSON object per line (JSON Lines) to any `io::Write`.
///
/// Useful to export evaluations for analysis (which context got which variant, and why), and as
/// the simplest sink to see what the hook records.
///
/// # Off the evaluation path
///
/// The evaluation only captures the record ([`QueuedRecord`]: its texts copied into one buffer
/// and the time of the evaluation) into a bounded queue; a background thread
/// (`openfeature-json-lines`) formats the lines and writes them, several lines per `write_all`,
/// then flushes the writer when the queue runs empty. A slow or blocked writer (a full pipe, a
/// stalled disk) therefore never slows an evaluation: the queue fills and further records are
/// dropped and counted ([`JsonLinesSink::stats`]). Lines never interleave: one thread writes
/// them all.
///
/// - Wait for delivery with [`JsonLinesSink::flush`] (bounded by its timeout); dropping the
///   last clone of the sink (and of the hook holding it) writes out what is queued and stops
///   the thread, waiting at most
///   [`SHUTDOWN_TIMEOUT`](crate::queue::background_worker::SHUTDOWN_TIMEOUT).
/// - Write errors are counted ([`JsonLinesSink::write_errors`], per line) and logged once.
/// - For long exports, rotate files with any `io::Write` that rotates, such as
///   `tracing_appender::rolling::RollingFileAppender` (`rolling::daily(dir, "flags.jsonl")`).
///   Its own non-blocking writer is not needed here: it queues lines already formatted, and
///   this sink's thread already keeps both formatting and writing off the evaluation path.
///
/// Fields, present only when known: `time` (RFC 3339, UTC, the evaluation's), `flag_key`,
/// `flag_type`, `value`, `variant`, `reason`, `provider_reason` (a provider-specific reason as
/// the provider wrote it), `error_type`, `error_message`, `context_id`, `provider`, `client`,
/// `set_id`, `version`, `metadata`, `attributes` (custom attributes), `sample_rate` (behind a
/// [`SampledSink`](crate::SampledSink)). The evaluation context is never written.
///
/// ```
/// use std::time::Duration;
/// use openfeature_hooks_core::{JsonLinesSink, TelemetryHook};
///
/// let lines = JsonLinesSink::new(std::io::stdout());
/// let hook = TelemetryHook::builder().sink(lines.clone()).build();
/// // ... evaluate flags, then, before reading the output:
/// assert!(lines.flush(Duration::from_secs(5)).is_complete());
/// # drop(hook);
/// ```
#[derive(Clone)]
pub struct JsonLinesSink {
    /// Started by the first record, so that the options can be set after `new`.
    worker: LazyWorker<QueuedRecord>,
    /// The writer, until the first record hands it to the thread.
    writer: Arc<Mutex<Option<Box<dyn Write + Send>>>>,
    lines: Arc<LineCounts>,
}

/// Lines the writer took, and lines it failed to take.
#[derive(Debug, Default)]
struct LineCounts {
    written: AtomicU64,
    write_errors: AtomicU64,
}

impl JsonLinesSink {
    /// A sink writing to `writer`, with a queue of
    /// [`DEFAULT_QUEUE_CAPACITY`](crate::DEFAULT_QUEUE_CAPACITY) records. Its thread
    /// (`openfeature-json-lines`) starts with the first record.
    pub fn new(writer: impl Write + Send + 'static) -> Self {
        Self {
            worker: LazyWorker::new("openfeature-json-lines"),
            writer: Arc::new(Mutex::new(Some(Box::new(writer)))),
            lines: Arc::new(LineCounts::default()),
        }
    }

    /// At most `capacity` records waiting to be written (default
    /// [`DEFAULT_QUEUE_CAPACITY`](crate::DEFAULT_QUEUE_CAPACITY)); past that, records are
    /// dropped and counted. Set it before the first evaluation.
    #[must_use]
    pub fn with_queue_capacity(self, capacity: usize) -> Self {
        Self {
            worker: self.worker.with_capacity(capacity),
            ..self
        }
    }

    /// The drain of the thread the first record starts: it takes the writer.
    fn line_writer(&self) -> LineWriter<Box<dyn Write + Send>> {
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            // Only when the capacity was changed after the first record started a thread with
            // the writer: this one's lines are counted as write errors.
            .unwrap_or_else(|| Box::new(WriterTaken));
        LineWriter {
            writer,
            buffer: Vec::new(),
            lines: 0,
            counts: self.lines.clone(),
            context: EvaluationContext::default(),
            times: Rfc3339Writer::default(),
        }
    }

    /// How many lines could not be written.
    pub fn write_errors(&self) -> u64 {
        self.lines.write_errors.load(Ordering::Relaxed)
    }

    /// The queue's counters: records dropped because it was full, lines the writer took
    /// (`handled`: formatted lines still in the sink's buffer are not), and lines it failed to
    /// take (`lost`, the same as [`write_errors`](Self::write_errors)).
    pub fn stats(&self) -> BackgroundStats {
        BackgroundStats {
            handled: self.lines.written.load(Ordering::Acquire),
            lost: self.write_errors(),
            ..self.worker.stats()
        }
    }

    /// Waits until every record queued before this call is written and the writer flushed, at
    /// most `timeout`, and says how many were left (a blocked writer). Not for the evaluation
    /// path.
    pub fn flush(&self, timeout: Duration) -> FlushOutcome {
        FlushOutcome::of_queue(self.worker.flush(timeout), self.stats())
    }
}

impl EvaluationSink for JsonLinesSink {
    fn record(&self, record: &EvaluationRecord<'_>) {
        self.worker
            .try_send_with(|| QueuedRecord::capture(record), || self.line_writer());
    }

    fn flush(&self, timeout: Duration) -> FlushOutcome {
        JsonLinesSink::flush(self, timeout)
    }

    fn lost(&self) -> u64 {
        self.write_errors()
    }
}

impl std::fmt::Debug for JsonLinesSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesSink")
            .field("write_errors", &self.write_errors())
            .field("stats", &self.worker.stats())
            .finish_non_exhaustive()
    }
}

/// The writer of a sink whose writer already went to another thread.
struct WriterTaken;

impl Write for WriterTaken {
    fn write(&mut self, _bytes: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other(
            "the writer went to the thread of the sink's first queue",
        ))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The background side: formats lines into one buffer and writes them in chunks.
struct LineWriter<W> {
    writer: W,
    buffer: Vec<u8>,
    /// Lines in `buffer`, to count them written or failed.
    lines: u64,
    counts: Arc<LineCounts>,
    /// The empty context records are lent (the evaluation's is not captured).
    context: EvaluationContext,
    /// Formats the records' times.
    times: Rfc3339Writer,
}

impl<W: Write> LineWriter<W> {
    fn write_out(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        match self.writer.write_all(&self.buffer) {
            Ok(()) => {
                self.counts.written.fetch_add(self.lines, Ordering::Release);
            }
            Err(error) => {
                if self
                    .counts
                    .write_errors
                    .fetch_add(self.lines, Ordering::Relaxed)
                    == 0
                {
                    log::error!(
                        target: "openfeature_hooks",
                        "JsonLinesSink cannot write, later errors are counted but not logged: {error}"
                    );
                }
            }
        }
        self.buffer.clear();
        self.lines = 0;
        if self.buffer.capacity() > WRITE_CHUNK * 2 {
            self.buffer = Vec::new();
        }
    }
}

impl<W: Write + Send + 'static> Drain<QueuedRecord> for LineWriter<W> {
    fn handle(&mut self, queued: QueuedRecord) {
        let line = RecordLine {
            time: self.times.text(queued.time()),
            record: &queued.record(&self.context),
        };
        line.write_to(&mut self.buffer);
        self.lines += 1;
        if self.buffer.len() >= WRITE_CHUNK {
            self.write_out();
        }
    }

    fn idle(&mut self) {
        self.write_out();
        let _ = self.writer.flush();
    }
}

struct RecordLine<'r, 'a> {
    time: Rfc3339Text,
    record: &'r EvaluationRecord<'a>,
}

impl RecordLine<'_, '_> {
    /// Appends the record as one JSON object and a newline.
    fn write_to(&self, buffer: &mut Vec<u8>) {
        let start = buffer.len();
        if !self.write_object(buffer) {
            // Only a failing `Serialize` of ours could get here; write a line that says so.
            buffer.truncate(start);
            buffer.extend_from_slice(br#"{"error":"record not serialisable"}"#);
        }
        buffer.push(b'\n');
    }

    fn write_object(&self, buffer: &mut Vec<u8>) -> bool {
        let r = self.record;
        let mut line = JsonObject::start(buffer);
        line.plain_string("time", self.time.as_str());
        line.string("flag_key", r.flag_key);
        line.string("flag_type", r.flag_type.as_str());
        if let Some(value) = r.value {
            line.value("value", &JsonValue::new(value));
        }
        if let Some(variant) = r.variant {
            line.string("variant", variant);
        }
        if let Some(reason) = &r.reason {
            line.string("reason", reason.as_str());
        }
        if let Some(EvaluationReason::Other(raw)) = r.provider_reason {
            line.string("provider_reason", raw);
        }
        if let Some(failure) = r.failure {
            line.string("error_type", failure.error_type.as_str());
            if let Some(message) = failure.message {
                line.string("error_message", message);
            }
        }
        if let Some(id) = &r.context_id {
            line.string("context_id", id.as_str());
        }
        if let Some(provider) = r.provider_name {
            line.string("provider", provider);
        }
        if let Some(client) = r.client_name {
            line.string("client", client);
        }
        if let Some(set_id) = r.set_id {
            line.value("set_id", &MetadataJson(set_id));
        }
        if let Some(version) = r.version {
            line.value("version", &MetadataJson(version));
        }
        if let Some(metadata) = r.metadata {
            let mut entries: Vec<_> = metadata.values.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            line.value("metadata", &MetadataMap(&entries));
        }
        if let Some(rate) = r.sample_rate {
            line.value("sample_rate", &rate);
        }
        if !r.custom_attributes.is_empty() {
            line.value("attributes", &CustomAttributesJson(r.custom_attributes));
        }
        line.end()
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
