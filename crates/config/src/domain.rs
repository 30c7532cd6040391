//! Typed domain configuration: the parts of `libxl_domain_config` that xl
//! fills from an xl.cfg, with `None` meaning "left at libxl's default".
//! `to_json` prints them in libxl's IDL field order (Xen 4.17).

use crate::json::{Json, Obj};

/// The kind of guest (`libxl_domain_type`): chosen by xl.cfg's `type` (or
/// the older `builder`), recorded by libxl in `/libxl/<domid>/type`, and
/// what the hypervisor is asked to create.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GuestKind {
    /// A fully virtualised guest with emulated firmware and devices (`type = "hvm"`).
    Hvm,
    /// A paravirtualised guest (`type = "pv"`, the default).
    Pv,
    /// An HVM container booted straight into a PVH kernel, no device model (`type = "pvh"`).
    Pvh,
}

impl GuestKind {
    /// The name libxl's JSON, xenstore and xl.cfg use: `hvm`, `pv` or `pvh`.
    pub fn type_name(self) -> &'static str {
        match self {
            GuestKind::Hvm => "hvm",
            GuestKind::Pv => "pv",
            GuestKind::Pvh => "pvh",
        }
    }

    /// The kind a [`GuestKind::type_name`] names.
    pub fn from_type_name(name: &str) -> Option<GuestKind> {
        [GuestKind::Hvm, GuestKind::Pv, GuestKind::Pvh]
            .into_iter()
            .find(|k| k.type_name() == name)
    }
}

/// `libxl_action_on_shutdown`, named as in xl.cfg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Destroy the domain.
    Destroy,
    /// Destroy it and build it again from the same config.
    Restart,
    /// Rename the old domain, keep it, and start a new one.
    RestartRename,
    /// Keep the dead domain for inspection.
    Preserve,
    /// Write a core dump, then destroy.
    CoredumpDestroy,
    /// Write a core dump, then restart.
    CoredumpRestart,
    /// Reset the domain in place, keeping its memory (for kexec-like guest restarts).
    SoftReset,
}

impl Action {
    /// Every action, in libxl's enum order.
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

    /// The action an xl.cfg spelling names, e.g. `"rename-restart"`.
    pub fn from_cfg(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.cfg_name() == s)
    }
}

/// `libxl_domain_create_info` (`c_info`): what is fixed when the domain is created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateInfo {
    /// `hap`: use hardware-assisted paging (EPT/NPT) rather than shadow paging.
    pub hap: Option<bool>,
    /// `oos`: allow out-of-sync shadow page tables (shadow paging only).
    pub oos: Option<bool>,
    /// `init_seclabel`, or `seclabel` alone: the XSM/FLASK label the domain is created with.
    pub ssid_label: Option<String>,
    /// `name`: the domain's name (required).
    pub name: String,
    /// `uuid`, or a random one; all zero means none (not printed).
    pub uuid: [u8; 16],
    /// `pool`: the cpupool to create the domain in.
    pub pool_name: Option<String>,
    /// xl.conf's `run_hotplug_scripts`: libxl runs vif/block scripts rather than udev.
    pub run_hotplug_scripts: Option<bool>,
    /// `driver_domain`: the domain will run device backends for others.
    pub driver_domain: Option<bool>,
    /// `passthrough`: IOMMU mode for passed-through devices (`default`, `disabled`, `enabled`,
    /// `sync_pt`, `share_pt`).
    pub passthrough: Option<&'static str>,
    /// `xend_suspend_evtchn_compat`: the guest expects xend's suspend event channel handshake.
    pub xend_suspend_evtchn_compat: Option<bool>,
}

/// A UUID in its usual text form, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lowercase.
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

