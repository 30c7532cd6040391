//! USB controllers as libxl 4.17 keeps them (`/libxl/<domid>/device/vusb`):
//! `usb-list`, and controllers QEMU emulates for HVM guests
//! (`type=devicemodel`: QMP `device_add`/`device_del` of a UHCI, EHCI or
//! xHCI controller named `xenusb-<devid>`). Controllers served by a PV
//! backend (pvusb's `vusb`, QEMU's `qusb`) are refused as libxl refuses
//! them when nothing can serve them.

use xenstore::{Xs, XsOps};

use crate::pci::{Level, Log};
use crate::{GuestKind, Host};

/// `libxl_usbctrl_type`'s names by number (auto, pv, devicemodel, qusb).
pub const TYPES: [&str; 4] = ["auto", "pv", "devicemodel", "qusb"];
const AUTO: usize = 0;
const PV: usize = 1;
const DEVICEMODEL: usize = 2;
const QUSB: usize = 3;
/// USBIF_MAX_PORTNR: ports a PV controller may have.
const MAX_PV_PORTS: i64 = 31;
/// Bound on the controllers and ports read back.
const MAX_ITEMS: usize = 1024;
/// pvusb's backend driver in dom0's sysfs.
const USBBACK: &str = "bus/usb/drivers/usbback";

/// One controller as `usb-list` shows it (`libxl_usbctrlinfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtrlInfo {
    /// The controller's devid.
    pub devid: u32,
    /// Its type: `pv`, `devicemodel` or `qusb`.
    pub kind: String,
    /// The domain serving its backend.
    pub backend_id: u32,
    /// The frontend's xenbus state (0 for a device-model controller).
    pub state: i64,
    /// USB version (1, 2 or 3).
    pub version: i64,
    /// How many ports it has.
    pub ports: i64,
    /// Each port's host device as (bus, address), or None when empty.
    pub devices: Vec<Option<(u32, u32)>>,
}

/// How a USB operation failed (libxl's log has the details).
#[derive(Debug, thiserror::Error)]
pub enum UsbError {
    /// A step failed and was reported in the log.
    #[error("{0}")]
    Failed(&'static str),
    /// No controller has this devid (the log said why).
    #[error("Unknown device {0}.")]
    UnknownDevice(String),
}

fn libxl_path(domid: u32, devid: u32) -> String {
    format!("/libxl/{domid}/device/vusb/{devid}")
}

/// The controllers of a domain, in devid order (empty without any).
pub fn list(host: &Host, xs: &Xs, domid: u32) -> Vec<CtrlInfo> {
    let mut ids: Vec<u32> = xs
        .directory(&format!("/libxl/{domid}/device/vusb"))
        .unwrap_or_default()
        .iter()
        .filter_map(|d| d.parse().ok())
        .take(MAX_ITEMS)
        .collect();
    ids.sort_unstable();
    ids.into_iter()
        .filter_map(|devid| info(host, xs, domid, devid))
        .collect()
}

/// libxl_device_usbctrl_getinfo and the ports' devices.
fn info(host: &Host, xs: &Xs, domid: u32, devid: u32) -> Option<CtrlInfo> {
    let lp = libxl_path(domid, devid);
    let read = |p: String| xs.try_read(&p).ok().flatten();
    let num = |p: String| read(p).map_or(-1, |v| i64::from(crate::devlist::atoi(&v)));
    let kind = read(format!("{lp}/type"))?;
    let (be, backend_id, state) = if kind == "devicemodel" {
        (lp.clone(), 0, 0)
    } else {
        let be = read(format!("{lp}/backend"))?;
        let bid = be
            .split('/')
            .nth(3)
            .and_then(|d| d.parse().ok())
            .unwrap_or(0);
        let state = num(format!("/local/domain/{domid}/device/vusb/{devid}/state"));
        (be, bid, state)
    };
    let ports = num(format!("{be}/num-ports"));
    let version = num(format!("{be}/usb-ver"));
    let devices = (1..=ports.clamp(0, MAX_ITEMS as i64))
        .map(|p| {
            let busid = read(format!("{be}/port/{p}")).filter(|b| !b.is_empty())?;
            busaddr(host, &busid)
        })
        .collect();
    Some(CtrlInfo {
        devid,
        kind,
        backend_id,
        state,
        version,
        ports,
        devices,
    })
}

/// A host USB device's bus and address from its sysfs busid (`1-1`).
fn busaddr(host: &Host, busid: &str) -> Option<(u32, u32)> {
    if busid.contains('/') || busid.contains("..") {
        return None;
    }
    let dir = host.paths.sysfs.join("bus/usb/devices").join(busid);
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .ok()?
            .trim()
            .parse::<u32>()
            .ok()
    };
    Some((read("busnum")?, read("devnum")?))
}

