//! Debug lines for `xl -v`/`-vv`/`-vvv` (through the `log` facade; the
//! `xl` binary installs the logger): what the toolstack does and how long
//! it took, so a slow or failing command explains itself.

use std::time::{Duration, Instant};

/// A step worth telling at `-v`.
pub fn info(line: impl FnOnce() -> String) {
    if log::log_enabled!(log::Level::Info) {
        log::info!("{}", line());
    }
}

/// Details (`-vvv`), such as the domain builder's layout.
pub fn detail(line: impl FnOnce() -> String) {
    if log::log_enabled!(log::Level::Trace) {
        log::trace!("{}", line());
    }
}

/// Run `f`, telling at `-vv` what it was and how long it took.
pub fn timed<T>(what: impl FnOnce() -> String, f: impl FnOnce() -> T) -> T {
    if !log::log_enabled!(log::Level::Debug) {
        return f();
    }
    let t = Instant::now();
    let r = f();
    timed_done(what, t.elapsed());
    r
}

/// Tell at `-vv` how long something measured elsewhere took.
pub fn timed_done(what: impl FnOnce() -> String, took: Duration) {
    if log::log_enabled!(log::Level::Debug) {
        log::debug!("{} ({:.3} ms)", what(), took.as_secs_f64() * 1e3);
    }
}
