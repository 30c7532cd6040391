//! Device hotplug commands. Dry runs print the device as libxl JSON.

use super::domains::{connect, find_domain};
use super::{err, no_backend, options, out};
use crate::cmdtable::Cmd;
use crate::{Globals, Status, backend};
use xl_config::domain::{Nic, disk_json, nic_json};
use xl_toolstack::names;

/// An all-digit argument is a domid; a name needs the backend to resolve.
fn is_domid(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

pub fn block_attach(cmd: &'static Cmd, args: &[String], g: &Globals) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let ops = opts.operands();
    if !is_domid(&ops[0]) {
        return no_backend("block-attach");
    }
    let specs: Vec<&str> = ops[1..].iter().map(String::as_str).collect();
    let mut r = xl_config::Report::new();
    let disk = xl_config::disk::parse_disk("command line", &specs, &mut r);
    err(r.as_str());
    let Some(disk) = disk else { return 1 };
    if g.dryrun {
        out(&format!("disk: {}\n", disk_json(&disk).to_yajl()));
        return 0;
    }
    no_backend("block-attach")
}

pub fn network_attach(
    cmd: &'static Cmd,
    args: &[String],
    g: &Globals,
    xlconf: &xl_config::Globals,
) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let ops = opts.operands();
    if !is_domid(&ops[0]) {
        return no_backend("network-attach");
    }
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
    no_backend("network-attach")
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
