//! OpenTelemetry exporters that accept and drop everything: benches and soaks measure the hook and
//! the SDK's processors, not a network.

use std::hint::black_box;

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
