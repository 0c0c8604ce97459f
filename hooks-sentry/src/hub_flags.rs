//! One flag buffer per Sentry hub, and the event processor that puts it on error events.
//!
//! # Isolation, and why it works this way
//!
//! A Rust server isolates a request in a hub (sentry-tower and friends create one per request
//! with `Hub::new_from_top`; async code binds one with `bind_hub`). sentry-rust offers no place
//! in a scope for data of our own that can be read back cheaply (reading contexts means cloning
//! all of them, about 43 µs with 100 flags), so each hub's buffer lives here, found by the hub's
//! address, and is handed to Sentry through an event processor:
//!
//! - the first flag recorded in a hub adds, once, a processor to the hub's scope that merges
//!   that hub's buffer into the event's `flags` context;
//! - a hub made from another starts with a copy of its top scope, processors included, so at
//!   capture the processors of the ancestors run first, then the hub's own: the event shows the
//!   ancestors' flags, overridden and extended by the hub's own, the newest 100 kept;
//! - adding a processor copies the scope's processor list on write, so a child's processor never
//!   reaches its parent's or a sibling's scope: what a child records never shows up there.
//!
//! Unlike Python's copy at fork, an ancestor's later evaluations are seen by a child (its
//! processor reads the ancestor's live buffer). When a nested span's hub (its active span a
//! child span) is dropped, its flags are kept for the span's trace and reach the trace's later
//! errors through `with_flags_context` (see `trace_flags`): such a child's flags then reach
//! its parent. Transactions run no event processors, so they never carry the flags context, as
//! Sentry's SDK spec asks.
//!
//! If a hub's first flag is recorded while a pushed scope (`with_scope`, `push_scope`) is on top,
//! the processor goes to that pushed scope and leaves with it; the hub's next flag then
//! registers the hub again, with a processor in the scope on top by then. The same happens when
//! a scope's processors are cleared (`Scope::clear`).
//!
//! # Bounds, and when a hub is forgotten
//!
//! Each buffer holds at most its capacity. The registry holds a weak reference per hub (so an
//! address is never reused while it is known). The processor owns the hub's registration: when
//! the last scope carrying it is dropped (the hub, and every hub made from it, are gone; or the
//! processor was cleared or popped), the registry forgets the hub, on whichever thread dropped
//! the scope. The buffer is freed then, or, if a thread's cache of recent hubs still holds it,
//! when another hub takes its slot there (at most 16 buffers a thread). Evaluations no longer
//! pay for the forgetting: a sweep of every registered hub used to run on the evaluation that
//! found a shard grown, about 100 ns of a request hub's first flag in the `full_stack` bench.
//! The sweep stays as a safety net for hubs whose scopes are never dropped.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

use openfeature_hooks_core::__private::{FastBuildHasher, fibonacci_index};
use sentry::protocol::{Context, Event, Map, Value};
use sentry::{Client, Hub, TracesSamplingStrategy, TransactionOrSpan};

use crate::flag_buffer::FlagBuffer;
use crate::trace_flags;

/// The name of the context Sentry reads flags from.
pub const FLAGS_CONTEXT: &str = "flags";

/// One hub's flags.
#[derive(Debug)]
pub(crate) struct HubFlags {
    buffer: Mutex<FlagBuffer>,
    /// Whether the hub's client can send spans, read when the hub records its first flag.
    sends_spans: bool,
    /// Set when no scope carries this buffer's event processor any more: what is recorded
    /// here would reach no event, so the hub must be registered again.
    orphaned: AtomicBool,
}

impl HubFlags {
    fn new(capacity: usize, sends_spans: bool) -> Self {
        Self {
            buffer: Mutex::new(FlagBuffer::new(capacity)),
            sends_spans,
            orphaned: AtomicBool::new(false),
        }
    }

    fn is_orphaned(&self) -> bool {
        self.orphaned.load(Ordering::Relaxed)
    }

    pub(crate) fn buffer(&self) -> MutexGuard<'_, FlagBuffer> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Merges this hub's flags into the event's flags context (after its ancestors').
    fn merge_into(&self, event: &mut Event<'static>) {
        let buffer = self.buffer();
        if buffer.is_empty() {
            return;
        }
        let Some(values) = flags_context_values(event) else {
            return;
        };
        for (name, result) in buffer.iter() {
            values.retain(|entry| flag_of_entry(entry) != Some(name));
            values.push(flag_entry(name.to_owned(), result.clone()));
        }
        let excess = values.len().saturating_sub(buffer.capacity());
        values.drain(..excess);
    }
}

