//! From xl.cfg settings to a typed `DomainConfig`, key by key as xl 4.17's
//! `parse_config_data` reads them: same defaults, same warnings, same fatal
//! messages and exit codes.

use crate::cpuid::CpuidPolicy;
use crate::disk::parse_disk;
use crate::domain::*;
use crate::nic::{NicError, parse_nic_token};
use crate::pci::parse_pci;
use crate::report::Report;
use crate::syntax;
use crate::value::{Config, Lookup, Value, strtoul};
use crate::vdev::Refused;
use crate::vnuma::{self, Totals, VnodeInfo};

/// xl's exit status for a fatal configuration error (its message is
/// already in the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("configuration rejected (exit {0})")]
pub struct Exit(pub i32);

/// `exit(-ERROR_FAIL)`.
const EXIT_FAIL: i32 = 3;

/// Settings from /etc/xen/xl.conf that shape a domain config.
#[derive(Clone, Debug)]
pub struct Globals {
    /// `run_hotplug_scripts`: libxl runs the vif/block scripts itself
    /// (default true), copied into `c_info.run_hotplug_scripts`.
    pub run_hotplug_scripts: bool,
    /// `claim_mode`: claim the domain's memory before building it (default true).
    pub claim_mode: bool,
    /// `blkdev_start`: the first virtual disk name handed out automatically.
    pub blkdev_start: Option<String>,
    /// `max_grant_frames`: default for domains whose config has none.
    pub max_grant_frames: Option<u32>,
    /// `max_maptrack_frames`: default for domains whose config has none.
    pub max_maptrack_frames: Option<u32>,
    /// `max_grant_version`: default for domains whose config has none.
    pub max_grant_version: Option<i64>,
    /// `vif.default.script` (or the older `vifscript`): the hotplug script
    /// of vifs that name none.
    pub default_vifscript: Option<String>,
    /// `vif.default.bridge` (or the older `defaultbridge`): the bridge of
    /// vifs that name none.
    pub default_bridge: Option<String>,
    /// `vif.default.gatewaydev`: the gateway device of vifs that name none.
    pub default_gatewaydev: Option<String>,
    /// `vif.default.backend`: the backend domain of vifs that name none.
    pub default_vifbackend: Option<String>,
    /// `backend="sim"` selects the simulator (our extension; xl ignores it).
    pub backend: Option<String>,
    /// vm.cpumask, vm.hvm.cpumask, vm.pv.cpumask: CPUs guests may use.
    pub vm_cpumask: Option<String>,
    /// `vm.hvm.cpumask`: CPUs HVM guests may use.
    pub vm_hvm_cpumask: Option<String>,
    /// `vm.pv.cpumask`: CPUs PV guests may use.
    pub vm_pv_cpumask: Option<String>,
}

impl Default for Globals {
    fn default() -> Self {
        Globals {
            run_hotplug_scripts: true,
            claim_mode: true,
            blkdev_start: None,
            max_grant_frames: None,
            max_maptrack_frames: None,
            max_grant_version: None,
            default_vifscript: None,
            default_bridge: None,
            default_gatewaydev: None,
            default_vifbackend: None,
            backend: None,
            vm_cpumask: None,
            vm_hvm_cpumask: None,
            vm_pv_cpumask: None,
        }
    }
}

/// The most vCPUs Xen gives any x86 guest: MAX_VIRT_CPUS, the PV limit
/// (HVM and PVH guests get HVM_MAX_VCPUS, 128).
pub const MAX_GUEST_VCPUS: usize = 8192;

/// What the parser needs to know about the host (xl asks libxl).
#[derive(Clone, Debug)]
pub struct Host {
    /// `libxl_get_max_cpus`: sizes CPU bitmaps (whole bytes).
    pub max_cpus: u32,
    /// CPUs of each NUMA node.
    pub node_cpus: Vec<Vec<u32>>,
    /// XENFIRMWAREDIR of the installed Xen (pvgrub images live there).
    pub firmware_dir: String,
}

impl Host {
    fn cpumap_bits(&self) -> u32 {
        self.max_cpus.max(1).div_ceil(8) * 8
    }
}

struct P<'a> {
    cfg: Config,
    r: &'a mut Report,
}

impl P<'_> {
    fn string(&mut self, k: &str) -> Option<String> {
        self.cfg.opt_string(k, self.r)
    }
    fn long(&mut self, k: &str) -> Option<i64> {
        self.cfg.opt_long(k, self.r)
    }
    fn defbool(&mut self, k: &str) -> Option<bool> {
        self.cfg.defbool(k, false, self.r)
    }
    fn defbool_into(&mut self, k: &str, slot: &mut Option<bool>) {
        if let Some(b) = self.defbool(k) {
            *slot = Some(b);
        }
    }
    fn string_into(&mut self, k: &str, slot: &mut Option<String>) {
        if let Some(s) = self.string(k) {
            *slot = Some(s);
        }
    }
    fn fatal(&mut self, code: i32, msg: impl AsRef<str>) -> Exit {
        self.r.line(msg);
        Exit(code)
    }
    /// The string items of a list key, `None` when absent or not a list.
    fn list_items(&mut self, k: &str, quiet: bool) -> Result<Vec<String>, Lookup> {
        let list = self.cfg.list(k, quiet, self.r)?;
        Ok(Config::string_items(list).map(str::to_string).collect())
    }
}

/// Parse xl.cfg text and build the domain configuration, as `xl create`
/// does before talking to libxl. Messages go to `report`.
pub fn parse_config_data(
    source: &str,
    data: &str,
    globals: &Globals,
    host: &Host,
    report: &mut Report,
) -> Result<DomainConfig, Exit> {
    let parsed = syntax::parse(data, source, report);
    if !parsed.ok {
        report.line("Failed to parse config: Invalid argument");
        return Err(Exit(1));
    }
    let mut p = P {
        cfg: Config::new(source, parsed.settings),
        r: report,
    };
    build(&mut p, globals, host)
}

fn type_prefix(buf: &str, full: &str) -> bool {
    full.starts_with(buf)
}

/// The recipe: each phase reads its keys in xl's order (the goldens guard
/// that order: warnings are printed as keys are read).
fn build(p: &mut P<'_>, g: &Globals, host: &Host) -> Result<DomainConfig, Exit> {
    let (mut c, exec_ssid_label) = security_labels(p, g);
    let dtype = guest_kind(p)?;
    identity(p, &mut c)?;
    let mut b = new_build_info(p, g, dtype, exec_ssid_label);
    sched_params(p, &mut b);
    memory_and_vcpus(p, &mut b, host)?;
    cpu_affinities(p, &mut b, host)?;
    grant_limits(p, g, &mut b)?;
    let actions = lifecycle_actions(p)?;
    pv_e820_host(p, &mut b);
    let pcidevs = pci_devices(p, &mut b, dtype)?;
    let dtdevs = p.list_items("dtdev", false).unwrap_or_default();
    passthrough(p, &mut c)?;
    memory_extras_and_tsc(p, &mut b)?;
    clock_video_and_events(p, &mut b);
    kernel_and_bootloader(p, &mut c, &mut b);
    timer_mode(p, &mut b, dtype)?;
    p.defbool_into("nestedhvm", &mut b.nested_hvm);
    firmware(p, &mut b, dtype, host)?;
    altp2m_and_vmtrace(p, &mut b)?;
    io_resources(p, &mut b)?;
    let disks = disks(p)?;
    let p9s = parse_p9(p)?;
    let vtpms = parse_vtpm(p)?;
    let vdispls = vdev_list(p, "vdispl", Vdispl::parse)?;
    let pvcallsifs = vdev_list(p, "pvcalls", Pvcallsif::parse)?;
    let vsnds = vsnds(p)?;
    let channels = parse_channels(p)?;
    let nics = nics(p, g)?;
    let (mut vfbs, mut vkbs) = vfbs_and_vkbs(p);
    let usbctrls = vdev_list(p, "usbctrl", Usbctrl::parse)?;
    let usbdevs = vdev_list(p, "usbdev", |spec, _, r| Usbdev::parse(spec, r))?;
    parse_cpuid(p, &mut b);
    device_model(p, &mut b, dtype)?;
    top_level_display(p, &mut b, dtype, &mut vfbs, &mut vkbs);
    p.defbool_into("dm_restrict", &mut b.dm_restrict);
    if let TypeInfo::Hvm(h) = &mut b.u {
        hvm_devices(p, h)?;
    }
    arm_options(p, &mut b)?;
    vkb_list(p, &mut vkbs)?;
    compat_and_vpmu(p, &mut c, &mut b);

    Ok(DomainConfig {
        c_info: c,
        b_info: b,
        disks,
        nics,
        pcidevs,
        dtdevs,
        vfbs,
        vkbs,
        vtpms,
        p9s,
        pvcallsifs,
        vdispls,
        vsnds,
        channels,
        usbctrls,
        usbdevs,
        on_poweroff: actions[0],
        on_reboot: actions[1],
        on_watchdog: actions[2],
        on_crash: actions[3],
        on_soft_reset: actions[4],
    })
}

