//! Device hotplug commands: attach, detach and list disks and vifs of
//! running domains. Dry runs print the device as libxl JSON.

use super::domains::{connect, connect_find, find_domain};
use super::{err, options, out};
use crate::cmdtable::Cmd;
use crate::{GlobalOpts, Status, backend};
use xenstore::Xs;
use xl_config::domain::{Nic, disk_json, nic_json};
use xl_toolstack::hotplug::{self, Force, HotplugError};
use xl_toolstack::{Host, names};

/// An all-digit argument is a domid: a dry run needs no backend for it.
fn is_domid(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// libxl's error line, then xl's own, and xl's status.
fn failed(e: &HotplugError, xl_line: &str) -> Status {
    err(&format!("libxl: error: {}\n", backend::chain(e)));
    err(&format!("{xl_line}\n"));
    1
}

/// `libxl_domain_qualifier_to_domid` as block-attach uses it: its own
/// message, no rc.
fn qualifier(host: &Host, xs: &Xs, q: &str) -> Result<u32, Status> {
    match names::qualifier_to_domid(host.hv.as_ref(), xs, q) {
        Ok(Some(d)) => Ok(d),
        Ok(None) => {
            err(&format!("{q} is an invalid domain identifier\n"));
            Err(1)
        }
        Err(e) => {
            err(&format!("libxl: error: {}\n", backend::chain(&e)));
            err("libxl_device_disk_add failed.\n");
            Err(1)
        }
    }
}

pub fn block_attach(cmd: &'static Cmd, args: &[String], g: &GlobalOpts) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let ops = opts.operands();
    // A dry run of a domid touches nothing; anything else needs the host.
    let conn = if g.dryrun && is_domid(&ops[0]) {
        None
    } else {
        match connect(cmd.name) {
            Ok((host, xs)) => match qualifier(&host, &xs, &ops[0]) {
                Ok(domid) => Some((host, xs, domid)),
                Err(code) => return code,
            },
            Err(code) => return code,
        }
    };
    let specs: Vec<&str> = ops[1..].iter().map(String::as_str).collect();
    let mut r = xl_config::Report::new();
    let disk = xl_config::disk::parse_disk("command line", &specs, &mut r);
    err(r.as_str());
    let Some(disk) = disk else { return 1 };
    if g.dryrun {
        out(&format!("disk: {}\n", disk_json(&disk).to_yajl()));
        return 0;
    }
    let Some((host, xs, domid)) = conn else {
        return 1;
    };
    match hotplug::attach_disk(&host, &xs, domid, &disk) {
        Ok(()) => 0,
        Err(e) => failed(&e, "libxl_device_disk_add failed."),
    }
}

pub fn network_attach(
    cmd: &'static Cmd,
    args: &[String],
    g: &GlobalOpts,
    xlconf: &xl_config::Globals,
) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let ops = opts.operands();
    let conn = if g.dryrun && is_domid(&ops[0]) {
        None
    } else {
        match connect_find(cmd.name, &ops[0]) {
            Ok(c) => Some(c),
            Err(code) => return code,
        }
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
            err(r.as_str());
            return 1;
        }
    }
    err(r.as_str());
    if g.dryrun {
        out(&format!("vif: {}\n", nic_json(&nic).to_yajl()));
        return 0;
    }
    let Some((host, xs, domid)) = conn else {
        return 1;
    };
    match hotplug::attach_nic(&host, &xs, domid, &nic) {
        Ok(()) => 0,
        Err(e) => failed(&e, "libxl_device_nic_add failed."),
    }
}

/// `xl block-detach [-f] DOMAIN VDEV`: without -f the guest must let the
/// disk go (libxl's safe remove); with -f its frontend is taken first.
pub fn block_detach(cmd: &'static Cmd, args: &[String]) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let ops = opts.operands();
    let force = opts.flag('f');
    let (host, xs, domid) = match connect_find(cmd.name, &ops[0]) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let dev = match hotplug::find_disk(&xs, domid, &ops[1]) {
        Ok(Some(d)) => d,
        Ok(None) | Err(_) => {
            err(&format!("Error: Device {} not connected.\n", ops[1]));
            return 1;
        }
    };
    let (how, line) = if force {
        (Force::On, "libxl_device_disk_destroy failed.")
    } else {
        (Force::Off, "libxl_device_disk_safe_remove failed.")
    };
    match hotplug::remove(&host, &xs, domid, &dev, how) {
        Ok(()) => 0,
        Err(e) => failed(&e, line),
    }
}

