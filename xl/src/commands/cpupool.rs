//! `xl cpupool-*`: list, create, destroy and rename cpupools, move CPUs
//! and domains between them, split the host by NUMA node.

use xenstore::Xs;
use xl_config::value::{Config, Lookup};
use xl_toolstack::cpupool::{self as pools, PoolError};
use xl_toolstack::{GuestKind, Hypervisor, names};

use super::{Ctx, Exit, OrExit, Outcome, err, fail, out, sanitize, strerror, xl_error};
use crate::cmdtable::Opts;
use crate::{Status, backend};

/// libxl's log line for a failed step (xl shows it on stderr): what
/// failed and the errno's text, as libxl's LOGE prints them.
fn libxl_err(e: &PoolError) {
    err(&libxl_line(e, ""));
}

fn libxl_line(e: &PoolError, prefix: &str) -> String {
    // Refusals libxl makes without logging.
    if matches!(e, PoolError::HasDomains(_) | PoolError::NoSuchPool(_)) {
        return String::new();
    }
    if let PoolError::Other(inner) = e {
        return format!("libxl: error: {prefix}{}\n", backend::chain(inner));
    }
    if !e.logs_errno() {
        return format!("libxl: error: {prefix}{e}\n");
    }
    let errno = xl_toolstack::innermost_cause(e);
    format!("libxl: error: {prefix}{e}: {errno}\n")
}

/// A cpupool argument resolved as xl does, or its "unknown cpupool".
fn find_pool(hv: &dyn Hypervisor, xs: &Xs, q: &str) -> Result<u32, Exit> {
    match pools::qualifier_to_poolid(hv, xs, q).or_exit()? {
        Some(id) => Ok(id),
        None => fail(format!("unknown cpupool '{q}'\n")),
    }
}

/// xl's line for a failed step, then the error itself.
fn failed(xl_line: &str) -> impl Fn(xl_toolstack::Error) -> Exit {
    move |e| {
        err(xl_line);
        xl_error(&e)
    }
}

/// `xl cpupool-list [-c] [POOL]`.
pub fn list(cx: &Ctx, opts: Opts) -> Outcome {
    let cpus = opts.flag('c');
    let (hv, xs) = cx.hv()?;
    let only = match opts.operands().first() {
        None => None,
        Some(name) => match pools::name_to_poolid(hv, xs, name).or_exit()? {
            Some(id) => Some(id),
            None => return fail(format!("Pool '{name}' does not exist\n")),
        },
    };
    let listed = pools::list(hv, xs).map_err(failed("error getting cpupool info\n"))?;
    let mut text = format!("{:<19}", "Name");
    text.push_str(if cpus {
        "CPU list\n"
    } else {
        "CPUs   Sched     Active   Domain count\n"
    });
    for p in listed
        .iter()
        .filter(|p| only.is_none_or(|id| id == p.info.poolid))
    {
        let set = pools::cpus_of(&p.info.cpumap);
        text.push_str(&format!("{:<19}", sanitize(&p.name)));
        if cpus {
            let list: Vec<String> = set.iter().map(u32::to_string).collect();
            text.push_str(&list.join(","));
        } else {
            text.push_str(&format!(
                "{:>3} {:>9}       y       {:>4}",
                set.len(),
                p.info.sched,
                p.info.n_dom
            ));
        }
        text.push('\n');
    }
    out(&text);
    Ok(0)
}

/// `xl cpupool-destroy POOL`.
pub fn destroy(cx: &Ctx, opts: Opts) -> Outcome {
    let q = &opts.operands()[0];
    let (hv, xs) = cx.hv()?;
    let poolid = find_pool(hv, xs, q)?;
    if let Err(e) = pools::destroy(hv, xs, poolid) {
        libxl_err(&e);
        return fail(format!("Can't destroy cpupool '{q}'\n"));
    }
    Ok(0)
}

/// `xl cpupool-rename POOL NEWNAME`.
pub fn rename(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let (hv, xs) = cx.hv()?;
    let poolid = find_pool(hv, xs, &ops[0])?;
    if let Err(e) = pools::rename(hv, xs, poolid, &ops[1]) {
        libxl_err(&e);
        return fail(format!("Can't rename cpupool '{}'\n", ops[0]));
    }
    Ok(0)
}

