//! The simulated hypervisor's state: domains, memory, CPUs, time. Pure
//! logic; the server wraps it in a lock and the guests drive it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::pools::Pools;
use rustix::io::Errno;
use xl_toolstack::{
    CpupoolInfo, CreateSpec, DOMID_IO, DomInfo, GuestKind, PhysInfo, RtdsVcpu, SchedParams,
    VcpuInfo, VersionInfo,
};

/// Xen's first reserved domid (DOMID_FIRST_RESERVED).
pub const DOMID_FIRST_RESERVED: u32 = 0x7ff0;
const PAGE_KB: u64 = 4;

/// The simulated machine's size.
#[derive(Clone, Debug)]
pub struct HostSpec {
    /// Physical CPUs (`XL_SIM_CPUS`, default 4).
    pub cpus: u32,
    /// Host memory in MiB (`XL_SIM_MEMORY_MB`, default 16 GiB).
    pub memory_mb: u64,
    /// dom0's memory in MiB (as with Xen's `dom0_mem=`).
    pub dom0_mb: u64,
}

impl Default for HostSpec {
    fn default() -> Self {
        HostSpec {
            cpus: 4,
            memory_mb: 16 * 1024,
            dom0_mb: 2048,
        }
    }
}

/// Why a domain stopped running (SHUTDOWN_* codes).
pub const SHUTDOWN_POWEROFF: u32 = 0;
/// The guest asked to restart.
pub const SHUTDOWN_REBOOT: u32 = 1;
/// The guest suspended itself for a save.
pub const SHUTDOWN_SUSPEND: u32 = 2;
/// The guest crashed.
pub const SHUTDOWN_CRASH: u32 = 3;

/// A vCPU's hard and soft affinity bitmaps; None: every CPU.
pub type Affinity = (Option<Vec<u8>>, Option<Vec<u8>>);

/// A domain as the hypervisor tracks it (`struct domain`).
#[derive(Clone, Debug)]
pub struct Domain {
    /// Domain id.
    pub domid: u32,
    /// UUID given at creation.
    pub uuid: [u8; 16],
    /// Guest type (PV, PVH or HVM).
    pub kind: GuestKind,
    /// vCPUs allocated at creation.
    pub max_vcpus: u32,
    /// vCPUs brought up by the builder (at most `max_vcpus`).
    pub online_vcpus: u32,
    /// Memory limit in KiB (Xen's max_pages); the builder sets it to the
    /// configured maximum plus libxl's 1 MiB slack.
    pub max_memkb: u64,
    /// Memory the domain holds, in KiB.
    pub memkb: u64,
    /// Populate-on-demand target set by the toolstack, in pages.
    pub pod_target_pages: Option<u64>,
    /// Whether the domain builder has loaded it.
    pub built: bool,
    /// Whether it is paused (a new domain starts paused).
    pub paused: bool,
    /// The SHUTDOWN_* code it shut down with, if it has.
    pub shutdown: Option<u32>,
    /// Whether it is being torn down.
    pub dying: bool,
    /// CPU time banked before `since`, and the rate since then
    /// (nanoseconds of CPU per nanosecond of wall time).
    cpu_ns: u64,
    since: Instant,
    rate: f64,
    /// Whether the guest has PV drivers up (HVM callback registered).
    pub pv_callback: bool,
    /// Whether its vCPUs ever ran (a never-started domain is not blocked).
    pub started: bool,
    /// Per-vCPU hard and soft affinity (None: all CPUs).
    pub affinity: Vec<Affinity>,
    /// credit2 weight and cap.
    pub sched: SchedParams,
    /// The cpupool it runs in.
    pub cpupool: u32,
    /// Each vCPU's RTDS parameters (Xen's defaults again whenever the
    /// domain enters a pool, as its scheduler units are made anew).
    pub rtds: Vec<RtdsVcpu>,
}

