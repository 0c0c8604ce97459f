//! Two cases timed in one loop, for benches whose figure is a difference between them.

use std::cell::RefCell;
use std::fmt;
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
/// Both are sums, so one round the host slowed on one side moves them (on the project's bench
/// machine a run's figure moved by a quarter of itself between runs minutes apart).
/// [`PairedTurns::rounds`] gives the middle of the per-round figures instead, with their
/// quartiles: what most rounds measured, and how far they spread.
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
/// let rounds = turns.rounds().expect("rounds ran");
/// assert_eq!(rounds.rounds, 5);
/// assert!(rounds.ratio.median > 1.0 && rounds.added_ns.median > 0.0);
/// ```
#[derive(Debug)]
pub struct PairedTurns {
    turn: u64,
    /// (the case's time, the baseline's time) of each round so far: a few hundred per bench
    /// case at most (a round is four turns of milliseconds each).
    each_round: RefCell<Vec<(Duration, Duration)>>,
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
            each_round: RefCell::default(),
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
            let mut round_without = baseline(self.turn);
            let round_with = case(self.turn) + case(self.turn);
            settle();
            round_without += baseline(self.turn);
            self.each_round
                .borrow_mut()
                .push((round_with, round_without));
            with += round_with;
            without += round_without;
        }
        // `rounds * 2 * turn` iterations of each side stand for `iters`.
        let scale = iters as f64 / (rounds * 2 * self.turn) as f64;
        with.mul_f64(scale)
            .saturating_sub(without.mul_f64(scale))
            .max(Duration::from_nanos(iters))
    }

    /// The case's time over the baseline's, over every round so far; `None` before any.
    pub fn ratio(&self) -> Option<f64> {
        let (with, without) = self.totals();
        (!without.is_zero()).then(|| with.as_secs_f64() / without.as_secs_f64())
    }

    /// (the case's time, the baseline's time) over every round so far.
    pub fn totals(&self) -> (Duration, Duration) {
        self.each_round.borrow().iter().fold(
            (Duration::ZERO, Duration::ZERO),
            |(all_with, all_without), (with, without)| (all_with + *with, all_without + *without),
        )
    }

    /// The per-round figures' middle and quartiles, over every round so far (criterion's
    /// warm-up included); `None` before any round.
    pub fn rounds(&self) -> Option<RoundFigures> {
        let rounds = self.each_round.borrow();
        let evaluations = (2 * self.turn) as f64;
        let added = rounds.iter().map(|(with, without)| {
            (with.as_secs_f64() - without.as_secs_f64()) * 1e9 / evaluations
        });
        let ratio = rounds
            .iter()
            .filter(|(_, without)| !without.is_zero())
            .map(|(with, without)| with.as_secs_f64() / without.as_secs_f64());
        Some(RoundFigures {
            rounds: rounds.len(),
            added_ns: Quartiles::of(added.collect())?,
            ratio: Quartiles::of(ratio.collect())?,
        })
    }

    /// Prints `case: ` and [`PairedTurns::rounds`] on standard output, for a bench's report;
    /// nothing when no round ran (a case the command line's filter left out).
    #[allow(clippy::print_stdout)] // the figures are the bench's report
    pub fn print_rounds(&self, case: &str) {
        if let Some(rounds) = self.rounds() {
            println!("{case}: {rounds}");
        }
    }
}

/// The lower quartile, the median and the upper quartile of some figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quartiles {
    /// The figure a quarter of them are below.
    pub lower: f64,
    /// The middle figure.
    pub median: f64,
    /// The figure a quarter of them are above.
    pub upper: f64,
}

impl Quartiles {
    /// The quartiles of `figures` (nearest rank); `None` when there are none.
    pub fn of(mut figures: Vec<f64>) -> Option<Self> {
        figures.sort_by(f64::total_cmp);
        let last = figures.len().checked_sub(1)?;
        let at = |quarter: usize| figures[(last * quarter).div_ceil(4)];
        Some(Self {
            lower: at(1),
            median: at(2),
            upper: at(3),
        })
    }
}

/// What [`PairedTurns::rounds`] answers: the spread of each round's own figures, no round
/// summed with another.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoundFigures {
    /// How many rounds ran.
    pub rounds: usize,
    /// The nanoseconds the case added per iteration in each round.
    pub added_ns: Quartiles,
    /// The case's time over the baseline's in each round.
    pub ratio: Quartiles,
}

impl fmt::Display for RoundFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (added, ratio) = (self.added_ns, self.ratio);
        write!(
            f,
            "median of {} rounds {:+.0} ns ({:+.0} to {:+.0}), ratio {:.3} ({:.3} to {:.3})",
            self.rounds,
            added.median,
            added.lower,
            added.upper,
            ratio.median,
            ratio.lower,
            ratio.upper,
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_by_nearest_rank() {
        let quartiles = Quartiles::of(vec![5.0, 1.0, 4.0, 2.0, 3.0]);
        assert_eq!(
            quartiles,
            Some(Quartiles {
                lower: 2.0,
                median: 3.0,
                upper: 4.0
            })
        );
        assert_eq!(Quartiles::of(Vec::new()), None);
    }

    #[test]
    fn a_round_slowed_on_one_side_moves_the_sums_but_not_the_middle() {
        let turns = PairedTurns::new(1);
        let mut turn = 0;
        // Rounds of four turns: baseline, case, case, baseline. The case takes 3 ms a turn and
        // the baseline 2 ms, except one of the five rounds whose case turns the host slowed.
        let mut case = |_| {
            turn += 1;
            Duration::from_millis(if turn == 5 || turn == 6 { 30 } else { 3 })
        };
        turns.difference(10, |_| Duration::from_millis(2), &mut case, || {});
        let summed = turns.ratio().expect("rounds ran");
        let rounds = turns.rounds().expect("rounds ran");
        assert_eq!(rounds.rounds, 5);
        assert!((rounds.ratio.median - 1.5).abs() < 1e-9, "{rounds}");
        assert!((rounds.added_ns.median - 1e6).abs() < 1e-3, "{rounds}");
        assert!(summed > 2.5, "the sums carry the slowed round: {summed}");
    }
}