/// `xl cpupool-cpu-add POOL CPUS` (`add`) and `xl cpupool-cpu-remove`:
/// CPUs as `vcpu-pin` takes them (`3`, `1-3,^2`, `node:0`, `all`).
pub fn cpu_add_remove(cx: &Ctx, opts: Opts, add: bool) -> Outcome {
    let ops = opts.operands();
    let (hv, xs) = cx.hv()?;
    // xl parses the CPUs before it looks the pool up.
    let cpus = cpu_list(hv, &ops[1])?;
    let poolid = find_pool(hv, xs, &ops[0])?;
    let failed = pools::change_cpus(hv, poolid, &cpus, add);
    failed.iter().for_each(libxl_err);
    if !failed.is_empty() {
        let pool = &ops[0];
        if add {
            err(&format!("some cpus may not have been added to {pool}\n"));
        } else {
            err(&format!(
                "Some cpus may have not or only partially been removed from '{pool}'.\n\
                 If a cpu can't be added to another cpupool, add it to '{pool}' again and retry.\n"
            ));
        }
    }
    Ok(0)
}

/// xl's parse_cpurange against this host's CPUs and nodes.
fn cpu_list(hv: &dyn Hypervisor, s: &str) -> Result<Vec<u32>, Exit> {
    let host = super::vcpu::host_of(hv).or_exit()?;
    xl_config::parse::cpu_range(s, &host).or_else(fail)
}

/// `xl cpupool-migrate DOMAIN POOL`.
pub fn migrate(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let (hv, xs) = cx.hv()?;
    // A domain must resolve and have a name (libxl_domid_to_name).
    let domid = match names::qualifier_to_domid(hv, xs, &ops[0]) {
        Ok(Some(d)) if matches!(names::domid_to_name(xs, d), Ok(Some(_))) => d,
        _ => return fail(format!("unknown domain '{}'\n", ops[0])),
    };
    let poolid = find_pool(hv, xs, &ops[1])?;
    match pools::move_domain(hv, poolid, domid) {
        Ok(()) => Ok(0),
        Err(e) => fail(libxl_line(&e, &super::hostops::domain_prefix(domid))),
    }
}

/// What a cpupool config file asks for.
struct PoolSpec {
    name: String,
    sched: String,
    cpus: Vec<u32>,
    /// xl's status for a failure from here on: 1, or, when the
    /// scheduler is the host's default, that scheduler's libxl number
    /// (xl keeps it in its return variable).
    fail: Exit,
}

/// libxl_scheduler's numbers.
fn sched_number(name: &str) -> Status {
    match name {
        "sedf" => 4,
        "credit" => 5,
        "credit2" => 6,
        "arinc653" => 7,
        "rtds" => 8,
        "null" => 9,
        _ => 0,
    }
}

/// `xl cpupool-create [-n] [-f FILE] [FILE] [KEY=VALUE...]`.
pub fn create(cx: &Ctx, opts: Opts) -> Outcome {
    let dryrun = opts.flag('n') || cx.globals.dryrun;
    let mut file = opts.value('f').map(str::to_string);
    let mut extra = String::new();
    for a in opts.operands() {
        if a.contains('=') {
            extra.push('\n');
            extra.push_str(&a);
        } else if file.is_none() {
            file = Some(a);
        } else {
            return Err(cx.help(1));
        }
    }
    let (text, source) = config_text(file.as_deref(), &extra)?;
    let (hv, xs) = cx.hv()?;
    let spec = pool_spec(hv, xs, &text, &source, file.as_deref())?;
    out(&format!(
        "Using config file \"{source}\"\ncpupool name:   {}\nscheduler:      {}\nnumber of cpus: {}\n",
        spec.name,
        spec.sched,
        spec.cpus.len()
    ));
    if dryrun {
        return Ok(0);
    }
    let uuid = *xl_config::random_uuid().as_bytes();
    match pools::create(hv, xs, &spec.name, &spec.sched, &spec.cpus, &uuid) {
        Ok(_) => Ok(0),
        Err(e) => {
            libxl_err(&e);
            err("error on creating cpupool\n");
            Err(spec.fail)
        }
    }
}

/// The file's text (if any) with the command line's settings after it,
/// and the name xl reports it under.
fn config_text(file: Option<&str>, extra: &str) -> Result<(String, String), Exit> {
    let mut text = String::new();
    if let Some(f) = file {
        match std::fs::read(f) {
            Ok(b) => text = String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                return fail(format!(
                    "Failed to read config file: {f}: {}\n",
                    strerror(&e)
                ));
            }
        }
    }
    if !extra.is_empty() {
        text.push_str(extra);
        text.push('\n');
    }
    let source = file.unwrap_or("command line").to_string();
    Ok((text, source))
}

