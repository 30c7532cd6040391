//! Split-driver devices in xenstore, the way libxl lays them out
//! (libxl_device.c): a frontend the guest owns, a backend dom0 owns, a copy
//! under /libxl, the backend state machine, and hotplug scripts.

use std::time::{Duration, Instant};

use xenstore::{Access, Perm, Xs, XsOps};

use crate::{Dom0, Error, HotplugDevice};

/// Xenbus states (xen/include/public/io/xenbus.h).
pub const STATE_INITIALISING: u32 = 1;
/// The backend waits for the frontend.
pub const STATE_INIT_WAIT: u32 = 2;
/// Closing down.
pub const STATE_CLOSING: u32 = 5;
/// Closed.
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
    /// The guest (frontend domain).
    pub domid: u32,
    /// The device's id.
    pub devid: u32,
    /// The domain serving the backend (dom0 unless a driver domain).
    pub backend_domid: u32,
    /// Keys of the frontend directory, written as they are.
    pub front: Vec<(String, String)>,
    /// Frontend keys the guest may read but not change (libxl's
    /// `ro_front`: a display's connectors).
    pub ro_front: Vec<(String, String)>,
    /// Keys of the backend directory, written as they are.
    pub back: Vec<(String, String)>,
}

impl NewDevice {
    /// `/local/domain/<backend_domid>/backend/<backend_kind>/<domid>/<devid>`.
    pub fn backend_path(&self) -> String {
        format!(
            "/local/domain/{}/backend/{}/{}/{}",
            self.backend_domid, self.backend_kind, self.domid, self.devid
        )
    }

