//! Host-level commands: dmesg, info.

use super::{Ctx, Exit, OrExit, Outcome, err, fail, out_bytes};
use crate::backend;
use crate::cmdtable::Opts;

pub fn dmesg(cx: &Ctx, opts: Opts) -> Outcome {
    match cx.host()?.hv.dmesg(opts.flag('c')) {
        Ok(bytes) => {
            out_bytes(&bytes);
            Ok(0)
        }
        Err(e) => fail(format!(
            "xl: reading the hypervisor console failed: {}\n",
            backend::chain(&e)
        )),
    }
}

/// One uname(2) call answers the host, release and version lines (three
/// /proc files would take nine system calls).
fn uname_fields() -> [String; 3] {
    let u = rustix::system::uname();
    [u.nodename(), u.release(), u.version()].map(|f| f.to_string_lossy().into_owned())
}

/// `xl info [-n] [key]`: host, physinfo and hypervisor lines; with a key,
/// only the values of lines starting with it (xl's prefix filter).
pub fn info(cx: &Ctx, opts: Opts) -> Outcome {
    let numa = opts.flag('n');
    // xl ignores the key filter when -n is given.
    let filter = if numa {
        None
    } else {
        opts.operands().first().cloned()
    };
    let hv = cx.host()?.hv.as_ref();
    let mut lines: Vec<String> = Vec::new();
    let arch = if std::env::consts::ARCH == "x86_64" {
        "x86_64"
    } else {
        std::env::consts::ARCH
    };
    let [host_name, release, version] = uname_fields();
    lines.push(format!("host                   : {host_name}"));
    lines.push(format!("release                : {release}"));
    lines.push(format!("version                : {version}"));
    lines.push(format!("machine                : {arch}"));
    let failed = |what: &'static str| {
        move |e: xl_toolstack::Error| {
            err(&format!("xl: {what} failed: {}\n", backend::chain(&e)));
            Exit(1)
        }
    };
    let p = hv.physinfo().map_err(failed("reading physinfo"))?;
    let v = hv
        .version_info()
        .map_err(failed("reading the Xen version"))?;
    lines.push(format!("nr_cpus                : {}", p.nr_cpus));
    lines.push(format!("max_cpu_id             : {}", p.max_cpu_id));
    lines.push(format!("nr_nodes               : {}", p.nr_nodes));
    lines.push(format!("cores_per_socket       : {}", p.cores_per_socket));
    lines.push(format!("threads_per_core       : {}", p.threads_per_core));
    lines.push(format!(
        "cpu_mhz                : {}.{:03}",
        p.cpu_khz / 1000,
        p.cpu_khz % 1000
    ));
    let hw: Vec<String> = p.hw_cap.iter().map(|c| format!("{c:08x}")).collect();
    lines.push(format!("hw_caps                : {}", hw.join(":")));
    let caps: String = p.virt_caps.iter().map(|c| format!(" {c}")).collect();
    lines.push(format!("virt_caps              :{caps}"));
    let per_mib = u64::from((1u32 << 20) / v.pagesize.max(1));
    lines.push(format!(
        "total_memory           : {}",
        p.total_pages / per_mib
    ));
    lines.push(format!(
        "free_memory            : {}",
        p.free_pages.saturating_sub(p.outstanding_pages) / per_mib
    ));
    lines.push(format!(
        "sharing_freed_memory   : {}",
        p.sharing_freed_pages / per_mib
    ));
    lines.push(format!(
        "sharing_used_memory    : {}",
        p.sharing_used_frames / per_mib
    ));
    lines.push(format!(
        "outstanding_claims     : {}",
        p.outstanding_pages / per_mib
    ));
    if let Ok(n) = hv.free_cpus() {
        lines.push(format!("free_cpus              : {n}"));
    }
    let sched = hv.scheduler().map_err(failed("reading the scheduler"))?;
    // xl prints the topology with plain printf: the key filter does not
    // apply to it, and its failures go to stderr as they happen.
    let mut raw = String::new();
    if numa {
        topology_text(hv, &mut raw);
    }
    let raw_at = lines.len();
    lines.push(format!("xen_major              : {}", v.major));
    lines.push(format!("xen_minor              : {}", v.minor));
    lines.push(format!("xen_extra              : {}", v.extra));
    lines.push(format!(
        "xen_version            : {}.{}{}",
        v.major, v.minor, v.extra
    ));
    lines.push(format!("xen_caps               : {}", v.capabilities));
    lines.push(format!("xen_scheduler          : {sched}"));
    lines.push(format!("xen_pagesize           : {}", v.pagesize));
    lines.push(format!(
        "platform_params        : virt_start=0x{:x}",
        v.virt_start
    ));
    lines.push(format!("xen_changeset          : {}", v.changeset));
    lines.push(format!("xen_commandline        : {}", v.commandline));
    lines.push(format!("cc_compiler            : {}", v.compiler));
    lines.push(format!("cc_compile_by          : {}", v.compile_by));
    lines.push(format!("cc_compile_domain      : {}", v.compile_domain));
    lines.push(format!("cc_compile_date        : {}", v.compile_date));
    lines.push(format!("build_id               : {}", v.build_id));
    lines.push("xend_config_format     : 4".to_string());
    let mut text = String::new();
    for (i, l) in lines.into_iter().enumerate() {
        if i == raw_at {
            text.push_str(&raw);
        }
        match &filter {
            // xl prints what follows ": " on lines that start with the key.
            Some(k) => {
                if l.starts_with(k.as_str())
                    && let Some(i) = l.find(':')
                    && l[i + 1..].starts_with(' ')
                {
                    text.push_str(&l[i + 2..]);
                    text.push('\n');
                }
            }
            None => {
                text.push_str(&l);
                text.push('\n');
            }
        }
    }
    super::out(&text);
    Ok(0)
}

