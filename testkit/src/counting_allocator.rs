//! A global allocator that counts allocations per thread, for tests that prove a path
//! allocates nothing.

// A `GlobalAlloc` cannot be written without `unsafe`; this one only delegates to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts each thread's allocations, then allocates with [`System`]. Install it in a test
/// binary of its own:
///
/// ```ignore
/// #[global_allocator]
/// static GLOBAL: CountingAllocator = CountingAllocator;
/// ```
///
/// Counts are per thread ([`thread_allocations`]): tests of one binary run side by side, and
/// background threads count their own.
#[derive(Debug)]
pub struct CountingAllocator;

thread_local! {
    static THREAD_ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Allocations made so far by the calling thread (0 unless [`CountingAllocator`] is the
/// global allocator).
pub fn thread_allocations() -> usize {
    THREAD_ALLOCATIONS.try_with(Cell::get).unwrap_or(0)
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = THREAD_ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` above, with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}