/// `init_seclabel`/`seclabel`: the second is the exec label when both are
/// given.
fn security_labels(p: &mut P<'_>, g: &Globals) -> (CreateInfo, Option<String>) {
    let mut c = CreateInfo::default();
    if p.cfg.string("init_seclabel", false, p.r).is_ok() {
        c.ssid_label = p.string("init_seclabel");
    }
    let mut exec_ssid_label = None;
    if p.cfg.string("seclabel", false, p.r).is_ok() {
        if c.ssid_label.is_some() {
            exec_ssid_label = p.string("seclabel");
        } else {
            c.ssid_label = p.string("seclabel");
        }
    }
    c.run_hotplug_scripts = Some(g.run_hotplug_scripts);
    (c, exec_ssid_label)
}

/// `type` and the older `builder`, which must agree.
fn guest_kind(p: &mut P<'_>) -> Result<GuestKind, Exit> {
    let mut dtype = None;
    if let Some(t) = p.string("type") {
        dtype = Some(if type_prefix(&t, "hvm") {
            GuestKind::Hvm
        } else if type_prefix(&t, "pv") {
            GuestKind::Pv
        } else if type_prefix(&t, "pvh") {
            GuestKind::Pvh
        } else {
            return Err(p.fatal(1, format!("Invalid domain type {t}.")));
        });
    }
    if let Some(b) = p.string("builder") {
        let bt = if type_prefix(&b, "hvm") {
            GuestKind::Hvm
        } else if type_prefix(&b, "generic") {
            GuestKind::Pv
        } else {
            return Err(p.fatal(1, format!("Invalid domain type {b}.")));
        };
        if dtype.is_some_and(|t| t != bt) {
            return Err(p.fatal(
                1,
                "Contradicting \"builder\" and \"type\" options specified.",
            ));
        }
        dtype = Some(bt);
    }
    Ok(dtype.unwrap_or(GuestKind::Pv))
}

/// `hap`, `name` (required), `uuid` (made when absent), `oos`, `pool`.
fn identity(p: &mut P<'_>, c: &mut CreateInfo) -> Result<(), Exit> {
    p.defbool_into("hap", &mut c.hap);
    match p.string("name") {
        Some(n) => c.name = n,
        None => return Err(p.fatal(1, "Domain name must be specified.")),
    }
    match p.string("uuid") {
        Some(u) => match parse_uuid(&u) {
            Some(u) => c.uuid = u,
            None => return Err(p.fatal(1, format!("Failed to parse UUID: {u}"))),
        },
        None => c.uuid = *crate::random_uuid().as_bytes(),
    }
    p.defbool_into("oos", &mut c.oos);
    p.string_into("pool", &mut c.pool_name);
    Ok(())
}

/// The build info of `dtype`, with the PVH shim keys and xl.conf's
/// `blkdev_start`.
fn new_build_info(
    p: &mut P<'_>,
    g: &Globals,
    dtype: GuestKind,
    exec_ssid_label: Option<String>,
) -> BuildInfo {
    let mut b = BuildInfo::new(dtype);
    b.exec_ssid_label = exec_ssid_label;
    if let TypeInfo::Pvh(pvh) = &mut b.u {
        let mut v = std::mem::take(pvh);
        p.defbool_into("pvshim", &mut v.pvshim);
        p.string_into("pvshim_path", &mut v.pvshim_path);
        p.string_into("pvshim_cmdline", &mut v.pvshim_cmdline);
        p.string_into("pvshim_extra", &mut v.pvshim_extra);
        b.u = TypeInfo::Pvh(v);
    }
    b.blkdev_start = g.blkdev_start.clone();
    b
}

fn sched_params(p: &mut P<'_>, b: &mut BuildInfo) {
    let s = &mut b.sched_params;
    for (k, slot) in [
        ("cpu_weight", &mut s.weight),
        ("cap", &mut s.cap),
        ("period", &mut s.period),
        ("slice", &mut s.slice),
        ("latency", &mut s.latency),
        ("extratime", &mut s.extratime),
    ] {
        if let Some(l) = p.long(k) {
            // libxl keeps these as C ints.
            *slot = Some(i64::from(l as i32));
        }
    }
}

/// `memory`, `maxmem`, `vcpus`, `maxvcpus`, `vuart`, and their defaults.
fn memory_and_vcpus(p: &mut P<'_>, b: &mut BuildInfo, host: &Host) -> Result<(), Exit> {
    if let Some(l) = p.long("memory") {
        b.target_memkb = Some((l as u64).wrapping_mul(1024));
    }
    if let Some(l) = p.long("maxmem") {
        b.max_memkb = Some((l as u64).wrapping_mul(1024));
    }
    let mut vcpus = 0i64;
    if let Some(l) = p.long("vcpus") {
        vcpus = l;
        b.avail_vcpus = (0..l.clamp(0, 4096) as u32).collect();
    }
    if let Some(l) = p.long("maxvcpus") {
        b.max_vcpus = i64::from(l as i32);
    }
    if let Some(v) = p.string("vuart") {
        match v.as_str() {
            "sbsa_uart" => b.vuart = Some("sbsa_uart"),
            _ => return Err(p.fatal(1, format!("ERROR: invalid value \"{v}\" for \"vuart\""))),
        }
    }
    vnuma(p, b, host)?;
    if b.max_memkb.is_none() {
        b.max_memkb = b.target_memkb;
    }
    if b.max_vcpus == 0 {
        b.max_vcpus = i64::from(vcpus as i32);
    }
    if b.max_vcpus < vcpus {
        return Err(p.fatal(1, "xl: maxvcpus < vcpus"));
    }
    Ok(())
}

/// `vnuma`: nodes whose vCPUs and sizes set `maxvcpus` and `maxmem`, or
/// must agree with them.
fn vnuma(p: &mut P<'_>, b: &mut BuildInfo, host: &Host) -> Result<(), Exit> {
    let Ok(nodes) = p.cfg.list("vnuma", true, p.r).map(<[Value]>::to_vec) else {
        return Ok(());
    };
    if nodes.is_empty() {
        return Ok(());
    }
    let nr_nodes = u32::try_from(host.node_cpus.len()).unwrap_or(u32::MAX);
    // libxl sizes the bitmap by maxvcpus, or by the host's CPUs without it.
    let bits = match u32::try_from(b.max_vcpus) {
        Ok(n) if n > 0 => n,
        _ => host.max_cpus,
    };
    let bitmap_bits = u64::from(bits.max(1).div_ceil(8) * 8);
    let mut totals = Totals::default();
    let mut infos = Vec::with_capacity(nodes.len());
    for node in &nodes {
        let Value::List(options) = node else {
            not_a_list_warning(p, "vnuma");
            return Err(p.fatal(1, "xl: cannot get vnode config option list"));
        };
        let mut info = VnodeInfo::new(nodes.len());
        for item in options.iter().filter_map(Value::as_str) {
            vnuma::node_option(&mut info, &mut totals, item, nr_nodes, bitmap_bits, p.r)
                .map_err(|vnuma::Refused| Exit(1))?;
        }
        infos.push(info);
    }
    if totals.pinned {
        b.numa_placement = Some(false);
    }
    if b.max_vcpus != 0 {
        if u64::try_from(b.max_vcpus).ok() != Some(totals.vcpus) {
            return Err(p.fatal(1, "xl: vnuma vcpus and maxvcpus= mismatch"));
        }
    } else {
        if u64::from(host.max_cpus) < totals.vcpus {
            return Err(p.fatal(
                1,
                "xl: vnuma specifies more vcpus than pcpus, use maxvcpus= to override this check.",
            ));
        }
        b.max_vcpus = totals.vcpus as i64;
    }
    match b.max_memkb {
        Some(m) if m != totals.memkb => {
            return Err(p.fatal(1, "xl: maxmem and vnuma memory size mismatch"));
        }
        _ => b.max_memkb = Some(totals.memkb),
    }
    b.vnuma_nodes = infos;
    Ok(())
}

/// `cpus` and `cpus_soft`, each a list or a string.
fn cpu_affinities(p: &mut P<'_>, b: &mut BuildInfo, host: &Host) -> Result<(), Exit> {
    for (key, hard) in [("cpus", true), ("cpus_soft", false)] {
        let list = p.cfg.list(key, true, p.r).ok().map(|l| l.to_vec());
        let string = if list.is_none() {
            p.cfg.string(key, false, p.r).ok().map(str::to_string)
        } else {
            None
        };
        if list.is_some() || string.is_some() {
            vcpu_affinity(p, b, list.as_deref(), string.as_deref(), hard, host)?;
        }
    }
    Ok(())
}

