//! The clock evaluations are timed with: one cheap reading at each end of an evaluation, and
//! the monotonic and wall-clock times a reading stands for.
//!
//! # Why not `Instant::now()`
//!
//! The hook reads the clock when an evaluation starts and when it ends. `Instant::now()` is a
//! call into the vDSO: 16.9 ns on the bench machine, and the end also needs its wall-clock
//! time. Under `perf` the two readings and the wall-clock time were ~50 ns of the
//! every-backend evaluation. A [`Tick`] reads the CPU's time-stamp counter through `quanta`
//! (7.9 ns), where the counter can be trusted. Measured: BENCHMARKS.md, "2026-11-29, 17:05 to
//! 17:45 UTC".
//!
//! # When the counter is used
//!
//! - `quanta` reads it where the CPU says it is invariant (constant rate, the same on every
//!   core), and reads the OS monotonic clock itself where it is not.
//! - On x86 Linux the kernel has the last word: it times itself with the counter (clock source
//!   `tsc`) only when it found the counter stable and synchronised on this machine, which the
//!   CPU's flags alone do not promise under a hypervisor. With any other clock source
//!   (`kvm-clock`, `hpet`, ...) readings are the OS monotonic clock's. The choice is made once,
//!   with the calibration.
//!
//! # From ticks to times
//!
//! - A duration is the difference of two ticks, scaled by `quanta`'s calibration. That is
//!   done once per process, when the first hook is built ([`calibrate`]): about 0.6 ms on the
//!   bench machine, 200 ms at most.
//! - A monotonic time is the nanoseconds counted since the clock's origin, plus a correction;
//!   a wall-clock time is that plus an offset. Both are read again from the OS clocks when
//!   they are older than [`REFRESH`]. The counter's calibrated rate and the OS clock (which NTP
//!   or a host's time sync slews) drift apart: 3 to 4 parts per million over two seconds on the
//!   bench machine, so derived times stay within a few hundred nanoseconds of the OS clocks;
//!   but one evening the same VM's monotonic clock ran ~2 000 ppm off the raw clock, which
//!   puts derived times up to ~100 µs off just before a refresh. A step of the wall clock (an
//!   administrator setting the time, a leap second, a host's sync) shows in timestamps within
//!   50 ms.
//! - The OS clocks are read between two readings of the counter, and paired with the middle
//!   of that bracket: a thread preempted while reading them would otherwise pair them a time
//!   slice apart. A bracket within 2 µs is taken at once; otherwise the narrowest of four.
//! - When the correction is read again, a time derived just after may come out up to that
//!   drift (usually a few hundred nanoseconds) earlier than one derived just before. A duration never
//!   does: it is the difference of two ticks.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a correction and a wall-clock offset are used before the OS clocks are read again.
pub(crate) const REFRESH: Duration = Duration::from_millis(50);

/// One reading of the clock, in counter ticks: meaningful against another reading, or
/// converted to times with [`Tick::times`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tick(u64);

/// Where readings come from.
enum Source {
    /// The time-stamp counter, calibrated by `quanta` (which reads the OS monotonic clock
    /// itself where the CPU has no invariant counter).
    Counter(quanta::Clock),
    /// The OS monotonic clock, in nanoseconds since the origin: where the kernel does not time
    /// itself with the counter.
    Os,
}

impl Source {
    /// The source this machine's readings come from.
    fn chosen() -> Self {
        if counter_is_trusted(current_clocksource().as_deref()) {
            Source::Counter(quanta::Clock::new())
        } else {
            Source::Os
        }
    }

    /// A reading, for an origin at `origin`.
    #[inline]
    fn read(&self, origin: Instant) -> u64 {
        match self {
            Source::Counter(clock) => clock.raw(),
            Source::Os => nanos(origin.elapsed()),
        }
    }

    /// Nanoseconds from the reading `start` to the reading `end`; 0 if `end` is not later.
    #[inline]
    fn nanos_between(&self, start: u64, end: u64) -> u64 {
        match self {
            Source::Counter(clock) => clock.delta_as_nanos(start, end),
            Source::Os => end.saturating_sub(start),
        }
    }
}

