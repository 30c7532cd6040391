//! Typed domain configuration: the parts of `libxl_domain_config` that xl
//! fills from an xl.cfg, with `None` meaning "left at libxl's default".
//! `to_json` prints them in libxl's IDL field order (Xen 4.17).

use crate::json::{Json, Obj};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainType {
    Hvm,
    Pv,
    Pvh,
}

impl DomainType {
    pub fn name(self) -> &'static str {
        match self {
            DomainType::Hvm => "hvm",
            DomainType::Pv => "pv",
            DomainType::Pvh => "pvh",
        }
    }
}

/// `libxl_action_on_shutdown`, named as in xl.cfg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Destroy,
    Restart,
    RestartRename,
    Preserve,
    CoredumpDestroy,
    CoredumpRestart,
    SoftReset,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::Destroy,
        Action::Restart,
        Action::RestartRename,
        Action::Preserve,
        Action::CoredumpDestroy,
        Action::CoredumpRestart,
        Action::SoftReset,
    ];

    /// The xl.cfg spelling.
    pub fn cfg_name(self) -> &'static str {
        match self {
            Action::Destroy => "destroy",
            Action::Restart => "restart",
            Action::RestartRename => "rename-restart",
            Action::Preserve => "preserve",
            Action::CoredumpDestroy => "coredump-destroy",
            Action::CoredumpRestart => "coredump-restart",
            Action::SoftReset => "soft-reset",
        }
    }

    /// The libxl JSON spelling.
    pub fn json_name(self) -> &'static str {
        match self {
            Action::Destroy => "destroy",
            Action::Restart => "restart",
            Action::RestartRename => "restart_rename",
            Action::Preserve => "preserve",
            Action::CoredumpDestroy => "coredump_destroy",
            Action::CoredumpRestart => "coredump_restart",
            Action::SoftReset => "soft_reset",
        }
    }

    pub fn from_cfg(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.cfg_name() == s)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateInfo {
    pub hap: Option<bool>,
    pub oos: Option<bool>,
    pub ssid_label: Option<String>,
    pub name: String,
    pub uuid: [u8; 16],
    pub pool_name: Option<String>,
    pub run_hotplug_scripts: Option<bool>,
    pub driver_domain: Option<bool>,
    pub passthrough: Option<&'static str>,
    pub xend_suspend_evtchn_compat: Option<bool>,
}

pub fn uuid_string(u: &[u8; 16]) -> String {
    let h: Vec<String> = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}