/// Grant table limits, xl.conf's when the config has none; xl.conf's
/// claim mode.
fn grant_limits(p: &mut P<'_>, g: &Globals, b: &mut BuildInfo) -> Result<(), Exit> {
    for (k, slot) in [
        ("max_grant_frames", 0usize),
        ("max_maptrack_frames", 1),
        ("max_grant_version", 2),
    ] {
        match p.cfg.bounded_long(k, 0, i64::from(i32::MAX), true, p.r) {
            Err(Lookup::Absent) => match slot {
                0 => b.max_grant_frames = g.max_grant_frames,
                1 => b.max_maptrack_frames = g.max_maptrack_frames,
                _ => b.max_grant_version = g.max_grant_version,
            },
            Ok(l) => match slot {
                0 => b.max_grant_frames = Some(l as u32),
                1 => b.max_maptrack_frames = Some(l as u32),
                _ => b.max_grant_version = Some(l),
            },
            Err(Lookup::Invalid) => return Err(Exit(1)),
        }
    }
    b.claim_mode = Some(g.claim_mode);
    Ok(())
}

/// `on_poweroff`, `on_reboot`, `on_watchdog`, `on_crash`, `on_soft_reset`.
fn lifecycle_actions(p: &mut P<'_>) -> Result<[Action; 5], Exit> {
    let mut actions = [Action::Destroy; 5];
    for (i, (k, default)) in [
        ("on_poweroff", "destroy"),
        ("on_reboot", "restart"),
        ("on_watchdog", "destroy"),
        ("on_crash", "destroy"),
        ("on_soft_reset", "soft-reset"),
    ]
    .into_iter()
    .enumerate()
    {
        let v = p.string(k).unwrap_or_else(|| default.to_string());
        match Action::from_cfg(&v) {
            Some(a) => actions[i] = a,
            None => return Err(p.fatal(1, format!("Unknown {k} action \"{v}\" specified"))),
        }
    }
    Ok(actions)
}

fn pv_e820_host(p: &mut P<'_>, b: &mut BuildInfo) {
    if let TypeInfo::Pv(pv) = &mut b.u {
        let mut e = pv.e820_host;
        p.defbool_into("e820_host", &mut e);
        pv.e820_host = e;
    }
}

/// The `pci` list with the global `pci_*` defaults and the `rdm` policy;
/// a PV guest with devices gets the host's e820.
fn pci_devices(p: &mut P<'_>, b: &mut BuildInfo, dtype: GuestKind) -> Result<Vec<Pci>, Exit> {
    let pci_msitranslate = p.long("pci_msitranslate").unwrap_or(0) != 0;
    let pci_power_mgmt = p.long("pci_power_mgmt").unwrap_or(0) != 0;
    let pci_permissive = p.long("pci_permissive").unwrap_or(0) != 0;
    let pci_seize = p.long("pci_seize").unwrap_or(0) != 0;

    let mut rdm_policy = None;
    if let Some(rdm) = p.string("rdm")
        && let Some((strategy, policy)) = parse_rdm(&rdm, p.r)
    {
        if let TypeInfo::Hvm(h) = &mut b.u {
            h.rdm_strategy = strategy;
            h.rdm_policy = policy;
        }
        rdm_policy = policy;
    }

    let mut pcidevs = Vec::new();
    if let Ok(items) = p.list_items("pci", false) {
        for spec in items {
            let mut pci = Pci {
                msitranslate: pci_msitranslate,
                power_mgmt: pci_power_mgmt,
                permissive: pci_permissive,
                seize: pci_seize,
                // xl reads the policy from the HVM member of the build-info
                // union whatever the type; for PV/PVH that memory is zero,
                // which is "strict".
                rdm_policy: rdm_policy.or(if dtype == GuestKind::Hvm {
                    None
                } else {
                    Some("strict")
                }),
                ..Pci::default()
            };
            if !parse_pci(&mut pci, &spec, p.r) {
                return Err(p.fatal(
                    6,
                    format!("unable to parse PCI_SPEC_STRING `{spec}' for passthrough"),
                ));
            }
            pcidevs.push(pci);
        }
        if !pcidevs.is_empty()
            && let TypeInfo::Pv(pv) = &mut b.u
        {
            pv.e820_host = Some(true);
        }
    }
    Ok(pcidevs)
}

fn passthrough(p: &mut P<'_>, c: &mut CreateInfo) -> Result<(), Exit> {
    if let Some(v) = p.string("passthrough") {
        c.passthrough = Some(match v.to_ascii_lowercase().as_str() {
            "default" => "default",
            "disabled" => "disabled",
            "enabled" => "enabled",
            "sync_pt" => "sync_pt",
            "share_pt" => "share_pt",
            _ => return Err(p.fatal(1, format!("ERROR: unknown passthrough option '{v}'"))),
        });
    }
    Ok(())
}

/// `shadow_memory`, `nomigrate`, and `tsc_mode` (a name, or a deprecated
/// number).
fn memory_extras_and_tsc(p: &mut P<'_>, b: &mut BuildInfo) -> Result<(), Exit> {
    if let Some(l) = p.long("shadow_memory") {
        b.shadow_memkb = Some((l as u64).wrapping_mul(1024));
    }
    p.defbool_into("nomigrate", &mut b.disable_migrate);

    const TSC: [&str; 4] = ["default", "always_emulate", "native", "native_paravirt"];
    if let Ok(l) = p.cfg.long("tsc_mode", true, p.r) {
        let name = usize::try_from(l).ok().and_then(|i| TSC.get(i));
        p.r.line(format!(
            "WARNING: specifying \"tsc_mode\" as an integer is deprecated. Please use the named parameter variant. {}",
            name.map(|n| format!("e.g. tsc_mode=\"{n}\"")).unwrap_or_default()
        ));
        let Some(n) = name else {
            return Err(p.fatal(1, format!("ERROR: invalid value {l} for \"tsc_mode\"")));
        };
        b.tsc_mode = (*n != "default").then_some(*n);
    } else if let Some(v) = p.string("tsc_mode") {
        p.r.line(format!("got a tsc mode string: \"{v}\""));
        match TSC.iter().find(|t| t.eq_ignore_ascii_case(&v)) {
            Some(t) => b.tsc_mode = (*t != "default").then_some(*t),
            None => {
                return Err(p.fatal(1, format!("ERROR: invalid value \"{v}\" for \"tsc_mode\"")));
            }
        }
    }
    Ok(())
}

/// `rtc_timeoffset`, the ignored `vncviewer`, `localtime`, `videoram`,
/// `max_event_channels`.
fn clock_video_and_events(p: &mut P<'_>, b: &mut BuildInfo) {
    if let Some(l) = p.long("rtc_timeoffset") {
        b.rtc_timeoffset = l as u32;
    }
    if p.long("vncviewer").is_some() {
        p.r.line(
            "WARNING: ignoring \"vncviewer\" option. Use \"-V\" option of \"xl create\" to automatically spawn vncviewer.",
        );
    }
    p.defbool_into("localtime", &mut b.localtime);
    if let Some(l) = p.long("videoram") {
        b.video_memkb = Some((l as u64).wrapping_mul(1024));
    }
    if let Some(l) = p.long("max_event_channels") {
        b.event_channels = l as u32;
    }
}

/// The kernel, its ramdisk and command line, `driver_domain`, `acpi`, and
/// the bootloader with its arguments (a list, or a deprecated string).
fn kernel_and_bootloader(p: &mut P<'_>, c: &mut CreateInfo, b: &mut BuildInfo) {
    b.kernel = p.string("kernel");
    b.ramdisk = p.string("ramdisk");
    b.device_tree = p.string("device_tree");
    b.cmdline = parse_cmdline(p);

    p.defbool_into("driver_domain", &mut c.driver_domain);
    p.defbool_into("acpi", &mut b.acpi);
    b.bootloader = p.string("bootloader");
    match p.list_items("bootloader_args", true) {
        Ok(items) => b.bootloader_args = items,
        Err(Lookup::Absent) => {}
        Err(Lookup::Invalid) => {
            if let Some(s) = p.string("bootloader_args") {
                p.r.line(
                    "WARNING: Specifying \"bootloader_args\" as a string is deprecated. Please use a list of arguments.",
                );
                b.bootloader_args = s
                    .split([' ', '\t', '\n'])
                    .filter(|w| !w.is_empty())
                    .map(str::to_string)
                    .collect();
            }
        }
    }
}

/// `timer_mode`, a name or a deprecated number; refused for PV guests.
fn timer_mode(p: &mut P<'_>, b: &mut BuildInfo, dtype: GuestKind) -> Result<(), Exit> {
    const TIMER: [&str; 4] = [
        "delay_for_missed_ticks",
        "no_delay_for_missed_ticks",
        "no_missed_ticks_pending",
        "one_missed_tick_pending",
    ];
    let not_for_pv = |p: &mut P<'_>| {
        p.fatal(
            EXIT_FAIL,
            "ERROR: \"timer_mode\" option is not supported for PV guests.",
        )
    };
    if let Ok(l) = p.cfg.long("timer_mode", true, p.r) {
        if dtype == GuestKind::Pv {
            return Err(not_for_pv(p));
        }
        let name = match l {
            -1 => Some("unknown"),
            _ => usize::try_from(l).ok().and_then(|i| TIMER.get(i).copied()),
        };
        p.r.line(format!(
            "WARNING: specifying \"timer_mode\" as an integer is deprecated. Please use the named parameter variant. {}",
            name.map(|n| format!("e.g. timer_mode=\"{n}\"")).unwrap_or_default()
        ));
        match usize::try_from(l).ok().and_then(|i| TIMER.get(i)) {
            Some(n) => b.timer_mode = Some(n),
            None => return Err(p.fatal(1, format!("ERROR: invalid value {l} for \"timer_mode\""))),
        }
    } else if let Some(v) = p.string("timer_mode") {
        if dtype == GuestKind::Pv {
            return Err(not_for_pv(p));
        }
        match TIMER.iter().find(|t| t.eq_ignore_ascii_case(&v)) {
            Some(t) => b.timer_mode = Some(t),
            None => {
                return Err(p.fatal(
                    1,
                    format!("ERROR: invalid value \"{v}\" for \"timer_mode\""),
                ));
            }
        }
    }
    Ok(())
}

