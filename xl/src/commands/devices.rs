//! Device hotplug commands. Dry runs print the device as libxl JSON.

use super::{err, no_backend, options, out};
use crate::cmdtable::Cmd;
use crate::{Globals, Status};
use xl_config::domain::{Nic, disk_json, nic_json};

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
