//! `xl console`: attach to a guest console the way xenconsole does — the
//! pty named in xenstore, Ctrl-] to leave, raw terminal only when stdin and
//! stdout are terminals (restored on every exit path), and an end when the
//! console goes away (the domain was destroyed).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::termios::{self, OptionalActions, Termios};
use xenstore::{Xs, XsOps};

use super::{Ctx, Exit, Outcome, err, fail, xl_error};
use crate::cmdtable::Opts;
use crate::{Status, backend};

/// Ctrl-], xenconsole's escape: leaves when a read returns exactly it.
const ESCAPE: u8 = 0x1d;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pv,
    Serial,
    Vuart,
}

/// Puts a terminal back as it was when dropped (also while unwinding).
struct RawGuard<'a, F: AsFd> {
    fd: &'a F,
    saved: Termios,
}

impl<'a, F: AsFd> RawGuard<'a, F> {
    fn new(fd: &'a F) -> Option<Self> {
        let saved = termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(fd, OptionalActions::Now, &raw).ok()?;
        Some(RawGuard { fd, saved })
    }
}

impl<F: AsFd> Drop for RawGuard<'_, F> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.fd, OptionalActions::Now, &self.saved);
    }
}

fn set_raw(fd: &impl AsFd) {
    if let Ok(mut t) = termios::tcgetattr(fd) {
        t.make_raw();
        let _ = termios::tcsetattr(fd, OptionalActions::Now, &t);
    }
}

/// Wait up to `secs` for the tty node and open it (xenconsole's get_pty_fd).
fn open_pty(xs: &Xs, path: &str, secs: u64) -> Option<File> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(Some(tty)) = xs.try_read(path)
            && !tty.is_empty()
        {
            match OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc_o_noctty())
                .open(&tty)
            {
                Ok(f) => return Some(f),
                Err(e) => err(&format!("xl: could not open tty `{tty}': {e}\n")),
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let _ = xs.wait_watch(left.min(Duration::from_millis(500)));
    }
}

/// O_NOCTTY on Linux: never let the guest's pty become our terminal.
const fn libc_o_noctty() -> i32 {
    0o400
}

pub fn console(cx: &Ctx, opts: Opts) -> Outcome {
    let kind = match opts.value('t') {
        None => None,
        Some("pv") => Some(Kind::Pv),
        Some("serial") => Some(Kind::Serial),
        Some("vuart") => Some(Kind::Vuart),
        Some(_) => return fail("console type supported are: pv, serial, vuart\n"),
    };
    let num = opts
        .value('n')
        .map_or(0, |n| xl_config::value::strtol(n.as_bytes(), 10).0 as u32);
    let domid = cx.domain(&opts.operands()[0])?;
    let (host, xs) = cx.connect()?;
    // The primary console: serial 0 for HVM, PV 0 otherwise.
    let kind = match kind {
        Some(k) => k,
        None => match host.hv.domain(domid) {
            Ok(Some(d)) if d.hvm => Kind::Serial,
            Ok(Some(_)) => Kind::Pv,
            Ok(None) => {
                return fail(format!(
                    "xl: domain {domid} does not exist\nUnable to attach console\n"
                ));
            }
            Err(e) => return Err(xl_error(&e)),
        },
    };
    if domid == 0 {
        // xl execs xenconsole, whose status (EINVAL) is what callers see.
        err("Can't specify Domain-0\n");
        return Err(Exit(22));
    }
    let dom = format!("/local/domain/{domid}");
    let mut path = match kind {
        Kind::Serial => format!("{dom}/serial/{num}/tty"),
        Kind::Vuart => format!("{dom}/vuart/0/tty"),
        Kind::Pv if num == 0 => format!("{dom}/console/tty"),
        Kind::Pv => format!("{dom}/device/console/{num}/tty"),
    };
    // No serial port: fall back to the PV console, as xenconsole does.
    if kind == Kind::Serial && xs.try_read(&path).ok().flatten().is_none() {
        path = if num == 0 {
            format!("{dom}/console/tty")
        } else {
            format!("{dom}/device/console/{num}/tty")
        };
    }

    // One client per console, like xenconsole (and compatible with it).
    let lock_dir = &host.paths.locks;
    let _ = std::fs::create_dir_all(lock_dir);
    let lock_path = lock_dir
        .join(format!("xenconsole.{domid}"))
        .display()
        .to_string();
    let lock = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
    {
        Ok(f) => f,
        Err(e) => return fail(format!("xl: could not open {lock_path}: {e}\n")),
    };
    if lock.try_lock().is_err() {
        return fail(format!(
            "xl: could not lock {lock_path}: another console client is attached to domain {domid}\n"
        ));
    }
    let _unlock = scopeguard(lock_path.clone());

    if let Err(e) = xs.watch(&path, "xl-console") {
        return fail(format!(
            "xl: can't set watch for console pty: {}\n",
            backend::chain(&e)
        ));
    }
    let Some(mut pty) = open_pty(xs, &path, 5) else {
        return fail(format!(
            "xl: could not read tty from store ({path})\nUnable to attach console\n"
        ));
    };
    // The pty too carries bytes, not lines (xenconsole does not restore it).
    set_raw(&pty);

    let stdin = std::io::stdin();
    let interactive = rustix::termios::isatty(&stdin) && rustix::termios::isatty(std::io::stdout());
    let _raw = if interactive {
        RawGuard::new(&stdin)
    } else {
        None
    };
    let term = Arc::new(AtomicBool::new(false));
    let _ = signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&term));

    let status = relay(xs, &path, &mut pty, interactive, &term);
    let _ = xs.unwatch(&path, "xl-console");
    Ok(status)
}

