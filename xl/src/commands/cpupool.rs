//! `xl cpupool-*`: list, create, destroy and rename cpupools, move CPUs
//! and domains between them, split the host by NUMA node.

use xenstore::Xs;
use xl_config::value::{Config, Lookup};
use xl_toolstack::cpupool::{self as pools, PoolError};
use xl_toolstack::{Hypervisor, names};

use super::domains::connect;
use super::{err, options, out, sanitize, strerror};
use crate::cmdtable::{self, Cmd};
use crate::{Globals, Status, backend};

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
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let errno = cause.to_string();
    let errno = errno.split(" (os error").next().unwrap_or_default();
    format!("libxl: error: {prefix}{e}: {errno}\n")
}

fn xl_err(e: &xl_toolstack::Error) -> Status {
    err(&format!("xl: {}\n", backend::chain(e)));
    1
}

/// A cpupool argument resolved as xl does, or its "unknown cpupool".
fn find_pool(hv: &dyn Hypervisor, xs: &Xs, q: &str) -> Result<u32, Status> {
    match pools::qualifier_to_poolid(hv, xs, q) {
        Ok(Some(id)) => Ok(id),
        Ok(None) => {
            err(&format!("unknown cpupool '{q}'\n"));
            Err(1)
        }
        Err(e) => Err(xl_err(&e)),
    }
}

/// `xl cpupool-list [-c] [POOL]`.
pub fn list(cmd: &'static Cmd, args: &[String]) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let cpus = opts.flag('c');
    let (host, xs) = match connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let hv = host.hv.as_ref();
    let only = match opts.operands().first() {
        None => None,
        Some(name) => match pools::name_to_poolid(hv, &xs, name) {
            Ok(Some(id)) => Some(id),
            Ok(None) => {
                err(&format!("Pool '{name}' does not exist\n"));
                return 1;
            }
            Err(e) => return xl_err(&e),
        },
    };
    let listed = match pools::list(hv, &xs) {
        Ok(l) => l,
        Err(e) => {
            err("error getting cpupool info\n");
            return xl_err(&e);
        }
    };
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
    0
}

/// `xl cpupool-destroy POOL`.
pub fn destroy(cmd: &'static Cmd, args: &[String]) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let q = opts.operands()[0].clone();
    let (host, xs) = match connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let hv = host.hv.as_ref();
    let poolid = match find_pool(hv, &xs, &q) {
        Ok(id) => id,
        Err(code) => return code,
    };
    if let Err(e) = pools::destroy(hv, &xs, poolid) {
        libxl_err(&e);
        err(&format!("Can't destroy cpupool '{q}'\n"));
        return 1;
    }
    0
}

/// `xl cpupool-rename POOL NEWNAME`.
pub fn rename(cmd: &'static Cmd, args: &[String]) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let ops = opts.operands();
    let (host, xs) = match connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let hv = host.hv.as_ref();
    let poolid = match find_pool(hv, &xs, &ops[0]) {
        Ok(id) => id,
        Err(code) => return code,
    };
    if let Err(e) = pools::rename(hv, &xs, poolid, &ops[1]) {
        libxl_err(&e);
        err(&format!("Can't rename cpupool '{}'\n", ops[0]));
        return 1;
    }
    0
}

/// `xl cpupool-cpu-add POOL CPUS` (`add`) and `xl cpupool-cpu-remove`:
/// CPUs as `vcpu-pin` takes them (`3`, `1-3,^2`, `node:0`, `all`).
pub fn cpu_add_remove(cmd: &'static Cmd, args: &[String], add: bool) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let ops = opts.operands();
    let (host, xs) = match connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let hv = host.hv.as_ref();
    // xl parses the CPUs before it looks the pool up.
    let cpus = match cpu_list(hv, &ops[1]) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let poolid = match find_pool(hv, &xs, &ops[0]) {
        Ok(id) => id,
        Err(code) => return code,
    };
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
    0
}

/// xl's parse_cpurange against this host's CPUs and nodes.
fn cpu_list(hv: &dyn Hypervisor, s: &str) -> Result<Vec<u32>, Status> {
    let host = super::vcpu::host_of(hv).map_err(|e| xl_err(&e))?;
    xl_config::parse::cpu_range(s, &host).map_err(|msg| {
        err(&msg);
        1
    })
}

