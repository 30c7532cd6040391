//! Host-wide listings and hypervisor requests: `xl vm-list`, `claims`,
//! `sharing`, `debug-keys`, `button-press`, `sched-rtds`, and a domain's
//! QEMU monitor (`qemu-monitor-command`), Xen's runtime parameters
//! (`set-parameters`).

use xenstore::Xs;
use xl_toolstack::{DomInfo, Hypervisor, LIST_HEADER, RtdsVcpu, list_row, names};

use super::{Ctx, Exit, OrExit, Outcome, err, fail, out, sanitize, xl_error};
use crate::backend;
use crate::cmdtable::{self, Opts};

/// libxl_list_domain, with xl's line when it fails.
fn all_domains(hv: &dyn Hypervisor) -> Result<Vec<DomInfo>, Exit> {
    hv.domains().map_err(|e| {
        err("libxl_list_domain failed.\n");
        xl_error(&e)
    })
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
pub fn vm_list(cx: &Ctx, _opts: Opts) -> Outcome {
    let (hv, xs) = cx.hv()?;
    let domains = hv.domains().map_err(|e| {
        err("libxl_list_vm failed.\n");
        xl_error(&e)
    })?;
    let mut text = String::from("UUID                                  ID    name\n");
    for d in &domains {
        if names::is_stubdom(xs, d.domid).or_exit()? {
            continue;
        }
        let name = names::domid_to_name(xs, d.domid).or_exit()?;
        text.push_str(&format!(
            "{}  {}    {:<30}\n",
            xl_config::domain::uuid_string(&d.uuid),
            d.domid,
            shown_name(name.as_deref())
        ));
    }
    out(&text);
    Ok(0)
}

/// `xl claims`: `xl list` with each domain's outstanding claim in MiB.
pub fn claims(cx: &Ctx, _opts: Opts) -> Outcome {
    if !cx.xlconf.claim_mode {
        err("claim_mode not enabled (see man xl.conf).\n");
    }
    let (hv, xs) = cx.hv()?;
    let domains = all_domains(hv)?;
    let names = names::names_of(xs, &domains).or_exit()?;
    let mut text = format!("{LIST_HEADER}  Claimed\n");
    for (d, name) in domains.iter().zip(names) {
        text.push_str(&list_row(d, name.as_deref().map(sanitize).as_deref()));
        text.push_str(&format!(" {:>5}\n", d.outstanding_memkb / 1024));
    }
    out(&text);
    Ok(0)
}

/// `xl sharing [Domain]`: each domain's memory and shared pages, in MiB.
pub fn sharing(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    if ops.len() > 1 {
        return Err(cx.help(1));
    }
    let (hv, xs) = cx.hv()?;
    let domains = match ops.first() {
        None => all_domains(hv)?,
        Some(q) => vec![super::domains::one_domain(cx, q)?],
    };
    let names = names::names_of(xs, &domains).or_exit()?;
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
    Ok(0)
}

/// `xl debug-keys KEYS`: the hypervisor acts on each key as typed on its
/// console.
pub fn debug_keys(cx: &Ctx, opts: Opts) -> Outcome {
    let keys = &opts.operands()[0];
    let (hv, _) = cx.hv()?;
    if let Err(e) = hv.send_debug_keys(keys.as_bytes()) {
        err(&format!(
            "libxl: error: sending debug keys: {}\n",
            backend::chain(&e)
        ));
        return fail(format!("cannot send debug keys: {keys}\n"));
    }
    Ok(0)
}

/// `xl button-press DOMAIN power|sleep`, the deprecated spelling of
/// `xl trigger` (its warning is printed before the options are read).
pub fn button_press(cx: &Ctx, opts: Opts) -> Outcome {
    use xl_toolstack::Trigger;
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let host = cx.host()?;
    let trigger = match ops[1].as_str() {
        "power" => Trigger::Power,
        "sleep" => Trigger::Sleep,
        other => return fail(format!("{other} is an invalid button identifier\n")),
    };
    // xl ignores libxl's answer: the status is 0 once the domain resolved.
    if let Err(e) = host.hv.send_trigger(domid, trigger, 0) {
        err(&format!(
            "xl: sending trigger {} to domain {domid} failed: {}\n",
            ops[1],
            backend::chain(&e)
        ));
    }
    Ok(0)
}

/// `xl qemu-monitor-command DOMAIN COMMAND`: a command of QEMU's human
/// monitor over libxl's QMP socket; what QEMU printed and a newline.
pub fn qemu_monitor_command(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    if ops.len() > 2 {
        return fail("Invalid arguments.\n");
    }
    let host = cx.host()?;
    let uuid = host
        .hv
        .domain(domid)
        .map_err(|e| xl_error(&e))?
        .map(|d| d.uuid)
        .unwrap_or_default();
    match host.dom0.monitor_command(domid, &uuid, &ops[1]) {
        Ok(text) => {
            out(&format!("{text}\n"));
            Ok(0)
        }
        Err(e) => fail(format!(
            "libxl: error: Domain {domid}:{}\n",
            backend::chain(&e)
        )),
    }
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
fn rtds_args(opts: &cmdtable::Opts) -> Result<RtdsArgs, Exit> {
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

/// `xl sched-rtds`: RTDS parameters of the domains in RTDS cpupools, of
/// one domain, or of its vCPUs; setting them per vCPU (`-v ID` or
/// `-v all` with `-p`, `-b`, `-e`).
pub fn sched_rtds(cx: &Ctx, opts: Opts) -> Outcome {
    let a = rtds_args(&opts)?;
    let (hv, xs) = cx.hv()?;
    let Some(dom) = &a.dom else {
        return rtds_listing(hv, xs, a.all);
    };
    let domid = cx.domain(dom)?;
    if !a.per_vcpu {
        out(RTDS_DOMAIN_HEADER);
        return if rtds_domain_row(hv, xs, domid) {
            Ok(0)
        } else {
            Err(Exit(1))
        };
    }
    if !a.setting {
        out(RTDS_VCPU_HEADER);
        let ids = if a.all { None } else { Some(rtds_ids(&opts)) };
        return rtds_vcpu_rows(hv, xs, domid, ids.as_deref()).map(|()| 0);
    }
    rtds_set(hv, &opts, a.all, domid).map(|()| 0)
}

/// `strtol(optarg, NULL, 10)` kept in an int, as xl reads the values.
fn rtds_num(s: &str) -> i32 {
    xl_config::value::strtol(s.as_bytes(), 10).0 as i32
}

/// The vCPU ids of the `-v` options (`all` aside).
fn rtds_ids(opts: &cmdtable::Opts) -> Vec<i32> {
    opts.values('v')
        .into_iter()
        .filter(|v| *v != "all")
        .map(rtds_num)
        .collect()
}

/// A domain's name as xl's sched commands print it.
fn sched_name(xs: &Xs, domid: u32) -> String {
    shown_name(names::domid_to_name(xs, domid).ok().flatten().as_deref())
}

/// libxl's log line for a failed RTDS hypercall (LOGED).
fn rtds_loged(domid: u32, what: &str, e: &dyn std::error::Error) {
    err(&format!(
        "libxl: error: {}{what}: {}\n",
        domain_prefix(domid),
        xl_toolstack::innermost_cause(e)
    ));
}

/// One domain's default RTDS row (xl's sched_rtds_domain_output); false,
/// after xl's messages, when it cannot be read. libxl leaves extratime
/// at its "default" (-1) here, which xl prints as "yes".
fn rtds_domain_row(hv: &dyn Hypervisor, xs: &Xs, domid: u32) -> bool {
    let sched = super::sched::domain_scheduler(hv, domid);
    if sched.as_deref() != Some("rtds") {
        // Prints why: a failure, or the scheduler it runs instead.
        super::sched::domain_get(hv, domid, "rtds");
        return false;
    }
    match hv.rtds_domain(domid) {
        Ok((period, budget)) => {
            out(&format!(
                "{:<33} {:>4} {:>9} {:>9} {:>10}\n",
                sched_name(xs, domid),
                domid,
                period as i32,
                budget as i32,
                "yes"
            ));
            true
        }
        Err(e) => {
            rtds_loged(domid, "Getting domain sched rtds", &e);
            err("libxl_domain_sched_params_get failed.\n");
            false
        }
    }
}

/// Why libxl_vcpu_sched_params_get(_all) fails, if it does: the
/// scheduler, or a vCPU id out of range; otherwise the ids to ask Xen.
fn rtds_vcpus_to_get(
    hv: &dyn Hypervisor,
    domid: u32,
    ids: Option<&[i32]>,
) -> Result<Vec<u32>, String> {
    let sched = super::sched::domain_scheduler(hv, domid);
    let prefix = domain_prefix(domid);
    if sched.as_deref() != Some("rtds") {
        let why = match sched.as_deref() {
            Some("credit" | "credit2" | "arinc653" | "null") => {
                "per-VCPU parameter getting not supported for this scheduler"
            }
            _ => "Unknown scheduler",
        };
        return Err(format!("libxl: error: {prefix}{why}\n"));
    }
    let max = match hv.domain(domid) {
        Ok(Some(d)) => d.vcpu_max_id,
        _ => {
            return Err(format!(
                "libxl: error: {prefix}Getting domain info: No such process\n"
            ));
        }
    };
    let Some(ids) = ids else {
        return Ok((0..=max).collect());
    };
    if ids.iter().any(|&id| id < 0 || id as u32 > max) {
        return Err(format!(
            "libxl: error: {prefix}VCPU index is out of range, valid values are within range from 0 to {max}\n"
        ));
    }
    Ok(ids.iter().map(|&id| id as u32).collect())
}

/// A domain's per-vCPU rows (xl's sched_rtds_vcpu_output and its `_all`
/// form, `ids` None): libxl's failures end xl with status 1.
fn rtds_vcpu_rows(
    hv: &dyn Hypervisor,
    xs: &Xs,
    domid: u32,
    ids: Option<&[i32]>,
) -> Result<(), Exit> {
    let call = if ids.is_some() {
        "libxl_vcpu_sched_params_get"
    } else {
        "libxl_vcpu_sched_params_get_all"
    };
    let want = rtds_vcpus_to_get(hv, domid, ids).or_else(|msg| {
        err(&msg);
        fail(format!("{call} failed.\n"))
    })?;
    let got = hv.rtds_vcpus(domid, &want).or_else(|e| {
        rtds_loged(domid, "Getting vcpu sched rtds", &e);
        fail(format!("{call} failed.\n"))
    })?;
    let name = sched_name(xs, domid);
    let mut text = String::new();
    for v in got {
        text.push_str(&format!(
            "{name:<33} {domid:>4} {:>4} {:>9} {:>9} {:>10}\n",
            v.vcpuid,
            v.period,
            v.budget,
            if v.extratime { "yes" } else { "no" }
        ));
    }
    out(&text);
    Ok(())
}

/// Set per-vCPU parameters as libxl_vcpu_sched_params_set(_all) with
/// RTDS named: libxl's checks, then Xen's (which refuses a domain of
/// another scheduler).
fn rtds_set(hv: &dyn Hypervisor, opts: &cmdtable::Opts, all: bool, domid: u32) -> Result<(), Exit> {
    let call = if all {
        "libxl_vcpu_sched_params_set_all"
    } else {
        "libxl_vcpu_sched_params_set"
    };
    let Some(max_vcpu) = hv.domain(domid).ok().flatten().map(|d| d.vcpu_max_id) else {
        err(&format!(
            "libxl: error: {}Getting domain info: No such process\n",
            domain_prefix(domid)
        ));
        return fail(format!("{call} failed.\n"));
    };
    if let Some(msg) = rtds_set_problem(opts, all, domid, max_vcpu) {
        err(&msg);
        return fail(format!("{call} failed.\n"));
    }
    let periods = opts.values('p');
    let budgets = opts.values('b');
    let extra = opts.values('e');
    let entry = |i: usize, vcpuid: u32| RtdsVcpu {
        vcpuid,
        period: rtds_num(periods[i]) as u32,
        budget: rtds_num(budgets[i]) as u32,
        extratime: rtds_num(extra[i]) != 0,
    };
    let vcpus: Vec<RtdsVcpu> = if all {
        (0..=u32::from(max_vcpu as u16))
            .map(|id| entry(0, id))
            .collect()
    } else {
        rtds_ids(opts)
            .into_iter()
            .enumerate()
            .map(|(i, id)| entry(i, id as u32))
            .collect()
    };
    hv.set_rtds_vcpus(domid, &vcpus).or_else(|e| {
        rtds_loged(domid, "Setting vcpu sched rtds", &e);
        fail(format!("{call} failed.\n"))
    })
}

/// libxl's checks of RTDS values before it asks Xen: vCPU ids in range,
/// periods and budgets at least 1 and budgets within their periods.
fn rtds_set_problem(opts: &cmdtable::Opts, all: bool, domid: u32, max_vcpu: u32) -> Option<String> {
    let ids = rtds_ids(opts);
    let periods: Vec<i32> = opts.values('p').into_iter().map(rtds_num).collect();
    let budgets: Vec<i32> = opts.values('b').into_iter().map(rtds_num).collect();
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

/// Every RTDS cpupool with its domains (xl's sched_domain_output and
/// sched_vcpu_output): a domain that cannot be read ends the listing,
/// with status 0 for domain rows and 1 when libxl failed on vCPU rows.
fn rtds_listing(hv: &dyn Hypervisor, xs: &Xs, per_vcpu: bool) -> Outcome {
    let domains = all_domains(hv)?;
    let pools = hv.cpupools().map_err(|e| {
        err("error getting cpupool info\n");
        xl_error(&e)
    })?;
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
        for d in domains.iter().filter(|d| d.cpupool == p.poolid) {
            if per_vcpu {
                rtds_vcpu_rows(hv, xs, d.domid, None)?;
            } else if !rtds_domain_row(hv, xs, d.domid) {
                return Ok(0);
            }
        }
    }
    Ok(0)
}

/// `xl set-parameters PARAMS`: Xen's runtime parameters through hypfs, as
/// libxl sets them (stopping at the first word that fails).
pub fn set_parameters(cx: &Ctx, opts: Opts) -> Outcome {
    use xl_toolstack::params::{self, ParamsError};
    let text = &opts.operands()[0];
    let host = cx.host()?;
    match params::set_parameters(host.hv.as_ref(), text) {
        Ok(()) => Ok(0),
        Err(e) => {
            let why = match &e {
                ParamsError::Open(cause) => format!(
                    "libxl: error: {e}: {}\n",
                    xl_toolstack::innermost_cause(cause)
                ),
                ParamsError::Set(cause) => {
                    format!("libxl: error: {e}: {}\n", super::strerror(cause))
                }
                ParamsError::NoValue(_) => format!("xl: {e}\n"),
            };
            err(&why);
            fail(format!("cannot set parameters: {text}\n"))
        }
    }
}
