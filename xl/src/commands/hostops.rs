//! Host-wide listings and hypervisor requests: `xl vm-list`, `claims`,
//! `sharing`, `debug-keys`, `button-press` and `sched-rtds`.

use xenstore::Xs;
use xl_toolstack::{DomInfo, Hypervisor, LIST_HEADER, list_row, names};

use super::domains::{connect, connect_find, find_domain};
use super::{err, options, out, sanitize};
use crate::cmdtable::{self, Cmd};
use crate::{Status, backend};

fn fail(e: &xl_toolstack::Error) -> Status {
    err(&format!("xl: {}\n", backend::chain(e)));
    1
}

/// libxl's "Domain N:" before a log message about a guest (none for
/// dom0, which libxl does not count as a guest).
pub(super) fn domain_prefix(domid: u32) -> String {
    if domid > 0 && domid < 0x7ff0 {
        format!("Domain {domid}:")
    } else {
        String::new()
    }
}

/// A domain's name as xl prints it: escaped, "(null)" when it has none.
fn shown_name(name: Option<&str>) -> String {
    name.map_or_else(|| "(null)".to_string(), sanitize)
}

/// `xl vm-list`: guests (stub domains left out) with their uuid.
pub fn vm_list(cmd: &'static Cmd, args: &[String]) -> Status {
    if let Err(code) = options(cmd, args) {
        return code;
    }
    let (host, xs) = match connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let domains = match host.hv.domains() {
        Ok(d) => d,
        Err(e) => {
            err("libxl_list_vm failed.\n");
            return fail(&e);
        }
    };
    let mut text = String::from("UUID                                  ID    name\n");
    for d in &domains {
        match names::is_stubdom(&xs, d.domid) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => return fail(&e),
        }
        let name = match names::domid_to_name(&xs, d.domid) {
            Ok(n) => n,
            Err(e) => return fail(&e),
        };
        text.push_str(&format!(
            "{}  {}    {:<30}\n",
            xl_config::domain::uuid_string(&d.uuid),
            d.domid,
            shown_name(name.as_deref())
        ));
    }
    out(&text);
    0
}

/// `xl claims`: `xl list` with each domain's outstanding claim in MiB.
pub fn claims(cmd: &'static Cmd, args: &[String], xlconf: &xl_config::Globals) -> Status {
    if let Err(code) = options(cmd, args) {
        return code;
    }
    if !xlconf.claim_mode {
        err("claim_mode not enabled (see man xl.conf).\n");
    }
    let (host, xs) = match connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let domains = match host.hv.domains() {
        Ok(d) => d,
        Err(e) => {
            err("libxl_list_domain failed.\n");
            return fail(&e);
        }
    };
    let names = match names::names_of(&xs, &domains) {
        Ok(n) => n,
        Err(e) => return fail(&e),
    };
    let mut text = format!("{LIST_HEADER}  Claimed\n");
    for (d, name) in domains.iter().zip(names) {
        text.push_str(&list_row(d, name.as_deref().map(sanitize).as_deref()));
        text.push_str(&format!(" {:>5}\n", d.outstanding_memkb / 1024));
    }
    out(&text);
    0
}

/// `xl sharing [Domain]`: each domain's memory and shared pages, in MiB.
pub fn sharing(cmd: &'static Cmd, args: &[String]) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let ops = opts.operands();
    if ops.len() > 1 {
        out(&cmdtable::help_text(Some(cmd.name)));
        return 1;
    }
    let (host, xs) = match connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let hv = host.hv.as_ref();
    let domains = match sharing_domains(hv, &xs, ops.first()) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let names = match names::names_of(&xs, &domains) {
        Ok(n) => n,
        Err(e) => return fail(&e),
    };
    let mut text = String::from("Name                                        ID   Mem Shared\n");
    for (d, name) in domains.iter().zip(names) {
        text.push_str(&format!(
            "{:<40} {:>5} {:>5}  {:>5}\n",
            shown_name(name.as_deref()),
            d.domid,
            (d.current_memkb + d.outstanding_memkb) / 1024,
            d.shared_memkb / 1024
        ));
    }
    out(&text);
    0
}

/// All domains, or the one named, as `xl sharing` and `xl list` find them.
fn sharing_domains(
    hv: &dyn Hypervisor,
    xs: &Xs,
    q: Option<&String>,
) -> Result<Vec<DomInfo>, Status> {
    let Some(q) = q else {
        return hv.domains().map_err(|e| {
            err("libxl_list_domain failed.\n");
            fail(&e)
        });
    };
    let domid = find_domain(hv, xs, q)?;
    match hv.domain(domid) {
        Ok(Some(d)) => Ok(vec![d]),
        Ok(None) => {
            err(&format!("Error: Domain '{q}' does not exist.\n"));
            Err(1)
        }
        Err(e) => Err(fail(&e)),
    }
}

