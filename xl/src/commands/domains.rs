//! Commands about existing domains: list, domid, domname.

use xenstore::Xs;
use xl_config::json::Json;
use xl_toolstack::names;
use xl_toolstack::retrieve;
use xl_toolstack::{Host, LIST_HEADER, list_row};

use super::{Ctx, Exit, OrExit, Outcome, err, fail, out, sanitize};
use crate::backend;
use crate::cmdtable::Opts;

pub fn list(cx: &Ctx, opts: Opts) -> Outcome {
    let operands = opts.operands();
    if operands.len() > 1 {
        return Err(cx.help(1));
    }
    let (verbose, context) = (opts.flag('v'), opts.flag('Z'));
    let (cpupool, numa) = (opts.flag('c'), opts.flag('n'));
    let (host, xs) = cx.connect()?;
    // A create that died with its guard left a half-made domain: undone
    // before it is listed.
    for note in xl_toolstack::inflight::reap(host, xs) {
        err(&format!("xl: {note}\n"));
    }
    let hv = host.hv.as_ref();
    let domains = match operands.first() {
        None => hv.domains().or_exit()?,
        Some(q) => vec![one_domain(cx, q)?],
    };
    if opts.flag('l') {
        list_long(host, xs, &domains);
        return Ok(0);
    }
    let mut text = String::from(LIST_HEADER);
    if verbose {
        text.push_str("   UUID                            Reason-Code\tSecurity Label");
    }
    if context && !verbose {
        text.push_str("   Security Label");
    }
    if cpupool {
        text.push_str("         Cpupool");
    }
    // Node affinity maps are as wide as the host has nodes.
    let nr_nodes = if numa {
        match hv.physinfo() {
            Ok(p) => Some(p.nr_nodes as usize),
            Err(e) => {
                return fail(format!(
                    "libxl_physinfo failed.\nxl: {}\n",
                    backend::chain(&e)
                ));
            }
        }
    } else {
        None
    };
    if numa {
        text.push_str(" NODE Affinity");
    }
    text.push('\n');
    // One pipelined round trip for all names: hosts with thousands of
    // domains list in milliseconds.
    let names = names::names_of(xs, &domains).or_exit()?;
    // libxl reuses one node map: a failed read leaves the previous row's.
    let mut nodemap: Vec<u8> = Vec::new();
    for (d, name) in domains.iter().zip(names) {
        text.push_str(&list_row(d, name.as_deref().map(sanitize).as_deref()));
        if verbose {
            text.push_str(&format!(" {}", xl_config::domain::uuid_string(&d.uuid)));
            if d.shutdown {
                text.push_str(&format!(" {:>8x}", d.shutdown_reason));
            } else {
                text.push_str(&format!(" {:>8}", "-"));
            }
        }
        if verbose || context {
            // No XSM labels without FLASK, where xl prints "-".
            text.push_str(&format!(" {:>16}", "-"));
        }
        if cpupool {
            let pool = names::cpupool_name(xs, d.cpupool).or_exit()?;
            text.push_str(&format!("{:>16}", pool.as_deref().unwrap_or("(null)")));
        }
        if let Some(nodes) = nr_nodes {
            if let Ok(m) = hv.node_affinity(d.domid) {
                nodemap = m;
            }
            text.push(' ');
            text.push_str(&xl_toolstack::bitmap_ranges(&nodemap, nodes));
        }
        text.push('\n');
    }
    out(&text);
    Ok(0)
}

/// The domain `xl list` and `xl sharing` are asked about, with their
/// message for one that went away after its name was resolved.
pub(super) fn one_domain(cx: &Ctx, q: &str) -> Result<xl_toolstack::DomInfo, Exit> {
    let domid = cx.domain(q)?;
    let (hv, _) = cx.hv()?;
    match hv.domain(domid).or_exit()? {
        Some(d) => Ok(d),
        None => fail(format!("Error: Domain '{q}' does not exist.\n")),
    }
}

/// `xl list -l`: each domain's configuration as it is now, in one JSON
/// array; a domain whose configuration cannot be had (not made by libxl,
/// gone meanwhile) is left out with libxl's error on stderr, and the
/// status stays 0, as with xl.
fn list_long(host: &Host, xs: &Xs, domains: &[xl_toolstack::DomInfo]) {
    let mut entries = Vec::new();
    // A failed prefetch only means the reads happen one by one.
    let _ = retrieve::prefetch(xs, &host.paths.lib, domains);
    let facts = retrieve::HostFacts::default();
    for d in domains {
        match retrieve::retrieve_with(host, xs, d.domid, &facts) {
            Ok(r) => {
                for l in &r.log {
                    err(&format!(
                        "libxl: {}: Domain {}:{}\n",
                        l.level, l.domid, l.message
                    ));
                }
                entries.push(retrieve::list_entry(d.domid, r.config));
            }
            Err(e) => err(&format!(
                "libxl: error: Domain {}:Fail to get domain configuration: {}\n",
                d.domid,
                backend::chain(&e)
            )),
        }
    }
    // xl puts() yajl's text, which already ends in a newline.
    out(&(Json::Arr(entries).to_yajl() + "\n"));
}