/// The clock Linux times itself with on x86 (`tsc` when it found the counter stable and the
/// same on every CPU); `None` elsewhere, or when it cannot be read.
fn current_clocksource() -> Option<String> {
    if cfg!(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "x86")
    )) {
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .ok()
    } else {
        None
    }
}

/// Whether to read the counter, given the kernel's clock source: `quanta` checks the CPU's
/// flags, not whether the kernel found the counter usable on this machine (a hypervisor or a
/// firmware can make it drift between CPUs); where the kernel says, its word is taken.
fn counter_is_trusted(clocksource: Option<&str>) -> bool {
    clocksource.is_none_or(|source| source.trim() == "tsc")
}

/// The source, and a reading of it taken with a reading of the OS monotonic clock.
struct Origin {
    source: Source,
    tick: u64,
    instant: Instant,
}

static ORIGIN: LazyLock<Origin> = LazyLock::new(|| {
    let source = Source::chosen();
    let instant = Instant::now();
    Origin {
        tick: source.read(instant),
        source,
        instant,
    }
});

/// OS monotonic nanoseconds since the origin minus counted ones, as last read (wrapping: the
/// counter may run ahead).
static CORRECTION: AtomicU64 = AtomicU64::new(0);
/// Wall-clock nanoseconds since the Unix epoch minus monotonic nanoseconds since the origin,
/// as last read; 0 when not read, or when the wall clock is before 1970 (then read each time).
static WALL_OFFSET: AtomicU64 = AtomicU64::new(0);
/// The counted nanoseconds at which [`CORRECTION`] and [`WALL_OFFSET`] were read; 0 when not
/// read yet.
static READ_AT: AtomicU64 = AtomicU64::new(0);

/// Calibrates the clock now, not in the first evaluation (the hook's builder calls this).
pub(crate) fn calibrate() {
    LazyLock::force(&ORIGIN);
}

/// `duration` in nanoseconds, saturated.
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Tick {
    /// Now.
    #[inline]
    pub(crate) fn now() -> Self {
        let origin = &*ORIGIN;
        Self(origin.source.read(origin.instant))
    }

    /// The reading as a number, to keep in an atomic; never 0.
    pub(crate) fn to_raw(self) -> u64 {
        self.0.max(1)
    }

    /// A reading kept with [`Tick::to_raw`].
    pub(crate) fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The time from `earlier` to this reading; zero if `earlier` is not earlier.
    #[inline]
    pub(crate) fn duration_since(self, earlier: Tick) -> Duration {
        Duration::from_nanos(ORIGIN.source.nanos_between(earlier.0, self.0))
    }

    /// The reading `by` after this one.
    #[cfg(test)]
    pub(crate) fn plus(self, by: Duration) -> Self {
        const SPAN: u64 = 1 << 32;
        let span_nanos = u128::from(ORIGIN.source.nanos_between(0, SPAN).max(1));
        let ticks = u128::from(nanos(by)) * u128::from(SPAN) / span_nanos;
        Self(
            self.0
                .saturating_add(u64::try_from(ticks).unwrap_or(u64::MAX)),
        )
    }

    /// The monotonic and the wall-clock time of this reading (taken just now).
    #[inline]
    pub(crate) fn times(self) -> (Instant, SystemTime) {
        let (since_origin, offset) = self.since_origin();
        let origin = &ORIGIN.instant;
        let instant = origin
            .checked_add(Duration::from_nanos(since_origin))
            .unwrap_or(*origin);
        (instant, wall_time(since_origin, offset))
    }

    /// The wall-clock time of this reading (taken just now).
    #[inline]
    pub(crate) fn wall_time(self) -> SystemTime {
        let (since_origin, offset) = self.since_origin();
        wall_time(since_origin, offset)
    }

    /// The monotonic nanoseconds from the origin to this reading (taken just now), and the
    /// wall-clock offset to add to them.
    #[inline]
    fn since_origin(self) -> (u64, u64) {
        let origin = &*ORIGIN;
        let counted = origin.source.nanos_between(origin.tick, self.0);
        // Acquire: a correction and an offset at least as recent as this time of reading.
        let read_at = READ_AT.load(Ordering::Acquire);
        let (correction, offset) =
            if read_at == 0 || counted.saturating_sub(read_at) > nanos(REFRESH) {
                read_os_clocks()
            } else {
                (
                    CORRECTION.load(Ordering::Relaxed),
                    WALL_OFFSET.load(Ordering::Relaxed),
                )
            };
        // A correction that takes a reading taken at the origin below zero: the origin.
        let since_origin = match counted.wrapping_add(correction) {
            since if i64::try_from(since).is_ok() => since,
            _ => 0,
        };
        (since_origin, offset)
    }
}

