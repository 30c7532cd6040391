//! Debug lines for `xl -v`/`-vv`/`-vvv`, on stderr as libxl's are.
//!
//! `-v` tells the steps a command takes, `-vv` adds how long each took,
//! `-vvv` adds every hypercall and xenstore round trip with its duration.
//! Each line starts with the milliseconds since `xl` started, so the gaps
//! between lines show where the time went; `-T` adds the wall-clock time.

use std::io::Write;
use std::time::Instant;

struct StderrLog {
    start: Instant,
    wall_clock: bool,
}

impl log::Log for StderrLog {
    fn enabled(&self, meta: &log::Metadata<'_>) -> bool {
        meta.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let ms = self.start.elapsed().as_secs_f64() * 1e3;
        let date = if self.wall_clock {
            chrono::Local::now()
                .format("%Y-%m-%d %H:%M:%S%.3f %Z ")
                .to_string()
        } else {
            String::new()
        };
        // One write per line, so lines from threads do not interleave.
        let line = format!("xl: {date}[{ms:9.3} ms] {}\n", record.args());
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// The level `-v` repeated `verbose` times asks for.
fn level(verbose: u32) -> log::LevelFilter {
    match verbose {
        0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Info,
        2 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}

/// Installs the stderr logger; without `-v` nothing is installed and
/// every debug line costs one relaxed load.
pub fn init(verbose: u32, wall_clock: bool, start: Instant) {
    let filter = level(verbose);
    if filter == log::LevelFilter::Off {
        return;
    }
    let logger = Box::leak(Box::new(StderrLog { start, wall_clock }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(filter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_v_adds_a_level() {
        assert_eq!(level(0), log::LevelFilter::Off);
        assert_eq!(level(1), log::LevelFilter::Info);
        assert_eq!(level(2), log::LevelFilter::Debug);
        assert_eq!(level(3), log::LevelFilter::Trace);
        assert_eq!(level(9), log::LevelFilter::Trace);
    }
}
