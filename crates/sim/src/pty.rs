//! Pseudo-terminals for simulated consoles, set up as xenconsoled and
//! QEMU do: raw mode, the slave kept open so the master never sees EIO
//! while no client is attached.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;

use rustix::fs::{OFlags, fcntl_setfl};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{OptionalActions, tcgetattr, tcsetattr};

/// A console pty: the simulator holds the master, clients open `path`.
pub struct Pty {
    /// The master side, where the simulator reads input and writes output.
    pub master: Arc<OwnedFd>,
    _slave: File,
    /// The slave's device path (`/dev/pts/N`), as written to xenstore.
    pub path: String,
}

impl Pty {
    /// A new pty in raw mode, its master non-blocking.
    pub fn open() -> io::Result<Pty> {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let name = ptsname(&master, Vec::new())?;
        let path = name.to_string_lossy().into_owned();
        let slave = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(OFlags::NOCTTY.bits() as i32)
            .open(&path)?;
        let mut t = tcgetattr(slave.as_fd())?;
        t.make_raw();
        tcsetattr(slave.as_fd(), OptionalActions::Now, &t)?;
        fcntl_setfl(&master, OFlags::RDWR | OFlags::NONBLOCK)?;
        Ok(Pty {
            master: Arc::new(master),
            _slave: slave,
            path,
        })
    }

    /// Write what fits; console output nobody reads is dropped once the
    /// pty's buffer is full, as a real console ring overwrites.
    pub fn write(&self, data: &[u8]) {
        let mut rest = data;
        while !rest.is_empty() {
            match rustix::io::write(&*self.master, rest) {
                Ok(0) | Err(_) => break,
                Ok(n) => rest = &rest[n..],
            }
        }
    }
}
