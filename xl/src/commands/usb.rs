//! `xl usb-list`, `usbctrl-attach`, `usbctrl-detach`, `usbdev-attach`,
//! `usbdev-detach`.

use xl_toolstack::pci::Level;
use xl_toolstack::usb::{self, CtrlSpec, DevSpec, UsbError};

use super::pci::libxl_log;
use super::{Ctx, Outcome, err, out};
use crate::cmdtable::Opts;

/// `xl usb-list DOMAIN`: each controller with its ports; nothing for a
/// domain without controllers.
pub fn usb_list(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    if ops.len() > 1 {
        err("Invalid arguments.\n");
        return Ok(255);
    }
    let (host, xs) = cx.connect()?;
    out(&usb::format_list(&usb::list(host, xs, domid)));
    Ok(0)
}

/// `xl usbctrl-attach DOMAIN [type=] [version=] [ports=]`: each word one
/// option, as xl reads them.
pub fn usbctrl_attach(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let mut spec = CtrlSpec::default();
    for word in &ops[1..] {
        if let Some(v) = word.strip_prefix("type=") {
            let Some(k) = usb::TYPES.iter().position(|t| t.eq_ignore_ascii_case(v)) else {
                err(&format!("Invalid usb controller type '{v}'\n"));
                return Ok(1);
            };
            spec.kind = k;
        } else if let Some(v) = word.strip_prefix("version=") {
            spec.version = atoi(v);
        } else if let Some(v) = word.strip_prefix("ports=") {
            spec.ports = atoi(v);
        } else {
            err(&format!("Unknown string `{word}' in usbctrl spec\n"));
            return Ok(1);
        }
    }
    let (host, xs) = cx.connect()?;
    let log = libxl_log(cx);
    match usb::attach_ctrl(host, xs, domid, spec, &log) {
        Ok(_) => Ok(0),
        Err(_) => {
            log(Level::Error, "unable to add device");
            err("libxl_device_usbctrl_add failed.\n");
            Ok(1)
        }
    }
}

/// `xl usbctrl-detach DOMAIN DEVID`.
pub fn usbctrl_detach(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let devid = atoi(&ops[1]) as i32;
    let (host, xs) = cx.connect()?;
    let log = libxl_log(cx);
    match usb::detach_ctrl(host, xs, domid, devid, &ops[1], &log) {
        Ok(()) => Ok(0),
        Err(e @ UsbError::UnknownDevice(_)) => {
            err(&format!("{e}\n"));
            Ok(1)
        }
        Err(_) => {
            log(Level::Error, "unable to remove device");
            err("libxl_device_usbctrl_remove failed.\n");
            Ok(1)
        }
    }
}

/// `xl usbdev-attach DOMAIN hostbus= hostaddr= [controller= [port=]]`:
/// each word one option, as xl reads them (`type=hostdev` allowed).
pub fn usbdev_attach(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let mut spec = DevSpec::default();
    for word in &ops[1..] {
        if let Some(v) = word.strip_prefix("type=") {
            if !v.eq_ignore_ascii_case("hostdev") {
                // xl prints getopt's optarg, which is null here.
                err("Invalid usb device type: (null)\n");
                return Ok(1);
            }
        } else if let Some(v) = word.strip_prefix("hostbus=") {
            spec.hostbus = xl_config::value::strtoul(v.as_bytes(), 0).0 as u8;
        } else if let Some(v) = word.strip_prefix("hostaddr=") {
            spec.hostaddr = xl_config::value::strtoul(v.as_bytes(), 0).0 as u8;
        } else if let Some(v) = word.strip_prefix("controller=") {
            spec.ctrl = atoi(v) as i32;
        } else if let Some(v) = word.strip_prefix("port=") {
            spec.port = atoi(v) as i32;
        } else {
            err(&format!("Unknown string `{word}' in usbdev spec\n"));
            return Ok(1);
        }
    }
    let (host, xs) = cx.connect()?;
    let log = libxl_log(cx);
    match usb::attach_dev(host, xs, domid, spec, &log) {
        Ok(()) => Ok(0),
        Err(_) => {
            log(Level::Error, "unable to add device");
            err("libxl_device_usbdev_add failed.\n");
            Ok(1)
        }
    }
}

/// `xl usbdev-detach DOMAIN CONTROLLER PORT`.
pub fn usbdev_detach(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let ctrl = atoi(&ops[1]) as i32;
    let port = atoi(&ops[2]) as i32;
    if ops.len() > 3 {
        err("Invalid arguments.\n");
        return Ok(1);
    }
    let (host, xs) = cx.connect()?;
    let Some(dev) = usb::device_at(host, xs, domid, ctrl, port) else {
        err(&format!(
            "Unknown device at controller {ctrl} port {port}.\n"
        ));
        return Ok(1);
    };
    let log = libxl_log(cx);
    match usb::detach_dev(host, xs, domid, &dev, &log) {
        Ok(()) => Ok(0),
        Err(_) => {
            log(Level::Error, "unable to remove device");
            err("libxl_device_usbdev_remove failed.\n");
            Ok(1)
        }
    }
}

/// C's atoi, kept in an int.
fn atoi(s: &str) -> i64 {
    i64::from(xl_config::value::strtol(s.as_bytes(), 10).0 as i32)
}
