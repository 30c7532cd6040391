//! Split-driver devices in xenstore, the way libxl lays them out
//! (libxl_device.c): a frontend the guest owns, a backend dom0 owns, a copy
//! under /libxl, the backend state machine, and hotplug scripts.

use std::time::{Duration, Instant};

use xenstore::{Access, Perm, Xs, XsOps};

use crate::{Error, HotplugDevice, Hypervisor};

/// Xenbus states (xen/include/public/io/xenbus.h).
pub const STATE_INITIALISING: u32 = 1;
pub const STATE_INIT_WAIT: u32 = 2;
pub const STATE_CLOSING: u32 = 5;
pub const STATE_CLOSED: u32 = 6;

/// How long libxl waits for a backend to change state (LIBXL_INIT_TIMEOUT,
/// LIBXL_DESTROY_TIMEOUT).
pub const BACKEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A device to add: its kinds, ids and the keys each side gets.
#[derive(Clone, Debug, Default)]
pub struct NewDevice {
    /// Frontend kind (`vbd`, `vif`, `console`).
    pub kind: String,
    /// Backend kind (`vbd`, `qdisk`, `vif`, `console`).
    pub backend_kind: String,
    pub domid: u32,
    pub devid: u32,
    pub front: Vec<(String, String)>,
    pub back: Vec<(String, String)>,
}

impl NewDevice {
    pub fn backend_path(&self) -> String {
        format!(
            "/local/domain/0/backend/{}/{}/{}",
            self.backend_kind, self.domid, self.devid
        )
    }

    pub fn frontend_path(&self) -> String {
        frontend_path(self.domid, &self.kind, self.devid)
    }

    fn libxl_path(&self) -> String {
        format!("/libxl/{}/device/{}/{}", self.domid, self.kind, self.devid)
    }

    /// The backend's hotplug script, when it has one.
    pub fn script(&self) -> Option<&str> {
        self.back
            .iter()
            .find(|(k, _)| k == "script")
            .map(|(_, v)| v.as_str())
    }
}

/// Where the guest finds a device (console 0 is special).
pub fn frontend_path(domid: u32, kind: &str, devid: u32) -> String {
    if kind == "console" && devid == 0 {
        format!("/local/domain/{domid}/console")
    } else {
        format!("/local/domain/{domid}/device/{kind}/{devid}")
    }
}

fn pairs(list: &[(&str, String)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

/// Writes frontend, backend and libxl nodes in one transaction.
pub fn write(xs: &Xs, dev: &NewDevice) -> Result<(), xenstore::Error> {
    let (fe, be, lx) = (dev.frontend_path(), dev.backend_path(), dev.libxl_path());
    let mut back = pairs(&[
        ("frontend", fe.clone()),
        ("frontend-id", dev.domid.to_string()),
        ("online", "1".into()),
        ("state", STATE_INITIALISING.to_string()),
    ]);
    back.extend(dev.back.iter().cloned());
    let mut front = pairs(&[
        ("backend", be.clone()),
        ("backend-id", "0".into()),
        ("state", STATE_INITIALISING.to_string()),
    ]);
    front.extend(dev.front.iter().cloned());
    // The guest owns its frontend and the backend may read it; dom0 owns
    // the backend and the guest may read it; /libxl is dom0's alone.
    let fe_perms = [
        Perm::new(dev.domid, Access::None),
        Perm::new(0, Access::Read),
    ];
    let be_perms = [
        Perm::new(0, Access::None),
        Perm::new(dev.domid, Access::Read),
    ];
    xs.transaction(|t| -> Result<(), xenstore::Error> {
        let _ = t.rm(&fe);
        let _ = t.rm(&be);
        t.mkdir(&fe)?;
        t.set_perms(&fe, &fe_perms)?;
        for (k, v) in &front {
            t.write(&format!("{fe}/{k}"), v)?;
        }
        t.mkdir(&be)?;
        t.set_perms(&be, &be_perms)?;
        for (k, v) in &back {
            t.write(&format!("{be}/{k}"), v)?;
        }
        t.mkdir(&lx)?;
        t.set_perms(&lx, &[Perm::new(0, Access::None)])?;
        t.write(&format!("{lx}/frontend"), &fe)?;
        t.write(&format!("{lx}/backend"), &be)?;
        for (k, v) in &back {
            t.write(&format!("{lx}/{k}"), v)?;
        }
        Ok(())
    })
}

/// Waits until a backend's `state` is `want` (or the node is gone, when
/// `gone_ok`). Returns the last state seen on timeout.
pub fn wait_state(
    xs: &Xs,
    backend: &str,
    want: u32,
    gone_ok: bool,
    timeout: Duration,
) -> Result<Result<(), Option<u32>>, xenstore::Error> {
    let path = format!("{backend}/state");
    let token = format!("xl-state-{}", std::process::id());
    xs.watch(&path, &token)?;
    let deadline = Instant::now() + timeout;
    let result = loop {
        let state = xs
            .try_read(&path)?
            .and_then(|s| s.trim().parse::<u32>().ok());
        match state {
            Some(s) if s == want => break Ok(()),
            None if gone_ok => break Ok(()),
            _ => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Err(state);
        }
        xs.wait_watch(left)?;
    };
    let _ = xs.unwatch(&path, &token);
    Ok(result)
}

/// Adds a device: nodes, then for scripted backends the wait for InitWait
/// and the hotplug script, as libxl does with run_hotplug_scripts=1.
pub fn add(hv: &dyn Hypervisor, xs: &Xs, dev: &NewDevice) -> Result<(), Error> {
    write(xs, dev)?;
    let Some(script) = dev.script() else {
        return Ok(());
    };
    let be = dev.backend_path();
    if let Err(state) = wait_state(xs, &be, STATE_INIT_WAIT, false, BACKEND_TIMEOUT)? {
        return Err(Error::Backend(format!(
            "{} {}: backend {be} did not reach state {STATE_INIT_WAIT} (InitWait) in {}s (state {})",
            dev.kind,
            dev.devid,
            BACKEND_TIMEOUT.as_secs(),
            state.map_or("missing".into(), |s| s.to_string())
        )));
    }
    hv.hotplug(
        xs,
        &HotplugDevice {
            kind: dev.kind.clone(),
            domid: dev.domid,
            devid: dev.devid,
            backend_path: be,
            script: script.to_string(),
        },
        true,
    )
}

/// A device found in /libxl/<domid>/device, to remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Existing {
    pub kind: String,
    pub devid: u32,
    pub backend_path: String,
    pub backend_kind: String,
}

impl Existing {
    /// Whether taking it down involves a backend driver and a script.
    pub fn scripted(&self, xs: &Xs) -> Result<Option<String>, xenstore::Error> {
        xs.try_read(&format!("{}/script", self.backend_path))
    }
}

/// Devices libxl recorded for a domain.
pub fn list(xs: &impl XsOps, domid: u32) -> Result<Vec<Existing>, xenstore::Error> {
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
            out.push(Existing {
                kind: kind.clone(),
                devid: devid.parse().unwrap_or(0),
                backend_path: be,
                backend_kind,
            });
        }
    }
    Ok(out)
}

