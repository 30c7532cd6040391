//! The toolstack: what xl does, written once above the backend seam.
//!
//! The seam is split by who does the work: [`Hypervisor`] is what the
//! hypervisor does (domctl, sysctl, memory operations), [`Dom0`] what
//! dom0's services do (hotplug scripts, device models, I/O counters). A
//! [`Host`] holds one of each with the host's facts: where its files are
//! and where its xenstored listens. Xen ([`xen`]) is one backend; the
//! simulator is another. Xenstore is not behind the seam: both backends
//! are driven through the same xenstore client.
//!
//! Data path: the `xl` binary parses arguments and xl.cfg (`xl-config`)
//! and calls in here ([`create::create`] and the per-command modules); these
//! speak xenstore directly and everything else through the seam, whose Xen
//! side ([`xen`]) uses `xen-sys` for hypercalls, `xl-builder` to lay out
//! guests and `xl-savefile` for save streams.

#![warn(missing_docs)]

pub mod bootloader;
pub mod core_dump;
pub mod cpu_policy;
pub mod cpupool;
pub mod create;
pub mod destroy;
pub mod devd;
pub mod devices;
pub mod devlist;
mod dm_args;
mod dom0;
#[cfg(test)]
mod fake;
mod host;
pub mod hotplug;
mod hv;
pub mod inflight;
pub mod lifecycle;
pub mod memory;
pub mod names;
pub mod params;
pub mod pci;
pub mod psr;
pub mod qmp;
pub mod rename;
pub mod retrieve;
pub mod saverestore;
pub mod stats;
pub mod trace;
pub mod usb;
pub mod userdata;
pub mod vcpus;
pub mod vdev;
pub mod vdevlist;
pub mod xen;

use serde::{Deserialize, Serialize};

pub use dom0::{Dom0, SysfsWriteError};
pub use host::{Host, HostPaths, Xenstored};
pub use hv::{DOMID_IO, Hypervisor};
pub use xl_config::domain::GuestKind;

/// What the toolstack knows of a domain from the hypervisor
/// (libxl's `libxl_dominfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomInfo {
    /// The domain's id.
    pub domid: u32,
    /// The domain's UUID (`xl list -l`'s `uuid`).
    pub uuid: [u8; 16],
    /// The XSM/FLASK security label's id (`xl list -Z`).
    pub ssidref: u32,
    /// A vCPU of it is running on a CPU now.
    pub running: bool,
    /// All its vCPUs are blocked (waiting for an event).
    pub blocked: bool,
    /// Paused by the toolstack (`xl pause`).
    pub paused: bool,
    /// The guest has shut down; see `shutdown_reason`.
    pub shutdown: bool,
    /// Being destroyed: the hypervisor still holds some of its memory.
    pub dying: bool,
    /// Valid when `shutdown`: 0 poweroff, 1 reboot, 2 suspend, 3 crash,
    /// 4 watchdog, 5 soft reset.
    pub shutdown_reason: u32,
    /// Memory promised to it but not yet allocated, in KiB.
    pub outstanding_memkb: u64,
    /// Memory it holds now, in KiB.
    pub current_memkb: u64,
    /// Memory it shares with other domains, in KiB.
    pub shared_memkb: u64,
    /// Memory paged out by the pager, in KiB.
    pub paged_memkb: u64,
    /// The most memory it may hold (`maxmem`), in KiB.
    pub max_memkb: u64,
    /// CPU time all its vCPUs have used, in nanoseconds.
    pub cpu_time_ns: u64,
    /// Its highest vCPU id (`max_vcpus` - 1).
    pub vcpu_max_id: u32,
    /// How many of its vCPUs are online.
    pub vcpu_online: u32,
    /// The id of the cpupool it runs in.
    pub cpupool: u32,
    /// An HVM-container domain (HVM or PVH), not PV.
    pub hvm: bool,
}

/// One vCPU of a domain (`xl vcpu-list`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VcpuInfo {
    /// The vCPU's id within its domain.
    pub vcpuid: u32,
    /// The physical CPU it last ran on.
    pub cpu: u32,
    /// Brought online by the guest.
    pub online: bool,
    /// Waiting for an event.
    pub blocked: bool,
    /// Running on a CPU now.
    pub running: bool,
    /// CPU time it has used, in nanoseconds.
    pub time_ns: u64,
    /// The hard affinity: bit i = CPU i, whole bytes.
    pub hard: Vec<u8>,
    /// The soft affinity, in the same form.
    pub soft: Vec<u8>,
}