/// `libxl_domain_sched_params`: the domain's scheduler parameters; `None`
/// leaves a parameter at the scheduler's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchedParams {
    /// The scheduler the parameters are for (a retrieved config names it).
    pub sched: Option<&'static str>,
    /// `cpu_weight`: credit/credit2 weight, relative to other domains.
    pub weight: Option<i64>,
    /// `cap`: credit/credit2 cap in percent of one physical CPU; 0 is no cap.
    pub cap: Option<i64>,
    /// `period`: RTDS period in microseconds.
    pub period: Option<i64>,
    /// RTDS budget in microseconds (no xl.cfg key; `xl sched-rtds` sets it).
    pub budget: Option<i64>,
    /// `extratime`: RTDS lets the domain use idle time beyond its budget.
    pub extratime: Option<i64>,
    /// `slice`: a parameter of the removed SEDF scheduler, kept for the JSON.
    pub slice: Option<i64>,
    /// `latency`: a parameter of the removed SEDF scheduler, kept for the JSON.
    pub latency: Option<i64>,
}

/// `libxl_vnc_info`: a VNC server for the guest's display.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vnc {
    /// `vnc`: run a VNC server.
    pub enable: Option<bool>,
    /// `vnclisten`: the address to listen on, optionally with `:display`.
    pub listen: Option<String>,
    /// `vncpasswd`: the password clients must give.
    pub passwd: Option<String>,
    /// `vncdisplay`: the VNC display number (port 5900 + n); 0 when unset.
    pub display: i64,
    /// `vncunused`: take the first free display from `display` on.
    pub findunused: Option<bool>,
}

/// `libxl_sdl_info`: an SDL window on the host showing the guest's display.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sdl {
    /// `sdl`: open an SDL window.
    pub enable: Option<bool>,
    /// `opengl`: render it with OpenGL.
    pub opengl: Option<bool>,
    /// `display`: the X display to open it on.
    pub display: Option<String>,
    /// `xauthority`: the X authority file to use.
    pub xauthority: Option<String>,
}

/// `libxl_spice_info`: a SPICE server for an HVM guest (the `spice*` keys).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spice {
    /// `spice`: run a SPICE server.
    pub enable: Option<bool>,
    /// `spiceport`: its TCP port; 0 when unset.
    pub port: i64,
    /// `spicetls_port`: its TLS port; 0 when unset.
    pub tls_port: i64,
    /// `spicehost`: the address to listen on.
    pub host: Option<String>,
    /// `spicedisable_ticketing`: accept clients without a password.
    pub disable_ticketing: Option<bool>,
    /// `spicepasswd`: the password (ticket) clients must give.
    pub passwd: Option<String>,
    /// `spiceagent_mouse`: let the guest agent drive the mouse.
    pub agent_mouse: Option<bool>,
    /// `spicevdagent`: provide the vdagent channel to the guest.
    pub vdagent: Option<bool>,
    /// `spice_clipboard_sharing`: share the clipboard through vdagent.
    pub clipboard_sharing: Option<bool>,
    /// `spiceusbredirection`: number of USB redirection channels; 0 for none.
    pub usbredirection: i64,
    /// `spice_image_compression`: QEMU's image compression mode, e.g. `auto_glz`.
    pub image_compression: Option<String>,
    /// `spice_streaming_video`: QEMU's video streaming detection, e.g. `filter`.
    pub streaming_video: Option<String>,
}

