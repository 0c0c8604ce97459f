//! When each evaluation started: carried from the `before` stage to the record.
//!
//! # Why this exists, and why it is correct
//!
//! Spans and duration histograms need the time `before` ran, but `open-feature` 0.3 has no hook
//! data and hands `before` a different `HookContext` from the later stages, so the address trick
//! of `after_marks` does not reach it. What `before` and `after`/`error` of one evaluation do
//! share:
//!
//! - the caller's `flag_key: &str` (the same pointer and length in every stage), and
//! - the task that runs the evaluation: an `async` evaluation never leaves its task between
//!   stages. Under tokio that is `tokio::task::try_id()`; a future driven by `block_on` is not a
//!   task but never changes thread, so the thread stands in for it.
//!
//! (task, key pointer, key length) therefore identifies an evaluation among all live ones, except
//! when one task runs two evaluations of the same key concurrently (`join!` on the same literal).
//! Those share a key, so each gets a start taken within the same `join!`, at worst its
//! sibling's.
//!
//! A future driven by another multi-threaded executor (not tokio) may change threads between
//! stages: its start is then not found, and the record has no start. Nothing is ever attributed
//! across tasks.
//!
//! # Bounds and cost
//!
//! The starts live in a fixed lock-free table ([`START_SLOTS`] slots; see `start_table`). A
//! start is removed when it is taken; one left behind by an evaluation that was cancelled (the
//! future dropped between `before` and `after`) is reclaimed once older than [`MAX_START_AGE`];
//! when every slot a start may use holds a live one, that start is not tracked (counted).
//!
//! The clock is read once in `before` and once in `after` (or `error`), as a `tick_clock`
//! reading. The end's reading gives the evaluation's [`EvaluationEnd`] (its monotonic and
//! wall-clock times), and the start's times are the end's less the ticks between the two:
//! every sink then shares one reading at each end of the evaluation.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::FastBuildHasher;
use crate::hook::start_table::{Pushed, StartTable};
use crate::speed::thread_number::thread_number;
use crate::speed::tick_clock::Tick;

pub use crate::hook::start_table::START_SLOTS;

/// When an evaluation started (the hook's `before` stage ran).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvaluationStart {
    /// Wall-clock time, for span start timestamps.
    pub time: SystemTime,
    /// Monotonic time, for durations.
    pub instant: Instant,
}

impl EvaluationStart {
    /// Now.
    pub fn now() -> Self {
        Self {
            time: SystemTime::now(),
            instant: Instant::now(),
        }
    }

    /// The start at monotonic `instant`, with its wall-clock time derived from `end`.
    pub fn before(end: &EvaluationEnd, instant: Instant) -> Self {
        Self {
            instant,
            ..Self::took_before(end, end.instant.saturating_duration_since(instant))
        }
    }

    /// The start `took` before `end`.
    fn took_before(end: &EvaluationEnd, took: Duration) -> Self {
        Self {
            time: end.time.checked_sub(took).unwrap_or(end.time),
            instant: end.instant.checked_sub(took).unwrap_or(end.instant),
        }
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.instant.elapsed()
    }
}

/// When an evaluation was recorded (the hook's `after` or `error` stage ran): one clock
/// reading, as a monotonic and a wall-clock time, shared by every sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvaluationEnd {
    /// Wall-clock time: the record's timestamp. From [`EvaluationEnd::now`], derived from the
    /// same clock reading as `instant` (a step of the system clock shows within 50 ms).
    pub time: SystemTime,
    /// Monotonic time, for durations.
    pub instant: Instant,
}

impl EvaluationEnd {
    /// Now: the monotonic and the wall-clock time of one cheap clock reading (the CPU's
    /// time-stamp counter where it can be used; see `tick_clock`).
    pub fn now() -> Self {
        Self::at(Tick::now())
    }

    /// The times of the clock reading `tick`.
    pub(crate) fn at(tick: Tick) -> Self {
        let (instant, time) = tick.times();
        Self { time, instant }
    }
}

/// What a sink learns when an evaluation starts (the `before` stage), for counters of requests
/// and of evaluations in flight.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct EvaluationStarted<'a> {
    /// The flag key.
    pub flag_key: &'a str,
    /// The provider's name, when not empty.
    pub provider_name: Option<&'a str>,
}

