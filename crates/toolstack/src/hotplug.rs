//! Adding devices to and removing them from a running domain, as libxl's
//! `libxl_device_{disk,nic}_add` and `_remove`/`_destroy` do: the stored
//! configuration gains the device and xenstore its nodes (same keys and
//! permissions as at create), the backend is waited for and its hotplug
//! script run; removal takes the backend offline, waits for it to close,
//! runs the script's remove half and deletes the nodes.
//!
//! Unlike libxl, a failed add is undone: its nodes, the script's work and
//! the stored configuration's new entry are taken back.

use std::path::Path;
use std::time::Duration;

use xenstore::{Xs, XsOps};
use xl_config::domain::{Disk, Nic, disk_json, mac_string, nic_json};
use xl_config::json::Json;

use crate::destroy::{self, Device};
use crate::devices::{self, NewDevice, STATE_CLOSED, STATE_CLOSING};
use crate::retrieve::{self, NIC_ORDER, TOP_ORDER};
use crate::userdata::{self, LockError};
use crate::{DomInfo, Error, GuestKind, Host, HotplugDevice};

/// libxl's LIBXL_QEMU_BODGE_TIMEOUT: what a QEMU-served backend of a
/// stopped domain is given before it is closed by hand.
const QEMU_BODGE: Duration = Duration::from_secs(2);