/// The HVM member of `b_info.u` (`type.hvm`): firmware, platform and
/// emulated devices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HvmInfo {
    /// `firmware_override`, or a `firmware` that names no BIOS: the hvmloader image to load instead
    /// of the default.
    pub firmware: Option<String>,
    /// `bios` (or `firmware`): `rombios`, `seabios` or `ovmf` (`firmware = "uefi"`).
    pub bios: Option<&'static str>,
    /// `pae`: expose PAE to the guest.
    pub pae: Option<bool>,
    /// `acpi_s3`: offer the S3 (suspend to RAM) sleep state.
    pub acpi_s3: Option<bool>,
    /// `acpi_s4`: offer the S4 (suspend to disk) sleep state.
    pub acpi_s4: Option<bool>,
    /// `acpi_laptop_slate`: provide the ACPI laptop/slate switch device.
    pub acpi_laptop_slate: Option<bool>,
    /// `nx`: expose the NX (no-execute) bit.
    pub nx: Option<bool>,
    /// `viridian` as a boolean (or `"defaults"` in a list): the default Hyper-V enlightenments.
    pub viridian: Option<bool>,
    /// Hyper-V enlightenment groups a `viridian` list turns on, by bit number
    /// (`base` is bit 0, `freq` bit 1, ...).
    pub viridian_enable: Vec<u32>,
    /// Hyper-V enlightenment groups a `viridian` list turns off (`!name`), by bit number.
    pub viridian_disable: Vec<u32>,
    /// `hpet`: emulate an HPET.
    pub hpet: Option<bool>,
    /// `vpt_align`: align virtual platform timer interrupts to reduce wake-ups.
    pub vpt_align: Option<bool>,
    /// `mmio_hole`: size of the MMIO hole below 4 GiB, in KiB (the key is in MiB).
    pub mmio_hole_memkb: Option<u64>,
    /// The deprecated `altp2mhvm` boolean; `b_info.altp2m` replaces it.
    pub altp2m: Option<bool>,
    /// `bios_path_override`: the BIOS image to load instead of the default.
    pub system_firmware: Option<String>,
    /// `smbios_firmware`: a file of extra SMBIOS structures for hvmloader.
    pub smbios_firmware: Option<String>,
    /// `acpi_firmware`: a file of extra ACPI tables for hvmloader.
    pub acpi_firmware: Option<String>,
    /// `hdtype`: `ahci` for AHCI disks; `None` is IDE.
    pub hdtype: Option<&'static str>,
    /// `nographic`: no emulated graphics at all.
    pub nographic: Option<bool>,
    /// `vga` (or `stdvga`): the emulated card, `std`, `cirrus`, `none` or `qxl`.
    pub vga: Option<&'static str>,
    /// The top-level `vnc*` keys: VNC access to the emulated display.
    pub vnc: Vnc,
    /// `keymap`: the keyboard layout the display server assumes, e.g. `en-us`.
    pub keymap: Option<String>,
    /// The top-level `sdl`, `opengl`, `display` and `xauthority` keys.
    pub sdl: Sdl,
    /// The `spice*` keys.
    pub spice: Spice,
    /// `gfx_passthru`: make a passed-through graphics card the primary display.
    pub gfx_passthru: Option<bool>,
    /// `gfx_passthru = "igd"`: the card is Intel integrated graphics; `None` lets libxl guess.
    pub gfx_passthru_kind: Option<&'static str>,
    /// `serial` given as a string: the first emulated serial port's backend, e.g. `pty`.
    pub serial: Option<String>,
    /// `boot`: the boot device order for the BIOS, e.g. `cd` (disk, then CD-ROM).
    pub boot: Option<String>,
    /// `usb`: emulate a USB controller.
    pub usb: Option<bool>,
    /// `usbversion`: the emulated controller's USB version (1, 2 or 3); 0 when unset.
    pub usbversion: i64,
    /// `usbdevice` given as a string: one emulated USB device, e.g. `tablet`.
    pub usbdevice: Option<String>,
    /// `vkb_device`: give the guest a PV keyboard as well.
    pub vkb_device: Option<bool>,
    /// `soundhw`: the emulated sound card, e.g. `hda`.
    pub soundhw: Option<String>,
    /// `xen_platform_pci`: provide the Xen platform PCI device PV drivers need.
    pub xen_platform_pci: Option<bool>,
    /// `usbdevice` given as a list: emulated USB devices.
    pub usbdevice_list: Vec<String>,
    /// `vendor_device`: `xenserver` for XenServer's vendor PCI device; `None` for none.
    pub vendor_device: Option<&'static str>,
    /// `ms_vm_genid = "generate"`: a random 128-bit Microsoft VM generation ID.
    pub ms_vm_genid: Option<[u8; 16]>,
    /// `serial` given as a list: backends of the emulated serial ports, in order.
    pub serial_list: Vec<String>,
    /// The `rdm` key's `strategy`: `host` reserves all of the host's reserved device memory
    /// regions.
    pub rdm_strategy: Option<&'static str>,
    /// The `rdm` key's `policy`: `strict` or `relaxed` on a conflict with guest memory.
    pub rdm_policy: Option<&'static str>,
    /// `rdm_mem_boundary` in KiB (the key is in MiB): an RDM region above it that
    /// conflicts with RAM lowers the end of low memory; below it the `rdm` policy decides.
    pub rdm_mem_boundary_memkb: Option<u64>,
    /// `mca_caps`: machine-check capabilities as bits; bit 0 is `lmce` (local MCE).
    pub mca_caps: u64,
}

