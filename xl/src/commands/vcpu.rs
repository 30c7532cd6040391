//! `xl vcpu-pin` and `xl vcpu-set`.

use xl_toolstack::Hypervisor;

use super::domains::connect_find;
use super::{err, options, out};
use crate::cmdtable::Cmd;
use crate::{GlobalOpts, Status, backend};

/// What xl's cpu-range parser needs to know of the host: its CPU count and
/// which CPUs each NUMA node has.
pub(super) fn host_of(hv: &dyn Hypervisor) -> Result<xl_config::Host, xl_toolstack::Error> {
    let p = hv.physinfo()?;
    let mut node_cpus: Vec<Vec<u32>> = vec![Vec::new(); p.max_node_id as usize + 1];
    for (cpu, t) in hv.cpu_topology()?.iter().enumerate() {
        if let Some(n) = t.node
            && let Some(list) = node_cpus.get_mut(n as usize)
        {
            list.push(cpu as u32);
        }
    }
    Ok(xl_config::Host {
        max_cpus: p.max_cpu_id + 1,
        node_cpus,
        firmware_dir: String::new(),
    })
}

/// A CPU list as a bitmap of `bytes` bytes.
fn to_map(cpus: &[u32], bytes: usize) -> Vec<u8> {
    let mut m = vec![0u8; bytes];
    for c in cpus {
        if let Some(b) = m.get_mut(*c as usize / 8) {
            *b |= 1 << (c % 8);
        }
    }
    m
}

/// `xl vcpu-pin [-f] [-i] DOMAIN VCPU|all HARD|- [SOFT|-]`.
pub fn vcpu_pin(
    cmd: &'static Cmd,
    args: &[String],
    g: &GlobalOpts,
    xlconf: &xl_config::Globals,
) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let (force, ignore_masks) = (opts.flag('f'), opts.flag('i'));
    let ops = opts.operands();
    // Not `host`: that is the CPU layout below, for xl's parser.
    let (conn, _xs, domid) = match connect_find(cmd.name, &ops[0]) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let hv = conn.hv.as_ref();
    let (vcpu, hard_s, soft_s) = (&ops[1], &ops[2], ops.get(3));
    // strtol: leading digits make a vCPU number, trailing junk is ignored.
    let (n, used, _) = xl_config::value::strtol(vcpu.as_bytes(), 10);
    let vcpuid: Option<u32> = if used == 0 || n < 0 {
        if vcpu != "all" {
            err(&format!("Error: Invalid argument {vcpu} as VCPU.\n"));
            return 1;
        }
        if force {
            err("Error: --force and 'all' as VCPU not allowed.\n");
            return 1;
        }
        None
    } else {
        Some(n as u32)
    };
    let host = match host_of(hv) {
        Ok(h) => h,
        Err(e) => {
            err(&format!("xl: {}\n", backend::chain(&e)));
            return 1;
        }
    };
    let bytes = (host.max_cpus as usize).div_ceil(8);
    let parse = |s: &str| match xl_config::parse::cpu_range(s, &host) {
        Ok(cpus) => Ok(to_map(&cpus, bytes)),
        Err(msg) => {
            err(&msg);
            Err(1)
        }
    };
    let mut hard = match hard_s.as_str() {
        "-" => None,
        s => match parse(s) {
            Ok(m) => Some(m),
            Err(code) => return code,
        },
    };
    let soft = match soft_s.map(String::as_str) {
        None | Some("-") => None,
        Some(s) => match parse(s) {
            Ok(m) => Some(m),
            Err(code) => return code,
        },
    };
    let nb_cpu = host.max_cpus as usize;
    if g.dryrun {
        let mut line = String::from("cpumap: ");
        match &hard {
            Some(h) => line.push_str(&xl_toolstack::bitmap_ranges(h, nb_cpu)),
            None => line.push('-'),
        }
        if let Some(s) = &soft {
            line.push(' ');
            line.push_str(&xl_toolstack::bitmap_ranges(s, nb_cpu));
        }
        line.push('\n');
        out(&line);
        return 0;
    }
    if !ignore_masks && let Some(h) = hard.as_mut() {
        let info = match hv.domain(domid) {
            Ok(Some(i)) => i,
            _ => {
                err("Could not get domain info\n");
                return 1;
            }
        };
        // xl.conf's vm.cpumask and the per-type mask (HVM and PVH share
        // one: libxl reports both as HVM here).
        let type_mask = if info.hvm {
            &xlconf.vm_hvm_cpumask
        } else {
            &xlconf.vm_pv_cpumask
        };
        for mask in [&xlconf.vm_cpumask, type_mask].into_iter().flatten() {
            match parse(mask) {
                Ok(m) => h.iter_mut().zip(m).for_each(|(a, b)| *a &= b),
                Err(code) => return code,
            }
        }
        if h.iter().all(|b| *b == 0) {
            err("vcpu hard affinity map is empty\n");
            return 1;
        }
    }
    let set = |v: u32| -> Result<(), xl_toolstack::Error> {
        if hard.is_none() && soft.is_none() && !force {
            return Err(xl_toolstack::Error::Invalid(
                "neither a hard nor a soft affinity to set".into(),
            ));
        }
        hv.set_vcpu_affinity(domid, v, hard.as_deref(), soft.as_deref(), force)
    };
    match vcpuid {
        Some(v) => {
            if let Err(e) = set(v) {
                err(&format!("xl: {}\n", backend::chain(&e)));
                err(&format!("Could not set affinity for vcpu `{v}'.\n"));
                return 1;
            }
        }
        None => {
            let vcpus = match hv.vcpus(domid) {
                Ok(v) => v,
                Err(e) => {
                    err(&format!(
                        "xl: {}\nlibxl_list_vcpu failed.\n",
                        backend::chain(&e)
                    ));
                    return 1;
                }
            };
            let mut failed = false;
            for v in 0..vcpus.len() as u32 {
                if let Err(e) = set(v) {
                    err(&format!("xl: vcpu {v}: {}\n", backend::chain(&e)));
                    failed = true;
                }
            }
            if failed {
                err("Could not set affinity.\n");
            }
        }
    }
    0
}

