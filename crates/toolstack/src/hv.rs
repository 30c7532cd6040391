//! What the hypervisor does for the toolstack: domctl, sysctl and memory
//! operations, shaped by what callers need rather than by the hypercalls.

use std::io::{Read, Write};
use std::time::Duration;

use crate::params::HypfsEntry;
use crate::psr::{AllocFeature, AllocInfo};
use crate::{
    BuildSpec, Built, CpuTopology, CpupoolInfo, CreateSpec, DomInfo, Error, IoRange, NumaNode,
    PciAddr, PhysInfo, RtdsVcpu, SchedParams, Trigger, VcpuInfo, VersionInfo,
};

/// The sentinel domain that holds quarantined PCI devices (`DOMID_IO`).
pub const DOMID_IO: u32 = 0x7ff1;

/// The hypervisor half of the backend seam.
///
/// Required: listing domains, the host's resources and a domain's life
/// (create, build, pause, unpause, destroy), which no backend goes without.
/// The rest answers [`Error::Unsupported`] unless a backend has it.
pub trait Hypervisor {
    /// Every domain, in domid order.
    fn domains(&self) -> Result<Vec<DomInfo>, Error>;
    /// The host's CPUs, memory and capabilities (`xl info`).
    fn physinfo(&self) -> Result<PhysInfo, Error>;
    /// Make an empty, paused domain; the hypervisor picks the domid.
    fn create_domain(&self, spec: &CreateSpec) -> Result<u32, Error>;
    /// Load the guest (kernel or firmware) and its memory.
    fn build(&self, domid: u32, spec: &BuildSpec) -> Result<Built, Error>;
    /// Pause all of a domain's vCPUs (XEN_DOMCTL_pausedomain).
    fn pause(&self, domid: u32) -> Result<(), Error>;
    /// Undo one pause (XEN_DOMCTL_unpausedomain).
    fn unpause(&self, domid: u32) -> Result<(), Error>;
    /// Ask the hypervisor to destroy a domain, retrying while it reports
    /// EAGAIN (memory still being relinquished) for at most `patience`.
    fn destroy(&self, domid: u32, patience: Duration) -> Result<(), Error>;

    /// Write a suspended domain's memory and vCPU state as libxc's image
    /// (image header to END), the part of a save the hypervisor holds.
    fn save_image(&self, _domid: u32, _out: &mut dyn Write) -> Result<(), Error> {
        Err(Error::Unsupported("saving a domain's memory"))
    }
    /// Write the domain's memory and vCPU state as libxc's core file
    /// (`xl dump-core`), without pausing it, as libxc does.
    fn dump_core(&self, _domid: u32, _out: &mut dyn Write) -> Result<(), Error> {
        Err(Error::Unsupported("dumping a domain's core"))
    }
    /// Load libxc's image from `input` into a new, empty, paused domain,
    /// in place of [`Hypervisor::build`]; reads up to the image's END.
    fn restore_image(
        &self,
        _domid: u32,
        _spec: &BuildSpec,
        _input: &mut dyn Read,
    ) -> Result<Built, Error> {
        Err(Error::Unsupported("restoring a domain's memory"))
    }
    /// Let a suspended domain run on (XEN_DOMCTL_resumedomain), its
    /// suspend cancelled: after a checkpoint, or a save that failed.
    fn resume(&self, _domid: u32) -> Result<(), Error> {
        Err(Error::Unsupported("resuming a suspended domain"))
    }

    /// Stop the domain with `reason` as if it had asked to (libxl's way
    /// to suspend an HVM guest without PV drivers).
    fn remote_shutdown(&self, _domid: u32, _reason: u32) -> Result<(), Error> {
        Err(Error::Unsupported("shutting a domain down from outside"))
    }

