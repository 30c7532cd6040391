//! Xen's public interface as `repr(C)` structs and constants, for the
//! operations the toolstack uses. Layouts are identical on Xen 4.17 to 4.22
//! (x86-64) except createdomain's ([`CreateDomainLayout`]); otherwise only
//! the domctl/sysctl interface versions differ, which [`InterfaceVersions`]
//! selects at run time. `expected.rs`, generated from each release's
//! headers, is what the tests hold these against.

pub type DomId = u16;

// Hypercall numbers (xen.h).
pub const HYPERVISOR_SCHED_OP: u64 = 29;
pub const HYPERVISOR_XEN_VERSION: u64 = 17;
pub const HYPERVISOR_SYSCTL: u64 = 35;
pub const HYPERVISOR_DOMCTL: u64 = 36;

// xen_version sub-operations (version.h).
pub const XENVER_VERSION: u64 = 0;
pub const XENVER_EXTRAVERSION: u64 = 1;
pub const XENVER_COMPILE_INFO: u64 = 2;
pub const XENVER_CAPABILITIES: u64 = 3;
pub const XENVER_CHANGESET: u64 = 4;
pub const XENVER_PLATFORM_PARAMETERS: u64 = 5;
pub const XENVER_PAGESIZE: u64 = 7;
pub const XENVER_COMMANDLINE: u64 = 9;
pub const XENVER_BUILD_ID: u64 = 10;

pub const HYPERVISOR_MEMORY_OP: u64 = 12;
pub const HYPERVISOR_HVM_OP: u64 = 34;
pub const HVMOP_GET_PARAM: u64 = 1;
pub const HVM_PARAM_CALLBACK_IRQ: u32 = 0;
pub const XENMEM_GET_SHARING_FREED_PAGES: u64 = 18;
pub const XENMEM_GET_SHARING_SHARED_PAGES: u64 = 19;
pub const XENMEM_SET_POD_TARGET: u64 = 16;

// Fixed-size xen_version string buffers.
pub const XEN_EXTRAVERSION_LEN: usize = 16;
pub const XEN_CAPABILITIES_INFO_LEN: usize = 1024;
pub const XEN_CHANGESET_INFO_LEN: usize = 64;
pub const XEN_COMMANDLINE_LEN: usize = 1024;
/// `xen_compile_info_t`: `compiler[64]`, `compile_by[16]`, `compile_domain[32]`,
/// `compile_date[32]`.
pub const XEN_COMPILE_INFO_FIELDS: [(usize, usize); 4] = [(0, 64), (64, 16), (80, 32), (112, 32)];
pub const XEN_COMPILE_INFO_LEN: usize = 144;

// Scheduler ids (XEN_SCHEDULER_*).
pub const SCHEDULERS: &[(u32, &str)] = &[
    (5, "credit"),
    (6, "credit2"),
    (7, "arinc653"),
    (8, "rtds"),
    (9, "null"),
];

// sysctl commands (sysctl.h).
pub const SYSCTL_READCONSOLE: u32 = 1;
pub const SYSCTL_PHYSINFO: u32 = 3;
pub const SYSCTL_SCHED_ID: u32 = 4;
pub const SYSCTL_GETDOMAININFOLIST: u32 = 6;
pub const SYSCTL_CPUPOOL_OP: u32 = 18;
pub const SYSCTL_CPUPOOL_OP_FREEINFO: u32 = 7;
pub const SYSCTL_CPUPOOL_OP_CREATE: u32 = 1;
pub const SYSCTL_CPUPOOL_OP_DESTROY: u32 = 2;
pub const SYSCTL_CPUPOOL_OP_ADDCPU: u32 = 4;
pub const SYSCTL_CPUPOOL_OP_RMCPU: u32 = 5;
pub const SYSCTL_CPUPOOL_OP_MOVEDOMAIN: u32 = 6;
/// "Any pool id": cpupool create lets Xen choose.
pub const SYSCTL_CPUPOOL_PAR_ANY: u32 = 0xffff_ffff;
pub const SYSCTL_DEBUG_KEYS: u32 = 7;

// FLASK, the XSM module behind `xl getenforce/setenforce/loadpolicy`.
pub const HYPERVISOR_XSM_OP: u64 = 27;
pub const FLASK_INTERFACE_VERSION: u32 = 1;
pub const FLASK_LOAD: u32 = 1;
pub const FLASK_GETENFORCE: u32 = 2;
pub const FLASK_SETENFORCE: u32 = 3;
/// `struct xen_flask_op`: cmd, interface_version, then the union `u`
/// (its largest member sets the size; only load and setenforce are used).
pub const FLASK_OP_SIZE: usize = 40;
pub const FLASK_OP_UNION: usize = 8;

// domctl commands (domctl.h).
pub const DOMCTL_DESTROYDOMAIN: u32 = 2;
pub const DOMCTL_PAUSEDOMAIN: u32 = 3;
pub const DOMCTL_UNPAUSEDOMAIN: u32 = 4;
pub const DOMCTL_GETDOMAININFO: u32 = 5;
pub const DOMCTL_MAX_MEM: u32 = 11;
pub const DOMCTL_GETVCPUINFO: u32 = 14;
pub const DOMCTL_SENDTRIGGER: u32 = 28;
pub const DOMCTL_GETVCPUAFFINITY: u32 = 25;
pub const VCPUAFFINITY_HARD: u32 = 1;
pub const VCPUAFFINITY_SOFT: u32 = 2;
/// max_vcpu_id of a domain without vCPUs.
pub const INVALID_MAX_VCPU_ID: u32 = u32::MAX;

// XEN_DOMCTL_SENDTRIGGER_*.
pub const TRIGGER_NMI: u32 = 0;
pub const TRIGGER_RESET: u32 = 1;
pub const TRIGGER_INIT: u32 = 2;
pub const TRIGGER_POWER: u32 = 3;
pub const TRIGGER_SLEEP: u32 = 4;

// getdomaininfo flags.
pub const DOMINF_DYING: u32 = 1 << 0;
pub const DOMINF_HVM_GUEST: u32 = 1 << 1;
pub const DOMINF_SHUTDOWN: u32 = 1 << 2;
pub const DOMINF_PAUSED: u32 = 1 << 3;
pub const DOMINF_BLOCKED: u32 = 1 << 4;
pub const DOMINF_RUNNING: u32 = 1 << 5;
pub const DOMINF_SHUTDOWNSHIFT: u32 = 16;
pub const DOMINF_SHUTDOWNMASK: u32 = 0xff;

/// `struct xen_domctl_getdomaininfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DomainInfo {
    pub domain: DomId,
    pub _pad0: u16,
    pub flags: u32,
    pub tot_pages: u64,
    pub max_pages: u64,
    pub outstanding_pages: u64,
    pub shr_pages: u64,
    pub paged_pages: u64,
    pub shared_info_frame: u64,
    pub cpu_time: u64,
    pub nr_online_vcpus: u32,
    pub max_vcpu_id: u32,
    pub ssidref: u32,
    pub handle: [u8; 16],
    pub cpupool: u32,
    pub gpaddr_bits: u8,
    pub _pad1: [u8; 7],
    /// x86 `xen_arch_domainconfig`: emulation_flags, misc_flags.
    pub arch_config: [u32; 2],
}

/// `struct xen_sysctl_getdomaininfolist`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct GetDomainInfoList {
    pub first_domain: DomId,
    pub _pad0: u16,
    pub max_domains: u32,
    /// Guest handle: address of a `DomainInfo` array in hypercall memory.
    pub buffer: u64,
    pub num_domains: u32,
    pub _pad1: u32,
}