/// Parse a UUID the way libxl does (36 chars, hex digits and dashes).
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchedParams {
    /// The scheduler the parameters are for (a retrieved config names it).
    pub sched: Option<&'static str>,
    pub weight: Option<i64>,
    pub cap: Option<i64>,
    pub period: Option<i64>,
    pub budget: Option<i64>,
    pub extratime: Option<i64>,
    pub slice: Option<i64>,
    pub latency: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vnc {
    pub enable: Option<bool>,
    pub listen: Option<String>,
    pub passwd: Option<String>,
    pub display: i64,
    pub findunused: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sdl {
    pub enable: Option<bool>,
    pub opengl: Option<bool>,
    pub display: Option<String>,
    pub xauthority: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spice {
    pub enable: Option<bool>,
    pub port: i64,
    pub tls_port: i64,
    pub host: Option<String>,
    pub disable_ticketing: Option<bool>,
    pub passwd: Option<String>,
    pub agent_mouse: Option<bool>,
    pub vdagent: Option<bool>,
    pub clipboard_sharing: Option<bool>,
    pub usbredirection: i64,
    pub image_compression: Option<String>,
    pub streaming_video: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HvmInfo {
    pub firmware: Option<String>,
    pub bios: Option<&'static str>,
    pub pae: Option<bool>,
    pub acpi_s3: Option<bool>,
    pub acpi_s4: Option<bool>,
    pub acpi_laptop_slate: Option<bool>,
    pub nx: Option<bool>,
    pub viridian: Option<bool>,
    pub viridian_enable: Vec<u32>,
    pub viridian_disable: Vec<u32>,
    pub hpet: Option<bool>,
    pub vpt_align: Option<bool>,
    pub mmio_hole_memkb: Option<u64>,
    pub altp2m: Option<bool>,
    pub system_firmware: Option<String>,
    pub smbios_firmware: Option<String>,
    pub acpi_firmware: Option<String>,
    pub hdtype: Option<&'static str>,
    pub nographic: Option<bool>,
    pub vga: Option<&'static str>,
    pub vnc: Vnc,
    pub keymap: Option<String>,
    pub sdl: Sdl,
    pub spice: Spice,
    pub gfx_passthru: Option<bool>,
    pub gfx_passthru_kind: Option<&'static str>,
    pub serial: Option<String>,
    pub boot: Option<String>,
    pub usb: Option<bool>,
    pub usbversion: i64,
    pub usbdevice: Option<String>,
    pub vkb_device: Option<bool>,
    pub soundhw: Option<String>,
    pub xen_platform_pci: Option<bool>,
    pub usbdevice_list: Vec<String>,
    pub vendor_device: Option<&'static str>,
    pub ms_vm_genid: Option<[u8; 16]>,
    pub serial_list: Vec<String>,
    pub rdm_strategy: Option<&'static str>,
    pub rdm_policy: Option<&'static str>,
    pub rdm_mem_boundary_memkb: Option<u64>,
    pub mca_caps: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PvInfo {
    pub e820_host: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PvhInfo {
    pub pvshim: Option<bool>,
    pub pvshim_path: Option<String>,
    pub pvshim_cmdline: Option<String>,
    pub pvshim_extra: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeInfo {
    Hvm(Box<HvmInfo>),
    Pv(PvInfo),
    Pvh(PvhInfo),
}

impl TypeInfo {
    pub fn domain_type(&self) -> DomainType {
        match self {
            TypeInfo::Hvm(_) => DomainType::Hvm,
            TypeInfo::Pv(_) => DomainType::Pv,
            TypeInfo::Pvh(_) => DomainType::Pvh,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildInfo {
    pub max_vcpus: i64,
    pub avail_vcpus: Vec<u32>,
    pub vcpu_hard_affinity: Vec<Vec<u32>>,
    pub vcpu_soft_affinity: Vec<Vec<u32>>,
    pub numa_placement: Option<bool>,
    pub tsc_mode: Option<&'static str>,
    pub max_memkb: Option<u64>,
    pub target_memkb: Option<u64>,
    pub video_memkb: Option<u64>,
    pub shadow_memkb: Option<u64>,
    pub rtc_timeoffset: u32,
    pub exec_ssid_label: Option<String>,
    pub localtime: Option<bool>,
    pub disable_migrate: Option<bool>,
    pub blkdev_start: Option<String>,
    pub vnuma_nodes: Vec<crate::vnuma::VnodeInfo>,
    pub cpuid: Option<crate::cpuid::CpuidPolicy>,
    pub max_grant_frames: Option<u32>,
    pub max_maptrack_frames: Option<u32>,
    pub max_grant_version: Option<i64>,
    pub device_model_version: Option<&'static str>,
    pub device_model_stubdomain: Option<bool>,
    pub stubdomain_memkb: Option<u64>,
    pub stubdomain_kernel: Option<String>,
    pub stubdomain_cmdline: Option<String>,
    pub stubdomain_ramdisk: Option<String>,
    pub device_model: Option<String>,
    pub device_model_ssid_label: Option<String>,
    pub device_model_user: Option<String>,
    pub extra: Vec<String>,
    pub extra_pv: Vec<String>,
    pub extra_hvm: Vec<String>,
    pub sched_params: SchedParams,
    pub ioports: Vec<(u32, u32)>,
    pub irqs: Vec<u32>,
    pub iomem: Vec<(u64, u64, Option<u64>)>,
    pub claim_mode: Option<bool>,
    pub event_channels: u32,
    pub kernel: Option<String>,
    pub cmdline: Option<String>,
    pub ramdisk: Option<String>,
    pub device_tree: Option<String>,
    pub acpi: Option<bool>,
    pub bootloader: Option<String>,
    pub bootloader_args: Vec<String>,
    pub timer_mode: Option<&'static str>,
    pub nested_hvm: Option<bool>,
    pub apic: Option<bool>,
    pub dm_restrict: Option<bool>,
    pub tee: Option<&'static str>,
    pub u: TypeInfo,
    pub gic_version: Option<&'static str>,
    pub vuart: Option<&'static str>,
    pub msr_relaxed: Option<bool>,
    pub altp2m: Option<&'static str>,
    pub vmtrace_buf_kb: i64,
    pub vpmu: Option<bool>,
}

impl BuildInfo {
    pub fn new(t: DomainType) -> Self {
        BuildInfo {
            max_vcpus: 0,
            avail_vcpus: Vec::new(),
            vcpu_hard_affinity: Vec::new(),
            vcpu_soft_affinity: Vec::new(),
            numa_placement: None,
            tsc_mode: None,
            max_memkb: None,
            target_memkb: None,
            video_memkb: None,
            shadow_memkb: None,
            rtc_timeoffset: 0,
            exec_ssid_label: None,
            localtime: None,
            disable_migrate: None,
            blkdev_start: None,
            vnuma_nodes: Vec::new(),
            cpuid: None,
            max_grant_frames: None,
            max_maptrack_frames: None,
            max_grant_version: None,
            device_model_version: None,
            device_model_stubdomain: None,
            stubdomain_memkb: None,
            stubdomain_kernel: None,
            stubdomain_cmdline: None,
            stubdomain_ramdisk: None,
            device_model: None,
            device_model_ssid_label: None,
            device_model_user: None,
            extra: Vec::new(),
            extra_pv: Vec::new(),
            extra_hvm: Vec::new(),
            sched_params: SchedParams::default(),
            ioports: Vec::new(),
            irqs: Vec::new(),
            iomem: Vec::new(),
            claim_mode: None,
            event_channels: 0,
            kernel: None,
            cmdline: None,
            ramdisk: None,
            device_tree: None,
            acpi: None,
            bootloader: None,
            bootloader_args: Vec::new(),
            timer_mode: None,
            nested_hvm: None,
            apic: None,
            dm_restrict: None,
            tee: None,
            u: match t {
                DomainType::Hvm => TypeInfo::Hvm(Box::default()),
                DomainType::Pv => TypeInfo::Pv(PvInfo::default()),
                DomainType::Pvh => TypeInfo::Pvh(PvhInfo::default()),
            },
            gic_version: None,
            vuart: None,
            msr_relaxed: None,
            altp2m: None,
            vmtrace_buf_kb: 0,
            vpmu: None,
        }
    }

    pub fn domain_type(&self) -> DomainType {
        self.u.domain_type()
    }

    pub fn hvm(&self) -> Option<&HvmInfo> {
        match &self.u {
            TypeInfo::Hvm(h) => Some(h),
            _ => None,
        }
    }
}

/// Disk backend / format / specification enums are kept as their libxl
/// JSON names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Disk {
    pub backend_domname: Option<String>,
    pub pdev_path: Option<String>,
    pub vdev: Option<String>,
    pub backend: Option<&'static str>,
    pub format: Option<&'static str>,
    pub script: Option<String>,
    pub removable: i64,
    pub readwrite: i64,
    pub is_cdrom: i64,
    pub direct_io_safe: bool,
    pub discard_enable: Option<bool>,
    pub specification: Option<&'static str>,
    pub colo_enable: Option<bool>,
    pub colo_restore_enable: Option<bool>,
    pub colo_host: Option<String>,
    pub colo_port: i64,
    pub colo_export: Option<String>,
    pub active_disk: Option<String>,
    pub hidden_disk: Option<String>,
    pub trusted: Option<bool>,
}

/// The COLO string fields of `libxl_device_nic`, in IDL order.
pub const NIC_COLO_FIELDS: &[&str] = &[
    "coloft_forwarddev",
    "colo_sock_mirror_id",
    "colo_sock_mirror_ip",
    "colo_sock_mirror_port",
    "colo_sock_compare_pri_in_id",
    "colo_sock_compare_pri_in_ip",
    "colo_sock_compare_pri_in_port",
    "colo_sock_compare_sec_in_id",
    "colo_sock_compare_sec_in_ip",
    "colo_sock_compare_sec_in_port",
    "colo_sock_compare_notify_id",
    "colo_sock_compare_notify_ip",
    "colo_sock_compare_notify_port",
    "colo_sock_redirector0_id",
    "colo_sock_redirector0_ip",
    "colo_sock_redirector0_port",
    "colo_sock_redirector1_id",
    "colo_sock_redirector1_ip",
    "colo_sock_redirector1_port",
    "colo_sock_redirector2_id",
    "colo_sock_redirector2_ip",
    "colo_sock_redirector2_port",
    "colo_filter_mirror_queue",
    "colo_filter_mirror_outdev",
    "colo_filter_redirector0_queue",
    "colo_filter_redirector0_indev",
    "colo_filter_redirector0_outdev",
    "colo_filter_redirector1_queue",
    "colo_filter_redirector1_indev",
    "colo_filter_redirector1_outdev",
    "colo_compare_pri_in",
    "colo_compare_sec_in",
    "colo_compare_out",
    "colo_compare_notify_dev",
    "colo_sock_sec_redirector0_id",
    "colo_sock_sec_redirector0_ip",
    "colo_sock_sec_redirector0_port",
    "colo_sock_sec_redirector1_id",
    "colo_sock_sec_redirector1_ip",
    "colo_sock_sec_redirector1_port",
    "colo_filter_sec_redirector0_queue",
    "colo_filter_sec_redirector0_indev",
    "colo_filter_sec_redirector0_outdev",
    "colo_filter_sec_redirector1_queue",
    "colo_filter_sec_redirector1_indev",
    "colo_filter_sec_redirector1_outdev",
    "colo_filter_sec_rewriter0_queue",
    "colo_checkpoint_host",
    "colo_checkpoint_port",
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Nic {
    pub backend_domname: Option<String>,
    pub devid: Option<i64>,
    pub mtu: i64,
    pub model: Option<String>,
    pub mac: [u8; 6],
    pub ip: Option<String>,
    pub bridge: Option<String>,
    pub ifname: Option<String>,
    pub script: Option<String>,
    pub nictype: Option<&'static str>,
    pub rate_bytes_per_interval: u64,
    pub rate_interval_usecs: u32,
    pub gatewaydev: Option<String>,
    /// COLO settings by field name (see `NIC_COLO_FIELDS`).
    pub colo: Vec<(&'static str, String)>,
    pub trusted: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pci {
    pub func: u8,
    pub dev: u8,
    pub bus: u8,
    pub domain: i64,
    pub vdevfn: u32,
    pub vfunc_mask: u32,
    pub msitranslate: bool,
    pub power_mgmt: bool,
    pub permissive: bool,
    pub seize: bool,
    pub rdm_policy: Option<&'static str>,
    pub name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vfb {
    pub devid: i64,
    pub vnc: Vnc,
    pub sdl: Sdl,
    pub keymap: Option<String>,
}

pub use crate::vdev::{Pvcallsif, Usbctrl, Usbdev, Vdispl, Vkb, Vsnd};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vtpm {
    pub backend_domname: Option<String>,
    pub devid: i64,
    pub uuid: [u8; 16],
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct P9 {
    pub backend_domname: Option<String>,
    pub tag: Option<String>,
    pub path: Option<String>,
    pub security_model: Option<String>,
    /// xl re-initialises p9 entries after numbering them, so it stays unset.
    pub devid: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelConnection {
    Pty,
    Socket(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    pub backend_domname: Option<String>,
    pub devid: i64,
    pub name: Option<String>,
    pub connection: ChannelConnection,
}

/// The whole domain configuration as xl hands it to libxl.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainConfig {
    pub c_info: CreateInfo,
    pub b_info: BuildInfo,
    pub disks: Vec<Disk>,
    pub nics: Vec<Nic>,
    pub pcidevs: Vec<Pci>,
    pub dtdevs: Vec<String>,
    pub vfbs: Vec<Vfb>,
    pub vkbs: Vec<Vkb>,
    pub vtpms: Vec<Vtpm>,
    pub p9s: Vec<P9>,
    pub pvcallsifs: Vec<Pvcallsif>,
    pub vdispls: Vec<Vdispl>,
    pub vsnds: Vec<Vsnd>,
    pub channels: Vec<Channel>,
    pub usbctrls: Vec<Usbctrl>,
    pub usbdevs: Vec<Usbdev>,
    pub on_poweroff: Action,
    pub on_reboot: Action,
    pub on_watchdog: Action,
    pub on_crash: Action,
    pub on_soft_reset: Action,
}

fn sched_json(s: &SchedParams) -> Json {
    Obj::new()
        .enum_("sched", s.sched)
        .int("weight", s.weight)
        .int("cap", s.cap)
        .int("period", s.period)
        .int("budget", s.budget)
        .int("extratime", s.extratime)
        .int("slice", s.slice)
        .int("latency", s.latency)
        .build()
}

fn vnc_json(v: &Vnc) -> Json {
    Obj::new()
        .defbool("enable", v.enable)
        .string("listen", &v.listen)
        .string("passwd", &v.passwd)
        .nonzero("display", v.display)
        .defbool("findunused", v.findunused)
        .build()
}

fn sdl_json(s: &Sdl) -> Json {
    Obj::new()
        .defbool("enable", s.enable)
        .defbool("opengl", s.opengl)
        .string("display", &s.display)
        .string("xauthority", &s.xauthority)
        .build()
}

fn spice_json(s: &Spice) -> Json {
    Obj::new()
        .defbool("enable", s.enable)
        .nonzero("port", s.port)
        .nonzero("tls_port", s.tls_port)
        .string("host", &s.host)
        .defbool("disable_ticketing", s.disable_ticketing)
        .string("passwd", &s.passwd)
        .defbool("agent_mouse", s.agent_mouse)
        .defbool("vdagent", s.vdagent)
        .defbool("clipboard_sharing", s.clipboard_sharing)
        .nonzero("usbredirection", s.usbredirection)
        .string("image_compression", &s.image_compression)
        .string("streaming_video", &s.streaming_video)
        .build()
}

fn hvm_json(h: &HvmInfo) -> Json {
    Obj::new()
        .string("firmware", &h.firmware)
        .enum_("bios", h.bios)
        .defbool("pae", h.pae)
        .defbool("acpi_s3", h.acpi_s3)
        .defbool("acpi_s4", h.acpi_s4)
        .defbool("acpi_laptop_slate", h.acpi_laptop_slate)
        .defbool("nx", h.nx)
        .defbool("viridian", h.viridian)
        .bitmap("viridian_enable", &h.viridian_enable)
        .bitmap("viridian_disable", &h.viridian_disable)
        .defbool("hpet", h.hpet)
        .defbool("vpt_align", h.vpt_align)
        .uint("mmio_hole_memkb", h.mmio_hole_memkb)
        .defbool("altp2m", h.altp2m)
        .string("system_firmware", &h.system_firmware)
        .string("smbios_firmware", &h.smbios_firmware)
        .string("acpi_firmware", &h.acpi_firmware)
        .enum_("hdtype", h.hdtype)
        .defbool("nographic", h.nographic)
        .field("vga", Obj::new().enum_("kind", h.vga).build())
        .field("vnc", vnc_json(&h.vnc))
        .string("keymap", &h.keymap)
        .field("sdl", sdl_json(&h.sdl))
        .field("spice", spice_json(&h.spice))
        .defbool("gfx_passthru", h.gfx_passthru)
        .enum_("gfx_passthru_kind", h.gfx_passthru_kind)
        .string("serial", &h.serial)
        .string("boot", &h.boot)
        .defbool("usb", h.usb)
        .nonzero("usbversion", h.usbversion)
        .string("usbdevice", &h.usbdevice)
        .defbool("vkb_device", h.vkb_device)
        .string("soundhw", &h.soundhw)
        .defbool("xen_platform_pci", h.xen_platform_pci)
        .strings("usbdevice_list", &h.usbdevice_list)
        .enum_("vendor_device", h.vendor_device)
        .field_opt(
            "ms_vm_genid",
            h.ms_vm_genid
                .map(|g| Json::Arr(g.iter().map(|b| Json::Int(i64::from(*b))).collect())),
        )
        .strings("serial_list", &h.serial_list)
        .field(
            "rdm",
            Obj::new()
                .enum_("strategy", h.rdm_strategy)
                .enum_("policy", h.rdm_policy)
                .build(),
        )
        .uint("rdm_mem_boundary_memkb", h.rdm_mem_boundary_memkb)
        .nonzero_u("mca_caps", h.mca_caps)
        .build()
}

impl Obj {
    fn field_opt(self, k: &str, v: Option<Json>) -> Self {
        match v {
            Some(j) => self.field(k, j),
            None => self,
        }
    }
}

impl DomainConfig {
    pub fn domain_type(&self) -> DomainType {
        self.b_info.domain_type()
    }

    pub fn c_info_json(&self) -> Json {
        let c = &self.c_info;
        Obj::new()
            .enum_("type", Some(self.domain_type().name()))
            .defbool("hap", c.hap)
            .defbool("oos", c.oos)
            .string("ssid_label", &c.ssid_label)
            .field("name", Json::str(c.name.clone()))
            .field_opt(
                "uuid",
                (c.uuid != [0; 16]).then(|| Json::str(uuid_string(&c.uuid))),
            )
            .string("pool_name", &c.pool_name)
            .defbool("run_hotplug_scripts", c.run_hotplug_scripts)
            .defbool("driver_domain", c.driver_domain)
            .enum_("passthrough", c.passthrough)
            .defbool("xend_suspend_evtchn_compat", c.xend_suspend_evtchn_compat)
            .build()
    }

    pub fn b_info_json(&self) -> Json {
        let b = &self.b_info;
        let bitmaps = |v: &Vec<Vec<u32>>| -> Vec<Json> {
            v.iter()
                .map(|m| Json::Arr(m.iter().map(|i| Json::Int(i64::from(*i))).collect()))
                .collect()
        };
        let (ukey, ujson) = match &b.u {
            TypeInfo::Hvm(h) => ("type.hvm", hvm_json(h)),
            TypeInfo::Pv(p) => (
                "type.pv",
                Obj::new().defbool("e820_host", p.e820_host).build(),
            ),
            TypeInfo::Pvh(p) => (
                "type.pvh",
                Obj::new()
                    .defbool("pvshim", p.pvshim)
                    .string("pvshim_path", &p.pvshim_path)
                    .string("pvshim_cmdline", &p.pvshim_cmdline)
                    .string("pvshim_extra", &p.pvshim_extra)
                    .build(),
            ),
        };
        Obj::new()
            .nonzero("max_vcpus", b.max_vcpus)
            .bitmap("avail_vcpus", &b.avail_vcpus)
            .array("vcpu_hard_affinity", bitmaps(&b.vcpu_hard_affinity))
            .array("vcpu_soft_affinity", bitmaps(&b.vcpu_soft_affinity))
            .defbool("numa_placement", b.numa_placement)
            .enum_("tsc_mode", b.tsc_mode)
            .uint("max_memkb", b.max_memkb)
            .uint("target_memkb", b.target_memkb)
            .uint("video_memkb", b.video_memkb)
            .uint("shadow_memkb", b.shadow_memkb)
            .nonzero_u("rtc_timeoffset", u64::from(b.rtc_timeoffset))
            .string("exec_ssid_label", &b.exec_ssid_label)
            .defbool("localtime", b.localtime)
            .defbool("disable_migrate", b.disable_migrate)
            .field_opt(
                "cpuid",
                b.cpuid.as_ref().map(crate::cpuid::CpuidPolicy::to_json),
            )
            .string("blkdev_start", &b.blkdev_start)
            .array(
                "vnuma_nodes",
                b.vnuma_nodes
                    .iter()
                    .map(crate::vnuma::VnodeInfo::to_json)
                    .collect(),
            )
            .uint("max_grant_frames", b.max_grant_frames.map(u64::from))
            .uint("max_maptrack_frames", b.max_maptrack_frames.map(u64::from))
            .int("max_grant_version", b.max_grant_version)
            .enum_("device_model_version", b.device_model_version)
            .defbool("device_model_stubdomain", b.device_model_stubdomain)
            .uint("stubdomain_memkb", b.stubdomain_memkb)
            .string("stubdomain_kernel", &b.stubdomain_kernel)
            .string("stubdomain_cmdline", &b.stubdomain_cmdline)
            .string("stubdomain_ramdisk", &b.stubdomain_ramdisk)
            .string("device_model", &b.device_model)
            .string("device_model_ssid_label", &b.device_model_ssid_label)
            .string("device_model_user", &b.device_model_user)
            .strings("extra", &b.extra)
            .strings("extra_pv", &b.extra_pv)
            .strings("extra_hvm", &b.extra_hvm)
            .field("sched_params", sched_json(&b.sched_params))
            .array(
                "ioports",
                b.ioports
                    .iter()
                    .map(|(f, n)| {
                        Obj::new()
                            .nonzero_u("first", u64::from(*f))
                            .nonzero_u("number", u64::from(*n))
                            .build()
                    })
                    .collect(),
            )
            .array(
                "irqs",
                b.irqs.iter().map(|i| Json::Int(i64::from(*i))).collect(),
            )
            .array(
                "iomem",
                b.iomem
                    .iter()
                    .map(|(s, n, g)| {
                        Obj::new()
                            .nonzero_u("start", *s)
                            .nonzero_u("number", *n)
                            .uint("gfn", *g)
                            .build()
                    })
                    .collect(),
            )
            .defbool("claim_mode", b.claim_mode)
            .nonzero_u("event_channels", u64::from(b.event_channels))
            .string("kernel", &b.kernel)
            .string("cmdline", &b.cmdline)
            .string("ramdisk", &b.ramdisk)
            .string("device_tree", &b.device_tree)
            .defbool("acpi", b.acpi)
            .string("bootloader", &b.bootloader)
            .strings("bootloader_args", &b.bootloader_args)
            .enum_("timer_mode", b.timer_mode)
            .defbool("nested_hvm", b.nested_hvm)
            .defbool("apic", b.apic)
            .defbool("dm_restrict", b.dm_restrict)
            .enum_("tee", b.tee)
            .field(ukey, ujson)
            .field(
                "arch_arm",
                Obj::new()
                    .enum_("gic_version", b.gic_version)
                    .enum_("vuart", b.vuart)
                    .build(),
            )
            .field(
                "arch_x86",
                Obj::new().defbool("msr_relaxed", b.msr_relaxed).build(),
            )
            .enum_("altp2m", b.altp2m)
            .nonzero("vmtrace_buf_kb", b.vmtrace_buf_kb)
            .defbool("vpmu", b.vpmu)
            .build()
    }

    /// `libxl_domain_config` as libxl's JSON generator prints it.
    pub fn to_json(&self) -> Json {
        let not_destroy = |a: Action| (a != Action::Destroy).then(|| a.json_name());
        Obj::new()
            .field("c_info", self.c_info_json())
            .field("b_info", self.b_info_json())
            .array("disks", self.disks.iter().map(disk_json).collect())
            .array("nics", self.nics.iter().map(nic_json).collect())
            .array("pcidevs", self.pcidevs.iter().map(pci_json).collect())
            .array(
                "dtdevs",
                self.dtdevs
                    .iter()
                    .map(|p| Obj::new().field("path", Json::str(p.clone())).build())
                    .collect(),
            )
            .array("vfbs", self.vfbs.iter().map(vfb_json).collect())
            .array("vkbs", self.vkbs.iter().map(Vkb::to_json).collect())
            .array("vtpms", self.vtpms.iter().map(vtpm_json).collect())
            .array("p9s", self.p9s.iter().map(p9_json).collect())
            .array(
                "pvcallsifs",
                self.pvcallsifs.iter().map(Pvcallsif::to_json).collect(),
            )
            .array(
                "vdispls",
                self.vdispls.iter().map(Vdispl::to_json).collect(),
            )
            .array("vsnds", self.vsnds.iter().map(Vsnd::to_json).collect())
            .array("channels", self.channels.iter().map(channel_json).collect())
            .array(
                "usbctrls",
                self.usbctrls.iter().map(Usbctrl::to_json).collect(),
            )
            .array(
                "usbdevs",
                self.usbdevs.iter().map(Usbdev::to_json).collect(),
            )
            .enum_("on_poweroff", not_destroy(self.on_poweroff))
            .enum_("on_reboot", not_destroy(self.on_reboot))
            .enum_("on_watchdog", not_destroy(self.on_watchdog))
            .enum_("on_crash", not_destroy(self.on_crash))
            .enum_("on_soft_reset", not_destroy(self.on_soft_reset))
            .build()
    }
}

pub fn disk_json(d: &Disk) -> Json {
    Obj::new()
        .string("backend_domname", &d.backend_domname)
        .string("pdev_path", &d.pdev_path)
        .string("vdev", &d.vdev)
        .enum_("backend", d.backend)
        .enum_("format", d.format)
        .string("script", &d.script)
        .nonzero("removable", d.removable)
        .nonzero("readwrite", d.readwrite)
        .nonzero("is_cdrom", d.is_cdrom)
        .field_opt(
            "direct_io_safe",
            d.direct_io_safe.then_some(Json::Bool(true)),
        )
        .defbool("discard_enable", d.discard_enable)
        .enum_("specification", d.specification)
        .defbool("colo_enable", d.colo_enable)
        .defbool("colo_restore_enable", d.colo_restore_enable)
        .string("colo_host", &d.colo_host)
        .nonzero("colo_port", d.colo_port)
        .string("colo_export", &d.colo_export)
        .string("active_disk", &d.active_disk)
        .string("hidden_disk", &d.hidden_disk)
        .defbool("trusted", d.trusted)
        .build()
}

pub fn mac_string(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn nic_json(n: &Nic) -> Json {
    let mut o = Obj::new()
        .string("backend_domname", &n.backend_domname)
        .int("devid", n.devid)
        .nonzero("mtu", n.mtu)
        .string("model", &n.model)
        .field_opt(
            "mac",
            (n.mac != [0; 6]).then(|| Json::str(mac_string(&n.mac))),
        )
        .string("ip", &n.ip)
        .string("bridge", &n.bridge)
        .string("ifname", &n.ifname)
        .string("script", &n.script)
        .enum_("nictype", n.nictype)
        .nonzero_u("rate_bytes_per_interval", n.rate_bytes_per_interval)
        .nonzero_u("rate_interval_usecs", u64::from(n.rate_interval_usecs))
        .string("gatewaydev", &n.gatewaydev);
    for f in NIC_COLO_FIELDS {
        if let Some((_, v)) = n.colo.iter().find(|(k, _)| k == f) {
            o = o.field(f, Json::str(v.clone()));
        }
    }
    o.defbool("trusted", n.trusted).build()
}

fn bool_field(o: Obj, k: &str, v: bool) -> Obj {
    if v { o.field(k, Json::Bool(true)) } else { o }
}

pub fn pci_json(p: &Pci) -> Json {
    let mut o = Obj::new()
        .nonzero("func", i64::from(p.func))
        .nonzero("dev", i64::from(p.dev))
        .nonzero("bus", i64::from(p.bus))
        .nonzero("domain", p.domain)
        .nonzero_u("vdevfn", u64::from(p.vdevfn))
        .nonzero_u("vfunc_mask", u64::from(p.vfunc_mask));
    o = bool_field(o, "msitranslate", p.msitranslate);
    o = bool_field(o, "power_mgmt", p.power_mgmt);
    o = bool_field(o, "permissive", p.permissive);
    o = bool_field(o, "seize", p.seize);
    o.enum_("rdm_policy", p.rdm_policy)
        .string("name", &p.name)
        .build()
}

fn vfb_json(v: &Vfb) -> Json {
    Obj::new()
        .int("devid", Some(v.devid))
        .field("vnc", vnc_json(&v.vnc))
        .field("sdl", sdl_json(&v.sdl))
        .string("keymap", &v.keymap)
        .build()
}

fn vtpm_json(v: &Vtpm) -> Json {
    Obj::new()
        .string("backend_domname", &v.backend_domname)
        .int("devid", Some(v.devid))
        .field_opt(
            "uuid",
            (v.uuid != [0; 16]).then(|| Json::str(uuid_string(&v.uuid))),
        )
        .build()
}

fn p9_json(p: &P9) -> Json {
    Obj::new()
        .string("backend_domname", &p.backend_domname)
        .string("tag", &p.tag)
        .string("path", &p.path)
        .string("security_model", &p.security_model)
        .int("devid", p.devid)
        .build()
}

fn channel_json(c: &Channel) -> Json {
    // The union key (`connection`) is not printed itself, only as the
    // prefix of the member's key.
    let o = Obj::new()
        .string("backend_domname", &c.backend_domname)
        .int("devid", Some(c.devid))
        .string("name", &c.name);
    match &c.connection {
        ChannelConnection::Pty => o.field("connection.pty", Obj::new().build()),
        ChannelConnection::Socket(p) => o.field(
            "connection.socket",
            Obj::new().field("path", Json::str(p.clone())).build(),
        ),
    }
    .build()
}
