//! The simulated hypercall interface: one JSON request per line on
//! `hypervisor.sock`, one JSON reply per line back.

use serde::{Deserialize, Serialize};
use xl_toolstack::{BuildSpec, CreateSpec, DmSpec, Trigger};

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
    CreateDomain(CreateSpec),
    Build {
        domid: u32,
        spec: BuildSpec,
    },
    SpawnDeviceModel(DmSpec),
    KillDeviceModel(u32),
    /// Stop the simulated host (tests, `XL_SIM_DIR` cleanup).
    Quit,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Reply {
    Ok(serde_json::Value),
    Err(String),
}
