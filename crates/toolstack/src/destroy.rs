//! Destroying a domain the way libxl does, so that nothing is left behind:
//! devices removed from xenstore, the domain's xenstore trees, its saved
//! configuration (userdata) and device-model files deleted, the domid
//! recorded as recently used, then the hypervisor told.
//!
//! Devices that need a backend to shut down and hotplug scripts to run
//! (vbd, vif, ...) and domains with a device model are refused before
//! anything is touched: that part of libxl's state machine is not written
//! yet, and a half-destroyed domain is worse than none.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use xenstore::{Xs, XsOps};

use crate::userdata::FileLock;
use crate::{Error, Hypervisor};

/// libxl's XEN_LIB_DIR and XEN_RUN_DIR.
pub const XEN_LIB_DIR: &str = "/var/lib/xen";
pub const XEN_RUN_DIR: &str = "/var/run/xen";
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

/// A device as recorded under /libxl/<domid>/device/<kind>/<devid>.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub kind: String,
    pub devid: u32,
    pub backend_path: String,
    pub backend_kind: String,
}

/// Devices libxl knows for a domain.
pub fn devices(xs: &impl XsOps, domid: u32) -> Result<Vec<Device>, xenstore::Error> {
    let base = format!("/libxl/{domid}/device");
    let mut out = Vec::new();
    let kinds = match xs.directory(&base) {
        Ok(k) => k,
        Err(e) if e.is_not_found() => return Ok(out),
        Err(e) => return Err(e),
    };
    for kind in kinds {
        for devid in xs.directory(&format!("{base}/{kind}")).unwrap_or_default() {
            let Some(be) = xs.try_read(&format!("{base}/{kind}/{devid}/backend"))? else {
                continue;
            };
            // /local/domain/<bedomid>/backend/<bekind>/<domid>/<devid>
            let parts: Vec<&str> = be.split('/').collect();
            let backend_kind = parts.get(5).copied().unwrap_or_default().to_string();
            out.push(Device {
                kind: kind.clone(),
                devid: devid.parse().unwrap_or(0),
                backend_path: be,
                backend_kind,
            });
        }
    }
    Ok(out)
}

/// The frontend path libxl uses for a device (console 0 is special).
fn frontend_path(domid: u32, d: &Device) -> String {
    if d.kind == "console" && d.devid == 0 {
        format!("/local/domain/{domid}/console")
    } else {
        format!("/local/domain/{domid}/device/{}/{}", d.kind, d.devid)
    }
}

/// Remove `path`, then each parent left with an empty value and no children.
fn path_cleanup(xs: &impl XsOps, path: &str) -> Result<(), xenstore::Error> {
    match xs.rm(path) {
        Ok(()) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    }
    let mut p = path.to_string();
    while let Some(i) = p.rfind('/') {
        p.truncate(i);
        if p.is_empty()
            || xs.try_read(&p)?.is_none_or(|v| !v.is_empty())
            || !xs.directory(&p)?.is_empty()
        {
            break;
        }
        xs.rm(&p)?;
    }
    Ok(())
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
    let devs = devices(xs, domid)?;
    let hard: Vec<String> = devs
        .iter()
        .filter(|d| !matches!(d.backend_kind.as_str(), "console" | "vuart"))
        .map(|d| format!("{} device {}", d.kind, d.devid))
        .collect();
    if !hard.is_empty() {
        return Err(DestroyError::Unsupported(hard.join(", ")));
    }
    for key in ["device-model-pid", "device-model-domid"] {
        if xs
            .try_read(&format!("/local/domain/{domid}/image/{key}"))?
            .is_some()
        {
            return Err(DestroyError::Unsupported("a device model".into()));
        }
    }

    // libxl carries on past a failed pause; so do we.
    let _ = hv.pause(domid);

    for d in &devs {
        let libxl_path = format!("/libxl/{domid}/device/{}/{}", d.kind, d.devid);
        xs.transaction(|t| -> Result<(), xenstore::Error> {
            path_cleanup(t, &frontend_path(domid, d))?;
            path_cleanup(t, &libxl_path)?;
            path_cleanup(t, &d.backend_path)
        })?;
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

    let lib = Path::new(XEN_LIB_DIR);
    let uuid = xl_config::domain::uuid_string(&info.uuid);
    {
        let _lock = crate::userdata::lock(domid, &info.uuid)?;
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

    mark_domid_recent(Path::new(XEN_RUN_DIR), domid)?;
    hv.destroy(domid, Duration::from_secs(10))?;
    Ok(())
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
