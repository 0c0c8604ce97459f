//! How far a time the hook derives may be from the OS clock read beside it.

use std::time::{Duration, SystemTime};

/// How far apart a test lets a time the hook derived (a record's timestamp, a span's start or
/// end) and the OS wall clock read just before or after the evaluation.
///
/// The hook derives times from the CPU's time-stamp counter and a correction it reads from the
/// OS clocks every 50 ms (`tick_clock` in core): within a few microseconds of the OS clock
/// when nothing disturbs it, further when the counter's calibration was taken on a loaded
/// machine. A test that checks a time against two OS clock readings microseconds apart
/// would otherwise fail now and then on a busy CI machine. A millisecond is far beyond what
/// the clock should be off by, and far below the gaps tests separate moments with.
pub const CLOCK_SLACK: Duration = Duration::from_millis(1);

/// Whether `time` lies between `before` and `after`, give or take [`CLOCK_SLACK`].
pub fn within_clock_slack(before: SystemTime, time: SystemTime, after: SystemTime) -> bool {
    before
        .checked_sub(CLOCK_SLACK)
        .is_none_or(|from| from <= time)
        && time <= after + CLOCK_SLACK
}