/// The PV member of `b_info.u` (`type.pv`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PvInfo {
    /// `e820_host`: give the guest the host's memory map (set too when PCI
    /// devices are passed through).
    pub e820_host: Option<bool>,
}

/// The PVH member of `b_info.u` (`type.pvh`): the PV shim, which runs a
/// PV kernel inside a PVH container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PvhInfo {
    /// `pvshim`: boot the kernel under the PV shim.
    pub pvshim: Option<bool>,
    /// `pvshim_path`: the shim binary (libxl's default when `None`).
    pub pvshim_path: Option<String>,
    /// `pvshim_cmdline`: the shim's command line, replacing libxl's default.
    pub pvshim_cmdline: Option<String>,
    /// `pvshim_extra`: appended to the shim's command line.
    pub pvshim_extra: Option<String>,
}

/// `b_info.u`: the member of libxl's type union for the domain's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeInfo {
    /// An HVM guest's settings.
    Hvm(Box<HvmInfo>),
    /// A PV guest's settings.
    Pv(PvInfo),
    /// A PVH guest's settings.
    Pvh(PvhInfo),
}

impl TypeInfo {
    /// The domain type this member belongs to.
    pub fn guest_kind(&self) -> GuestKind {
        match self {
            TypeInfo::Hvm(_) => GuestKind::Hvm,
            TypeInfo::Pv(_) => GuestKind::Pv,
            TypeInfo::Pvh(_) => GuestKind::Pvh,
        }
    }
}