/// `xl cpupool-migrate DOMAIN POOL`.
pub fn migrate(cmd: &'static Cmd, args: &[String]) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let ops = opts.operands();
    let (host, xs) = match connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let hv = host.hv.as_ref();
    // A domain must resolve and have a name (libxl_domid_to_name).
    let domid = match names::qualifier_to_domid(hv, &xs, &ops[0]) {
        Ok(Some(d)) if matches!(names::domid_to_name(&xs, d), Ok(Some(_))) => d,
        _ => {
            err(&format!("unknown domain '{}'\n", ops[0]));
            return 1;
        }
    };
    let poolid = match find_pool(hv, &xs, &ops[1]) {
        Ok(id) => id,
        Err(code) => return code,
    };
    match pools::move_domain(hv, poolid, domid) {
        Ok(()) => 0,
        Err(e) => {
            err(&libxl_line(&e, &super::hostops::domain_prefix(domid)));
            1
        }
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
    fail: Status,
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
pub fn create(cmd: &'static Cmd, args: &[String], g: &Globals) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let dryrun = opts.flag('n') || g.dryrun;
    let mut file = opts.value('f').map(str::to_string);
    let mut extra = String::new();
    for a in opts.operands() {
        if a.contains('=') {
            extra.push('\n');
            extra.push_str(&a);
        } else if file.is_none() {
            file = Some(a);
        } else {
            out(&cmdtable::help_text(Some(cmd.name)));
            return 1;
        }
    }
    let (text, source) = match config_text(file.as_deref(), &extra) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let (host, xs) = match connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let hv = host.hv.as_ref();
    let spec = match pool_spec(hv, &xs, &text, &source, file.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    out(&format!(
        "Using config file \"{source}\"\ncpupool name:   {}\nscheduler:      {}\nnumber of cpus: {}\n",
        spec.name,
        spec.sched,
        spec.cpus.len()
    ));
    if dryrun {
        return 0;
    }
    let uuid = *xl_config::random_uuid().as_bytes();
    match pools::create(hv, &xs, &spec.name, &spec.sched, &spec.cpus, &uuid) {
        Ok(_) => 0,
        Err(e) => {
            libxl_err(&e);
            err("error on creating cpupool\n");
            spec.fail
        }
    }
}

/// The file's text (if any) with the command line's settings after it,
/// and the name xl reports it under.
fn config_text(file: Option<&str>, extra: &str) -> Result<(String, String), Status> {
    let mut text = String::new();
    if let Some(f) = file {
        match std::fs::read(f) {
            Ok(b) => text = String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                err(&format!(
                    "Failed to read config file: {f}: {}\n",
                    strerror(&e)
                ));
                return Err(1);
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
) -> Result<PoolSpec, Status> {
    let mut report = xl_config::Report::new();
    let parsed = xl_config::syntax::parse(text, source, &mut report);
    err(&report.take());
    if !parsed.ok {
        err("Failed to parse config file: Invalid argument\n");
        return Err(1);
    }
    let cfg = Config::new(source, parsed.settings);
    let name = match (cfg.string("name", false, &mut report), file) {
        (Ok(n), _) => n.to_string(),
        (Err(_), Some(f)) => f.rsplit('/').next().unwrap_or(f).to_string(),
        (Err(_), None) => {
            err(&report.take());
            err("Missing cpupool name!\n");
            return Err(1);
        }
    };
    err(&report.take());
    match pools::name_to_poolid(hv, xs, &name) {
        Ok(None) => {}
        Ok(Some(_)) => {
            err(&format!("Pool name \"{name}\" already exists\n"));
            return Err(1);
        }
        Err(e) => return Err(xl_err(&e)),
    }
    let (sched, defaulted) = pool_sched(hv, &cfg, &mut report)?;
    let fail = if defaulted { sched_number(&sched) } else { 1 };
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
) -> Result<(String, bool), Status> {
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
                err("Unknown scheduler\n");
                Err(1)
            }
        }
        None => hv.scheduler().map(|s| (s, true)).map_err(|e| {
            err("get_scheduler sysctl failed.\n");
            xl_err(&e)
        }),
    }
}

/// The pool's CPUs: free CPUs of the `nodes` listed, else the `cpus`
/// list or range, each of which must be free.
fn pool_cpus(
    hv: &dyn Hypervisor,
    cfg: &Config,
    report: &mut xl_config::Report,
) -> Result<Vec<u32>, Status> {
    let free = match hv.free_cpu_map() {
        Ok(m) => pools::cpus_of(&m),
        Err(e) => {
            err("libxl_get_freecpus failed\n");
            return Err(xl_err(&e));
        }
    };
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
            None => {
                err(&format!("cpu {} illegal or not free\n", c as i32));
                return Err(1);
            }
        }
    }
    Ok(out)
}

