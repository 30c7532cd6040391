//! The toolstack: what xl does, written once above the backend seam.
//!
//! The seam is split by who does the work: [`Hypervisor`] is what the
//! hypervisor does (domctl, sysctl, memory operations), [`Dom0`] what
//! dom0's services do (hotplug scripts, device models, I/O counters). A
//! [`Host`] holds one of each with the host's facts: where its files are
//! and where its xenstored listens. Xen ([`xen`]) is one backend; the
//! simulator is another. Xenstore is not behind the seam: both backends
//! are driven through the same xenstore client.

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
    pub domid: u32,
    pub uuid: [u8; 16],
    pub ssidref: u32,
    pub running: bool,
    pub blocked: bool,
    pub paused: bool,
    pub shutdown: bool,
    pub dying: bool,
    /// Valid when `shutdown`: 0 poweroff, 1 reboot, 2 suspend, 3 crash,
    /// 4 watchdog, 5 soft reset.
    pub shutdown_reason: u32,
    pub outstanding_memkb: u64,
    pub current_memkb: u64,
    pub shared_memkb: u64,
    pub paged_memkb: u64,
    pub max_memkb: u64,
    pub cpu_time_ns: u64,
    pub vcpu_max_id: u32,
    pub vcpu_online: u32,
    pub cpupool: u32,
    pub hvm: bool,
}

/// One vCPU of a domain (`xl vcpu-list`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VcpuInfo {
    pub vcpuid: u32,
    pub cpu: u32,
    pub online: bool,
    pub blocked: bool,
    pub running: bool,
    pub time_ns: u64,
    /// Hard and soft affinity bitmaps (bit i = CPU i), whole bytes.
    pub hard: Vec<u8>,
    pub soft: Vec<u8>,
}

/// Host facts (`xl info`'s physinfo part).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhysInfo {
    pub threads_per_core: u32,
    pub cores_per_socket: u32,
    pub nr_cpus: u32,
    pub max_cpu_id: u32,
    pub nr_nodes: u32,
    pub max_node_id: u32,
    pub cpu_khz: u32,
    pub hw_cap: [u32; 8],
    pub virt_caps: Vec<String>,
    pub total_pages: u64,
    pub free_pages: u64,
    pub scrub_pages: u64,
    pub outstanding_pages: u64,
    pub sharing_freed_pages: u64,
    pub sharing_used_frames: u64,
}

/// The hypervisor's identity (`xl info`'s xen_* lines).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub major: u32,
    pub minor: u32,
    pub extra: String,
    pub compiler: String,
    pub compile_by: String,
    pub compile_domain: String,
    pub compile_date: String,
    pub capabilities: String,
    pub changeset: String,
    pub virt_start: u64,
    pub pagesize: u32,
    pub commandline: String,
    /// Lower-case hex, empty when the hypervisor has none.
    pub build_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot talk to the Xen hypervisor")]
    NoXen(#[source] xen_sys::SysError),
    #[error(transparent)]
    Sys(#[from] xen_sys::SysError),
    #[error("domain {0} does not exist")]
    NoSuchDomain(u32),
    /// A domid no domain can have (its digits, as given).
    #[error("Domain {0} does not exist.")]
    NoSuchDomid(String),
    #[error(transparent)]
    Xenstore(#[from] xenstore::Error),
    /// A request refused with an errno (the simulated hypervisor's too).
    #[error(transparent)]
    Os(std::io::Error),
    /// An OS error in `what` (a step of the backend's work on a file or
    /// stream).
    #[error("{what}")]
    Io {
        what: &'static str,
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
    NodeVanished { path: String, during: &'static str },
    /// `vcpu-pin` with neither mask to set.
    #[error("neither a hard nor a soft affinity to set")]
    NoAffinity,
    /// `trigger` with a name libxl knows no trigger for.
    #[error("trigger `unknown' cannot be sent")]
    UnknownTrigger,
    /// A new device whose backend did not get ready.
    #[error("{kind} {devid}")]
    DeviceNotReady {
        kind: String,
        devid: u32,
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
    #[error("{0} is not implemented for this backend yet")]
    Unsupported(&'static str),
    /// Another backend's own failure, typed by that backend (the
    /// simulator's `SimError`): callers that need its cause downcast it.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync + 'static>),
    #[error("save stream")]
    Stream(#[source] xl_savefile::FormatError),
    #[error("the PV guest's image")]
    PvImage(#[from] xen::PvImageError),
    #[error(transparent)]
    Core(#[from] core_dump::CoreError),
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
    Nmi,
    Reset,
    Init,
    Power,
    Sleep,
}

/// `XEN_DOMCTL_createdomain`'s inputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSpec {
    pub uuid: [u8; 16],
    pub kind: GuestKind,
    pub hap: bool,
    pub max_vcpus: u32,
    pub max_evtchn_port: u32,
    pub max_grant_frames: u32,
    pub max_maptrack_frames: u32,
    pub ssidref: u32,
    /// The cpupool the domain starts in (0: Pool-0).
    #[serde(default)]
    pub cpupool: u32,
}

/// What the domain builder loads into a new domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildSpec {
    pub kind: GuestKind,
    pub max_memkb: u64,
    pub target_memkb: u64,
    /// vCPUs online at boot.
    pub online_vcpus: u32,
    /// PV/PVH kernel, or the HVM firmware.
    pub kernel: Option<String>,
    pub ramdisk: Option<String>,
    pub cmdline: Option<String>,
    /// The guest's name, for the simulated guest's banner only.
    pub name: String,
    /// Domains serving the xenstore and console rings (xenstored's and
    /// xenconsoled's, from /tool/*/domid).
    #[serde(default)]
    pub store_domid: u32,
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
    pub store_port: u32,
    pub store_mfn: u64,
    pub console_port: u32,
    pub console_mfn: u64,
}

/// A device whose backend runs a hotplug script (libxl_linux.c).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HotplugDevice {
    /// `vbd` or `vif`.
    pub kind: String,
    pub domid: u32,
    pub devid: u32,
    /// `/local/domain/0/backend/<kind>/<domid>/<devid>`
    pub backend_path: String,
    /// The script as written in the backend's `script` node.
    pub script: String,
}

/// The device model (qemu-xen) a domain needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmSpec {
    pub domid: u32,
    pub name: String,
    /// Binary to run (`device_model_override` or the installed qemu).
    pub binary: String,
    /// Where `binary` came from, so a failure says what to fix.
    #[serde(default)]
    pub binary_source: DmBinarySource,
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
    pub core: Option<u32>,
    pub socket: Option<u32>,
    pub node: Option<u32>,
}

/// One NUMA node: memory in bytes and the distance to every node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumaNode {
    pub size: Option<u64>,
    pub free: Option<u64>,
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
    pub seg: u16,
    pub bus: u8,
    pub devfn: u8,
}

/// A cpupool: its scheduler's name and CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpupoolInfo {
    pub poolid: u32,
    pub sched: String,
    pub n_dom: u32,
    pub cpumap: Vec<u8>,
}

/// A domain's credit/credit2 parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedParams {
    pub weight: u16,
    pub cap: u16,
}

/// One vCPU's RTDS parameters: period and budget in microseconds, and
/// whether it may run beyond its budget when a CPU is idle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RtdsVcpu {
    pub vcpuid: u32,
    pub period: u32,
    pub budget: u32,
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
