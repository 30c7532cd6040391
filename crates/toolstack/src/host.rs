//! A host as the toolstack sees it: its hypervisor, its dom0's services,
//! where it keeps files and where its xenstored listens. The backend
//! selection puts one together; callers take what they use.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use xenstore::Xs;

use crate::{Dom0, Error, Hypervisor};

/// One host: the two halves of the seam, and its facts as plain fields.
pub struct Host {
    /// What the hypervisor does: domains, memory, CPUs.
    pub hv: Box<dyn Hypervisor>,
    /// What dom0's services do: hotplug scripts, device models, I/O counters.
    pub dom0: Box<dyn Dom0>,
    /// Where this host keeps the toolstack's files.
    pub paths: HostPaths,
    /// Where this host's xenstored listens.
    pub xenstored: Xenstored,
}

/// Where a host's xenstored is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Xenstored {
    /// The system's: the socket or device xenstore clients look for.
    System,
    /// A socket of its own (the simulator's).
    Socket(PathBuf),
}

impl Host {
    /// A connection to this host's xenstored.
    pub fn xenstore(&self) -> Result<Xs, Error> {
        Ok(match &self.xenstored {
            Xenstored::System => Xs::open()?,
            Xenstored::Socket(path) => Xs::open_path(path)?,
        })
    }
}

/// Where a host keeps the toolstack's files (libxl's XEN_LIB_DIR etc.).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPaths {
    /// Userdata (stored configs), qemu save files: /var/lib/xen.
    pub lib: PathBuf,
    /// Runtime files (domid history, QMP sockets): /var/run/xen.
    pub run: PathBuf,
    /// Monitor and device-model logs: /var/log/xen.
    pub log: PathBuf,
    /// xl's global lock around domain creation (xl.conf `lockfile`).
    pub lockfile: PathBuf,
    /// Hotplug scripts: /etc/xen/scripts.
    pub scripts: PathBuf,
    /// Console clients' locks (`xenconsole.<domid>`): /var/lock.
    pub locks: PathBuf,
    /// The qemu-xen device model (libxl's QEMU_XEN_PATH).
    pub qemu_xen: LazyPath,
    /// Xen's own programs (libxl's LIBEXEC_BIN: pygrub lives there).
    pub xen_bin: LazyPath,
    /// Xen's firmware (libxl's XENFIRMWAREDIR: hvmloader).
    pub firmware: LazyPath,
    /// Where the kernel's sysfs is (PCI devices and their drivers): /sys.
    pub sysfs: PathBuf,
}

/// A path found by looking at the host the first time it is asked for:
/// where Xen is installed takes a directory listing and a few stats, which
/// most commands never need.
#[derive(Clone)]
pub struct LazyPath {
    found: Arc<OnceLock<PathBuf>>,
    probe: fn() -> PathBuf,
}

impl LazyPath {
    /// Found by `probe` when first asked for.
    pub fn probed(probe: fn() -> PathBuf) -> LazyPath {
        LazyPath {
            found: Arc::new(OnceLock::new()),
            probe,
        }
    }

    /// The path.
    pub fn get(&self) -> &Path {
        self.found.get_or_init(self.probe)
    }
}

impl<T: Into<PathBuf>> From<T> for LazyPath {
    fn from(p: T) -> LazyPath {
        let found = OnceLock::new();
        let _ = found.set(p.into());
        LazyPath {
            found: Arc::new(found),
            probe: || PathBuf::from("/"),
        }
    }
}

impl PartialEq for LazyPath {
    fn eq(&self, other: &LazyPath) -> bool {
        self.get() == other.get()
    }
}

impl Eq for LazyPath {}

impl std::fmt::Debug for LazyPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.found.get() {
            Some(p) => write!(f, "{}", p.display()),
            None => write!(f, "<not looked up yet>"),
        }
    }
}

/// Xen's folder: Debian keeps one per release (/usr/lib/xen-4.17, beside
/// /usr/lib/xen-common); the newest release wins, else Xen's default.
fn xen_lib_dir() -> PathBuf {
    let names = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned());
    newest_release(names).map_or_else(
        || PathBuf::from("/usr/lib/xen"),
        |n| Path::new("/usr/lib").join(n),
    )
}

