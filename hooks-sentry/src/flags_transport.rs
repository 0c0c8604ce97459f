//! Puts the flags context on the wire as Sentry's ingest reads it.
//!
//! sentry-rust's generic context (`Context::Other`) always serialises with `"type": "unknown"`,
//! and Sentry's ingest decides a context's kind from its `type` field: a flags context written
//! that way is stored as an unknown context (limited to 8 KiB, scrubbed as personal data) and
//! its flags are not indexed. Sentry's Python and JavaScript SDKs send the flags context with no
//! `type`, and ingest then falls back to the key, `flags`. sentry-rust has no typed flags
//! context and serialises events in the transport, so this transport step rewrites the one
//! item that needs it: the event, with its flags context's `type` removed. Every other item,
//! and every envelope without a flags context, passes through untouched.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use sentry::protocol::{Context, EnvelopeItem, Event, Value};
use sentry::{ClientOptions, Envelope, Transport, TransportFactory};

use crate::hub_flags::FLAGS_CONTEXT;
use crate::trace_flags;

/// A transport that sends the flags context as Sentry's ingest reads it, then hands every
/// envelope to the wrapped transport.
///
/// Install it with [`with_flags_context`], which wraps whatever transport the options would use.
pub struct FlagsContextTransport {
    inner: Arc<dyn Transport>,
}

impl FlagsContextTransport {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Transport>) -> Self {
        Self { inner }
    }
}

impl std::fmt::Debug for FlagsContextTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlagsContextTransport")
            .finish_non_exhaustive()
    }
}

impl Transport for FlagsContextTransport {
    fn send_envelope(&self, envelope: Envelope) {
        self.inner.send_envelope(rewrite(envelope));
    }

    fn flush(&self, timeout: Duration) -> bool {
        self.inner.flush(timeout)
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        self.inner.shutdown(timeout)
    }
}

/// Creates a [`FlagsContextTransport`] around the transport another factory creates.
#[derive(Clone)]
pub struct FlagsContextTransportFactory {
    inner: Arc<dyn TransportFactory>,
}

impl FlagsContextTransportFactory {
    /// Wraps the transports `inner` creates.
    pub fn new(inner: Arc<dyn TransportFactory>) -> Self {
        Self { inner }
    }
}

impl std::fmt::Debug for FlagsContextTransportFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlagsContextTransportFactory")
            .finish_non_exhaustive()
    }
}

impl TransportFactory for FlagsContextTransportFactory {
    fn create_transport_with_options(
        &self,
        options: sentry::TransportOptions,
    ) -> Arc<dyn Transport> {
        Arc::new(FlagsContextTransport::new(
            self.inner.create_transport_with_options(options),
        ))
    }
}

/// The options with the flags context completed and sent as Sentry reads it: use it on the
/// options given to `sentry::init`.
///
/// - The transport is wrapped in a step that writes each error event's flags context without
///   `type` (see the crate docs), then hands every envelope on unchanged otherwise. The
///   transport the options name is kept (Sentry's default transport when none is named, as
///   `sentry::init` would choose).
/// - A `before_send` step adds to each error event the flags its trace's finished nested spans
///   recorded in hubs of their own (as Sentry's span layer makes; see
///   [`MAX_TRACES_KEPT`](crate::MAX_TRACES_KEPT)) that the event does not carry yet. It runs
///   before the options' own `before_send`, which sees the flags and can remove them. Set that
///   one before calling this: a `before_send` set afterwards replaces the step.
///
/// ```
/// let options = openfeature_hooks_sentry::with_flags_context(sentry::ClientOptions::new());
/// // let _guard = sentry::init(options);
/// # drop(options);
/// ```
pub fn with_flags_context(options: ClientOptions) -> ClientOptions {
    let mut options = sentry::apply_defaults(options);
    if let Some(inner) = options.transport.take() {
        options.transport = Some(Arc::new(FlagsContextTransportFactory::new(inner)));
    }
    let then = options.before_send.take();
    options.before_send = Some(Arc::new(move |mut event| {
        trace_flags::add_trace_flags(&mut event);
        match &then {
            Some(then) => then(event),
            None => Some(event),
        }
    }));
    options
}

fn has_generic_flags_context(event: &Event<'_>) -> bool {
    matches!(event.contexts.get(FLAGS_CONTEXT), Some(Context::Other(_)))
}

/// The envelope with its event's flags context written without `type`.
fn rewrite(envelope: Envelope) -> Envelope {
    if !envelope.event().is_some_and(has_generic_flags_context) {
        return envelope;
    }
    let mut rest = Envelope::new().with_headers(envelope.headers().clone());
    let mut event_payload = None;
    for item in envelope.into_items() {
        match item {
            EnvelopeItem::Event(event) => match event_json(&event) {
                Some(payload) => event_payload = Some(payload),
                None => rest.add_item(*event),
            },
            other => rest.add_item(other),
        }
    }
    let Some(payload) = event_payload else {
        return rest;
    };
    let mut bytes = Vec::new();
    if rest.to_writer(&mut bytes).is_err() {
        return rest;
    }
    // `to_writer` writes the envelope headers on the first line, then the items: the event goes
    // first, as Sentry's SDKs send it.
    let headers_end = bytes
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |i| i + 1);
    let mut out = Vec::with_capacity(bytes.len() + payload.len() + 40);
    out.extend_from_slice(&bytes[..headers_end]);
    let _ = writeln!(out, r#"{{"type":"event","length":{}}}"#, payload.len());
    out.extend_from_slice(&payload);
    out.push(b'\n');
    out.extend_from_slice(&bytes[headers_end..]);
    Envelope::from_bytes_raw(out).unwrap_or(rest)
}

/// The event as JSON with `contexts.flags.type` removed.
fn event_json(event: &Event<'_>) -> Option<Vec<u8>> {
    let mut value = serde_json::to_value(event).ok()?;
    if let Some(flags) = value
        .pointer_mut(&format!("/contexts/{FLAGS_CONTEXT}"))
        .and_then(Value::as_object_mut)
    {
        flags.remove("type");
    }
    serde_json::to_vec(&value).ok()
}
