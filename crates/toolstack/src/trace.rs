//! Debug lines for `xl -v`/`-vv`/`-vvv`, on stderr as libxl's are: what
//! the toolstack does and how long it took, so a slow or failing command
//! explains itself.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

static LEVEL: AtomicU32 = AtomicU32::new(0);

/// How many `-v` the user gave.
pub fn set_level(level: u32) {
    LEVEL.store(level, Ordering::Relaxed);
}

pub fn level() -> u32 {
    LEVEL.load(Ordering::Relaxed)
}

fn emit(min: u32, line: impl FnOnce() -> String) {
    if level() >= min {
        eprintln!("xl: {}", line());
    }
}

/// A step worth telling at `-v`.
pub fn info(line: impl FnOnce() -> String) {
    emit(1, line);
}

/// Details (`-vvv`), such as the domain builder's layout.
pub fn detail(line: impl FnOnce() -> String) {
    emit(3, line);
}

/// Run `f`, telling at `-vv` what it was and how long it took.
pub fn timed<T>(what: impl FnOnce() -> String, f: impl FnOnce() -> T) -> T {
    if level() < 2 {
        return f();
    }
    let t = Instant::now();
    let r = f();
    let took = t.elapsed();
    eprintln!("xl: {} ({:.3} ms)", what(), took.as_secs_f64() * 1e3);
    r
}

/// Tell at `-vv` how long something measured elsewhere took.
pub fn timed_done(what: impl FnOnce() -> String, took: std::time::Duration) {
    if level() >= 2 {
        eprintln!("xl: {} ({:.3} ms)", what(), took.as_secs_f64() * 1e3);
    }
}