    /// One domain, if it exists.
    fn domain(&self, domid: u32) -> Result<Option<DomInfo>, Error> {
        Ok(self.domains()?.into_iter().find(|d| d.domid == domid))
    }
    /// The hypervisor's console ring as `xl dmesg` prints it; `clear`
    /// empties it afterwards.
    fn dmesg(&self, _clear: bool) -> Result<Vec<u8>, Error> {
        Err(Error::Unsupported("reading the hypervisor's console"))
    }
    /// The hypervisor's version and build facts (`xl info`'s xen_* lines).
    fn version_info(&self) -> Result<VersionInfo, Error> {
        Err(Error::Unsupported("reading the hypervisor's version"))
    }
    /// The guest ABIs the hypervisor offers (XENVER_capabilities, `xl
    /// info`'s xen_caps), e.g. "xen-3.0-x86_64 hvm-3.0-x86_64".
    fn capabilities(&self) -> Result<String, Error> {
        self.version_info().map(|v| v.capabilities)
    }
    /// Name of the default scheduler (credit, credit2, ...).
    fn scheduler(&self) -> Result<String, Error> {
        Err(Error::Unsupported("reading the default scheduler"))
    }
    /// Number of CPUs in no cpupool.
    fn free_cpus(&self) -> Result<u32, Error> {
        Err(Error::Unsupported("counting free CPUs"))
    }
    /// Whether an HVM guest has registered a PV event callback, i.e. runs
    /// PV drivers that answer the xenstore control protocol.
    fn has_pv_callback(&self, _domid: u32) -> Result<bool, Error> {
        Err(Error::Unsupported("reading a guest's PV callback"))
    }
    /// Every vCPU of a domain (empty for a domain without vCPUs).
    fn vcpus(&self, _domid: u32) -> Result<Vec<VcpuInfo>, Error> {
        Err(Error::Unsupported("listing vCPUs"))
    }
    /// The most memory a domain may be given, in KiB (hypervisor limit).
    fn set_max_mem(&self, _domid: u32, _max_kb: u64) -> Result<(), Error> {
        Err(Error::Unsupported("setting a domain's maximum memory"))
    }
    /// Populate-on-demand target of an HVM/PVH domain, in pages.
    fn set_pod_target(&self, _domid: u32, _pages: u64) -> Result<(), Error> {
        Err(Error::Unsupported("setting a populate-on-demand target"))
    }
    /// Press a virtual button / raise a line.
    fn send_trigger(&self, _domid: u32, _trigger: Trigger, _vcpu: u32) -> Result<(), Error> {
        Err(Error::Unsupported("sending triggers"))
    }