/// Host facts (`xl info`'s physinfo part).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhysInfo {
    /// Hardware threads per core.
    pub threads_per_core: u32,
    /// Cores per socket.
    pub cores_per_socket: u32,
    /// Online CPUs.
    pub nr_cpus: u32,
    /// The highest CPU id the host can have.
    pub max_cpu_id: u32,
    /// NUMA nodes.
    pub nr_nodes: u32,
    /// The highest NUMA node id.
    pub max_node_id: u32,
    /// CPU clock rate, in kHz.
    pub cpu_khz: u32,
    /// The boot CPU's feature words (`xl info`'s hw_caps).
    pub hw_cap: [u32; 8],
    /// What the host can virtualise (`hvm`, `pv`, `hap`, `shadow`, ...), xl's words.
    pub virt_caps: Vec<String>,
    /// All of the host's memory, in pages.
    pub total_pages: u64,
    /// Memory no domain holds, in pages.
    pub free_pages: u64,
    /// Free memory still to be scrubbed, in pages.
    pub scrub_pages: u64,
    /// Memory promised to domains but not allocated, in pages.
    pub outstanding_pages: u64,
    /// Memory freed by page sharing, in pages.
    pub sharing_freed_pages: u64,
    /// Frames holding shared pages.
    pub sharing_used_frames: u64,
}

/// The hypervisor's identity (`xl info`'s xen_* lines).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Xen's major version.
    pub major: u32,
    /// Xen's minor version.
    pub minor: u32,
    /// The version's tail after major.minor (`.7`, `-rc`).
    pub extra: String,
    /// The compiler that built Xen.
    pub compiler: String,
    /// Who built Xen.
    pub compile_by: String,
    /// The build host's domain.
    pub compile_domain: String,
    /// When Xen was built.
    pub compile_date: String,
    /// The guest ABIs Xen runs (`xen-3.0-x86_64 hvm-3.0-x86_32 ...`).
    pub capabilities: String,
    /// The source changeset Xen was built from.
    pub changeset: String,
    /// Where Xen's part of a PV guest's address space starts.
    pub virt_start: u64,
    /// The page size, in bytes.
    pub pagesize: u32,
    /// Xen's boot command line.
    pub commandline: String,
    /// Lower-case hex, empty when the hypervisor has none.
    pub build_id: String,
}