/// The wall-clock time `since_origin` monotonic nanoseconds after the origin.
#[inline]
fn wall_time(since_origin: u64, offset: u64) -> SystemTime {
    match offset {
        0 => SystemTime::now(),
        offset => UNIX_EPOCH + Duration::from_nanos(since_origin.wrapping_add(offset)),
    }
}

/// Attempts at reading the OS clocks between two readings of the counter.
const CLOCK_READ_ATTEMPTS: usize = 4;

/// Nanoseconds between the two counter readings around the OS clocks' that are taken at once:
/// an attempt this narrow was not preempted.
const NARROW_BRACKET: u64 = 2_000;

/// Both OS clocks, read between two readings of the counter.
#[derive(Clone, Copy, Debug)]
struct BracketedReading {
    /// Counted nanoseconds from the origin to the middle of the bracket.
    counted: u64,
    /// Nanoseconds between the two counter readings: the most the OS clocks can be off the
    /// middle by twice.
    width: u64,
    instant: Instant,
    wall: SystemTime,
}

fn read_bracketed(origin: &Origin) -> BracketedReading {
    let before = origin.source.read(origin.instant);
    let instant = Instant::now();
    let wall = SystemTime::now();
    let after = origin.source.read(origin.instant);
    let width = origin.source.nanos_between(before, after);
    BracketedReading {
        counted: origin
            .source
            .nanos_between(origin.tick, before)
            .saturating_add(width / 2),
        width,
        instant,
        wall,
    }
}

/// The narrowest of up to [`CLOCK_READ_ATTEMPTS`] readings from `read`, stopping at the first
/// within [`NARROW_BRACKET`].
///
/// A thread preempted between reading the counter and the OS clocks would otherwise pair them
/// a scheduler's time slice apart, and every time derived for the next [`REFRESH`] would be off
/// by that much: on a loaded two-core CI machine, a log event's timestamp once came out before
/// the evaluation it records.
fn narrowest(mut read: impl FnMut() -> BracketedReading) -> BracketedReading {
    let mut best = read();
    for _ in 1..CLOCK_READ_ATTEMPTS {
        if best.width <= NARROW_BRACKET {
            break;
        }
        let next = read();
        if next.width < best.width {
            best = next;
        }
    }
    best
}