/// `struct xen_sysctl_physinfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysInfo {
    pub threads_per_core: u32,
    pub cores_per_socket: u32,
    pub nr_cpus: u32,
    pub max_cpu_id: u32,
    pub nr_nodes: u32,
    pub max_node_id: u32,
    pub cpu_khz: u32,
    pub capabilities: u32,
    pub arch_capabilities: u32,
    pub _pad: u32,
    pub total_pages: u64,
    pub free_pages: u64,
    pub scrub_pages: u64,
    pub outstanding_pages: u64,
    pub max_mfn: u64,
    pub hw_cap: [u32; 8],
}

// physinfo capability bits.
pub const PHYSCAP_HVM: u32 = 1 << 0;
pub const PHYSCAP_PV: u32 = 1 << 1;
pub const PHYSCAP_DIRECTIO: u32 = 1 << 2;
pub const PHYSCAP_HAP: u32 = 1 << 3;
pub const PHYSCAP_SHADOW: u32 = 1 << 4;
pub const PHYSCAP_IOMMU_HAP_PT_SHARE: u32 = 1 << 5;
pub const PHYSCAP_VMTRACE: u32 = 1 << 6;
pub const PHYSCAP_VPMU: u32 = 1 << 7;
pub const PHYSCAP_GNTTAB_V1: u32 = 1 << 8;
pub const PHYSCAP_GNTTAB_V2: u32 = 1 << 9;

/// `struct xen_sysctl_readconsole`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadConsole {
    pub clear: u8,
    pub incremental: u8,
    pub _pad: u16,
    pub index: u32,
    pub buffer: u64,
    pub count: u32,
    pub _pad1: u32,
}

/// `struct xen_sysctl_cpupool_op` with its `xenctl_bitmap` inlined.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CpupoolOp {
    pub op: u32,
    pub cpupool_id: u32,
    pub sched_id: u32,
    pub domid: u32,
    pub cpu: u32,
    pub n_dom: u32,
    /// cpumap.bitmap: guest handle to the bitmap bytes.
    pub cpumap_bitmap: u64,
    pub cpumap_nr_bits: u32,
    pub _pad: u32,
}

/// `struct xen_sysctl_debug_keys`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DebugKeys {
    /// Guest handle to the key characters.
    pub keys: u64,
    pub nr_keys: u32,
    pub _pad: u32,
}

// hypfs, Xen's parameter file system (`xl set-parameters`).
pub const HYPERVISOR_HYPFS_OP: u64 = 42;
pub const HYPFS_OP_GET_VERSION: u64 = 0;
pub const HYPFS_OP_READ: u64 = 1;
pub const HYPFS_OP_WRITE_CONTENTS: u64 = 2;
pub const HYPFS_MAX_PATHLEN: usize = 1024;
pub const HYPFS_TYPE_STRING: u8 = 2;
pub const HYPFS_TYPE_UINT: u8 = 3;
pub const HYPFS_TYPE_INT: u8 = 4;
pub const HYPFS_TYPE_BOOL: u8 = 5;
pub const HYPFS_ENC_PLAIN: u8 = 0;

/// `struct xen_hypfs_direntry`: what XEN_HYPFS_OP_read puts before an
/// entry's contents.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HypfsDirentry {
    /// XEN_HYPFS_TYPE_*.
    pub kind: u8,
    /// XEN_HYPFS_ENC_*.
    pub encoding: u8,
    pub _pad: u16,
    pub content_len: u32,
    /// 0 for a read-only entry.
    pub max_write_len: u32,
}

// Platform shared resources (`xl psr-*`): monitoring (CMT) and allocation
// (CAT, MBA).
pub const SYSCTL_PSR_CMT_OP: u32 = 21;
pub const SYSCTL_PSR_CMT_GET_TOTAL_RMID: u32 = 0;
pub const SYSCTL_PSR_CMT_GET_L3_UPSCALING_FACTOR: u32 = 1;
pub const SYSCTL_PSR_CMT_GET_L3_CACHE_SIZE: u32 = 2;
pub const SYSCTL_PSR_CMT_ENABLED: u32 = 3;
pub const SYSCTL_PSR_CMT_GET_L3_EVENT_MASK: u32 = 4;
pub const SYSCTL_PSR_ALLOC: u32 = 23;
pub const SYSCTL_PSR_GET_L3_INFO: u32 = 0;
pub const SYSCTL_PSR_GET_L2_INFO: u32 = 1;
pub const SYSCTL_PSR_GET_MBA_INFO: u32 = 2;
pub const SYSCTL_PSR_CAT_L3_CDP: u32 = 1;
pub const SYSCTL_PSR_MBA_LINEAR: u32 = 1;
pub const DOMCTL_PSR_CMT_OP: u32 = 75;
pub const DOMCTL_PSR_CMT_OP_DETACH: u32 = 0;
pub const DOMCTL_PSR_CMT_OP_ATTACH: u32 = 1;
pub const DOMCTL_PSR_CMT_OP_QUERY_RMID: u32 = 2;
pub const DOMCTL_PSR_ALLOC: u32 = 78;
pub const DOMCTL_PSR_SET_L3_CBM: u32 = 0;
pub const DOMCTL_PSR_GET_L3_CBM: u32 = 1;
pub const DOMCTL_PSR_SET_L3_CODE: u32 = 2;
pub const DOMCTL_PSR_SET_L3_DATA: u32 = 3;
pub const DOMCTL_PSR_GET_L3_CODE: u32 = 4;
pub const DOMCTL_PSR_GET_L3_DATA: u32 = 5;
pub const DOMCTL_PSR_SET_L2_CBM: u32 = 6;
pub const DOMCTL_PSR_GET_L2_CBM: u32 = 7;
pub const DOMCTL_PSR_SET_MBA_THRTL: u32 = 8;
pub const DOMCTL_PSR_GET_MBA_THRTL: u32 = 9;

/// `struct xen_sysctl_psr_cmt_op`; `data` is also `u.l3_cache.cpu` (its
/// low half) for get_l3_cache_size.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SysctlPsrCmtOp {
    pub cmd: u32,
    pub flags: u32,
    pub data: u64,
}

/// `struct xen_sysctl_psr_alloc`: `a` is cat_info.cbm_len or
/// mba_info.thrtl_max, `cos_max` and `flags` are at the same place in both.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SysctlPsrAlloc {
    pub cmd: u32,
    pub target: u32,
    pub a: u32,
    pub cos_max: u32,
    pub flags: u32,
}

/// `struct xen_domctl_psr_cmt_op`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DomctlPsrCmtOp {
    pub cmd: u32,
    pub data: u32,
}

/// `struct xen_domctl_psr_alloc`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DomctlPsrAlloc {
    pub cmd: u32,
    pub target: u32,
    pub data: u64,
}

/// `struct xen_hvm_param` (hvm_op get/set param).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct HvmParam {
    pub domid: DomId,
    pub _pad: u16,
    pub index: u32,
    pub value: u64,
}

/// `struct xen_domctl_sendtrigger`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SendTrigger {
    pub trigger: u32,
    pub vcpu: u32,
}

