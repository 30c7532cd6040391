//! A global allocator that refuses to let live heap memory pass
//! [`MEMORY_LIMIT`]: the allocation that would cross it fails, and Rust
//! aborts with "memory allocation of N bytes failed". Unlike sampling the
//! resident size (libFuzzer's `-rss_limit_mb`, which without a sanitizer
//! runtime is all it has), this also catches a huge buffer that is
//! reserved but never touched, and it fails on the input that did it.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most heap one input may hold at once.
pub const MEMORY_LIMIT: usize = 256 << 20;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The system allocator under [`MEMORY_LIMIT`]; install it with
/// `#[global_allocator]` in a fuzzing or replay binary.
pub struct LimitedAlloc;

impl LimitedAlloc {
    fn take(size: usize) -> bool {
        // Compare-and-swap, not add-then-undo: a refused request must never
        // show in the count, or a thread allocating at the same moment is
        // refused for memory nobody holds.
        let taken = LIVE.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |live| {
            live.checked_add(size).filter(|&now| now <= MEMORY_LIMIT)
        });
        match taken {
            Ok(before) => {
                PEAK.fetch_max(before + size, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        }
    }

    fn give(size: usize) {
        LIVE.fetch_sub(size, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed to `System` unchanged; the counters only
// decide whether to call it, and a refusal is a null pointer, which the
// GlobalAlloc contract allows for any request.
unsafe impl GlobalAlloc for LimitedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !Self::take(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout contract is passed on as is.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            Self::give(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !Self::take(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as in `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            Self::give(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout (alloc above).
        unsafe { System.dealloc(ptr, layout) };
        Self::give(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old && !Self::take(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: `ptr` and `layout` are the caller's, valid for System.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            if new_size > old {
                Self::give(new_size - old);
            }
        } else if new_size < old {
            Self::give(old - new_size);
        }
        p
    }
}

/// The most heap held at once since the last [`reset_peak`] (counted only
/// when [`LimitedAlloc`] is the global allocator).
pub fn peak_bytes() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Starts a new peak measurement from what is live now.
pub fn reset_peak() {
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
}