/// What the toolstack's operations fail with; the CLI prints it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The hypervisor's interface could not be opened.
    #[error("cannot talk to the Xen hypervisor")]
    NoXen(#[source] xen_sys::SysError),
    /// A hypercall or device-file operation failed.
    #[error(transparent)]
    Sys(#[from] xen_sys::SysError),
    /// No domain has this id.
    #[error("domain {0} does not exist")]
    NoSuchDomain(u32),
    /// A domid no domain can have (its digits, as given).
    #[error("Domain {0} does not exist.")]
    NoSuchDomid(String),
    /// A xenstore read, write or watch failed.
    #[error(transparent)]
    Xenstore(#[from] xenstore::Error),
    /// A request refused with an errno (the simulated hypervisor's too).
    #[error(transparent)]
    Os(std::io::Error),
    /// An OS error in `what` (a step of the backend's work on a file or
    /// stream).
    #[error("{what}")]
    Io {
        /// The step that failed.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// What libxl would refuse in the config, in its words (one line
    /// each), found before anything is made.
    #[error("{}", .0.join("; "))]
    ConfigRefused(Vec<String>),
    /// The host cannot run the guest's type (why, and what to do).
    #[error("{0}")]
    NoHvm(String),
    /// Every domid Xen offered was recently used (libxl's retry gave up).
    #[error("no domain id that was not recently used")]
    NoFreeDomid,
    /// A device's `backend=` names no domain.
    #[error("backend domain {0} does not exist")]
    NoBackendDomain(String),
    /// A xenstore node the toolstack had listed was gone when read.
    #[error("{path} vanished while {during}")]
    NodeVanished {
        /// The node.
        path: String,
        /// What the toolstack was doing.
        during: &'static str,
    },
    /// `vcpu-pin` with neither mask to set.
    #[error("neither a hard nor a soft affinity to set")]
    NoAffinity,
    /// `trigger` with a name libxl knows no trigger for.
    #[error("trigger `unknown' cannot be sent")]
    UnknownTrigger,
    /// A new device whose backend did not get ready.
    #[error("{kind} {devid}")]
    DeviceNotReady {
        /// The device's kind (`vbd`, `vif`, ...).
        kind: String,
        /// The device's id.
        devid: u32,
        /// Why it was not ready.
        #[source]
        source: devices::NotInitWait,
    },
    /// A backend that did not get ready (the device named by the caller).
    #[error(transparent)]
    NotInitWait(devices::NotInitWait),
    /// dom0's network counters could not be read.
    #[error(transparent)]
    NetStats(stats::linux::NetDevError),
    /// A scheduler name the hypervisor's interface has no id for.
    #[error("unknown scheduler {0}")]
    UnknownScheduler(String),
    /// An operation this backend does not provide (its name).
    #[error("{0} is not implemented for this backend yet")]
    Unsupported(&'static str),
    /// Another backend's own failure, typed by that backend (the
    /// simulator's `SimError`): callers that need its cause downcast it.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A save/restore stream that could not be written or read.
    #[error("save stream")]
    Stream(#[source] xl_savefile::FormatError),
    /// A PV kernel or ramdisk that could not be loaded on Xen.
    #[error("the PV guest's image")]
    PvImage(#[from] xen::PvImageError),
    /// A core dump that could not be written.
    #[error(transparent)]
    Core(#[from] core_dump::CoreError),
    /// A PV guest's bootloader failure on Xen.
    #[error(transparent)]
    Bootloader(Box<xen::BootloaderError>),
    /// The domain builder's failure on Xen.
    #[error(transparent)]
    Build(Box<xen::DomainBuildError>),
    /// A device model that could not be started or saved on Xen.
    #[error(transparent)]
    DeviceModel(Box<xen::DeviceModelError>),
    /// The new domain's CPUID/MSR policy could not be applied on Xen.
    #[error(transparent)]
    Cpuid(Box<xen::CpuidApplyError>),
    /// A device's hotplug scripts failed on Xen.
    #[error(transparent)]
    HotplugScript(xen::HotplugScriptError),
    /// A device model's QMP answer, kept typed for libxl's rc.
    #[error(transparent)]
    Qmp(#[from] qmp::QmpError),
}

impl From<xen::BootloaderError> for Error {
    fn from(e: xen::BootloaderError) -> Self {
        Error::Bootloader(Box::new(e))
    }
}

impl From<xen::DomainBuildError> for Error {
    fn from(e: xen::DomainBuildError) -> Self {
        Error::Build(Box::new(e))
    }
}

impl From<xen::CpuidApplyError> for Error {
    fn from(e: xen::CpuidApplyError) -> Self {
        Error::Cpuid(Box::new(e))
    }
}

impl From<xen::HotplugScriptError> for Error {
    fn from(e: xen::HotplugScriptError) -> Self {
        Error::HotplugScript(e)
    }
}

impl From<xen::DeviceModelError> for Error {
    fn from(e: xen::DeviceModelError) -> Self {
        Error::DeviceModel(Box::new(e))
    }
}

impl Error {
    /// The errno the hypervisor (or the simulated one) refused with, if
    /// this is such a refusal.
    pub fn errno(&self) -> Option<i32> {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = match self {
            Error::Os(io) => return io.raw_os_error(),
            Error::Sys(xen_sys::SysError::Hypercall { source, .. }) => {
                return source.raw_os_error();
            }
            e => Some(e),
        };
        while let Some(c) = cur {
            if let Some(n) = c
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::raw_os_error)
            {
                return Some(n);
            }
            cur = c.source();
        }
        None
    }

    /// What the user can do about it, when there is something to say.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            // Said already: run as root.
            Error::NoXen(xen_sys::SysError::Denied { .. }) => None,
            Error::NoXen(_) => Some(
                "Is this machine booted into Xen (is /proc/xen there?), are the Xen modules loaded \
                 (modprobe xen-privcmd xen-evtchn xen-gntdev), and are you root?",
            ),
            _ => None,
        }
    }
}

/// An error and its causes as "a: b: c", OS errors as strerror's text.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = without_errno(e.to_string());
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&without_errno(c.to_string()));
        cur = c.source();
    }
    s
}

/// The innermost cause of an error, as "a: b: c" ends: for an OS error,
/// the errno's text that libxl's LOGE appends.
pub fn innermost_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    without_errno(cause.to_string())
}

/// An OS error as C's strerror words it.
pub fn strerror(e: &std::io::Error) -> String {
    // Errors std makes without an errno still have C's words.
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        std::io::ErrorKind::IsADirectory => "Is a directory".into(),
        _ => without_errno(e.to_string()),
    }
}