impl Domain {
    fn new(domid: u32, spec: &CreateSpec, now: Instant) -> Domain {
        Domain {
            domid,
            uuid: spec.uuid,
            kind: spec.kind,
            max_vcpus: spec.max_vcpus,
            online_vcpus: spec.max_vcpus,
            max_memkb: 0,
            memkb: 0,
            pod_target_pages: None,
            built: false,
            paused: true,
            shutdown: None,
            dying: false,
            cpu_ns: 0,
            since: now,
            rate: 0.0,
            pv_callback: false,
            started: false,
            affinity: vec![(None, None); spec.max_vcpus as usize],
            sched: SchedParams {
                weight: 256,
                cap: 0,
            },
            cpupool: spec.cpupool,
            rtds: (0..spec.max_vcpus).map(RtdsVcpu::default_for).collect(),
        }
    }

    /// CPU time used so far, in nanoseconds.
    pub fn cpu_time_ns(&self, now: Instant) -> u64 {
        let ran = now.saturating_duration_since(self.since).as_nanos() as f64 * self.rate;
        self.cpu_ns + ran as u64
    }

    /// Change how busy the guest is from `now` on.
    pub fn set_rate(&mut self, now: Instant, rate: f64) {
        self.cpu_ns = self.cpu_time_ns(now);
        self.since = now;
        self.rate = rate;
    }

    /// Whether its vCPUs can run: built, unpaused, not shut down or dying.
    pub fn running(&self) -> bool {
        self.built && !self.paused && self.shutdown.is_none() && !self.dying
    }
}

/// Why a request on the hypervisor failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HostError {
    /// No domain has this id.
    #[error("domain {0} does not exist")]
    NoSuchDomain(u32),
    /// The host has too little free memory for a domain.
    #[error("Out of memory: {need_mb} MiB needed, {free_mb} MiB free")]
    OutOfMemory {
        /// Memory the domain still needs, in MiB.
        need_mb: u64,
        /// Free host memory, in MiB.
        free_mb: u64,
    },
    /// Every domid below DOMID_FIRST_RESERVED is taken.
    #[error("no free domain id")]
    NoDomid,
    /// A request Xen would refuse (EINVAL and friends), with its message.
    #[error("{0}")]
    Invalid(String),
    /// A request Xen refuses with this errno.
    #[error("{}", xl_toolstack::strerror(&std::io::Error::from(*.0)))]
    Refused(Errno),
}

/// The scheduler the simulated host runs (Xen's default since 4.12).
pub const SCHEDULER: &str = "credit2";

/// The whole simulated hypervisor: the machine, its cpupools, domains and
/// console ring.
pub struct Host {
    /// The machine's size.
    pub spec: HostSpec,
    /// Pool-0's credit2 ratelimit_us (and two unused slots).
    pub pool_params: [u32; 3],
    /// cpupools and their CPUs.
    pub pools: Pools,
    /// Every domain by domid, dom0 included.
    pub domains: BTreeMap<u32, Domain>,
    rover: u32,
    /// The hypervisor console ring (`xl dmesg`).
    pub dmesg: Vec<u8>,
    /// When the host booted.
    pub booted: Instant,
    /// Runtime parameters (hypfs `/params`).
    pub params: crate::params::Params,
    /// Who owns each PCI device given away (by libxl's address encoding):
    /// a guest or the quarantine (DOMID_IO); absent ones are dom0's.
    pub pci_owner: BTreeMap<u32, u32>,
}