/// `usb-list`'s text for the controllers.
pub fn format_list(ctrls: &[CtrlInfo]) -> String {
    let mut out = String::new();
    for c in ctrls {
        out.push_str(&format!(
            "{:<6} {:<12} {:<3} {:<5} {:<7} {:<5}\n",
            "Devid", "Type", "BE", "state", "usb-ver", "ports"
        ));
        out.push_str(&format!(
            "{:<6} {:<12} {:<3} {:<5} {:<7} {:<5}\n",
            c.devid, c.kind, c.backend_id, c.state, c.version, c.ports
        ));
        for (i, d) in c.devices.iter().enumerate() {
            match d {
                Some((bus, addr)) => out.push_str(&format!(
                    "  Port {}: Bus {bus:03x} Device {addr:03x}\n",
                    i + 1
                )),
                None => out.push_str(&format!("  Port {}:\n", i + 1)),
            }
        }
    }
    out
}

/// A controller as `usbctrl-attach` asks for it.
#[derive(Clone, Copy, Debug, Default)]
pub struct CtrlSpec {
    /// Index into [`TYPES`].
    pub kind: usize,
    /// USB version (1, 2, or 3 for a device-model controller); 0 for the default (2).
    pub version: i64,
    /// How many ports; 0 for the version's default.
    pub ports: i64,
}

/// libxl__device_usbctrl_setdefault: the type for the guest, the
/// version's and ports' defaults and limits.
fn settle(
    host: &Host,
    guest: GuestKind,
    mut c: CtrlSpec,
    log: Log<'_>,
) -> Result<CtrlSpec, &'static str> {
    if c.kind == AUTO {
        c.kind = if guest != GuestKind::Hvm {
            if host.paths.sysfs.join(USBBACK).exists() {
                PV
            } else {
                QUSB
            }
        } else {
            DEVICEMODEL
        };
    }
    let refuse = |m: &'static str| {
        log(Level::Error, m);
        m
    };
    match c.kind {
        PV | QUSB => {
            if c.version == 0 {
                c.version = 2;
            }
            if !(1..=2).contains(&c.version) {
                return Err(refuse(
                    "USB version for paravirtualized devices must be 1 or 2",
                ));
            }
            if c.ports == 0 {
                c.ports = 8;
            }
            if !(1..=MAX_PV_PORTS).contains(&c.ports) {
                return Err(refuse(
                    "Number of ports for USB controller is limited to 31",
                ));
            }
        }
        DEVICEMODEL => {
            if c.version == 0 {
                c.version = 2;
            }
            match c.version {
                1 if c.ports != 0 && c.ports != 2 => {
                    return Err(refuse(
                        "Number of ports for USB controller of version 1 is always 2",
                    ));
                }
                1 => c.ports = 2,
                2 if c.ports != 0 && c.ports != 6 => {
                    return Err(refuse(
                        "Number of ports for USB controller of version 2 is always 6",
                    ));
                }
                2 => c.ports = 6,
                3 => {
                    if c.ports == 0 {
                        c.ports = 8;
                    }
                    if c.ports > 15 {
                        return Err(refuse(
                            "Number of ports for USB controller of version 3 is limited to 15",
                        ));
                    }
                }
                _ => return Err(refuse("Illegal USB version")),
            }
        }
        _ => {}
    }
    Ok(c)
}

/// libxl__domain_type (see [`crate::pci`]).
fn guest_kind(host: &Host, xs: &Xs, domid: u32) -> Option<GuestKind> {
    let info = host.hv.domain(domid).ok().flatten()?;
    if !info.hvm {
        return Some(GuestKind::Pv);
    }
    match xs.try_read(&format!("/libxl/{domid}/type")).ok().flatten() {
        Some(t) => GuestKind::from_type_name(&t),
        None => Some(GuestKind::Hvm),
    }
}