/// `XEN_DOMCTL_assign_device`, `_test_assign_device`, `_deassign_device`.
pub const DOMCTL_ASSIGN_DEVICE: u32 = 37;
pub const DOMCTL_TEST_ASSIGN_DEVICE: u32 = 45;
pub const DOMCTL_DEASSIGN_DEVICE: u32 = 47;
/// `XEN_DOMCTL_irq_permission`, `_iomem_permission`, `_ioport_permission`.
pub const DOMCTL_IRQ_PERMISSION: u32 = 19;
pub const DOMCTL_IOMEM_PERMISSION: u32 = 20;
pub const DOMCTL_IOPORT_PERMISSION: u32 = 21;
/// `XEN_DOMCTL_DEV_PCI`: the device is named by its PCI address.
pub const DOMCTL_DEV_PCI: u32 = 0;
/// `XEN_DOMCTL_DEV_RDM_RELAXED`: reserved memory regions may be ignored.
pub const DOMCTL_DEV_RDM_RELAXED: u32 = 1;
/// `DOMID_IO`: the sentinel owner of quarantined devices.
pub const DOMID_IO: DomId = 0x7ff1;

/// `struct xen_domctl_assign_device` for a PCI device (the union's
/// device-tree half is not used: its handle stays zero).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct AssignDevice {
    pub dev: u32,
    pub flags: u32,
    pub machine_sbdf: u32,
    pub _pad: u32,
    pub _dt_path: u64,
}

/// `__HYPERVISOR_physdev_op` and the operations the toolstack uses.
pub const HYPERVISOR_PHYSDEV_OP: u64 = 33;
pub const PHYSDEVOP_MAP_PIRQ: u64 = 13;
pub const PHYSDEVOP_UNMAP_PIRQ: u64 = 14;
/// `MAP_PIRQ_TYPE_GSI`: a legacy (GSI) interrupt.
pub const MAP_PIRQ_TYPE_GSI: i32 = 0x1;

/// `struct physdev_map_pirq`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PhysdevMapPirq {
    pub domid: DomId,
    pub _pad: u16,
    pub kind: i32,
    pub index: i32,
    pub pirq: i32,
    pub bus: i32,
    pub devfn: i32,
    pub entry_nr: i32,
    pub _pad2: u32,
    pub table_base: u64,
}

/// `struct physdev_unmap_pirq`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PhysdevUnmapPirq {
    pub domid: DomId,
    pub _pad: u16,
    pub pirq: i32,
}

/// `struct xen_domctl_irq_permission`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct IrqPermission {
    pub pirq: u32,
    pub allow_access: u8,
    pub _pad: [u8; 3],
}

/// `struct xen_domctl_iomem_permission`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct IomemPermission {
    pub first_mfn: u64,
    pub nr_mfns: u64,
    pub allow_access: u8,
}

/// `struct xen_domctl_ioport_permission`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct IoportPermission {
    pub first_port: u32,
    pub nr_ports: u32,
    pub allow_access: u8,
}

/// `SCHEDOP_remote_shutdown`: stop another domain as if it had asked to.
pub const SCHEDOP_REMOTE_SHUTDOWN: u64 = 4;
/// `SHUTDOWN_suspend`: the reason a suspended domain gives.
pub const SHUTDOWN_SUSPEND: u32 = 2;

/// `struct sched_remote_shutdown`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RemoteShutdown {
    pub domain_id: DomId,
    pub _pad: u16,
    pub reason: u32,
}

/// `struct xen_domctl_getvcpuinfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct VcpuInfo {
    pub vcpu: u32,
    pub online: u8,
    pub blocked: u8,
    pub running: u8,
    pub _pad: u8,
    pub cpu_time: u64,
    pub cpu: u32,
    pub _pad1: u32,
}

/// `struct xen_domctl_vcpuaffinity` with both `xenctl_bitmap`s inlined.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct VcpuAffinity {
    pub vcpu: u32,
    pub flags: u32,
    pub hard_bitmap: u64,
    pub hard_nr_bits: u32,
    pub _pad0: u32,
    pub soft_bitmap: u64,
    pub soft_nr_bits: u32,
    pub _pad1: u32,
}

/// `struct xen_pod_target`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PodTarget {
    pub target_pages: u64,
    pub tot_pages: u64,
    pub pod_cache_pages: u64,
    pub pod_entries: u64,
    pub domid: DomId,
    pub _pad: [u16; 3],
}

/// `struct xen_domctl_max_mem`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MaxMem {
    pub max_memkb: u64,
}

/// Size of the command union in `struct xen_sysctl` / `struct xen_domctl`.
pub const UNION_SIZE: usize = 128;

/// `struct xen_sysctl`: header plus the 128-byte command union.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug)]
pub struct Sysctl {
    pub cmd: u32,
    pub interface_version: u32,
    pub u: [u8; UNION_SIZE],
}

/// `struct xen_domctl`: header plus the 128-byte command union.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug)]
pub struct Domctl {
    pub cmd: u32,
    pub interface_version: u32,
    pub domain: DomId,
    pub _pad: [u16; 3],
    pub u: [u8; UNION_SIZE],
}

impl Default for Sysctl {
    fn default() -> Self {
        Sysctl {
            cmd: 0,
            interface_version: 0,
            u: [0; UNION_SIZE],
        }
    }
}

impl Default for Domctl {
    fn default() -> Self {
        Domctl {
            cmd: 0,
            interface_version: 0,
            domain: 0,
            _pad: [0; 3],
            u: [0; UNION_SIZE],
        }
    }
}

impl Sysctl {
    pub fn new<P: Pod>(cmd: u32, version: u32, payload: &P) -> Self {
        let mut s = Sysctl {
            cmd,
            interface_version: version,
            ..Default::default()
        };
        let b = payload.to_bytes();
        s.u[..b.len()].copy_from_slice(&b);
        s
    }
    pub fn payload<P: Pod>(&self) -> P {
        P::from_bytes(&self.u)
    }
}

impl Domctl {
    pub fn new<P: Pod>(cmd: u32, version: u32, domain: DomId, payload: &P) -> Self {
        let mut d = Domctl {
            cmd,
            interface_version: version,
            domain,
            ..Default::default()
        };
        let b = payload.to_bytes();
        d.u[..b.len()].copy_from_slice(&b);
        d
    }
    pub fn payload<P: Pod>(&self) -> P {
        P::from_bytes(&self.u)
    }
}

/// A domctl without a payload (pause, unpause, destroy).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPayload;

impl Pod for NoPayload {
    fn to_bytes(&self) -> Vec<u8> {
        Vec::new()
    }
    fn from_bytes(_: &[u8]) -> Self {
        NoPayload
    }
}

/// Copy a plain-data payload into a command union (and back), without
/// unsafe: payloads here are `repr(C)` structs of integers, written through
/// their byte image.
pub trait Pod: Copy + Default {
    fn to_bytes(&self) -> Vec<u8>;
    fn from_bytes(b: &[u8]) -> Self;
}

macro_rules! pod_fields {
    ($t:ty { $($f:ident),* $(,)? }) => {
        impl Pod for $t {
            fn to_bytes(&self) -> Vec<u8> {
                let mut out = vec![0u8; std::mem::size_of::<$t>()];
                $( put(&mut out, std::mem::offset_of!($t, $f), &self.$f); )*
                out
            }
            fn from_bytes(b: &[u8]) -> Self {
                let mut v = <$t>::default();
                $( get(b, std::mem::offset_of!($t, $f), &mut v.$f); )*
                v
            }
        }
    };
}

/// Integer-like fields that know their little-endian image.
pub trait Field {
    fn put(&self, out: &mut [u8]);
    fn get(&mut self, b: &[u8]);
}

macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn put(&self, out: &mut [u8]) {
                out[..std::mem::size_of::<$t>()].copy_from_slice(&self.to_le_bytes());
            }
            fn get(&mut self, b: &[u8]) {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(&b[..std::mem::size_of::<$t>()]);
                *self = <$t>::from_le_bytes(a);
            }
        }
    )*};
}
int_field!(u8, u16, u32, u64, i16, i32, i64);

impl<T: Field, const N: usize> Field for [T; N] {
    fn put(&self, out: &mut [u8]) {
        let w = std::mem::size_of::<T>();
        for (i, x) in self.iter().enumerate() {
            x.put(&mut out[i * w..]);
        }
    }
    fn get(&mut self, b: &[u8]) {
        let w = std::mem::size_of::<T>();
        for (i, x) in self.iter_mut().enumerate() {
            x.get(&b[i * w..]);
        }
    }
}

fn put<F: Field>(out: &mut [u8], at: usize, f: &F) {
    f.put(&mut out[at..]);
}

fn get<F: Field>(b: &[u8], at: usize, f: &mut F) {
    f.get(&b[at..]);
}

pod_fields!(DomainInfo {
    domain,
    flags,
    tot_pages,
    max_pages,
    outstanding_pages,
    shr_pages,
    paged_pages,
    shared_info_frame,
    cpu_time,
    nr_online_vcpus,
    max_vcpu_id,
    ssidref,
    handle,
    cpupool,
    gpaddr_bits,
    arch_config
});
pod_fields!(GetDomainInfoList {
    first_domain,
    max_domains,
    buffer,
    num_domains
});
pod_fields!(PhysInfo {
    threads_per_core,
    cores_per_socket,
    nr_cpus,
    max_cpu_id,
    nr_nodes,
    max_node_id,
    cpu_khz,
    capabilities,
    arch_capabilities,
    total_pages,
    free_pages,
    scrub_pages,
    outstanding_pages,
    max_mfn,
    hw_cap
});
pod_fields!(ReadConsole {
    clear,
    incremental,
    index,
    buffer,
    count
});
pod_fields!(CpupoolOp {
    op,
    cpupool_id,
    sched_id,
    domid,
    cpu,
    n_dom,
    cpumap_bitmap,
    cpumap_nr_bits
});
pod_fields!(DebugKeys { keys, nr_keys });
pod_fields!(HypfsDirentry {
    kind,
    encoding,
    content_len,
    max_write_len
});
pod_fields!(SysctlPsrCmtOp { cmd, flags, data });
pod_fields!(SysctlPsrAlloc {
    cmd,
    target,
    a,
    cos_max,
    flags
});
pod_fields!(DomctlPsrCmtOp { cmd, data });
pod_fields!(DomctlPsrAlloc { cmd, target, data });
pod_fields!(HvmParam {
    domid,
    index,
    value
});
pod_fields!(SendTrigger { trigger, vcpu });
pod_fields!(AssignDevice {
    dev,
    flags,
    machine_sbdf
});
pod_fields!(IrqPermission { pirq, allow_access });
pod_fields!(PhysdevMapPirq {
    domid,
    kind,
    index,
    pirq,
    bus,
    devfn,
    entry_nr,
    table_base
});
pod_fields!(PhysdevUnmapPirq { domid, pirq });
pod_fields!(IomemPermission {
    first_mfn,
    nr_mfns,
    allow_access
});
pod_fields!(IoportPermission {
    first_port,
    nr_ports,
    allow_access
});
pod_fields!(RemoteShutdown { domain_id, reason });
pod_fields!(VcpuInfo {
    vcpu,
    online,
    blocked,
    running,
    cpu_time,
    cpu
});
pod_fields!(VcpuAffinity {
    vcpu,
    flags,
    hard_bitmap,
    hard_nr_bits,
    soft_bitmap,
    soft_nr_bits
});
pod_fields!(PodTarget {
    target_pages,
    tot_pages,
    pod_cache_pages,
    pod_entries,
    domid
});
pod_fields!(MaxMem { max_memkb });
pod_fields!(Sysctl {
    cmd,
    interface_version,
    u
});
pod_fields!(Domctl {
    cmd,
    interface_version,
    domain,
    u
});

/// The unstable-interface versions a given Xen speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfaceVersions {
    pub domctl: u32,
    pub sysctl: u32,
}

/// Supported Xen releases (major, minor) and their interface versions.
pub const SUPPORTED: &[((u32, u32), InterfaceVersions)] = &[
    (
        (4, 17),
        InterfaceVersions {
            domctl: 0x15,
            sysctl: 0x15,
        },
    ),
    (
        (4, 18),
        InterfaceVersions {
            domctl: 0x16,
            sysctl: 0x15,
        },
    ),
    (
        (4, 19),
        InterfaceVersions {
            domctl: 0x17,
            sysctl: 0x15,
        },
    ),
    (
        (4, 20),
        InterfaceVersions {
            domctl: 0x17,
            sysctl: 0x15,
        },
    ),
    (
        (4, 21),
        InterfaceVersions {
            domctl: 0x17,
            sysctl: 0x16,
        },
    ),
    (
        (4, 22),
        InterfaceVersions {
            domctl: 0x18,
            sysctl: 0x16,
        },
    ),
];

/// Interface versions for a hypervisor version, from XENVER_version's
/// `major << 16 | minor`.
pub fn interface_versions(xen_version: u32) -> Option<InterfaceVersions> {
    let v = (xen_version >> 16, xen_version & 0xffff);
    SUPPORTED.iter().find(|(r, _)| *r == v).map(|(_, i)| *i)
}

// Topology, NUMA, vCPU affinity and scheduler parameters (issue 4, wt4).
pub const SYSCTL_CPUTOPOINFO: u32 = 16;
pub const SYSCTL_NUMAINFO: u32 = 17;
pub const SYSCTL_SCHEDULER_OP: u32 = 19;
pub const SYSCTL_PCITOPOINFO: u32 = 22;
pub const SYSCTL_CPUPOOL_OP_INFO: u32 = 3;
pub const SYSCTL_SCHEDOP_PUTINFO: u32 = 0;
pub const SYSCTL_SCHEDOP_GETINFO: u32 = 1;
pub const DOMCTL_SETVCPUAFFINITY: u32 = 9;
pub const DOMCTL_SCHEDULER_OP: u32 = 16;
pub const DOMCTL_GETNODEAFFINITY: u32 = 69;
pub const DOMCTL_SCHEDOP_PUTINFO: u32 = 0;
pub const DOMCTL_SCHEDOP_GETINFO: u32 = 1;
pub const DOMCTL_SCHEDOP_PUTVCPUINFO: u32 = 2;
pub const DOMCTL_SCHEDOP_GETVCPUINFO: u32 = 3;
pub const DOMCTL_SCHEDRT_EXTRA: u32 = 1;
pub const VCPUAFFINITY_FORCE: u32 = 4;
pub const INVALID_CORE_ID: u32 = !0;
pub const INVALID_SOCKET_ID: u32 = !0;
pub const INVALID_NODE_ID: u32 = !0;
/// A PCI device the hypervisor does not know (pcitopoinfo).
pub const INVALID_DEV: u32 = !0 - 1;
/// Compared with the 64-bit memsize/memfree, as libxl does.
pub const INVALID_MEM_SZ: u64 = 0xffff_ffff;
pub const INVALID_NODE_DIST: u32 = !0;

/// `struct xen_sysctl_cputopo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTopo {
    pub core: u32,
    pub socket: u32,
    pub node: u32,
}

/// `struct xen_sysctl_cputopoinfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuTopoInfo {
    pub num_cpus: u32,
    pub _pad: u32,
    /// Guest handle of a `CpuTopo` array (0: only count).
    pub cputopo: u64,
}