impl Host {
    /// A freshly booted host: dom0 running in Pool-0 with every CPU.
    pub fn new(spec: HostSpec) -> Host {
        let now = Instant::now();
        let mut domains = BTreeMap::new();
        let dom0 = CreateSpec {
            uuid: [0; 16],
            kind: GuestKind::Pv,
            hap: false,
            max_vcpus: spec.cpus,
            max_evtchn_port: 0,
            max_grant_frames: 0,
            max_maptrack_frames: 0,
            ssidref: 0,
            cpupool: 0,
        };
        let mut d0 = Domain::new(0, &dom0, now);
        d0.built = true;
        d0.paused = false;
        d0.memkb = spec.dom0_mb * 1024;
        // Without dom0_mem=...,max: Xen leaves dom0 at UINT_MAX pages: no limit.
        d0.max_memkb = u64::from(u32::MAX) * 4;
        d0.pv_callback = true;
        d0.set_rate(now, 0.02);
        domains.insert(0, d0);
        let dmesg = boot_log(&spec);
        Host {
            pools: Pools::new(spec.cpus, SCHEDULER),
            spec,
            pool_params: [1000, 0, 0],
            domains,
            rover: 0,
            dmesg,
            booted: now,
            params: crate::params::Params::default(),
            pci_owner: BTreeMap::new(),
        }
    }

    /// Host memory in KiB.
    pub fn total_kb(&self) -> u64 {
        self.spec.memory_mb * 1024
    }

    /// Memory Xen keeps for itself in this simulation.
    fn xen_kb(&self) -> u64 {
        self.total_kb() / 64
    }

    /// Memory in KiB not held by Xen or any domain.
    pub fn free_kb(&self) -> u64 {
        let used: u64 = self.domains.values().map(|d| d.memkb).sum();
        self.total_kb()
            .saturating_sub(self.xen_kb())
            .saturating_sub(used)
    }

    /// A domain by domid.
    pub fn get(&self, domid: u32) -> Result<&Domain, HostError> {
        self.domains
            .get(&domid)
            .ok_or(HostError::NoSuchDomain(domid))
    }

    /// A domain by domid, to change.
    pub fn get_mut(&mut self, domid: u32) -> Result<&mut Domain, HostError> {
        self.domains
            .get_mut(&domid)
            .ok_or(HostError::NoSuchDomain(domid))
    }

    /// XEN_DOMCTL_createdomain without a requested domid: Xen hands out
    /// the next free id after the last one it gave, wrapping below the
    /// reserved range.
    pub fn create(&mut self, spec: &CreateSpec) -> Result<u32, HostError> {
        if spec.max_vcpus == 0 || spec.max_vcpus > 128 {
            return Err(HostError::Invalid(format!(
                "max_vcpus {} out of range",
                spec.max_vcpus
            )));
        }
        if !self.pools.exists(spec.cpupool) {
            return Err(HostError::Refused(Errno::NOENT));
        }
        for _ in 1..DOMID_FIRST_RESERVED {
            self.rover += 1;
            if self.rover >= DOMID_FIRST_RESERVED {
                self.rover = 1;
            }
            if !self.domains.contains_key(&self.rover) {
                let d = Domain::new(self.rover, spec, Instant::now());
                self.domains.insert(self.rover, d);
                return Ok(self.rover);
            }
        }
        Err(HostError::NoDomid)
    }

    /// Populates a domain's memory (the builder's job), failing as Xen
    /// does when the host has too little free.
    pub fn populate(&mut self, domid: u32, memkb: u64, online: u32) -> Result<(), HostError> {
        let free = self.free_kb();
        let d = self.get_mut(domid)?;
        let need = memkb.saturating_sub(d.memkb);
        if need > free {
            return Err(HostError::OutOfMemory {
                need_mb: need / 1024,
                free_mb: free / 1024,
            });
        }
        d.memkb = memkb;
        d.online_vcpus = online.clamp(1, d.max_vcpus);
        d.built = true;
        Ok(())
    }

    /// Remove a domain at once (dom0 cannot be destroyed); returns it.
    pub fn destroy(&mut self, domid: u32) -> Result<Domain, HostError> {
        if domid == 0 {
            return Err(HostError::Invalid("cannot destroy domain 0".into()));
        }
        let d = self
            .domains
            .remove(&domid)
            .ok_or(HostError::NoSuchDomain(domid))?;
        // A dying domain's devices go back to the quarantine, as Xen's do.
        for owner in self.pci_owner.values_mut() {
            if *owner == domid {
                *owner = DOMID_IO;
            }
        }
        Ok(d)
    }