/// `xl usbctrl-attach`: a controller QEMU emulates for an HVM guest.
/// PV-served controllers are refused where libxl finds nothing to serve
/// them (no device model for `qusb`), else as not implemented yet.
pub fn attach_ctrl(
    host: &Host,
    xs: &Xs,
    domid: u32,
    spec: CtrlSpec,
    log: Log<'_>,
) -> Result<u32, UsbError> {
    add_ctrl(host, xs, domid, spec, None, true, log)
}

/// libxl__device_usbctrl_add: the controller's defaults, devid (`devid`
/// or the next free one), nodes and, with `update_json`, the stored
/// configuration; then QEMU's `device_add`. A failure takes the nodes
/// back (libxl leaves the stored configuration as it made it).
pub(crate) fn add_ctrl(
    host: &Host,
    xs: &Xs,
    domid: u32,
    spec: CtrlSpec,
    devid: Option<u32>,
    update_json: bool,
    log: Log<'_>,
) -> Result<u32, UsbError> {
    let (devid, c) = add_ctrl_nodes(host, xs, domid, spec, devid, update_json, log)?;
    let driver = match c.version {
        1 => "piix3-usb-uhci",
        2 => "usb-ehci",
        _ => "nec-usb-xhci",
    };
    let mut args = serde_json::json!({ "driver": driver });
    if c.version == 3 {
        args["p2"] = qmp_number(host, c.ports);
        args["p3"] = qmp_number(host, c.ports);
    }
    args["id"] = format!("xenusb-{devid}").into();
    if let Err(e) = qmp(host, domid, "device_add", args) {
        log(
            Level::Error,
            &format!("Domain {domid}:{}", crate::innermost_cause(&e)),
        );
        let _ = crate::destroy::path_cleanup(xs, &libxl_path(domid, devid));
        return Err(CTRL_FAIL);
    }
    Ok(devid)
}

const CTRL_FAIL: UsbError = UsbError::Failed("adding the USB controller");

/// libxl__device_usbctrl_setdefault, _update_devid and _add_xenstore:
/// the settled controller and its devid, its nodes written (and, with
/// `update_json`, the stored configuration gaining it). Nothing is asked
/// of QEMU: a default controller libxl makes for a device is only this.
fn add_ctrl_nodes(
    host: &Host,
    xs: &Xs,
    domid: u32,
    spec: CtrlSpec,
    devid: Option<u32>,
    update_json: bool,
    log: Log<'_>,
) -> Result<(u32, CtrlSpec), UsbError> {
    let guest = guest_kind(host, xs, domid).ok_or(CTRL_FAIL)?;
    let c = settle(host, guest, spec, log).map_err(|_| CTRL_FAIL)?;
    // libxl__device_nextid: after the last controller libxl noted.
    let devid = devid.unwrap_or_else(|| {
        xs.directory(&format!("/libxl/{domid}/device/vusb"))
            .unwrap_or_default()
            .last()
            .map_or(0, |d| crate::devlist::atoi(d).max(-1) as i64 + 1) as u32
    });
    let dm_active = xs
        .try_read(&format!("/local/domain/{domid}/image/device-model-pid"))
        .ok()
        .flatten()
        .is_some();
    let dlog = |m: &str| log(Level::Error, &format!("Domain {domid}:{m}"));
    match c.kind {
        QUSB if !dm_active => {
            dlog("device model required but not running");
            return Err(CTRL_FAIL);
        }
        DEVICEMODEL => {}
        _ => {
            dlog("USB controllers served by a PV backend are not implemented in this xl yet");
            return Err(CTRL_FAIL);
        }
    }
    let lp = libxl_path(domid, devid);
    if xs.try_read(&lp).ok().flatten().is_some() {
        dlog("device already exists in xenstore");
        return Err(CTRL_FAIL);
    }
    let mut nodes = vec![
        ("type".to_string(), TYPES[c.kind].to_string()),
        ("usb-ver".into(), c.version.to_string()),
        ("num-ports".into(), c.ports.to_string()),
        ("port".into(), String::new()),
    ];
    for p in 1..=c.ports {
        nodes.push((format!("port/{p}"), String::new()));
    }
    let entry = xl_config::vdev::Usbctrl {
        kind: c.kind,
        devid: i64::from(devid),
        version: c.version,
        ports: c.ports,
    }
    .to_json();
    let stored = if update_json {
        store_device(host, domid, "usbctrls", entry, log)?
    } else {
        None
    };
    let written = xs.transaction(|t| -> Result<(), xenstore::Error> {
        t.batch(|b| {
            b.mkdir(&lp)?;
            for (k, v) in &nodes {
                b.write(&format!("{lp}/{k}"), v)?;
            }
            Ok(())
        })
    });
    if let Err(e) = written {
        log(Level::Error, &crate::error_chain(&e));
        let _ = crate::destroy::path_cleanup(xs, &lp);
        if let Some(before) = &stored {
            let _ = restore(host, domid, before);
        }
        return Err(CTRL_FAIL);
    }
    Ok((devid, c))
}