    // Topology, affinity, cpupools and schedulers.
    /// A domain's NUMA node affinity, one bit per node, in whole bytes
    /// covering max_node_id + 1 nodes.
    fn node_affinity(&self, _domid: u32) -> Result<Vec<u8>, Error> {
        Err(Error::Unsupported("reading NUMA node affinity"))
    }
    /// Core, socket and node of every CPU (`xl info -n`).
    fn cpu_topology(&self) -> Result<Vec<CpuTopology>, Error> {
        Err(Error::Unsupported("reading the CPU topology"))
    }
    /// Memory and distances of every NUMA node (`xl info -n`).
    fn numa_nodes(&self) -> Result<Vec<NumaNode>, Error> {
        Err(Error::Unsupported("reading NUMA nodes"))
    }
    /// The node of each PCI device (None: unknown to the hypervisor or
    /// without a node).
    fn pci_nodes(&self, _devs: &[PciAddr]) -> Result<Vec<Option<u32>>, Error> {
        Err(Error::Unsupported("reading the PCI topology"))
    }
    /// Set the hard and/or soft affinity of one vCPU (bitmaps as in
    /// [`VcpuInfo`]); `force` also undoes a pinning the guest kernel made.
    fn set_vcpu_affinity(
        &self,
        _domid: u32,
        _vcpu: u32,
        _hard: Option<&[u8]>,
        _soft: Option<&[u8]>,
        _force: bool,
    ) -> Result<(), Error> {
        Err(Error::Unsupported("setting vCPU affinity"))
    }
    /// Every cpupool, in id order.
    fn cpupools(&self) -> Result<Vec<CpupoolInfo>, Error> {
        Err(Error::Unsupported("listing cpupools"))
    }
    /// CPUs in no cpupool, one bit per CPU, whole bytes covering
    /// max_cpu_id + 1 CPUs.
    fn free_cpu_map(&self) -> Result<Vec<u8>, Error> {
        Err(Error::Unsupported("reading free CPUs"))
    }
    /// Make an empty cpupool running scheduler `sched`; returns its id
    /// (the hypervisor picks it).
    fn cpupool_create(&self, _sched: &str) -> Result<u32, Error> {
        Err(Error::Unsupported("creating cpupools"))
    }
    /// Remove a cpupool that has neither CPUs nor domains.
    fn cpupool_destroy(&self, _poolid: u32) -> Result<(), Error> {
        Err(Error::Unsupported("destroying cpupools"))
    }
    /// Give a free CPU to a cpupool.
    fn cpupool_add_cpu(&self, _poolid: u32, _cpu: u32) -> Result<(), Error> {
        Err(Error::Unsupported("adding CPUs to cpupools"))
    }
    /// Take a CPU out of a cpupool: it becomes free.
    fn cpupool_remove_cpu(&self, _poolid: u32, _cpu: u32) -> Result<(), Error> {
        Err(Error::Unsupported("removing CPUs from cpupools"))
    }
    /// Move a domain into another cpupool.
    fn cpupool_move_domain(&self, _poolid: u32, _domid: u32) -> Result<(), Error> {
        Err(Error::Unsupported("moving domains between cpupools"))
    }
    /// Give the PCI device `sbdf` (libxl's encoding: segment, bus, devfn)
    /// to a domain, or to the quarantine ([`DOMID_IO`]); `relaxed`
    /// lets Xen ignore the device's reserved memory regions.
    fn assign_device(&self, _domid: u32, _sbdf: u32, _relaxed: bool) -> Result<(), Error> {
        Err(Error::Unsupported("assigning PCI devices"))
    }
    /// Whether the PCI device `sbdf` could be given to the domain.
    fn test_assign_device(&self, _domid: u32, _sbdf: u32) -> Result<(), Error> {
        Err(Error::Unsupported("assigning PCI devices"))
    }
    /// Take the PCI device `sbdf` back from a domain or the quarantine.
    fn deassign_device(&self, _domid: u32, _sbdf: u32) -> Result<(), Error> {
        Err(Error::Unsupported("assigning PCI devices"))
    }
    /// Allow (or deny) a domain `nr` machine frames of I/O memory from
    /// `first`, `nr` I/O ports from `first`, or a physical IRQ.
    fn io_permission(&self, _domid: u32, _range: IoRange, _allow: bool) -> Result<(), Error> {
        Err(Error::Unsupported("granting I/O resources"))
    }

    /// Map the legacy interrupt `irq` into a domain as a pirq of the same
    /// number (PHYSDEVOP_map_pirq); the pirq given.
    fn map_pirq(&self, _domid: u32, _irq: u32) -> Result<u32, Error> {
        Err(Error::Unsupported("mapping interrupts"))
    }
    /// Undo [`Hypervisor::map_pirq`].
    fn unmap_pirq(&self, _domid: u32, _pirq: u32) -> Result<(), Error> {
        Err(Error::Unsupported("mapping interrupts"))
    }

