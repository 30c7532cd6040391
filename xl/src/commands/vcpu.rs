//! `xl vcpu-pin` and `xl vcpu-set`.

use xl_toolstack::Hypervisor;

use super::{Ctx, Exit, OrExit, Outcome, err, fail, out, xl_error};
use crate::backend;
use crate::cmdtable::Opts;

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
pub fn vcpu_pin(cx: &Ctx, opts: Opts) -> Outcome {
    let (force, ignore_masks) = (opts.flag('f'), opts.flag('i'));
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let (hv, _) = cx.hv()?;
    let (vcpu, hard_s, soft_s) = (&ops[1], &ops[2], ops.get(3));
    // strtol: leading digits make a vCPU number, trailing junk is ignored.
    let (n, used, _) = xl_config::value::strtol(vcpu.as_bytes(), 10);
    let vcpuid: Option<u32> = if used == 0 || n < 0 {
        if vcpu != "all" {
            return fail(format!("Error: Invalid argument {vcpu} as VCPU.\n"));
        }
        if force {
            return fail("Error: --force and 'all' as VCPU not allowed.\n");
        }
        None
    } else {
        Some(n as u32)
    };
    // Not the host we talk to: its CPU layout, for xl's parser.
    let host = host_of(hv).map_err(|e| xl_error(&e))?;
    let bytes = (host.max_cpus as usize).div_ceil(8);
    let parse = |s: &str| match xl_config::parse::cpu_range(s, &host) {
        Ok(cpus) => Ok(to_map(&cpus, bytes)),
        Err(msg) => fail(msg),
    };
    let mut hard = match hard_s.as_str() {
        "-" => None,
        s => Some(parse(s)?),
    };
    let soft = match soft_s.map(String::as_str) {
        None | Some("-") => None,
        Some(s) => Some(parse(s)?),
    };
    let nb_cpu = host.max_cpus as usize;
    let xlconf = cx.xlconf;
    if cx.globals.dryrun {
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
        return Ok(0);
    }
    if !ignore_masks && let Some(h) = hard.as_mut() {
        let Ok(Some(info)) = hv.domain(domid) else {
            return fail("Could not get domain info\n");
        };
        // xl.conf's vm.cpumask and the per-type mask (HVM and PVH share
        // one: libxl reports both as HVM here).
        let type_mask = if info.hvm {
            &xlconf.vm_hvm_cpumask
        } else {
            &xlconf.vm_pv_cpumask
        };
        for mask in [&xlconf.vm_cpumask, type_mask].into_iter().flatten() {
            let m = parse(mask)?;
            h.iter_mut().zip(m).for_each(|(a, b)| *a &= b);
        }
        if h.iter().all(|b| *b == 0) {
            return fail("vcpu hard affinity map is empty\n");
        }
    }
    let set = |v: u32| -> Result<(), xl_toolstack::Error> {
        if hard.is_none() && soft.is_none() && !force {
            return Err(xl_toolstack::Error::NoAffinity);
        }
        hv.set_vcpu_affinity(domid, v, hard.as_deref(), soft.as_deref(), force)
    };
    match vcpuid {
        Some(v) => {
            if let Err(e) = set(v) {
                err(&format!("xl: {}\n", backend::chain(&e)));
                return fail(format!("Could not set affinity for vcpu `{v}'.\n"));
            }
        }
        None => {
            let vcpus = match hv.vcpus(domid) {
                Ok(v) => v,
                Err(e) => {
                    return fail(format!(
                        "xl: {}\nlibxl_list_vcpu failed.\n",
                        backend::chain(&e)
                    ));
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
    Ok(0)
}

/// `xl vcpu-set [-i] DOMAIN COUNT`: guests are asked through xenstore
/// (cpu/N/availability), HVM guests' device models given the vCPUs
/// first, as libxl does.
pub fn vcpu_set(cx: &Ctx, opts: Opts) -> Outcome {
    let check_host = !opts.flag('i');
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let (host, xs) = cx.connect()?;
    let hv = host.hv.as_ref();
    let (n, used, overflow) = xl_config::value::strtoul(ops[1].as_bytes(), 10);
    if used == 0 || overflow || n > i32::MAX as u64 {
        return fail("Error: Invalid argument.\n");
    }
    let info = hv.domain(domid).or_exit()?;
    if check_host {
        let Some(info) = &info else {
            return Err(Exit(1));
        };
        let host_cpus = hv.physinfo().or_exit()?.max_cpu_id + 1;
        if n > u64::from(info.vcpu_online) && n > u64::from(host_cpus) {
            return fail(format!(
                "You are overcommmitting! You have {host_cpus} physical CPUs and want {n} vCPUs! \
                 Aborting, use --ignore-host to continue\n"
            ));
        }
    }
    let result = match &info {
        None => Err(None),
        Some(info) => {
            let kind = xl_toolstack::lifecycle::guest_kind(xs, info);
            xl_toolstack::vcpus::set_online(host.dom0.as_ref(), xs, kind, info, n as u32)
                .map_err(Some)
        }
    };
    match result {
        Ok(()) => Ok(0),
        Err(None) => fail(format!("Domain {domid} does not exist.\n")),
        Err(Some(e)) => {
            err(&format!(
                "libxl: error: Domain {domid}:{}\n",
                backend::chain(&e)
            ));
            fail(format!(
                "libxl_set_vcpuonline failed domid={domid} max_vcpus={n}, rc: {}\n",
                e.rc()
            ))
        }
    }
}
