//! Containment of panics from user callbacks and sinks: caught, counted, reported once.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

/// Runs code that may panic (a user callback, a sink) inside an evaluation. A panic is caught,
/// counted, and logged through `log` the first time only, so a callback that panics on every
/// evaluation cannot flood the application's logs.
#[derive(Debug)]
pub(crate) struct PanicGuard {
    what: &'static str,
    panics: AtomicU64,
}

impl PanicGuard {
    pub(crate) const fn new(what: &'static str) -> Self {
        Self {
            what,
            panics: AtomicU64::new(0),
        }
    }

    /// `Some(result)`, or `None` when `f` panicked.
    pub(crate) fn run<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(result) => Some(result),
            Err(payload) => {
                if self.panics.fetch_add(1, Ordering::Relaxed) == 0 {
                    log::error!(
                        target: "openfeature_hooks",
                        "{} panicked; the evaluation continues, later panics are counted but not logged: {}",
                        self.what,
                        panic_message(payload.as_ref()),
                    );
                }
                None
            }
        }
    }

    pub(crate) fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_panic_and_returns_none() {
        let guard = PanicGuard::new("test callback");
        assert_eq!(guard.run(|| 5), Some(5));
        for _ in 0..3 {
            assert_eq!(guard.run(|| -> u8 { panic!("boom") }), None);
        }
        assert_eq!(guard.panics(), 3);
        assert_eq!(guard.run(|| 6), Some(6));
    }

    #[test]
    fn panic_messages() {
        let text: Box<dyn Any + Send> = Box::new("static text");
        assert_eq!(panic_message(text.as_ref()), "static text");
        let owned: Box<dyn Any + Send> = Box::new(String::from("owned"));
        assert_eq!(panic_message(owned.as_ref()), "owned");
        let other: Box<dyn Any + Send> = Box::new(7_u8);
        assert_eq!(panic_message(other.as_ref()), "(non-string panic payload)");
    }
}
