//! Xen's public interface as `repr(C)` structs and constants, for the
//! operations the toolstack uses. Layouts are identical on Xen 4.17 to 4.22
//! (x86-64); only the domctl/sysctl interface versions differ, which
//! [`InterfaceVersions`] selects at run time. `expected.rs`, generated from
//! each release's headers, is what the tests hold these against.

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
/// `xen_compile_info_t`: compiler[64], compile_by[16], compile_domain[32],
/// compile_date[32].
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
int_field!(u8, u16, u32, u64);

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
pod_fields!(HvmParam {
    domid,
    index,
    value
});
pod_fields!(SendTrigger { trigger, vcpu });
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
pod_fields!(NodeAffinity { bitmap, nr_bits });