/// Guest-controlled names may hold terminal escapes: show control
/// characters as `?` (xl prints them raw; names with them are rare and
/// hostile).
pub fn domid(cx: &Ctx, opts: Opts) -> Outcome {
    let name = &opts.operands()[0];
    let (hv, xs) = cx.hv()?;
    match names::name_to_domid(hv, xs, name).or_exit()? {
        Some(d) => {
            out(&format!("{d}\n"));
            Ok(0)
        }
        None => fail(format!(
            "Can't get domid of domain name '{name}', maybe this domain does not exist.\n"
        )),
    }
}

pub fn domname(cx: &Ctx, opts: Opts) -> Outcome {
    let arg = &opts.operands()[0];
    // strtol: leading digits count; none at all is an error.
    let (v, used, _) = xl_config::value::strtol(arg.as_bytes(), 10);
    if v == 0 && used == 0 {
        return fail("Invalid domain id.\n\n");
    }
    // C keeps the low 32 bits; past them the id would name another domain.
    let Ok(domid) = i32::try_from(v)
        .map(|v| v as u32)
        .or_else(|_| u32::try_from(v))
    else {
        return fail(format!(
            "Can't get domain name of domain id '{v}', maybe this domain does not exist.\n"
        ));
    };
    let (_, xs) = cx.connect()?;
    match names::domid_to_name(xs, domid).or_exit()? {
        Some(n) => {
            out(&format!("{}\n", sanitize(&n)));
            Ok(0)
        }
        None => fail(format!(
            "Can't get domain name of domain id '{domid}', maybe this domain does not exist.\n"
        )),
    }
}

/// `xl pause` / `xl unpause`: like xl, the exit status is 0 once the domain
/// resolved, whatever the hypervisor said (the error is still printed).
pub fn pause_unpause(cx: &Ctx, opts: Opts, pause: bool) -> Outcome {
    let domid = cx.domain(&opts.operands()[0])?;
    let (host, xs) = cx.connect()?;
    let result: Result<(), Box<dyn std::error::Error>> = if pause {
        host.hv.pause(domid).map_err(Into::into)
    } else {
        // An HVM guest's device model is resumed first (QMP `cont`).
        xl_toolstack::qmp::unpause(host, xs, domid).map_err(Into::into)
    };
    if let Err(e) = result {
        err(&format!(
            "xl: {} domain {domid} failed: {}\n",
            if pause { "pausing" } else { "unpausing" },
            backend::chain(e.as_ref())
        ));
    }
    Ok(0)
}

/// xl's uptime text: `[N day[s], ]HH:MM:SS`, or `H:MM` in short mode.
fn uptime_string(uptime: u32, short: bool) -> String {
    let mut u = u64::from(uptime);
    let day = u / 86400;
    u -= day * 86400;
    let (hour, min, sec) = (u / 3600, (u % 3600) / 60, u % 60);
    let days = match day {
        0 => String::new(),
        1 => "1 day, ".to_string(),
        d => format!("{d} days, "),
    };
    if short {
        format!("{days}{hour:2}:{min:02}")
    } else {
        format!("{days}{hour:2}:{min:02}:{sec:02}")
    }
}

