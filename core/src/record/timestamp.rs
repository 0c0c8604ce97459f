//! RFC 3339 timestamps in UTC, written without allocation.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time that displays as `2026-11-21T05:09:01.123456Z` (RFC 3339, UTC,
/// microseconds), written without allocating. Shared by the sinks that write timestamps.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use openfeature_hooks_core::__private::Rfc3339;
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

    /// The text, in a fixed-size buffer: what [`Display`](fmt::Display) writes, for writers
    /// that copy bytes (the JSON-lines writer formats every record's time with it).
    ///
    /// Digits are written directly: `write!` with width specifiers took 134 ns of the JSON-lines
    /// writer's ~300 ns a record (`perf`, 2026-11-29); this takes about 15.
    pub fn text(&self) -> Rfc3339Text {
        let (seconds, micros) = self.since_epoch();
        let mut text = TEMPLATE;
        put_seconds(&mut text, seconds);
        put_digits(&mut text[MICROS], u64::from(micros));
        Rfc3339Text(text)
    }

    /// Whole seconds and microseconds since the epoch; times before 1970 (not produced by
    /// `now()`) print as the epoch.
    fn since_epoch(&self) -> (u64, u32) {
        let since_epoch = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        (since_epoch.as_secs(), since_epoch.subsec_micros())
    }
}

const TEMPLATE: [u8; 27] = *b"0000-00-00T00:00:00.000000Z";
const MICROS: std::ops::Range<usize> = 20..26;

/// Writes the date and time to the second of `seconds` since the epoch into `text`.
fn put_seconds(text: &mut [u8; 27], seconds: u64) {
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    // Years past 9999 (not produced by a real clock) keep their last four digits.
    put_digits(&mut text[0..4], year);
    put_digits(&mut text[5..7], month);
    put_digits(&mut text[8..10], day);
    put_digits(&mut text[11..13], second_of_day / 3600);
    put_digits(&mut text[14..16], second_of_day / 60 % 60);
    put_digits(&mut text[17..19], second_of_day % 60);
}

/// [`Rfc3339::text`] for a writer that formats many times in a row, most of them within the
/// same second: the date and time up to the second are kept from the last call and only the
/// microseconds written when the second has not changed.
///
/// Why: the JSON-lines writer thread formats every record's time, and the date's divisions took
/// a fifth of its time: CPU the process spends on every evaluation (BENCHMARKS.md, "The
/// JSON-lines writer's own time").
#[derive(Debug)]
pub(crate) struct Rfc3339Writer {
    /// The second of `text` (`u64::MAX` before the first call).
    second: u64,
    text: [u8; 27],
}

impl Default for Rfc3339Writer {
    fn default() -> Self {
        Self {
            second: u64::MAX,
            text: TEMPLATE,
        }
    }
}

impl Rfc3339Writer {
    /// The text of `time`, as [`Rfc3339::text`] writes it.
    pub(crate) fn text(&mut self, time: SystemTime) -> Rfc3339Text {
        let (seconds, micros) = Rfc3339::at(time).since_epoch();
        if seconds != self.second {
            put_seconds(&mut self.text, seconds);
            self.second = seconds;
        }
        put_digits(&mut self.text[MICROS], u64::from(micros));
        Rfc3339Text(self.text)
    }
}

/// Writes the last `into.len()` decimal digits of `number` into `into`, zero-padded.
fn put_digits(into: &mut [u8], mut number: u64) {
    for digit in into.iter_mut().rev() {
        // `number % 10` is below 10: the cast cannot truncate.
        *digit = b'0' + (number % 10) as u8;
        number /= 10;
    }
}

/// The text of an [`Rfc3339`] time: 27 ASCII bytes, `2026-11-21T05:09:01.123456Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rfc3339Text([u8; 27]);

impl Rfc3339Text {
    /// The text as a string.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written into the buffer.
        std::str::from_utf8(&self.0).unwrap_or("1970-01-01T00:00:00.000000Z")
    }
}

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
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

    #[test]
    fn the_writer_writes_what_text_writes_in_any_order() {
        let mut writer = Rfc3339Writer::default();
        // Same second, the next second, back in time, a new day, the epoch and before it.
        for (seconds, micros) in [
            (1_764_400_000, 1),
            (1_764_400_000, 999_999),
            (1_764_400_001, 0),
            (1_764_399_999, 500_000),
            (1_764_460_800, 42),
            (0, 0),
            (951_827_696, 7),
            (951_827_696, 8),
        ] {
            let time = UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_micros(micros);
            assert_eq!(
                writer.text(time),
                Rfc3339::at(time).text(),
                "{seconds}.{micros}"
            );
        }
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(writer.text(before).as_str(), "1970-01-01T00:00:00.000000Z");
    }

    fn at(seconds: u64, micros: u32) -> String {
        let time = UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_micros(micros.into());
        Rfc3339::at(time).to_string()
    }

    /// The formatting `text` replaced, kept as its oracle.
    fn formatted(seconds: u64, micros: u32) -> String {
        let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
        let (year, month, day) = civil_from_days(days);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60,
        )
    }

    #[test]
    fn every_day_of_four_centuries_matches_the_formatted_text() {
        // 1970 to 2370, one time a day, each at a different second and microsecond.
        for day in 0..146_097_u64 {
            let seconds = day * 86_400 + (day * 7_919) % 86_400;
            let micros = u32::try_from((day * 104_729) % 1_000_000).unwrap_or(0);
            assert_eq!(at(seconds, micros), formatted(seconds, micros), "day {day}");
        }
    }

    #[test]
    fn times_before_1970_print_as_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(
            Rfc3339::at(before).to_string(),
            "1970-01-01T00:00:00.000000Z"
        );
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
