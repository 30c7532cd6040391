//! The simulated hypercall interface: one JSON request per line on
//! `hypervisor.sock`, one JSON reply per line back.

use serde::{Deserialize, Serialize};
use xl_toolstack::{BuildSpec, CreateSpec, DmSpec, GuestKind, SchedParams, Trigger};

use crate::guest::Guest;

/// A suspended guest as a save carries it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedGuest {
    pub kind: GuestKind,
    pub memkb: u64,
    pub online_vcpus: u32,
    pub guest: Guest,
}

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
    FreeCpus,
    CpupoolCreate(String),
    CpupoolDestroy(u32),
    CpupoolAddCpu {
        poolid: u32,
        cpu: u32,
    },
    CpupoolRemoveCpu {
        poolid: u32,
        cpu: u32,
    },
    CpupoolMoveDomain {
        poolid: u32,
        domid: u32,
    },
    DebugKeys(Vec<u8>),
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
    /// dom0-side I/O counters of these domains' vifs and disks.
    IoStats(Vec<u32>),
    /// A suspended domain's guest, for a save.
    SaveGuest(u32),
    /// Load a saved guest into a new, empty domain (instead of Build).
    RestoreGuest {
        domid: u32,
        spec: BuildSpec,
        saved: Box<SavedGuest>,
    },
    /// Cancel a domain's suspend: it runs on where it stopped.
    Resume(u32),
    /// Stop the simulated host (tests, `XL_SIM_DIR` cleanup).
    Quit,
}

/// A reply line: `ok <value as JSON>` or `err <message as a JSON string>`.
/// Values go straight between their types and text (a listing of 10 000
/// domains is one reply; a JSON tree in between costs more than the rest).
pub fn reply_line(reply: &Result<String, String>) -> String {
    match reply {
        Ok(json) => format!("ok {json}\n"),
        Err(msg) => format!(
            "err {}\n",
            serde_json::to_string(msg).unwrap_or_else(|_| "\"?\"".into())
        ),
    }
}

pub fn parse_reply<T: serde::de::DeserializeOwned>(line: &str) -> Result<T, String> {
    let line = line.trim_end_matches('\n');
    if let Some(json) = line.strip_prefix("ok ") {
        serde_json::from_str(json).map_err(|e| format!("bad reply: {e}"))
    } else if let Some(msg) = line.strip_prefix("err ") {
        Err(serde_json::from_str::<String>(msg).unwrap_or_else(|_| msg.to_string()))
    } else {
        Err("bad reply from the simulated host".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip() {
        let line = reply_line(&Ok(serde_json::to_string(&vec![1u32, 2]).unwrap()));
        assert_eq!(parse_reply::<Vec<u32>>(&line), Ok(vec![1, 2]));
        let line = reply_line(&Err("no \"such\" domain".into()));
        assert_eq!(parse_reply::<u32>(&line), Err("no \"such\" domain".into()));
        assert!(parse_reply::<u32>("garbage").is_err());
    }
}