/// A number property of `device_add` as the host's libxl sends it: a
/// string up to libxl 4.20.2 (which QEMU 9.2 and later refuse), a number
/// from 4.20.3 on. The hypervisor's version stands for the toolstack's:
/// 4.17's releases send strings, the 4.20 the lab runs sends numbers.
fn qmp_number(host: &Host, n: i64) -> serde_json::Value {
    let numbers = host
        .hv
        .version_info()
        .is_ok_and(|v| (v.major, v.minor) >= (4, 20));
    if numbers {
        n.into()
    } else {
        n.to_string().into()
    }
}

fn qmp(host: &Host, domid: u32, cmd: &str, args: serde_json::Value) -> Result<(), crate::Error> {
    let info = host
        .hv
        .domain(domid)?
        .ok_or(crate::Error::NoSuchDomain(domid))?;
    host.dom0
        .qmp_command(domid, &info.uuid, cmd, args)
        .map(drop)
}

/// The stored configuration gains a device in `list` (libxl's
/// device_add_domain_config: an entry for the same device is replaced);
/// its text before, to undo.
fn store_device(
    host: &Host,
    domid: u32,
    list: &str,
    entry: xl_config::json::Json,
    log: Log<'_>,
) -> Result<Option<String>, UsbError> {
    const FAIL: UsbError = UsbError::Failed("storing the configuration");
    let fail = |e: &dyn std::error::Error| {
        log(Level::Error, &crate::error_chain(e));
        FAIL
    };
    let info = host.hv.domain(domid).ok().flatten().ok_or(FAIL)?;
    let lib = &host.paths.lib;
    let _lock = crate::userdata::lock(lib, domid, &info.uuid).map_err(|e| fail(&e))?;
    let path = crate::userdata::path(lib, domid, &info.uuid, 'd', "libxl-json");
    let Ok(bytes) = crate::userdata::read_file(&path) else {
        return Ok(None);
    };
    let before =
        String::from_utf8_lossy(bytes.split(|b| *b == 0).next().unwrap_or_default()).into_owned();
    let mut config = crate::retrieve::read_stored(lib, domid, &info.uuid).map_err(|e| fail(&e))?;
    // Controllers are the same by devid, devices by controller and port.
    let same: fn(&xl_config::json::Json, &xl_config::json::Json) -> bool = if list == "usbctrls" {
        |a, b| a.get("devid") == b.get("devid")
    } else {
        |a, b| a.get("ctrl") == b.get("ctrl") && a.get("port") == b.get("port")
    };
    crate::hotplug::with_device(&mut config, list, entry, same);
    crate::hotplug::store(lib, domid, &info.uuid, &config.to_yajl()).map_err(|e| fail(&e))?;
    Ok(Some(before))
}

fn restore(host: &Host, domid: u32, text: &str) -> Option<()> {
    let info = host.hv.domain(domid).ok().flatten()?;
    let _lock = crate::userdata::lock(&host.paths.lib, domid, &info.uuid).ok()?;
    crate::hotplug::store(&host.paths.lib, domid, &info.uuid, text).ok()
}