/// `libxl_domain_build_info` (`b_info`): how the domain is built and what
/// it may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildInfo {
    /// `maxvcpus`, else `vcpus`: the most vCPUs the domain can have.
    pub max_vcpus: i64,
    /// vCPUs online at boot: `0..vcpus`.
    pub avail_vcpus: Vec<u32>,
    /// `cpus`: per vCPU, the physical CPUs it may run on.
    pub vcpu_hard_affinity: Vec<Vec<u32>>,
    /// `cpus_soft`: per vCPU, the physical CPUs it prefers.
    pub vcpu_soft_affinity: Vec<Vec<u32>>,
    /// libxl's automatic NUMA placement; xl turns it off when affinities are given.
    pub numa_placement: Option<bool>,
    /// `tsc_mode`: `always_emulate`, `native` or `native_paravirt`; `None` is `default`.
    pub tsc_mode: Option<&'static str>,
    /// `maxmem` (else `memory`) in KiB: the most memory the domain may have.
    pub max_memkb: Option<u64>,
    /// `memory` in KiB: the balloon target the domain starts with.
    pub target_memkb: Option<u64>,
    /// `videoram` in KiB: memory of the emulated graphics card.
    pub video_memkb: Option<u64>,
    /// `shadow_memory` in KiB: the shadow or HAP page-table pool.
    pub shadow_memkb: Option<u64>,
    /// `rtc_timeoffset`: seconds added to the emulated RTC.
    pub rtc_timeoffset: u32,
    /// `seclabel` when `init_seclabel` is also given: the XSM label the domain runs with after
    /// building.
    pub exec_ssid_label: Option<String>,
    /// `localtime`: the emulated RTC runs in the host's local time, not UTC.
    pub localtime: Option<bool>,
    /// `nomigrate`: the domain may not be saved or migrated.
    pub disable_migrate: Option<bool>,
    /// xl.conf's `blkdev_start`: first name for automatically named disks.
    pub blkdev_start: Option<String>,
    /// `vnuma`: the guest's virtual NUMA nodes; empty for none.
    pub vnuma_nodes: Vec<crate::vnuma::VnodeInfo>,
    /// `cpuid`: changes to the guest's CPUID and MSR policy; `None` for none.
    pub cpuid: Option<crate::cpuid::CpuidPolicy>,
    /// `max_grant_frames` (else xl.conf's): grant table size in frames.
    pub max_grant_frames: Option<u32>,
    /// `max_maptrack_frames` (else xl.conf's): maptrack table size in frames.
    pub max_maptrack_frames: Option<u32>,
    /// `max_grant_version` (else xl.conf's): the highest grant table version the guest may use.
    pub max_grant_version: Option<i64>,
    /// `device_model_version`: `qemu_xen` or `qemu_xen_traditional`.
    pub device_model_version: Option<&'static str>,
    /// `device_model_stubdomain_override`: run the device model in a stub domain.
    pub device_model_stubdomain: Option<bool>,
    /// `stubdomain_memory` in KiB.
    pub stubdomain_memkb: Option<u64>,
    /// `stubdomain_kernel`: the stub domain's kernel.
    pub stubdomain_kernel: Option<String>,
    /// `stubdomain_cmdline`: the stub domain's command line.
    pub stubdomain_cmdline: Option<String>,
    /// `stubdomain_ramdisk`: the stub domain's ramdisk.
    pub stubdomain_ramdisk: Option<String>,
    /// `device_model_override`: the device model binary to run instead of the default.
    pub device_model: Option<String>,
    /// `device_model_stubdomain_seclabel`: the stub domain's XSM label.
    pub device_model_ssid_label: Option<String>,
    /// `device_model_user`: the user the device model runs as.
    pub device_model_user: Option<String>,
    /// `device_model_args`: extra arguments for the device model.
    pub extra: Vec<String>,
    /// `device_model_args_pv`: extra device model arguments for PV guests.
    pub extra_pv: Vec<String>,
    /// `device_model_args_hvm`: extra device model arguments for HVM guests.
    pub extra_hvm: Vec<String>,
    /// Scheduler parameters (`cpu_weight`, `cap`, ...).
    pub sched_params: SchedParams,
    /// `ioports`: I/O port ranges the guest may access, as (first port, count).
    pub ioports: Vec<(u32, u32)>,
    /// `irqs`: physical IRQs the guest may use.
    pub irqs: Vec<u32>,
    /// `iomem`: machine memory the guest may map, as (first machine frame, pages, guest frame if
    /// given).
    pub iomem: Vec<(u64, u64, Option<u64>)>,
    /// xl.conf's `claim_mode`: claim the memory before building, so a build cannot run out halfway.
    pub claim_mode: Option<bool>,
    /// `max_event_channels`: the most event channels the guest may use; 0 leaves libxl's default.
    pub event_channels: u32,
    /// `kernel` (or the pvgrub image `firmware` names): the kernel to boot.
    pub kernel: Option<String>,
    /// `cmdline`, else `root=` and `extra` combined: the kernel command line.
    pub cmdline: Option<String>,
    /// `ramdisk`: the initial ramdisk.
    pub ramdisk: Option<String>,
    /// `device_tree`: a device tree fragment (Arm).
    pub device_tree: Option<String>,
    /// `acpi`: give the guest ACPI tables.
    pub acpi: Option<bool>,
    /// `bootloader`: a program (e.g. pygrub) that picks the kernel from the guest's disk.
    pub bootloader: Option<String>,
    /// `bootloader_args`: arguments for the bootloader.
    pub bootloader_args: Vec<String>,
    /// `timer_mode`: how missed timer ticks are delivered, e.g. `no_delay_for_missed_ticks`.
    pub timer_mode: Option<&'static str>,
    /// `nestedhvm`: let the guest run its own hypervisor.
    pub nested_hvm: Option<bool>,
    /// `apic`: emulate local APICs (HVM).
    pub apic: Option<bool>,
    /// `dm_restrict`: run the device model deprivileged.
    pub dm_restrict: Option<bool>,
    /// `tee`: `optee` gives the guest access to OP-TEE (Arm); `None` for none.
    pub tee: Option<&'static str>,
    /// The member of the type union for the domain's type.
    pub u: TypeInfo,
    /// `gic_version`: `v2` or `v3` (Arm, `arch_arm`); `None` picks the host's.
    pub gic_version: Option<&'static str>,
    /// `vuart`: `sbsa_uart` for an emulated SBSA UART (Arm, `arch_arm`).
    pub vuart: Option<&'static str>,
    /// `msr_relaxed`: accesses to MSRs Xen does not handle stop faulting (x86, `arch_x86`).
    pub msr_relaxed: Option<bool>,
    /// `altp2m`: alternate p2m mode, `mixed`, `external` or `limited`; `None` is disabled.
    pub altp2m: Option<&'static str>,
    /// `vmtrace_buf_kb`: per-vCPU processor trace buffer in KiB; 0 for none.
    pub vmtrace_buf_kb: i64,
    /// `vpmu`: give the guest a virtual performance monitoring unit.
    pub vpmu: Option<bool>,
}

