//! Destroying a domain the way libxl does, so that nothing is left behind:
//! the domain paused, its device model stopped (SIGHUP, its xenstore and
//! QMP residue removed), every device taken down through the backend
//! state machine (online=0, Closing, wait for Closed; hotplug scripts run
//! with the environment libxl gives them; QEMU-served devices after
//! libxl's 2 s grace) and removed from xenstore, the domain's xenstore
//! trees, saved configuration (userdata) and device-model files deleted,
//! the domid recorded as recently used, then the hypervisor told.
//!
//! Refused before anything is touched: device models in a stub domain or
//! running under their own uid (dm_restrict), backends in driver domains
//! and USB controllers.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use xenstore::{Xs, XsOps};

use crate::userdata::FileLock;
use crate::{Dom0, Error, Host, HotplugDevice};

/// Seconds a destroyed domid stays "recent" (LIBXL_DOMID_REUSE_TIMEOUT).
pub const DOMID_REUSE_TIMEOUT: u64 = 60;

/// Why `xl destroy` failed.
#[derive(Debug, thiserror::Error)]
pub enum DestroyError {
    /// No domain has this id.
    #[error("domain {0} does not exist")]
    NotFound(u32),
    /// Something about the domain this toolstack cannot tear down yet (named).
    #[error(
        "destroying domains with {0} is not implemented yet; nothing was changed (use the real xl)"
    )]
    Unsupported(String),
    /// The hypervisor failed.
    #[error(transparent)]
    Toolstack(#[from] Error),
    /// A xenstore read or write failed.
    #[error(transparent)]
    Xenstore(#[from] xenstore::Error),
    /// The domain's userdata lock could not be taken.
    #[error(transparent)]
    Lock(#[from] crate::userdata::LockError),
    /// The hypervisor did not destroy the domain; `problems` are what
    /// else went wrong on the way.
    #[error("cannot destroy domain {domid}{}", also(.problems))]
    Hypervisor {
        /// The domain.
        domid: u32,
        /// The hypervisor's failure.
        #[source]
        source: Error,
        /// What else went wrong on the way, in order.
        problems: Vec<String>,
    },
    /// A file of the domain's that could not be removed.
    #[error("{what} {path}")]
    File {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Other failures, for a message about the one that counts.
fn also(problems: &[String]) -> String {
    if problems.is_empty() {
        String::new()
    } else {
        format!(" (also: {})", problems.join("; "))
    }
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

/// A device as recorded under `/libxl/<domid>/device/<kind>/<devid>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The frontend kind (`vbd`, `vif`, `console`, ...).
    pub kind: String,
    /// The device's id.
    pub devid: u32,
    /// The backend's xenstore directory.
    pub backend_path: String,
    /// The backend kind (`vbd`, `qdisk`, `vif`, ...).
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
pub(crate) fn frontend_path(domid: u32, d: &Device) -> String {
    if d.kind == "console" && d.devid == 0 {
        format!("/local/domain/{domid}/console")
    } else {
        format!("/local/domain/{domid}/device/{}/{}", d.kind, d.devid)
    }
}

/// Remove `path`, then each parent left with an empty value and no children.
pub(crate) fn path_cleanup(xs: &impl XsOps, path: &str) -> Result<(), xenstore::Error> {
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
    write().map_err(|e| {
        // A full disk must not leave a partial file behind.
        let _ = fs::remove_file(&new);
        DestroyError::File {
            what: "cannot update",
            path: path.display().to_string(),
            source: e,
        }
    })
}

/// libxl's LIBXL_QEMU_BODGE_TIMEOUT and LIBXL_DESTROY_TIMEOUT.
const QEMU_BODGE: Duration = Duration::from_secs(2);
const BACKEND_CLOSE: Duration = Duration::from_secs(10);
/// XenbusStateClosing, XenbusStateClosed.
const CLOSING: u32 = 5;
const CLOSED: u32 = 6;

/// Backends QEMU serves (libxl's QEMU_BACKEND).
pub(crate) fn qemu_backend(d: &Device) -> bool {
    matches!(
        d.backend_kind.as_str(),
        "qdisk" | "vfb" | "qusb" | "9pfs" | "vkbd"
    )
}

/// The backend domain in a backend path.
fn backend_domid(d: &Device) -> Option<u32> {
    crate::devlist::backend_domid(&d.backend_path)
}

/// What would stop this destroy from being done the way libxl does it.
fn unsupported(xs: &Xs, domid: u32, devs: &[Device]) -> Result<Option<String>, DestroyError> {
    let image = |k: &str| xs.try_read(&format!("/local/domain/{domid}/image/{k}"));
    if image("device-model-domid")?.is_some() {
        return Ok(Some("a device model in a stub domain".into()));
    }
    if image("device-model-kill-uid")?.is_some() {
        return Ok(Some(
            "a device model running under its own uid (dm_restrict)".into(),
        ));
    }
    for d in devs {
        if d.kind == "vusb" {
            return Ok(Some(format!("USB controller {}", d.devid)));
        }
        if backend_domid(d) != Some(0) {
            return Ok(Some(format!(
                "{} device {} served by a driver domain",
                d.kind, d.devid
            )));
        }
    }
    Ok(None)
}

/// A device on its way down.
struct Removal {
    dev: Device,
    /// QEMU serves it and the domain is paused: no backend to wait for.
    qemu: bool,
    /// The backend was already gone.
    gone: bool,
}

/// Start removing a device (libxl__initiate_device_generic_remove with
/// force): frontend removed, backend told to go offline and close.
fn initiate_remove(
    xs: &Xs,
    domid: u32,
    d: &Device,
    paused: bool,
) -> Result<Removal, xenstore::Error> {
    if qemu_backend(d) && paused {
        return Ok(Removal {
            dev: d.clone(),
            qemu: true,
            gone: false,
        });
    }
    let be = &d.backend_path;
    let gone = xs.transaction(|t| -> Result<bool, xenstore::Error> {
        path_cleanup(t, &frontend_path(domid, d))?;
        let Some(state) = t.try_read(&format!("{be}/state"))? else {
            return Ok(true);
        };
        t.write(&format!("{be}/online"), "0")?;
        if xl_config::value::strtol(state.as_bytes(), 10).0 != i64::from(CLOSED) {
            t.write(&format!("{be}/state"), &CLOSING.to_string())?;
        }
        Ok(false)
    })?;
    Ok(Removal {
        dev: d.clone(),
        qemu: false,
        gone,
    })
}

fn backend_state(xs: &Xs, be: &str) -> Option<i64> {
    xs.try_read(&format!("{be}/state"))
        .ok()
        .flatten()
        .map(|s| xl_config::value::strtol(s.as_bytes(), 10).0)
}

/// Take every device down (libxl__devices_destroy with force): console
/// and vuart entries are just removed; the rest go through their backend,
/// all at once, then their scripts, then out of xenstore. Problems are
/// returned for reporting; libxl carries on past them.
fn destroy_devices(
    dom0: &dyn Dom0,
    xs: &Xs,
    domid: u32,
    devs: &[Device],
    paused: bool,
) -> Result<Vec<String>, DestroyError> {
    let mut problems = Vec::new();
    let mut pending = Vec::new();
    for d in devs {
        if matches!(d.backend_kind.as_str(), "console" | "vuart") {
            device_xenstore_remove(xs, domid, d)?;
        } else {
            pending.push(initiate_remove(xs, domid, d, paused)?);
        }
    }
    let start = Instant::now();
    for r in &pending {
        let be = &r.dev.backend_path;
        if r.qemu {
            // QEMU is gone or stopped and will not answer: libxl waits
            // its grace period, then marks the backend closed itself.
            if let Some(left) = QEMU_BODGE.checked_sub(start.elapsed()) {
                std::thread::sleep(left);
            }
            if backend_state(xs, be).is_some_and(|s| s != i64::from(CLOSED)) {
                xs.write(&format!("{be}/state"), &CLOSED.to_string())?;
            }
        } else if !r.gone {
            while backend_state(xs, be).is_some_and(|s| s != i64::from(CLOSED)) {
                if start.elapsed() > BACKEND_CLOSE {
                    problems.push(format!("unable to remove device with path {be}"));
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if !r.gone
            && let Some(script) = xs.try_read(&format!("{be}/script"))?
        {
            let dev = HotplugDevice {
                kind: r.dev.backend_kind.clone(),
                domid,
                devid: r.dev.devid,
                backend_path: be.clone(),
                script,
            };
            if let Err(e) = dom0.hotplug(xs, &dev, false) {
                problems.push(e.to_string());
            }
        }
        device_xenstore_remove(xs, domid, &r.dev)?;
    }
    Ok(problems)
}

/// libxl__device_destroy: frontend, libxl and backend entries, with
/// their emptied parents.
pub(crate) fn device_xenstore_remove(
    xs: &Xs,
    domid: u32,
    d: &Device,
) -> Result<(), xenstore::Error> {
    let libxl_path = format!("/libxl/{domid}/device/{}/{}", d.kind, d.devid);
    xs.transaction(|t| -> Result<(), xenstore::Error> {
        path_cleanup(t, &frontend_path(domid, d))?;
        path_cleanup(t, &libxl_path)?;
        path_cleanup(t, &d.backend_path)
    })
}

/// Destroy `domid`, cleaning up as libxl does. What went wrong on the way
/// is returned for reporting and does not stop it: once the domain is
/// being taken down, the hypervisor is always told (a domain left behind
/// by a failed cleanup step would hold its memory until someone noticed).
pub fn destroy(host: &Host, xs: &Xs, domid: u32) -> Result<Vec<String>, DestroyError> {
    let (hv, dom0) = (host.hv.as_ref(), host.dom0.as_ref());
    let info = hv.domain(domid)?.ok_or(DestroyError::NotFound(domid))?;
    let devs = devices(xs, domid)?;
    if let Some(what) = unsupported(xs, domid, &devs)? {
        return Err(DestroyError::Unsupported(what));
    }

    let mut problems = Vec::new();

    // libxl carries on past a failed pause; so do we.
    let paused = hv.pause(domid).is_ok()
        || hv
            .domain(domid)
            .ok()
            .flatten()
            .is_some_and(|d| d.paused || d.dying || d.shutdown);

    let note = |problems: &mut Vec<String>, r: Result<(), DestroyError>| {
        if let Err(e) = r {
            problems.push(crate::error_chain(&e));
        }
    };
    note(
        &mut problems,
        xs.try_read(&format!("/local/domain/{domid}/image/device-model-pid"))
            .map_err(DestroyError::from)
            .and_then(|pid| match pid {
                Some(_) => dom0
                    .kill_device_model(xs, domid)
                    .map_err(DestroyError::from),
                None => Ok(()),
            }),
    );
    // Passed-through devices (pciback's, not under /libxl) go first,
    // forced as libxl's destroy forces them.
    let log = |level: crate::pci::Level, msg: &str| {
        crate::trace::info(|| format!("destroy: {level:?}: {msg}"));
    };
    crate::pci::PciHost::new(host, xs, &log).detach_all(domid);
    match destroy_devices(dom0, xs, domid, &devs, paused) {
        Ok(p) => problems.extend(p),
        Err(e) => note(&mut problems, Err(e)),
    }

    let dom_path = format!("/local/domain/{domid}");
    note(
        &mut problems,
        xs.try_read(&format!("{dom_path}/vm"))
            .map(|vm| {
                if let Some(vm) = vm {
                    let _ = xs.rm(&vm);
                }
            })
            .map_err(DestroyError::from),
    );
    for p in [
        dom_path.clone(),
        format!("/libxl/{domid}"),
        format!("{dom_path}/hvmloader"),
    ] {
        match xs.rm(&p) {
            Err(e) if !e.is_not_found() => note(&mut problems, Err(e.into())),
            _ => {}
        }
    }

    let paths = &host.paths;
    let lib = paths.lib.as_path();
    note(&mut problems, remove_userdata(lib, domid, &info.uuid));
    note(
        &mut problems,
        remove_if_present(&lib.join(format!("qemu-save.{domid}"))),
    );
    note(
        &mut problems,
        remove_if_present(&lib.join(format!("qemu-resume.{domid}"))),
    );

    // Recorded before the id is free, so no create can take it meanwhile;
    // a history that cannot be written only risks its early reuse.
    note(&mut problems, mark_domid_recent(&paths.run, domid));
    match hv.destroy(domid, Duration::from_secs(10)) {
        Ok(()) => Ok(problems),
        Err(source) => Err(DestroyError::Hypervisor {
            domid,
            source,
            problems,
        }),
    }
}

/// The domain's userdata files (its stored configuration among them),
/// under libxl's userdata lock.
fn remove_userdata(lib: &Path, domid: u32, uuid: &[u8; 16]) -> Result<(), DestroyError> {
    let _lock = crate::userdata::lock(lib, domid, uuid)?;
    let Ok(entries) = fs::read_dir(lib) else {
        return Ok(());
    };
    let infix = format!(".{domid}.{}.", xl_config::domain::uuid_string(uuid));
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
    Ok(())
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

    /// A host whose run dir cannot take the domid history (its lock's
    /// name is taken by a directory), with domain 5 in xenstore.
    fn broken_history_host(tag: &str) -> (std::path::PathBuf, xenstore::Daemon, Xs, Host) {
        let dir = std::env::temp_dir().join(format!("xl-destroy-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let paths = crate::HostPaths::under(&dir);
        fs::create_dir_all(&paths.lib).unwrap();
        fs::create_dir_all(paths.run.join("domid-history.lock")).unwrap();
        let daemon = xenstore::Daemon::new();
        let xs = Xs::new(daemon.connect_as(0).unwrap()).unwrap();
        xs.write("/local/domain/5/name", "guest").unwrap();
        let hv = crate::fake::FakeHv::with(&[(0, 0), (5, 5)]);
        let host = crate::fake::host(hv, crate::fake::FakeDom0::default(), paths);
        (dir, daemon, xs, host)
    }

    #[test]
    fn the_hypervisor_is_told_even_when_the_history_cannot_be_written() {
        let (dir, _daemon, xs, host) = broken_history_host("history");
        let problems = destroy(&host, &xs, 5).unwrap();
        let ids: Vec<u32> = host.hv.domains().unwrap().iter().map(|d| d.domid).collect();
        assert_eq!(ids, [0], "domain 5 left behind");
        assert!(
            problems.iter().any(|p| p.contains("domid-history.lock")),
            "{problems:?}"
        );
        assert!(xs.try_read("/local/domain/5/name").unwrap().is_none());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_hypervisor_refusal_carries_the_other_failures() {
        let (dir, _daemon, xs, host) = broken_history_host("refused");
        // Gone from the hypervisor between the lookup and the destroy.
        struct Vanishing(crate::fake::FakeHv);
        impl crate::Hypervisor for Vanishing {
            fn domains(&self) -> Result<Vec<crate::DomInfo>, Error> {
                self.0.domains()
            }
            fn physinfo(&self) -> Result<crate::PhysInfo, Error> {
                self.0.physinfo()
            }
            fn create_domain(&self, spec: &crate::CreateSpec) -> Result<u32, Error> {
                self.0.create_domain(spec)
            }
            fn build(&self, domid: u32, spec: &crate::BuildSpec) -> Result<crate::Built, Error> {
                self.0.build(domid, spec)
            }
            fn pause(&self, domid: u32) -> Result<(), Error> {
                self.0.pause(domid)
            }
            fn unpause(&self, domid: u32) -> Result<(), Error> {
                self.0.unpause(domid)
            }
            fn destroy(&self, domid: u32, _: Duration) -> Result<(), Error> {
                Err(Error::NoSuchDomain(domid))
            }
        }
        let host = Host {
            hv: Box::new(Vanishing(crate::fake::FakeHv::with(&[(0, 0), (5, 5)]))),
            ..host
        };
        let e = destroy(&host, &xs, 5).unwrap_err();
        let text = crate::error_chain(&e);
        assert!(
            text.starts_with("cannot destroy domain 5 (also: "),
            "{text}"
        );
        assert!(text.contains("domid-history.lock"), "{text}");
        assert!(text.ends_with(": domain 5 does not exist"), "{text}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