/// io::Error's text without the " (os error N)" it adds to strerror's.
fn without_errno(mut m: String) -> String {
    if let Some(at) = m.find(" (os error") {
        m.truncate(at);
    }
    m
}

/// Text from a guest, its device model's log or a config, safe to print
/// to a terminal: control characters and bidirectional overrides are escaped.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if (c.is_control() && c != '\t') || bidi {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// What `xl trigger` and the shutdown fallbacks can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    /// A non-maskable interrupt.
    Nmi,
    /// A hard reset.
    Reset,
    /// An INIT IPI (HVM only).
    Init,
    /// The ACPI power button.
    Power,
    /// The ACPI sleep button.
    Sleep,
}

/// `XEN_DOMCTL_createdomain`'s inputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSpec {
    /// The new domain's UUID.
    pub uuid: [u8; 16],
    /// PV, PVH or HVM.
    pub kind: GuestKind,
    /// Use hardware-assisted paging (HVM/PVH), else shadow paging.
    pub hap: bool,
    /// vCPUs the domain may ever have.
    pub max_vcpus: u32,
    /// The highest event channel port it may use.
    pub max_evtchn_port: u32,
    /// Grant table frames it may have.
    pub max_grant_frames: u32,
    /// Maptrack frames it may have (grants it maps from others).
    pub max_maptrack_frames: u32,
    /// The XSM/FLASK security label's id.
    pub ssidref: u32,
    /// The cpupool the domain starts in (0: Pool-0).
    #[serde(default)]
    pub cpupool: u32,
}

/// What the domain builder loads into a new domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildSpec {
    /// PV, PVH or HVM.
    pub kind: GuestKind,
    /// The most memory it may hold (`maxmem`), in KiB.
    pub max_memkb: u64,
    /// Memory it starts with (`memory`), in KiB.
    pub target_memkb: u64,
    /// vCPUs online at boot.
    pub online_vcpus: u32,
    /// PV/PVH kernel, or the HVM firmware.
    pub kernel: Option<String>,
    /// The initial ramdisk, if any.
    pub ramdisk: Option<String>,
    /// The kernel command line, if any.
    pub cmdline: Option<String>,
    /// The guest's name, for the simulated guest's banner only.
    pub name: String,
    /// Domains serving the xenstore and console rings (xenstored's and
    /// xenconsoled's, from /tool/*/domid).
    #[serde(default)]
    pub store_domid: u32,
    /// The console's backend domain, like `store_domid`.
    #[serde(default)]
    pub console_domid: u32,
    /// PVH and HVM: the HVM-container settings.
    #[serde(default)]
    pub hvm: Option<HvmBuildSpec>,
    /// What the guest's CPUID and MSR policy is made from.
    #[serde(default)]
    pub cpuid: cpu_policy::CpuidRequest,
}

/// What a PVH or HVM build needs beyond the kernel (libxl__build_hvm and
/// the arch part of libxl__build_pre).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HvmBuildSpec {
    /// vCPUs the domain may ever have.
    pub max_vcpus: u32,
    /// Video memory QEMU allocates; not guest RAM.
    pub video_memkb: u64,
    /// HVM: the BIOS image hvmloader boots (SeaBIOS or OVMF).
    pub system_firmware: Option<String>,
    /// HVM: the PCI hole below 4 GiB, in bytes.
    pub mmio_size: u64,
    /// `hvm_info_table.apic_mode`.
    pub apic: bool,
    /// HVM params libxl sets from the config (hvm_set_conf_params), in its
    /// order; the release-dependent altp2m param is the backend's.
    pub conf_params: Vec<(u32, u64)>,
    /// The HAP (or shadow) pool, in KiB.
    pub paging_pool_kb: u64,
    /// XEN_DOMCTL_settscinfo's mode.
    pub tsc_mode: u32,
}