/// Reads both OS clocks between two readings of the counter, and stores the correction and the
/// wall-clock offset they give.
#[cold]
fn read_os_clocks() -> (u64, u64) {
    let origin = &*ORIGIN;
    let reading = narrowest(|| read_bracketed(origin));
    let since_origin = nanos(reading.instant.saturating_duration_since(origin.instant));
    let correction = since_origin.wrapping_sub(reading.counted);
    let offset = reading
        .wall
        .duration_since(UNIX_EPOCH)
        .map_or(0, |wall| nanos(wall).wrapping_sub(since_origin));
    CORRECTION.store(correction, Ordering::Relaxed);
    WALL_OFFSET.store(offset, Ordering::Relaxed);
    READ_AT.store(reading.counted.max(1), Ordering::Release);
    (correction, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_narrowest_bracket_is_kept_and_a_narrow_one_ends_the_search() {
        let reading = |width| BracketedReading {
            counted: width,
            width,
            instant: Instant::now(),
            wall: SystemTime::now(),
        };
        // A preempted first attempt (5 ms wide), then narrower ones.
        let mut widths = [5_000_000, 40_000, 900, 100].into_iter();
        let mut asked = 0;
        let kept = narrowest(|| {
            asked += 1;
            reading(widths.next().unwrap_or(u64::MAX))
        });
        assert_eq!(
            (kept.width, asked),
            (900, 3),
            "stops at the first narrow bracket"
        );
        // Every attempt preempted: the narrowest of them.
        let mut widths = [9_000, 7_000, 8_000, 7_500, 1].into_iter();
        let kept = narrowest(|| reading(widths.next().unwrap_or(u64::MAX)));
        assert_eq!(kept.width, 7_000, "at most {CLOCK_READ_ATTEMPTS} attempts");
    }

    #[test]
    fn times_are_the_os_clocks_to_within_a_millisecond() {
        let slack = Duration::from_millis(1);
        for _ in 0..1_000 {
            let (instant_before, wall_before) = (Instant::now(), SystemTime::now());
            let (instant, wall) = Tick::now().times();
            let (instant_after, wall_after) = (Instant::now(), SystemTime::now());
            assert!(
                instant + slack >= instant_before && instant <= instant_after + slack,
                "{instant_before:?} <= {instant:?} <= {instant_after:?}"
            );
            assert!(
                wall + slack >= wall_before && wall <= wall_after + slack,
                "{wall_before:?} <= {wall:?} <= {wall_after:?}"
            );
        }
    }

    #[test]
    fn durations_are_the_os_clocks_to_within_a_percent() {
        // Each end reads both clocks one after the other: a thread preempted between the two
        // reads sees them apart by the pause, so one clean attempt in three is asked for.
        let attempts: Vec<(Duration, Duration)> = (0..3)
            .map(|_| {
                let (tick, instant) = (Tick::now(), Instant::now());
                while instant.elapsed() < Duration::from_millis(20) {
                    std::hint::spin_loop();
                }
                (Tick::now().duration_since(tick), instant.elapsed())
            })
            .collect();
        assert!(
            attempts
                .iter()
                .any(|(took, measured)| took.abs_diff(*measured) < *measured / 100),
            "{attempts:?}"
        );
    }

    #[test]
    fn a_reading_s_wall_time_is_the_one_its_times_give() {
        let tick = Tick::now();
        assert_eq!(tick.wall_time(), tick.times().1);
    }

    #[test]
    fn the_counter_is_read_only_where_the_kernel_times_itself_with_it() {
        assert!(counter_is_trusted(Some("tsc\n")));
        assert!(!counter_is_trusted(Some("kvm-clock\n")));
        assert!(!counter_is_trusted(Some("hpet\n")));
        assert!(counter_is_trusted(None), "unknown: quanta's own check");
    }

    #[test]
    fn the_os_source_counts_nanoseconds_since_the_origin() {
        let origin = Instant::now();
        let start = Source::Os.read(origin);
        while origin.elapsed() < Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        let end = Source::Os.read(origin);
        let measured = origin.elapsed();
        assert!(
            Duration::from_nanos(end) >= Duration::from_millis(20),
            "{end}"
        );
        assert!(Duration::from_nanos(end) <= measured, "{end} {measured:?}");
        assert_eq!(Source::Os.nanos_between(start, end), end - start);
        assert_eq!(Source::Os.nanos_between(end, start), 0);
    }

    #[test]
    fn a_duration_to_an_earlier_reading_is_zero() {
        let (earlier, later) = (Tick::from_raw(5), Tick::from_raw(9));
        assert_eq!(earlier.duration_since(later), Duration::ZERO);
        assert_eq!(
            Tick::from_raw(0).to_raw(),
            1,
            "0 is kept for \"no reading\""
        );
    }

    #[test]
    fn a_reading_plus_a_duration_is_that_duration_later() {
        let tick = Tick::now();
        let later = tick.plus(Duration::from_secs(3600)).duration_since(tick);
        assert!(
            later.abs_diff(Duration::from_secs(3600)) < Duration::from_millis(1),
            "{later:?}"
        );
    }

    #[test]
    fn later_readings_give_later_times_between_refreshes() {
        let first = Tick::now();
        let (first_instant, first_time) = first.times();
        let second = Tick::now();
        let (second_instant, second_time) = second.times();
        let took = second.duration_since(first);
        // Exact unless the OS clocks were read again between the two (then off by the drift
        // since the previous read: usually well under a microsecond; the two readings are
        // nanoseconds apart, so a read between them is rare).
        let apart = second_instant.saturating_duration_since(first_instant);
        assert!(
            apart.abs_diff(took) < Duration::from_micros(5),
            "{apart:?} {took:?}"
        );
        let apart = second_time.duration_since(first_time).unwrap_or_default();
        assert!(
            apart.abs_diff(took) < Duration::from_micros(5),
            "{apart:?} {took:?}"
        );
    }
}