/// HVM firmware and platform keys; for PV/PVH, `firmware` names a PvGrub
/// image, and a kernel or bootloader is required.
fn firmware(p: &mut P<'_>, b: &mut BuildInfo, dtype: GuestKind, host: &Host) -> Result<(), Exit> {
    match dtype {
        GuestKind::Hvm => hvm_firmware_and_platform(p, b)?,
        GuestKind::Pv | GuestKind::Pvh => {
            if let Some(fw) = p.string("firmware") {
                if b.kernel.is_some() {
                    return Err(p.fatal(1, "ERROR: both kernel and firmware specified"));
                }
                if !type_prefix(&fw, "pvgrub32") && !type_prefix(&fw, "pvgrub64") {
                    return Err(
                        p.fatal(1, "ERROR: only pvgrub{32|64} supported as firmware options")
                    );
                }
                b.kernel = Some(format!("{}/{fw}.bin", host.firmware_dir));
            }
            if b.bootloader.is_none() && b.kernel.is_none() {
                return Err(p.fatal(1, "Neither kernel nor bootloader specified"));
            }
        }
    }
    Ok(())
}

fn altp2m_and_vmtrace(p: &mut P<'_>, b: &mut BuildInfo) -> Result<(), Exit> {
    const ALTP2M: [&str; 4] = ["disabled", "mixed", "external", "limited"];
    if let Ok(l) = p.cfg.long("altp2m", true, p.r) {
        match usize::try_from(l).ok().and_then(|i| ALTP2M.get(i)) {
            Some(m) => b.altp2m = (*m != "disabled").then_some(*m),
            None => return Err(p.fatal(1, format!("ERROR: invalid value {l} for \"altp2m\""))),
        }
    } else if let Some(v) = p.string("altp2m") {
        match ALTP2M.iter().find(|m| m.eq_ignore_ascii_case(&v)) {
            Some(m) => b.altp2m = (*m != "disabled").then_some(*m),
            None => return Err(p.fatal(1, format!("ERROR: invalid value \"{v}\" for \"altp2m\""))),
        }
    }
    if let Ok(l) = p.cfg.long("vmtrace_buf_kb", true, p.r)
        && l != 0
    {
        b.vmtrace_buf_kb = i64::from(l as i32);
    }
    Ok(())
}

fn disks(p: &mut P<'_>) -> Result<Vec<Disk>, Exit> {
    let source = p.cfg.source.clone();
    let mut disks = Vec::new();
    if let Ok(items) = p.list_items("disk", false) {
        for spec in items {
            match parse_disk(&source, &[&spec], p.r) {
                Some(d) => disks.push(d),
                None => return Err(Exit(1)),
            }
        }
    }
    Ok(disks)
}

/// The `vif` list, each with xl.conf's defaults; `vif2` is only warned
/// about.
fn nics(p: &mut P<'_>, g: &Globals) -> Result<Vec<Nic>, Exit> {
    let source = p.cfg.source.clone();
    let mut nics = Vec::new();
    if let Ok(items) = p.list_items("vif", false) {
        for (i, spec) in items.iter().enumerate() {
            let mut nic = Nic {
                devid: Some(i as i64),
                script: g.default_vifscript.clone(),
                bridge: g.default_bridge.clone(),
                gatewaydev: g.default_gatewaydev.clone(),
                backend_domname: g.default_vifbackend.clone(),
                ..Nic::default()
            };
            // strtok: empty tokens vanish; only leading spaces are trimmed.
            for tok in spec.split(',').filter(|t| !t.is_empty()) {
                let tok = tok.trim_start_matches(' ');
                match parse_nic_token(&mut nic, &source, tok, p.r) {
                    Ok(()) | Err(NicError::Unrecognized) | Err(NicError::Invalid) => {}
                    Err(NicError::Rate) => return Err(Exit(1)),
                }
            }
            nics.push(nic);
        }
    }
    if p.cfg.list("vif2", false, p.r).is_ok() {
        p.r.line("WARNING: vif2: netchannel2 is deprecated and not supported by xl");
    }
    Ok(nics)
}

/// The `vfb` list; each framebuffer brings a keyboard.
fn vfbs_and_vkbs(p: &mut P<'_>) -> (Vec<Vfb>, Vec<Vkb>) {
    let mut vfbs = Vec::new();
    let mut vkbs = Vec::new();
    if let Ok(items) = p.list_items("vfb", false) {
        for (i, spec) in items.iter().enumerate() {
            let mut vfb = Vfb {
                devid: i as i64,
                ..Vfb::default()
            };
            vkbs.push(Vkb::with_devid(i as i64));
            vfb_tokens(&mut vfb, spec);
            vfbs.push(vfb);
        }
    }
    (vfbs, vkbs)
}

/// `key=value` tokens of one vfb spec; the first token without `=` ends it.
fn vfb_tokens(vfb: &mut Vfb, spec: &str) {
    for tok in spec.split(',').filter(|t| !t.is_empty()) {
        let tok = tok.trim_start_matches(' ');
        let Some((k, v)) = tok.split_once('=') else {
            break;
        };
        let atoi = || crate::value::strtol(v.as_bytes(), 10).0 as i32;
        match k {
            "vnc" => vfb.vnc.enable = Some(atoi() != 0),
            "vnclisten" => vfb.vnc.listen = Some(v.to_string()),
            "vncpasswd" => vfb.vnc.passwd = Some(v.to_string()),
            "vncdisplay" => vfb.vnc.display = i64::from(atoi()),
            "vncunused" => vfb.vnc.findunused = Some(atoi() != 0),
            "keymap" => vfb.keymap = Some(v.to_string()),
            "sdl" => vfb.sdl.enable = Some(atoi() != 0),
            "opengl" => vfb.sdl.opengl = Some(atoi() != 0),
            "display" => vfb.sdl.display = Some(v.to_string()),
            "xauthority" => vfb.sdl.xauthority = Some(v.to_string()),
            _ => {}
        }
    }
}

/// The device model: the ignored `device_model`, the override and its
/// version, stub domain keys and the extra arguments.
fn device_model(p: &mut P<'_>, b: &mut BuildInfo, dtype: GuestKind) -> Result<(), Exit> {
    if let Some(dm) = p.string("device_model") {
        p.r.line("WARNING: ignoring device_model directive.");
        p.r.line("WARNING: Use \"device_model_override\" instead if you really want a non-default device_model");
        if dm.contains("stubdom-dm") {
            if dtype == GuestKind::Hvm {
                p.r.line("WARNING: Or use \"device_model_stubdomain_override\" if you  want to enable stubdomains");
            } else {
                p.r.line(
                    "WARNING: ignoring \"device_model_stubdomain_override\" directive for pv guest",
                );
            }
        }
    }
    b.device_model = p.string("device_model_override");
    device_model_version(p, b)?;
    stubdomain(p, b);
    device_model_args(p, b)
}

fn device_model_version(p: &mut P<'_>, b: &mut BuildInfo) -> Result<(), Exit> {
    if let Some(v) = p.string("device_model_version") {
        // libxl's own names (what `xl list -l` prints, and what some guides
        // tell users to write) are rejected by xl; we take them with a warning.
        let (version, libxl_name) = match v.as_str() {
            "qemu-xen-traditional" => ("qemu_xen_traditional", false),
            "qemu-xen" => ("qemu_xen", false),
            "qemu_xen_traditional" => ("qemu_xen_traditional", true),
            "qemu_xen" => ("qemu_xen", true),
            _ => return Err(p.fatal(1, format!("Unknown device_model_version \"{v}\" specified"))),
        };
        if libxl_name {
            let xl_name = v.replace('_', "-");
            p.r.line(format!(
                "WARNING: device_model_version \"{v}\" is libxl's name; xl.cfg(5) spells it \"{xl_name}\" (accepted)"
            ));
        }
        b.device_model_version = Some(version);
    } else if b.device_model.is_some() {
        p.r.line("WARNING: device model override given without specific DM version");
    }
    Ok(())
}