    /// Act on keys as if typed on the hypervisor's console (`xl debug-keys`).
    fn send_debug_keys(&self, _keys: &[u8]) -> Result<(), Error> {
        Err(Error::Unsupported("sending debug keys"))
    }
    /// Whether the hypervisor offers hypfs (XEN_HYPFS_OP_get_version).
    fn hypfs_open(&self) -> Result<(), Error> {
        Err(Error::Unsupported("hypfs"))
    }
    /// A hypfs node's header (type, encoding, sizes).
    fn hypfs_entry(&self, _path: &str) -> Result<HypfsEntry, Error> {
        Err(Error::Unsupported("hypfs"))
    }
    /// Replace a hypfs node's contents.
    fn hypfs_write(&self, _path: &str, _data: &[u8]) -> Result<(), Error> {
        Err(Error::Unsupported("hypfs"))
    }
    /// A XEN_SYSCTL_psr_cmt_op query (`crate::psr::CMT_*`); `cpu` for the
    /// L3 cache size.
    fn psr_cmt_sysctl(&self, _cmd: u32, _cpu: u32) -> Result<u64, Error> {
        Err(Error::Unsupported("platform shared resources"))
    }
    /// XEN_DOMCTL_psr_cmt_op: attach, detach, or a domain's RMID.
    fn psr_cmt_domain(&self, _domid: u32, _cmd: u32) -> Result<u32, Error> {
        Err(Error::Unsupported("platform shared resources"))
    }
    /// One socket's limits of an allocation feature.
    fn psr_alloc_info(&self, _feature: AllocFeature, _socket: u32) -> Result<AllocInfo, Error> {
        Err(Error::Unsupported("platform shared resources"))
    }
    /// XEN_DOMCTL_psr_alloc: set or get a domain's value on a socket.
    fn psr_alloc_domain(
        &self,
        _domid: u32,
        _cmd: u32,
        _socket: u32,
        _data: u64,
    ) -> Result<u64, Error> {
        Err(Error::Unsupported("platform shared resources"))
    }
    /// FLASK's mode: Some(true) enforcing, Some(false) permissive; None
    /// when the hypervisor runs without FLASK.
    fn flask_getenforce(&self) -> Result<Option<bool>, Error> {
        Err(Error::Unsupported("reading FLASK's mode"))
    }
    /// Set FLASK's mode; None when the hypervisor runs without FLASK.
    fn flask_setenforce(&self, _enforcing: bool) -> Result<Option<()>, Error> {
        Err(Error::Unsupported("setting FLASK's mode"))
    }
    /// Load a FLASK policy; None when the hypervisor runs without FLASK.
    fn flask_load_policy(&self, _policy: &[u8]) -> Result<Option<()>, Error> {
        Err(Error::Unsupported("loading FLASK policies"))
    }
    /// Weight and cap of a domain under `sched` ("credit" or "credit2");
    /// fails when the domain runs under another scheduler.
    fn domain_sched(&self, _domid: u32, _sched: &str) -> Result<SchedParams, Error> {
        Err(Error::Unsupported("reading scheduler parameters"))
    }
    /// Set a domain's weight and cap under `sched` ("credit" or "credit2").
    fn set_domain_sched(&self, _domid: u32, _sched: &str, _p: SchedParams) -> Result<(), Error> {
        Err(Error::Unsupported("setting scheduler parameters"))
    }
    /// Wake an HVM guest from ACPI S3 by resetting its sleep state
    /// (HVM_PARAM_ACPI_S_STATE to 0), as libxl does for guests whose
    /// device model has no QMP wakeup.
    fn acpi_s3_resume(&self, _domid: u32) -> Result<(), Error> {
        Err(Error::Unsupported(
            "resetting an HVM guest's ACPI sleep state",
        ))
    }
    /// An RTDS domain's default (period, budget) in microseconds; fails
    /// when the domain runs under another scheduler.
    fn rtds_domain(&self, _domid: u32) -> Result<(u32, u32), Error> {
        Err(Error::Unsupported("reading RTDS parameters"))
    }
    /// RTDS parameters of the vCPUs `ids`, in that order.
    fn rtds_vcpus(&self, _domid: u32, _ids: &[u32]) -> Result<Vec<RtdsVcpu>, Error> {
        Err(Error::Unsupported("reading RTDS parameters"))
    }
    /// Set RTDS parameters of vCPUs (Xen checks their ranges: period and
    /// budget at least 10 µs, budget within the period).
    fn set_rtds_vcpus(&self, _domid: u32, _vcpus: &[RtdsVcpu]) -> Result<(), Error> {
        Err(Error::Unsupported("setting RTDS parameters"))
    }
    /// A cpupool's scheduler-wide parameters for `sched`: credit's
    /// (tslice_ms, ratelimit_us, vcpu_migr_delay_us) or credit2's
    /// (ratelimit_us, 0, 0).
    fn pool_sched(&self, _poolid: u32, _sched: &str) -> Result<[u32; 3], Error> {
        Err(Error::Unsupported("reading cpupool scheduler parameters"))
    }
    /// Set a cpupool's scheduler-wide parameters, in `pool_sched`'s form.
    fn set_pool_sched(&self, _poolid: u32, _sched: &str, _p: [u32; 3]) -> Result<(), Error> {
        Err(Error::Unsupported("setting cpupool scheduler parameters"))
    }
}
