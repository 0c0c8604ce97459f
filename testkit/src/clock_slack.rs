//! How far a time the hook derives may be from the OS clock read beside it.

use std::time::{Duration, SystemTime};

/// How far apart a test lets a time the hook derived (a record's timestamp, a span's start or
/// end) and the OS wall clock read just before or after the evaluation.
///
/// The hook derives times from the CPU's time-stamp counter and a correction it reads from the
/// OS clocks every 50 ms (`tick_clock` in core). Between two reads, the OS wall clock can move
/// without it: on the development VM (2026-11-29) the wall clock stepped against the
/// monotonic clock by up to 275 µs within 5 ms (162 µs at the 99th percentile of 2 000 looks),
/// and the monotonic clock ran ~2 000 ppm off the raw counter, as a host's time sync slews it.
/// A test that checks a time against two OS clock readings microseconds apart then fails now
/// and then on a busy CI machine. Five milliseconds is well beyond those, and well below the
/// gaps tests separate moments with.
pub const CLOCK_SLACK: Duration = Duration::from_millis(5);

/// Whether `time` lies between `before` and `after`, give or take [`CLOCK_SLACK`].
pub fn within_clock_slack(before: SystemTime, time: SystemTime, after: SystemTime) -> bool {
    before
        .checked_sub(CLOCK_SLACK)
        .is_none_or(|from| from <= time)
        && time <= after + CLOCK_SLACK
}
