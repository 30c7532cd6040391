//! A hypervisor for unit tests: a fixed set of domains; operations the
//! tests do not need fail.

use std::cell::RefCell;
use std::collections::HashMap;

use xenstore::Xs;

use crate::{
    BuildSpec, Built, CpuTopology, CpupoolInfo, CreateSpec, DmSpec, DomInfo, Error, HostPaths,
    HotplugDevice, Hypervisor, NumaNode, PciAddr, PhysInfo, SchedParams, Trigger, VcpuInfo,
    VersionInfo,
};

pub struct FakeHv {
    pub doms: RefCell<Vec<DomInfo>>,
    pub paths: HostPaths,
    /// Cpupools and per-domain scheduler parameters (none: the calls fail).
    pub pools: Vec<CpupoolInfo>,
    pub sched: HashMap<u32, SchedParams>,
    /// What each domain's device model reports as its CPUs.
    pub dm_cpus: HashMap<u32, Vec<u32>>,
}

impl Default for FakeHv {
    fn default() -> Self {
        FakeHv {
            doms: RefCell::default(),
            paths: HostPaths::under(&std::env::temp_dir().join("xl-fake-host")),
            pools: Vec::new(),
            sched: HashMap::new(),
            dm_cpus: HashMap::new(),
        }
    }
}

impl FakeHv {
    pub fn with(domids: &[(u32, u8)]) -> FakeHv {
        FakeHv {
            doms: RefCell::new(
                domids
                    .iter()
                    .map(|(d, u)| DomInfo {
                        domid: *d,
                        uuid: [*u; 16],
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..FakeHv::default()
        }
    }
}

fn nope<T>() -> Result<T, Error> {
    Err(Error::Invalid("not in the fake".into()))
}

impl Hypervisor for FakeHv {
    fn version(&self) -> (u32, u32) {
        (4, 17)
    }
    fn paths(&self) -> &HostPaths {
        &self.paths
    }
    fn xenstore(&self) -> Result<Xs, Error> {
        nope()
    }
    fn create_domain(&self, _: &CreateSpec) -> Result<u32, Error> {
        nope()
    }
    fn build(&self, _: u32, _: &BuildSpec) -> Result<Built, Error> {
        nope()
    }
    fn hotplug(&self, _: &Xs, _: &HotplugDevice, _: bool) -> Result<(), Error> {
        nope()
    }
    fn spawn_device_model(&self, _: &Xs, _: &DmSpec) -> Result<u32, Error> {
        nope()
    }
    fn resume_device_model(&self, _: u32, _: &[u8; 16]) -> Result<(), Error> {
        nope()
    }
    fn kill_device_model(&self, _: &Xs, _: u32) -> Result<(), Error> {
        nope()
    }
    fn domains(&self) -> Result<Vec<DomInfo>, Error> {
        Ok(self.doms.borrow().clone())
    }
    fn physinfo(&self) -> Result<PhysInfo, Error> {
        nope()
    }
    fn pause(&self, _: u32) -> Result<(), Error> {
        nope()
    }
    fn unpause(&self, _: u32) -> Result<(), Error> {
        nope()
    }
    fn destroy(&self, _: u32, _: std::time::Duration) -> Result<(), Error> {
        nope()
    }
    fn dmesg(&self, _: bool) -> Result<Vec<u8>, Error> {
        nope()
    }
    fn version_info(&self) -> Result<VersionInfo, Error> {
        nope()
    }
    fn scheduler(&self) -> Result<String, Error> {
        nope()
    }
    fn free_cpus(&self) -> Result<u32, Error> {
        nope()
    }
    fn has_pv_callback(&self, _: u32) -> Result<bool, Error> {
        nope()
    }
    fn vcpus(&self, _: u32) -> Result<Vec<VcpuInfo>, Error> {
        nope()
    }
    fn set_max_mem(&self, _: u32, _: u64) -> Result<(), Error> {
        nope()
    }
    fn set_pod_target(&self, _: u32, _: u64) -> Result<(), Error> {
        nope()
    }
    fn send_trigger(&self, _: u32, _: Trigger, _: u32) -> Result<(), Error> {
        nope()
    }
    fn node_affinity(&self, _: u32) -> Result<Vec<u8>, Error> {
        nope()
    }
    fn cpu_topology(&self) -> Result<Vec<CpuTopology>, Error> {
        nope()
    }
    fn numa_nodes(&self) -> Result<Vec<NumaNode>, Error> {
        nope()
    }
    fn pci_nodes(&self, _: &[PciAddr]) -> Result<Vec<Option<u32>>, Error> {
        nope()
    }
    fn set_vcpu_affinity(
        &self,
        _: u32,
        _: u32,
        _: Option<&[u8]>,
        _: Option<&[u8]>,
        _: bool,
    ) -> Result<(), Error> {
        nope()
    }
    fn cpupools(&self) -> Result<Vec<CpupoolInfo>, Error> {
        if self.pools.is_empty() {
            return nope();
        }
        Ok(self.pools.clone())
    }
    fn domain_sched(&self, domid: u32, sched: &str) -> Result<SchedParams, Error> {
        let pool = self.domain(domid)?.map(|d| d.cpupool);
        match self.pools.iter().find(|p| Some(p.poolid) == pool) {
            Some(p) if p.sched == sched => self
                .sched
                .get(&domid)
                .copied()
                .ok_or(Error::NoSuchDomain(domid)),
            _ => nope(),
        }
    }
    fn set_domain_sched(&self, _: u32, _: &str, _: SchedParams) -> Result<(), Error> {
        nope()
    }
    fn pool_sched(&self, _: u32, _: &str) -> Result<[u32; 3], Error> {
        nope()
    }
    fn set_pool_sched(&self, _: u32, _: &str, _: [u32; 3]) -> Result<(), Error> {
        nope()
    }
    fn device_model_cpus(&self, domid: u32, _: &[u8; 16]) -> Result<Vec<u32>, Error> {
        self.dm_cpus.get(&domid).cloned().map_or_else(nope, Ok)
    }
    fn io_stats(&self, _: &Xs, _: &[u32]) -> Result<crate::stats::IoStats, Error> {
        Ok(Default::default())
    }
}