/// `xl network-detach DOMAIN DEVID|MAC`.
pub fn network_detach(cmd: &'static Cmd, args: &[String]) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let ops = opts.operands();
    let (host, xs, domid) = match connect_find(cmd.name, &ops[0]) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let dev = match hotplug::find_nic(&xs, domid, &ops[1]) {
        Ok(Some(d)) => d,
        Ok(None) | Err(_) => {
            err(&format!("Unknown device {}.\n", ops[1]));
            return 1;
        }
    };
    match hotplug::remove(&host, &xs, domid, &dev, Force::Auto) {
        Ok(()) => 0,
        Err(e) => failed(&e, "libxl_device_nic_del failed."),
    }
}

/// `xl block-list DOMAIN...`: an unknown domain is reported and skipped,
/// and the status is 0 whatever happened (xl's behaviour).
pub fn block_list(cmd: &'static Cmd, args: &[String]) -> Status {
    use xl_toolstack::devlist;
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let (host, xs) = match connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let hv = host.hv.as_ref();
    out(&devlist::block_list_header());
    for q in opts.operands() {
        let domid = match names::qualifier_to_domid(hv, &xs, &q) {
            Ok(Some(d)) => d,
            Ok(None) => {
                err(&format!("{q} is an invalid domain identifier\n"));
                continue;
            }
            Err(e) => {
                err(&format!("xl: {}\n", backend::chain(&e)));
                continue;
            }
        };
        match devlist::disks(&xs, domid) {
            Ok(Some(rows)) => out(&rows.iter().map(devlist::disk_row).collect::<String>()),
            Ok(None) => {}
            Err(e) => err(&format!("xl: {}\n", backend::chain(&e))),
        }
    }
    0
}

/// `xl network-list DOMAIN...`: an unknown domain ends the command (xl's
/// find_domain), after the rows of the domains before it.
pub fn network_list(cmd: &'static Cmd, args: &[String]) -> Status {
    use xl_toolstack::devlist;
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let (host, xs) = match connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let hv = host.hv.as_ref();
    out(&devlist::network_list_header());
    for q in opts.operands() {
        let domid = match find_domain(hv, &xs, &q) {
            Ok(d) => d,
            Err(code) => return code,
        };
        match devlist::nics(&xs, domid) {
            Ok(Some(rows)) => out(&rows.iter().map(devlist::nic_row).collect::<String>()),
            Ok(None) => {}
            Err(e) => err(&format!("xl: {}\n", backend::chain(&e))),
        }
    }
    0
}

/// xl's cd_insert: the drive as a read-only cdrom disk spec; a missing
/// image is refused before libxl is asked.
fn cd_change(cmd: &'static Cmd, args: &[String], insert: bool) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let ops = opts.operands();
    let (host, _xs, domid) = match connect_find(cmd.name, &ops[0]) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let target = if insert { ops[2].as_str() } else { "" };
    let spec = format!("vdev={},access=r,devtype=cdrom,target={target}", ops[1]);
    let mut r = xl_config::Report::new();
    let disk = xl_config::disk::parse_disk("command line", &[spec.as_str()], &mut r);
    err(r.as_str());
    let Some(disk) = disk else { return 1 };
    if disk.format != Some("empty") {
        let path = disk.pdev_path.clone().unwrap_or_default();
        if std::fs::metadata(&path).is_err() {
            err(&format!(
                "Cannot stat file: {}\n",
                xl_toolstack::printable(&path)
            ));
            return 1;
        }
    }
    match hotplug::cdrom_change(&host, domid, &disk) {
        Ok(()) => 0,
        Err(e) => {
            err(&format!("libxl: error: {}\n", backend::chain(&e)));
            1
        }
    }
}

/// `xl cd-insert DOMAIN VDEV PATH`.
pub fn cd_insert(cmd: &'static Cmd, args: &[String]) -> Status {
    cd_change(cmd, args, true)
}

/// `xl cd-eject DOMAIN VDEV`.
pub fn cd_eject(cmd: &'static Cmd, args: &[String]) -> Status {
    cd_change(cmd, args, false)
}