/// PCI devices as libxl lists them: /sys/bus/pci/devices in directory
/// order; None when a name does not parse (libxl then gives up).
fn pci_devices() -> Option<Vec<xl_toolstack::PciAddr>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/sys/bus/pci/devices").ok()? {
        let name = e.ok()?.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        out.push(parse_pci_name(&name)?);
    }
    Some(out)
}

/// `%x:%x:%x.%d` (domain:bus:device.function).
fn parse_pci_name(name: &str) -> Option<xl_toolstack::PciAddr> {
    use xl_config::value::strtoul;
    let b = name.as_bytes();
    let mut at = 0;
    let mut field = |sep: Option<u8>, base: u32| -> Option<u64> {
        let (v, used, _) = strtoul(&b[at..], base);
        if used == 0 {
            return None;
        }
        at += used;
        if let Some(c) = sep {
            if b.get(at) != Some(&c) {
                return None;
            }
            at += 1;
        }
        Some(v)
    };
    let dom = field(Some(b':'), 16)?;
    let bus = field(Some(b':'), 16)?;
    let dev = field(Some(b'.'), 16)?;
    let func = field(None, 10)?;
    Some(xl_toolstack::PciAddr {
        seg: dom as u16,
        bus: bus as u8,
        devfn: (((dev & 0x1f) << 3) | (func & 7)) as u8,
    })
}

/// `xl info -n`'s cpu_topology, device topology and numa_info blocks.
fn topology_text(hv: &dyn xl_toolstack::Hypervisor, text: &mut String) {
    let show = |v: Option<u32>| v.map_or(-1, |v| v as i32);
    match hv.cpu_topology() {
        Err(e) => {
            err(&format!(
                "xl: {}\nlibxl_get_cpu_topology failed.\n",
                backend::chain(&e)
            ));
            return;
        }
        Ok(cpus) => {
            text.push_str("cpu_topology           :\ncpu:    core    socket     node\n");
            for (i, c) in cpus.iter().enumerate() {
                if c.core.is_some() {
                    text.push_str(&format!(
                        "{i:3}:    {:4}     {:4}     {:4}\n",
                        show(c.core),
                        show(c.socket),
                        show(c.node)
                    ));
                }
            }
        }
    }
    let nodes = pci_devices().and_then(|devs| {
        hv.pci_nodes(&devs)
            .ok()
            .map(|n| devs.into_iter().zip(n).collect::<Vec<_>>())
    });
    let Some(devs) = nodes else {
        err("libxl_get_pci_topology failed.\n");
        return;
    };
    text.push_str("device topology        :\ndevice           node\n");
    let mut valid = 0;
    for (d, node) in devs {
        if let Some(n) = node {
            text.push_str(&format!(
                "{:04x}:{:02x}:{:02x}.{:01x}      {n}\n",
                d.seg,
                d.bus,
                (d.devfn >> 3) & 0x1f,
                d.devfn & 7
            ));
            valid += 1;
        }
    }
    if valid == 0 {
        text.push_str("No device topology data available\n");
    }
    match hv.numa_nodes() {
        Err(e) => err(&format!(
            "xl: {}\nlibxl_get_numainfo failed.\n",
            backend::chain(&e)
        )),
        Ok(nodes) => {
            text.push_str("numa_info              :\nnode:    memsize    memfree    distances\n");
            // libxl marks unknown values with an all-ones entry.
            let mib = |v: Option<u64>| v.unwrap_or(u64::MAX) >> 20;
            for (i, n) in nodes.iter().enumerate() {
                if n.size.is_none() {
                    continue;
                }
                let d: Vec<String> = n
                    .dists
                    .iter()
                    .map(|d| (d.unwrap_or(u32::MAX) as i32).to_string())
                    .collect();
                text.push_str(&format!(
                    "{i:4}:    {:6}     {:6}      {}\n",
                    mib(n.size),
                    mib(n.free),
                    d.join(",")
                ));
            }
        }
    }
}