/// `xl usbctrl-detach`: the controller `devid` (QEMU's removed over QMP)
/// and its nodes.
pub fn detach_ctrl(
    host: &Host,
    xs: &Xs,
    domid: u32,
    devid: i32,
    arg: &str,
    log: Log<'_>,
) -> Result<(), UsbError> {
    let lp = format!("/libxl/{domid}/device/vusb/{devid}");
    let kind = match xs.try_read(&lp).ok().flatten() {
        None => {
            log(
                Level::Error,
                &format!("xenstore read failed: `{lp}': No such file or directory"),
            );
            return Err(UsbError::UnknownDevice(arg.to_string()));
        }
        Some(_) => xs.try_read(&format!("{lp}/type")).ok().flatten(),
    };
    if kind.as_deref() != Some("devicemodel") {
        log(
            Level::Error,
            &format!(
                "Domain {domid}:removing USB controllers served by a PV backend is not implemented in this xl yet"
            ),
        );
        return Err(UsbError::Failed("removing the USB controller"));
    }
    // libxl removes the controller's devices first.
    for (port, bus, addr) in devices_of(host, xs, domid, devid as u32).map_err(|()| REMOVE_FAIL)? {
        let dev = DevSpec {
            ctrl: devid,
            port: port as i32,
            hostbus: bus,
            hostaddr: addr,
        };
        remove_dev(host, xs, domid, &dev, log)?;
    }
    if let Err(e) = qmp(
        host,
        domid,
        "device_del",
        serde_json::json!({ "id": format!("xenusb-{devid}") }),
    ) {
        log(
            Level::Error,
            &format!("Domain {domid}:{}", crate::innermost_cause(&e)),
        );
        return Err(REMOVE_FAIL);
    }
    let _ = crate::destroy::path_cleanup(xs, &lp);
    Ok(())
}

const REMOVE_FAIL: UsbError = UsbError::Failed("removing the USB controller");
const DEV_FAIL: UsbError = UsbError::Failed("adding the USB device");
const DEV_REMOVE_FAIL: UsbError = UsbError::Failed("removing the USB device");
/// Where libxl looks for host USB devices (its words name this path).
const SYSFS_USB_DEV: &str = "/sys/bus/usb/devices";
/// bDeviceClass of a hub, which libxl does not pass through.
const USBHUB_CLASS_CODE: i32 = 9;

/// A host USB device on a controller's port (`libxl_device_usbdev`):
/// `ctrl` -1 and `port` 0 let libxl choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevSpec {
    /// The controller's devid.
    pub ctrl: i32,
    /// The port on it, from 1.
    pub port: i32,
    /// The host device's bus number (`hostbus=`).
    pub hostbus: u8,
    /// The host device's address on that bus (`hostaddr=`).
    pub hostaddr: u8,
}

impl Default for DevSpec {
    fn default() -> DevSpec {
        DevSpec {
            ctrl: -1,
            port: 0,
            hostbus: 0,
            hostaddr: 0,
        }
    }
}

/// A controller as libxl__usbctrl_from_xenstore reads it: its type and
/// the node its ports are under.
struct Ctrl {
    kind: usize,
    backend_domid: u32,
    be: String,
}

/// libxl_devid_to_device_usbctrl: None (logged as libxl logs it) when
/// the domain has no controller `devid`.
fn ctrl_of(xs: &Xs, domid: u32, devid: i32, log: Log<'_>) -> Option<Ctrl> {
    let lp = format!("/libxl/{domid}/device/vusb/{devid}");
    if xs.try_read(&lp).ok().flatten().is_none() {
        log(
            Level::Error,
            &format!("xenstore read failed: `{lp}': No such file or directory"),
        );
        return None;
    }
    ctrl_be(xs, &lp)
}

/// vusb_be_from_xs_libxl: the controller's type and where its ports are
/// (libxl's own node for QEMU's controllers, the backend's otherwise).
fn ctrl_be(xs: &Xs, lp: &str) -> Option<Ctrl> {
    let kind = xs.try_read(&format!("{lp}/type")).ok().flatten()?;
    let kind = TYPES.iter().position(|t| t.eq_ignore_ascii_case(&kind))?;
    if kind == DEVICEMODEL {
        return Some(Ctrl {
            kind,
            backend_domid: 0,
            be: lp.to_string(),
        });
    }
    let be = xs.try_read(&format!("{lp}/backend")).ok().flatten()?;
    let backend_domid = be.split('/').nth(3)?.parse().ok()?;
    Some(Ctrl {
        kind,
        backend_domid,
        be,
    })
}

/// usbdev_busaddr_to_busid: the sysfs name of the host device at
/// `bus`/`addr`.
fn busid_of(host: &Host, bus: u8, addr: u8, log: Log<'_>) -> Option<String> {
    if bus < 1 || addr < 1 {
        return None;
    }
    let dir = host.paths.sysfs.join("bus/usb/devices");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            log(
                Level::Error,
                &format!("opendir failed: '{SYSFS_USB_DEV}': {}", crate::strerror(&e)),
            );
            return None;
        }
    };
    entries.flatten().take(MAX_ITEMS * 4).find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let num = |f: &str| {
            std::fs::read_to_string(e.path().join(f))
                .ok()
                .map(|v| crate::devlist::atoi(v.trim()))
        };
        (num("busnum") == Some(i32::from(bus)) && num("devnum") == Some(i32::from(addr)))
            .then_some(name)
    })
}

