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
//! Only the monotonic clock is read in `before`. The hook reads both clocks once in `after` (or
//! `error`), as the evaluation's [`EvaluationEnd`], and the start's wall-clock time is derived
//! from it: every sink then shares one reading of each clock per evaluation.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::FastBuildHasher;
use crate::start_table::{Pushed, StartTable};
use crate::thread_number::thread_number;
use crate::wall_clock::wall_time_at;

pub use crate::start_table::START_SLOTS;

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
        let took = end.instant.saturating_duration_since(instant);
        Self {
            time: end.time.checked_sub(took).unwrap_or(end.time),
            instant,
        }
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.instant.elapsed()
    }
}

/// When an evaluation was recorded (the hook's `after` or `error` stage ran): one reading of
/// each clock, shared by every sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvaluationEnd {
    /// Wall-clock time: the record's timestamp. From [`EvaluationEnd::now`], the wall-clock
    /// time of `instant`, derived from it (a step of the system clock shows within 50 ms).
    pub time: SystemTime,
    /// Monotonic time, for durations.
    pub instant: Instant,
}

impl EvaluationEnd {
    /// Now: the monotonic clock, and the wall-clock time of that reading (from the offset
    /// between the clocks, read at most every 50 ms: one clock read per evaluation instead of
    /// two; see `wall_clock`).
    pub fn now() -> Self {
        let instant = Instant::now();
        Self {
            time: wall_time_at(instant),
            instant,
        }
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
    /// Remembers that the evaluation of `flag_key` running here starts at `instant`.
    pub(crate) fn push(&self, flag_key: &str, instant: Instant) {
        let pushed =
            StartKey::hash_of(flag_key).map(|hash| self.table.push(hash, instant, MAX_START_AGE));
        if !matches!(pushed, Some(Pushed::Kept | Pushed::Reclaimed)) {
            self.untracked.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes the start of the evaluation of `flag_key` running here, if it is known and not
    /// older than [`MAX_START_AGE`] at `end`.
    pub(crate) fn take(&self, flag_key: &str, end: &EvaluationEnd) -> Option<EvaluationStart> {
        let instant = self.table.take(StartKey::hash_of(flag_key)?)?;
        (end.instant.saturating_duration_since(instant) <= MAX_START_AGE)
            .then(|| EvaluationStart::before(end, instant))
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

    fn end_in(seconds: u64) -> EvaluationEnd {
        let now = EvaluationEnd::now();
        EvaluationEnd {
            time: now.time + Duration::from_secs(seconds),
            instant: now.instant + Duration::from_secs(seconds),
        }
    }

    #[test]
    fn push_take_on_one_thread() {
        let starts = StartTimes::default();
        let key = String::from("flag");
        let instant = Instant::now();
        starts.push(&key, instant);
        let end = EvaluationEnd::now();
        let start = starts.take(&key, &end);
        assert_eq!(start.map(|s| s.instant), Some(instant));
        assert_eq!(starts.take(&key, &end), None);
        assert_eq!(starts.tracked_keys(), 0, "taken entries are removed");
    }

    #[test]
    fn the_start_time_is_the_end_time_less_the_duration() {
        let end = end_in(0);
        let start = EvaluationStart::before(&end, end.instant - Duration::from_millis(3));
        assert_eq!(
            end.time.duration_since(start.time).ok(),
            Some(Duration::from_millis(3))
        );
    }

    #[test]
    fn same_text_at_another_address_is_another_evaluation() {
        let starts = StartTimes::default();
        let (a, b) = (String::from("flag"), String::from("flag"));
        starts.push(&a, Instant::now());
        let end = EvaluationEnd::now();
        assert_eq!(starts.take(&b, &end), None);
        assert!(starts.take(&a, &end).is_some());
    }

    #[test]
    fn other_threads_never_see_a_start() {
        let starts = StartTimes::default();
        let key: &'static str = "shared-literal";
        starts.push(key, Instant::now());
        let end = EvaluationEnd::now();
        std::thread::scope(|scope| {
            let seen = scope.spawn(|| starts.take(key, &end)).join();
            assert!(matches!(seen, Ok(None)));
        });
        assert!(starts.take(key, &end).is_some());
    }

    #[test]
    fn concurrent_starts_of_one_key_each_come_back() {
        let starts = StartTimes::default();
        let key = "flag";
        let older = Instant::now();
        let newer = older + Duration::from_millis(1);
        starts.push(key, older);
        starts.push(key, newer);
        let end = end_in(1);
        let mut taken: Vec<_> = (0..2)
            .filter_map(|_| starts.take(key, &end).map(|s| s.instant))
            .collect();
        taken.sort();
        assert_eq!(taken, vec![older, newer]);
    }

    #[test]
    fn starts_past_their_window_are_counted_as_untracked() {
        // One key from one thread always hashes to the same window of slots.
        let starts = StartTimes::default();
        let key = "flag";
        let window = crate::start_table::PROBE;
        for _ in 0..=window {
            starts.push(key, Instant::now());
        }
        assert_eq!(starts.untracked(), 1);
        let end = end_in(1);
        let taken = (0..=window)
            .filter(|_| starts.take(key, &end).is_some())
            .count();
        assert_eq!(taken, window);
        assert_eq!(starts.tracked_keys(), 0);
    }

    #[test]
    fn stale_starts_are_not_handed_out() {
        let starts = StartTimes::default();
        let key = "flag";
        starts.push(key, Instant::now());
        assert_eq!(
            starts.take(key, &end_in(3600)),
            None,
            "a start from a cancelled evaluation"
        );
        assert_eq!(starts.untracked(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tasks_are_told_apart_even_on_one_thread_and_across_threads() {
        let starts = std::sync::Arc::new(StartTimes::default());
        let key: &'static str = "literal";
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let starts = starts.clone();
                tokio::spawn(async move {
                    let mine = Instant::now();
                    starts.push(key, mine);
                    tokio::task::yield_now().await; // may resume on another thread
                    starts.take(key, &EvaluationEnd::now()).map(|s| s.instant) == Some(mine)
                })
            })
            .collect();
        for task in tasks {
            assert!(matches!(task.await, Ok(true)));
        }
        assert_eq!(starts.tracked_keys(), 0);
    }
}