/// `xl vcpu-list [dom...]`.
pub fn vcpu_list(cx: &Ctx, opts: Opts) -> Outcome {
    let (hv, xs) = cx.hv()?;
    let nr_cpus = hv.physinfo().or_exit()?.max_cpu_id as usize + 1;
    let mut text = format!(
        "{:<32} {:>5} {:>5} {:>5} {:>5} {:>9} {}\n",
        "Name", "ID", "VCPU", "CPU", "State", "Time(s)", "Affinity (Hard / Soft)"
    );
    let domids: Vec<u32> = if opts.operands().is_empty() {
        hv.domains().or_exit()?.iter().map(|d| d.domid).collect()
    } else {
        let mut v = Vec::new();
        for q in opts.operands() {
            // xl has printed the header by then.
            v.push(cx.domain(&q).inspect_err(|_| super::out(&text))?);
        }
        v
    };
    // Every name in one pipelined round trip; a failed read shows as
    // xl's "(null)", as a failed per-domain read would.
    let names =
        xl_toolstack::names::names_of_ids(xs, &domids).unwrap_or_else(|_| vec![None; domids.len()]);
    for (domid, name) in domids.into_iter().zip(names) {
        let name = name.unwrap_or_else(|| "(null)".into());
        let Ok(vcpus) = hv.vcpus(domid) else { continue };
        for v in vcpus {
            text.push_str(&format!(
                "{:<32} {:>5} {:>5}",
                super::sanitize(&name),
                domid,
                v.vcpuid
            ));
            if v.online {
                text.push_str(&format!(
                    "{:>5} {:>3}{}- ",
                    v.cpu,
                    if v.running { 'r' } else { '-' },
                    if v.blocked { 'b' } else { '-' }
                ));
            } else {
                text.push_str(&format!("{:>5} {:>3}{}p ", '-', '-', '-'));
            }
            // xl converts to float before dividing.
            text.push_str(&format!("{:>9.1}  ", f64::from(v.time_ns as f32) / 1e9));
            text.push_str(&xl_toolstack::bitmap_ranges(&v.hard, nr_cpus));
            text.push_str(" / ");
            text.push_str(&xl_toolstack::bitmap_ranges(&v.soft, nr_cpus));
            text.push('\n');
        }
    }
    super::out(&text);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::parse_pci_name;
    use xl_toolstack::PciAddr;

    #[test]
    fn pci_names_like_libxl() {
        assert_eq!(
            parse_pci_name("0000:00:1f.3"),
            Some(PciAddr {
                seg: 0,
                bus: 0,
                devfn: (0x1f << 3) | 3
            })
        );
        assert_eq!(
            parse_pci_name("0001:0a:02.0"),
            Some(PciAddr {
                seg: 1,
                bus: 10,
                devfn: 2 << 3
            })
        );
        assert_eq!(parse_pci_name("0000:00:1f"), None);
        assert_eq!(parse_pci_name("pci0000:00"), None);
    }
}