    /// XEN_DOMCTL_assign_device (`test`: only whether it could be): a
    /// device goes from dom0 or the quarantine to a guest, or to the
    /// quarantine; one a guest holds is busy.
    pub fn assign_device(&mut self, domid: u32, sbdf: u32, test: bool) -> Result<(), HostError> {
        if domid != DOMID_IO {
            self.get(domid)?;
        }
        if !crate::pci::exists(sbdf) {
            return Err(HostError::Refused(Errno::NODEV));
        }
        match self.pci_owner.get(&sbdf) {
            Some(&o) if o != DOMID_IO && o != domid => Err(HostError::Refused(Errno::BUSY)),
            _ => {
                if !test {
                    self.pci_owner.insert(sbdf, domid);
                }
                Ok(())
            }
        }
    }

    /// XEN_DOMCTL_deassign_device: a guest's device goes to the
    /// quarantine, the quarantine's back to dom0.
    pub fn deassign_device(&mut self, domid: u32, sbdf: u32) -> Result<(), HostError> {
        if domid != DOMID_IO {
            self.get(domid)?;
        }
        if !crate::pci::exists(sbdf) {
            return Err(HostError::Refused(Errno::NODEV));
        }
        if self.pci_owner.get(&sbdf) != Some(&domid) {
            return Err(HostError::Refused(Errno::INVAL));
        }
        if domid == DOMID_IO {
            self.pci_owner.remove(&sbdf);
        } else {
            self.pci_owner.insert(sbdf, DOMID_IO);
        }
        Ok(())
    }

    /// SCHEDOP_shutdown on behalf of the guest.
    pub fn shutdown(&mut self, domid: u32, reason: u32) -> Result<(), HostError> {
        let now = Instant::now();
        let d = self.get_mut(domid)?;
        if d.shutdown.is_none() {
            d.set_rate(now, 0.0);
            d.shutdown = Some(reason);
            d.pv_callback = false;
        }
        Ok(())
    }

    /// A domain as `XEN_SYSCTL_getdomaininfolist` reports it; memory is
    /// rounded down to whole pages.
    pub fn dominfo(&self, d: &Domain, now: Instant) -> DomInfo {
        let pages = |kb: u64| kb / PAGE_KB * PAGE_KB;
        DomInfo {
            domid: d.domid,
            uuid: d.uuid,
            ssidref: 0,
            // Dom0 is the one running `xl`; idle guests sit blocked.
            running: d.domid == 0 || (d.running() && d.rate >= 0.5),
            // Xen reports an idle guest's vCPUs blocked, paused or not.
            blocked: d.domid != 0
                && d.started
                && d.shutdown.is_none()
                && !d.dying
                && !(d.running() && d.rate >= 0.5),
            paused: d.paused,
            shutdown: d.shutdown.is_some(),
            dying: d.dying,
            shutdown_reason: d.shutdown.unwrap_or(0),
            outstanding_memkb: 0,
            current_memkb: pages(d.memkb),
            shared_memkb: 0,
            paged_memkb: 0,
            max_memkb: d.max_memkb,
            cpu_time_ns: d.cpu_time_ns(now),
            vcpu_max_id: d.max_vcpus.saturating_sub(1),
            vcpu_online: if d.built { d.online_vcpus } else { 0 },
            cpupool: d.cpupool,
            hvm: d.kind != GuestKind::Pv,
        }
    }

    /// Every domain as `XEN_SYSCTL_getdomaininfolist` reports it.
    pub fn list(&self) -> Vec<DomInfo> {
        let now = Instant::now();
        self.domains
            .values()
            .map(|d| self.dominfo(d, now))
            .collect()
    }

