//! OpenTelemetry exporters that accept and drop everything (benches and soaks measure the hook and
//! the SDK's processors, not a network), and one that counts what it was handed (shutdown and
//! burst tests, where the SDK's in-memory exporter would empty itself on shutdown).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// A log exporter that drops every batch.
#[derive(Clone, Copy, Debug, Default)]
pub struct DropLogs;

impl LogExporter for DropLogs {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// A span exporter that drops every batch.
#[derive(Clone, Copy, Debug, Default)]
pub struct DropSpans;

impl SpanExporter for DropSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// A log exporter that counts the records it is handed and drops them. Clones share the count,
/// which survives the provider's shutdown.
#[derive(Clone, Debug, Default)]
pub struct CountingLogs(Arc<AtomicU64>);

impl CountingLogs {
    /// How many records were exported so far.
    pub fn exported(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl LogExporter for CountingLogs {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        self.0
            .fetch_add(batch.iter().count() as u64, Ordering::SeqCst);
        Ok(())
    }
}