/// Remove `path`, then each parent left with an empty value and no children.
pub fn path_cleanup(xs: &impl XsOps, path: &str) -> Result<(), xenstore::Error> {
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

/// Takes a device down as libxl's forced removal does: the backend is
/// asked to close (and given BACKEND_TIMEOUT to do so), the hotplug script
/// runs with `remove`, then all three trees go. A backend that does not
/// close is not fatal, as in libxl; a failing script is reported after the
/// nodes are gone.
pub fn remove(hv: &dyn Hypervisor, xs: &Xs, domid: u32, d: &Existing) -> Result<(), Error> {
    let be = &d.backend_path;
    let script = d.scripted(xs)?;
    if xs.exists(&format!("{be}/state"))? {
        xs.transaction(|t| -> Result<(), xenstore::Error> {
            t.write(&format!("{be}/online"), "0")?;
            t.write(&format!("{be}/state"), &STATE_CLOSING.to_string())
        })?;
        let _ = wait_state(xs, be, STATE_CLOSED, true, BACKEND_TIMEOUT)?;
    }
    let hotplug = match script {
        Some(script) if !script.is_empty() => hv.hotplug(
            xs,
            &HotplugDevice {
                kind: d.kind.clone(),
                domid,
                devid: d.devid,
                backend_path: be.clone(),
                script,
            },
            false,
        ),
        _ => Ok(()),
    };
    let libxl_path = format!("/libxl/{domid}/device/{}/{}", d.kind, d.devid);
    xs.transaction(|t| -> Result<(), xenstore::Error> {
        path_cleanup(t, &frontend_path(domid, &d.kind, d.devid))?;
        path_cleanup(t, &libxl_path)?;
        path_cleanup(t, be)
    })?;
    hotplug
}

/// libxl's device number for a virtual disk name (xvdX, hdX, sdX, with
/// optional partition number), or None if it is not one.
pub fn disk_devid(vdev: &str) -> Option<u32> {
    let (prefix, rest) = if let Some(r) = vdev.strip_prefix("xvd") {
        ("xvd", r)
    } else if let Some(r) = vdev.strip_prefix("hd") {
        ("hd", r)
    } else if let Some(r) = vdev.strip_prefix("sd") {
        ("sd", r)
    } else {
        return vdev.parse().ok();
    };
    let letters: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
    let part_text = &rest[letters.len()..];
    if letters.is_empty() || letters.len() > 2 {
        return None;
    }
    let mut disk: u32 = 0;
    for (i, c) in letters.bytes().enumerate() {
        let v = u32::from(c - b'a');
        disk = if i == 0 { v } else { (disk + 1) * 26 + v };
    }
    let part: u32 = if part_text.is_empty() {
        0
    } else {
        part_text.parse().ok()?
    };
    match prefix {
        "xvd" if disk < 16 && part < 16 => Some((202 << 8) | (disk << 4) | part),
        "xvd" if part < 256 => Some((1 << 28) | (disk << 8) | part),
        "hd" if disk < 4 && part < 64 => {
            const MAJORS: [u32; 4] = [3, 3, 22, 22];
            Some((MAJORS[disk as usize] << 8) | ((disk % 2) << 6) | part)
        }
        "sd" if disk < 16 && part < 16 => Some((8 << 8) | (disk << 4) | part),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_numbers_match_libxl() {
        // Values as the real xl 4.17 writes them in virtual-device.
        assert_eq!(disk_devid("xvda"), Some(51712));
        assert_eq!(disk_devid("xvdb"), Some(51728));
        assert_eq!(disk_devid("xvda1"), Some(51713));
        assert_eq!(disk_devid("hda"), Some(768));
        assert_eq!(disk_devid("hdc"), Some(5632));
        assert_eq!(disk_devid("sda"), Some(2048));
        assert_eq!(disk_devid("xvdq"), Some((1 << 28) | (16 << 8)));
        assert_eq!(disk_devid("51712"), Some(51712));
        assert_eq!(disk_devid("vda"), None);
    }

    #[test]
    fn console_zero_lives_outside_device() {
        assert_eq!(frontend_path(3, "console", 0), "/local/domain/3/console");
        assert_eq!(
            frontend_path(3, "vbd", 51712),
            "/local/domain/3/device/vbd/51712"
        );
    }
}
