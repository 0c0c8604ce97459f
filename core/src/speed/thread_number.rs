//! A number per thread, for tables that tell threads apart (`ThreadId::as_u64` is not stable).

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's number (`usize::MAX`: not assigned yet).
    static NUMBER: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's number: 0 for the first thread of the process that asks, 1 for the next, and
/// so on. `None` while the thread's thread-local storage is being destroyed (a flag evaluated
/// from another thread-local's destructor): callers then take a path that needs no number.
#[inline]
pub(crate) fn thread_number() -> Option<usize> {
    NUMBER
        .try_with(|number| {
            let mut current = number.get();
            if current == usize::MAX {
                current = NEXT.fetch_add(1, Ordering::Relaxed);
                number.set(current);
            }
            current
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_has_its_own_number_for_life() {
        let here = thread_number();
        assert_eq!(here, thread_number());
        let there = std::thread::spawn(thread_number).join().ok().flatten();
        assert!(here.is_some() && there.is_some());
        assert_ne!(here, there);
    }
}
