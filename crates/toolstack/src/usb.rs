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
    pub devid: u32,
    pub kind: String,
    pub backend_id: u32,
    pub state: i64,
    pub version: i64,
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
    pub version: i64,
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
    const FAIL: UsbError = UsbError::Failed("adding the USB controller");
    let guest = guest_kind(host, xs, domid).ok_or(FAIL)?;
    let c = settle(host, guest, spec, log).map_err(|_| FAIL)?;
    // libxl__device_nextid: after the last controller libxl noted.
    let devid = xs
        .directory(&format!("/libxl/{domid}/device/vusb"))
        .unwrap_or_default()
        .last()
        .map_or(0, |d| crate::devlist::atoi(d).max(-1) as i64 + 1) as u32;
    let dm_active = xs
        .try_read(&format!("/local/domain/{domid}/image/device-model-pid"))
        .ok()
        .flatten()
        .is_some();
    let dlog = |m: &str| log(Level::Error, &format!("Domain {domid}:{m}"));
    match c.kind {
        QUSB if !dm_active => {
            dlog("device model required but not running");
            return Err(FAIL);
        }
        DEVICEMODEL => {}
        _ => {
            dlog("USB controllers served by a PV backend are not implemented in this xl yet");
            return Err(FAIL);
        }
    }
    let lp = libxl_path(domid, devid);
    if xs.try_read(&lp).ok().flatten().is_some() {
        dlog("device already exists in xenstore");
        return Err(FAIL);
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
    let stored = store_ctrl(host, xs, domid, devid, &c, log)?;
    let written = xs.transaction(|t| -> Result<(), xenstore::Error> {
        t.batch(|b| {
            b.mkdir(&lp)?;
            for (k, v) in &nodes {
                b.write(&format!("{lp}/{k}"), v)?;
            }
            Ok(())
        })
    });
    let undo = || {
        let _ = crate::destroy::path_cleanup(xs, &lp);
        if let Some(before) = &stored {
            let _ = restore(host, domid, before);
        }
    };
    if let Err(e) = written {
        log(Level::Error, &crate::error_chain(&e));
        undo();
        return Err(FAIL);
    }
    let driver = match c.version {
        1 => "piix3-usb-uhci",
        2 => "usb-ehci",
        _ => "nec-usb-xhci",
    };
    let mut args = serde_json::json!({ "driver": driver });
    if c.version == 3 {
        args["p2"] = c.ports.to_string().into();
        args["p3"] = c.ports.to_string().into();
    }
    args["id"] = format!("xenusb-{devid}").into();
    if let Err(e) = qmp(host, domid, "device_add", args) {
        dlog(&crate::innermost_cause(&e));
        undo();
        return Err(FAIL);
    }
    Ok(devid)
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

/// The stored configuration gains the controller (libxl's
/// device_add_domain_config); its text before, to undo.
fn store_ctrl(
    host: &Host,
    _xs: &Xs,
    domid: u32,
    devid: u32,
    c: &CtrlSpec,
    log: Log<'_>,
) -> Result<Option<String>, UsbError> {
    const FAIL: UsbError = UsbError::Failed("adding the USB controller");
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
    let entry = xl_config::vdev::Usbctrl {
        kind: c.kind,
        devid: i64::from(devid),
        version: c.version,
        ports: c.ports,
    }
    .to_json();
    crate::hotplug::with_device(&mut config, "usbctrls", entry, |a, b| {
        a.get("devid") == b.get("devid")
    });
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
    let has_devices = (1..=MAX_ITEMS)
        .any(|p| matches!(xs.try_read(&format!("{lp}/port/{p}")), Ok(Some(b)) if !b.is_empty()));
    if has_devices {
        log(
            Level::Error,
            &format!(
                "Domain {domid}:removing a USB controller with devices is not implemented in this xl yet"
            ),
        );
        return Err(UsbError::Failed("removing the USB controller"));
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
        return Err(UsbError::Failed("removing the USB controller"));
    }
    let _ = crate::destroy::path_cleanup(xs, &lp);
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
