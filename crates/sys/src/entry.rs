//! The process entry point, without std's runtime start-up.
//!
//! xl is started thousands of times a day and most runs last a few
//! milliseconds. Before `main`, std reads `/proc/self/maps` to find the
//! main thread's stack guard, maps an alternate signal stack for its stack
//! overflow message and installs handlers for it: a dozen system calls,
//! three of them page-table changes, which under Xen are the hypervisor's
//! to check. [`entry_point!`](crate::entry_point) defines the C `main`
//! instead and keeps only what xl relies on ([`prepare_process`]). A stack
//! overflow still kills the process, with SIGSEGV and no message.

/// What std's start-up does that xl relies on: descriptors 0, 1 and 2
/// open (a closed one becomes /dev/null, so no file xl opens lands on
/// it and is written as stdout), and SIGPIPE ignored, so writing to a
/// closed pipe is an error xl handles rather than a kill.
pub fn prepare_process() {
    open_standard_descriptors();
    keep_inherited_descriptors_from_children();
    // SAFETY: SIG_IGN is not a function, so no handler runs; this happens
    // before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Descriptors above 2 that xl's caller left open (a `flock` lock, a
/// pipe) are for xl alone: the long-lived processes xl starts (QEMU, the
/// simulator's host, the domain monitor's children) would otherwise hold
/// them, and a caller's lock, for as long as they live. Everything xl
/// opens itself is close-on-exec already.
fn keep_inherited_descriptors_from_children() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on
    // descriptors; none is closed, so no owner's descriptor goes stale.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return;
    }
    // Before Linux 5.11: one descriptor at a time, those /proc lists.
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: F_GETFD/F_SETFD read and set the close-on-exec flag of a
        // descriptor number and touch no memory; a number that is not open
        // (the listing's own, closed by now) fails harmlessly with EBADF.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

/// One poll tells which of 0, 1 and 2 are closed (POLLNVAL).
fn open_standard_descriptors() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    loop {
        // SAFETY: `fds` is a live array of three pollfd structures, and a
        // zero timeout returns at once.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
        if r >= 0 {
            break;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            // No poll to be had: ask about each descriptor instead.
            _ => {
                for p in &mut fds {
                    // SAFETY: F_GETFD only reads the descriptor's flags.
                    if unsafe { libc::fcntl(p.fd, libc::F_GETFD) } == -1 {
                        p.revents = libc::POLLNVAL;
                    }
                }
                break;
            }
        }
    }
    for p in fds.iter().filter(|p| p.revents & libc::POLLNVAL != 0) {
        // SAFETY: a NUL-terminated path; the lowest free descriptor is the
        // closed one found above, as nothing else runs yet.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        if fd != p.fd {
            std::process::abort();
        }
    }
}

/// Defines the C `main` of a `#![no_main]` binary: it prepares the
/// process ([`prepare_process`](crate::entry::prepare_process)), then
/// returns what `$run()` returns (an `i32`, the exit status). std still
/// collects the arguments (`std::env::args`) before `main`.
#[macro_export]
macro_rules! entry_point {
    ($run:path) => {
        // SAFETY: the binary is `#![no_main]`, so this is the only `main`
        // symbol; the C runtime calls it once, with nothing else running.
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        extern "C" fn main(
            _argc: ::core::ffi::c_int,
            _argv: *const *const ::core::ffi::c_char,
        ) -> ::core::ffi::c_int {
            $crate::entry::prepare_process();
            $run()
        }
    };
}

/// What the process has cost the system so far (getrusage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Page faults served without I/O: under Xen each maps a page, which
    /// the hypervisor checks.
    pub minor_faults: u64,
    /// Voluntary and involuntary context switches.
    pub context_switches: u64,
}

/// This process's [`Usage`], `None` if the kernel will not tell.
pub fn usage() -> Option<Usage> {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one rusage structure at the pointer, which
    // is valid and sized for it.
    let r = unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) };
    if r != 0 {
        return None;
    }
    // SAFETY: getrusage succeeded, so it filled the structure (and it was
    // zeroed before).
    let ru = unsafe { ru.assume_init() };
    let count = |v: libc::c_long| u64::try_from(v).unwrap_or(0);
    Some(Usage {
        minor_faults: count(ru.ru_minflt),
        context_switches: count(ru.ru_nvcsw) + count(ru.ru_nivcsw),
    })
}
