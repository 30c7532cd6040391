//! Creating a domain from a typed config, in libxl's order
//! (libxl_create.c): make the domain and its xenstore skeleton, build it,
//! advertise its rings, add devices, start the device model, store the
//! config. The domain is left paused. Any failure destroys what was made,
//! so a failed create leaves no domain, no xenstore nodes and no files.

use std::time::{SystemTime, UNIX_EPOCH};

use xenstore::{Access, Perm, Xs, XsOps};
use xl_config::domain::{DomainConfig, uuid_string};
use xl_config::json::Json;

use crate::bootloader::{BootloaderPlan, BootloaderRun};
use crate::devices::{self, NewDevice};
use crate::dm_args::dm_plan;
pub use crate::dm_args::{DmMachine, DmPlan};
use crate::{
    BuildSpec, Built, CreateSpec, Error, GuestKind, Host, HostPaths, destroy, names, userdata,
};

/// LIBXL_MAXMEM_CONSTANT: slack above the target that Xen's limit allows.
const MAXMEM_CONSTANT_KB: u64 = 1024;
/// libxl's defaults when the config says nothing.
const DEFAULT_MEMKB: u64 = 32 * 1024;
const DEFAULT_EVENT_CHANNELS: u32 = 1023;
const DEFAULT_GRANT_FRAMES: u32 = 64;
const DEFAULT_MAPTRACK_FRAMES: u32 = 1024;
/// How often libxl retries a domid Xen hands out that was destroyed
/// less than a minute ago.
const RECENT_DOMID_RETRIES: usize = 16;

/// Why `xl create` failed; once a domain was made it is destroyed again.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// Another domain has the name.
    #[error("Domain with name \"{0}\" already exists.")]
    NameExists(String),
    /// The hypervisor would not make the domain.
    #[error("cannot make domain: {0}")]
    Make(#[source] Error),
    /// `pool=` names no cpupool the toolstack knows.
    #[error("Illegal pool specified: {}", .0.as_deref().unwrap_or("(null)"))]
    IllegalPool(Option<String>),
    /// Passed-through devices (or `passthrough=` other than disabled) on
    /// a host without an IOMMU (libxl's message ends with a newline).
    #[error("passthrough not supported on this platform\n")]
    NoPassthrough,
    /// `passthrough = "disabled"` with `pci=` or `dtdev=` devices.
    #[error("passthrough disabled but devices are specified")]
    PassthroughDisabled,
    /// Refused before anything was made: the host or the device model
    /// cannot run this guest.
    #[error("cannot create domain \"{name}\"")]
    Refused {
        /// The domain's name.
        name: String,
        /// What refused.
        #[source]
        source: Error,
    },
    /// A step failed and the domain was destroyed again; `rollback` is
    /// what went wrong destroying it (the domain may be left behind when
    /// that says the hypervisor refused).
    #[error("Domain {domid}:{what}{}", rollback_note(.rollback))]
    Step {
        /// The new domain's id.
        domid: u32,
        /// The step that failed, in libxl's words.
        what: String,
        /// Why it failed.
        #[source]
        source: Error,
        /// What went wrong undoing the create, in order.
        rollback: Vec<String>,
    },
}

fn rollback_note(problems: &[String]) -> String {
    if problems.is_empty() {
        String::new()
    } else {
        format!(
            " (destroying the half-made domain: {})",
            problems.join("; ")
        )
    }
}

impl CreateError {
    /// The libxl rc xl turns into its exit status (ERROR_FAIL).
    pub fn rc(&self) -> i32 {
        match self {
            // ERROR_INVAL
            CreateError::IllegalPool(_)
            | CreateError::NoPassthrough
            | CreateError::PassthroughDisabled => -6,
            _ => -3,
        }
    }
}

/// Memory sizes libxl settles on, in KiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryPlan {
    /// The most memory it may hold, in KiB.
    pub max_kb: u64,
    /// Memory it starts with, in KiB.
    pub target_kb: u64,
    /// Video memory (HVM), in KiB.
    pub video_kb: u64,
}

/// Memory sizes libxl settles on.
pub fn memory_kb(cfg: &DomainConfig) -> MemoryPlan {
    let b = &cfg.b_info;
    let target = b.target_memkb.or(b.max_memkb).unwrap_or(DEFAULT_MEMKB);
    let max = b.max_memkb.unwrap_or(target).max(target);
    let video = match b.hvm() {
        Some(h) => b.video_memkb.unwrap_or(match h.vga {
            Some("none") => 0,
            Some("std") => 16 * 1024,
            Some("qxl") => 128 * 1024,
            _ => 8 * 1024,
        }),
        None => 0,
    };
    MemoryPlan {
        max_kb: max,
        target_kb: target,
        video_kb: video,
    }
}

/// vCPUs the domain can have and those online at boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcpuPlan {
    /// vCPUs it may ever have.
    pub max: u32,
    /// vCPUs online at boot.
    pub online: u32,
}