/// `struct xen_sysctl_meminfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemInfo {
    pub memsize: u64,
    pub memfree: u64,
}

/// `struct xen_sysctl_numainfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NumaInfo {
    pub num_nodes: u32,
    pub _pad: u32,
    pub meminfo: u64,
    pub distance: u64,
}

/// `struct physdev_pci_device`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PciDevice {
    pub seg: u16,
    pub bus: u8,
    pub devfn: u8,
}

/// `struct xen_sysctl_pcitopoinfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PciTopoInfo {
    pub num_devs: u32,
    pub _pad: u32,
    pub devs: u64,
    pub nodes: u64,
}

/// `struct xen_sysctl_scheduler_op` with the credit/credit2 members of
/// its union: credit's (tslice_ms, ratelimit_us, vcpu_migr_delay_us) are
/// `params[0..3]`, credit2's ratelimit_us is `params[0]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SysctlSchedOp {
    pub cpupool_id: u32,
    pub sched_id: u32,
    pub cmd: u32,
    pub _pad: u32,
    pub params: [u32; 4],
}

/// `struct xen_domctl_scheduler_op` with the credit/credit2 member of its
/// union (both are weight, cap).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DomctlSchedOp {
    pub sched_id: u32,
    pub cmd: u32,
    pub weight: u16,
    pub cap: u16,
    pub _pad: [u8; 12],
}

/// `struct xen_domctl_scheduler_op` with RTDS's member of its union:
/// a domain's default period and budget, in microseconds.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DomctlSchedRtds {
    pub sched_id: u32,
    pub cmd: u32,
    pub period: u32,
    pub budget: u32,
    pub flags: u32,
    pub _pad: u32,
}

/// `struct xen_domctl_scheduler_op` with the per-vCPU member of its
/// union: a handle to `nr_vcpus` [`SchedParamVcpu`]s.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DomctlSchedVcpus {
    pub sched_id: u32,
    pub cmd: u32,
    pub vcpus: u64,
    pub nr_vcpus: u32,
    pub _pad: u32,
}

/// `struct xen_domctl_schedparam_vcpu` with RTDS's member of its union.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedParamVcpu {
    pub period: u32,
    pub budget: u32,
    pub flags: u32,
    pub vcpuid: u32,
}

/// `struct xen_domctl_nodeaffinity` with its `xenctl_bitmap` inlined.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeAffinity {
    pub bitmap: u64,
    pub nr_bits: u32,
    pub _pad: u32,
}

pod_fields!(CpuTopo { core, socket, node });
pod_fields!(CpuTopoInfo { num_cpus, cputopo });
pod_fields!(MemInfo { memsize, memfree });
pod_fields!(NumaInfo {
    num_nodes,
    meminfo,
    distance
});
pod_fields!(PciDevice { seg, bus, devfn });
pod_fields!(PciTopoInfo {
    num_devs,
    devs,
    nodes
});
pod_fields!(SysctlSchedOp {
    cpupool_id,
    sched_id,
    cmd,
    params
});
pod_fields!(DomctlSchedOp {
    sched_id,
    cmd,
    weight,
    cap
});
pod_fields!(DomctlSchedRtds {
    sched_id,
    cmd,
    period,
    budget,
    flags
});
pod_fields!(DomctlSchedVcpus {
    sched_id,
    cmd,
    vcpus,
    nr_vcpus
});
pod_fields!(SchedParamVcpu {
    period,
    budget,
    flags,
    vcpuid
});
pod_fields!(NodeAffinity { bitmap, nr_bits });

// What a PV domain builder issues: createdomain and the domctls after it,
// memory_op, mmuext_op, event channels, grant tables (public/*.h).
pub const HYPERVISOR_GRANT_TABLE_OP: u64 = 20;
pub const HYPERVISOR_MMUEXT_OP: u64 = 26;
pub const HYPERVISOR_EVENT_CHANNEL_OP: u64 = 32;

pub const DOMCTL_CREATEDOMAIN: u32 = 1;
pub const DOMCTL_SETVCPUCONTEXT: u32 = 12;
pub const DOMCTL_MAX_VCPUS: u32 = 15;
pub const DOMCTL_HYPERCALL_INIT: u32 = 22;
pub const DOMCTL_SET_ADDRESS_SIZE: u32 = 35;
pub const DOMCTL_SETTSCINFO: u32 = 60;
// PVH and HVM builds: vCPU state as save records, the paging pool.
pub const DOMCTL_GETHVMCONTEXT: u32 = 33;
pub const DOMCTL_SETHVMCONTEXT: u32 = 34;
pub const DOMCTL_SET_PAGING_MEMPOOL_SIZE: u32 = 86;

// createdomain `flags` (XEN_DOMCTL_CDF_*).
pub const CDF_HVM: u32 = 1 << 0;
pub const CDF_HAP: u32 = 1 << 1;
pub const CDF_S3_INTEGRITY: u32 = 1 << 2;
pub const CDF_OOS_OFF: u32 = 1 << 3;
pub const CDF_XS_DOMAIN: u32 = 1 << 4;
pub const CDF_IOMMU: u32 = 1 << 5;
pub const CDF_NESTED_VIRT: u32 = 1 << 6;
pub const CDF_VPMU: u32 = 1 << 7;
/// Xen 4.21 and later only.
pub const CDF_TRAP_UNMAPPED_ACCESSES: u32 = 1 << 8;
pub const IOMMU_NO_SHAREPT: u32 = 1 << 0;
/// Low bits of `grant_opts`: the highest grant-table version allowed.
pub const GRANT_VERSION_MASK: u32 = 0xf;
// altp2m modes (4.19 and later).
pub const ALTP2M_MIXED: u32 = 1;
pub const ALTP2M_EXTERNAL: u32 = 2;
pub const ALTP2M_LIMITED: u32 = 3;

// x86 `xen_arch_domainconfig.emulation_flags` (XEN_X86_EMU_*).
pub const X86_EMU_LAPIC: u32 = 1 << 0;
pub const X86_EMU_HPET: u32 = 1 << 1;
pub const X86_EMU_PM: u32 = 1 << 2;
pub const X86_EMU_RTC: u32 = 1 << 3;
pub const X86_EMU_IOAPIC: u32 = 1 << 4;
pub const X86_EMU_PIC: u32 = 1 << 5;
pub const X86_EMU_VGA: u32 = 1 << 6;
pub const X86_EMU_IOMMU: u32 = 1 << 7;
pub const X86_EMU_PIT: u32 = 1 << 8;
pub const X86_EMU_USE_PIRQ: u32 = 1 << 9;
pub const X86_EMU_VPCI: u32 = 1 << 10;
pub const X86_EMU_ALL: u32 = 0x7ff;
/// `misc_flags`: XEN_X86_MSR_RELAXED.
pub const X86_MSR_RELAXED: u32 = 1 << 0;

/// Domids from here on are special (DOMID_SELF, DOMID_IO, ...).
pub const DOMID_FIRST_RESERVED: DomId = 0x7ff0;
pub const DOMID_SELF: DomId = 0x7ff0;

