//! Destroying a domain the way libxl does, so that nothing is left behind:
//! devices removed from xenstore, the domain's xenstore trees, its saved
//! configuration (userdata) and device-model files deleted, the domid
//! recorded as recently used, then the hypervisor told.
//!
//! Devices are taken down through their backends and hotplug scripts and
//! the device model is stopped, both through the backend seam. A backend
//! that cannot do that yet ([`Hypervisor::manages_devices`] false) gets
//! such domains refused before anything is touched: a half-destroyed
//! domain is worse than none.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use xenstore::{Xs, XsOps};

use crate::devices;
use crate::userdata::FileLock;
use crate::{Error, Hypervisor};

/// Seconds a destroyed domid stays "recent" (LIBXL_DOMID_REUSE_TIMEOUT).
pub const DOMID_REUSE_TIMEOUT: u64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum DestroyError {
    #[error("domain {0} does not exist")]
    NotFound(u32),
    #[error(
        "destroying domains with {0} is not implemented yet; nothing was changed (use the real xl)"
    )]
    Unsupported(String),
    #[error(transparent)]
    Toolstack(#[from] Error),
    #[error(transparent)]
    Xenstore(#[from] xenstore::Error),
    #[error(transparent)]
    Lock(#[from] crate::userdata::LockError),
    #[error("{what} {path}")]
    File {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl DestroyError {
    /// The libxl rc xl prints as "destroy failed (rc=N)".
    pub fn rc(&self) -> i32 {
        match self {
            DestroyError::NotFound(_) => -21,
            _ => -3,
        }
    }
}

fn remove_if_present(path: &Path) -> Result<(), DestroyError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DestroyError::File {
            what: "cannot remove",
            path: path.display().to_string(),
            source: e,
        }),
    }
}

/// Seconds on the monotonic clock, which libxl stamps the history with.
fn monotonic_secs() -> u64 {
    fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split('.').next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// Append `domid` to the recently-destroyed list, dropping stale entries.
pub fn mark_domid_recent(run_dir: &Path, domid: u32) -> Result<(), DestroyError> {
    let _lock = FileLock::take(&run_dir.join("domid-history.lock"))?;
    let path = run_dir.join("domid-history");
    let now = monotonic_secs();
    let mut kept = String::new();
    if let Ok(mut f) = File::open(&path) {
        let mut text = String::new();
        let _ = f.read_to_string(&mut text);
        let nums: Vec<u64> = text
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        for pair in nums.chunks(2) {
            if let [sec, dom] = pair
                && (1..0x7ff0).contains(dom)
                && now.saturating_sub(*sec) <= DOMID_REUSE_TIMEOUT
            {
                kept.push_str(&format!("{sec} {dom}\n"));
            }
        }
    }
    kept.push_str(&format!("{now} {domid}\n"));
    let new = run_dir.join("domid-history.new");
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&new)?;
        f.write_all(kept.as_bytes())?;
        f.sync_all()?;
        fs::rename(&new, &path)
    };
    write().map_err(|e| DestroyError::File {
        what: "cannot update",
        path: path.display().to_string(),
        source: e,
    })
}

/// Destroy `domid`, cleaning up as libxl does.
pub fn destroy(hv: &dyn Hypervisor, xs: &Xs, domid: u32) -> Result<(), DestroyError> {
    let info = hv.domain(domid)?.ok_or(DestroyError::NotFound(domid))?;
    let devs = devices::list(xs, domid)?;
    let dm = ["device-model-pid", "device-model-domid"]
        .iter()
        .map(|key| xs.try_read(&format!("/local/domain/{domid}/image/{key}")))
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .any(Option::is_some);
    if !hv.manages_devices() {
        let mut hard: Vec<String> = devs
            .iter()
            .filter(|d| !matches!(d.backend_kind.as_str(), "console" | "vuart"))
            .map(|d| format!("{} device {}", d.kind, d.devid))
            .collect();
        if dm {
            hard.push("a device model".into());
        }
        if !hard.is_empty() {
            return Err(DestroyError::Unsupported(hard.join(", ")));
        }
    }

    // libxl carries on past a failed pause; so do we.
    let _ = hv.pause(domid);
    if dm {
        hv.kill_device_model(xs, domid)?;
    }
    // As libxl: every device is attempted, the first failure reported.
    let mut failed = None;
    for d in &devs {
        if let Err(e) = devices::remove(hv, xs, domid, d) {
            failed.get_or_insert(e);
        }
    }

    let dom_path = format!("/local/domain/{domid}");
    if let Some(vm) = xs.try_read(&format!("{dom_path}/vm"))? {
        let _ = xs.rm(&vm);
    }
    for p in [
        dom_path.clone(),
        format!("/libxl/{domid}"),
        format!("{dom_path}/hvmloader"),
    ] {
        match xs.rm(&p) {
            Err(e) if !e.is_not_found() => return Err(e.into()),
            _ => {}
        }
    }

    let paths = hv.paths();
    let lib = paths.lib.as_path();
    let uuid = xl_config::domain::uuid_string(&info.uuid);
    {
        let _lock = crate::userdata::lock(lib, domid, &info.uuid)?;
        if let Ok(entries) = fs::read_dir(lib) {
            let infix = format!(".{domid}.{uuid}.");
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                // userdata-<one char>.<domid>.<uuid>.<userid>
                if name.starts_with("userdata-")
                    && name.len() > 10
                    && name[10..].starts_with(&infix)
                    && !name.contains("domain-userdata-lock")
                {
                    remove_if_present(&e.path())?;
                }
            }
        }
    }
    remove_if_present(&lib.join(format!("qemu-save.{domid}")))?;
    remove_if_present(&lib.join(format!("qemu-resume.{domid}")))?;

    mark_domid_recent(&paths.run, domid)?;
    hv.destroy(domid, Duration::from_secs(10))?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// Whether `domid` was destroyed less than DOMID_REUSE_TIMEOUT ago.
pub fn domid_recent(run_dir: &Path, domid: u32) -> bool {
    let Ok(text) = fs::read_to_string(run_dir.join("domid-history")) else {
        return false;
    };
    let now = monotonic_secs();
    let nums: Vec<u64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    nums.chunks(2).any(|pair| {
        matches!(pair, [sec, dom] if *dom == u64::from(domid)
            && now.saturating_sub(*sec) <= DOMID_REUSE_TIMEOUT)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domid_history_keeps_recent_valid_entries() {
        let dir = std::env::temp_dir().join(format!("xl-domid-history-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let now = monotonic_secs();
        fs::write(
            dir.join("domid-history"),
            format!("{} 3\n{} 4\n{} 0\n", now, now.saturating_sub(500), now),
        )
        .unwrap();
        mark_domid_recent(&dir, 7).unwrap();
        let text = fs::read_to_string(dir.join("domid-history")).unwrap();
        assert_eq!(text, format!("{now} 3\n{now} 7\n"));
        assert!(
            !dir.join("domid-history.lock").exists(),
            "lock file unlinked on release"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