/// More vCPUs than Xen gives any guest (see [`too_many_vcpus`]) are
/// planned as that many: the create is refused before anything is made.
fn vcpus(cfg: &DomainConfig) -> VcpuPlan {
    let max = u32::try_from(cfg.b_info.max_vcpus)
        .unwrap_or(1)
        .clamp(1, MAX_GUEST_VCPUS);
    let online = if cfg.b_info.avail_vcpus.is_empty() {
        max
    } else {
        u32::try_from(cfg.b_info.avail_vcpus.len()).unwrap_or(u32::MAX)
    };
    VcpuPlan {
        max,
        online: online.min(max),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Everything create makes, settled once from the config (pure): the
/// steps below apply it and never read the config again.
#[derive(Clone, Debug)]
pub struct CreatePlan {
    /// The domain's name.
    pub name: String,
    /// Its UUID.
    pub uuid: [u8; 16],
    /// PV, PVH or HVM.
    pub kind: GuestKind,
    /// Its vCPUs.
    pub vcpus: VcpuPlan,
    /// Its memory.
    pub memory: MemoryPlan,
    /// `XEN_DOMCTL_createdomain`'s inputs.
    pub domain: CreateSpec,
    /// What the domain builder loads.
    pub build: BuildSpec,
    /// libxl__build_post's nodes that do not depend on the build's result:
    /// (path relative to /local/domain/N, value) and (relative to /vm/UUID,
    /// value).
    pub dom_nodes: Vec<(String, String)>,
    /// Nodes under `/vm/<uuid>`: (relative path, value).
    pub vm_nodes: Vec<(String, String)>,
    /// Devices in libxl's order of addition (domid filled in when applied).
    pub disks: Vec<NewDevice>,
    /// NICs, after the disks.
    pub nics: Vec<NewDevice>,
    /// Channels: consoles numbered from 1 that QEMU serves, nodes only.
    pub channels: Vec<(NewDevice, Option<String>)>,
    /// What libxl logs as an error and goes on past while creating (the
    /// channel numbered 0, which would be the primary console).
    pub notes: Vec<String>,
    /// 9pfs shares and PV calls interfaces, nodes only (libxl's
    /// synchronous add, before the console), with their backend's name.
    pub early: Vec<(NewDevice, Option<String>)>,
    /// PV and PVH guests' keyboards, nodes only, after the console.
    pub vkbs: Vec<(NewDevice, Option<String>)>,
    /// The device model to start, if the guest needs one.
    pub device_model: Option<DmPlan>,
    /// Devices libxl adds once the device model runs, after the nics and
    /// in its order: vTPMs, USB controllers and devices (HVM), displays,
    /// sound cards; each kind waited for before the next.
    pub vtpms: Vec<xl_config::domain::Vtpm>,
    /// USB controllers (HVM) and their devids.
    pub usbctrls: Vec<(crate::usb::CtrlSpec, u32)>,
    /// USB devices (HVM), after the controllers.
    pub usbdevs: Vec<crate::usb::DevSpec>,
    /// Virtual displays, after the USB devices.
    pub vdispls: Vec<xl_config::domain::Vdispl>,
    /// Sound cards, after the displays.
    pub vsnds: Vec<xl_config::domain::Vsnd>,
    /// HVM: the BIOS hvmloader is told to run (`hvmloader/bios`).
    pub hvmloader_bios: Option<&'static str>,
    /// HVM: the PV keyboard QEMU serves (libxl adds it unless
    /// `vkb_device=0`).
    pub vkbd: bool,
    /// PV and PVH: the framebuffers, which the xenpv QEMU serves (domid
    /// filled in when applied); their keyboards are in `vkbs`.
    pub vfbs: Vec<NewDevice>,
    /// PV guests booted by pygrub (or another bootloader).
    pub bootloader: Option<BootloaderPlan>,
    /// The stored configuration (userdata libxl-json).
    pub stored_config: String,
    /// What libxl would refuse in the config, found while planning: the
    /// create fails with it before anything is made.
    pub problems: Vec<String>,
    /// The cpupool asked for (`pool=`), a name or an id.
    pub pool: Option<String>,
    /// Devices passed through (`pci=`) and `dtdev=` entries; `passthrough=`.
    pub pcidevs: Vec<xl_config::domain::Pci>,
    /// How many `dtdev=` entries there are.
    pub dtdevs: usize,
    /// `passthrough=` when not `default`.
    pub passthrough: Option<&'static str>,
}

impl CreatePlan {
    /// Settle the plan for `cfg` on a host laid out as `paths`.
    pub fn new(cfg: &DomainConfig, paths: &HostPaths) -> CreatePlan {
        let kind = cfg.b_info.guest_kind();
        let vcpus = vcpus(cfg);
        let memory = memory_kb(cfg);
        CreatePlan {
            name: cfg.c_info.name.clone(),
            uuid: cfg.c_info.uuid,
            kind,
            vcpus,
            memory,
            domain: create_spec(cfg, kind, vcpus),
            pool: cfg.c_info.pool_name.clone(),
            pcidevs: cfg.pcidevs.clone(),
            dtdevs: cfg.dtdevs.len(),
            passthrough: cfg.c_info.passthrough.filter(|m| *m != "default"),
            build: build_spec(cfg, paths, kind, vcpus, memory),
            dom_nodes: dom_nodes(cfg, kind, vcpus, memory),
            vm_nodes: vm_nodes(cfg, kind),
            disks: cfg
                .disks
                .iter()
                .enumerate()
                .map(|(i, d)| disk_device(paths, kind, i, d))
                .collect(),
            nics: cfg
                .nics
                .iter()
                .enumerate()
                .map(|(i, n)| nic_device(paths, cfg, kind, i, n))
                .collect(),
            channels: channel_devices(cfg),
            notes: channel_notes(cfg),
            early: early_devices(cfg),
            vkbs: vkb_devices(cfg, kind),
            device_model: dm_plan(cfg, paths, kind, vcpus, memory),
            vtpms: cfg.vtpms.clone(),
            usbctrls: usbctrl_plan(cfg),
            usbdevs: usbdev_plan(cfg),
            vdispls: cfg.vdispls.clone(),
            vsnds: cfg.vsnds.clone(),
            hvmloader_bios: (kind == GuestKind::Hvm).then(|| {
                match cfg.b_info.hvm().and_then(|h| h.bios) {
                    Some("ovmf") => "ovmf",
                    Some("rombios") => "rombios",
                    _ => "seabios",
                }
            }),
            vkbd: kind == GuestKind::Hvm
                && cfg.b_info.hvm().and_then(|h| h.vkb_device).unwrap_or(true),
            vfbs: match kind {
                GuestKind::Hvm => Vec::new(),
                _ => cfg.vfbs.iter().map(vfb_device).collect(),
            },
            bootloader: bootloader_plan(cfg, kind),
            stored_config: stored_config(cfg, memory.video_kb).to_yajl(),
            problems: problems(cfg, kind),
        }
    }
}

/// libxl runs a bootloader for PV guests that name one, over the first
/// disk, which it must be able to read as it is (a raw image or device:
/// other formats would need the disk attached to dom0 first).
fn bootloader_plan(cfg: &DomainConfig, kind: GuestKind) -> Option<BootloaderPlan> {
    let b = &cfg.b_info;
    let program = b.bootloader.clone().filter(|_| kind == GuestKind::Pv)?;
    let disk = match cfg.disks.first() {
        None => Err("cannot run bootloader with no boot disk".to_string()),
        Some(d) if d.format.is_some_and(|f| f != "raw") || d.script.is_some() => Err(format!(
            "the bootloader cannot read the first disk ({}) as it is: only raw images and \
             devices without a script are supported",
            d.pdev_path.as_deref().unwrap_or_default()
        )),
        Some(d) => Ok(d.pdev_path.clone().unwrap_or_default()),
    };
    Some(BootloaderPlan {
        program,
        args: b.bootloader_args.clone(),
        kernel: b.kernel.clone(),
        ramdisk: b.ramdisk.clone(),
        cmdline: b.cmdline.clone(),
        disk,
    })
}

fn create_spec(cfg: &DomainConfig, kind: GuestKind, vcpus: VcpuPlan) -> CreateSpec {
    let b = &cfg.b_info;
    CreateSpec {
        uuid: cfg.c_info.uuid,
        kind,
        hap: kind != GuestKind::Pv && cfg.c_info.hap.unwrap_or(true),
        max_vcpus: vcpus.max,
        max_evtchn_port: if b.event_channels == 0 {
            DEFAULT_EVENT_CHANNELS
        } else {
            b.event_channels
        },
        max_grant_frames: b.max_grant_frames.unwrap_or(DEFAULT_GRANT_FRAMES),
        max_maptrack_frames: b.max_maptrack_frames.unwrap_or(DEFAULT_MAPTRACK_FRAMES),
        ssidref: 0,
        cpupool: 0,
    }
}

fn build_spec(
    cfg: &DomainConfig,
    paths: &HostPaths,
    kind: GuestKind,
    vcpus: VcpuPlan,
    memory: MemoryPlan,
) -> BuildSpec {
    let b = &cfg.b_info;
    BuildSpec {
        kind,
        max_memkb: memory.max_kb,
        target_memkb: memory.target_kb,
        online_vcpus: vcpus.online,
        kernel: match kind {
            GuestKind::Hvm => Some(firmware_path(
                paths,
                b.hvm().and_then(|h| h.firmware.as_deref()),
            )),
            _ => b.kernel.clone(),
        },
        ramdisk: b.ramdisk.clone(),
        cmdline: b.cmdline.clone(),
        name: cfg.c_info.name.clone(),
        store_domid: 0,
        console_domid: 0,
        hvm: (kind != GuestKind::Pv).then(|| hvm_build_spec(cfg, kind, vcpus, memory)),
        cpuid: cpuid_request(cfg, kind),
    }
}

/// libxl__cpuid_legacy's inputs: PAE (HVM's choice, always on otherwise),
/// the invariant TSC when the guest cannot move or its TSC is emulated,
/// nested virtualisation, and the config's policy.
fn cpuid_request(cfg: &DomainConfig, kind: GuestKind) -> crate::cpu_policy::CpuidRequest {
    let b = &cfg.b_info;
    let pae = kind != GuestKind::Hvm || b.hvm().and_then(|h| h.pae).unwrap_or(true);
    let itsc = b.disable_migrate.unwrap_or(false) || b.tsc_mode == Some("always_emulate");
    crate::cpu_policy::CpuidRequest::new(pae, itsc, b.nested_hvm.unwrap_or(false), b.cpuid.as_ref())
}

/// Where Debian's Xen packages find the BIOS images (libxl's configured
/// SEABIOS_PATH and OVMF_PATH).
const SEABIOS_PATH: &str = "/usr/share/seabios/bios-256k.bin";
const OVMF_PATH: &str = "/usr/share/ovmf/OVMF.fd";
/// HVM_BELOW_4G_MMIO_LENGTH.
const HVM_MMIO_SIZE: u64 = 256 << 20;
/// libxl's timer_mode names, by value.
const TIMER_MODES: [&str; 4] = [
    "delay_for_missed_ticks",
    "no_delay_for_missed_ticks",
    "no_missed_ticks_pending",
    "one_missed_tick_pending",
];
const HVM_PARAM_HPET_ENABLED: u32 = 11;
const HVM_PARAM_TIMER_MODE: u32 = 10;
const HVM_PARAM_VPT_ALIGN: u32 = 16;
const HVM_PARAM_MCA_CAP: u32 = 38;
const HVM_PARAM_VIRIDIAN: u32 = 9;
/// libxl's viridian enlightenment groups (xl.cfg `viridian=[...]`), whose
/// numbers are also the bits of HVM_PARAM_VIRIDIAN from time_ref_count on.
const VIRIDIAN_BASE: u32 = 0;
const VIRIDIAN_FREQ: u32 = 1;
const VIRIDIAN_STIMER: u32 = 8;
const VIRIDIAN_GROUPS: u32 = 13;
/// What `viridian=1` turns on: base, freq, time_ref_count, apic_assist,
/// crash_ctl, no_vp_limit, cpu_hotplug.
const VIRIDIAN_DEFAULTS: [u32; 7] = [0, 1, 2, 5, 6, 11, 12];
/// HVMPV_no_freq, HVMPV_time_ref_count, HVMPV_synic.
const HVMPV_NO_FREQ: u64 = 1 << 1;
const HVMPV_TIME_REF_COUNT: u64 = 1 << 2;
const HVMPV_SYNIC: u64 = 1 << 7;

/// hvmloader (or `firmware=`), relative names under Xen's firmware folder.
fn firmware_path(paths: &HostPaths, name: Option<&str>) -> String {
    let name = name.unwrap_or("hvmloader");
    if name.starts_with('/') {
        name.to_string()
    } else {
        paths.firmware.get().join(name).display().to_string()
    }
}

fn hvm_build_spec(
    cfg: &DomainConfig,
    kind: GuestKind,
    vcpus: VcpuPlan,
    memory: MemoryPlan,
) -> crate::HvmBuildSpec {
    let b = &cfg.b_info;
    let h = b.hvm();
    let hvm = kind == GuestKind::Hvm;
    let system_firmware = hvm.then(|| {
        h.and_then(|h| h.system_firmware.clone())
            .unwrap_or_else(|| match h.and_then(|h| h.bios) {
                Some("ovmf") => OVMF_PATH.to_string(),
                _ => SEABIOS_PATH.to_string(),
            })
    });
    let mmio_size = h
        .and_then(|h| h.mmio_hole_memkb)
        .map_or(HVM_MMIO_SIZE, |kb| (kb << 10).max(HVM_MMIO_SIZE));
    crate::HvmBuildSpec {
        max_vcpus: vcpus.max,
        video_memkb: memory.video_kb,
        system_firmware,
        mmio_size,
        apic: b.apic.unwrap_or(true),
        conf_params: conf_params(cfg, hvm),
        paging_pool_kb: b.shadow_memkb.unwrap_or_else(|| {
            // libxl__get_required_paging_memory: 1 MiB per vCPU and, for a
            // non-PV guest, a page per MiB for the p2m (twice that with
            // shadow paging).
            let per_mib = 1 + u64::from(!cfg.c_info.hap.unwrap_or(true));
            4 * (256 * u64::from(vcpus.max) + per_mib * (memory.max_kb / 1024))
        }),
        tsc_mode: match b.tsc_mode {
            Some("always_emulate") => 1,
            Some("native") => 2,
            Some("native_paravirt") => 3,
            _ => 0,
        },
    }
}

const MAX_GUEST_VCPUS: u32 = xl_config::parse::MAX_GUEST_VCPUS as u32;

/// Xen refuses a guest with more vCPUs than this whatever its type (HVM and
/// PVH guests have a lower limit, which Xen checks). Per-vCPU state is
/// planned before Xen is asked, so it is checked here.
fn too_many_vcpus(cfg: &DomainConfig) -> Option<String> {
    (cfg.b_info.max_vcpus > i64::from(MAX_GUEST_VCPUS)).then(|| {
        format!(
            "{} vCPUs are more than Xen allows a guest ({MAX_GUEST_VCPUS})",
            cfg.b_info.max_vcpus
        )
    })
}

/// Contradictions libxl only finds once it settles the config's defaults
/// or once the domain exists.
fn problems(cfg: &DomainConfig, kind: GuestKind) -> Vec<String> {
    let mut p: Vec<String> = too_many_vcpus(cfg).into_iter().collect();
    p.extend(not_applied(cfg, kind));
    let Some(h) = cfg.b_info.hvm().filter(|_| kind == GuestKind::Hvm) else {
        return p;
    };
    p.extend(viridian_mask(h).err());
    let old_usb = h.usb == Some(true) || h.usbdevice.is_some() || !h.usbdevice_list.is_empty();
    if old_usb && (h.usbversion != 0 || h.spice.usbredirection != 0) {
        p.push(
            "usbversion and/or usbredirection cannot be enabled with usb and/or usbdevice \
             parameters"
                .into(),
        );
    }
    p
}

/// Settings the config reads (and `-N` prints) that this create cannot
/// apply yet: refused rather than left out, since a guest without its
/// NUMA layout or devices is not the guest asked for.
fn not_applied(cfg: &DomainConfig, kind: GuestKind) -> Vec<String> {
    let b = &cfg.b_info;
    // PV and PVH guests' USB needs pvusb or QEMU's qusb backend, which
    // this xl does not drive yet.
    let pv_usb = kind != GuestKind::Hvm;
    [
        ("dtdev", !cfg.dtdevs.is_empty()),
        ("vnuma", !b.vnuma_nodes.is_empty()),
        ("usbctrl", pv_usb && !cfg.usbctrls.is_empty()),
        ("usbdev", pv_usb && !cfg.usbdevs.is_empty()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(key, _)| not_applied_message(key))
    .collect()
}

/// The `usbctrl` entries as libxl adds them: each its devid (xl numbers
/// them by position).
fn usbctrl_plan(cfg: &DomainConfig) -> Vec<(crate::usb::CtrlSpec, u32)> {
    cfg.usbctrls
        .iter()
        .map(|c| {
            let spec = crate::usb::CtrlSpec {
                kind: c.kind,
                version: c.version,
                ports: c.ports,
            };
            (spec, u32::try_from(c.devid).unwrap_or(0))
        })
        .collect()
}

fn usbdev_plan(cfg: &DomainConfig) -> Vec<crate::usb::DevSpec> {
    cfg.usbdevs
        .iter()
        .map(|d| crate::usb::DevSpec {
            ctrl: d.ctrl.map_or(-1, |c| c as i32),
            port: d.port as i32,
            hostbus: d.hostbus,
            hostaddr: d.hostaddr,
        })
        .collect()
}

fn not_applied_message(key: &str) -> String {
    format!(
        "`{key}' is read (see `xl -N create`) but not applied by this xl yet; remove it to create the domain"
    )
}

/// hvm_set_conf_params: HPET, VPT alignment and MCA for HVM guests, the
/// timer mode for both.
fn conf_params(cfg: &DomainConfig, hvm: bool) -> Vec<(u32, u64)> {
    let b = &cfg.b_info;
    let h = b.hvm();
    let mut p = Vec::new();
    if hvm {
        p.push((
            HVM_PARAM_HPET_ENABLED,
            u64::from(h.and_then(|h| h.hpet).unwrap_or(true)),
        ));
        p.push((
            HVM_PARAM_VPT_ALIGN,
            u64::from(h.and_then(|h| h.vpt_align).unwrap_or(true)),
        ));
        if let Some(caps) = h.map(|h| h.mca_caps).filter(|&c| c != 0) {
            p.push((HVM_PARAM_MCA_CAP, caps));
        }
    }
    let timer = b
        .timer_mode
        .and_then(|m| TIMER_MODES.iter().position(|&n| n == m))
        .unwrap_or(1);
    p.push((HVM_PARAM_TIMER_MODE, timer as u64));
    if let Some(Ok(mask)) = h.filter(|_| hvm).map(viridian_mask)
        && mask != 0
    {
        p.push((HVM_PARAM_VIRIDIAN, mask));
    }
    p
}

/// libxl's viridian groups as HVM_PARAM_VIRIDIAN's mask: the defaults of
/// `viridian=1`, then the config's enabled and disabled groups.
pub(crate) fn viridian_mask(h: &xl_config::domain::HvmInfo) -> Result<u64, String> {
    let mut groups = [false; VIRIDIAN_GROUPS as usize];
    if h.viridian == Some(true) {
        for g in VIRIDIAN_DEFAULTS {
            groups[g as usize] = true;
        }
    }
    for &g in h.viridian_enable.iter().filter(|&&g| g < VIRIDIAN_GROUPS) {
        if h.viridian_disable.contains(&g) {
            return Err(format!("viridian group {g} is both enabled and disabled"));
        }
        groups[g as usize] = true;
    }
    for &g in h.viridian_disable.iter().filter(|&&g| g < VIRIDIAN_GROUPS) {
        groups[g as usize] = false;
    }
    if groups.iter().any(|&on| on) && !groups[VIRIDIAN_BASE as usize] {
        return Err("viridian: the base group is needed by every other group".into());
    }
    let mut mask = 0u64;
    for (g, _) in groups.iter().enumerate().filter(|(_, on)| **on) {
        mask |= match g as u32 {
            VIRIDIAN_BASE if groups[VIRIDIAN_FREQ as usize] => 1,
            VIRIDIAN_BASE => 1 | HVMPV_NO_FREQ,
            VIRIDIAN_FREQ => 0,
            VIRIDIAN_STIMER => HVMPV_TIME_REF_COUNT | HVMPV_SYNIC | (1 << VIRIDIAN_STIMER),
            other => 1 << other,
        };
    }
    Ok(mask)
}

/// Create the domain described by `cfg`; returns its domid, paused.
pub fn create(host: &Host, xs: &Xs, cfg: &DomainConfig) -> Result<u32, CreateError> {
    let plan = CreatePlan::new(cfg, &host.paths);
    apply(host, xs, &plan)
}

/// Where a new domain's memory and vCPUs come from.
pub enum Image<'a> {
    /// The domain builder boots the config's kernel or firmware.
    Boot,
    /// A saved domain is loaded from libxl's migration stream (restore,
    /// migrate-receive); its bootloader is not run again.
    Stream(&'a mut dyn std::io::Read),
}

/// Make the domain `plan` describes; returns its domid, paused. Any
/// failure destroys what was made.
pub fn apply(host: &Host, xs: &Xs, plan: &CreatePlan) -> Result<u32, CreateError> {
    apply_from(host, xs, plan, Image::Boot)
}

/// [`apply`], the domain's contents coming from `image`.
pub fn apply_from(
    host: &Host,
    xs: &Xs,
    plan: &CreatePlan,
    image: Image<'_>,
) -> Result<u32, CreateError> {
    if names::name_in_use(host.hv.as_ref(), xs, &plan.name)
        .map_err(CreateError::Make)?
        .is_some()
    {
        return Err(CreateError::NameExists(plan.name.clone()));
    }
    preflight(host, plan).map_err(|source| CreateError::Refused {
        name: plan.name.clone(),
        source,
    })?;
    let mut spec = plan.domain.clone();
    spec.cpupool = plan_pool(host, xs, plan.pool.as_deref())?;
    check_passthrough(host, plan)?;
    if !plan.pcidevs.is_empty() {
        return Err(CreateError::Refused {
            name: plan.name.clone(),
            source: Error::ConfigRefused(vec![not_applied_message("pci")]),
        });
    }
    pause_point("make the domain");
    let domid = make_domain(host, &spec).map_err(CreateError::Make)?;
    match populate(host, xs, plan, domid, image) {
        Ok(()) => Ok(domid),
        Err((what, source)) => {
            // As libxl: a failed create is destroyed, whatever state it
            // reached. Destroy's own errors are secondary to the cause, but
            // reported: they may mean the domain is still there.
            let rollback = match destroy::destroy(host, xs, domid) {
                Ok(problems) => problems,
                Err(e) => vec![crate::error_chain(&e)],
            };
            Err(CreateError::Step {
                domid,
                what: what.to_string(),
                source,
                rollback,
            })
        }
    }
}

/// The cpupool a new domain starts in: `pool=` as a name or an id, else
/// Pool-0; libxl takes only a pool with a name in xenstore.
fn plan_pool(host: &Host, xs: &Xs, pool: Option<&str>) -> Result<u32, CreateError> {
    let illegal = || CreateError::IllegalPool(pool.map(str::to_string));
    let id = match pool {
        None => names::cpupool_name(xs, 0)
            .map_err(CreateError::Make)?
            .map(|_| 0),
        Some(q) => crate::cpupool::qualifier_to_poolid(host.hv.as_ref(), xs, q)
            .map_err(CreateError::Make)?,
    };
    id.ok_or_else(illegal)
}

/// libxl's passthrough default and its checks against the host: an
/// IOMMU (`hvm_directio`) is needed as soon as devices are passed through
/// or `passthrough=` asks for it.
fn check_passthrough(host: &Host, plan: &CreatePlan) -> Result<(), CreateError> {
    let need = !plan.pcidevs.is_empty() || plan.dtdevs > 0;
    let mode = plan
        .passthrough
        .unwrap_or(if need { "enabled" } else { "disabled" });
    if mode != "disabled" {
        let caps = host.hv.physinfo().map_err(CreateError::Make)?.virt_caps;
        if !caps.iter().any(|c| c == "hvm_directio") {
            return Err(CreateError::NoPassthrough);
        }
    } else if need {
        return Err(CreateError::PassthroughDisabled);
    }
    Ok(())
}

/// What can be known to fail before the domain is made, refused while
/// there is nothing to undo: a host without HVM support for an HVM or PVH
/// guest, a device model binary that cannot be run.
fn preflight(host: &Host, plan: &CreatePlan) -> Result<(), Error> {
    if !plan.problems.is_empty() {
        return Err(Error::ConfigRefused(plan.problems.clone()));
    }
    if plan.kind != GuestKind::Pv {
        match host.hv.capabilities() {
            Ok(caps) => {
                if let Some(why) = no_hvm_message(plan.kind, &caps) {
                    return Err(Error::NoHvm(why));
                }
            }
            // Not known: createdomain will say what it says.
            Err(e) => crate::trace::detail(|| {
                format!(
                    "cannot read xen_caps ({}), not checked",
                    crate::error_chain(&e)
                )
            }),
        }
    }
    if let Some(dm) = &plan.device_model {
        host.dom0.check_device_model(&dm.binary, dm.binary_source)?;
    }
    Ok(())
}

/// Why a host whose xen_caps are `caps` cannot run a `kind` guest, if it
/// cannot: HVM and PVH guests both need an `hvm-` ABI, which Xen offers
/// only with VT-x or AMD-V.
pub fn no_hvm_message(kind: GuestKind, caps: &str) -> Option<String> {
    // Nothing reported is not "no HVM": leave it to createdomain.
    if kind == GuestKind::Pv
        || caps.trim().is_empty()
        || caps.split_whitespace().any(|c| c.starts_with("hvm-"))
    {
        return None;
    }
    let kind_name = if kind == GuestKind::Pvh { "PVH" } else { "HVM" };
    Some(format!(
        "this host cannot run {kind_name} guests: Xen reports no hvm capability (xen_caps: {}); \
         use type=\"pv\" or enable VT-x/AMD-V in the firmware",
        crate::printable(caps.trim())
    ))
}

fn make_domain(host: &Host, spec: &CreateSpec) -> Result<u32, Error> {
    let (hv, run) = (host.hv.as_ref(), &host.paths.run);
    for _ in 0..RECENT_DOMID_RETRIES {
        let domid = hv.create_domain(spec)?;
        if !destroy::domid_recent(run, domid) {
            return Ok(domid);
        }
        // libxl: "domain id recently used": give it back and ask again.
        hv.destroy(domid, std::time::Duration::from_secs(10))?;
    }
    Err(Error::NoFreeDomid)
}

type StepResult = Result<(), (&'static str, Error)>;

/// The environment variable of the test hook in [`pause_point`].
pub const PAUSE_AT_ENV: &str = "XL_TEST_CREATE_PAUSE_AT";

/// A test hook, inert unless `XL_TEST_CREATE_PAUSE_AT=N` is set: before
/// the N-th point of a create (0 is making the domain, then each step),
/// say so on stderr and stop there for good, so that a test can kill the
/// process at a known place and check what the next `xl` cleans up.
pub fn pause_point(what: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static REACHED: AtomicUsize = AtomicUsize::new(0);
    let Some(at) = std::env::var(PAUSE_AT_ENV)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    else {
        return;
    };
    let n = REACHED.fetch_add(1, Ordering::SeqCst);
    if n == at {
        eprintln!("xl: test hook: create paused before point {n} ({what})");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// One create step: its failure is reported with libxl's words `what`;
/// `-vv` tells how long it took.
fn step<T, E: Into<Error>>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, (&'static str, Error)> {
    pause_point(what);
    crate::trace::timed(|| format!("create step: {what}"), f).map_err(|e| (what, e.into()))
}

/// The backend domains of the store and console rings, as libxl reads
/// them (dom0 unless a stub xenstored or xenconsoled says otherwise).
fn ring_backends(xs: &Xs) -> Result<(u32, u32), xenstore::Error> {
    let read = |p: &str| -> Result<u32, xenstore::Error> {
        Ok(xs
            .try_read(p)?
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0))
    };
    Ok((
        read("/tool/xenstored/domid")?,
        read("/tool/xenconsoled/domid")?,
    ))
}

fn populate(host: &Host, xs: &Xs, plan: &CreatePlan, domid: u32, image: Image<'_>) -> StepResult {
    let (hv, dom0) = (host.hv.as_ref(), host.dom0.as_ref());
    // A plain build needs none of the domain's xenstore paths: they are
    // written meanwhile. A bootloader or a restored stream may use them.
    let beside = matches!(image, Image::Boot) && plan.bootloader.is_none();
    if !beside {
        step("cannot allocate create paths", || skeleton(xs, plan, domid))?;
    }
    step("cannot set maximum memory", || {
        hv.set_max_mem(domid, plan.memory.target_kb + MAXMEM_CONSTANT_KB)
    })?;
    let (store_domid, console_domid) = step("cannot read the ring backends", || ring_backends(xs))?;
    // The bootloader's files live until the end of this function: after
    // the build, whatever became of it.
    let boot = match (&plan.bootloader, &image) {
        (Some(bl), Image::Boot) => Some(step("bootloader failed", || {
            dom0.run_bootloader(&BootloaderRun::new(bl, domid, &host.paths))
        })?),
        _ => None,
    };
    let mut spec = BuildSpec {
        store_domid,
        console_domid,
        ..plan.build.clone()
    };
    if let Some(b) = &boot {
        spec.kernel = b.kernel.as_ref().map(|p| p.display().to_string());
        spec.ramdisk = b.ramdisk.as_ref().map(|p| p.display().to_string());
        spec.cmdline = b.args.clone();
    }
    let (built, extras) = match image {
        Image::Boot if beside => (
            build_beside_skeleton(xs, plan, domid, || {
                step("cannot (re-)build domain", || hv.build(domid, &spec))
            })?,
            crate::saverestore::StreamExtras::default(),
        ),
        Image::Boot => (
            step("cannot (re-)build domain", || hv.build(domid, &spec))?,
            crate::saverestore::StreamExtras::default(),
        ),
        Image::Stream(input) => step("cannot restore domain", || {
            crate::saverestore::read_stream(host, domid, &spec, input)
        })?,
    };
    step("cannot write build info", || {
        build_post(xs, plan, &spec, domid, &built)
    })?;
    step("cannot introduce domain to xenstored", || {
        xs.introduce_domain(domid, built.store_mfn, built.store_port)
    })?;
    for d in &plan.disks {
        step("unable to add disk devices", || {
            devices::add(dom0, xs, &for_domain(d, domid))
        })?;
    }
    for (d, backend) in &plan.channels {
        step("unable to add channels", || {
            write_with_backend(host, xs, d, backend.as_deref(), domid)
        })?;
    }
    for (d, backend) in &plan.early {
        step("unable to add a 9pfs or pvcalls device", || {
            write_with_backend(host, xs, d, backend.as_deref(), domid)
        })?;
    }
    for d in &plan.vfbs {
        step("unable to add vfb devices", || {
            devices::write(xs, &for_domain(d, domid))
        })?;
    }
    step("unable to add console", || {
        devices::write(xs, &console_device(domid, &built))
    })?;
    for (d, backend) in &plan.vkbs {
        step("unable to add vkb devices", || {
            write_with_backend(host, xs, d, backend.as_deref(), domid)
        })?;
    }
    if plan.vkbd {
        step("unable to add vkb devices", || {
            devices::write(xs, &vkbd_device(domid, 0))
        })?;
    }
    if let Some(bios) = plan.hvmloader_bios {
        step("failed to write hvmloader settings", || {
            hvmloader_nodes(xs, domid, bios)
        })?;
    }
    if let Some(dm) = &plan.device_model {
        step("failed to spawn device model", || dm.check())?;
        let mut spec = dm.spec(domid, &host.paths.run);
        spec.incoming = extras.device_model;
        step(
            "failed to restore the device model's xenstore nodes",
            || device_model_nodes(xs, domid, &extras.device_model_xenstore),
        )?;
        // The backend records its pid (image/device-model-pid) as soon as it runs.
        step("failed to spawn device model", || {
            dom0.spawn_device_model(xs, &spec)
        })?;
    }
    for n in &plan.nics {
        step("unable to add vif devices", || {
            devices::add(dom0, xs, &for_domain(n, domid))
        })?;
    }
    late_devices(host, xs, plan, domid)?;
    step("console not ready", || wait_console_tty(xs, domid))?;
    step("failed to store domain configuration", || {
        userdata::store_config(&host.paths.lib, domid, &plan.uuid, &plan.stored_config).map_err(
            |source| Error::Io {
                what: "cannot write userdata",
                source,
            },
        )
    })?;
    Ok(())
}

/// `build` with the domain's xenstore paths written meanwhile on a thread
/// of its own: under a PV dom0 xenstored takes about as long for them as
/// populating the guest's memory, which needs only hypercalls. Their
/// failure comes first, as libxl's earlier step.
fn build_beside_skeleton<T>(
    xs: &Xs,
    plan: &CreatePlan,
    domid: u32,
    build: impl FnOnce() -> Result<T, (&'static str, Error)>,
) -> Result<T, (&'static str, Error)> {
    let paths = || step("cannot allocate create paths", || skeleton(xs, plan, domid));
    std::thread::scope(|s| {
        let Ok(beside) = std::thread::Builder::new()
            .name("create-paths".into())
            .spawn_scoped(s, paths)
        else {
            // No thread: one after the other.
            paths()?;
            return build();
        };
        let built = build();
        // A panic there would have been a panic here: let it go on.
        beside
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        built
    })
}

/// domcreate_attach_devices after the nics: each kind's devices written,
/// then waited for (a backend that never answers fails the create).
/// libxl names USB controllers and devices alike by their xenstore kind.
fn late_devices(host: &Host, xs: &Xs, plan: &CreatePlan, domid: u32) -> StepResult {
    for v in &plan.vtpms {
        step("unable to add vtpm devices", || {
            crate::vdev::create_vtpm(host, xs, domid, v)
        })?;
    }
    for &(spec, devid) in &plan.usbctrls {
        step("unable to add vusb devices", || {
            with_libxl_log(|log| {
                crate::usb::add_ctrl(host, xs, domid, spec, Some(devid), false, log)
            })
        })?;
    }
    for &d in &plan.usbdevs {
        step("unable to add vusb devices", || {
            with_libxl_log(|log| crate::usb::add_dev(host, xs, domid, d, false, log))
        })?;
    }
    for d in &plan.vdispls {
        step("unable to add vdispl devices", || {
            crate::vdev::create_vdispl(host, xs, domid, d)
        })?;
    }
    for c in &plan.vsnds {
        step("unable to add vsnd devices", || {
            crate::vdev::create_vsnd(host, xs, domid, c)
        })?;
    }
    Ok(())
}

/// Runs a step that reports in libxl's log; its error lines become the
/// step's error.
fn with_libxl_log<T, E>(f: impl FnOnce(crate::pci::Log<'_>) -> Result<T, E>) -> Result<T, Error> {
    let lines = std::cell::RefCell::new(Vec::new());
    let log = |level: crate::pci::Level, m: &str| {
        if level == crate::pci::Level::Error {
            lines.borrow_mut().push(m.to_string());
        }
    };
    f(&log).map_err(|_| Error::Backend(lines.take().join("; ").into()))
}

/// A restored device model's nodes (its physmap), back where QEMU looks
/// for them as it loads its state.
fn device_model_nodes(xs: &Xs, domid: u32, nodes: &[(String, String)]) -> Result<(), Error> {
    if nodes.is_empty() {
        return Ok(());
    }
    let root = format!("/local/domain/0/device-model/{domid}");
    xs.batch(|b| {
        for (key, value) in nodes {
            b.write(&format!("{root}/{key}"), value)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// How long libxl waits for xenconsoled to take the console.
const CONSOLE_TTY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// As libxl, wait until xenconsoled has taken the console (it writes the
/// pty in `console/tty`), so `xl console` works as soon as create returns.
/// Like libxl, a console that never comes is not a failed create.
fn wait_console_tty(xs: &Xs, domid: u32) -> Result<(), xenstore::Error> {
    let path = format!("/local/domain/{domid}/console/tty");
    let token = format!("xl-tty-{}", std::process::id());
    xs.watch(&path, &token)?;
    let deadline = std::time::Instant::now() + CONSOLE_TTY_TIMEOUT;
    let result = loop {
        match xs.try_read(&path) {
            Ok(Some(tty)) if !tty.is_empty() => break Ok(()),
            Ok(_) => {}
            Err(e) => break Err(e),
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            crate::trace::info(|| format!("domain {domid}: no console tty after 10 s"));
            break Ok(());
        }
        if let Err(e) = xs.wait_watch(left) {
            break Err(e);
        }
    };
    let _ = xs.unwatch(&path, &token);
    result
}

/// A device written as libxl__device_add writes it: its backend domain
/// resolved from its name, its nodes, no wait.
fn write_with_backend(
    host: &Host,
    xs: &Xs,
    dev: &NewDevice,
    backend: Option<&str>,
    domid: u32,
) -> Result<(), Error> {
    let backend_domid = match backend {
        None => 0,
        Some(name) => crate::names::qualifier_to_domid(host.hv.as_ref(), xs, name)?
            .ok_or_else(|| Error::NoBackendDomain(name.to_string()))?,
    };
    let dev = NewDevice {
        domid,
        backend_domid,
        ..dev.clone()
    };
    Ok(devices::write(xs, &dev)?)
}

/// The channels as consoles (libxl__init_console_from_channel and
/// libxl__device_console_add): numbered by their devid, which xl sets to
/// their position, so the first one, numbered 0, is refused as an invalid
/// primary console and left out (libxl 4.17 logs it and goes on).
fn channel_devices(cfg: &DomainConfig) -> Vec<(NewDevice, Option<String>)> {
    use xl_config::domain::ChannelConnection;
    let mut out = Vec::new();
    for c in &cfg.channels {
        let Ok(devid @ 1..) = u32::try_from(c.devid) else {
            continue;
        };
        let mut back = vec![("protocol".to_string(), "vt100".to_string())];
        let mut ro = Vec::new();
        if let Some(name) = &c.name {
            ro.push(("name".to_string(), name.clone()));
            back.push(("name".to_string(), name.clone()));
        }
        let output = match &c.connection {
            ChannelConnection::Pty => {
                back.push(("connection".into(), "pty".into()));
                "pty".to_string()
            }
            ChannelConnection::Socket(path) => {
                back.push(("connection".into(), "socket".into()));
                back.push(("path".into(), path.clone()));
                format!("chardev:libxl-channel{devid}")
            }
        };
        ro.extend([
            ("limit".to_string(), "1048576".to_string()),
            ("type".to_string(), "ioemu".to_string()),
            ("output".to_string(), output),
            ("tty".to_string(), String::new()),
        ]);
        let dev = NewDevice {
            kind: "console".into(),
            backend_kind: "console".into(),
            devid,
            front: vec![("protocol".into(), "vt100".into())],
            ro_front: ro,
            back,
            ..NewDevice::default()
        };
        out.push((dev, c.backend_domname.clone()));
    }
    out
}

fn channel_notes(cfg: &DomainConfig) -> Vec<String> {
    cfg.channels
        .iter()
        .filter(|c| c.devid == 0)
        .map(|c| {
            format!(
                "Primary console has invalid configuration: channel 0 ({}) is left out, as libxl 4.17 leaves it",
                c.name.as_deref().unwrap_or("unnamed")
            )
        })
        .collect()
}

/// The 9pfs shares (numbered in order: xl leaves their devids to libxl)
/// and the PV calls interfaces.
fn early_devices(cfg: &DomainConfig) -> Vec<(NewDevice, Option<String>)> {
    let mut out = Vec::new();
    for (i, p) in cfg.p9s.iter().enumerate() {
        let mut back = Vec::new();
        if let Some(path) = &p.path {
            back.push(("path".to_string(), path.clone()));
        }
        if let Some(m) = &p.security_model {
            back.push(("security_model".to_string(), m.clone()));
        }
        let front = p
            .tag
            .iter()
            .map(|t| ("tag".to_string(), t.clone()))
            .collect();
        let dev = NewDevice {
            kind: "9pfs".into(),
            backend_kind: "9pfs".into(),
            devid: p
                .devid
                .and_then(|d| u32::try_from(d).ok())
                .unwrap_or(i as u32),
            front,
            back,
            ..NewDevice::default()
        };
        out.push((dev, p.backend_domname.clone()));
    }
    for (i, c) in cfg.pvcallsifs.iter().enumerate() {
        let dev = NewDevice {
            kind: "pvcalls".into(),
            backend_kind: "pvcalls".into(),
            devid: u32::try_from(c.devid).unwrap_or(i as u32),
            ..NewDevice::default()
        };
        out.push((dev, c.backend_domname.clone()));
    }
    out
}

/// A PV or PVH guest's keyboards (an HVM guest gets only QEMU's, which
/// `vkb_device` governs: libxl adds no others).
fn vkb_devices(cfg: &DomainConfig, kind: GuestKind) -> Vec<(NewDevice, Option<String>)> {
    if kind == GuestKind::Hvm {
        return Vec::new();
    }
    cfg.vkbs
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let devid = u32::try_from(k.devid).unwrap_or(i as u32);
            (
                crate::vdev::vkb_device(k, 0, devid, 0),
                k.backend_domname.clone(),
            )
        })
        .collect()
}

fn for_domain(dev: &NewDevice, domid: u32) -> NewDevice {
    NewDevice {
        domid,
        ..dev.clone()
    }
}

/// libxl__domain_make's xenstore transaction.
fn skeleton(xs: &Xs, plan: &CreatePlan, domid: u32) -> Result<(), xenstore::Error> {
    // One transaction, its changes pipelined: one round trip to xenstored.
    xs.transaction(|tx| -> Result<(), xenstore::Error> {
        tx.batch(|t| skeleton_nodes(t, plan, domid))
    })
}

fn skeleton_nodes(
    t: &xenstore::Batch,
    plan: &CreatePlan,
    domid: u32,
) -> Result<(), xenstore::Error> {
    let (dom, vm, libxl) = (
        &format!("/local/domain/{domid}"),
        &format!("/vm/{}", uuid_string(&plan.uuid)),
        &format!("/libxl/{domid}"),
    );
    let hvm = plan.kind == GuestKind::Hvm;
    let ro = [Perm::new(0, Access::None), Perm::new(domid, Access::Read)];
    let rw = [Perm::new(domid, Access::None)];
    let private = [Perm::new(0, Access::None)];
    for p in [dom, vm, libxl] {
        t.rm_if_present(p)?;
    }
    t.mkdir(dom)?;
    t.set_perms(dom, &ro)?;
    t.mkdir(vm)?;
    t.set_perms(vm, &ro)?;
    t.mkdir(libxl)?;
    t.set_perms(libxl, &private)?;
    t.mkdir(&format!("{libxl}/device"))?;
    t.set_perms(&format!("{libxl}/device"), &private)?;
    t.write(&format!("{dom}/vm"), vm)?;
    t.write(&format!("{dom}/name"), &plan.name)?;
    for sub in ["cpu", "memory", "device", "control"] {
        t.mkdir(&format!("{dom}/{sub}"))?;
        t.set_perms(&format!("{dom}/{sub}"), &ro)?;
    }
    let ev = format!("{dom}/device/suspend/event-channel");
    t.mkdir(&ev)?;
    t.set_perms(&ev, &rw)?;
    let mut control = vec![
        "shutdown",
        "feature-poweroff",
        "feature-reboot",
        "feature-suspend",
    ];
    if hvm {
        control.extend(["feature-s3", "feature-s4"]);
    }
    control.push("sysrq");
    for c in control {
        let p = format!("{dom}/control/{c}");
        t.mkdir(&p)?;
        t.set_perms(&p, &rw)?;
    }
    t.write(
        &format!("{dom}/control/platform-feature-multiprocessor-suspend"),
        "1",
    )?;
    t.write(
        &format!("{dom}/control/platform-feature-xs_reset_watches"),
        "1",
    )?;
    if hvm {
        t.mkdir(&format!("{dom}/hvmloader"))?;
        t.set_perms(&format!("{dom}/hvmloader"), &ro)?;
    }
    for sub in ["data", "drivers", "feature", "attr", "error"] {
        t.mkdir(&format!("{dom}/{sub}"))?;
        t.set_perms(&format!("{dom}/{sub}"), &rw)?;
    }
    t.write(&format!("{vm}/uuid"), &uuid_string(&plan.uuid))?;
    t.write(&format!("{vm}/name"), &plan.name)?;
    t.write(&format!("{libxl}/type"), plan.kind.type_name())?;
    t.write(&format!("{libxl}/dm-version"), "qemu_xen")?;
    Ok(())
}

/// libxl__build_post's nodes under /local/domain/N that the config
/// settles (the rings' come from the build).
fn dom_nodes(
    cfg: &DomainConfig,
    kind: GuestKind,
    vcpus: VcpuPlan,
    m: MemoryPlan,
) -> Vec<(String, String)> {
    let mut nodes: Vec<(String, String)> = vec![
        ("memory/static-max".into(), m.max_kb.to_string()),
        (
            "memory/target".into(),
            m.target_kb.saturating_sub(m.video_kb).to_string(),
        ),
        ("memory/videoram".into(), m.video_kb.to_string()),
    ];
    for i in 0..vcpus.max {
        let state = if i < vcpus.online {
            "online"
        } else {
            "offline"
        };
        nodes.push((format!("cpu/{i}/availability"), state.into()));
    }
    if kind == GuestKind::Hvm {
        let b = &cfg.b_info;
        let h = b.hvm();
        let flag = |v: Option<bool>, default: bool| u8::from(v.unwrap_or(default)).to_string();
        nodes.extend([
            ("platform/acpi".into(), flag(b.acpi, true)),
            (
                "platform/acpi_s3".into(),
                flag(h.and_then(|h| h.acpi_s3), true),
            ),
            (
                "platform/acpi_s4".into(),
                flag(h.and_then(|h| h.acpi_s4), true),
            ),
            (
                "platform/acpi_laptop_slate".into(),
                flag(h.and_then(|h| h.acpi_laptop_slate), false),
            ),
            ("platform/device-model".into(), "qemu_xen".into()),
        ]);
    }
    nodes
}

/// libxl__build_post's nodes under /vm/UUID (start_time is added when
/// applied).
fn vm_nodes(cfg: &DomainConfig, kind: GuestKind) -> Vec<(String, String)> {
    let b = &cfg.b_info;
    let mut nodes = Vec::new();
    match kind {
        // kernel, ramdisk and cmdline follow from the build.
        GuestKind::Pv => nodes.push(("image/ostype".into(), "linux".into())),
        GuestKind::Hvm => {
            // libxl writes an empty offset unless the config sets one.
            let offset = match b.rtc_timeoffset {
                0 => String::new(),
                o => o.to_string(),
            };
            nodes.push(("rtc/timeoffset".into(), offset));
            nodes.push(("image/ostype".into(), "hvm".into()));
        }
        GuestKind::Pvh => {}
    }
    nodes
}

/// libxl__build_post's xenstore part.
fn build_post(
    xs: &Xs,
    plan: &CreatePlan,
    spec: &BuildSpec,
    domid: u32,
    built: &Built,
) -> Result<(), xenstore::Error> {
    let dom = format!("/local/domain/{domid}");
    let vm = format!("/vm/{}", uuid_string(&plan.uuid));
    let rings = [
        ("domid".to_string(), domid.to_string()),
        ("store/port".into(), built.store_port.to_string()),
        ("store/ring-ref".into(), built.store_mfn.to_string()),
    ];
    let mut nodes: Vec<(String, String)> = Vec::new();
    let (memory, rest) = plan.dom_nodes.split_at(3.min(plan.dom_nodes.len()));
    for (p, v) in memory.iter().chain(&rings).chain(rest) {
        nodes.push((format!("{dom}/{p}"), v.clone()));
    }
    for (p, v) in &plan.vm_nodes {
        nodes.push((format!("{vm}/{p}"), v.clone()));
    }
    // What was loaded (the bootloader's choice, when there is one).
    if plan.kind == GuestKind::Pv {
        for (key, v) in [
            ("kernel", &spec.kernel),
            ("ramdisk", &spec.ramdisk),
            ("cmdline", &spec.cmdline),
        ] {
            if let Some(v) = v {
                nodes.push((format!("{vm}/image/{key}"), v.clone()));
            }
        }
    }
    nodes.push((format!("{vm}/start_time"), format!("{}.00", now_secs())));
    xs.transaction(|tx| -> Result<(), xenstore::Error> {
        tx.batch(|t| {
            for (p, v) in &nodes {
                t.write(p, v)?;
            }
            Ok(())
        })
    })
}

fn console_device(domid: u32, built: &Built) -> NewDevice {
    NewDevice {
        kind: "console".into(),
        backend_kind: "console".into(),
        domid,
        devid: 0,
        front: [
            ("limit", "1048576".to_string()),
            ("type", "xenconsoled".into()),
            ("output", "pty".into()),
            ("tty", String::new()),
            ("port", built.console_port.to_string()),
            ("ring-ref", built.console_mfn.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        back: vec![("protocol".into(), "vt100".into())],
        ..NewDevice::default()
    }
}

/// A PV keyboard (an HVM guest's, or a PV framebuffer's): QEMU is its
/// backend.
fn vkbd_device(domid: u32, devid: u32) -> NewDevice {
    NewDevice {
        kind: "vkbd".into(),
        backend_kind: "vkbd".into(),
        domid,
        devid,
        ..NewDevice::default()
    }
}

/// A PV framebuffer (libxl__set_xenstore_vfb with its defaults: VNC on,
/// on 127.0.0.1, the first free display; SDL off).
fn vfb_device(v: &xl_config::domain::Vfb) -> NewDevice {
    let flag = |on: bool| if on { "1" } else { "0" }.to_string();
    let vnc = v.vnc.enable.unwrap_or(true);
    let mut back = vec![("vnc".to_string(), flag(vnc))];
    let listen = v
        .vnc
        .listen
        .clone()
        .or_else(|| vnc.then(|| "127.0.0.1".to_string()));
    back.extend(listen.map(|l| ("vnclisten".to_string(), l)));
    back.extend(v.vnc.passwd.clone().map(|p| ("vncpasswd".to_string(), p)));
    back.push(("vncdisplay".into(), v.vnc.display.to_string()));
    back.push(("vncunused".into(), flag(v.vnc.findunused.unwrap_or(vnc))));
    back.push(("sdl".into(), flag(v.sdl.enable.unwrap_or(false))));
    back.push(("opengl".into(), flag(v.sdl.opengl.unwrap_or(false))));
    back.extend(
        v.sdl
            .xauthority
            .clone()
            .map(|x| ("xauthority".to_string(), x)),
    );
    back.extend(v.sdl.display.clone().map(|d| ("display".to_string(), d)));
    NewDevice {
        kind: "vfb".into(),
        backend_kind: "vfb".into(),
        domid: 0,
        devid: v.devid as u32,
        back,
        ..NewDevice::default()
    }
}

/// What libxl__spawn_local_dm tells hvmloader before QEMU starts: which
/// BIOS to run, and that QEMU (qemu-xen) cannot follow RAM relocated out
/// of the PCI hole.
fn hvmloader_nodes(xs: &Xs, domid: u32, bios: &str) -> Result<(), xenstore::Error> {
    let dom = format!("/local/domain/{domid}/hvmloader");
    xs.transaction(|tx| -> Result<(), xenstore::Error> {
        tx.batch(|t| {
            t.write(&format!("{dom}/bios"), bios)?;
            t.write(&format!("{dom}/allow-memory-relocate"), "0")
        })
    })
}

pub(crate) fn script_path(paths: &HostPaths, script: &str) -> String {
    if script.starts_with('/') {
        script.to_string()
    } else {
        paths.scripts.join(script).display().to_string()
    }
}

/// libxl's name of an image format in a qdisk's `params`.
pub(crate) fn qdisk_format(format: Option<&str>) -> &str {
    match format {
        None | Some("raw") => "aio",
        Some(f) => f,
    }
}

pub(crate) fn disk_device(
    paths: &HostPaths,
    kind: GuestKind,
    index: usize,
    d: &xl_config::domain::Disk,
) -> NewDevice {
    let vdev = d.vdev.clone().unwrap_or_default();
    let devid = devices::disk_devid(&vdev).unwrap_or(index as u32);
    let target = d.pdev_path.clone().unwrap_or_default();
    let qdisk = disk_is_qdisk(kind, d);
    let cdrom = d.is_cdrom != 0;
    let mut back = vec![
        ("removable", d.removable.to_string()),
        ("bootable", "1".into()),
        ("dev", vdev.clone()),
        ("mode", if d.readwrite != 0 { "w" } else { "r" }.into()),
        (
            "device-type",
            if cdrom { "cdrom" } else { "disk" }.to_string(),
        ),
    ];
    if qdisk {
        back.push(("params", format!("{}:{target}", qdisk_format(d.format))));
        back.push(("type", "qdisk".into()));
    } else {
        back.push(("params", target));
        back.push(("type", "phy".into()));
        let script = d.script.clone().unwrap_or_else(|| "block".into());
        back.push(("script", script_path(paths, &script)));
    }
    // libxl's default: discard only where the guest may write.
    back.push(("discard-enable", d.readwrite.to_string()));
    back.push(("specification", "xen".into()));
    let mut front = vec![
        ("virtual-device".to_string(), devid.to_string()),
        (
            "device-type".into(),
            if cdrom { "cdrom" } else { "disk" }.into(),
        ),
        ("trusted".into(), "1".into()),
    ];
    if kind == GuestKind::Pv {
        front.push(("protocol".into(), "x86_64-abi".into()));
    }
    NewDevice {
        kind: "vbd".into(),
        backend_kind: if qdisk { "qdisk" } else { "vbd" }.into(),
        domid: 0,
        devid,
        front,
        back: back.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        ..NewDevice::default()
    }
}

pub(crate) fn nic_devid(index: usize, n: &xl_config::domain::Nic) -> u32 {
    n.devid
        .and_then(|d| u32::try_from(d).ok())
        .unwrap_or(index as u32)
}

/// The nic's MAC, or the one libxl makes up: an address in Xen's OUI.
pub(crate) fn nic_mac(cfg: &DomainConfig, devid: u32, n: &xl_config::domain::Nic) -> [u8; 6] {
    if n.mac != [0; 6] {
        return n.mac;
    }
    let r = uuid_string(&cfg.c_info.uuid);
    let b = r.as_bytes();
    let h = |i: usize| {
        u8::from_str_radix(std::str::from_utf8(&b[i..i + 2]).unwrap_or("0"), 16).unwrap_or(0)
    };
    [0x00, 0x16, 0x3e, h(0) & 0x7f, h(2) ^ (devid as u8), h(4)]
}

/// Whether a disk gets a QEMU (qdisk) backend rather than blkback.
pub(crate) fn disk_is_qdisk(kind: GuestKind, d: &xl_config::domain::Disk) -> bool {
    d.backend == Some("qdisk")
        || d.format.is_some_and(|f| f != "raw")
        // libxl: an HVM guest's cdroms are QEMU's, so they can be changed.
        || (kind == GuestKind::Hvm && d.is_cdrom != 0)
}

/// The configuration as libxl stores it once its create-time defaults are
/// settled, as far as the lab has shown them for the real xl 4.17: the
/// domid placeholder, the video memory, msr_relaxed, each disk's backend
/// and COLO restore flag, each nic's MAC and type.
fn stored_config(cfg: &DomainConfig, video_kb: u64) -> Json {
    use crate::retrieve::{
        B_INFO_ORDER, C_INFO_ORDER, DISK_ORDER, NIC_ORDER, TOP_ORDER, obj_field, set,
    };
    let mut j = cfg.to_json();
    let c = obj_field(&mut j, "c_info", TOP_ORDER);
    if !c.iter().any(|(k, _)| k == "domid") {
        set(
            c,
            C_INFO_ORDER,
            "domid",
            Some(Json::UInt(u64::from(u32::MAX))),
        );
    }
    let b = obj_field(&mut j, "b_info", TOP_ORDER);
    set(b, B_INFO_ORDER, "video_memkb", Some(Json::UInt(video_kb)));
    if let Some((_, Json::Obj(x))) = b.iter_mut().find(|(k, _)| k == "arch_x86")
        && !x.iter().any(|(k, _)| k == "msr_relaxed")
    {
        x.push(("msr_relaxed".into(), Json::str("False")));
    }
    let kind = cfg.b_info.guest_kind();
    let hvm = kind == GuestKind::Hvm;
    if let Json::Obj(top) = &mut j {
        for (k, v) in top.iter_mut() {
            let Json::Arr(items) = v else { continue };
            match k.as_str() {
                "disks" => {
                    for (item, d) in items.iter_mut().zip(&cfg.disks) {
                        let Json::Obj(f) = item else { continue };
                        // libxl settles and stores the backend for QEMU
                        // disks; a file or device for blkback keeps none
                        // (seen with the real xl 4.17 in the lab).
                        if !f.iter().any(|(k, _)| k == "backend") && disk_is_qdisk(kind, d) {
                            set(f, DISK_ORDER, "backend", Some(Json::str("qdisk")));
                        }
                        if !f.iter().any(|(k, _)| k == "colo_restore_enable") {
                            set(
                                f,
                                DISK_ORDER,
                                "colo_restore_enable",
                                Some(Json::str("False")),
                            );
                        }
                    }
                }
                "nics" => {
                    for (i, (item, n)) in items.iter_mut().zip(&cfg.nics).enumerate() {
                        let Json::Obj(f) = item else { continue };
                        let mac = nic_mac(cfg, nic_devid(i, n), n);
                        set(
                            f,
                            NIC_ORDER,
                            "mac",
                            Some(Json::str(xl_config::domain::mac_string(&mac))),
                        );
                        if !f.iter().any(|(k, _)| k == "nictype") {
                            let t = if hvm { "vif_ioemu" } else { "vif" };
                            set(f, NIC_ORDER, "nictype", Some(Json::str(t)));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    j
}

fn nic_device(
    paths: &HostPaths,
    cfg: &DomainConfig,
    kind: GuestKind,
    index: usize,
    n: &xl_config::domain::Nic,
) -> NewDevice {
    let devid = nic_devid(index, n);
    let mac = nic_mac(cfg, devid, n);
    let nictype = if kind == GuestKind::Hvm {
        "vif_ioemu"
    } else {
        "vif"
    };
    vif_device(paths, n, devid, &mac, nictype)
}

/// A vif with its devid, MAC and type settled.
pub(crate) fn vif_device(
    paths: &HostPaths,
    n: &xl_config::domain::Nic,
    devid: u32,
    mac: &[u8; 6],
    nictype: &str,
) -> NewDevice {
    let mac = xl_config::domain::mac_string(mac);
    let script = n.script.clone().unwrap_or_else(|| "vif-bridge".into());
    let bridge = n.bridge.clone().unwrap_or_else(|| "xenbr0".into());
    let mut back = vec![
        ("script", script_path(paths, &script)),
        ("mac", mac.clone()),
        ("bridge", bridge),
        ("handle", devid.to_string()),
        ("type", nictype.to_string()),
        ("hotplug-status", String::new()),
    ];
    if let Some(ip) = &n.ip {
        back.push(("ip", ip.clone()));
    }
    if let Some(name) = &n.ifname {
        back.push(("vifname", name.clone()));
    }
    if let Some(dev) = &n.gatewaydev {
        back.push(("gatewaydev", dev.clone()));
    }
    NewDevice {
        kind: "vif".into(),
        backend_kind: "vif".into(),
        domid: 0,
        devid,
        front: vec![
            ("handle".into(), devid.to_string()),
            ("mac".into(), mac),
            ("trusted".into(), "1".into()),
        ],
        back: back.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        ..NewDevice::default()
    }
}

#[cfg(test)]
mod stored_tests {
    use super::*;

    /// What the real xl 4.17 stored for the lab's guests (recorded next
    /// to the retrieve tests), from the same config files.
    #[test]
    fn stored_like_the_real_xl() {
        let data = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/golden/retrieve/xen-4.17"
        );
        let guests = concat!(env!("CARGO_MANIFEST_DIR"), "/../../lab/guest");
        for (cfg, domid) in [("pv", 1), ("pv-dev", 2), ("pvh", 3), ("hvm", 4)] {
            let stored = std::fs::read_dir(data)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with(&format!("userdata-d.{domid}."))
                })
                .unwrap();
            let want = std::fs::read_to_string(&stored).unwrap();
            let want = want.trim_end_matches('\0');
            let text = std::fs::read_to_string(format!("{guests}/{cfg}.cfg")).unwrap();
            let host = xl_config::Host {
                max_cpus: 2,
                node_cpus: vec![vec![0, 1]],
                firmware_dir: "/usr/lib/xen-4.17/boot".into(),
            };
            let mut report = xl_config::Report::new();
            let mut c = xl_config::parse_config_data(
                "cfg",
                &text,
                &xl_config::Globals::default(),
                &host,
                &mut report,
            )
            .unwrap();
            let uuid = stored
                .file_name()
                .unwrap()
                .to_string_lossy()
                .split('.')
                .nth(2)
                .unwrap()
                .to_string();
            let hex: String = uuid.chars().filter(|c| *c != '-').collect();
            for (i, b) in c.c_info.uuid.iter_mut().enumerate() {
                *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
            }
            let got = stored_config(&c, memory_kb(&c).video_kb).to_yajl();
            // The real xl's second vif got a random MAC; ours is made
            // from the uuid.
            let mask = |s: &str| {
                s.lines()
                    .map(|l| {
                        if l.contains("\"mac\": \"00:16:3e:") && !l.contains("12:34:56") {
                            "MAC"
                        } else {
                            l
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(mask(&got), mask(want), "{cfg}");
        }
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    fn lab_config(name: &str) -> DomainConfig {
        crate::fake::lab_config(name)
    }

    fn config(text: &str) -> DomainConfig {
        crate::fake::config(text)
    }

    fn viridian(lines: &str) -> Result<u64, String> {
        let cfg = config(&format!("name = \"t\"\ntype = \"hvm\"\n{lines}\n"));
        viridian_mask(cfg.b_info.hvm().unwrap())
    }

    /// HVM_PARAM_VIRIDIAN as libxl 4.17's hvm_set_viridian_features makes it.
    #[test]
    fn viridian_groups_become_libxls_mask() {
        assert_eq!(viridian(""), Ok(0));
        // base+freq, time_ref_count, apic_assist, crash_ctl, no_vp_limit, cpu_hotplug.
        assert_eq!(viridian("viridian = 1"), Ok(0x1865));
        // No freq: HVMPV_no_freq; stimer brings time_ref_count and synic.
        assert_eq!(viridian("viridian = [ \"base\", \"stimer\" ]"), Ok(0x187));
        assert_eq!(
            viridian("viridian = [ \"defaults\", \"!crash_ctl\" ]"),
            Ok(0x1825)
        );
        assert!(
            viridian("viridian = [ \"stimer\" ]").is_err(),
            "no base group"
        );
        let plan = CreatePlan::new(
            &config("name = \"t\"\ntype = \"hvm\"\nviridian = [ \"synic\" ]\n"),
            &debian_paths(),
        );
        assert_eq!(plan.problems.len(), 1);
        // libxl refuses the old and the new USB settings together.
        let usb = |lines: &str| {
            CreatePlan::new(
                &config(&format!("name = \"t\"\ntype = \"hvm\"\n{lines}\n")),
                &debian_paths(),
            )
            .problems
        };
        assert_eq!(usb("usb = 1\nusbversion = 2").len(), 1);
        assert!(usb("usbversion = 2").is_empty());
        assert!(usb("usb = 1\nusbdevice = \"tablet\"").is_empty());
    }

    #[test]
    fn more_vcpus_than_xen_allows_are_refused_without_planning_them() {
        let plan = |maxvcpus: u32| {
            CreatePlan::new(
                &config(&format!(
                    "name = \"t\"\nkernel = \"/k\"\nmaxvcpus = {maxvcpus}\n"
                )),
                &debian_paths(),
            )
        };
        let ok = plan(8192);
        assert!(ok.problems.is_empty(), "{:?}", ok.problems);
        let huge = plan(2147483647);
        assert_eq!(
            huge.problems,
            ["2147483647 vCPUs are more than Xen allows a guest (8192)"]
        );
        assert_eq!(huge.vcpus.max, 8192);
        assert!(huge.dom_nodes.len() < 8200);
    }

    fn debian_paths() -> HostPaths {
        HostPaths {
            qemu_xen: "/usr/libexec/xen-qemu-system-i386".into(),
            ..HostPaths::under(std::path::Path::new("/"))
        }
    }

    #[test]
    fn pv_plan_has_sizes_devices_and_no_device_model() {
        let plan = CreatePlan::new(&lab_config("pv"), &debian_paths());
        assert_eq!(plan.kind, GuestKind::Pv);
        assert_eq!(plan.vcpus, VcpuPlan { max: 1, online: 1 });
        assert_eq!(
            plan.memory,
            MemoryPlan {
                max_kb: 262144,
                target_kb: 262144,
                video_kb: 0
            }
        );
        assert_eq!(plan.build.kernel.as_deref(), Some("/lab/guest/vmlinux"));
        assert!(plan.device_model.is_none());
        assert!(plan.disks.is_empty() && plan.nics.is_empty());
        assert_eq!(
            plan.vm_nodes[0],
            ("image/ostype".to_string(), "linux".to_string())
        );
    }

    /// build_post's memory and vCPU nodes, in libxl's order.
    #[test]
    fn dom_nodes_follow_the_config() {
        let plan = CreatePlan::new(&lab_config("pv-dev"), &debian_paths());
        let keys: Vec<&str> = plan.dom_nodes.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "memory/static-max",
                "memory/target",
                "memory/videoram",
                "cpu/0/availability",
                "cpu/1/availability"
            ]
        );
        assert!(
            plan.dom_nodes
                .iter()
                .all(|(k, v)| !k.starts_with("cpu") || v == "online")
        );
    }
}

#[cfg(test)]
mod preflight_tests {
    use std::os::unix::fs::PermissionsExt;

    use xenstore::Daemon;

    use super::*;
    use crate::fake::{FakeDom0, FakeHv};
    use crate::xen::XenDom0;

    const NO_HVM: &str = "xen-3.0-x86_64 xen-3.0-x86_32p";
    const WITH_HVM: &str = "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64";

    #[test]
    fn hvm_and_pvh_need_an_hvm_capability() {
        assert_eq!(
            no_hvm_message(GuestKind::Hvm, NO_HVM).as_deref(),
            Some(
                "this host cannot run HVM guests: Xen reports no hvm capability (xen_caps: \
                 xen-3.0-x86_64 xen-3.0-x86_32p); use type=\"pv\" or enable \
                 VT-x/AMD-V in the firmware"
            )
        );
        assert!(
            no_hvm_message(GuestKind::Pvh, NO_HVM)
                .unwrap()
                .starts_with("this host cannot run PVH guests: ")
        );
        assert_eq!(no_hvm_message(GuestKind::Pv, NO_HVM), None);
        assert_eq!(no_hvm_message(GuestKind::Hvm, WITH_HVM), None);
        assert_eq!(no_hvm_message(GuestKind::Pvh, WITH_HVM), None);
        // Nothing reported is not known to be "no HVM".
        assert_eq!(no_hvm_message(GuestKind::Hvm, " "), None);
    }

    struct Scratch(std::path::PathBuf);
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    struct Case {
        _dir: Scratch,
        _daemon: Daemon,
        xs: Xs,
        paths: HostPaths,
        qemu: String,
    }

    fn case(tag: &str) -> Case {
        let dir = std::env::temp_dir().join(format!("xl-preflight-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let qemu = dir.join("qemu").display().to_string();
        std::fs::write(&qemu, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&qemu, std::fs::Permissions::from_mode(0o755)).unwrap();
        let daemon = Daemon::new();
        let xs = Xs::new(daemon.connect_as(0).unwrap()).unwrap();
        // As xen-init-dom0 leaves it: libxl only creates in named pools.
        xs.write("/local/pool/0/name", "Pool-0").unwrap();
        Case {
            paths: HostPaths::under(&dir),
            _dir: Scratch(dir),
            _daemon: daemon,
            xs,
            qemu,
        }
    }

    /// Our create with a fake hypervisor reporting `caps` and the Xen
    /// backend's dom0 (which looks at the device model on disk).
    fn apply_with(c: &Case, caps: Option<&str>, text: &str) -> Result<u32, CreateError> {
        let hv = FakeHv {
            caps: caps.map(str::to_string),
            ..FakeHv::default()
        };
        let host = Host {
            hv: Box::new(hv),
            dom0: Box::new(XenDom0::new(c.paths.clone())),
            paths: c.paths.clone(),
            xenstored: crate::Xenstored::System,
        };
        let cfg = crate::fake::config(text);
        apply(&host, &c.xs, &CreatePlan::new(&cfg, &c.paths))
    }

    /// The fake makes no domain: reaching it means the checks passed.
    fn reached_make_domain(r: &Result<u32, CreateError>) -> bool {
        matches!(r, Err(CreateError::Make(_)))
    }

    fn refusal(r: Result<u32, CreateError>) -> String {
        match r {
            Err(e @ CreateError::Refused { .. }) => {
                assert_eq!(e.rc(), -3);
                crate::error_chain(&e)
            }
            other => panic!("not refused before the domain was made: {other:?}"),
        }
    }

    fn hvm(binary: &str) -> String {
        format!(
            "type=\"hvm\"\nname=\"t\"\ndevice_model_version=\"qemu-xen\"\n\
             device_model_override=\"{binary}\"\n"
        )
    }

    #[test]
    fn a_host_without_hvm_refuses_hvm_and_pvh_guests_before_making_them() {
        let c = case("nohvm");
        assert_eq!(
            refusal(apply_with(&c, Some(NO_HVM), &hvm(&c.qemu))),
            format!(
                "cannot create domain \"t\": {}",
                no_hvm_message(GuestKind::Hvm, NO_HVM).unwrap()
            )
        );
        let pvh = "type=\"pvh\"\nname=\"t\"\nkernel=\"/k\"\n";
        assert!(refusal(apply_with(&c, Some(NO_HVM), pvh)).contains("cannot run PVH guests"));
        // PV guests do not need it; unknown capabilities are not checked.
        let pv = "type=\"pv\"\nname=\"t\"\nkernel=\"/k\"\n";
        assert!(reached_make_domain(&apply_with(&c, Some(NO_HVM), pv)));
        assert!(reached_make_domain(&apply_with(&c, None, &hvm(&c.qemu))));
        assert!(reached_make_domain(&apply_with(
            &c,
            Some(WITH_HVM),
            &hvm(&c.qemu)
        )));
    }

    #[test]
    fn a_device_model_that_cannot_run_is_refused_before_the_domain_is_made() {
        let c = case("dm");
        let missing = format!("{}.missing", c.qemu);
        assert_eq!(
            refusal(apply_with(&c, Some(WITH_HVM), &hvm(&missing))),
            format!(
                "cannot create domain \"t\": device model {missing} (device_model_override in \
                 the config) does not exist: fix device_model_override= (or remove it to use \
                 the default qemu-xen)"
            )
        );
        // Without an override, the host's qemu-xen path is the one named.
        let mut default = c.paths.clone();
        default.qemu_xen = missing.clone().into();
        let c2 = Case {
            paths: default,
            ..case("dm-default")
        };
        let text = "type=\"hvm\"\nname=\"t\"\n";
        assert!(
            refusal(apply_with(&c2, Some(WITH_HVM), text)).contains(&format!(
                "device model {missing} (the default qemu-xen path) does not exist: install \
                 qemu-xen"
            ))
        );
    }

    #[test]
    fn a_pool_without_a_name_is_refused_before_the_domain_is_made() {
        let c = case("pool");
        let pv = "type=\"pv\"\nname=\"t\"\nkernel=\"/k\"\n";
        let with_pool = format!("{pv}pool=\"0\"\n");
        assert!(reached_make_domain(&apply_with(&c, None, &with_pool)));
        for (text, named) in [(with_pool.as_str(), Some("0")), (pv, None)] {
            c.xs.rm("/local/pool/0/name").unwrap();
            match apply_with(&c, None, text) {
                Err(e @ CreateError::IllegalPool(_)) => {
                    assert_eq!(e.rc(), -6);
                    assert_eq!(
                        e.to_string(),
                        format!("Illegal pool specified: {}", named.unwrap_or("(null)"))
                    );
                }
                other => panic!("{other:?}"),
            }
            c.xs.write("/local/pool/0/name", "Pool-0").unwrap();
        }
    }

    #[test]
    fn backends_without_a_binary_to_check_are_not_refused() {
        let c = case("sim");
        let hv = FakeHv {
            caps: Some(WITH_HVM.into()),
            ..FakeHv::default()
        };
        let host = crate::fake::host(hv, FakeDom0::default(), c.paths.clone());
        let cfg = crate::fake::config(&hvm("/nowhere/qemu"));
        let r = apply(&host, &c.xs, &CreatePlan::new(&cfg, &c.paths));
        assert!(reached_make_domain(&r), "{r:?}");
    }

    #[test]
    fn a_rollback_reaches_the_hypervisor_and_reports_its_own_failures() {
        let c = case("rollback");
        // The domid history cannot be written: its lock's name is taken.
        std::fs::create_dir_all(c.paths.run.join("domid-history.lock")).unwrap();
        let hv = FakeHv {
            create_as: Some(5),
            ..FakeHv::default()
        };
        let host = crate::fake::host(hv, FakeDom0::default(), c.paths.clone());
        // The fake has no set_max_mem: populate fails after the domain is made.
        let cfg = crate::fake::config("type=\"pv\"\nname=\"t\"\nkernel=\"/k\"\n");
        let e = apply(&host, &c.xs, &CreatePlan::new(&cfg, &c.paths)).unwrap_err();
        assert!(host.hv.domain(5).unwrap().is_none(), "domain 5 left behind");
        let text = crate::error_chain(&e);
        assert!(
            matches!(&e, CreateError::Step { domid: 5, rollback, .. }
                if rollback.iter().any(|p| p.contains("domid-history.lock"))),
            "{text}"
        );
        assert!(
            text.starts_with(
                "Domain 5:cannot set maximum memory (destroying the half-made domain: "
            ),
            "{text}"
        );
    }
}