fn stubdomain(p: &mut P<'_>, b: &mut BuildInfo) {
    p.defbool_into(
        "device_model_stubdomain_override",
        &mut b.device_model_stubdomain,
    );
    if p.cfg
        .string("device_model_stubdomain_seclabel", false, p.r)
        .is_ok()
    {
        b.device_model_ssid_label = p.string("device_model_stubdomain_seclabel");
    }
    p.string_into("device_model_user", &mut b.device_model_user);
    p.string_into("stubdomain_kernel", &mut b.stubdomain_kernel);
    p.string_into("stubdomain_cmdline", &mut b.stubdomain_cmdline);
    p.string_into("stubdomain_ramdisk", &mut b.stubdomain_ramdisk);
    if let Some(l) = p.long("stubdomain_memory") {
        b.stubdomain_memkb = Some((l as u64).wrapping_mul(1024));
    }
}

/// `device_model_args`, `_pv` and `_hvm`.
fn device_model_args(p: &mut P<'_>, b: &mut BuildInfo) -> Result<(), Exit> {
    for (suffix, slot) in [("", 0), ("_pv", 1), ("_hvm", 2)] {
        let key = format!("device_model_args{suffix}");
        match p.cfg.list(&key, false, p.r) {
            Ok(list) => {
                // xl keeps every position, NULL for non-strings; a NULL ends
                // the string list when it is printed.
                let items: Vec<String> = Config::string_items(list).map(str::to_string).collect();
                match slot {
                    0 => b.extra = items,
                    1 => b.extra_pv = items,
                    _ => b.extra_hvm = items,
                }
            }
            Err(Lookup::Absent) => {}
            Err(Lookup::Invalid) => {
                return Err(p.fatal(
                    EXIT_FAIL,
                    format!("xl: Unable to parse device_model_args{suffix}."),
                ));
            }
        }
    }
    Ok(())
}

/// The top-level `vnc`/`sdl` keys: a PV guest without a vfb gets one from
/// them; an HVM guest keeps them for its emulated display.
fn top_level_display(
    p: &mut P<'_>,
    b: &mut BuildInfo,
    dtype: GuestKind,
    vfbs: &mut Vec<Vfb>,
    vkbs: &mut Vec<Vkb>,
) {
    if dtype == GuestKind::Pv && vfbs.is_empty() {
        if p.long("vnc").unwrap_or(0) != 0 {
            let mut vfb = Vfb {
                devid: 0,
                ..Vfb::default()
            };
            top_level_vnc(p, &mut vfb.vnc);
            top_level_sdl(p, &mut vfb.sdl);
            vfb.keymap = p.string("keymap");
            vfbs.push(vfb);
            vkbs.push(Vkb::with_devid(0));
        }
    } else if let TypeInfo::Hvm(h) = &mut b.u {
        top_level_vnc(p, &mut h.vnc);
        top_level_sdl(p, &mut h.sdl);
    } else {
        // xl writes these into the HVM union member even for PV/PVH domains
        // that already have a vfb; that storage is not printed.
        let (mut vnc, mut sdl) = (Vnc::default(), Sdl::default());
        top_level_vnc(p, &mut vnc);
        top_level_sdl(p, &mut sdl);
    }
}

/// `gic_version` and `tee`, read on every architecture.
fn arm_options(p: &mut P<'_>, b: &mut BuildInfo) -> Result<(), Exit> {
    if let Ok(v) = p.cfg.string("gic_version", true, p.r) {
        let v = v.to_string();
        b.gic_version = Some(match v.to_ascii_lowercase().as_str() {
            "default" => "default",
            "v2" => "v2",
            "v3" => "v3",
            _ => return Err(p.fatal(EXIT_FAIL, format!("Unknown gic_version \"{v}\" specified"))),
        })
        .filter(|v| *v != "default");
    }
    if let Ok(v) = p.cfg.string("tee", true, p.r) {
        let v = v.to_string();
        b.tee = Some(match v.to_ascii_lowercase().as_str() {
            "none" => "none",
            "optee" => "optee",
            _ => return Err(p.fatal(EXIT_FAIL, format!("Unknown tee \"{v}\" specified"))),
        })
        .filter(|v| *v != "none");
    }
    Ok(())
}

fn compat_and_vpmu(p: &mut P<'_>, c: &mut CreateInfo, b: &mut BuildInfo) {
    p.defbool_into(
        "xend_suspend_evtchn_compat",
        &mut c.xend_suspend_evtchn_compat,
    );
    if let Some(v) = p.defbool("msr_relaxed") {
        b.msr_relaxed = Some(v);
        p.r.line("WARNING: msr_relaxed will be removed in future versions.");
        p.r.line(
            "If it fixes an issue you are having please report to xen-devel@lists.xenproject.org.",
        );
    }
    p.defbool_into("vpmu", &mut b.vpmu);
}

/// A list of device specs, each parsed with its index (xl numbers them as
/// it goes); the first refused spec ends the parse with exit status 1.
fn vdev_list<T>(
    p: &mut P<'_>,
    key: &str,
    parse: impl Fn(&str, i64, &mut Report) -> Result<T, Refused>,
) -> Result<Vec<T>, Exit> {
    let Ok(items) = p.list_items(key, false) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, spec) in items.iter().enumerate() {
        out.push(parse(spec, i as i64, p.r).map_err(|Refused| Exit(1))?);
    }
    Ok(out)
}

/// `vsnd`: a list of cards, each a list of `card`/`pcm`/`stream` items.
fn vsnds(p: &mut P<'_>) -> Result<Vec<Vsnd>, Exit> {
    let Ok(cards) = p.cfg.list("vsnd", false, p.r).map(<[Value]>::to_vec) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(cards.len());
    for (i, card) in cards.iter().enumerate() {
        let Value::List(items) = card else {
            not_a_list_warning(p, "vsnd");
            return Err(p.fatal(1, "Failed to get vsnd card list: Invalid argument"));
        };
        let items: Vec<String> = Config::string_items(items).map(str::to_string).collect();
        out.push(Vsnd::parse(&items, i as i64, p.r).map_err(|Refused| Exit(1))?);
    }
    Ok(out)
}

/// libxlu's warning for an item of a list of lists that is not a list.
/// It names the item's line; ours is the setting's (the same line unless
/// the list spans several).
fn not_a_list_warning(p: &mut P<'_>, key: &str) {
    let line = p.cfg.find(key).map_or(0, |s| s.line);
    p.r.line(format!(
        "{}:{line}:0: warning: value is not a list",
        p.cfg.source
    ));
}

/// `vkb`: keyboards beyond those the vfbs bring, numbered after them.
fn vkb_list(p: &mut P<'_>, vkbs: &mut Vec<Vkb>) -> Result<(), Exit> {
    let Ok(items) = p.list_items("vkb", false) else {
        return Ok(());
    };
    for spec in items {
        let devid = vkbs.len() as i64;
        vkbs.push(Vkb::parse(&spec, devid, p.r).map_err(|Refused| Exit(1))?);
    }
    Ok(())
}

fn parse_cmdline(p: &mut P<'_>) -> Option<String> {
    let buf = p.cfg.string("cmdline", false, p.r).ok().map(str::to_string);
    let root = p.cfg.string("root", false, p.r).ok().map(str::to_string);
    let extra = p.cfg.string("extra", false, p.r).ok().map(str::to_string);
    match (buf, root, extra) {
        (Some(c), root, extra) => {
            if root.is_some() || extra.is_some() {
                p.r.line("Warning: ignoring root= and extra= in favour of cmdline=");
            }
            Some(c)
        }
        (None, Some(r), Some(e)) => Some(format!("root={r} {e}")),
        (None, Some(r), None) => Some(format!("root={r}")),
        (None, None, e) => e,
    }
}

/// xl's `parse_cpurange` for a command line (`vcpu-pin`, xl.conf masks):
/// the CPUs set, or the message xl prints.
pub fn cpu_range(s: &str, host: &Host) -> Result<Vec<u32>, String> {
    let mut r = Report::new();
    let mut p = P {
        cfg: Config::new("command line", Vec::new()),
        r: &mut r,
    };
    match parse_cpurange(&mut p, s, host) {
        Ok(v) => Ok(v),
        Err(_) => Err(r.as_str().to_string()),
    }
}

fn parse_cpurange(p: &mut P<'_>, s: &str, host: &Host) -> Result<Vec<u32>, Exit> {
    let size = host.cpumap_bits();
    let mut map = vec![false; size as usize];
    for tok in s.split(',').filter(|t| !t.is_empty()) {
        let mut t = tok;
        let not = if let Some(rest) = t.strip_prefix('^') {
            t = rest;
            true
        } else {
            false
        };
        let mut nodes = false;
        for pre in ["node:", "nodes:"] {
            if let Some(rest) = t.strip_prefix(pre) {
                t = rest;
                nodes = true;
                break;
            }
        }
        if t == "all" {
            if not {
                return Err(p.fatal(1, "Can't combine \"^\" and \"all\"."));
            }
            map.iter_mut().for_each(|b| *b = true);
            continue;
        }
        let Some((a, bnd)) = parse_range(t) else {
            return Err(p.fatal(1, format!("Invalid pcpu range: {t}.")));
        };
        let mut set = |i: u64| {
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| map.get_mut(i)) {
                *slot = !not;
            }
        };
        // xl walks the range one id at a time (up to 2^64 of them); what
        // it ends with is computed here instead.
        if nodes {
            if host.node_cpus.is_empty() {
                return Err(p.fatal(1, "libxl_node_to_cpumap failed."));
            }
            // libxl takes the node as a C int and gives no CPUs for a node
            // it does not have.
            for (node, cpus) in host.node_cpus.iter().enumerate() {
                if range_has_int(a, bnd, node as u64) {
                    cpus.iter().for_each(|c| set(u64::from(*c)));
                }
            }
        } else {
            // libxl ignores CPUs past the map.
            for id in a..=bnd.min(u64::from(size) - 1) {
                set(id);
            }
        }
    }
    Ok(map
        .iter()
        .enumerate()
        .filter(|(_, b)| **b)
        .map(|(i, _)| i as u32)
        .collect())
}