/// The free CPUs on the listed nodes.
fn node_cpus(
    hv: &dyn Hypervisor,
    nodes: &[xl_config::value::Value],
    free: &[u32],
) -> Result<Vec<u32>, Status> {
    let topo = hv.cpu_topology().map_err(|e| {
        err("libxl_get_topologyinfo failed\n");
        xl_err(&e)
    })?;
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
        err("no free cpu found\n");
        return Err(1);
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
pub fn numa_split(cmd: &'static Cmd, args: &[String]) -> Status {
    if let Err(code) = options(cmd, args) {
        return code;
    }
    let (host, xs) = match connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let hv = host.hv.as_ref();
    let all = match hv.cpupools() {
        Ok(p) if !p.is_empty() => p,
        Ok(_) => {
            err("error getting cpupool info\n");
            return 1;
        }
        Err(e) => {
            err("error getting cpupool info\n");
            return xl_err(&e);
        }
    };
    if all.len() > 1 {
        err("splitting not possible, already cpupools in use\n");
        return 1;
    }
    let (pool0, sched) = (all[0].poolid, all[0].sched.clone());
    let nodes: Vec<Option<u32>> = match hv.cpu_topology() {
        Ok(t) => t.iter().map(|c| c.node).collect(),
        Err(e) => {
            err("libxl_get_topologyinfo failed\n");
            return xl_err(&e);
        }
    };
    let first = nodes.first().copied().flatten();
    if let Err(code) = keep_first_node(hv, &xs, pool0, first, &nodes) {
        return code;
    }
    let mut done = vec![first];
    for node in nodes.iter().copied() {
        if done.contains(&node) {
            continue;
        }
        done.push(node);
        if let Err(code) = node_pool(hv, &xs, pool0, node, &nodes, &sched) {
            return code;
        }
    }
    0
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
    xs: &Xs,
    pool0: u32,
    node: Option<u32>,
    nodes: &[Option<u32>],
) -> Result<(), Status> {
    let add = free_on_node(hv, node, nodes);
    // libxl_cpupool_cpuadd_node counts, but does not report, CPUs it failed to add.
    pools::change_cpus(hv, pool0, &add, true);
    let name = format!("Pool-node{}", node_num(node));
    if let Err(e) = pools::rename(hv, xs, pool0, &name) {
        libxl_err(&e);
        err("error on renaming Pool 0\n");
        return Err(1);
    }
    let n = nodes.iter().filter(|n| **n == node).count() as u32;
    let dom0 = match hv.domain(0) {
        Ok(Some(d)) => d,
        _ => {
            err("error on getting info for Domain-0\n");
            return Err(1);
        }
    };
    if dom0.vcpu_online <= n {
        return Ok(());
    }
    if xl_toolstack::vcpus::set_online(xs, "pv", &dom0, n).is_err() {
        err("error on removing vcpus for Domain-0\n");
        return Err(1);
    }
    // The kernel takes its vCPUs down in its own time: up to 10 s.
    for _ in 0..10 {
        match hv.domain(0) {
            Ok(Some(d)) if d.vcpu_online <= n => return Ok(()),
            Ok(Some(_)) => std::thread::sleep(std::time::Duration::from_secs(1)),
            _ => {
                err("error on getting info for Domain-0\n");
                return Err(1);
            }
        }
    }
    err("failed to offline vcpus\n");
    Err(1)
}

/// One more node: its CPUs leave Pool-0 for a new `Pool-node<N>`.
fn node_pool(
    hv: &dyn Hypervisor,
    xs: &Xs,
    pool0: u32,
    node: Option<u32>,
    nodes: &[Option<u32>],
    sched: &str,
) -> Result<(), Status> {
    let in_pool0: Vec<u32> = match hv.cpupools() {
        Ok(p) => p
            .iter()
            .find(|p| p.poolid == pool0)
            .map(|p| pools::cpus_of(&p.cpumap))
            .unwrap_or_default(),
        Err(e) => {
            err("error on removing cpu from Pool 0\n");
            return Err(xl_err(&e));
        }
    };
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
            err("error on creating cpupool\n");
            return Err(1);
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