pub fn uptime(cx: &Ctx, opts: Opts) -> Outcome {
    let short = opts.flag('s');
    let (hv, xs) = cx.hv()?;
    let mut doms = Vec::new();
    for q in opts.operands() {
        doms.push(cx.domain(&q)?);
    }
    let now = chrono::Local::now();
    let now_secs = now.timestamp() as u32;
    let now_str = now.format("%H:%M:%S").to_string();
    let mut text = String::new();
    if !short {
        text.push_str(&format!("{:<33} {:>4} {}\n", "Name", "ID", "Uptime"));
    }
    if doms.is_empty() {
        doms.push(0);
        for d in hv.domains().or_exit()?.iter().filter(|d| d.domid != 0) {
            if !names::is_stubdom(xs, d.domid).unwrap_or(false) {
                doms.push(d.domid);
            }
        }
    }
    for domid in doms {
        let up = if domid == 0 {
            let Some(up) = std::fs::read_to_string("/proc/uptime").ok().and_then(|s| {
                s.split(['.', ' '])
                    .next()
                    .and_then(|n| n.parse::<u32>().ok())
            }) else {
                out(&text);
                err("Can not get Dom0 uptime.\n");
                return Err(Exit(255));
            };
            up
        } else {
            match names::vm_start_time(xs, domid).or_exit()? {
                Some(t) => now_secs.wrapping_sub(t),
                None => {
                    err(&format!("xl: can't get the start time of domain {domid}\n"));
                    continue;
                }
            }
        };
        let name = names::domid_to_name(xs, domid)
            .ok()
            .flatten()
            .map(|n| sanitize(&n));
        let name = name.as_deref().unwrap_or("(null)");
        if short {
            text.push_str(&format!(
                " {now_str} up {}, {name} ({domid})\n",
                uptime_string(up, true)
            ));
        } else {
            text.push_str(&format!(
                "{name:<33} {domid:>4} {}\n",
                uptime_string(up, false)
            ));
        }
    }
    out(&text);
    Ok(0)
}

pub fn sysrq(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let (_, xs) = cx.connect()?;
    let key = &ops[1];
    if key.chars().count() != 1 {
        err("Invalid sysrq.\n\n");
        return Err(cx.help(1));
    }
    let path = format!("/local/domain/{domid}/control/sysrq");
    if let Err(e) = xenstore::XsOps::write(xs, &path, key) {
        err(&format!("xl: {}\n", backend::chain(&e)));
    }
    Ok(0)
}

pub fn trigger(cx: &Ctx, opts: Opts) -> Outcome {
    use xl_toolstack::Trigger;
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let host = cx.host()?;
    // libxl parses trigger names case-insensitively; "unknown" parses but
    // cannot be sent.
    let trigger = match ops[1].to_ascii_lowercase().as_str() {
        "power" => Some(Trigger::Power),
        "sleep" => Some(Trigger::Sleep),
        "nmi" => Some(Trigger::Nmi),
        "init" => Some(Trigger::Init),
        "reset" => Some(Trigger::Reset),
        "unknown" => None,
        "s3resume" => return fail("xl: trigger s3resume is not implemented yet\n"),
        _ => return fail(format!("Invalid trigger \"{}\"\n", ops[1])),
    };
    let mut vcpu = 0u32;
    if let Some(v) = ops.get(2) {
        let (n, used, _) = xl_config::value::strtol(v.as_bytes(), 10);
        if n == 0 && used == 0 {
            err("Invalid vcpuid, using default vcpuid=0.\n\n");
        }
        vcpu = n as u32;
    }
    let result = match trigger {
        Some(t) => host.hv.send_trigger(domid, t, vcpu),
        None => Err(xl_toolstack::Error::UnknownTrigger),
    };
    if let Err(e) = result {
        err(&format!(
            "xl: sending trigger {} to domain {domid} failed: {}\n",
            ops[1],
            backend::chain(&e)
        ));
    }
    Ok(0)
}

/// `xl mem-max` / `xl mem-set`.
pub fn memory(cx: &Ctx, opts: Opts, set_target: bool) -> Outcome {
    use xl_toolstack::memory;
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let (host, xs) = cx.connect()?;
    let mem = &ops[1];
    let Some(kb) = memory::parse_size_kb(mem).filter(|k| *k != -1) else {
        return fail(format!("invalid memory size: {mem}\n"));
    };
    let kb = kb as u64;
    let result = if set_target {
        memory::set_target(host, xs, domid, kb)
    } else {
        memory::set_max(host, xs, domid, kb)
    };
    if let Err(e) = result {
        err(&format!("xl: {}\n", backend::chain(&e)));
        let which = if set_target { "dynamic" } else { "static" };
        return fail(format!(
            "cannot set domid {domid} {which} max memory to : {mem}\n"
        ));
    }
    Ok(0)
}

/// `xl rename DOMAIN NEW-NAME`.
pub fn rename(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let (hv, xs) = cx.hv()?;
    // xl passes the name it saw when resolving, for libxl's race check.
    let old = names::domid_to_name(xs, domid).or_exit()?;
    match xl_toolstack::rename::rename(hv, xs, domid, old.as_deref(), &ops[1]) {
        Ok(()) => Ok(0),
        Err(e) => {
            err(&format!("xl: domain {domid}: {}\n", backend::chain(&e)));
            fail(format!("Can't rename domain '{}'.\n", ops[0]))
        }
    }
}