/// Whether some id in `a..=b` becomes `n` (0 <= n < 2^31) when passed
/// as a C int, which keeps the low 32 bits.
fn range_has_int(a: u64, b: u64, n: u64) -> bool {
    const MOD: u64 = 1 << 32;
    let first = a.checked_add(n.wrapping_sub(a) % MOD);
    first.is_some_and(|id| id <= b)
}

fn parse_range(s: &str) -> Option<(u64, u64)> {
    let (a, used, _) = strtoul(s.as_bytes(), 10);
    if used == 0 || a == u64::MAX {
        return None;
    }
    let mut end = used;
    let mut b = a;
    if s.as_bytes().get(used) == Some(&b'-') {
        let rest = &s.as_bytes()[used + 1..];
        let (v, n, _) = strtoul(rest, 10);
        if n == 0 || v == u64::MAX || v < a {
            return None;
        }
        b = v;
        end = used + 1 + n;
    }
    (end == s.len()).then_some((a, b))
}

fn vcpu_affinity(
    p: &mut P<'_>,
    b: &mut BuildInfo,
    list: Option<&[Value]>,
    string: Option<&str>,
    hard: bool,
    host: &Host,
) -> Result<(), Exit> {
    let max = usize::try_from(b.max_vcpus).unwrap_or(0);
    if max > MAX_GUEST_VCPUS {
        // xl would allocate a CPU map per vCPU (gigabytes here) for a
        // domain Xen cannot make.
        return Err(p.fatal(
            1,
            format!("xl: {max} vCPUs are more than Xen allows a guest ({MAX_GUEST_VCPUS})"),
        ));
    }
    let mut maps = Vec::new();
    if let Some(s) = string {
        if max > 0 {
            let m = parse_cpurange(p, s, host)?;
            maps = vec![m; max];
        }
        if !hard {
            b.numa_placement = Some(false);
        }
    } else if let Some(list) = list {
        let n = list.len().min(max);
        for item in Config::string_items(list).take(n) {
            maps.push(parse_cpurange(p, item, host)?);
        }
        maps.resize(n, Vec::new());
        b.numa_placement = Some(false);
    }
    if hard {
        b.vcpu_hard_affinity = maps;
    } else {
        b.vcpu_soft_affinity = maps;
    }
    Ok(())
}

fn parse_rdm(s: &str, r: &mut Report) -> Option<(Option<&'static str>, Option<&'static str>)> {
    let mut strategy = None;
    let mut policy = None;
    for part in s.split(',') {
        let (k, v) = part.split_once('=')?;
        match k {
            "strategy" if v == "host" => strategy = Some("host"),
            "strategy" => {
                r.raw(format!("Unknown RDM strategy option: {v}"));
                return None;
            }
            "policy" => match v.to_ascii_lowercase().as_str() {
                "strict" => policy = Some("strict"),
                "relaxed" => policy = Some("relaxed"),
                _ => {
                    r.raw(format!("Unknown RDM policy: {v}"));
                    return None;
                }
            },
            _ => {
                r.raw(format!("Unknown RDM state option: {k}"));
                return None;
            }
        }
    }
    Some((strategy, policy))
}

fn top_level_vnc(p: &mut P<'_>, v: &mut Vnc) {
    p.defbool_into("vnc", &mut v.enable);
    p.string_into("vnclisten", &mut v.listen);
    p.string_into("vncpasswd", &mut v.passwd);
    if let Some(l) = p.long("vncdisplay") {
        v.display = i64::from(l as i32);
    }
    p.defbool_into("vncunused", &mut v.findunused);
}

fn top_level_sdl(p: &mut P<'_>, s: &mut Sdl) {
    p.defbool_into("sdl", &mut s.enable);
    p.defbool_into("opengl", &mut s.opengl);
    p.string_into("display", &mut s.display);
    p.string_into("xauthority", &mut s.xauthority);
}

const VIRIDIAN: [&str; 13] = [
    "base",
    "freq",
    "time_ref_count",
    "reference_tsc",
    "hcall_remote_tlb_flush",
    "apic_assist",
    "crash_ctl",
    "synic",
    "stimer",
    "hcall_ipi",
    "ex_processor_masks",
    "no_vp_limit",
    "cpu_hotplug",
];

fn hvm_firmware_and_platform(p: &mut P<'_>, b: &mut BuildInfo) -> Result<(), Exit> {
    if b.kernel
        .as_deref()
        .map(|k| k.rsplit('/').next().unwrap_or(k))
        == Some("hvmloader")
    {
        p.r.line(
            "WARNING: you seem to be using \"kernel\" directive to override HVM guest firmware. Ignore that. \
             Use \"firmware_override\" instead if you really want a non-default firmware",
        );
        b.kernel = None;
    }
    let TypeInfo::Hvm(h) = &mut b.u else {
        return Ok(());
    };
    p.string_into("firmware_override", &mut h.firmware);
    p.string_into("bios_path_override", &mut h.system_firmware);
    if let Some(v) = p.string("bios") {
        match bios_of(&v) {
            Some(x) => h.bios = (x != "unknown").then_some(x),
            None => return Err(p.fatal(1, format!("ERROR: invalid value \"{v}\" for \"bios\""))),
        }
    } else if h.system_firmware.is_some() {
        p.r.line("WARNING: bios_path_override given without specific bios name");
    }
    p.defbool_into("pae", &mut h.pae);
    p.defbool_into("acpi_s3", &mut h.acpi_s3);
    p.defbool_into("acpi_s4", &mut h.acpi_s4);
    p.defbool_into("acpi_laptop_slate", &mut h.acpi_laptop_slate);
    p.defbool_into("nx", &mut h.nx);
    p.defbool_into("hpet", &mut h.hpet);
    p.defbool_into("vpt_align", &mut h.vpt_align);
    p.defbool_into("apic", &mut b.apic);

    viridian(p, h)?;

    if let Some(l) = p.long("mmio_hole") {
        let kb = (l as u64).wrapping_mul(1024);
        let bytes = kb.wrapping_mul(1024);
        // HVM_BELOW_4G_MMIO_LENGTH (256 MiB) ..= HVM_BELOW_4G_MMIO_START (3 GiB)
        if !(0x1000_0000..=0xF000_0000).contains(&bytes) {
            return Err(p.fatal(1, format!("ERROR: invalid value {l} for \"mmio_hole\"")));
        }
        h.mmio_hole_memkb = Some(kb);
    }
    if let Some(v) = p.defbool("altp2mhvm") {
        h.altp2m = Some(v);
        p.r.line("WARNING: Specifying \"altp2mhvm\" is deprecated. Please use \"altp2m\" instead.");
    }
    p.string_into("smbios_firmware", &mut h.smbios_firmware);
    p.string_into("acpi_firmware", &mut h.acpi_firmware);
    ms_vm_genid(p, h)?;
    if let Some(l) = p.long("rdm_mem_boundary") {
        h.rdm_mem_boundary_memkb = Some((l as u64).wrapping_mul(1024));
    }
    mca_caps(p, h)?;
    if let Some(fw) = p.string("firmware") {
        match bios_of(&fw) {
            Some(x) => h.bios = (x != "unknown").then_some(x),
            None => {
                if type_prefix(&fw, "uefi") {
                    h.bios = Some("ovmf");
                } else if !type_prefix(&fw, "bios") {
                    h.firmware = Some(fw);
                }
            }
        }
    }
    Ok(())
}

fn bios_of(s: &str) -> Option<&'static str> {
    match s.to_ascii_lowercase().as_str() {
        "rombios" => Some("rombios"),
        "seabios" => Some("seabios"),
        "ovmf" => Some("ovmf"),
        "unknown" => Some("unknown"),
        _ => None,
    }
}