/// is_usbdev_assignable: the device exists and is not a hub.
fn assignable(host: &Host, d: &DevSpec, log: Log<'_>) -> bool {
    let Some(busid) = busid_of(host, d.hostbus, d.hostaddr, log) else {
        return false;
    };
    let class = host
        .paths
        .sysfs
        .join("bus/usb/devices")
        .join(&busid)
        .join("bDeviceClass");
    std::fs::read_to_string(class)
        .is_ok_and(|c| crate::devlist::atoi(c.trim()) != USBHUB_CLASS_CODE)
}

/// libxl__device_usbdev_list_for_usbctrl: (port, bus, address) of each
/// device on the controller.
fn devices_of(host: &Host, xs: &Xs, domid: u32, devid: u32) -> Result<Vec<(i64, u8, u8)>, ()> {
    let ctrl = ctrl_be(xs, &libxl_path(domid, devid)).ok_or(())?;
    let ports = xs
        .try_read(&format!("{}/num-ports", ctrl.be))
        .map_err(drop)?
        .map_or(0, |n| i64::from(crate::devlist::atoi(&n)));
    let mut devices = Vec::new();
    for p in 1..=ports.clamp(0, MAX_ITEMS as i64) {
        let busid = xs
            .try_read(&format!("{}/port/{p}", ctrl.be))
            .map_err(drop)?;
        if let Some(busid) = busid.filter(|b| !b.is_empty()) {
            let (bus, addr) = busaddr(host, &busid).ok_or(())?;
            devices.push((p, bus as u8, addr as u8));
        }
    }
    Ok(devices)
}