impl BuildInfo {
    /// Everything at libxl's default, with the union member for `t`.
    pub fn new(t: GuestKind) -> Self {
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
                GuestKind::Hvm => TypeInfo::Hvm(Box::default()),
                GuestKind::Pv => TypeInfo::Pv(PvInfo::default()),
                GuestKind::Pvh => TypeInfo::Pvh(PvhInfo::default()),
            },
            gic_version: None,
            vuart: None,
            msr_relaxed: None,
            altp2m: None,
            vmtrace_buf_kb: 0,
            vpmu: None,
        }
    }

    /// The domain type, from the union member.
    pub fn guest_kind(&self) -> GuestKind {
        self.u.guest_kind()
    }

    /// The HVM settings, if this is an HVM guest.
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
    /// `backend=`: the domain serving the disk (dom0 when `None`).
    pub backend_domname: Option<String>,
    /// `target=` (or the first positional word): the image file or device; empty for an empty
    /// CD-ROM drive.
    pub pdev_path: Option<String>,
    /// `vdev=`: the name the guest sees, e.g. `xvda` or `hdc`.
    pub vdev: Option<String>,
    /// `backendtype=`: `phy`, `tap`, `qdisk` or `standalone`; `None` lets libxl choose.
    pub backend: Option<&'static str>,
    /// `format=`: `raw` (default), `qcow`, `qcow2`, `vhd`, `qed` or `empty`.
    pub format: Option<&'static str>,
    /// `script=` (or a deprecated prefix such as `iscsi:`): the block hotplug script.
    pub script: Option<String>,
    /// 1 for removable media (CD-ROMs), else 0.
    pub removable: i64,
    /// `access=`: 1 for read-write (default), 0 for read-only; CD-ROMs are read-only.
    pub readwrite: i64,
    /// `devtype=cdrom` (or `cdrom`): 1 for a CD-ROM drive, else 0.
    pub is_cdrom: i64,
    /// `direct-io-safe`: the backend may use O_DIRECT safely.
    pub direct_io_safe: bool,
    /// `discard` / `no-discard`: whether the guest may discard (TRIM) blocks.
    pub discard_enable: Option<bool>,
    /// `specification=`: `xen` (PV block protocol) or `virtio`.
    pub specification: Option<&'static str>,
    /// `colo` / `no-colo`: replicate the disk for COLO.
    pub colo_enable: Option<bool>,
    /// COLO restore side (no spec key; read back from JSON only).
    pub colo_restore_enable: Option<bool>,
    /// `colo-host=`: the COLO secondary's host for disk replication.
    pub colo_host: Option<String>,
    /// `colo-port=`: its port; 0 when unset.
    pub colo_port: i64,
    /// `colo-export=`: the NBD export name on the secondary.
    pub colo_export: Option<String>,
    /// `active-disk=`: the secondary's active disk image.
    pub active_disk: Option<String>,
    /// `hidden-disk=`: the secondary's hidden disk image.
    pub hidden_disk: Option<String>,
    /// Whether the backend trusts the frontend; xl 4.17's shipped scanner has no key for it, so it
    /// comes only from JSON.
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

