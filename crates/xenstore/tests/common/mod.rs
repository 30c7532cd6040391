//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use xenstore::{Daemon, Server, Xs};

/// A private directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("xs-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A daemon serving on a fresh socket. Field order matters: the server
/// stops before its directory goes away.
pub struct Fixture {
    pub server: Server,
    pub daemon: Daemon,
    pub dir: TempDir,
}

impl Fixture {
    pub fn new(tag: &str) -> Fixture {
        Fixture::with(tag, Daemon::new())
    }

    pub fn with(tag: &str, daemon: Daemon) -> Fixture {
        let dir = TempDir::new(tag);
        let server = daemon.serve(dir.path().join("socket")).unwrap();
        Fixture {
            server,
            daemon,
            dir,
        }
    }

    pub fn socket(&self) -> &Path {
        self.server.path()
    }

    pub fn client(&self) -> Xs {
        Xs::open_path(self.socket()).unwrap()
    }

    /// A client acting as an unprivileged domain.
    pub fn domain(&self, domid: u32) -> Xs {
        Xs::new(self.daemon.connect_as(domid).unwrap()).unwrap()
    }
}

/// Polls `cond` for up to five seconds.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