/// `xl debug-keys KEYS`: the hypervisor acts on each key as typed on its
/// console.
pub fn debug_keys(cmd: &'static Cmd, args: &[String]) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let keys = opts.operands()[0].clone();
    let (host, _xs) = match connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(e) = host.hv.send_debug_keys(keys.as_bytes()) {
        err(&format!(
            "libxl: error: sending debug keys: {}\n",
            backend::chain(&e)
        ));
        err(&format!("cannot send debug keys: {keys}\n"));
        return 1;
    }
    0
}

/// `xl button-press DOMAIN power|sleep`, the deprecated spelling of
/// `xl trigger` (its warning is printed before the options are read).
pub fn button_press(cmd: &'static Cmd, args: &[String]) -> Status {
    use xl_toolstack::Trigger;
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let ops = opts.operands();
    let (host, _xs, domid) = match connect_find(cmd.name, &ops[0]) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let trigger = match ops[1].as_str() {
        "power" => Trigger::Power,
        "sleep" => Trigger::Sleep,
        other => {
            err(&format!("{other} is an invalid button identifier\n"));
            return 1;
        }
    };
    // xl ignores libxl's answer: the status is 0 once the domain resolved.
    if let Err(e) = host.hv.send_trigger(domid, trigger, 0) {
        err(&format!(
            "xl: sending trigger {} to domain {domid} failed: {}\n",
            ops[1],
            backend::chain(&e)
        ));
    }
    0
}

/// The scheduler of a domain's cpupool (libxl__domain_scheduler).
fn domain_scheduler(hv: &dyn Hypervisor, domid: u32) -> Option<String> {
    let pool = hv.domain(domid).ok()??.cpupool;
    hv.cpupools()
        .ok()?
        .into_iter()
        .find(|p| p.poolid == pool)
        .map(|p| p.sched)
}

const RTDS_DOMAIN_HEADER: &str =
    "Name                                ID    Period    Budget  Extratime\n";
const RTDS_VCPU_HEADER: &str =
    "Name                                ID VCPU    Period    Budget  Extratime\n";

/// What `xl sched-rtds` was asked, once its options are checked.
struct RtdsArgs {
    dom: Option<String>,
    /// Per-vCPU (`-v ID` or `-v all`) rather than per-domain.
    per_vcpu: bool,
    all: bool,
    setting: bool,
}

/// xl's checks of sched-rtds' options, with its messages.
fn rtds_args(opts: &cmdtable::Opts) -> Result<RtdsArgs, Status> {
    let fail = |msg: &str| {
        err(msg);
        Err(1)
    };
    let (p, b, e) = (opts.values('p'), opts.values('b'), opts.values('e'));
    if e.iter().any(|v| *v != "0" && *v != "1") {
        return fail("Invalid extratime.\n");
    }
    let v = opts.values('v');
    let all = v.contains(&"all");
    let v_ids = v.iter().filter(|s| **s != "all").count();
    let dom = opts.value('d').map(str::to_string);
    let (opt_p, opt_b, opt_e, opt_v) = (!p.is_empty(), !b.is_empty(), !e.is_empty(), v_ids > 0);
    // `-c` takes no argument in xl's option string, so it never names a
    // pool and is never in conflict with the others.
    if dom.is_none() && (opt_p || opt_b || opt_e || opt_v) {
        return fail("Missing parameters.\n");
    }
    if dom.is_some() && !opt_v && !all && (opt_p || opt_b || opt_e) {
        return fail("Must specify VCPU.\n");
    }
    if opt_v && all {
        return fail("Incorrect VCPU IDs.\n");
    }
    if (v_ids > b.len() && opt_b)
        || (v_ids > p.len() && opt_p)
        || (v_ids > e.len() && opt_e)
        || p.len() != b.len()
        || p.len() != e.len()
    {
        return fail("Incorrect number of period, budget and extratime\n");
    }
    Ok(RtdsArgs {
        dom,
        per_vcpu: opt_v || all,
        all,
        setting: opt_p || opt_b || opt_e,
    })
}

