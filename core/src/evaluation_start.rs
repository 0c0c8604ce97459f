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
//! Those share a key; their starts are handed out last-in first-out, so each gets a start taken
//! within the same `join!`, at worst its sibling's.
//!
//! A future driven by another multi-threaded executor (not tokio) may change threads between
//! stages: its start is then not found, and the record has no start. Nothing is ever attributed
//! across tasks.
//!
//! # Bounds
//!
//! Sharded, locked maps; an entry is removed when its start is taken. Starts left behind by
//! evaluations that were cancelled (the future dropped between `before` and `after`) are dropped
//! once older than [`MAX_START_AGE`], and no map holds more than [`MAX_KEYS_PER_SHARD`] keys or a
//! key more than [`MAX_STARTS_PER_KEY`] starts: past that, starts are not tracked (counted).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::FastBuildHasher;
use crate::thread_number::thread_number;

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

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.instant.elapsed()
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

/// Starts older than this are treated as left behind by a cancelled evaluation.
pub const MAX_START_AGE: Duration = Duration::from_secs(60);
/// Keys one shard holds at most.
pub const MAX_KEYS_PER_SHARD: usize = 4096;
/// Concurrent starts one key holds at most.
pub const MAX_STARTS_PER_KEY: usize = 16;
const SHARDS: usize = 16;

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
    /// `None` on a thread whose thread-local storage is being destroyed, outside any task:
    /// such an evaluation's start is not tracked.
    fn of(flag_key: &str) -> Option<Self> {
        let executor = match tokio::task::try_id() {
            Some(task) => Executor::Task(task),
            None => Executor::Thread(thread_number()?),
        };
        Some(Self {
            executor,
            key_ptr: flag_key.as_ptr() as usize,
            key_len: flag_key.len(),
        })
    }

    fn shard(&self) -> usize {
        (FastBuildHasher::default().hash_one(self) >> 32) as usize % SHARDS
    }
}

/// The starts of one key: usually one, kept inline.
#[derive(Debug)]
enum Starts {
    One(EvaluationStart),
    Many(Vec<EvaluationStart>),
}

#[derive(Debug)]
pub(crate) struct StartTimes {
    shards: [Mutex<HashMap<StartKey, Starts, FastBuildHasher>>; SHARDS],
    untracked: AtomicU64,
}

impl Default for StartTimes {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::default())),
            untracked: AtomicU64::new(0),
        }
    }
}

impl StartTimes {
    /// Remembers that the evaluation of `flag_key` running here starts now.
    pub(crate) fn push(&self, flag_key: &str, start: EvaluationStart) {
        let Some(key) = StartKey::of(flag_key) else {
            self.untracked.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut shard = self.shards[key.shard()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if shard.len() >= MAX_KEYS_PER_SHARD && !shard.contains_key(&key) {
            shard.retain(|_, starts| !starts.all_stale());
            if shard.len() >= MAX_KEYS_PER_SHARD {
                self.untracked.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        match shard.get_mut(&key) {
            None => {
                shard.insert(key, Starts::One(start));
            }
            Some(starts) => {
                if !starts.push(start) {
                    self.untracked.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Takes the start of the evaluation of `flag_key` running here, if it is known.
    pub(crate) fn take(&self, flag_key: &str) -> Option<EvaluationStart> {
        let key = StartKey::of(flag_key)?;
        let mut shard = self.shards[key.shard()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let starts = shard.get_mut(&key)?;
        let (start, empty) = starts.pop();
        if empty {
            shard.remove(&key);
        }
        start.filter(|s| s.elapsed() <= MAX_START_AGE)
    }

    pub(crate) fn untracked(&self) -> u64 {
        self.untracked.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    fn tracked_keys(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

impl Starts {
    /// `false` if the start could not be kept.
    fn push(&mut self, start: EvaluationStart) -> bool {
        match self {
            Starts::One(first) => {
                *self = Starts::Many(vec![*first, start]);
                true
            }
            Starts::Many(all) => {
                all.retain(|s| s.elapsed() <= MAX_START_AGE);
                if all.len() >= MAX_STARTS_PER_KEY {
                    return false;
                }
                all.push(start);
                true
            }
        }
    }

    /// The most recent start, and whether none is left.
    fn pop(&mut self) -> (Option<EvaluationStart>, bool) {
        match self {
            Starts::One(only) => (Some(*only), true),
            Starts::Many(all) => {
                let start = all.pop();
                (start, all.is_empty())
            }
        }
    }

    fn all_stale(&self) -> bool {
        match self {
            Starts::One(only) => only.elapsed() > MAX_START_AGE,
            Starts::Many(all) => all.iter().all(|s| s.elapsed() > MAX_START_AGE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start_ago(seconds: u64) -> EvaluationStart {
        let now = EvaluationStart::now();
        EvaluationStart {
            time: now.time - Duration::from_secs(seconds),
            instant: now
                .instant
                .checked_sub(Duration::from_secs(seconds))
                .unwrap_or(now.instant),
        }
    }

    #[test]
    fn push_take_on_one_thread() {
        let starts = StartTimes::default();
        let key = String::from("flag");
        let start = EvaluationStart::now();
        starts.push(&key, start);
        assert_eq!(starts.take(&key), Some(start));
        assert_eq!(starts.take(&key), None);
        assert_eq!(starts.tracked_keys(), 0, "taken entries are removed");
    }

    #[test]
    fn same_text_at_another_address_is_another_evaluation() {
        let starts = StartTimes::default();
        let (a, b) = (String::from("flag"), String::from("flag"));
        starts.push(&a, EvaluationStart::now());
        assert_eq!(starts.take(&b), None);
        assert!(starts.take(&a).is_some());
    }

    #[test]
    fn other_threads_never_see_a_start() {
        let starts = StartTimes::default();
        let key: &'static str = "shared-literal";
        starts.push(key, EvaluationStart::now());
        std::thread::scope(|scope| {
            let seen = scope.spawn(|| starts.take(key)).join();
            assert!(matches!(seen, Ok(None)));
        });
        assert!(starts.take(key).is_some());
    }

    #[test]
    fn concurrent_starts_of_one_key_are_last_in_first_out() {
        let starts = StartTimes::default();
        let key = "flag";
        let (older, newer) = (start_ago(2), start_ago(1));
        starts.push(key, older);
        starts.push(key, newer);
        assert_eq!(starts.take(key), Some(newer));
        assert_eq!(starts.take(key), Some(older));
    }

    #[test]
    fn stale_starts_are_not_handed_out_and_are_bounded() {
        let starts = StartTimes::default();
        let key = "flag";
        starts.push(key, start_ago(3600));
        assert_eq!(
            starts.take(key),
            None,
            "a start from a cancelled evaluation"
        );
        for _ in 0..(MAX_STARTS_PER_KEY + 5) {
            starts.push(key, EvaluationStart::now());
        }
        assert_eq!(starts.untracked(), 5);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tasks_are_told_apart_even_on_one_thread_and_across_threads() {
        let starts = std::sync::Arc::new(StartTimes::default());
        let key: &'static str = "literal";
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let starts = starts.clone();
                tokio::spawn(async move {
                    let mine = EvaluationStart::now();
                    starts.push(key, mine);
                    tokio::task::yield_now().await; // may resume on another thread
                    starts.take(key) == Some(mine)
                })
            })
            .collect();
        for task in tasks {
            assert!(matches!(task.await, Ok(true)));
        }
        assert_eq!(starts.tracked_keys(), 0);
    }
}
