//! The builder of [`TelemetryHook`].

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64};

use open_feature::HookContext;

use crate::hook::after_marks::AfterMarks;
use crate::hook::evaluation_start::StartTimes;
use crate::hook::telemetry_hook::{AttributesCallback, FlagFilter, HookInner};
use crate::panic_guard::PanicGuard;
use crate::record::normaliser::Normaliser;
use crate::{
    Attribute, ContextIdPolicy, CustomAttribute, EvaluationQueue, EvaluationRecord, EvaluationSink,
    MAX_QUEUED_SINKS, OwnCacheLines, QueuedPart, Reason, ReasonTable, TelemetryHook,
};

/// Configures a [`TelemetryHook`]: its sinks, and the options every sink shares.
///
/// ```
/// use openfeature_hooks_core::{
///     Attribute, ContextIdKey, ContextIdPolicy, CustomAttribute, JsonLinesSink, Reason,
///     TelemetryHook,
/// };
///
/// let hook = TelemetryHook::builder()
///     .sink(JsonLinesSink::new(std::io::sink()))
///     .exclude(Attribute::Value)
///     .context_id(ContextIdPolicy::hashed(ContextIdKey::from_bytes([42; 16])))
///     .reason("HOLDOUT", Reason::Split)
///     .flag_filter(|key| !key.starts_with("internal."))
///     .custom_attributes(|_context, record| {
///         vec![CustomAttribute::new("app.flag.owner", if record.flag_key.starts_with("pay") { "payments" } else { "web" })]
///     })
///     .build();
/// # drop(hook);
/// ```
#[must_use]
#[derive(Default)]
pub struct TelemetryHookBuilder {
    sinks: Vec<Box<dyn EvaluationSink>>,
    normaliser: Normaliser,
    flag_filter: Option<Box<FlagFilter>>,
    custom_attributes: Option<Box<AttributesCallback>>,
}

impl TelemetryHookBuilder {
    /// Adds a sink. Every sink receives every record; the evaluation is normalised once.
    pub fn sink(mut self, sink: impl EvaluationSink) -> Self {
        // Each sink on cache lines of its own: every evaluation reads it, and a small
        // allocation shares its line with the next one, which another thread may write.
        self.sinks.push(Box::new(OwnCacheLines(sink)));
        self
    }

    /// Replaces the reason table (default: [`ReasonTable::builtin`]).
    pub fn reasons(mut self, table: ReasonTable) -> Self {
        self.normaliser.reasons = table;
        self
    }

    /// Adds one row to the reason table: `provider_reason` (any case) means `reason`.
    pub fn reason(
        mut self,
        provider_reason: impl Into<Cow<'static, str>>,
        reason: Reason<'static>,
    ) -> Self {
        self.normaliser.reasons = self.normaliser.reasons.with(provider_reason, reason);
        self
    }

    /// What to do with the context id (default: [`ContextIdPolicy::Omit`]).
    pub fn context_id(mut self, policy: ContextIdPolicy) -> Self {
        self.normaliser.context_id = policy;
        self
    }

    /// Leaves `attribute` out of every record, for every sink.
    pub fn exclude(mut self, attribute: Attribute) -> Self {
        self.normaliser.excluded = self.normaliser.excluded.with(attribute);
        self
    }

    /// Records only flags whose key passes `filter`. A filter that panics is reported once and
    /// counts as passing.
    pub fn flag_filter(mut self, filter: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.flag_filter = Some(Box::new(filter));
        self
    }

    /// Adds attributes to every record, computed from the hook context and the record (for
    /// example from flag metadata or the evaluation context). A callback that panics is reported
    /// once; that record then has no custom attributes.
    pub fn custom_attributes(
        mut self,
        callback: impl Fn(&HookContext<'_>, &EvaluationRecord<'_>) -> Vec<CustomAttribute>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.custom_attributes = Some(Box::new(callback));
        self
    }

    /// Builds the hook.
    ///
    /// The first hook built in a process calibrates the evaluation clock against the OS clock:
    /// about 0.6 ms on the bench machine, 200 ms at most, once per process, so that no
    /// evaluation waits for it.
    pub fn build(self) -> TelemetryHook {
        crate::speed::tick_clock::calibrate();
        let needs_start = self.sinks.iter().any(|sink| sink.needs_start());
        let (sinks, called, queue) = queue_the_queued(self.sinks);
        TelemetryHook::from_inner(HookInner {
            starts: needs_start.then(StartTimes::default),
            normaliser: self.normaliser,
            sinks: sinks.into_boxed_slice(),
            called,
            queue,
            flag_filter: self.flag_filter,
            custom_attributes: self.custom_attributes,
            marks: AfterMarks::default(),
            filter_guard: PanicGuard::new("the flag filter"),
            attributes_guard: PanicGuard::new("the custom-attributes callback"),
            sink_guard: PanicGuard::new("an evaluation sink"),
            closed: AtomicBool::new(false),
            after_shutdown: AtomicU64::new(0),
        })
    }
}

/// Orders the sinks the hook calls before the queued sinks it serves through one queue (see
/// [`QueuedSink`](crate::QueuedSink)), and counts the former; past [`MAX_QUEUED_SINKS`], sinks
/// keep their own queue.
fn queue_the_queued(
    sinks: Vec<Box<dyn EvaluationSink>>,
) -> (Vec<Box<dyn EvaluationSink>>, usize, Option<EvaluationQueue>) {
    let mut called = Vec::with_capacity(sinks.len());
    let mut members = Vec::new();
    let mut queued: Vec<QueuedPart> = Vec::new();
    for sink in sinks {
        match sink.queued() {
            Some(part) if queued.len() < MAX_QUEUED_SINKS => {
                queued.push(part);
                members.push(sink);
            }
            _ => called.push(sink),
        }
    }
    let count = called.len();
    called.extend(members);
    if queued.is_empty() {
        return (called, count, None);
    }
    let queue = EvaluationQueue::new(
        "openfeature-hook",
        queued.iter().map(|part| part.sink.clone()).collect(),
    );
    for part in &queued {
        part.membership.joined(&queue);
    }
    (called, count, Some(queue))
}

impl std::fmt::Debug for TelemetryHookBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryHookBuilder")
            .field("sinks", &self.sinks.len())
            .field("normaliser", &self.normaliser)
            .field("flag_filter", &self.flag_filter.is_some())
            .field("custom_attributes", &self.custom_attributes.is_some())
            .finish()
    }
}