/// `xl sched-rtds`: RTDS parameters of the domains in RTDS cpupools. On a
/// host without RTDS pools the listing is empty, and a domain of another
/// scheduler is refused with libxl's messages.
pub fn sched_rtds(cmd: &'static Cmd, args: &[String]) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let a = match rtds_args(&opts) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let (host, xs) = match connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let hv = host.hv.as_ref();
    let Some(dom) = &a.dom else {
        return rtds_listing(hv, &xs, a.all);
    };
    let domid = match find_domain(hv, &xs, dom) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let sched = domain_scheduler(hv, domid).unwrap_or_else(|| "unknown".into());
    if !a.per_vcpu {
        out(RTDS_DOMAIN_HEADER);
        if sched != "rtds" {
            err(&format!(
                "libxl_domain_sched_params_get returned {sched} not rtds.\n"
            ));
            return 1;
        }
        return rtds_unsupported();
    }
    if sched == "rtds" {
        return rtds_unsupported();
    }
    let all = if a.all { "_all" } else { "" };
    if !a.setting {
        out(RTDS_VCPU_HEADER);
        err(&format!(
            "libxl: error: {}per-VCPU parameter getting not supported for this scheduler\n",
            domain_prefix(domid)
        ));
        err(&format!("libxl_vcpu_sched_params_get{all} failed.\n"));
        return 1;
    }
    // xl asks for RTDS explicitly when setting: libxl checks the values,
    // then Xen refuses RTDS parameters for a domain of another scheduler.
    let max_vcpu = hv.domain(domid).ok().flatten().map_or(0, |d| d.vcpu_max_id);
    if let Some(msg) = rtds_set_problem(&opts, a.all, domid, max_vcpu) {
        err(&msg);
    } else {
        err(&format!(
            "libxl: error: {}Setting vcpu sched rtds: Invalid argument\n",
            domain_prefix(domid)
        ));
    }
    err(&format!("libxl_vcpu_sched_params_set{all} failed.\n"));
    1
}

/// libxl's checks of RTDS values before it asks Xen: vCPU ids in range,
/// periods and budgets at least 1 and budgets within their periods.
fn rtds_set_problem(opts: &cmdtable::Opts, all: bool, domid: u32, max_vcpu: u32) -> Option<String> {
    let num = |s: &str| xl_config::value::strtol(s.as_bytes(), 10).0 as i32;
    let ids: Vec<i32> = opts
        .values('v')
        .into_iter()
        .filter(|v| *v != "all")
        .map(num)
        .collect();
    let periods: Vec<i32> = opts.values('p').into_iter().map(num).collect();
    let budgets: Vec<i32> = opts.values('b').into_iter().map(num).collect();
    let n = if all { 1 } else { ids.len() };
    for i in 0..n {
        if !all && (ids[i] < 0 || ids[i] as u32 > max_vcpu as u16 as u32) {
            return Some(format!(
                "libxl: error: {}Invalid VCPU {}: valid range is [0, {}]\n",
                domain_prefix(domid),
                ids[i],
                max_vcpu as u16
            ));
        }
        let (period, budget) = (periods[i], budgets[i]);
        let msg = if period < 1 {
            format!("Invalid VCPU period of {period} (it should be >= 1)")
        } else if budget < 1 {
            format!("Invalid VCPU budget of {budget} (it should be >= 1)")
        } else if budget > period {
            format!("VCPU budget must be smaller than or equal to period, but {budget} > {period}")
        } else {
            continue;
        };
        return Some(format!("libxl: error: {msg}\n"));
    }
    None
}

fn rtds_unsupported() -> Status {
    err("xl: reading and setting RTDS parameters is not implemented yet\n");
    1
}

/// Every RTDS cpupool with its domains (xl's sched_domain_output and
/// sched_vcpu_output); status 0 as xl's, whatever a row does.
fn rtds_listing(hv: &dyn Hypervisor, xs: &Xs, per_vcpu: bool) -> Status {
    let pools = match hv.cpupools() {
        Ok(p) => p,
        Err(e) => {
            err("error getting cpupool info\n");
            return fail(&e);
        }
    };
    let domains = match hv.domains() {
        Ok(d) => d,
        Err(e) => {
            err("libxl_list_domain failed.\n");
            return fail(&e);
        }
    };
    for p in pools.iter().filter(|p| p.sched == "rtds") {
        let name = names::cpupool_name(xs, p.poolid).ok().flatten();
        out(&format!(
            "Cpupool {}: sched=RTDS\n",
            shown_name(name.as_deref())
        ));
        out(if per_vcpu {
            RTDS_VCPU_HEADER
        } else {
            RTDS_DOMAIN_HEADER
        });
        if domains.iter().any(|d| d.cpupool == p.poolid) {
            rtds_unsupported();
            break;
        }
    }
    0
}
