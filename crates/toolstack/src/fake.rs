//! A host for unit tests: a fixed set of domains; operations the tests do
//! not need fail.

use std::cell::RefCell;
use std::collections::HashMap;

use xenstore::Xs;

use crate::{
    BuildSpec, Built, CpupoolInfo, CreateSpec, Dom0, DomInfo, Error, Host, HostPaths,
    HotplugDevice, Hypervisor, PhysInfo, SchedParams, Xenstored,
};

#[derive(Clone, Default)]
pub struct FakeHv {
    pub doms: RefCell<Vec<DomInfo>>,
    /// Cpupools and per-domain scheduler parameters (none: the calls fail).
    pub pools: Vec<CpupoolInfo>,
    pub sched: HashMap<u32, SchedParams>,
    /// xen_caps (none: the call fails).
    pub caps: Option<String>,
    /// The domid createdomain hands out (none: the call fails).
    pub create_as: Option<u32>,
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

#[derive(Clone, Default)]
pub struct FakeDom0 {
    /// What each domain's device model reports as its CPUs.
    pub dm_cpus: HashMap<u32, Vec<u32>>,
}

/// A host of these parts, with its files in `paths`.
pub fn host(hv: FakeHv, dom0: FakeDom0, paths: HostPaths) -> Host {
    Host {
        hv: Box::new(hv),
        dom0: Box::new(dom0),
        xenstored: Xenstored::Socket(paths.run.join("xenstored.sock")),
        paths,
    }
}

fn nope<T>() -> Result<T, Error> {
    Err(Error::Unsupported("this operation of the test fake"))
}

impl Hypervisor for FakeHv {
    fn domains(&self) -> Result<Vec<DomInfo>, Error> {
        Ok(self.doms.borrow().clone())
    }
    fn physinfo(&self) -> Result<PhysInfo, Error> {
        nope()
    }
    fn create_domain(&self, spec: &CreateSpec) -> Result<u32, Error> {
        let domid = self.create_as.map_or_else(nope, Ok)?;
        self.doms.borrow_mut().push(DomInfo {
            domid,
            uuid: spec.uuid,
            ..Default::default()
        });
        Ok(domid)
    }
    fn capabilities(&self) -> Result<String, Error> {
        self.caps.clone().map_or_else(nope, Ok)
    }
    fn build(&self, _: u32, _: &BuildSpec) -> Result<Built, Error> {
        nope()
    }
    fn pause(&self, _: u32) -> Result<(), Error> {
        nope()
    }
    fn unpause(&self, _: u32) -> Result<(), Error> {
        nope()
    }
    fn destroy(&self, domid: u32, _: std::time::Duration) -> Result<(), Error> {
        let mut doms = self.doms.borrow_mut();
        let i = doms
            .iter()
            .position(|d| d.domid == domid)
            .ok_or(Error::NoSuchDomain(domid))?;
        doms.remove(i);
        Ok(())
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
}

impl Dom0 for FakeDom0 {
    fn hotplug(&self, _: &Xs, _: &HotplugDevice, _: bool) -> Result<(), Error> {
        nope()
    }
    fn device_model_cpus(&self, domid: u32, _: &[u8; 16]) -> Result<Vec<u32>, Error> {
        self.dm_cpus.get(&domid).cloned().map_or_else(nope, Ok)
    }
}

/// A config as xl reads it on a 2-CPU host with Debian's Xen 4.17 layout.
pub fn config(text: &str) -> xl_config::domain::DomainConfig {
    let host = xl_config::Host {
        max_cpus: 2,
        node_cpus: vec![vec![0, 1]],
        firmware_dir: "/usr/lib/xen-4.17/boot".into(),
    };
    let mut report = xl_config::Report::new();
    xl_config::parse_config_data(
        "cfg",
        text,
        &xl_config::Globals::default(),
        &host,
        &mut report,
    )
    .unwrap()
}

/// One of the lab's guest configs (lab/guest/NAME.cfg), read as [`config`] does.
pub fn lab_config(name: &str) -> xl_config::domain::DomainConfig {
    let path = format!("{}/../../lab/guest/{name}.cfg", env!("CARGO_MANIFEST_DIR"));
    config(&std::fs::read_to_string(path).unwrap())
}