/// Remove the lock file when the client leaves.
fn scopeguard(path: String) -> impl Drop {
    struct Unlink(String);
    impl Drop for Unlink {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    Unlink(path)
}

fn relay(xs: &Xs, path: &str, pty: &mut File, interactive: bool, term: &AtomicBool) -> Status {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    let mut buf = [0u8; 512];
    // Like xenconsole, a non-interactive client only relays guest output.
    let mut stdin_open = interactive;
    while !term.load(Ordering::Relaxed) {
        // The console went away or moved: follow or leave.
        if xs.try_watch().is_some() {
            match xs.try_read(path).ok().flatten().filter(|t| !t.is_empty()) {
                None => return 0,
                Some(tty) => match OpenOptions::new()
                    .read(true)
                    .write(true)
                    .custom_flags(libc_o_noctty())
                    .open(&tty)
                {
                    Ok(f) => {
                        set_raw(&f);
                        *pty = f;
                    }
                    Err(_) => return 0,
                },
            }
        }
        let mut fds = vec![PollFd::new(&*pty, PollFlags::IN)];
        if stdin_open {
            fds.push(PollFd::new(&stdin, PollFlags::IN));
        }
        let timeout = Timespec {
            tv_sec: 0,
            tv_nsec: 200_000_000,
        };
        if poll(&mut fds, Some(&timeout)).is_err() {
            continue;
        }
        let pty_ready = !fds[0].revents().is_empty();
        let stdin_ready = stdin_open && !fds[1].revents().is_empty();
        drop(fds);
        if stdin_ready {
            match stdin.lock().read(&mut buf[..60]) {
                Ok(1) if buf[0] == ESCAPE => return 0,
                Ok(0) => return 0,
                Ok(n) => {
                    let _ = pty.write_all(&buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => stdin_open = false,
            }
        }
        if pty_ready {
            match pty.read(&mut buf) {
                Ok(0) | Err(_) => std::thread::sleep(Duration::from_millis(100)),
                Ok(n) => {
                    if stdout
                        .write_all(&buf[..n])
                        .and_then(|()| stdout.flush())
                        .is_err()
                    {
                        return 1;
                    }
                }
            }
        }
    }
    0
}