/// `xl vcpu-set [-i] DOMAIN COUNT`: PV and PVH guests are asked through
/// xenstore (cpu/N/availability), as libxl does.
pub fn vcpu_set(cmd: &'static Cmd, args: &[String]) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let check_host = !opts.flag('i');
    let ops = opts.operands();
    let (host, xs, domid) = match connect_find(cmd.name, &ops[0]) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let hv = host.hv.as_ref();
    let (n, used, overflow) = xl_config::value::strtoul(ops[1].as_bytes(), 10);
    if used == 0 || overflow || n > i32::MAX as u64 {
        err("Error: Invalid argument.\n");
        return 1;
    }
    let info = match hv.domain(domid) {
        Ok(i) => i,
        Err(e) => {
            err(&format!("xl: {}\n", backend::chain(&e)));
            return 1;
        }
    };
    if check_host {
        let Some(info) = &info else { return 1 };
        let host_cpus = match hv.physinfo() {
            Ok(p) => p.max_cpu_id + 1,
            Err(e) => {
                err(&format!("xl: {}\n", backend::chain(&e)));
                return 1;
            }
        };
        if n > u64::from(info.vcpu_online) && n > u64::from(host_cpus) {
            err(&format!(
                "You are overcommmitting! You have {host_cpus} physical CPUs and want {n} vCPUs! \
                 Aborting, use --ignore-host to continue\n"
            ));
            return 1;
        }
    }
    let result = match &info {
        None => Err(None),
        Some(info) => {
            let kind = xl_toolstack::qmp::domain_type(&xs, info);
            xl_toolstack::vcpus::set_online(&xs, &kind, info, n as u32).map_err(Some)
        }
    };
    match result {
        Ok(()) => 0,
        Err(None) => {
            err(&format!("Domain {domid} does not exist.\n"));
            1
        }
        Err(Some(e)) => {
            err(&format!("xl: {e}\n"));
            err(&format!(
                "libxl_set_vcpuonline failed domid={domid} max_vcpus={n}, rc: {}\n",
                e.rc()
            ));
            1
        }
    }
}