/// Arguments of XEN_DOMCTL_createdomain, whatever the release; serialised
/// with the running Xen's layout by [`CreateDomain::to_bytes`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CreateDomain {
    pub ssidref: u32,
    /// The domain's UUID.
    pub handle: [u8; 16],
    /// `CDF_*`.
    pub flags: u32,
    pub iommu_opts: u32,
    pub max_vcpus: u32,
    pub max_evtchn_port: u32,
    /// Negative: the hypervisor's default.
    pub max_grant_frames: i32,
    pub max_maptrack_frames: i32,
    pub grant_opts: u32,
    /// 4.19/4.20: `altp2m_opts`. 4.21+: `altp2m.opts` in the low 16 bits
    /// and `altp2m.nr` in the high 16 (the same bytes, little-endian).
    /// Must be 0 on 4.17/4.18, where altp2m is HVM_PARAM_ALTP2M instead.
    pub altp2m_opts: u32,
    pub vmtrace_size: u32,
    pub cpupool_id: u32,
    /// x86 `arch.emulation_flags` (`X86_EMU_*`).
    pub emulation_flags: u32,
    /// x86 `arch.misc_flags` (`X86_MSR_RELAXED`).
    pub misc_flags: u32,
}

/// The two shapes of `struct xen_domctl_createdomain` on 4.17 to 4.22.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateDomainLayout {
    /// 4.17, 4.18: 64 bytes, no altp2m member.
    NoAltp2m,
    /// 4.19 on: 68 bytes, 4 bytes of altp2m at 48 (a u32 on 4.19/4.20,
    /// `{u16 opts; u16 nr}` from 4.21).
    Altp2m,
}

impl CreateDomainLayout {
    pub fn for_version(version: (u32, u32)) -> Self {
        if version < (4, 19) {
            CreateDomainLayout::NoAltp2m
        } else {
            CreateDomainLayout::Altp2m
        }
    }

    pub fn size(self) -> usize {
        match self {
            CreateDomainLayout::NoAltp2m => 64,
            CreateDomainLayout::Altp2m => 68,
        }
    }
}

impl CreateDomain {
    /// The union image for `layout`; None when it cannot carry the
    /// request (altp2m before 4.19).
    pub fn to_bytes(&self, layout: CreateDomainLayout) -> Option<Vec<u8>> {
        let mut out = vec![0u8; layout.size()];
        put(&mut out, 0, &self.ssidref);
        put(&mut out, 4, &self.handle);
        put(&mut out, 20, &self.flags);
        put(&mut out, 24, &self.iommu_opts);
        put(&mut out, 28, &self.max_vcpus);
        put(&mut out, 32, &self.max_evtchn_port);
        put(&mut out, 36, &self.max_grant_frames);
        put(&mut out, 40, &self.max_maptrack_frames);
        put(&mut out, 44, &self.grant_opts);
        let rest = match layout {
            CreateDomainLayout::NoAltp2m if self.altp2m_opts != 0 => return None,
            CreateDomainLayout::NoAltp2m => 48,
            CreateDomainLayout::Altp2m => {
                put(&mut out, 48, &self.altp2m_opts);
                52
            }
        };
        put(&mut out, rest, &self.vmtrace_size);
        put(&mut out, rest + 4, &self.cpupool_id);
        put(&mut out, rest + 8, &self.emulation_flags);
        put(&mut out, rest + 12, &self.misc_flags);
        Some(out)
    }
}

/// `struct xen_domctl_max_vcpus`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MaxVcpus {
    pub max: u32,
}

/// `struct xen_domctl_address_size`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct AddressSize {
    pub size: u32,
}

/// `struct xen_domctl_hypercall_init`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct HypercallInit {
    pub gmfn: u64,
}

/// `struct xen_domctl_tsc_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TscInfo {
    pub tsc_mode: u32,
    pub gtsc_khz: u32,
    pub incarnation: u32,
    pub pad: u32,
    pub elapsed_nsec: u64,
}

/// `struct xen_domctl_hvmcontext`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct HvmContext {
    /// Bytes in `buffer` (in), or the size the full context needs (out,
    /// when `buffer` is null).
    pub size: u32,
    pub _pad: u32,
    /// Guest handle of the save-record stream.
    pub buffer: u64,
}

/// `struct xen_domctl_paging_mempool`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PagingMempool {
    /// Bytes, a whole number of pages.
    pub size: u64,
}

/// `struct xen_domctl_vcpucontext`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct VcpuContext {
    pub vcpu: u32,
    pub _pad: u32,
    /// Guest handle of a `VcpuGuestContext`.
    pub ctxt: u64,
}

// vcpu_guest_context flags and the flat PV selectors (arch-x86).
pub const VGCF_I387_VALID: u64 = 1 << 0;
pub const VGCF_IN_KERNEL: u64 = 1 << 2;
pub const VGCF_FAILSAFE_DISABLES_EVENTS: u64 = 1 << 3;
pub const VGCF_SYSCALL_DISABLES_EVENTS: u64 = 1 << 4;
pub const VGCF_ONLINE: u64 = 1 << 5;
pub const FLAT_KERNEL_CS: u16 = 0xe033;
pub const FLAT_KERNEL_SS: u16 = 0xe02b;
pub const FLAT_KERNEL_DS: u16 = 0;

/// `struct cpu_user_regs` (x86-64), by the 64-bit register names.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuUserRegs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub error_code: u32,
    pub entry_vector: u32,
    pub rip: u64,
    pub cs: u16,
    pub _pad0: u16,
    pub saved_upcall_mask: u8,
    pub _pad1: [u8; 3],
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u16,
    pub _pad2: [u16; 3],
    pub es: u16,
    pub _pad3: [u16; 3],
    pub ds: u16,
    pub _pad4: [u16; 3],
    pub fs: u16,
    pub _pad5: [u16; 3],
    pub gs: u16,
    pub _pad6: [u16; 3],
}

/// `struct trap_info`: one virtual IDT entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrapInfo {
    pub vector: u8,
    pub flags: u8,
    pub cs: u16,
    pub _pad: u32,
    pub address: u64,
}

/// `struct vcpu_guest_context` (x86-64, 5168 bytes): a PV vCPU's boot state.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcpuGuestContext {
    pub fpu_ctxt: [u8; 512],
    /// `VGCF_*`.
    pub flags: u64,
    pub user_regs: CpuUserRegs,
    pub trap_ctxt: [TrapInfo; 256],
    pub ldt_base: u64,
    pub ldt_ents: u64,
    pub gdt_frames: [u64; 16],
    pub gdt_ents: u64,
    pub kernel_ss: u64,
    pub kernel_sp: u64,
    pub ctrlreg: [u64; 8],
    pub debugreg: [u64; 8],
    pub event_callback_eip: u64,
    pub failsafe_callback_eip: u64,
    pub syscall_callback_eip: u64,
    pub vm_assist: u64,
    pub fs_base: u64,
    pub gs_base_kernel: u64,
    pub gs_base_user: u64,
}

impl Default for VcpuGuestContext {
    fn default() -> Self {
        VcpuGuestContext {
            fpu_ctxt: [0; 512],
            flags: 0,
            user_regs: CpuUserRegs::default(),
            trap_ctxt: [TrapInfo::default(); 256],
            ldt_base: 0,
            ldt_ents: 0,
            gdt_frames: [0; 16],
            gdt_ents: 0,
            kernel_ss: 0,
            kernel_sp: 0,
            ctrlreg: [0; 8],
            debugreg: [0; 8],
            event_callback_eip: 0,
            failsafe_callback_eip: 0,
            syscall_callback_eip: 0,
            vm_assist: 0,
            fs_base: 0,
            gs_base_kernel: 0,
            gs_base_user: 0,
        }
    }
}

