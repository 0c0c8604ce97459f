//! The wall-clock time of a monotonic reading, without a second clock read.
//!
//! Every evaluation whose sinks need durations ends with [`EvaluationEnd::now`]: the monotonic
//! clock for durations and the wall clock for timestamps. Each read is a call into the vDSO,
//! about 17 ns on the bench machine (`perf`: three reads were ~50 ns of the metrics sink's
//! path). The two clocks run at the same rate: the kernel slews both alike when NTP adjusts the
//! frequency, and only a step of the wall clock (an administrator setting the time, a leap
//! second) moves one against the other. So the offset between them is read once, kept in one
//! atomic, and added to each monotonic reading; it is read again when it is older than
//! [`REFRESH`], so a step shows in timestamps within that time.
//!
//! Measured with `otel_sinks` (`metrics`, whose evaluations track starts), against the code
//! before, two batches: +304 → +292 ns (four runs each) and +283 → +264 ns (eight runs each;
//! BENCHMARKS.md, "2026-11-29"). The every-backend bench cannot resolve it (two batches of five
//! runs moved −54 and +64 ns).
//!
//! [`EvaluationEnd::now`]: crate::EvaluationEnd::now

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long an offset is used before the wall clock is read again.
pub(crate) const REFRESH: Duration = Duration::from_millis(50);

/// Monotonic nanoseconds are counted from here.
static ORIGIN: LazyLock<Instant> = LazyLock::new(Instant::now);
/// Wall-clock nanoseconds since the Unix epoch minus monotonic nanoseconds since [`ORIGIN`]:
/// a wall-clock time is a monotonic one plus this. 0 until first read.
static OFFSET: AtomicU64 = AtomicU64::new(0);
/// The monotonic nanoseconds at which [`OFFSET`] was read.
static READ_AT: AtomicU64 = AtomicU64::new(0);

/// The wall-clock time at the monotonic `instant` (taken just now).
#[inline]
pub(crate) fn wall_time_at(instant: Instant) -> SystemTime {
    let nanos = nanos_since_origin(instant);
    let read_at = READ_AT.load(Ordering::Relaxed);
    let offset = if read_at == 0 || nanos.saturating_sub(read_at) > REFRESH.as_nanos() as u64 {
        read_offset()
    } else {
        OFFSET.load(Ordering::Relaxed)
    };
    match offset {
        0 => SystemTime::now(),
        offset => UNIX_EPOCH + Duration::from_nanos(nanos.wrapping_add(offset)),
    }
}

fn nanos_since_origin(instant: Instant) -> u64 {
    u64::try_from(instant.saturating_duration_since(*ORIGIN).as_nanos()).unwrap_or(u64::MAX)
}

/// Reads both clocks and stores their offset; 0 (read the wall clock itself) before 1970.
#[cold]
fn read_offset() -> u64 {
    let instant = Instant::now();
    let Ok(wall) = SystemTime::now().duration_since(UNIX_EPOCH) else {
        return 0;
    };
    let wall = u64::try_from(wall.as_nanos()).unwrap_or(u64::MAX);
    let nanos = nanos_since_origin(instant);
    let offset = wall.wrapping_sub(nanos);
    OFFSET.store(offset, Ordering::Relaxed);
    // Never 0, which means "not read yet".
    READ_AT.store(nanos.max(1), Ordering::Relaxed);
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_times_are_the_wall_clock_to_within_a_millisecond() {
        for _ in 0..1_000 {
            let before = SystemTime::now();
            let derived = wall_time_at(Instant::now());
            let after = SystemTime::now();
            let slack = Duration::from_millis(1);
            assert!(
                derived + slack >= before && derived <= after + slack,
                "{before:?} <= {derived:?} <= {after:?}"
            );
        }
    }

    #[test]
    fn later_instants_give_later_times() {
        let first = Instant::now();
        let second = first + Duration::from_micros(250);
        let (a, b) = (wall_time_at(first), wall_time_at(second));
        // Exact unless the offset was read again between the two (it moves by the time
        // between its two clock reads).
        let apart = b.duration_since(a).unwrap_or_default();
        assert!(
            apart.abs_diff(Duration::from_micros(250)) < Duration::from_micros(5),
            "{apart:?}"
        );
    }
}
