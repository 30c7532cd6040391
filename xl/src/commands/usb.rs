//! `xl usb-list`, `usbctrl-attach`, `usbctrl-detach`.

use xl_config::report::Report;
use xl_config::vdev::Usbctrl;
use xl_toolstack::pci::Level;
use xl_toolstack::usb::{self, CtrlSpec, UsbError};

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
        let mut r = Report::new();
        match Usbctrl::parse(word, 0, &mut r) {
            Ok(c) => {
                if word.starts_with("type=") {
                    spec.kind = c.kind;
                }
                if word.starts_with("version=") {
                    spec.version = c.version;
                }
                if word.starts_with("ports=") {
                    spec.ports = c.ports;
                }
            }
            Err(_) => {
                err(r.as_str());
                return Ok(1);
            }
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
    let devid = xl_config::value::strtol(ops[1].as_bytes(), 10).0 as i32;
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