/// `libxl_device_nic`: one entry of `vif = [...]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Nic {
    /// `backend=` (else xl.conf's `vif.default.backend`): the domain serving the vif.
    pub backend_domname: Option<String>,
    /// `devid=`, else the entry's position in the list.
    pub devid: Option<i64>,
    /// `mtu=`: the interface MTU; 0 leaves libxl's default.
    pub mtu: i64,
    /// `model=`: the emulated NIC model for HVM guests, e.g. `e1000`.
    pub model: Option<String>,
    /// `mac=`; all zero means none given (libxl makes one).
    pub mac: [u8; 6],
    /// `ip=`: the guest's IP address(es), for the hotplug script.
    pub ip: Option<String>,
    /// `bridge=` (else xl.conf's default): the host bridge the vif joins.
    pub bridge: Option<String>,
    /// `vifname=`: the backend interface's name.
    pub ifname: Option<String>,
    /// `script=` (else xl.conf's default): the network hotplug script.
    pub script: Option<String>,
    /// `type=`: `vif` (PV only) or `vif_ioemu` (`ioemu`: PV and emulated).
    pub nictype: Option<&'static str>,
    /// `rate=`: bytes the vif may send per interval; 0 for no limit.
    pub rate_bytes_per_interval: u64,
    /// `rate=`: the interval's length in microseconds.
    pub rate_interval_usecs: u32,
    /// `gatewaydev=` (or the deprecated `netdev=`; else xl.conf's default): the host's outgoing
    /// device.
    pub gatewaydev: Option<String>,
    /// COLO settings by field name (see `NIC_COLO_FIELDS`).
    pub colo: Vec<(&'static str, String)>,
    /// `trusted` / `untrusted`: whether the backend trusts the frontend.
    pub trusted: Option<bool>,
}

/// `libxl_device_pci`: one entry of `pci = [...]`, a host PCI function
/// passed through to the guest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pci {
    /// Function number, 0 to 7 (0 with `*`).
    pub func: u8,
    /// Device (slot) number, 0 to 0x1f.
    pub dev: u8,
    /// Bus number.
    pub bus: u8,
    /// PCI segment (domain), 0 when not given.
    pub domain: i64,
    /// `@VSLOT` or `vslot=`: the guest's slot as a devfn (slot << 3); 0 lets libxl pick.
    pub vdevfn: u32,
    /// Functions to pass: 1 for the one named, all bits for `*`.
    pub vfunc_mask: u32,
    /// `msitranslate=` (else `pci_msitranslate`): translate MSI to INTx for the guest.
    pub msitranslate: bool,
    /// `power_mgmt=` (else `pci_power_mgmt`): let the guest manage the device's power state.
    pub power_mgmt: bool,
    /// `permissive=` (else `pci_permissive`): let the guest write any config space register.
    pub permissive: bool,
    /// `seize=` (else `pci_seize`): make the device assignable if it is not yet.
    pub seize: bool,
    /// `rdm_policy=` (else the `rdm` key's): `strict` or `relaxed`.
    pub rdm_policy: Option<&'static str>,
    /// `name=`: the name the device was made assignable under, instead of a BDF.
    pub name: Option<String>,
}

/// `libxl_device_vfb`: a PV framebuffer, one entry of `vfb = [...]` (or
/// made from the top-level `vnc`/`sdl` keys for a PV guest).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vfb {
    /// Device number, the entry's position in the list.
    pub devid: i64,
    /// Its VNC server (`vnc`, `vnclisten`, ... in the spec).
    pub vnc: Vnc,
    /// Its SDL window (`sdl`, `opengl`, ... in the spec).
    pub sdl: Sdl,
    /// `keymap`: the keyboard layout the display server assumes, e.g. `en-us`.
    pub keymap: Option<String>,
}

pub use crate::vdev::{Pvcallsif, Usbctrl, Usbdev, Vdispl, Vkb, Vsnd, VsndParams};

/// `libxl_device_vtpm`: one entry of `vtpm = [...]`, a virtual TPM served
/// by a vTPM backend domain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vtpm {
    /// `backend=`: the domain running the vTPM (required).
    pub backend_domname: Option<String>,
    /// Device number, the entry's position in the list.
    pub devid: i64,
    /// `uuid=`: the vTPM instance; all zero when not given (libxl makes one).
    pub uuid: [u8; 16],
}

/// `libxl_device_p9`: one entry of `p9 = [...]`, a host directory shared
/// with the guest over 9pfs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct P9 {
    /// `backend=`: the domain serving the share (dom0 when `None`).
    pub backend_domname: Option<String>,
    /// `tag=`: the name the guest mounts the share by.
    pub tag: Option<String>,
    /// `path=`: the directory shared, in the backend domain.
    pub path: Option<String>,
    /// `security_model=`: how guest file ownership maps to the host (QEMU's 9p models, e.g.
    /// `none`).
    pub security_model: Option<String>,
    /// xl re-initialises p9 entries after numbering them, so it stays unset.
    pub devid: Option<i64>,
}