/// The `values` list of the event's flags context, made if missing; `None` if another context
/// of that name is in the way.
pub(crate) fn flags_context_values<'e>(
    event: &'e mut Event<'static>,
) -> Option<&'e mut Vec<Value>> {
    let context = event
        .contexts
        .entry(FLAGS_CONTEXT.to_owned())
        .or_insert_with(|| Context::Other(Map::new()));
    let Context::Other(fields) = context else {
        return None;
    };
    let values = fields
        .entry("values".to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !values.is_array() {
        *values = Value::Array(Vec::new());
    }
    values.as_array_mut()
}

/// One entry of the flags context: `{"flag": name, "result": result}`.
pub(crate) fn flag_entry(name: String, result: Value) -> Value {
    let mut entry = serde_json::Map::new();
    entry.insert("flag".to_owned(), Value::String(name));
    entry.insert("result".to_owned(), result);
    Value::Object(entry)
}

/// The flag name of an entry of the flags context (see [`flag_entry`]).
pub(crate) fn flag_of_entry(entry: &Value) -> Option<&str> {
    entry.get("flag").and_then(Value::as_str)
}

const SHARDS: usize = 8;

type Shard = HashMap<usize, (Weak<Hub>, Arc<HubFlags>), FastBuildHasher>;

#[derive(Default)]
struct Registry {
    shards: [Mutex<(Shard, usize)>; SHARDS],
}

static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// Hubs a thread keeps at hand (see [`RECENT`]).
const RECENT_HUBS: usize = 16;

/// A thread's recent hubs and their flags, each in the slot its address maps to.
type RecentHubs = [Option<(Weak<Hub>, Arc<HubFlags>)>; RECENT_HUBS];

thread_local! {
    /// The hubs this thread recorded for lately, and their flags: most evaluations find theirs
    /// here. An async runtime's worker interleaves requests, each in its own hub, so one slot
    /// would miss at nearly every evaluation of two interleaved requests, and a miss asks the
    /// registry, under a lock shared with every thread (~100 ns in `sentry_sink`'s
    /// `sentry_sink_requests_interleaved`). The weak reference keeps a hub's address from
    /// being reused while its slot holds it; a slot holds a dead hub's buffer until another
    /// hub takes the slot.
    static RECENT: RefCell<RecentHubs> = const { RefCell::new([const { None }; RECENT_HUBS]) };
}

fn address(hub: &Arc<Hub>) -> usize {
    Arc::as_ptr(hub) as usize
}

/// The slot of [`RECENT`] that `hub` maps to.
fn recent_slot(hub: &Arc<Hub>) -> usize {
    fibonacci_index(address(hub) as u64, RECENT_HUBS)
}

/// A hub's registration, owned by the hub's event processor: dropped with the last scope that
/// carries the processor, it makes the registry forget the hub, and keeps the hub's flags for
/// its trace (see `trace_flags`).
struct Registration {
    key: usize,
    flags: Arc<HubFlags>,
    /// The child span active when the hub recorded its first flag: its trace keeps the flags
    /// (see `trace_flags`).
    span: Option<TransactionOrSpan>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.flags.orphaned.store(true, Ordering::Relaxed);
        if let Some(registry) = REGISTRY.get() {
            registry.forget(self.key, &self.flags);
        }
        if let Some(span) = &self.span {
            trace_flags::keep(span, &self.flags.buffer());
        }
    }
}

/// A hub's active span, when this evaluation has already read it.
pub(crate) enum ActiveSpan {
    /// Not read yet: ask the hub.
    Unread,
    /// Read while adding the hub's event processor: one copy of the scope serves both.
    Read(Option<TransactionOrSpan>),
}

impl Registry {
    fn shard(&self, key: usize) -> MutexGuard<'_, (Shard, usize)> {
        const { assert!(SHARDS.is_power_of_two()) };
        self.shards[fibonacci_index(key as u64, SHARDS)]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets the hub at `key` if `flags` are still its flags.
    fn forget(&self, key: usize, flags: &Arc<HubFlags>) {
        let mut guard = self.shard(key);
        let (shard, _) = &mut *guard;
        if shard
            .get(&key)
            .is_some_and(|(_, known)| Arc::ptr_eq(known, flags))
        {
            // Dropping the entry outside the lock: its weak reference may free the hub's
            // memory.
            let entry = shard.remove(&key);
            drop(guard);
            drop(entry);
        }
    }

