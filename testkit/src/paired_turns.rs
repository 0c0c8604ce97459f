//! Two cases timed in one loop, for benches whose figure is a difference between them.

use std::cell::Cell;
use std::time::{Duration, Instant};

use open_feature::{Client, EvaluationContext};

/// Times a case against its baseline in the same loop, for criterion's `iter_custom`.
///
/// Two cases run minutes apart (criterion runs one after the other) drift apart with a shared
/// machine's load, by ±30 to 50 ns per evaluation on the project's bench machine. Here a round
/// runs turns of both sides in the order baseline, case, case, baseline: a drift within a
/// round falls on both sides alike. The case's two turns run back to back, so that the second
/// starts with whatever the first left its background threads to do, as a steady load would;
/// then `settle` (untimed) lets the case's background work finish, so that no baseline turn
/// runs beside it.
///
/// [`PairedTurns::difference`] answers what `iter_custom` wants: the case's time minus the
/// baseline's, scaled to criterion's iteration count, so criterion reports the nanoseconds the
/// case adds per iteration. [`PairedTurns::ratio`] is the ratio of the two sides over
/// everything timed so far.
///
/// ```
/// use std::time::{Duration, Instant};
/// use openfeature_hooks_testkit::PairedTurns;
///
/// let turns = PairedTurns::new(1_000);
/// let timed = |work: u64| {
///     move |count: u64| {
///         let start = Instant::now();
///         for i in 0..count * work {
///             std::hint::black_box(i);
///         }
///         start.elapsed()
///     }
/// };
/// let added = turns.difference(10_000, timed(1), timed(3), || {});
/// assert!(added > Duration::ZERO);
/// assert!(turns.ratio().is_some_and(|ratio| ratio > 1.0));
/// ```
#[derive(Debug)]
pub struct PairedTurns {
    turn: u64,
    /// (the case's time, the baseline's time) over every round so far.
    totals: Cell<(Duration, Duration)>,
}

impl PairedTurns {
    /// Evaluations of each side per turn that the benches use: 10 to 30 ms of them, many
    /// times the 1 ms polling interval of the hook's background threads, so that their work
    /// overlaps the case's turns as it does a steady load (only about a turn's first
    /// millisecond runs without it).
    pub const EVALUATIONS_PER_TURN: u64 = 16_384;

    /// Turns of `turn` iterations of each side (at least 1).
    pub fn new(turn: u64) -> Self {
        Self {
            turn: turn.max(1),
            totals: Cell::new((Duration::ZERO, Duration::ZERO)),
        }
    }

    /// Runs whole rounds covering at least `iters` iterations of each side, and answers the
    /// case's time minus the baseline's for `iters` iterations (1 ns per iteration at least:
    /// criterion refuses zero). `baseline` and `case` run the given number of iterations and
    /// answer how long they took; `settle` runs after the case's two turns, untimed.
    pub fn difference(
        &self,
        iters: u64,
        mut baseline: impl FnMut(u64) -> Duration,
        mut case: impl FnMut(u64) -> Duration,
        mut settle: impl FnMut(),
    ) -> Duration {
        let (mut with, mut without) = (Duration::ZERO, Duration::ZERO);
        let rounds = iters.div_ceil(2 * self.turn).max(1);
        for _ in 0..rounds {
            without += baseline(self.turn);
            with += case(self.turn);
            with += case(self.turn);
            settle();
            without += baseline(self.turn);
        }
        let (all_with, all_without) = self.totals.get();
        self.totals.set((all_with + with, all_without + without));
        // `rounds * 2 * turn` iterations of each side stand for `iters`.
        let scale = iters as f64 / (rounds * 2 * self.turn) as f64;
        with.mul_f64(scale)
            .saturating_sub(without.mul_f64(scale))
            .max(Duration::from_nanos(iters))
    }

    /// The case's time over the baseline's, over every round so far; `None` before any.
    pub fn ratio(&self) -> Option<f64> {
        let (with, without) = self.totals.get();
        (!without.is_zero()).then(|| with.as_secs_f64() / without.as_secs_f64())
    }

    /// (the case's time, the baseline's time) over every round so far.
    pub fn totals(&self) -> (Duration, Duration) {
        self.totals.get()
    }
}

/// How long `count` evaluations of the boolean flag `flag` by `client` take: one side's turn.
pub async fn time_bool_evaluations(
    client: &Client,
    flag: &str,
    context: &EvaluationContext,
    count: u64,
) -> Duration {
    let start = Instant::now();
    for _ in 0..count {
        let _ = std::hint::black_box(client.get_bool_value(flag, Some(context), None).await);
    }
    start.elapsed()
}