    /// `/local/domain/<domid>/device/<kind>/<devid>`.
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
        ("backend-id", dev.backend_domid.to_string()),
    ]);
    // xenconsoled's console 0 has no frontend state machine (libxl writes
    // none there).
    if !(dev.kind == "console" && dev.devid == 0) {
        front.push(("state".into(), STATE_INITIALISING.to_string()));
    }
    front.extend(dev.front.iter().cloned());
    // The guest owns its frontend and the backend may read it; dom0 owns
    // the backend and the guest may read it; /libxl is dom0's alone.
    let fe_perms = [
        Perm::new(dev.domid, Access::None),
        Perm::new(dev.backend_domid, Access::Read),
    ];
    let be_perms = [
        Perm::new(dev.backend_domid, Access::None),
        Perm::new(dev.domid, Access::Read),
    ];
    // One transaction, its changes pipelined: one round trip to xenstored.
    xs.transaction(|tx| -> Result<(), xenstore::Error> {
        tx.batch(|t| {
            t.rm_if_present(&fe)?;
            t.rm_if_present(&be)?;
            t.mkdir(&fe)?;
            t.set_perms(&fe, &fe_perms)?;
            for (k, v) in &front {
                t.write(&format!("{fe}/{k}"), v)?;
            }
            for (k, v) in &dev.ro_front {
                let path = format!("{fe}/{k}");
                t.write(&path, v)?;
                t.set_perms(&path, &be_perms)?;
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
    })
}

/// A backend that did not reach InitWait within [`BACKEND_TIMEOUT`]
/// (`state` is where it stayed, `None` when its node was missing).
#[derive(Debug, thiserror::Error)]
#[error(
    "backend {path} did not reach state {STATE_INIT_WAIT} (InitWait) in {}s (state {})",
    BACKEND_TIMEOUT.as_secs(),
    state.map_or("missing".into(), |s| s.to_string())
)]
pub struct NotInitWait {
    /// The backend's xenstore directory.
    pub path: String,
    /// The state it was in last.
    pub state: Option<u32>,
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
pub fn add(dom0: &dyn Dom0, xs: &Xs, dev: &NewDevice) -> Result<(), Error> {
    write(xs, dev)?;
    connect(dom0, xs, dev)
}

/// The part of [`add`] after the nodes are written: for scripted
/// backends, the wait for InitWait and the hotplug script.
pub fn connect(dom0: &dyn Dom0, xs: &Xs, dev: &NewDevice) -> Result<(), Error> {
    let Some(script) = dev.script() else {
        return Ok(());
    };
    let be = dev.backend_path();
    if let Err(state) = wait_state(xs, &be, STATE_INIT_WAIT, false, BACKEND_TIMEOUT)? {
        return Err(Error::DeviceNotReady {
            kind: dev.kind.clone(),
            devid: dev.devid,
            source: NotInitWait { path: be, state },
        });
    }
    dom0.hotplug(
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

/// One hotplug script run: its arguments (script first) and the
/// environment variables libxl adds.
pub type HotplugRun = (Vec<String>, Vec<(String, String)>);

/// The script runs libxl makes for a device being added (`add` /
/// `online`) or removed (`remove` / `offline`): vbd runs `block`-style
/// scripts once; a vif runs its script for the PV interface and, for an
/// emulated+PV nic, again for QEMU's tap.
pub fn hotplug_runs(
    xs: &impl XsOps,
    dev: &HotplugDevice,
    add: bool,
) -> Result<Vec<HotplugRun>, xenstore::Error> {
    let be = &dev.backend_path;
    let kind = if dev.kind == "vif" { "vif" } else { "vbd" };
    let (domid, script) = (dev.domid, dev.script.clone());
    let mut env = vec![
        ("script".to_string(), script.clone()),
        ("XENBUS_TYPE".to_string(), kind.to_string()),
        (
            "XENBUS_PATH".to_string(),
            format!("backend/{kind}/{domid}/{}", dev.devid),
        ),
        ("XENBUS_BASE_PATH".to_string(), "backend".to_string()),
    ];
    if kind == "vbd" {
        let action = if add { "add" } else { "remove" };
        return Ok(vec![(vec![script, action.into()], env)]);
    }
    let gatewaydev = xs
        .try_read(&format!("{be}/gatewaydev"))?
        .unwrap_or_default();
    env.push(("netdev".into(), gatewaydev));
    let ioemu = xs.try_read(&format!("{be}/type"))?.as_deref() == Some("vif_ioemu");
    let vif = format!("vif{domid}.{}", dev.devid);
    if ioemu {
        env.push(("INTERFACE".into(), format!("{vif}-emu")));
    }
    env.push(("vif".into(), vif));
    let (pv, tap) = if add {
        ("online", "add")
    } else {
        ("offline", "remove")
    };
    let mut runs = vec![(
        vec![script.clone(), pv.into(), "type_if=vif".into()],
        env.clone(),
    )];
    if ioemu {
        runs.push((vec![script, tap.into(), "type_if=tap".into()], env));
    }
    Ok(runs)
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
    fn hotplug_runs_like_libxl() {
        let d = xenstore::Daemon::new();
        let xs = Xs::new(d.connect_as(0).unwrap()).unwrap();
        let be = "/local/domain/0/backend/vif/5/1";
        let dev = HotplugDevice {
            kind: "vif".into(),
            domid: 5,
            devid: 1,
            backend_path: be.into(),
            script: "/etc/xen/scripts/vif-bridge".into(),
        };
        let runs = hotplug_runs(&xs, &dev, false).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(
            runs[0].0,
            ["/etc/xen/scripts/vif-bridge", "offline", "type_if=vif"]
        );
        let env: Vec<(&str, &str)> = runs[0]
            .1
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            env,
            [
                ("script", "/etc/xen/scripts/vif-bridge"),
                ("XENBUS_TYPE", "vif"),
                ("XENBUS_PATH", "backend/vif/5/1"),
                ("XENBUS_BASE_PATH", "backend"),
                ("netdev", ""),
                ("vif", "vif5.1"),
            ]
        );
        // An emulated+PV nic runs the script twice, the second for the tap.
        xs.write(&format!("{be}/type"), "vif_ioemu").unwrap();
        let runs = hotplug_runs(&xs, &dev, true).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].0[1..], ["online", "type_if=vif"]);
        assert_eq!(runs[1].0[1..], ["add", "type_if=tap"]);
        assert!(
            runs[1]
                .1
                .contains(&("INTERFACE".into(), "vif5.1-emu".into()))
        );
        let vbd = HotplugDevice {
            kind: "vbd".into(),
            devid: 51712,
            backend_path: "/local/domain/0/backend/vbd/5/51712".into(),
            ..dev
        };
        assert_eq!(hotplug_runs(&xs, &vbd, false).unwrap()[0].0[1], "remove");
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