    /// The flags of `hub`, whose client is `client`: registered, and its event processor added,
    /// on its first flag (or again once its processor has left it). The shard's lock is never
    /// held while a hub is asked anything: a hub's own lock is held when a scope drop forgets a
    /// hub, which takes the shard's lock.
    fn flags_of(
        &self,
        hub: &Arc<Hub>,
        client: &Client,
        capacity: usize,
    ) -> (Arc<HubFlags>, ActiveSpan) {
        let key = address(hub);
        let installed = {
            let mut guard = self.shard(key);
            let (shard, sweep_at) = &mut *guard;
            if let Some((_, flags)) = shard.get(&key)
                && !flags.is_orphaned()
            {
                return (flags.clone(), ActiveSpan::Unread);
            }
            if shard.len() >= (*sweep_at).max(64) {
                shard.retain(|_, (hub, _)| hub.strong_count() > 0);
                *sweep_at = shard.len() * 2;
            }
            let flags = Arc::new(HubFlags::new(capacity, sends_spans(client)));
            shard.insert(key, (Arc::downgrade(hub), flags.clone()));
            flags
        };
        let span = hub.configure_scope(|scope| {
            let span = scope.get_span();
            let registration = Registration {
                key,
                flags: installed.clone(),
                span: span
                    .as_ref()
                    .filter(|span| trace_flags::is_kept_under(span))
                    .cloned(),
            };
            scope.add_event_processor(move |mut event| {
                registration.flags.merge_into(&mut event);
                Some(event)
            });
            span
        });
        (installed, ActiveSpan::Read(span))
    }
}

/// Whether spans started under `client` can ever be sent: not when its tracing is disabled
/// (`TracesSamplingStrategy::Disabled`, Sentry's default without a `traces_sample_rate` or
/// `traces_sampler`), which ignores every span when it finishes. A fixed rate of 0 still
/// follows a sampled parent, so only `Disabled` counts.
fn sends_spans(client: &Client) -> bool {
    !matches!(
        client.options().traces_sampling_strategy,
        TracesSamplingStrategy::Disabled
    )
}

/// `hub`'s client, if it sends events: what `Hub::with_active` asks.
fn enabled_client(hub: &Hub) -> Option<Arc<Client>> {
    hub.client().filter(|client| client.is_enabled())
}

/// Runs `f` with the flags of the current hub, if Sentry is active on it.
///
/// Whether the hub has an enabled client is asked only when the hub is not at hand in the
/// thread's cache (mostly its first flag), not on every evaluation: `Hub::with_active` asks
/// each time, read-locking the hub's stack and the client's transport slot (the slot's lock is
/// shared by every thread using that client); `perf` put the two at about 20 ns of the sink's
/// ~245 in the every-backend bench. A hub whose client is closed or unbound later keeps filling
/// its bounded buffer, which nothing reads without a client.
pub(crate) fn with_current_hub_flags<R: Default>(
    capacity: usize,
    f: impl FnOnce(&Arc<Hub>, &HubFlags, ActiveSpan) -> R,
) -> R {
    let hub = &Hub::current();
    let slot = recent_slot(hub);
    // The common case: one of this thread's recent hubs. `f` runs under the borrow, so the
    // flags' reference count is not touched; `f` never re-enters this function.
    let mut f = Some(f);
    let cached = RECENT.with(|recent| {
        let recent = recent.try_borrow().ok()?;
        let (known, flags) = recent[slot].as_ref()?;
        if known.as_ptr() != Arc::as_ptr(hub) || flags.is_orphaned() {
            return None;
        }
        f.take().map(|f| f(hub, flags, ActiveSpan::Unread))
    });
    if let Some(result) = cached {
        return result;
    }
    // Not at hand: mostly a hub's first flag, so its client is asked before the registry.
    let Some(client) = enabled_client(hub) else {
        return R::default();
    };
    let (flags, span) = REGISTRY
        .get_or_init(Registry::default)
        .flags_of(hub, &client, capacity);
    let replaced = RECENT.with(|recent| {
        let mut recent = recent.try_borrow_mut().ok()?;
        recent[slot].replace((Arc::downgrade(hub), flags.clone()))
    });
    let result = f.map(|f| f(hub, &flags, span)).unwrap_or_default();
    // A dead hub's buffer, if the slot held one, is freed after the evaluation's own work.
    drop(replaced);
    result
}

/// Records `name` = `result` in the current hub: its buffer, and (when `spans`) its active span.
/// One path for the sink and for `add_feature_flag`.
pub(crate) fn record_flag(capacity: usize, name: &str, result: Value, spans: bool) {
    with_current_hub_flags(capacity, |hub, flags, span| {
        flags.buffer().set(name, result.clone());
        // Finding the active span clones the hub's scope (about half of this function's
        // cost): skipped where no span can be sent.
        if spans && flags.sends_spans {
            crate::span_flags::record_on_active_span(hub, span, name, result);
        }
    });
}