    /// A domain's vCPUs with their state, CPU time and affinity; empty until
    /// it is built.
    pub fn vcpus(&self, domid: u32) -> Result<Vec<VcpuInfo>, HostError> {
        let d = self.get(domid)?;
        let now = Instant::now();
        if !d.built {
            return Ok(Vec::new());
        }
        let cpus = self.spec.cpus;
        let all: Vec<u8> = (0..cpus.div_ceil(8))
            .map(|i| {
                let left = cpus - i * 8;
                if left >= 8 { 0xff } else { (1u8 << left) - 1 }
            })
            .collect();
        let total = d.cpu_time_ns(now);
        Ok((0..d.max_vcpus)
            .map(|v| {
                let online = v < d.online_vcpus;
                let (hard, soft) = d.affinity.get(v as usize).cloned().unwrap_or_default();
                VcpuInfo {
                    vcpuid: v,
                    cpu: (domid + v) % cpus,
                    online,
                    blocked: online && d.domid != 0 && d.running() && d.rate < 0.5,
                    running: online && (d.domid == 0 || (d.running() && d.rate >= 0.5)),
                    time_ns: if online {
                        total / u64::from(d.online_vcpus.max(1))
                    } else {
                        0
                    },
                    hard: hard.unwrap_or_else(|| all.clone()),
                    soft: soft.unwrap_or_else(|| all.clone()),
                }
            })
            .collect())
    }

    /// What `XEN_SYSCTL_physinfo` reports: one socket, one thread per core.
    pub fn physinfo(&self) -> PhysInfo {
        let s = &self.spec;
        PhysInfo {
            threads_per_core: 1,
            cores_per_socket: s.cpus,
            nr_cpus: s.cpus,
            max_cpu_id: s.cpus - 1,
            nr_nodes: 1,
            max_node_id: 0,
            cpu_khz: 2_400_000,
            hw_cap: [
                0x178b_fbff,
                0xf6d8_3203,
                0x2c10_0800,
                0x0000_07ff,
                0,
                0,
                0,
                0,
            ],
            virt_caps: [
                "pv",
                "hvm",
                "hvm_directio",
                "pv_directio",
                "hap",
                "shadow",
                "gnttab-v1",
                "gnttab-v2",
            ]
            .map(String::from)
            .to_vec(),
            total_pages: self.total_kb() / PAGE_KB,
            free_pages: self.free_kb() / PAGE_KB,
            scrub_pages: 0,
            outstanding_pages: 0,
            sharing_freed_pages: 0,
            sharing_used_frames: 0,
        }
    }

    /// What `XENVER_*` report: Xen 4.17.0 with the simulator's build details.
    pub fn version_info(&self) -> VersionInfo {
        VersionInfo {
            major: 4,
            minor: 17,
            extra: ".0".into(),
            compiler: "rustc (xl simulator)".into(),
            compile_by: "xl-sim".into(),
            compile_domain: "localdomain".into(),
            compile_date: "Mon Nov 23 00:00:00 UTC 2026".into(),
            capabilities: "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64".into(),
            changeset: "simulated".into(),
            virt_start: 0xffff_8000_0000_0000,
            pagesize: 4096,
            commandline: format!("dom0_mem={}M (xl simulator)", self.spec.dom0_mb),
            build_id: String::new(),
        }
    }

    /// XEN_SYSCTL_debug_keys: Xen's console says which keys came; the
    /// simulated host has no handlers to run.
    pub fn debug_keys(&mut self, keys: &[u8]) {
        // Xen's console ring only takes what its log level lets through.
        if self.params.console_silent() {
            return;
        }
        for k in keys {
            let line = format!(
                "(XEN) '{}' pressed -> no handler (simulated host)\n",
                k.escape_ascii()
            );
            self.dmesg.extend_from_slice(line.as_bytes());
        }
    }

