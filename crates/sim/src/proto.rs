//! The simulated hypercall interface: one JSON request per line on
//! `hypervisor.sock`, one JSON reply per line back.

use serde::{Deserialize, Serialize};
use xl_toolstack::{BuildSpec, CreateSpec, DmSpec, SchedParams, Trigger};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    Domains,
    Physinfo,
    VersionInfo,
    Dmesg {
        clear: bool,
    },
    Pause(u32),
    Unpause(u32),
    Destroy(u32),
    Vcpus(u32),
    SetMaxMem {
        domid: u32,
        kb: u64,
    },
    SetPodTarget {
        domid: u32,
        pages: u64,
    },
    SendTrigger {
        domid: u32,
        trigger: Trigger,
        vcpu: u32,
    },
    HasPvCallback(u32),
    SetVcpuAffinity {
        domid: u32,
        vcpu: u32,
        hard: Option<Vec<u8>>,
        soft: Option<Vec<u8>>,
    },
    Cpupools,
    DomainSched(u32),
    SetDomainSched {
        domid: u32,
        params: SchedParams,
    },
    SetPoolSched([u32; 3]),
    PoolSched,
    CreateDomain(CreateSpec),
    Build {
        domid: u32,
        spec: BuildSpec,
    },
    SpawnDeviceModel(DmSpec),
    ResumeDeviceModel(u32),
    /// The vCPU indices the device model reports (QMP query-cpus-fast).
    DeviceModelCpus(u32),
    KillDeviceModel(u32),
    /// Stop the simulated host (tests, `XL_SIM_DIR` cleanup).
    Quit,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Reply {
    Ok(serde_json::Value),
    Err(String),
}