/// How the backend side of a channel is exposed (`connection=`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelConnection {
    /// `connection=pty`: a pseudo-terminal in the backend domain.
    Pty,
    /// `connection=socket`: a unix socket at this `path=`, served by the backend.
    Socket(String),
}

/// `libxl_device_channel`: one entry of `channel = [...]`, a named PV
/// console used as a guest/host data channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// `backend=`: the domain at the host end (dom0 when `None`).
    pub backend_domname: Option<String>,
    /// Device number, the entry's position in the list.
    pub devid: i64,
    /// `name=`: the channel's name, which the guest looks it up by.
    pub name: Option<String>,
    /// How the host end is exposed.
    pub connection: ChannelConnection,
}

/// The whole domain configuration as xl hands it to libxl.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainConfig {
    /// Creation info: type, name, UUID, labels, pool.
    pub c_info: CreateInfo,
    /// Build info: memory, vCPUs, kernel, firmware, device model, ...
    pub b_info: BuildInfo,
    /// `disk`: the virtual disks.
    pub disks: Vec<Disk>,
    /// `vif`: the network interfaces.
    pub nics: Vec<Nic>,
    /// `pci`: the passed-through PCI devices.
    pub pcidevs: Vec<Pci>,
    /// `dtdev`: device tree paths of host devices passed through (Arm).
    pub dtdevs: Vec<String>,
    /// `vfb` (or the top-level `vnc`/`sdl` keys for PV).
    pub vfbs: Vec<Vfb>,
    /// The keyboard each framebuffer brings, then those of `vkb`.
    pub vkbs: Vec<Vkb>,
    /// `vtpm`: the virtual TPMs.
    pub vtpms: Vec<Vtpm>,
    /// `p9`: the 9pfs shares.
    pub p9s: Vec<P9>,
    /// `pvcalls`: the PV calls interfaces.
    pub pvcallsifs: Vec<Pvcallsif>,
    /// `vdispl`: the PV displays.
    pub vdispls: Vec<Vdispl>,
    /// `vsnd`: the PV sound cards.
    pub vsnds: Vec<Vsnd>,
    /// `channel`: the PV channels.
    pub channels: Vec<Channel>,
    /// `usbctrl`: the USB controllers.
    pub usbctrls: Vec<Usbctrl>,
    /// `usbdev`: the host USB devices passed through.
    pub usbdevs: Vec<Usbdev>,
    /// `on_poweroff`: what to do when the guest powers off (default destroy).
    pub on_poweroff: Action,
    /// `on_reboot`: what to do when the guest reboots (default restart).
    pub on_reboot: Action,
    /// `on_watchdog`: what to do when the guest's watchdog fires (default destroy).
    pub on_watchdog: Action,
    /// `on_crash`: what to do when the guest crashes (default destroy).
    pub on_crash: Action,
    /// `on_soft_reset`: what to do when the guest asks for a soft reset (default soft-reset).
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
    /// The domain type, from the build info.
    pub fn guest_kind(&self) -> GuestKind {
        self.b_info.guest_kind()
    }

    /// `c_info` as libxl's JSON generator prints it.
    pub fn c_info_json(&self) -> Json {
        let c = &self.c_info;
        Obj::new()
            .enum_("type", Some(self.guest_kind().type_name()))
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

    /// `b_info` as libxl's JSON generator prints it.
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

/// One `libxl_device_disk` as libxl's JSON generator prints it (also what
/// `xl -N block-attach` prints).
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

/// A MAC address as `aa:bb:cc:dd:ee:ff`, lowercase.
pub fn mac_string(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// One `libxl_device_nic` as libxl's JSON generator prints it (also what
/// `xl -N network-attach` prints).
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

/// One `libxl_device_pci` as libxl's JSON generator prints it.
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

/// A vTPM as libxl's JSON generator prints it.
pub fn vtpm_json(v: &Vtpm) -> Json {
    Obj::new()
        .string("backend_domname", &v.backend_domname)
        .int("devid", crate::vdev::devid(v.devid))
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