/// `viridian`: a list of enlightenment groups (`all`, `defaults`, names,
/// `!name`), or a boolean.
fn viridian(p: &mut P<'_>, h: &mut HvmInfo) -> Result<(), Exit> {
    match p.cfg.list("viridian", true, p.r).map(<[Value]>::to_vec) {
        Ok(list) => {
            let mut enable = [false; 64];
            let mut disable = [false; 64];
            let mut any = false;
            for item in Config::string_items(&list) {
                if item == "all" {
                    enable.iter_mut().for_each(|b| *b = true);
                    any = true;
                } else if item == "defaults" {
                    h.viridian = Some(true);
                } else {
                    let (name, on) = match item.strip_prefix('!') {
                        Some(n) => (n, false),
                        None => (item, true),
                    };
                    let Some(v) = VIRIDIAN.iter().position(|x| x.eq_ignore_ascii_case(name)) else {
                        return Err(p.fatal(
                            EXIT_FAIL,
                            format!("xl: unknown viridian enlightenment '{name}'"),
                        ));
                    };
                    if on {
                        enable[v] = true;
                        disable[v] = false;
                    } else {
                        disable[v] = true;
                        enable[v] = false;
                    }
                    any = true;
                }
            }
            if any || !list.is_empty() {
                h.viridian_enable = (0..64u32).filter(|i| enable[*i as usize]).collect();
                h.viridian_disable = (0..64u32).filter(|i| disable[*i as usize]).collect();
            }
        }
        Err(Lookup::Absent) => {}
        Err(Lookup::Invalid) => {
            if let Some(v) = p.cfg.defbool("viridian", true, p.r) {
                h.viridian = Some(v);
            }
        }
    }

    Ok(())
}

/// `ms_vm_genid`: "generate" makes one, "none" leaves it out.
fn ms_vm_genid(p: &mut P<'_>, h: &mut HvmInfo) -> Result<(), Exit> {
    if let Some(v) = p.string("ms_vm_genid") {
        match v.as_str() {
            "generate" => {
                let mut g = *crate::random_uuid().as_bytes();
                g[0] |= 1;
                h.ms_vm_genid = Some(g);
            }
            "none" => {}
            _ => {
                return Err(p.fatal(
                    1,
                    "ERROR: \"ms_vm_genid\" option must be \"generate\" or \"none\"",
                ));
            }
        }
    }
    Ok(())
}

fn mca_caps(p: &mut P<'_>, h: &mut HvmInfo) -> Result<(), Exit> {
    match p.cfg.list("mca_caps", true, p.r).map(<[Value]>::to_vec) {
        Ok(list) => {
            for item in Config::string_items(&list) {
                if item == "lmce" {
                    h.mca_caps |= 1;
                } else {
                    return Err(p.fatal(
                        EXIT_FAIL,
                        format!("ERROR: unrecognized MCA capability '{item}'."),
                    ));
                }
            }
        }
        Err(Lookup::Absent) => {}
        Err(Lookup::Invalid) => return Err(p.fatal(EXIT_FAIL, "ERROR: unable to parse mca_caps.")),
    }
    Ok(())
}

fn io_resources(p: &mut P<'_>, b: &mut BuildInfo) -> Result<(), Exit> {
    if let Ok(list) = p.cfg.list("ioports", false, p.r).map(<[Value]>::to_vec) {
        for (i, item) in list.iter().enumerate() {
            let Some(s) = item.as_str() else {
                return Err(p.fatal(1, format!("xl: Unable to get element #{i} in ioport list")));
            };
            let bytes = s.as_bytes();
            let (start, used, _) = strtoul(bytes, 16);
            if used == 0 {
                return Err(p.fatal(1, format!("xl: Invalid argument parsing ioport: {s}")));
            }
            if start >= u64::from(u32::MAX) {
                return Err(p.fatal(1, format!("xl: ioport {start:x} too big")));
            }
            let mut end = start;
            if bytes.get(used) == Some(&b'-') {
                let (e, n, _) = strtoul(&bytes[used + 1..], 16);
                if n == 0 || used + 1 + n != bytes.len() || start > end {
                    return Err(p.fatal(1, format!("xl: Invalid argument parsing ioport: {s}")));
                }
                if e >= u64::from(u32::MAX) {
                    return Err(p.fatal(1, format!("xl: ioport {e:x} too big")));
                }
                end = e;
            } else if used != bytes.len() {
                p.r.line(format!("xl: Invalid argument parsing ioport: {s}"));
            }
            b.ioports.push((
                start as u32,
                (end as u32).wrapping_sub(start as u32).wrapping_add(1),
            ));
        }
    }
    if let Ok(list) = p.cfg.list("irqs", false, p.r).map(<[Value]>::to_vec) {
        for (i, item) in list.iter().enumerate() {
            let Some(s) = item.as_str() else {
                return Err(p.fatal(1, format!("xl: Unable to get element {i} in irq list")));
            };
            let (v, used, _) = strtoul(s.as_bytes(), 10);
            if used == 0 || used != s.len() {
                return Err(p.fatal(1, format!("xl: Invalid argument parsing irq: {s}")));
            }
            if v >= u64::from(u32::MAX) {
                return Err(p.fatal(1, format!("xl: irq {v:x} too big")));
            }
            b.irqs.push(v as u32);
        }
    }
    if let Ok(list) = p.cfg.list("iomem", false, p.r).map(<[Value]>::to_vec) {
        for (i, item) in list.iter().enumerate() {
            let Some(s) = item.as_str() else {
                return Err(p.fatal(1, format!("xl: Unable to get element {i} in iomem list")));
            };
            let bad =
                |p: &mut P<'_>| p.fatal(1, format!("xl: Invalid argument parsing iomem: {s}"));
            let Some((a, rest)) = s.split_once(',') else {
                return Err(bad(p));
            };
            let (start, n1, _) = strtoul(a.as_bytes(), 16);
            if n1 == 0 || n1 != a.len() {
                return Err(bad(p));
            }
            let (num_s, gfn_s) = match rest.split_once('@') {
                Some((x, y)) => (x, Some(y)),
                None => (rest, None),
            };
            let (number, n2, _) = strtoul(num_s.as_bytes(), 16);
            if n2 == 0 || n2 != num_s.len() {
                return Err(bad(p));
            }
            let gfn = match gfn_s {
                Some(gs) => {
                    let (gv, n3, _) = strtoul(gs.as_bytes(), 16);
                    if n3 == 0 || n3 != gs.len() {
                        return Err(bad(p));
                    }
                    Some(gv)
                }
                None => None,
            };
            b.iomem.push((start, number, gfn));
        }
    }
    Ok(())
}

/// `key=value` items split on commas, leading spaces dropped, stopping at
/// the first item without `=` (xl's strtok loops).
fn kv_items(spec: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    for tok in spec.split(',').filter(|t| !t.is_empty()) {
        let tok = tok.trim_start_matches(' ');
        let Some(kv) = tok.split_once('=') else { break };
        out.push(kv);
    }
    out
}

fn parse_p9(p: &mut P<'_>) -> Result<Vec<P9>, Exit> {
    let mut out = Vec::new();
    let Ok(items) = p.list_items("p9", false) else {
        return Ok(out);
    };
    let (mut sm, mut path, mut tag, mut backend) = (None, None, None, None);
    for (i, spec) in items.iter().enumerate() {
        for (k, v) in kv_items(spec) {
            match k {
                "security_model" => sm = Some(v.to_string()),
                "path" => path = Some(v.to_string()),
                "tag" => tag = Some(v.to_string()),
                "backend" => backend = Some(v.to_string()),
                _ => return Err(p.fatal(1, format!("Unknown string `{k}' in 9pfs spec"))),
            }
        }
        // xl keeps these across entries, so a later entry inherits them.
        if path.is_none() || sm.is_none() || tag.is_none() {
            return Err(p.fatal(1, "9pfs spec missing required field!"));
        }
        out.push(P9 {
            backend_domname: backend.clone(),
            tag: tag.clone(),
            path: path.clone(),
            security_model: sm.clone(),
            devid: None,
        });
        let _ = i;
    }
    Ok(out)
}

fn parse_vtpm(p: &mut P<'_>) -> Result<Vec<Vtpm>, Exit> {
    let mut out = Vec::new();
    let Ok(items) = p.list_items("vtpm", false) else {
        return Ok(out);
    };
    for (i, spec) in items.iter().enumerate() {
        let mut v = Vtpm {
            devid: i as i64,
            ..Vtpm::default()
        };
        let mut got_backend = false;
        for (k, val) in kv_items(spec) {
            match k {
                "backend" => {
                    v.backend_domname = Some(val.to_string());
                    got_backend = true;
                }
                "uuid" => match parse_uuid(val) {
                    Some(u) => v.uuid = u,
                    None => return Err(p.fatal(1, format!("Failed to parse vtpm UUID: {val}"))),
                },
                _ => return Err(p.fatal(1, format!("Unknown string `{k}' in vtpm spec"))),
            }
        }
        if !got_backend {
            return Err(p.fatal(1, "vtpm spec missing required backend field!"));
        }
        out.push(v);
    }
    Ok(out)
}