    /// Every cpupool with the number of domains in it.
    pub fn cpupools(&self) -> Vec<CpupoolInfo> {
        self.pools.info(|id| self.pool_domains(id))
    }

    fn pool_domains(&self, poolid: u32) -> u32 {
        self.domains
            .values()
            .filter(|d| d.cpupool == poolid)
            .count() as u32
    }

    /// XEN_SYSCTL_CPUPOOL_OP_DESTROY: only an empty pool goes.
    pub fn cpupool_destroy(&mut self, poolid: u32) -> Result<(), Errno> {
        let n = self.pool_domains(poolid);
        self.pools.destroy(poolid, n)
    }

    /// XEN_SYSCTL_CPUPOOL_OP_RMCPU: the CPU becomes free; a pool with domains
    /// keeps its last CPU.
    pub fn cpupool_remove_cpu(&mut self, poolid: u32, cpu: u32) -> Result<(), Errno> {
        let n = self.pool_domains(poolid);
        self.pools.remove_cpu(poolid, cpu, n)
    }

    /// XEN_SYSCTL_CPUPOOL_OP_MOVEDOMAIN, issued from dom0: dom0 cannot
    /// move itself.
    pub fn cpupool_move_domain(&mut self, poolid: u32, domid: u32) -> Result<(), Errno> {
        if domid == 0 {
            return Err(Errno::PERM);
        }
        let current = self.domains.get(&domid).ok_or(Errno::SRCH)?.cpupool;
        if current == poolid {
            return Ok(());
        }
        self.pools.can_host(poolid)?;
        if let Some(d) = self.domains.get_mut(&domid) {
            d.cpupool = poolid;
            d.rtds = (0..d.max_vcpus).map(RtdsVcpu::default_for).collect();
        }
        Ok(())
    }

    /// A domain whose pool runs RTDS; Xen refuses RTDS requests for the
    /// others with EINVAL.
    fn rtds_domain(&self, domid: u32) -> Result<&Domain, Errno> {
        let d = self.domains.get(&domid).ok_or(Errno::SRCH)?;
        match self.pools.get(d.cpupool) {
            Some(p) if p.sched == "rtds" => Ok(d),
            _ => Err(Errno::INVAL),
        }
    }

    /// A domain's default RTDS (period, budget), as Xen answers.
    pub fn rtds_defaults(&self, domid: u32) -> Result<(u32, u32), Errno> {
        self.rtds_domain(domid)?;
        let d = RtdsVcpu::default_for(0);
        Ok((d.period, d.budget))
    }

    /// RTDS parameters of the vCPUs `ids` (EINVAL for one it lacks).
    pub fn rtds_vcpus(&self, domid: u32, ids: &[u32]) -> Result<Vec<RtdsVcpu>, Errno> {
        let d = self.rtds_domain(domid)?;
        ids.iter()
            .map(|&id| d.rtds.get(id as usize).copied().ok_or(Errno::INVAL))
            .collect()
    }

    /// Set vCPUs' RTDS parameters in order, stopping with EINVAL at the
    /// first that Xen's limits refuse (10 µs at least, budget within
    /// the period), as Xen does.
    pub fn set_rtds_vcpus(&mut self, domid: u32, vcpus: &[RtdsVcpu]) -> Result<(), Errno> {
        self.rtds_domain(domid)?;
        let d = self.domains.get_mut(&domid).ok_or(Errno::SRCH)?;
        for v in vcpus {
            let slot = d.rtds.get_mut(v.vcpuid as usize).ok_or(Errno::INVAL)?;
            if v.budget < 10 || v.period < 10 || v.budget > v.period {
                return Err(Errno::INVAL);
            }
            *slot = *v;
        }
        Ok(())
    }

    /// Time the host has been up.
    pub fn uptime(&self) -> Duration {
        self.booted.elapsed()
    }
}

