//! RFC 3339 timestamps in UTC, written without allocation.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time that displays as `2026-11-21T05:09:01.123456Z` (RFC 3339, UTC,
/// microseconds), written without allocating. Shared by the sinks that write timestamps.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use openfeature_hooks_core::Rfc3339;
///
/// let time = UNIX_EPOCH + Duration::from_secs(951_827_696);
/// assert_eq!(Rfc3339::at(time).to_string(), "2000-02-29T12:34:56.000000Z");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rfc3339(SystemTime);

impl Rfc3339 {
    /// Now.
    pub fn now() -> Self {
        Self(SystemTime::now())
    }

    /// `time`.
    pub fn at(time: SystemTime) -> Self {
        Self(time)
    }
}

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Times before 1970 are not produced by `now()`; they print as the epoch.
        let since_epoch = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        let seconds = since_epoch.as_secs();
        let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60,
            since_epoch.subsec_micros(),
        )
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); the algorithm of
/// H. Hinnant's "chrono-compatible low-level date algorithms", for non-negative day counts.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(seconds: u64, micros: u32) -> String {
        let time = UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_micros(micros.into());
        Rfc3339::at(time).to_string()
    }

    #[test]
    fn known_dates() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        // 2000-02-29 (a leap day in a century leap year), 12:34:56.789012
        assert_eq!(at(951_827_696, 789_012), "2000-02-29T12:34:56.789012Z");
        // 2026-11-21T05:09:01Z
        assert_eq!(at(1_795_237_741, 5), "2026-11-21T05:09:01.000005Z");
        // 2100-03-01 (2100 is not a leap year)
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000000Z");
    }
}