/// Of folder names like `xen-4.17`, the newest release's (numerically:
/// 4.9 before 4.17); other names (`xen-common`) are not releases.
fn newest_release(names: impl Iterator<Item = String>) -> Option<String> {
    let version = |n: &str| -> Option<Vec<u32>> {
        n.strip_prefix("xen-")?
            .split('.')
            .map(|p| p.parse().ok())
            .collect()
    };
    names
        .filter_map(|n| Some((version(&n)?, n)))
        .max()
        .map(|(_, n)| n)
}

/// Where distributions install qemu-xen: Debian's package first, then
/// Xen's own default.
pub(crate) const QEMU_XEN_PATHS: [&str; 2] = [
    "/usr/libexec/xen-qemu-system-i386",
    "/usr/lib/xen/bin/qemu-system-i386",
];

impl HostPaths {
    /// The paths of a Xen host as Debian installs it.
    pub fn xen() -> HostPaths {
        HostPaths {
            lib: "/var/lib/xen".into(),
            run: "/var/run/xen".into(),
            log: "/var/log/xen".into(),
            lockfile: "/var/lock/xl".into(),
            scripts: "/etc/xen/scripts".into(),
            locks: "/var/lock".into(),
            qemu_xen: LazyPath::probed(|| {
                QEMU_XEN_PATHS
                    .iter()
                    .find(|p| Path::new(p).exists())
                    .unwrap_or(&QEMU_XEN_PATHS[1])
                    .into()
            }),
            firmware: LazyPath::probed(|| xen_lib_dir().join("boot")),
            xen_bin: LazyPath::probed(|| xen_lib_dir().join("bin")),
            sysfs: "/sys".into(),
        }
    }

    /// The same layout under one directory (the simulator's host). Hotplug
    /// scripts keep Xen's path: it is what xenstore records, and the
    /// simulator never runs them.
    pub fn under(root: &Path) -> HostPaths {
        HostPaths {
            lib: root.join("lib"),
            run: root.join("run"),
            log: root.join("log"),
            lockfile: root.join("xl.lock"),
            scripts: "/etc/xen/scripts".into(),
            locks: root.join("lock"),
            qemu_xen: QEMU_XEN_PATHS[1].into(),
            xen_bin: "/usr/lib/xen/bin".into(),
            firmware: "/usr/lib/xen/boot".into(),
            sysfs: root.join("sys"),
        }
    }

    /// A domain's log, `<log dir>/<prefix><name>.log` as libxl names it.
    /// libxl takes any domain name, `/` included, which would put the file
    /// below the log directory (or, with `..`, outside it) or fail to open
    /// it: a `/` is written `%2F`, so the file is always in the directory.
    pub fn domain_log(&self, prefix: &str, name: &str) -> PathBuf {
        self.log
            .join(format!("{prefix}{}.log", name.replace('/', "%2F")))
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Component, Path};

    use super::{HostPaths, newest_release};

    #[test]
    fn domain_logs_stay_in_the_log_directory() {
        let p = HostPaths::under(Path::new("/h"));
        assert_eq!(p.domain_log("xl-", "web"), Path::new("/h/log/xl-web.log"));
        for name in ["a/b", "../../etc/x", "/", "x/../../y", ".."] {
            let log = p.domain_log("qemu-dm-", name);
            assert_eq!(log.parent(), Some(Path::new("/h/log")), "{name}");
            assert!(
                log.components().all(|c| c != Component::ParentDir),
                "{name}"
            );
        }
        assert_eq!(p.domain_log("xl-", "a/b"), Path::new("/h/log/xl-a%2Fb.log"));
    }

    #[test]
    fn the_newest_xen_release_folder_wins_and_xen_common_is_not_one() {
        let names = ["xen-common", "xen-4.9", "xen-4.17", "xen-4.20", "xenwatch"];
        let newest = newest_release(names.iter().map(|s| s.to_string()));
        assert_eq!(newest.as_deref(), Some("xen-4.20"));
        assert_eq!(newest_release(["xen-common".to_string()].into_iter()), None);
    }
}
