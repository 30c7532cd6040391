//! Host-level commands: dmesg, info.

use super::{err, options, out_bytes};
use crate::cmdtable::Cmd;
use crate::{Status, backend};

pub fn dmesg(cmd: &'static Cmd, args: &[String]) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let hv = match backend::open(cmd.name) {
        Ok(h) => h,
        Err(code) => return code,
    };
    match hv.dmesg(opts.flag('c')) {
        Ok(bytes) => {
            out_bytes(&bytes);
            0
        }
        Err(e) => {
            err(&format!(
                "xl: reading the hypervisor console failed: {}\n",
                backend::chain(&e)
            ));
            1
        }
    }
}

fn uname_field(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches('\n').to_string())
        .unwrap_or_default()
}

/// `xl info [-n] [key]`: host, physinfo and hypervisor lines; with a key,
/// only the values of lines starting with it (xl's prefix filter).
pub fn info(cmd: &'static Cmd, args: &[String]) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if opts.flag('n') {
        err("xl: info -n (NUMA and CPU topology) is not implemented yet\n");
        return 1;
    }
    let filter = opts.operands().first().cloned();
    let hv = match backend::open(cmd.name) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let mut lines: Vec<String> = Vec::new();
    let arch = if std::env::consts::ARCH == "x86_64" {
        "x86_64"
    } else {
        std::env::consts::ARCH
    };
    lines.push(format!(
        "host                   : {}",
        uname_field("/proc/sys/kernel/hostname")
    ));
    lines.push(format!(
        "release                : {}",
        uname_field("/proc/sys/kernel/osrelease")
    ));
    lines.push(format!(
        "version                : {}",
        uname_field("/proc/sys/kernel/version")
    ));
    lines.push(format!("machine                : {arch}"));
    let fail = |what: &str, e: xl_toolstack::Error| {
        err(&format!("xl: {what} failed: {}\n", backend::chain(&e)));
        1
    };
    let p = match hv.physinfo() {
        Ok(p) => p,
        Err(e) => return fail("reading physinfo", e),
    };
    let v = match hv.version_info() {
        Ok(v) => v,
        Err(e) => return fail("reading the Xen version", e),
    };
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
    let sched = match hv.scheduler() {
        Ok(s) => s,
        Err(e) => return fail("reading the scheduler", e),
    };
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
    for l in lines {
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
    0
}

/// `xl vcpu-list [dom...]`.
pub fn vcpu_list(cmd: &'static Cmd, args: &[String]) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let (hv, xs) = match super::domains::connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let fail = |e: xl_toolstack::Error| {
        err(&format!("xl: {}\n", backend::chain(&e)));
        1
    };
    let nr_cpus = match hv.physinfo() {
        Ok(p) => p.max_cpu_id as usize + 1,
        Err(e) => return fail(e),
    };
    let mut text = format!(
        "{:<32} {:>5} {:>5} {:>5} {:>5} {:>9} {}\n",
        "Name", "ID", "VCPU", "CPU", "State", "Time(s)", "Affinity (Hard / Soft)"
    );
    let domids: Vec<u32> = if opts.operands().is_empty() {
        match hv.domains() {
            Ok(d) => d.iter().map(|d| d.domid).collect(),
            Err(e) => return fail(e),
        }
    } else {
        let mut v = Vec::new();
        for q in opts.operands() {
            match super::domains::find_domain(hv.as_ref(), &xs, &q) {
                Ok(d) => v.push(d),
                Err(code) => {
                    super::out(&text);
                    return code;
                }
            }
        }
        v
    };
    for domid in domids {
        let name = xl_toolstack::names::domid_to_name(&xs, domid)
            .ok()
            .flatten()
            .unwrap_or_else(|| "(null)".into());
        let Ok(vcpus) = hv.vcpus(domid) else { continue };
        for v in vcpus {
            text.push_str(&format!(
                "{:<32} {:>5} {:>5}",
                super::domains::sanitize(&name),
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
    0
}