// memory_op sub-operations and flags (memory.h).
pub const XENMEM_POPULATE_PHYSMAP: u64 = 6;
pub const XENMEM_SET_MEMORY_MAP: u64 = 13;
pub const XENMEM_MAXIMUM_GPFN: u64 = 14;
/// The host's highest RAM frame (no argument).
pub const XENMEM_MAXIMUM_RAM_PAGE: u64 = 2;
pub const XENMEM_CLAIM_PAGES: u64 = 24;
pub const XENMEM_ACQUIRE_RESOURCE: u64 = 28;
pub const XENMEM_RESOURCE_GRANT_TABLE: u32 = 1;
pub const XENMEM_RESOURCE_GRANT_TABLE_ID_SHARED: u32 = 0;
pub const XENMEMF_POPULATE_ON_DEMAND: u32 = 1 << 16;
pub const XENMEMF_EXACT_NODE_REQUEST: u32 = 1 << 17;

/// `XENMEMF_exact_node(node)`: allocate on that NUMA node only.
pub const fn xenmemf_exact_node(node: u8) -> u32 {
    ((node as u32 + 1) << 8) | XENMEMF_EXACT_NODE_REQUEST
}

/// `struct xen_memory_reservation`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryReservation {
    /// Guest handle of a `u64` array of `nr_extents` (0 for claims).
    pub extent_start: u64,
    pub nr_extents: u64,
    pub extent_order: u32,
    pub mem_flags: u32,
    pub domid: DomId,
    pub _pad: [u16; 3],
}

/// `struct xen_foreign_memory_map` with its `xen_memory_map` inlined.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ForeignMemoryMap {
    pub domid: DomId,
    pub _pad: [u16; 3],
    pub nr_entries: u32,
    pub _pad1: u32,
    /// Guest handle of `nr_entries` packed `E820Entry`s.
    pub buffer: u64,
}

pub const E820_RAM: u32 = 1;

/// An E820 entry. Xen reads them packed (`struct e820entry`, 20 bytes):
/// see [`E820Entry::to_bytes`]; the struct itself is not packed so its
/// fields can be borrowed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct E820Entry {
    pub addr: u64,
    pub size: u64,
    /// `E820_RAM`, ...
    pub kind: u32,
}

impl E820Entry {
    pub const SIZE: usize = 20;

    /// The packed image: addr @0, size @8, type @16.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        out[..8].copy_from_slice(&self.addr.to_le_bytes());
        out[8..16].copy_from_slice(&self.size.to_le_bytes());
        out[16..].copy_from_slice(&self.kind.to_le_bytes());
        out
    }
}

pub const MMUEXT_PIN_L4_TABLE: u32 = 3;

/// `struct mmuext_op`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MmuextOp {
    pub cmd: u32,
    pub _pad: u32,
    /// `arg1.mfn` / `arg1.linear_addr`.
    pub arg1: u64,
    pub arg2: u64,
}

pub const EVTCHNOP_ALLOC_UNBOUND: u64 = 6;

/// `struct evtchn_alloc_unbound`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EvtchnAllocUnbound {
    pub dom: DomId,
    pub remote_dom: DomId,
    pub port: u32,
}

pub const GNTTABOP_SETUP_TABLE: u64 = 2;
pub const GNTST_OKAY: i16 = 0;

/// `struct gnttab_setup_table`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct GnttabSetupTable {
    pub dom: DomId,
    pub _pad: u16,
    pub nr_frames: u32,
    /// `GNTST_*`.
    pub status: i16,
    pub _pad1: [u16; 3],
    /// Guest handle of a `u64` array of `nr_frames`.
    pub frame_list: u64,
}

// hvm_op set_param and the parameters a builder sets (hvm/params.h).
pub const HVMOP_SET_PARAM: u64 = 0;
pub const HVM_PARAM_STORE_PFN: u32 = 1;
pub const HVM_PARAM_STORE_EVTCHN: u32 = 2;
pub const HVM_PARAM_VIRIDIAN: u32 = 9;
pub const HVM_PARAM_TIMER_MODE: u32 = 10;
pub const HVM_PARAM_HPET_ENABLED: u32 = 11;
pub const HVM_PARAM_VPT_ALIGN: u32 = 16;
/// The guest's ACPI sleep state (0: running; 3: in S3).
pub const HVM_PARAM_ACPI_S_STATE: u32 = 14;
pub const HVM_PARAM_CONSOLE_PFN: u32 = 17;
pub const HVM_PARAM_CONSOLE_EVTCHN: u32 = 18;
pub const HVM_PARAM_ALTP2M: u32 = 35;
pub const HVM_PARAM_MCA_CAP: u32 = 38;

/// Nested plain-data structs inside a payload (arrays of them included).
macro_rules! pod_as_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn put(&self, out: &mut [u8]) {
                let b = self.to_bytes();
                out[..b.len()].copy_from_slice(&b);
            }
            fn get(&mut self, b: &[u8]) {
                *self = <$t>::from_bytes(b);
            }
        }
    )*};
}
pod_as_field!(CpuUserRegs, TrapInfo);

pod_fields!(MaxVcpus { max });
pod_fields!(AddressSize { size });
pod_fields!(HypercallInit { gmfn });
pod_fields!(TscInfo {
    tsc_mode,
    gtsc_khz,
    incarnation,
    pad,
    elapsed_nsec
});
pod_fields!(VcpuContext { vcpu, ctxt });
pod_fields!(HvmContext { size, buffer });
pod_fields!(PagingMempool { size });
pod_fields!(CpuUserRegs {
    r15,
    r14,
    r13,
    r12,
    rbp,
    rbx,
    r11,
    r10,
    r9,
    r8,
    rax,
    rcx,
    rdx,
    rsi,
    rdi,
    error_code,
    entry_vector,
    rip,
    cs,
    saved_upcall_mask,
    rflags,
    rsp,
    ss,
    es,
    ds,
    fs,
    gs
});
pod_fields!(TrapInfo {
    vector,
    flags,
    cs,
    address
});
pod_fields!(VcpuGuestContext {
    fpu_ctxt,
    flags,
    user_regs,
    trap_ctxt,
    ldt_base,
    ldt_ents,
    gdt_frames,
    gdt_ents,
    kernel_ss,
    kernel_sp,
    ctrlreg,
    debugreg,
    event_callback_eip,
    failsafe_callback_eip,
    syscall_callback_eip,
    vm_assist,
    fs_base,
    gs_base_kernel,
    gs_base_user
});
pod_fields!(MemoryReservation {
    extent_start,
    nr_extents,
    extent_order,
    mem_flags,
    domid
});
pod_fields!(ForeignMemoryMap {
    domid,
    nr_entries,
    buffer
});
pod_fields!(MmuextOp { cmd, arg1, arg2 });
pod_fields!(EvtchnAllocUnbound {
    dom,
    remote_dom,
    port
});
pod_fields!(GnttabSetupTable {
    dom,
    nr_frames,
    status,
    frame_list
});

// Saving and restoring PV guests: the domctls libxenguest's migration
// stream reads and writes, page types, and the guest-shared pages whose
// fields a save or restore rewrites.
pub const DOMCTL_GETVCPUCONTEXT: u32 = 13;
pub const DOMCTL_RESUMEDOMAIN: u32 = 27;
pub const DOMCTL_GET_ADDRESS_SIZE: u32 = 36;
pub const DOMCTL_SET_EXT_VCPUCONTEXT: u32 = 42;
pub const DOMCTL_GET_EXT_VCPUCONTEXT: u32 = 43;
pub const DOMCTL_GETTSCINFO: u32 = 59;
pub const DOMCTL_GETPAGEFRAMEINFO3: u32 = 61;
pub const DOMCTL_SETVCPUEXTSTATE: u32 = 62;
pub const DOMCTL_GETVCPUEXTSTATE: u32 = 63;
pub const DOMCTL_GET_VCPU_MSRS: u32 = 72;
pub const DOMCTL_SET_VCPU_MSRS: u32 = 73;