#[cfg(test)]
mod tests {
    use sentry::ClientOptions;
    use sentry::test::TestTransport;

    use super::*;

    fn hub() -> Arc<Hub> {
        let mut options = ClientOptions::new().dsn("https://public@sentry.invalid/1");
        options.transport = Some(Arc::new(TestTransport::new()));
        Arc::new(Hub::new(
            Some(Arc::new(Client::from(options))),
            Arc::new(Default::default()),
        ))
    }

    /// Whether the registry holds `flags` under `key` (another test's hub may be registered at
    /// the same address once ours is gone).
    fn registered(key: usize, flags: &Weak<HubFlags>) -> bool {
        REGISTRY.get().is_some_and(|registry| {
            registry
                .shard(key)
                .0
                .get(&key)
                .is_some_and(|(_, known)| Arc::as_ptr(known) == flags.as_ptr())
        })
    }

    /// The flags this thread's cache holds for `hub`.
    fn recent_flags(hub: &Arc<Hub>) -> Option<Weak<HubFlags>> {
        RECENT.with(|recent| {
            recent.borrow()[recent_slot(hub)]
                .as_ref()
                .filter(|(known, _)| known.as_ptr() == Arc::as_ptr(hub))
                .map(|(_, flags)| Arc::downgrade(flags))
        })
    }

    #[test]
    fn a_dropped_hub_is_forgotten_and_its_flags_freed_off_the_evaluation_path() {
        let first = hub();
        let (key, slot) = (address(&first), recent_slot(&first));
        let flags = Hub::run(first.clone(), || {
            record_flag(10, "a", Value::Bool(true), false);
            recent_flags(&first)
        });
        let Some(flags) = flags else {
            panic!("no flags recorded");
        };
        assert!(registered(key, &flags));
        drop(first);
        assert!(
            !registered(key, &flags),
            "forgotten when the hub was dropped"
        );
        assert!(flags.upgrade().is_some_and(|flags| flags.is_orphaned()));
        // The thread's cache held the last reference; a hub taking its slot lets it go. All
        // hubs made are kept alive while one is picked, so that no address is handed out twice.
        let made: Vec<Arc<Hub>> = std::iter::repeat_with(hub).take(1_000).collect();
        let Some(other) = made
            .iter()
            .find(|other| recent_slot(other) == slot)
            .cloned()
        else {
            panic!("no hub mapped to slot {slot}");
        };
        Hub::run(other, || record_flag(10, "b", Value::Bool(true), false));
        assert!(flags.upgrade().is_none(), "the buffer was freed");
    }

    #[test]
    fn interleaved_hubs_stay_in_the_thread_cache() {
        // All kept alive while four are picked, so that no address is handed out twice.
        let made: Vec<Arc<Hub>> = std::iter::repeat_with(hub).take(64).collect();
        let mut slots = Vec::new();
        let hubs: Vec<&Arc<Hub>> = made
            .iter()
            .filter(|hub| {
                let slot = recent_slot(hub);
                let free = !slots.contains(&slot);
                slots.push(slot);
                free
            })
            .take(4)
            .collect();
        assert_eq!(hubs.len(), 4, "four hubs in four slots");
        for round in 0..3 {
            for &hub in &hubs {
                Hub::run(hub.clone(), || {
                    record_flag(10, "a", Value::Bool(round % 2 == 0), false);
                });
            }
        }
        for &hub in &hubs {
            let Some(flags) = recent_flags(hub).and_then(|flags| flags.upgrade()) else {
                panic!("a hub left the cache");
            };
            // Registered once: the cache and the registry hold the same buffer.
            assert!(registered(address(hub), &Arc::downgrade(&flags)));
        }
    }

    #[test]
    fn a_hub_alive_after_its_processor_was_cleared_is_registered_again() {
        let hub = hub();
        let key = address(&hub);
        Hub::run(hub.clone(), || {
            record_flag(10, "a", Value::Bool(true), false);
            let Some(first) = recent_flags(&hub) else {
                panic!("no flags recorded");
            };
            sentry::configure_scope(|scope| scope.clear());
            assert!(!registered(key, &first), "forgotten with its processor");
            record_flag(10, "b", Value::Bool(true), false);
            let Some(second) = recent_flags(&hub) else {
                panic!("no flags recorded");
            };
            assert!(!second.ptr_eq(&first), "a new buffer");
            assert!(registered(key, &second));
        });
    }
}
