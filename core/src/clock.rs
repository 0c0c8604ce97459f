//! The time source of the volume controls, so that windows can be tested without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic time source: how long since some fixed origin.
///
/// [`ExposureDedup`](crate::ExposureDedup) reads it once per evaluation to decide whether an
/// exposure's window has passed. The default, [`MonotonicClock`], reads `Instant::now()`; tests
/// inject a [`ManualClock`] and move it forward instead of sleeping.
pub trait Clock: Send + Sync + 'static {
    /// Time elapsed since this clock's origin. Must never go backwards.
    fn elapsed(&self) -> Duration;
}

/// `Instant::now()` since the clock was created: the default clock.
#[derive(Clone, Copy, Debug)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that only moves when told to: for tests of windows, with no sleeps.
///
/// Clones share the same time, so a test keeps one clone and gives another to the wrapper.
///
/// ```
/// use std::time::Duration;
/// use openfeature_hooks_core::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(shared.elapsed(), Duration::from_secs(90));
/// ```
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (saturating at about 584 years).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                Some(now.saturating_add(by))
            });
    }
}

impl Clock for ManualClock {
    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Acquire))
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    #[inline]
    fn elapsed(&self) -> Duration {
        (**self).elapsed()
    }
}