/// get_assigned_devices: whether any domain's controller has the device.
fn assigned_anywhere(host: &Host, xs: &Xs, d: &DevSpec) -> Result<bool, ()> {
    let domains = xs.directory("/local/domain").unwrap_or_default();
    for dom in domains.iter().take(MAX_ITEMS * 64) {
        let domid = crate::devlist::atoi(dom) as u32;
        let ctrls = xs
            .directory(&format!("/libxl/{domid}/device/vusb"))
            .unwrap_or_default();
        for c in ctrls.iter().take(MAX_ITEMS) {
            let devid = crate::devlist::atoi(c) as u32;
            if devices_of(host, xs, domid, devid)?
                .iter()
                .any(|&(_, bus, addr)| bus == d.hostbus && addr == d.hostaddr)
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The first empty port of `be`'s `ports`, if any.
fn free_port(xs: &Xs, be: &str, ports: i64) -> Result<Option<i32>, ()> {
    for p in 1..=ports.clamp(0, MAX_ITEMS as i64) {
        match xs.try_read(&format!("{be}/port/{p}")).map_err(drop)? {
            Some(v) if v.is_empty() => return Ok(Some(p as i32)),
            _ => {}
        }
    }
    Ok(None)
}

/// libxl__device_usbdev_setdefault: the controller and port the device
/// goes to. Without a controller, the first free port of any, else a new
/// default controller (nodes and stored configuration only) and its
/// first port; with one, the port asked for if free, else its first
/// free port.
fn choose_port(
    host: &Host,
    xs: &Xs,
    domid: u32,
    mut d: DevSpec,
    update_json: bool,
    log: Log<'_>,
) -> Result<DevSpec, UsbError> {
    let dlog = |m: &str| log(Level::Error, &format!("Domain {domid}:{m}"));
    if d.ctrl == -1 {
        if d.port != 0 {
            dlog("USB controller must be specified if you specify port");
            return Err(DEV_FAIL);
        }
        let ctrls = xs
            .directory(&format!("/libxl/{domid}/device/vusb"))
            .unwrap_or_default();
        for c in ctrls.iter().take(MAX_ITEMS) {
            let lp = format!("/libxl/{domid}/device/vusb/{c}");
            let Some(ctrl) = ctrl_be(xs, &lp) else {
                continue;
            };
            let ports = xs
                .try_read(&format!("{}/num-ports", ctrl.be))
                .ok()
                .flatten()
                .map_or(-1, |n| i64::from(crate::devlist::atoi(&n)));
            if let Some(p) = free_port(xs, &ctrl.be, ports).map_err(|()| DEV_FAIL)? {
                d.ctrl = crate::devlist::atoi(c);
                d.port = p;
                return Ok(d);
            }
        }
        let (devid, _) =
            add_ctrl_nodes(host, xs, domid, CtrlSpec::default(), None, update_json, log)?;
        d.ctrl = devid as i32;
        d.port = 1;
        return Ok(d);
    }
    let lp = format!("/libxl/{domid}/device/vusb/{}", d.ctrl);
    let ctrl = ctrl_be(xs, &lp).ok_or(DEV_FAIL)?;
    if d.port != 0 {
        let taken = xs
            .try_read(&format!("{}/port/{}", ctrl.be, d.port))
            .map_err(|_| DEV_FAIL)?
            .is_some_and(|v| !v.is_empty());
        if taken {
            dlog("The controller port isn't available");
            return Err(DEV_FAIL);
        }
        return Ok(d);
    }
    let ports = xs
        .try_read(&format!("{}/num-ports", ctrl.be))
        .map_err(|_| DEV_FAIL)?
        .map_or(0, |n| i64::from(crate::devlist::atoi(&n)));
    match free_port(xs, &ctrl.be, ports).map_err(|()| DEV_FAIL)? {
        Some(p) => {
            d.port = p;
            Ok(d)
        }
        None => {
            dlog("No available port under specified controller");
            Err(DEV_FAIL)
        }
    }
}

/// `xl usbdev-attach`: the host device to a controller QEMU emulates.
pub fn attach_dev(
    host: &Host,
    xs: &Xs,
    domid: u32,
    spec: DevSpec,
    log: Log<'_>,
) -> Result<(), UsbError> {
    add_dev(host, xs, domid, spec, true, log)
}

/// libxl__device_usbdev_add: the checks (controller served from dom0, the
/// device assignable and nobody's yet), the port, then for a QEMU
/// controller the port's node (and, with `update_json`, the stored
/// configuration) and QMP `device_add` of a `usb-host`; a refusal by QEMU
/// empties the port again (the stored configuration keeps the device, as
/// libxl's does).
pub(crate) fn add_dev(
    host: &Host,
    xs: &Xs,
    domid: u32,
    spec: DevSpec,
    update_json: bool,
    log: Log<'_>,
) -> Result<(), UsbError> {
    let dlog = |m: &str| log(Level::Error, &format!("Domain {domid}:{m}"));
    if spec.ctrl != -1 {
        let ctrl = ctrl_of(xs, domid, spec.ctrl, log).ok_or(DEV_FAIL)?;
        if ctrl.backend_domid != 0 {
            dlog("Don't support adding USB device from non-Dom0 backend");
            return Err(DEV_FAIL);
        }
    }
    if !assignable(host, &spec, log) {
        dlog("USB device is not assignable.");
        return Err(DEV_FAIL);
    }
    match assigned_anywhere(host, xs, &spec) {
        Err(()) => {
            log(Level::Error, "fail to get assigned devices");
            dlog("cannot determine if device is assigned, refusing to continue");
            return Err(DEV_FAIL);
        }
        Ok(true) => {
            dlog("USB device already attached to a domain");
            return Err(DEV_FAIL);
        }
        Ok(false) => {}
    }
    let d = choose_port(host, xs, domid, spec, update_json, log)?;
    let ctrl = ctrl_of(xs, domid, d.ctrl, log).ok_or(DEV_FAIL)?;
    if ctrl.kind != DEVICEMODEL {
        dlog(
            "USB devices on controllers served by a PV backend are not implemented in this xl yet",
        );
        return Err(DEV_FAIL);
    }
    let port_path = format!("{}/port/{}", ctrl.be, d.port);
    let busid = busid_of(host, d.hostbus, d.hostaddr, log).ok_or(DEV_FAIL)?;
    if update_json {
        let entry = xl_config::vdev::Usbdev {
            ctrl: Some(i64::from(d.ctrl)),
            port: i64::from(d.port),
            hostdev: true,
            hostbus: d.hostbus,
            hostaddr: d.hostaddr,
        }
        .to_json();
        store_device(host, domid, "usbdevs", entry, log).map_err(|_| DEV_FAIL)?;
    }
    if let Err(e) = xs.write(&port_path, &busid) {
        log(Level::Error, &crate::error_chain(&e));
        return Err(DEV_FAIL);
    }
    let args = serde_json::json!({
        "id": format!("xenusb-{}-{}", d.hostbus, d.hostaddr),
        "driver": "usb-host",
        "bus": format!("xenusb-{}.0", d.ctrl),
        "port": d.port.to_string(),
        "hostbus": qmp_number(host, i64::from(d.hostbus)),
        "hostaddr": qmp_number(host, i64::from(d.hostaddr)),
    });
    if let Err(e) = qmp(host, domid, "device_add", args) {
        dlog(&crate::innermost_cause(&e));
        let _ = xs.write(&port_path, "");
        return Err(DEV_FAIL);
    }
    Ok(())
}

/// libxl_ctrlport_to_device_usbdev: the device on the controller's port,
/// None when the port is empty or unknown.
pub fn device_at(host: &Host, xs: &Xs, domid: u32, ctrl: i32, port: i32) -> Option<DevSpec> {
    let c = ctrl_be(xs, &format!("/libxl/{domid}/device/vusb/{ctrl}"))?;
    let busid = xs
        .try_read(&format!("{}/port/{port}", c.be))
        .ok()
        .flatten()
        .filter(|b| !b.is_empty())?;
    let (bus, addr) = busaddr(host, &busid)?;
    Some(DevSpec {
        ctrl,
        port,
        hostbus: bus as u8,
        hostaddr: addr as u8,
    })
}

/// `xl usbdev-detach`: the device found by [`device_at`] leaves QEMU.
pub fn detach_dev(
    host: &Host,
    xs: &Xs,
    domid: u32,
    dev: &DevSpec,
    log: Log<'_>,
) -> Result<(), UsbError> {
    remove_dev(host, xs, domid, dev, log).map_err(|_| DEV_REMOVE_FAIL)
}

/// libxl__device_usbdev_remove for a QEMU controller: the port emptied,
/// then QMP `device_del`; a refusal by QEMU puts the port back.
fn remove_dev(host: &Host, xs: &Xs, domid: u32, d: &DevSpec, log: Log<'_>) -> Result<(), UsbError> {
    let dlog = |m: &str| log(Level::Error, &format!("Domain {domid}:{m}"));
    if d.ctrl < 0 || d.port < 1 {
        dlog("Invalid USB device");
        return Err(DEV_REMOVE_FAIL);
    }
    let ctrl = ctrl_of(xs, domid, d.ctrl, log).ok_or(DEV_REMOVE_FAIL)?;
    if ctrl.backend_domid != 0 {
        dlog("Don't support removing USB device from non-Dom0 backend");
        return Err(DEV_REMOVE_FAIL);
    }
    if ctrl.kind != DEVICEMODEL {
        dlog(
            "USB devices on controllers served by a PV backend are not implemented in this xl yet",
        );
        return Err(DEV_REMOVE_FAIL);
    }
    let port_path = format!("{}/port/{}", ctrl.be, d.port);
    let before = xs.try_read(&port_path).ok().flatten().unwrap_or_default();
    if let Err(e) = xs.write(&port_path, "") {
        log(Level::Error, &crate::error_chain(&e));
        return Err(DEV_REMOVE_FAIL);
    }
    let id = format!("xenusb-{}-{}", d.hostbus, d.hostaddr);
    if let Err(e) = qmp(host, domid, "device_del", serde_json::json!({ "id": id })) {
        dlog(&crate::innermost_cause(&e));
        let _ = xs.write(&port_path, &before);
        return Err(DEV_REMOVE_FAIL);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real xl 4.17's `usb-list` of an HVM guest after
    /// `usbctrl-attach lab-hvm type=devicemodel version=2 ports=6` (lab).
    #[test]
    fn usb_list_matches_the_real_xl() {
        let c = CtrlInfo {
            devid: 0,
            kind: "devicemodel".into(),
            backend_id: 0,
            state: 0,
            version: 2,
            ports: 6,
            devices: vec![None; 6],
        };
        assert_eq!(
            format_list(&[c]),
            "Devid  Type         BE  state usb-ver ports\n\
             0      devicemodel  0   0     2       6    \n\
             \x20 Port 1:\n  Port 2:\n  Port 3:\n  Port 4:\n  Port 5:\n  Port 6:\n"
        );
    }
}