/// What the builder hands back: the rings the toolstack advertises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Built {
    /// The xenstore ring's event channel port.
    pub store_port: u32,
    /// The xenstore ring's frame (PV: machine frame; HVM/PVH: guest frame).
    pub store_mfn: u64,
    /// The console ring's event channel port.
    pub console_port: u32,
    /// The console ring's frame, like `store_mfn`.
    pub console_mfn: u64,
}

/// A device whose backend runs a hotplug script (libxl_linux.c).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HotplugDevice {
    /// `vbd` or `vif`.
    pub kind: String,
    /// The guest the device belongs to.
    pub domid: u32,
    /// The device's id (`xl block-list`'s Vdev as a number, or the vif's index).
    pub devid: u32,
    /// `/local/domain/0/backend/<kind>/<domid>/<devid>`
    pub backend_path: String,
    /// The script as written in the backend's `script` node.
    pub script: String,
}

/// The device model (qemu-xen) a domain needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmSpec {
    /// The domain it serves.
    pub domid: u32,
    /// The domain's name, for QEMU's `-name`.
    pub name: String,
    /// Binary to run (`device_model_override` or the installed qemu).
    pub binary: String,
    /// Where `binary` came from, so a failure says what to fix.
    #[serde(default)]
    pub binary_source: DmBinarySource,
    /// QEMU's command line, after the binary.
    pub args: Vec<String>,
    /// Added to xl's environment.
    pub env: Vec<(String, String)>,
    /// Emulated disk images QEMU opens.
    pub disks: Vec<String>,
    /// Whether the guest has an emulated serial port backed by a pty.
    pub serial_pty: bool,
    /// A restored guest's saved device state, which QEMU loads as it
    /// starts (libxl's `-incoming`).
    #[serde(skip)]
    pub incoming: Option<Vec<u8>>,
}

/// Where a device model's binary came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DmBinarySource {
    /// The host's qemu-xen ([`HostPaths::qemu_xen`]).
    #[default]
    Default,
    /// The config's `device_model_override`.
    Override,
}

/// One CPU's place (`xl info -n`); None for what Xen does not know.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuTopology {
    /// The core's id within its socket.
    pub core: Option<u32>,
    /// The socket's id.
    pub socket: Option<u32>,
    /// The NUMA node's id.
    pub node: Option<u32>,
}

/// One NUMA node: memory in bytes and the distance to every node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumaNode {
    /// Memory, in bytes.
    pub size: Option<u64>,
    /// Free memory, in bytes.
    pub free: Option<u64>,
    /// Distance to node i, for every node (10: local).
    pub dists: Vec<Option<u32>>,
}

/// A range of a device's resources a domain may be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IoRange {
    /// Machine frames of I/O memory: first, count.
    Mem(u64, u64),
    /// I/O ports: first, count.
    Ports(u32, u32),
    /// One physical IRQ.
    Irq(u32),
}

/// A PCI device address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciAddr {
    /// PCI segment (domain).
    pub seg: u16,
    /// Bus number.
    pub bus: u8,
    /// Device number (bits 7..3) and function (bits 2..0).
    pub devfn: u8,
}

/// A cpupool: its scheduler's name and CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpupoolInfo {
    /// The pool's id (0: Pool-0).
    pub poolid: u32,
    /// Its scheduler's name (`credit`, `credit2`, `rtds`, `arinc653`, `null`).
    pub sched: String,
    /// How many domains it runs.
    pub n_dom: u32,
    /// Its CPUs: bit i = CPU i, whole bytes.
    pub cpumap: Vec<u8>,
}

/// A domain's credit/credit2 parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedParams {
    /// Relative share of CPU (default 256).
    pub weight: u16,
    /// Cap as a percentage of one CPU (0: none).
    pub cap: u16,
}