/// Parse the pool's settings as xl does (name, sched, nodes or cpus),
/// checked against the host.
fn pool_spec(
    hv: &dyn Hypervisor,
    xs: &Xs,
    text: &str,
    source: &str,
    file: Option<&str>,
) -> Result<PoolSpec, Exit> {
    let mut report = xl_config::Report::new();
    let parsed = xl_config::syntax::parse(text, source, &mut report);
    err(&report.take());
    if !parsed.ok {
        return fail("Failed to parse config file: Invalid argument\n");
    }
    let cfg = Config::new(source, parsed.settings);
    let name = match (cfg.string("name", false, &mut report), file) {
        (Ok(n), _) => n.to_string(),
        (Err(_), Some(f)) => f.rsplit('/').next().unwrap_or(f).to_string(),
        (Err(_), None) => {
            err(&report.take());
            return fail("Missing cpupool name!\n");
        }
    };
    err(&report.take());
    if pools::name_to_poolid(hv, xs, &name).or_exit()?.is_some() {
        return fail(format!("Pool name \"{name}\" already exists\n"));
    }
    let (sched, defaulted) = pool_sched(hv, &cfg, &mut report)?;
    let fail = Exit(if defaulted { sched_number(&sched) } else { 1 });
    let cpus = pool_cpus(hv, &cfg, &mut report).map_err(|_| fail)?;
    Ok(PoolSpec {
        name,
        sched,
        cpus,
        fail,
    })
}

/// The `sched` setting (libxl's names, any case), else the host's default
/// (then true).
fn pool_sched(
    hv: &dyn Hypervisor,
    cfg: &Config,
    report: &mut xl_config::Report,
) -> Result<(String, bool), Exit> {
    let given = cfg.string("sched", false, report).ok().map(str::to_string);
    err(&report.take());
    match given {
        Some(s) => {
            let lower = s.to_ascii_lowercase();
            const KNOWN: [&str; 7] = [
                "unknown", "sedf", "credit", "credit2", "arinc653", "rtds", "null",
            ];
            if KNOWN.contains(&lower.as_str()) {
                Ok((lower, false))
            } else {
                fail("Unknown scheduler\n")
            }
        }
        None => hv
            .scheduler()
            .map(|s| (s, true))
            .map_err(failed("get_scheduler sysctl failed.\n")),
    }
}

/// The pool's CPUs: free CPUs of the `nodes` listed, else the `cpus`
/// list or range, each of which must be free.
fn pool_cpus(
    hv: &dyn Hypervisor,
    cfg: &Config,
    report: &mut xl_config::Report,
) -> Result<Vec<u32>, Exit> {
    let free = hv
        .free_cpu_map()
        .map(|m| pools::cpus_of(&m))
        .map_err(failed("libxl_get_freecpus failed\n"))?;
    let nodes = cfg.list("nodes", false, report).ok().map(<[_]>::to_vec);
    err(&report.take());
    if let Some(nodes) = nodes {
        return node_cpus(hv, &nodes, &free);
    }
    let mut cpus = Vec::new();
    match cfg.list("cpus", true, report) {
        Ok(list) => {
            for item in Config::string_items(list) {
                cpus.push(atoi(item));
            }
        }
        Err(Lookup::Invalid) | Err(Lookup::Absent) => {
            if let Ok(s) = cfg.string("cpus", false, report) {
                err(&report.take());
                let listed = cpu_list(hv, s)?;
                cpus = listed.iter().map(|c| *c as i64).collect();
            }
        }
    }
    err(&report.take());
    let mut out = Vec::new();
    for c in cpus {
        match u32::try_from(c).ok().filter(|c| free.contains(c)) {
            Some(c) => out.push(c),
            None => return fail(format!("cpu {} illegal or not free\n", c as i32)),
        }
    }
    Ok(out)
}

/// The free CPUs on the listed nodes.
fn node_cpus(
    hv: &dyn Hypervisor,
    nodes: &[xl_config::value::Value],
    free: &[u32],
) -> Result<Vec<u32>, Exit> {
    let topo = hv
        .cpu_topology()
        .map_err(failed("libxl_get_topologyinfo failed\n"))?;
    let mut cpus = Vec::new();
    for n in Config::string_items(nodes) {
        let n = atoi(n);
        for (cpu, t) in topo.iter().enumerate() {
            let cpu = cpu as u32;
            if t.node.map(i64::from) == Some(n) && free.contains(&cpu) && !cpus.contains(&cpu) {
                cpus.push(cpu);
            }
        }
    }
    if cpus.is_empty() {
        return fail("no free cpu found\n");
    }
    cpus.sort_unstable();
    Ok(cpus)
}

/// C's atoi, kept in an int.
fn atoi(s: &str) -> i64 {
    i64::from(xl_config::value::strtol(s.as_bytes(), 10).0 as i32)
}

