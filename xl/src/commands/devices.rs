//! Device hotplug commands: attach, detach and list disks and vifs of
//! running domains. Dry runs print the device as libxl JSON.

use super::{Ctx, Exit, Outcome, err, fail, out};
use crate::backend;
use crate::cmdtable::Opts;
use xenstore::Xs;
use xl_config::domain::{Nic, disk_json, nic_json};
use xl_toolstack::hotplug::{self, Force, HotplugError};
use xl_toolstack::{Host, names};

use super::vdevlist::Unknown;

/// An all-digit argument is a domid: a dry run needs no backend for it.
fn is_domid(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// libxl's error line, then xl's own, and xl's status.
fn failed(e: &HotplugError, xl_line: &str) -> Outcome {
    err(&format!("libxl: error: {}\n", backend::chain(e)));
    fail(format!("{xl_line}\n"))
}

/// `libxl_domain_qualifier_to_domid` as block-attach uses it: its own
/// message, no rc.
fn qualifier(cx: &Ctx, q: &str) -> Result<u32, Exit> {
    let (hv, xs) = cx.hv()?;
    match names::qualifier_to_domid(hv, xs, q) {
        Ok(Some(d)) => Ok(d),
        Ok(None) => fail(format!("{q} is an invalid domain identifier\n")),
        Err(e) => {
            err(&format!("libxl: error: {}\n", backend::chain(&e)));
            fail("libxl_device_disk_add failed.\n")
        }
    }
}

pub fn block_attach(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let dryrun = cx.globals.dryrun;
    // A dry run of a domid touches nothing; anything else needs the host.
    let domid = if dryrun && is_domid(&ops[0]) {
        None
    } else {
        Some(qualifier(cx, &ops[0])?)
    };
    let specs: Vec<&str> = ops[1..].iter().map(String::as_str).collect();
    let mut r = xl_config::Report::new();
    let disk = xl_config::disk::parse_disk("command line", &specs, &mut r);
    err(r.as_str());
    let Some(disk) = disk else {
        return Err(Exit(1));
    };
    let dry_run_line = format!("disk: {}\n", disk_json(&disk).to_yajl());
    attach(
        cx,
        domid,
        dry_run_line,
        "libxl_device_disk_add failed.",
        |host, xs, domid| hotplug::attach_disk(host, xs, domid, &disk),
    )
}

/// A dry run prints the device as libxl JSON; otherwise it goes to the
/// domain, with xl's line if that fails.
fn attach(
    cx: &Ctx,
    domid: Option<u32>,
    dry_run_line: String,
    xl_line: &str,
    add: impl FnOnce(&Host, &Xs, u32) -> Result<(), HotplugError>,
) -> Outcome {
    if cx.globals.dryrun {
        out(&dry_run_line);
        return Ok(0);
    }
    let Some(domid) = domid else {
        return Err(Exit(1));
    };
    let (host, xs) = cx.connect()?;
    match add(host, xs, domid) {
        Ok(()) => Ok(0),
        Err(e) => failed(&e, xl_line),
    }
}

pub fn network_attach(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let (dryrun, xlconf) = (cx.globals.dryrun, cx.xlconf);
    let domid = if dryrun && is_domid(&ops[0]) {
        None
    } else {
        Some(cx.domain(&ops[0])?)
    };
    let mut nic = Nic {
        script: xlconf.default_vifscript.clone(),
        bridge: xlconf.default_bridge.clone(),
        gatewaydev: xlconf.default_gatewaydev.clone(),
        backend_domname: xlconf.default_vifbackend.clone(),
        ..Nic::default()
    };
    let mut r = xl_config::Report::new();
    for tok in &ops[1..] {
        if xl_config::nic::parse_nic_token(&mut nic, "command line", tok, &mut r).is_err() {
            return fail(r.as_str());
        }
    }
    err(r.as_str());
    let dry_run_line = format!("vif: {}\n", nic_json(&nic).to_yajl());
    attach(
        cx,
        domid,
        dry_run_line,
        "libxl_device_nic_add failed.",
        |host, xs, domid| hotplug::attach_nic(host, xs, domid, &nic),
    )
}

/// `xl block-detach [-f] DOMAIN VDEV`: without -f the guest must let the
/// disk go (libxl's safe remove); with -f its frontend is taken first.
pub fn block_detach(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let force = opts.flag('f');
    let domid = cx.domain(&ops[0])?;
    let (host, xs) = cx.connect()?;
    let Ok(Some(dev)) = hotplug::find_disk(xs, domid, &ops[1]) else {
        return fail(format!("Error: Device {} not connected.\n", ops[1]));
    };
    let (how, line) = if force {
        (Force::On, "libxl_device_disk_destroy failed.")
    } else {
        (Force::Off, "libxl_device_disk_safe_remove failed.")
    };
    match hotplug::remove(host, xs, domid, &dev, how) {
        Ok(()) => Ok(0),
        Err(e) => failed(&e, line),
    }
}

/// `xl network-detach DOMAIN DEVID|MAC`.
pub fn network_detach(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let (host, xs) = cx.connect()?;
    let Ok(Some(dev)) = hotplug::find_nic(xs, domid, &ops[1]) else {
        return fail(format!("Unknown device {}.\n", ops[1]));
    };
    match hotplug::remove(host, xs, domid, &dev, Force::Auto) {
        Ok(()) => Ok(0),
        Err(e) => failed(&e, "libxl_device_nic_del failed."),
    }
}

/// `xl block-list DOMAIN...`: an unknown domain is reported and skipped,
/// and the status is 0 whatever happened (xl's behaviour).
pub fn block_list(cx: &Ctx, opts: Opts) -> Outcome {
    use xl_toolstack::devlist;
    super::vdevlist::list(
        cx,
        opts,
        devlist::block_list_header(),
        Unknown::Skipped,
        devlist::disks,
        devlist::disk_row,
    )
}

/// `xl network-list DOMAIN...`: an unknown domain ends the command (xl's
/// find_domain), after the rows of the domains before it.
pub fn network_list(cx: &Ctx, opts: Opts) -> Outcome {
    use xl_toolstack::devlist;
    super::vdevlist::list(
        cx,
        opts,
        devlist::network_list_header(),
        Unknown::Ends,
        devlist::nics,
        devlist::nic_row,
    )
}

/// xl's cd_insert: the drive as a read-only cdrom disk spec; a missing
/// image is refused before libxl is asked.
fn cd_change(cx: &Ctx, opts: Opts, insert: bool) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let (host, xs) = cx.connect()?;
    let target = if insert { ops[2].as_str() } else { "" };
    let spec = format!("vdev={},access=r,devtype=cdrom,target={target}", ops[1]);
    let mut r = xl_config::Report::new();
    let disk = xl_config::disk::parse_disk("command line", &[spec.as_str()], &mut r);
    err(r.as_str());
    let Some(disk) = disk else {
        return Err(Exit(1));
    };
    if disk.format != Some("empty") {
        let path = disk.pdev_path.clone().unwrap_or_default();
        if std::fs::metadata(&path).is_err() {
            return fail(format!(
                "Cannot stat file: {}\n",
                xl_toolstack::printable(&path)
            ));
        }
    }
    match hotplug::cdrom_change(host, xs, domid, &disk) {
        Ok(()) => Ok(0),
        Err(e) => fail(format!("libxl: error: {}\n", backend::chain(&e))),
    }
}

/// `xl cd-insert DOMAIN VDEV PATH`.
pub fn cd_insert(cx: &Ctx, opts: Opts) -> Outcome {
    cd_change(cx, opts, true)
}

/// `xl cd-eject DOMAIN VDEV`.
pub fn cd_eject(cx: &Ctx, opts: Opts) -> Outcome {
    cd_change(cx, opts, false)
}