/// Why adding or removing a device (`block-attach`, `network-detach`, `cd-insert`, ...) failed.
#[derive(Debug, thiserror::Error)]
pub enum HotplugError {
    /// No domain has this id.
    #[error("domain {0} does not exist")]
    NoDomain(u32),
    /// A disk's image or device could not be stat'ed.
    #[error("Disk vdev={vdev} failed to stat: {path}")]
    Stat {
        /// The disk's vdev.
        vdev: String,
        /// The image or device.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No backend type can serve the disk (its vdev).
    #[error("no suitable backend for disk {0}")]
    NoBackend(String),
    /// A vdev name libxl does not know.
    #[error("Invalid or unsupported virtual disk identifier {0}")]
    BadVdev(String),
    /// An emulated-only NIC (`type=ioemu`) for a PV or PVH guest.
    #[error("trying to create PV or PVH guest with an emulated interface")]
    EmulatedNic,
    /// A device's `backend=` names no domain.
    #[error("backend domain {0} does not exist")]
    NoBackendDomain(String),
    /// The device already exists.
    #[error("device already exists in xenstore")]
    Exists,
    /// Something this toolstack cannot do yet (named).
    #[error("{0} is not implemented yet; nothing was changed")]
    Unsupported(&'static str),
    /// The device could not be added.
    #[error("unable to add device with path {path}")]
    Add {
        /// Its frontend's xenstore directory.
        path: String,
        /// Why.
        #[source]
        source: Error,
    },
    /// The device (its frontend's xenstore directory) could not be removed.
    #[error("unable to remove device with path {0}")]
    Remove(String),
    /// `cd-insert`/`cd-eject` on a domain that is not HVM.
    #[error("cdrom-insert requires an HVM domain")]
    CdromNotHvm,
    /// The domain has no such CD-ROM drive.
    #[error("Virtual device not found")]
    NoCdrom,
    /// The domain's stored configuration could not be read.
    #[error("the stored configuration")]
    Stored(#[from] retrieve::RetrieveError),
    /// The domain's stored configuration could not be written.
    #[error("cannot write the stored configuration {path}")]
    Store {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The domain's userdata lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The hypervisor or device model failed.
    #[error(transparent)]
    Toolstack(#[from] Error),
    /// A xenstore read or write failed.
    #[error(transparent)]
    Xenstore(#[from] xenstore::Error),
}

/// How a removal treats a backend that does not close (libxl's
/// LIBXL__FORCE_OFF, _AUTO and _ON).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Force {
    /// Give up, leaving the device (`block-detach`).
    Off,
    /// Try again with force (`network-detach`).
    Auto,
    /// Remove the frontend first and the nodes whatever happens
    /// (`block-detach -f`).
    On,
}

/// A device ready to be added, with its entry for the stored
/// configuration.
struct Addition {
    dev: NewDevice,
    /// `disks` or `nics`.
    list: &'static str,
    entry: Json,
    /// Whether a stored entry is this device (libxl replaces it).
    same: fn(&Json, &Json) -> bool,
}

pub(crate) fn domain(host: &Host, domid: u32) -> Result<DomInfo, HotplugError> {
    host.hv.domain(domid)?.ok_or(HotplugError::NoDomain(domid))
}

/// The domain's type as libxl reads it: the stored one, else the
/// hypervisor's HVM flag.
fn guest_kind(host: &Host, info: &DomInfo) -> GuestKind {
    let stored = userdata::stored_type(&host.paths.lib, info.domid, &info.uuid);
    match stored.as_deref().and_then(GuestKind::from_type_name) {
        Some(kind) => kind,
        None if info.hvm => GuestKind::Hvm,
        None => GuestKind::Pv,
    }
}

/// `xl block-attach`: add a disk to a running domain.
pub fn attach_disk(host: &Host, xs: &Xs, domid: u32, disk: &Disk) -> Result<(), HotplugError> {
    let info = domain(host, domid)?;
    let kind = guest_kind(host, &info);
    let vdev = disk.vdev.clone().unwrap_or_default();
    blkback_suits(kind, disk, &vdev)?;
    let devid = crate::devlist::disk_dev_number(&vdev);
    let dev = NewDevice {
        domid,
        ..crate::create::disk_device(&host.paths, kind, 0, disk)
    };
    if devid < 0 || dev.devid != devid as u32 {
        return Err(HotplugError::BadVdev(vdev));
    }
    let addition = Addition {
        dev,
        list: "disks",
        // libxl stores the disk as given, before its defaults.
        entry: disk_json(disk),
        same: |a, b| a.get("vdev") == b.get("vdev"),
    };
    add(host, xs, &info, &addition)
}

/// libxl's backend choice for a disk, as far as blkback goes: a raw
/// image in a file or block device, or anything a script sets up.
/// QEMU-served disks would need a device model started for the guest.
fn blkback_suits(kind: GuestKind, disk: &Disk, vdev: &str) -> Result<(), HotplugError> {
    let raw = matches!(disk.format, None | Some("raw"));
    if disk.format == Some("empty") {
        return Err(HotplugError::Unsupported(
            "hot-plugging an empty (QEMU-served) drive",
        ));
    }
    let phy_or_default = matches!(disk.backend, None | Some("phy"));
    if phy_or_default && disk.script.is_none() {
        let path = disk.pdev_path.clone().unwrap_or_default();
        let meta = std::fs::metadata(&path).map_err(|source| HotplugError::Stat {
            vdev: vdev.to_string(),
            path,
            source,
        })?;
        let usable =
            meta.is_file() || std::os::unix::fs::FileTypeExt::is_block_device(&meta.file_type());
        if !usable && disk.backend == Some("phy") {
            return Err(HotplugError::NoBackend(vdev.to_string()));
        }
        if !usable {
            return Err(HotplugError::Unsupported("hot-plugging a QEMU-served disk"));
        }
    }
    let qdisk = crate::create::disk_is_qdisk(kind, disk) || !raw;
    match disk.backend {
        Some("tap") => Err(HotplugError::NoBackend(vdev.to_string())),
        _ if qdisk => Err(HotplugError::Unsupported("hot-plugging a QEMU-served disk")),
        _ => Ok(()),
    }
}

/// `xl cd-insert` and `cd-eject` (a disk with an empty target), as libxl:
/// only an HVM guest's emulated CD drives. QEMU ejects what is in the
/// drive, the backend's and libxl's nodes say it is empty, then QEMU takes
/// the new image and the nodes and the stored config name it.
pub fn cdrom_change(host: &Host, xs: &Xs, domid: u32, disk: &Disk) -> Result<(), HotplugError> {
    let info = domain(host, domid)?;
    if guest_kind(host, &info) != GuestKind::Hvm {
        return Err(HotplugError::CdromNotHvm);
    }
    if xs
        .try_read(&format!("/local/domain/{domid}/image/device-model-domid"))?
        .is_some()
    {
        return Err(HotplugError::Unsupported(
            "changing a CD served by a stub domain",
        ));
    }
    let vdev = disk.vdev.clone().unwrap_or_default();
    let devid = u32::try_from(crate::devlist::disk_dev_number(&vdev))
        .map_err(|_| HotplugError::BadVdev(vdev.clone()))?;
    let libxl_path = format!("/libxl/{domid}/device/vbd/{devid}");
    let backend = cdrom_backend(xs, &libxl_path)?;
    host.dom0.eject_cdrom(domid, &info.uuid, devid)?;
    let backend_type = xs
        .try_read(&format!("{backend}/type"))?
        .unwrap_or_else(|| "qdisk".into());
    media_nodes(xs, &backend, &libxl_path, &backend_type, "")?;
    let media = match (disk.format, disk.pdev_path.as_deref()) {
        (Some("empty"), _) | (_, None | Some("")) => None,
        (format, Some(path)) => Some((path, format.unwrap_or("raw"))),
    };
    if let Some((path, format)) = media {
        host.dom0
            .insert_cdrom(domid, &info.uuid, devid, path, format)?;
    }
    let lib = &host.paths.lib;
    let _lock = userdata::lock(lib, domid, &info.uuid)?;
    let mut config = retrieve::read_stored(lib, domid, &info.uuid)?;
    with_device(&mut config, "disks", disk_json(disk), |a, b| {
        a.get("vdev") == b.get("vdev")
    });
    store(lib, domid, &info.uuid, &config.to_yajl())?;
    let params = media.map_or(String::new(), |(path, format)| {
        format!("{}:{path}", crate::create::qdisk_format(Some(format)))
    });
    media_nodes(xs, &backend, &libxl_path, &backend_type, &params)
}

/// The backend of the domain's CD drive at `libxl_path`; anything else
/// there is "Virtual device not found", as libxl says.
fn cdrom_backend(xs: &Xs, libxl_path: &str) -> Result<String, HotplugError> {
    let backend = xs
        .try_read(&format!("{libxl_path}/backend"))?
        .ok_or(HotplugError::NoCdrom)?;
    match xs.try_read(&format!("{backend}/device-type"))?.as_deref() {
        Some("cdrom") => Ok(backend),
        _ => Err(HotplugError::NoCdrom),
    }
}

/// The drive's `type` and `params` in the backend's and libxl's nodes,
/// together, while the device still exists.
fn media_nodes(
    xs: &Xs,
    backend: &str,
    libxl_path: &str,
    backend_type: &str,
    params: &str,
) -> Result<(), HotplugError> {
    xs.transaction(|t| {
        if t.try_read(&format!("{libxl_path}/frontend"))?.is_none() {
            return Err(HotplugError::NoCdrom);
        }
        for base in [backend, libxl_path] {
            t.write(&format!("{base}/type"), backend_type)?;
            t.write(&format!("{base}/params"), params)?;
        }
        Ok(())
    })
}

/// `xl network-attach`: add a vif to a running domain.
pub fn attach_nic(host: &Host, xs: &Xs, domid: u32, nic: &Nic) -> Result<(), HotplugError> {
    let info = domain(host, domid)?;
    let kind = guest_kind(host, &info);
    if nic.nictype == Some("vif_ioemu") {
        return Err(match kind {
            GuestKind::Hvm => HotplugError::Unsupported("hot-plugging an emulated network card"),
            _ => HotplugError::EmulatedNic,
        });
    }
    if nic
        .backend_domname
        .as_deref()
        .is_some_and(|d| d != "0" && d != "Domain-0")
    {
        return Err(HotplugError::Unsupported(
            "hot-plugging a vif served by a driver domain",
        ));
    }
    let devid = match nic.devid.and_then(|d| u32::try_from(d).ok()) {
        Some(d) => d,
        None => next_devid(xs, domid, "vif")?,
    };
    let mac = if nic.mac == [0; 6] {
        random_mac()
    } else {
        nic.mac
    };
    let mut dev = crate::create::vif_device(&host.paths, nic, devid, &mac, "vif");
    dev.domid = domid;
    // libxl stores the nic as given, with the devid, MAC and type it
    // settled.
    let mut entry = nic_json(nic);
    if let Json::Obj(fields) = &mut entry {
        retrieve::set(
            fields,
            NIC_ORDER,
            "devid",
            Some(Json::Int(i64::from(devid))),
        );
        retrieve::set(fields, NIC_ORDER, "mac", Some(Json::str(mac_string(&mac))));
        retrieve::set(fields, NIC_ORDER, "nictype", Some(Json::str("vif")));
    }
    let addition = Addition {
        dev,
        list: "nics",
        entry,
        same: |a, b| a.get("devid") == b.get("devid"),
    };
    add(host, xs, &info, &addition)
}

/// libxl__device_nextid: one past the last device libxl lists.
pub(crate) fn next_devid(xs: &Xs, domid: u32, kind: &str) -> Result<u32, HotplugError> {
    let ids = match xs.directory(&format!("/libxl/{domid}/device/{kind}")) {
        Ok(ids) => ids,
        Err(e) if e.is_not_found() => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    Ok(ids.last().map_or(0, |l| {
        xl_config::value::strtoul(l.as_bytes(), 10).0 as u32 + 1
    }))
}

/// A MAC in Xen's OUI from a fresh random uuid, as libxl makes one.
fn random_mac() -> [u8; 6] {
    let r = xl_config::random_uuid().into_bytes();
    [0x00, 0x16, 0x3e, r[0] & 0x7f, r[1], r[2]]
}

/// The add itself: stored config and nodes under the userdata lock, then
/// the backend and its script; a failure takes everything back.
fn add(host: &Host, xs: &Xs, info: &DomInfo, a: &Addition) -> Result<(), HotplugError> {
    let lib = &host.paths.lib;
    let (domid, uuid) = (info.domid, &info.uuid);
    let before = {
        let _lock = userdata::lock(lib, domid, uuid)?;
        let libxl_path = format!("/libxl/{domid}/device/{}/{}", a.dev.kind, a.dev.devid);
        if xs.try_read(&libxl_path)?.is_some() {
            return Err(HotplugError::Exists);
        }
        let before = stored_text(lib, domid, uuid)?;
        let mut config = retrieve::read_stored(lib, domid, uuid)?;
        with_device(&mut config, a.list, a.entry.clone(), a.same);
        store(lib, domid, uuid, &config.to_yajl())?;
        if let Err(e) = devices::write(xs, &a.dev) {
            let _ = store(lib, domid, uuid, &before);
            return Err(e.into());
        }
        before
    };
    let Err(e) = devices::connect(host.dom0.as_ref(), xs, &a.dev) else {
        return Ok(());
    };
    undo(host, xs, &a.dev);
    let _lock = userdata::lock(lib, domid, uuid)?;
    store(lib, domid, uuid, &before)?;
    Err(HotplugError::Add {
        path: a.dev.backend_path(),
        source: e,
    })
}

/// Take back a device whose add failed: backend closed, the script's
/// remove half (whether or not the backend closed: what the script set
/// up must go), nodes deleted. Best effort: the add's error is the one
/// reported.
fn undo(host: &Host, xs: &Xs, dev: &NewDevice) {
    let d = Device {
        kind: dev.kind.clone(),
        devid: dev.devid,
        backend_path: dev.backend_path(),
        backend_kind: dev.backend_kind.clone(),
    };
    let _ = close_backend(xs, dev.domid, &d, Force::Off);
    let _ = run_remove_script(host, xs, dev.domid, &d);
    let _ = destroy::device_xenstore_remove(xs, dev.domid, &d);
}

/// The stored configuration's text, without libxl's terminating NUL.
pub(crate) fn stored_text(lib: &Path, domid: u32, uuid: &[u8; 16]) -> Result<String, HotplugError> {
    let path = userdata::path(lib, domid, uuid, 'd', "libxl-json");
    match std::fs::read(&path) {
        Ok(b) => {
            let text = b.split(|c| *c == 0).next().unwrap_or_default();
            Ok(String::from_utf8_lossy(text).into_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(retrieve::RetrieveError::NoConfig(domid).into())
        }
        Err(source) => Err(HotplugError::Store {
            path: path.display().to_string(),
            source,
        }),
    }
}

pub(crate) fn store(
    lib: &Path,
    domid: u32,
    uuid: &[u8; 16],
    text: &str,
) -> Result<(), HotplugError> {
    userdata::store_config(lib, domid, uuid, text).map_err(|source| HotplugError::Store {
        path: userdata::path(lib, domid, uuid, 'd', "libxl-json")
            .display()
            .to_string(),
        source,
    })
}

/// libxl's device_add_domain_config: the entry replaces the stored device
/// it is the same as, or joins the list.
pub(crate) fn with_device(
    config: &mut Json,
    list: &str,
    entry: Json,
    same: fn(&Json, &Json) -> bool,
) {
    let Json::Obj(top) = config else { return };
    if let Some((_, Json::Arr(items))) = top.iter_mut().find(|(k, _)| k == list) {
        match items.iter().position(|d| same(d, &entry)) {
            Some(i) => items[i] = entry,
            None => items.push(entry),
        }
        return;
    }
    retrieve::set(top, TOP_ORDER, list, Some(Json::Arr(vec![entry])));
}

/// The disk `block-detach` names (a vdev or a device number), if the
/// domain has it.
pub fn find_disk(xs: &Xs, domid: u32, vdev: &str) -> Result<Option<Device>, HotplugError> {
    let devid = crate::devlist::disk_dev_number(vdev);
    if devid < 0 {
        return Ok(None);
    }
    Ok(destroy::devices(xs, domid)?
        .into_iter()
        .find(|d| d.kind == "vbd" && d.devid == devid as u32))
}

/// The vif `network-detach` names: a MAC when the argument has a colon,
/// else a devid (read as C's atoi reads it).
pub fn find_nic(xs: &Xs, domid: u32, which: &str) -> Result<Option<Device>, HotplugError> {
    let nics = crate::devlist::xs_nics(xs, domid)?.unwrap_or_default();
    let devid = if which.contains(':') {
        let Some(mac) = crate::devlist::parse_mac(which) else {
            return Ok(None);
        };
        nics.iter().find(|(_, m)| *m == mac).map(|(d, _)| *d)
    } else {
        let want = crate::devlist::atoi(which);
        nics.iter().find(|(d, _)| *d == want).map(|(d, _)| *d)
    };
    let Some(devid) = devid else { return Ok(None) };
    Ok(destroy::devices(xs, domid)?
        .into_iter()
        .find(|d| d.kind == "vif" && i64::from(d.devid) == i64::from(devid)))
}

/// Remove a device from a running domain (libxl's generic remove): its
/// backend told to go offline and close, then its script's remove half,
/// then its nodes. The stored configuration keeps the device, as libxl
/// keeps it: `list -l` shows only what xenstore still has.
pub fn remove(
    host: &Host,
    xs: &Xs,
    domid: u32,
    dev: &Device,
    force: Force,
) -> Result<(), HotplugError> {
    let info = domain(host, domid)?;
    let be = dev.backend_path.clone();
    if destroy::qemu_backend(dev) && (info.paused || info.dying || info.shutdown) {
        // A stopped QEMU will not answer: libxl waits, then closes it.
        std::thread::sleep(QEMU_BODGE);
        let state = format!("{be}/state");
        if xs.try_read(&state)?.is_some_and(|s| s.trim() != "6") {
            xs.write(&state, &STATE_CLOSED.to_string())?;
        }
    } else if !close_backend(xs, domid, dev, force)? {
        return Err(HotplugError::Remove(be));
    }
    let script_failed = run_remove_script(host, xs, domid, dev);
    destroy::device_xenstore_remove(xs, domid, dev)?;
    script_failed.map_or(Ok(()), |e| Err(e.into()))
}

/// Offline and Closing, then the wait for Closed; with `Force::Auto` a
/// second round with force. False when the backend did not close and the
/// device stays (nodes removed already when forced).
fn close_backend(xs: &Xs, domid: u32, dev: &Device, force: Force) -> Result<bool, HotplugError> {
    let be = &dev.backend_path;
    let mut forced = force == Force::On;
    loop {
        let present = xs.transaction(|t| -> Result<bool, xenstore::Error> {
            if forced {
                destroy::path_cleanup(t, &destroy::frontend_path(domid, dev))?;
            }
            let Some(state) = t.try_read(&format!("{be}/state"))? else {
                return Ok(false);
            };
            t.write(&format!("{be}/online"), "0")?;
            if xl_config::value::strtol(state.as_bytes(), 10).0 != i64::from(STATE_CLOSED) {
                t.write(&format!("{be}/state"), &STATE_CLOSING.to_string())?;
            }
            Ok(true)
        })?;
        if !present {
            return Ok(true);
        }
        match devices::wait_state(xs, be, STATE_CLOSED, true, devices::BACKEND_TIMEOUT)? {
            Ok(()) => return Ok(true),
            Err(_) if force == Force::Auto && !forced => forced = true,
            Err(_) => {
                if forced {
                    destroy::device_xenstore_remove(xs, domid, dev)?;
                }
                return Ok(false);
            }
        }
    }
}

/// The backend's hotplug script, remove half; its failure is reported
/// once the device is gone (libxl carries on past it).
fn run_remove_script(host: &Host, xs: &Xs, domid: u32, dev: &Device) -> Option<Error> {
    let be = &dev.backend_path;
    let script = match xs.try_read(&format!("{be}/script")) {
        Ok(Some(s)) => s,
        Ok(None) => return None,
        Err(e) => return Some(e.into()),
    };
    let hp = HotplugDevice {
        kind: dev.backend_kind.clone(),
        domid,
        devid: dev.devid,
        backend_path: be.clone(),
        script,
    };
    host.dom0.hotplug(xs, &hp, false).err()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(pairs: &[(&str, Json)]) -> Json {
        Json::Obj(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn keys(j: &Json) -> Vec<String> {
        match j {
            Json::Obj(f) => f.iter().map(|(k, _)| k.clone()).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn stored_devices_join_replace_and_keep_libxls_order() {
        let same_vdev: fn(&Json, &Json) -> bool = |a, b| a.get("vdev") == b.get("vdev");
        let disk = |vdev: &str, path: &str| {
            obj(&[("pdev_path", Json::str(path)), ("vdev", Json::str(vdev))])
        };
        let mut config = obj(&[
            ("c_info", obj(&[])),
            ("b_info", obj(&[])),
            ("on_poweroff", Json::str("destroy")),
        ]);
        // No list yet: it goes where the IDL puts it, before the actions.
        with_device(
            &mut config,
            "nics",
            obj(&[("devid", Json::Int(0))]),
            same_vdev,
        );
        with_device(&mut config, "disks", disk("xvda", "/a"), same_vdev);
        assert_eq!(
            keys(&config),
            ["c_info", "b_info", "disks", "nics", "on_poweroff"]
        );
        with_device(&mut config, "disks", disk("xvdb", "/b"), same_vdev);
        // The same vdev again replaces the stored disk in its place.
        with_device(&mut config, "disks", disk("xvda", "/c"), same_vdev);
        let Some(Json::Arr(disks)) = config.get("disks") else {
            panic!("no disks")
        };
        assert_eq!(disks, &vec![disk("xvda", "/c"), disk("xvdb", "/b")]);
    }

    fn store_with(nodes: &[(&str, &str)]) -> (xenstore::Daemon, Xs) {
        let d = xenstore::Daemon::new();
        let xs = Xs::new(d.connect_as(0).unwrap()).unwrap();
        for (p, v) in nodes {
            xs.write(p, v).unwrap();
        }
        (d, xs)
    }

    #[test]
    fn next_devid_follows_the_last_listed_device() {
        let (_d, xs) = store_with(&[]);
        assert_eq!(next_devid(&xs, 3, "vif").unwrap(), 0);
        xs.write("/libxl/3/device/vif/0/backend", "x").unwrap();
        xs.write("/libxl/3/device/vif/4/backend", "x").unwrap();
        assert_eq!(next_devid(&xs, 3, "vif").unwrap(), 5);
    }

    #[test]
    fn nics_are_found_by_devid_or_mac_and_disks_by_vdev_or_number() {
        let be = "/local/domain/0/backend/vif/3/1";
        let vbd = "/local/domain/0/backend/vbd/3/51728";
        let (_d, xs) = store_with(&[
            ("/libxl/3/device/vif/1/backend", be),
            ("/libxl/3/device/vif/1/handle", "1"),
            ("/libxl/3/device/vif/1/mac", "00:16:3e:00:00:07"),
            ("/libxl/3/device/vbd/51728/backend", vbd),
        ]);
        let nic = |w: &str| find_nic(&xs, 3, w).unwrap().map(|d| d.backend_path);
        assert_eq!(nic("1").as_deref(), Some(be));
        // C's atoi: digits up to the first other character.
        assert_eq!(nic("1x").as_deref(), Some(be));
        assert_eq!(nic("00:16:3e:00:00:07").as_deref(), Some(be));
        assert_eq!(nic("00:16:3e:00:00:08"), None);
        assert_eq!(nic("2"), None);
        let disk = |w: &str| find_disk(&xs, 3, w).unwrap().map(|d| d.backend_path);
        assert_eq!(disk("xvdb").as_deref(), Some(vbd));
        assert_eq!(disk("51728").as_deref(), Some(vbd));
        assert_eq!(disk("xvdc"), None);
        assert_eq!(disk("nonsense"), None);
    }

    #[test]
    fn an_existing_device_is_refused_with_nothing_changed() {
        let dir = std::env::temp_dir().join(format!("xl-hotplug-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let paths = crate::HostPaths::under(&dir);
        let uuid = [5u8; 16];
        let stored = "{\n    \"c_info\": {\n        \"type\": \"pv\"\n    }\n}";
        userdata::store_config(&paths.lib, 5, &uuid, stored).unwrap();
        std::fs::write(dir.join("d.img"), b"disk").unwrap();
        let hv = crate::fake::FakeHv::with(&[(0, 0), (5, 5)]);
        let host = crate::fake::host(hv, crate::fake::FakeDom0::default(), paths);
        let (_d, xs) = store_with(&[("/libxl/5/device/vbd/51712/backend", "b")]);
        let disk = Disk {
            pdev_path: Some(dir.join("d.img").display().to_string()),
            vdev: Some("xvda".into()),
            readwrite: 1,
            ..Disk::default()
        };
        let e = attach_disk(&host, &xs, 5, &disk).unwrap_err();
        assert!(matches!(e, HotplugError::Exists), "{e}");
        let missing = Disk {
            pdev_path: Some(dir.join("none.img").display().to_string()),
            ..disk.clone()
        };
        let e = attach_disk(&host, &xs, 5, &missing).unwrap_err();
        assert!(
            crate::error_chain(&e).starts_with("Disk vdev=xvda failed to stat: "),
            "{}",
            crate::error_chain(&e)
        );
        let e = attach_disk(&host, &xs, 9, &disk).unwrap_err();
        assert!(matches!(e, HotplugError::NoDomain(9)), "{e}");
        let text = std::fs::read(userdata::path(&host.paths.lib, 5, &uuid, 'd', "libxl-json"));
        assert_eq!(text.unwrap(), format!("{stored}\0").into_bytes());
        assert!(
            xs.try_read("/local/domain/0/backend/vbd/5/51712")
                .unwrap()
                .is_none()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