/// One vCPU's RTDS parameters: period and budget in microseconds, and
/// whether it may run beyond its budget when a CPU is idle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RtdsVcpu {
    /// The vCPU's id.
    pub vcpuid: u32,
    /// Period, in microseconds.
    pub period: u32,
    /// Budget per period, in microseconds.
    pub budget: u32,
    /// May run beyond its budget when a CPU is idle.
    pub extratime: bool,
}

impl RtdsVcpu {
    /// What Xen gives a vCPU entering an RTDS pool (RTDS_DEFAULT_PERIOD,
    /// RTDS_DEFAULT_BUDGET, extratime on).
    pub fn default_for(vcpuid: u32) -> RtdsVcpu {
        RtdsVcpu {
            vcpuid,
            period: 10_000,
            budget: 4_000,
            extratime: true,
        }
    }
}

/// xl's CPU-bitmap text: `all`, `none`, or ranges like `0-3,5`, over the
/// first `len` bits.
pub fn bitmap_ranges(map: &[u8], len: usize) -> String {
    let bit = |i: usize| map.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0);
    let mut out = String::new();
    let mut i = 0;
    let mut ranges = 0;
    while i < len {
        if !bit(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < len && bit(i) {
            i += 1;
        }
        if start == 0 && i == len {
            return "all".into();
        }
        if ranges > 0 {
            out.push(',');
        }
        out.push_str(&start.to_string());
        if i - 1 > start {
            out.push_str(&format!("-{}", i - 1));
        }
        ranges += 1;
    }
    if ranges == 0 { "none".into() } else { out }
}

/// The letters of `xl list`'s State column.
pub fn state_letters(d: &DomInfo) -> String {
    const REASONS: &[u8] = b"-rscwS";
    let reason = if d.shutdown { d.shutdown_reason } else { 0 };
    let r = REASONS.get(reason as usize).map_or('?', |c| *c as char);
    [
        if d.running { 'r' } else { '-' },
        if d.blocked { 'b' } else { '-' },
        if d.paused { 'p' } else { '-' },
        if d.shutdown { 's' } else { '-' },
        r,
        if d.dying { 'd' } else { '-' },
    ]
    .iter()
    .collect()
}

/// One `xl list` row, xl 4.17's format; `name` is None when xenstore has no
/// name (a dying domain), printed as glibc prints a NULL string.
pub fn list_row(d: &DomInfo, name: Option<&str>) -> String {
    // xl converts to float before dividing: keep its rounding.
    let secs = f64::from(d.cpu_time_ns as f32) / 1e9;
    format!(
        "{:<40} {:>5} {:>5} {:>5}     {}  {:>8.1}",
        name.unwrap_or("(null)"),
        d.domid,
        (d.current_memkb + d.outstanding_memkb) / 1024,
        d.vcpu_online,
        state_letters(d),
        secs
    )
}

/// The header line of `xl list`.
pub const LIST_HEADER: &str =
    "Name                                        ID   Mem VCPUs\tState\tTime(s)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmaps_print_like_xl() {
        assert_eq!(bitmap_ranges(&[0b11], 2), "all");
        assert_eq!(bitmap_ranges(&[0xff], 2), "all");
        assert_eq!(bitmap_ranges(&[0], 2), "none");
        assert_eq!(bitmap_ranges(&[0b10], 2), "1");
        assert_eq!(bitmap_ranges(&[0b1011_0110, 0b1], 10), "1-2,4-5,7-8");
        assert_eq!(bitmap_ranges(&[0b1111_1110], 8), "1-7");
    }

    #[test]
    fn list_rows_match_xl_printf() {
        let d = DomInfo {
            domid: 0,
            running: true,
            current_memkb: 1024 * 1024,
            vcpu_online: 2,
            cpu_time_ns: 25_200_000_000,
            ..Default::default()
        };
        assert_eq!(
            list_row(&d, Some("Domain-0")),
            "Domain-0                                     0  1024     2     r-----      25.2"
        );
        let z = DomInfo {
            domid: 1,
            shutdown: true,
            shutdown_reason: 3,
            dying: true,
            paused: true,
            ..Default::default()
        };
        assert_eq!(
            list_row(&z, None),
            "(null)                                       1     0     0     --pscd       0.0"
        );
    }
}