fn parse_channels(p: &mut P<'_>) -> Result<Vec<Channel>, Exit> {
    let mut out = Vec::new();
    let Ok(items) = p.list_items("channel", false) else {
        return Ok(out);
    };
    for (i, spec) in items.iter().enumerate() {
        let (mut backend, mut name, mut path, mut conn) = (None, None, None, None);
        for pair in spec.split(',').filter(|t| !t.is_empty()) {
            let Some((k, v)) = pair.split_once('=') else {
                p.r.raw(format!("failed to parse channel configuration: {pair}"));
                return Err(Exit(1));
            };
            let (k, v) = (k.trim(), v.trim());
            match k {
                "backend" => backend = Some(v.to_string()),
                "name" => name = Some(v.to_string()),
                "path" => path = Some(v.to_string()),
                "connection" => match v {
                    "pty" => conn = Some(false),
                    "socket" => conn = Some(true),
                    _ => return Err(p.fatal(1, format!("unknown channel connection '{v}'"))),
                },
                _ => {
                    p.r.line(format!("unknown channel parameter '{k}', ignoring"))
                }
            }
        }
        let connection = match conn {
            None => return Err(p.fatal(1, "channel has unknown 'connection'")),
            Some(false) => ChannelConnection::Pty,
            Some(true) => match path {
                Some(path) => ChannelConnection::Socket(path),
                None => return Err(p.fatal(1, "channel connection 'socket' requires path=..")),
            },
        };
        out.push(Channel {
            backend_domname: backend,
            devid: i as i64,
            name,
            connection,
        });
    }
    Ok(out)
}

/// cpuid lines are checked for xl's errors; the policy itself is not kept
/// (see README: cpuid JSON is not produced yet).
/// `cpuid`: xend-style lines in a list, or `"host,NAME=VALUE,..."`; bad
/// items are reported and skipped, as xl does.
fn parse_cpuid(p: &mut P<'_>, b: &mut BuildInfo) {
    match p.cfg.list("cpuid", true, p.r).map(<[Value]>::to_vec) {
        Ok(list) => {
            for line in Config::string_items(&list) {
                let policy = b.cpuid.get_or_insert_with(CpuidPolicy::default);
                if let Err(e) = policy.add_xend(line) {
                    let why = match e {
                        1 => "illegal leaf number",
                        2 => "illegal subleaf number",
                        3 => "missing colon",
                        4 => "invalid register name (must be e[abcd]x)",
                        5 => "policy string must be exactly 32 characters long",
                        _ => "unknown error",
                    };
                    p.r.line(format!("while parsing CPUID line: \"{line}\":"));
                    p.r.line(format!("  error #{e}: {why}"));
                }
            }
        }
        Err(Lookup::Absent) => {}
        Err(Lookup::Invalid) => {
            if let Some(s) = p.string("cpuid") {
                cpuid_string(p, b, &s);
            }
        }
    }
}

fn cpuid_string(p: &mut P<'_>, b: &mut BuildInfo, s: &str) {
    let mut words = s.split(',').filter(|w| !w.is_empty());
    match words.next() {
        None => return,
        Some("host") => {}
        Some(_) => {
            p.r.line(format!("while parsing CPUID string: \"{s}\":"));
            p.r.line("  error: first word must be \"host\"");
            return;
        }
    }
    for w in words {
        let policy = b.cpuid.get_or_insert_with(CpuidPolicy::default);
        if let Err(e) = policy.add_named(w) {
            let why = match e {
                1 => "missing \"=\" in key=value",
                2 => "unknown CPUID flag name",
                3 => "illegal CPUID value (must be: [0|1|x|k|s])",
                _ => "unknown error",
            };
            p.r.line(format!("while parsing CPUID flag: \"{w}\":"));
            p.r.line(format!("  error #{e}: {why}"));
        }
    }
}

fn hvm_devices(p: &mut P<'_>, h: &mut HvmInfo) -> Result<(), Exit> {
    if let Some(v) = p.string("vga") {
        h.vga = Some(match v.as_str() {
            "stdvga" => "std",
            "cirrus" => "cirrus",
            "none" => "none",
            "qxl" => "qxl",
            _ => return Err(p.fatal(1, format!("Unknown vga \"{v}\" specified"))),
        });
    } else if let Some(l) = p.long("stdvga") {
        h.vga = Some(if l != 0 { "std" } else { "cirrus" });
    }
    if let Some(v) = p.string("hdtype") {
        match v.to_ascii_lowercase().as_str() {
            "ide" => h.hdtype = None,
            "ahci" => h.hdtype = Some("ahci"),
            _ => return Err(p.fatal(1, format!("ERROR: invalid value \"{v}\" for \"hdtype\""))),
        }
    }
    p.string_into("keymap", &mut h.keymap);
    p.defbool_into("spice", &mut h.spice.enable);
    if let Some(l) = p.long("spiceport") {
        h.spice.port = i64::from(l as i32);
    }
    if let Some(l) = p.long("spicetls_port") {
        h.spice.tls_port = i64::from(l as i32);
    }
    p.string_into("spicehost", &mut h.spice.host);
    p.defbool_into("spicedisable_ticketing", &mut h.spice.disable_ticketing);
    p.string_into("spicepasswd", &mut h.spice.passwd);
    p.defbool_into("spiceagent_mouse", &mut h.spice.agent_mouse);
    p.defbool_into("spicevdagent", &mut h.spice.vdagent);
    p.defbool_into("spice_clipboard_sharing", &mut h.spice.clipboard_sharing);
    if let Some(l) = p.long("spiceusbredirection") {
        h.spice.usbredirection = i64::from(l as i32);
    }
    p.string_into("spice_image_compression", &mut h.spice.image_compression);
    p.string_into("spice_streaming_video", &mut h.spice.streaming_video);
    p.defbool_into("nographic", &mut h.nographic);
    if let Ok(l) = p.cfg.long("gfx_passthru", true, p.r) {
        h.gfx_passthru = Some(l != 0);
    } else if let Some(v) = p.string("gfx_passthru") {
        match v.to_ascii_lowercase().as_str() {
            "default" => h.gfx_passthru_kind = None,
            "igd" => h.gfx_passthru_kind = Some("igd"),
            _ => {
                return Err(p.fatal(
                    1,
                    format!("ERROR: invalid value \"{v}\" for \"gfx_passthru\""),
                ));
            }
        }
        h.gfx_passthru = Some(true);
    }
    for (key, is_serial) in [("serial", true), ("usbdevice", false)] {
        match p.list_items(key, true) {
            Ok(items) => {
                if is_serial {
                    h.serial_list = items;
                } else {
                    h.usbdevice_list = items;
                }
            }
            Err(Lookup::Absent) => {}
            Err(Lookup::Invalid) => match p.cfg.string(key, false, p.r) {
                Ok(s) => {
                    let s = Some(s.to_string());
                    if is_serial {
                        h.serial = s;
                    } else {
                        h.usbdevice = s;
                    }
                }
                Err(_) => return Err(p.fatal(EXIT_FAIL, format!("xl: Unable to parse {key}."))),
            },
        }
        if is_serial {
            p.string_into("boot", &mut h.boot);
            p.defbool_into("usb", &mut h.usb);
            if let Some(l) = p.long("usbversion") {
                h.usbversion = i64::from(l as i32);
            }
        }
    }
    p.defbool_into("vkb_device", &mut h.vkb_device);
    p.string_into("soundhw", &mut h.soundhw);
    p.defbool_into("xen_platform_pci", &mut h.xen_platform_pci);
    if h.vnc.listen.as_deref().is_some_and(|l| l.contains(':')) && h.vnc.display != 0 {
        return Err(p.fatal(
            1,
            "ERROR: Display specified both in vnclisten and vncdisplay!",
        ));
    }
    if let Some(v) = p.string("vendor_device") {
        h.vendor_device = match v.to_ascii_lowercase().as_str() {
            "none" => None,
            "xenserver" => Some("xenserver"),
            _ => return Err(p.fatal(EXIT_FAIL, format!("xl: unknown vendor_device '{v}'"))),
        };
    }
    Ok(())
}

#[cfg(test)]
mod doc_tests {
    /// Every key this module reads is documented in man/xl.cfg.5.
    #[test]
    fn every_key_is_in_the_man_page() {
        let src = include_str!("parse.rs");
        let man = include_str!("../../../man/xl.cfg.5");
        let mut missing = Vec::new();
        let mut checked = 0;
        for (i, _) in src.match_indices("(\"") {
            let rest = &src[i + 2..];
            let Some(end) = rest.find('"') else { continue };
            let key = &rest[..end];
            let before = src[..i].trim_end();
            let lookup = [
                "string",
                "long",
                "defbool",
                "defbool_into",
                "string_into",
                "list_items",
                "list",
                "bounded_long",
            ]
            .iter()
            .any(|m| before.ends_with(&format!(".{m}")));
            let tuple = before.ends_with('[') || before.ends_with(',') && !before.ends_with("),");
            let plausible = (lookup || tuple)
                && !key.is_empty()
                && key.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && key.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.'
                });
            if plausible {
                checked += 1;
                if !man.contains(&format!(".B {key}\n")) && !missing.contains(&key) {
                    missing.push(key);
                }
            }
        }
        assert!(checked > 100, "the key scan found only {checked} keys");
        assert!(
            missing.is_empty(),
            "keys read by xl but missing from man/xl.cfg.5: {missing:?}"
        );
    }
}