/// `xl cpupool-numa-split`: Pool-0 keeps the first CPU's node (renamed
/// `Pool-node<N>`), every other node gets a pool of its own with the same
/// scheduler. Only on a host with Pool-0 alone.
pub fn numa_split(cx: &Ctx, _opts: Opts) -> Outcome {
    let (host, xs) = cx.connect()?;
    let hv = host.hv.as_ref();
    let all = hv
        .cpupools()
        .map_err(failed("error getting cpupool info\n"))?;
    if all.is_empty() {
        return fail("error getting cpupool info\n");
    }
    if all.len() > 1 {
        return fail("splitting not possible, already cpupools in use\n");
    }
    let (pool0, sched) = (all[0].poolid, all[0].sched.clone());
    let nodes: Vec<Option<u32>> = hv
        .cpu_topology()
        .map_err(failed("libxl_get_topologyinfo failed\n"))?
        .iter()
        .map(|c| c.node)
        .collect();
    let first = nodes.first().copied().flatten();
    keep_first_node(hv, host.dom0.as_ref(), xs, pool0, first, &nodes)?;
    let mut done = vec![first];
    for node in nodes.iter().copied() {
        if done.contains(&node) {
            continue;
        }
        done.push(node);
        node_pool(hv, xs, pool0, node, &nodes, &sched)?;
    }
    Ok(0)
}

/// CPUs of `node` that are free, as libxl_cpupool_cpuadd_node finds them.
fn free_on_node(hv: &dyn Hypervisor, node: Option<u32>, nodes: &[Option<u32>]) -> Vec<u32> {
    let free = hv
        .free_cpu_map()
        .map(|m| pools::cpus_of(&m))
        .unwrap_or_default();
    (0..nodes.len() as u32)
        .filter(|c| nodes[*c as usize] == node && free.contains(c))
        .collect()
}

/// Pool-0 takes the free CPUs of the first node and its name; dom0 keeps
/// no more vCPUs online than that node has CPUs.
fn keep_first_node(
    hv: &dyn Hypervisor,
    dom0_services: &dyn xl_toolstack::Dom0,
    xs: &Xs,
    pool0: u32,
    node: Option<u32>,
    nodes: &[Option<u32>],
) -> Result<(), Exit> {
    let add = free_on_node(hv, node, nodes);
    // libxl_cpupool_cpuadd_node counts, but does not report, CPUs it failed to add.
    pools::change_cpus(hv, pool0, &add, true);
    let name = format!("Pool-node{}", node_num(node));
    if let Err(e) = pools::rename(hv, xs, pool0, &name) {
        libxl_err(&e);
        return fail("error on renaming Pool 0\n");
    }
    let n = nodes.iter().filter(|n| **n == node).count() as u32;
    let Ok(Some(dom0)) = hv.domain(0) else {
        return fail("error on getting info for Domain-0\n");
    };
    if dom0.vcpu_online <= n {
        return Ok(());
    }
    if xl_toolstack::vcpus::set_online(dom0_services, xs, GuestKind::Pv, &dom0, n).is_err() {
        return fail("error on removing vcpus for Domain-0\n");
    }
    // The kernel takes its vCPUs down in its own time: up to 10 s.
    for _ in 0..10 {
        match hv.domain(0) {
            Ok(Some(d)) if d.vcpu_online <= n => return Ok(()),
            Ok(Some(_)) => std::thread::sleep(std::time::Duration::from_secs(1)),
            _ => return fail("error on getting info for Domain-0\n"),
        }
    }
    fail("failed to offline vcpus\n")
}

/// One more node: its CPUs leave Pool-0 for a new `Pool-node<N>`.
fn node_pool(
    hv: &dyn Hypervisor,
    xs: &Xs,
    pool0: u32,
    node: Option<u32>,
    nodes: &[Option<u32>],
    sched: &str,
) -> Result<(), Exit> {
    let in_pool0: Vec<u32> = hv
        .cpupools()
        .map_err(failed("error on removing cpu from Pool 0\n"))?
        .iter()
        .find(|p| p.poolid == pool0)
        .map(|p| pools::cpus_of(&p.cpumap))
        .unwrap_or_default();
    let leave: Vec<u32> = in_pool0
        .into_iter()
        .filter(|c| nodes.get(*c as usize) == Some(&node))
        .collect();
    pools::change_cpus(hv, pool0, &leave, false);
    let name = format!("Pool-node{}", node_num(node));
    let uuid = *xl_config::random_uuid().as_bytes();
    let poolid = match pools::create(hv, xs, &name, sched, &[], &uuid) {
        Ok(id) => id,
        Err(e) => {
            libxl_err(&e);
            return fail("error on creating cpupool\n");
        }
    };
    let add = free_on_node(hv, node, nodes);
    pools::change_cpus(hv, poolid, &add, true);
    Ok(())
}

/// A node as xl prints it: LIBXL_CPUTOPOLOGY_INVALID_ENTRY as an int.
fn node_num(node: Option<u32>) -> i32 {
    node.map_or(-1, |n| n as i32)
}