/// getpageframeinfo3 answers one XEN_DOMCTL_PFINFO_* word per frame: the
/// type in bits 28-30, "pinned" in bit 31 (the stream keeps these 32 bits
/// higher, in its top nibble).
pub mod pfinfo {
    pub const LTAB_SHIFT: u32 = 28;
    pub const NOTAB: u64 = 0;
    pub const L1TAB: u64 = 0x1 << LTAB_SHIFT;
    pub const L2TAB: u64 = 0x2 << LTAB_SHIFT;
    pub const L3TAB: u64 = 0x3 << LTAB_SHIFT;
    pub const L4TAB: u64 = 0x4 << LTAB_SHIFT;
    pub const LTABTYPE_MASK: u64 = 0x7 << LTAB_SHIFT;
    pub const LPINTAB: u64 = 0x1 << 31;
    pub const BROKEN: u64 = 0xd << LTAB_SHIFT;
    pub const XALLOC: u64 = 0xe << LTAB_SHIFT;
    pub const XTAB: u64 = 0xf << LTAB_SHIFT;
    /// Frames per getpageframeinfo3 call (Xen refuses more).
    pub const MAX_BATCH: usize = 1024;
}

pub const MMUEXT_PIN_L1_TABLE: u32 = 0;
pub const MMUEXT_PIN_L2_TABLE: u32 = 1;
pub const MMUEXT_PIN_L3_TABLE: u32 = 2;

/// Xen's own part of a 64-bit PV guest's address space: its L4 slots are
/// Xen's, never the guest's.
pub const HYPERVISOR_VIRT_START: u64 = 0xffff_8000_0000_0000;
pub const HYPERVISOR_VIRT_END: u64 = 0xffff_8800_0000_0000;

/// `struct xen_domctl_getpageframeinfo3`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PageFrameInfo3 {
    pub num: u64,
    /// Guest handle of `num` frame numbers, overwritten with their types.
    pub array: u64,
}

/// Bytes of `struct xen_domctl_ext_vcpucontext`, carried whole (as its
/// own `size` says) in the stream's X86_PV_VCPU_EXTENDED record.
pub const EXT_VCPUCONTEXT_SIZE: usize = 64;
/// The largest extended context a stream may carry.
pub const EXT_VCPUCONTEXT_MAX: usize = 128;

/// `struct xen_domctl_vcpuextstate`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct VcpuExtState {
    pub vcpu: u32,
    pub _pad: u32,
    pub xfeature_mask: u64,
    pub size: u64,
    pub buffer: u64,
}

/// `struct xen_domctl_vcpu_msrs`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct VcpuMsrs {
    pub vcpu: u32,
    pub msr_count: u32,
    /// Guest handle of `msr_count` `xen_domctl_vcpu_msr` (16 bytes each).
    pub msrs: u64,
}
pub const VCPU_MSR_SIZE: usize = 16;

/// Offsets in a 64-bit guest's `struct shared_info` (3136 bytes).
pub mod shared_info {
    pub const SIZE: usize = 3136;
    pub const LEGACY_MAX_VCPUS: usize = 32;
    pub const VCPU_INFO_SIZE: usize = 64;
    pub const VCPU_INFO_EVTCHN_PENDING_SEL: usize = 8;
    pub const EVTCHN_PENDING: usize = 2048;
    pub const EVTCHN_MASK: usize = 2560;
    /// `arch` (`struct arch_shared_info`, 48 bytes).
    pub const ARCH: usize = 3088;
    pub const ARCH_SIZE: usize = 48;
    pub const MAX_PFN: usize = 3088;
    pub const PFN_TO_MFN_FRAME_LIST_LIST: usize = 3096;
    pub const P2M_CR3: usize = 3112;
    pub const P2M_VADDR: usize = 3120;
    pub const P2M_GENERATION: usize = 3128;
}

/// Offsets in a 64-bit guest's `struct start_info` the toolstack rewrites
/// on restore.
pub mod start_info {
    pub const SIZE: usize = 1168;
    pub const NR_PAGES: usize = 32;
    pub const SHARED_INFO: usize = 40;
    pub const FLAGS: usize = 48;
    pub const STORE_MFN: usize = 56;
    pub const STORE_EVTCHN: usize = 64;
    pub const CONSOLE_MFN: usize = 72;
    pub const CONSOLE_EVTCHN: usize = 80;
}

pod_fields!(PageFrameInfo3 { num, array });
pod_fields!(VcpuExtState {
    vcpu,
    xfeature_mask,
    size,
    buffer
});
pod_fields!(VcpuMsrs {
    vcpu,
    msr_count,
    msrs
});

// CPUID and MSR policies (x86): the host's and the defaults for each guest
// type, and a domain's own, in Xen's serialised form.
pub const SYSCTL_GET_CPU_FEATURESET: u32 = 26;
pub const SYSCTL_GET_CPU_POLICY: u32 = 29;
pub const DOMCTL_GET_CPU_POLICY: u32 = 82;
pub const DOMCTL_SET_CPU_POLICY: u32 = 83;
pub const SYSCTL_CPU_FEATURESET_HOST: u32 = 1;
pub const SYSCTL_CPU_POLICY_HOST: u32 = 1;
pub const SYSCTL_CPU_POLICY_PV_DEFAULT: u32 = 4;
pub const SYSCTL_CPU_POLICY_HVM_DEFAULT: u32 = 5;
/// The subleaf of a leaf that has none.
pub const CPUID_NO_SUBLEAF: u32 = 0xffff_ffff;

/// `xen_cpuid_leaf_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuidLeafEntry {
    pub leaf: u32,
    pub subleaf: u32,
    pub a: u32,
    pub b: u32,
    pub c: u32,
    pub d: u32,
}

/// `xen_msr_entry_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MsrEntry {
    pub idx: u32,
    pub flags: u32,
    pub val: u64,
}

/// `struct xen_sysctl_cpu_featureset`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SysctlCpuFeatureset {
    pub index: u32,
    pub nr_features: u32,
    /// Guest handle of `nr_features` u32 words.
    pub features: u64,
}

/// `struct xen_sysctl_cpu_policy`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SysctlCpuPolicy {
    pub index: u32,
    pub nr_leaves: u32,
    pub nr_msrs: u32,
    pub _rsvd: u32,
    pub leaves: u64,
    pub msrs: u64,
}

/// `struct xen_domctl_cpu_policy`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DomctlCpuPolicy {
    pub nr_leaves: u32,
    pub nr_msrs: u32,
    pub leaves: u64,
    pub msrs: u64,
    pub err_leaf: u32,
    pub err_subleaf: u32,
    pub err_msr: u32,
    pub _pad: u32,
}

pod_fields!(CpuidLeafEntry {
    leaf,
    subleaf,
    a,
    b,
    c,
    d
});
pod_fields!(MsrEntry { idx, flags, val });
pod_fields!(SysctlCpuFeatureset {
    index,
    nr_features,
    features
});
pod_fields!(SysctlCpuPolicy {
    index,
    nr_leaves,
    nr_msrs,
    leaves,
    msrs
});
pod_fields!(DomctlCpuPolicy {
    nr_leaves,
    nr_msrs,
    leaves,
    msrs,
    err_leaf,
    err_subleaf,
    err_msr
});