impl<'a> EvaluationStarted<'a> {
    /// The start of an evaluation of `flag_key` by the provider `provider_name`: what a hook
    /// hands its sinks, for wrappers and tests that call a sink themselves.
    pub fn new(flag_key: &'a str, provider_name: Option<&'a str>) -> Self {
        Self {
            flag_key,
            provider_name,
        }
    }
}

/// Starts older than this are treated as left behind by a cancelled evaluation.
pub const MAX_START_AGE: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Executor {
    Task(tokio::task::Id),
    Thread(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct StartKey {
    executor: Executor,
    key_ptr: usize,
    key_len: usize,
}

impl StartKey {
    /// The hash of the evaluation of `flag_key` running here. `None` on a thread whose
    /// thread-local storage is being destroyed, outside any task: such an evaluation's start is
    /// not tracked.
    fn hash_of(flag_key: &str) -> Option<u64> {
        let executor = match tokio::task::try_id() {
            Some(task) => Executor::Task(task),
            None => Executor::Thread(thread_number()?),
        };
        let key = Self {
            executor,
            key_ptr: flag_key.as_ptr() as usize,
            key_len: flag_key.len(),
        };
        Some(FastBuildHasher::default().hash_one(key))
    }
}

#[derive(Debug)]
pub(crate) struct StartTimes {
    table: StartTable,
    untracked: AtomicU64,
}

impl Default for StartTimes {
    fn default() -> Self {
        Self {
            table: StartTable::new(),
            untracked: AtomicU64::new(0),
        }
    }
}

impl StartTimes {
    /// Remembers that the evaluation of `flag_key` running here starts at `start`.
    pub(crate) fn push(&self, flag_key: &str, start: Tick) {
        // A start older than the age limit at this one was left by a cancelled evaluation.
        let is_stale = |kept| start.duration_since(Tick::from_raw(kept)) > MAX_START_AGE;
        let pushed =
            StartKey::hash_of(flag_key).map(|hash| self.table.push(hash, start.to_raw(), is_stale));
        if !matches!(pushed, Some(Pushed::Kept | Pushed::Reclaimed)) {
            self.untracked.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes the start of the evaluation of `flag_key` running here, if it is known and not
    /// older than [`MAX_START_AGE`] at the end `end_tick`, whose times are `end`.
    pub(crate) fn take(
        &self,
        flag_key: &str,
        end_tick: Tick,
        end: &EvaluationEnd,
    ) -> Option<EvaluationStart> {
        let start = Tick::from_raw(self.table.take(StartKey::hash_of(flag_key)?)?);
        let took = end_tick.duration_since(start);
        (took <= MAX_START_AGE).then(|| EvaluationStart::took_before(end, took))
    }

    pub(crate) fn untracked(&self) -> u64 {
        self.untracked.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    fn tracked_keys(&self) -> usize {
        self.table.held()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end `seconds` after now: its clock reading and its times.
    fn end_in(seconds: u64) -> (Tick, EvaluationEnd) {
        let tick = Tick::now().plus(Duration::from_secs(seconds));
        let now = EvaluationEnd::now();
        let end = EvaluationEnd {
            time: now.time + Duration::from_secs(seconds),
            instant: now.instant + Duration::from_secs(seconds),
        };
        (tick, end)
    }

    #[test]
    fn push_take_on_one_thread() {
        let starts = StartTimes::default();
        let key = String::from("flag");
        starts.push(&key, Tick::now());
        let end_tick = Tick::now().plus(Duration::from_millis(3));
        let end = EvaluationEnd::at(end_tick);
        let start = starts.take(&key, end_tick, &end);
        let took = start.map(|start| end.instant.saturating_duration_since(start.instant));
        assert!(
            took.is_some_and(
                |took| took >= Duration::from_millis(3) && took < Duration::from_secs(10)
            ),
            "{took:?}"
        );
        assert_eq!(starts.take(&key, end_tick, &end), None);
        assert_eq!(starts.tracked_keys(), 0, "taken entries are removed");
    }

    #[test]
    fn the_start_time_is_the_end_time_less_the_duration() {
        let (_, end) = end_in(0);
        let start = EvaluationStart::before(&end, end.instant - Duration::from_millis(3));
        assert_eq!(
            end.time.duration_since(start.time).ok(),
            Some(Duration::from_millis(3))
        );
        let start = EvaluationStart::took_before(&end, Duration::from_millis(3));
        assert_eq!(end.instant - start.instant, Duration::from_millis(3));
        assert_eq!(
            end.time.duration_since(start.time).ok(),
            Some(Duration::from_millis(3))
        );
    }

    #[test]
    fn same_text_at_another_address_is_another_evaluation() {
        let starts = StartTimes::default();
        let (a, b) = (String::from("flag"), String::from("flag"));
        starts.push(&a, Tick::now());
        let (tick, end) = end_in(0);
        assert_eq!(starts.take(&b, tick, &end), None);
        assert!(starts.take(&a, tick, &end).is_some());
    }

    #[test]
    fn other_threads_never_see_a_start() {
        let starts = StartTimes::default();
        let key: &'static str = "shared-literal";
        starts.push(key, Tick::now());
        let (tick, end) = end_in(0);
        std::thread::scope(|scope| {
            let seen = scope.spawn(|| starts.take(key, tick, &end)).join();
            assert!(matches!(seen, Ok(None)));
        });
        assert!(starts.take(key, tick, &end).is_some());
    }

    #[test]
    fn concurrent_starts_of_one_key_each_come_back() {
        let starts = StartTimes::default();
        let key = "flag";
        let older = Tick::now();
        let newer = older.plus(Duration::from_millis(1));
        starts.push(key, older);
        starts.push(key, newer);
        let end_tick = older.plus(Duration::from_secs(1));
        let end = EvaluationEnd::at(end_tick);
        let mut took: Vec<_> = (0..2)
            .filter_map(|_| starts.take(key, end_tick, &end))
            .map(|start| end.instant.saturating_duration_since(start.instant))
            .collect();
        took.sort();
        let expected = [Duration::from_millis(999), Duration::from_secs(1)];
        assert_eq!(took.len(), 2);
        for (took, expected) in took.iter().zip(expected) {
            assert!(
                took.abs_diff(expected) < Duration::from_micros(10),
                "{took:?}"
            );
        }
    }

    #[test]
    fn starts_past_their_window_are_counted_as_untracked() {
        // One key from one thread always hashes to the same window of slots.
        let starts = StartTimes::default();
        let key = "flag";
        let window = crate::hook::start_table::PROBE;
        for _ in 0..=window {
            starts.push(key, Tick::now());
        }
        assert_eq!(starts.untracked(), 1);
        let (tick, end) = end_in(1);
        let taken = (0..=window)
            .filter(|_| starts.take(key, tick, &end).is_some())
            .count();
        assert_eq!(taken, window);
        assert_eq!(starts.tracked_keys(), 0);
    }

    #[test]
    fn stale_starts_are_not_handed_out() {
        let starts = StartTimes::default();
        let key = "flag";
        starts.push(key, Tick::now());
        let (tick, end) = end_in(3600);
        assert_eq!(
            starts.take(key, tick, &end),
            None,
            "a start from a cancelled evaluation"
        );
        assert_eq!(starts.untracked(), 0);
    }

    #[test]
    fn a_full_window_takes_over_stale_starts() {
        let starts = StartTimes::default();
        let key = "flag";
        let long_ago = Tick::now();
        for _ in 0..crate::hook::start_table::PROBE {
            starts.push(key, long_ago);
        }
        let now = long_ago.plus(MAX_START_AGE + Duration::from_secs(1));
        starts.push(key, now);
        assert_eq!(starts.untracked(), 0, "a stale start made room");
        let end = EvaluationEnd::at(now);
        assert!(starts.take(key, now, &end).is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tasks_are_told_apart_even_on_one_thread_and_across_threads() {
        let starts = std::sync::Arc::new(StartTimes::default());
        let key: &'static str = "literal";
        let tasks: Vec<_> = (0..50_u64)
            .map(|task| {
                let starts = starts.clone();
                tokio::spawn(async move {
                    // Each task's start is its own number of milliseconds before a common end.
                    let now = Tick::now();
                    let end_tick = now.plus(Duration::from_secs(1));
                    let mine = Duration::from_millis(task + 1);
                    starts.push(key, now.plus(Duration::from_secs(1) - mine));
                    tokio::task::yield_now().await; // may resume on another thread
                    let end = EvaluationEnd::at(end_tick);
                    starts
                        .take(key, end_tick, &end)
                        .map(|start| end.instant.saturating_duration_since(start.instant))
                        .is_some_and(|took| took.abs_diff(mine) < Duration::from_micros(100))
                })
            })
            .collect();
        for task in tasks {
            assert!(matches!(task.await, Ok(true)));
        }
        assert_eq!(starts.tracked_keys(), 0);
    }
}