fn boot_log(spec: &HostSpec) -> Vec<u8> {
    let lines = [
        " Xen 4.17.0 (simulated by xl)".to_string(),
        format!("(XEN) Command line: dom0_mem={}M", spec.dom0_mb),
        format!(
            "(XEN) System RAM: {}MB ({}kB)",
            spec.memory_mb,
            spec.memory_mb * 1024
        ),
        format!("(XEN) Brought up {} CPUs", spec.cpus),
        "(XEN) Scheduling granularity: cpu, 1 CPU per sched-resource".into(),
        "(XEN) Initializing Credit2 scheduler".into(),
        "(XEN) HVM: Hardware Assisted Paging (HAP) detected".into(),
        "(XEN) *** LOADING DOMAIN 0 ***".into(),
        format!(
            "(XEN) Dom0 has maximum {} VCPUs; {}MB of memory",
            spec.cpus, spec.dom0_mb
        ),
        "(XEN) Freed 2048kB init memory".into(),
    ];
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(vcpus: u32) -> CreateSpec {
        CreateSpec {
            uuid: [1; 16],
            kind: GuestKind::Pv,
            hap: false,
            max_vcpus: vcpus,
            max_evtchn_port: 1023,
            max_grant_frames: 64,
            max_maptrack_frames: 1024,
            ssidref: 0,
            cpupool: 0,
        }
    }

    #[test]
    fn domids_are_handed_out_like_xen() {
        let mut h = Host::new(HostSpec::default());
        assert_eq!(h.create(&spec(1)), Ok(1));
        assert_eq!(h.create(&spec(1)), Ok(2));
        h.destroy(1).unwrap();
        // Xen does not go back to a freed id until it wraps.
        assert_eq!(h.create(&spec(1)), Ok(3));
        h.rover = DOMID_FIRST_RESERVED - 1;
        assert_eq!(h.create(&spec(1)), Ok(1));
        assert_eq!(h.create(&spec(1)), Ok(4));
    }

    #[test]
    fn memory_is_consumed_and_returned() {
        let mut h = Host::new(HostSpec::default());
        let free = h.free_kb();
        let d = h.create(&spec(2)).unwrap();
        h.populate(d, 512 * 1024, 2).unwrap();
        assert_eq!(h.free_kb(), free - 512 * 1024);
        let too_much = h.free_kb() + 1024;
        let e = h.create(&spec(1)).unwrap();
        assert!(matches!(
            h.populate(e, too_much, 1),
            Err(HostError::OutOfMemory { .. })
        ));
        h.destroy(d).unwrap();
        h.destroy(e).unwrap();
        assert_eq!(h.free_kb(), free);
        assert!(h.destroy(0).is_err());
    }

    #[test]
    fn cpu_time_advances_only_while_busy() {
        let mut d = Domain::new(1, &spec(1), Instant::now());
        let t0 = Instant::now();
        d.set_rate(t0, 1.0);
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(d.cpu_time_ns(t1), 2_000_000_000);
        d.set_rate(t1, 0.0);
        assert_eq!(d.cpu_time_ns(t1 + Duration::from_secs(5)), 2_000_000_000);
    }

    #[test]
    fn states_follow_the_domain() {
        let mut h = Host::new(HostSpec::default());
        let d = h.create(&spec(1)).unwrap();
        h.populate(d, 1024, 1).unwrap();
        let now = Instant::now();
        let info = h.dominfo(h.get(d).unwrap(), now);
        assert!(info.paused && !info.running && !info.blocked);
        h.get_mut(d).unwrap().paused = false;
        h.get_mut(d).unwrap().set_rate(now, 1.0);
        assert!(h.dominfo(h.get(d).unwrap(), now).running);
        h.shutdown(d, SHUTDOWN_CRASH).unwrap();
        let info = h.dominfo(h.get(d).unwrap(), now);
        assert!(info.shutdown && info.shutdown_reason == SHUTDOWN_CRASH && !info.running);
    }
}
