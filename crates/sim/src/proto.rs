//! The simulated hypercall interface: one JSON request per line on
//! `hypervisor.sock`, one JSON reply per line back.

use rustix::io::Errno;
use serde::{Deserialize, Serialize};
use xl_toolstack::{BuildSpec, CreateSpec, DmSpec, GuestKind, RtdsVcpu, SchedParams, Trigger};

use crate::guest::Guest;

/// A suspended guest as a save carries it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedGuest {
    /// Guest type (PV, PVH or HVM).
    pub kind: GuestKind,
    /// Memory the domain had, in KiB.
    pub memkb: u64,
    /// Number of vCPUs online when it was suspended.
    pub online_vcpus: u32,
    /// The guest's own state: boot stage, console, devices.
    pub guest: Guest,
}

/// A request from a client (`xl`) to the host process, one per line on
/// `hypervisor.sock`; each stands for a hypercall or a dom0 service.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    /// Every domain's info (`XEN_SYSCTL_getdomaininfolist`).
    Domains,
    /// Host physical info (`XEN_SYSCTL_physinfo`).
    Physinfo,
    /// Xen version, capabilities and build details (`XENVER_*`).
    VersionInfo,
    /// The hypervisor console ring (`XEN_SYSCTL_readconsole`), as text.
    Dmesg {
        /// Empty the ring after reading it.
        clear: bool,
    },
    /// Pause a domain; dom0 is never paused.
    Pause(u32),
    /// Unpause a built, not shut down domain.
    Unpause(u32),
    /// Destroy a domain (not dom0) with its simulated guest and consoles.
    Destroy(u32),
    /// A domain's vCPUs with state, time and affinity.
    Vcpus(u32),
    /// Set a domain's memory limit (`XEN_DOMCTL_max_mem`).
    SetMaxMem {
        /// Target domain.
        domid: u32,
        /// New limit, in KiB.
        kb: u64,
    },
    /// Set a domain's populate-on-demand target.
    SetPodTarget {
        /// Target domain.
        domid: u32,
        /// Target, in pages.
        pages: u64,
    },
    /// Send a virtual trigger (power button, sleep, NMI, ...).
    SendTrigger {
        /// Target domain.
        domid: u32,
        /// What to send.
        trigger: Trigger,
        /// vCPU the trigger is aimed at (ignored by the simulator).
        vcpu: u32,
    },
    /// Whether an HVM guest has registered its PV event callback.
    HasPvCallback(u32),
    /// Set one vCPU's hard and/or soft affinity.
    SetVcpuAffinity {
        /// Target domain.
        domid: u32,
        /// vCPU index.
        vcpu: u32,
        /// New hard affinity as a CPU bitmap; None leaves it as it is.
        hard: Option<Vec<u8>>,
        /// New soft affinity as a CPU bitmap; None leaves it as it is.
        soft: Option<Vec<u8>>,
    },
    /// Every cpupool with its CPUs and domain count.
    Cpupools,
    /// Bitmap of the CPUs in no cpupool.
    FreeCpus,
    /// Create a cpupool with this scheduler; replies with its id.
    CpupoolCreate(String),
    /// Destroy an empty cpupool.
    CpupoolDestroy(u32),
    /// Give a free CPU to a cpupool.
    CpupoolAddCpu {
        /// Target cpupool.
        poolid: u32,
        /// CPU number.
        cpu: u32,
    },
    /// Take a CPU out of a cpupool, back to the free CPUs.
    CpupoolRemoveCpu {
        /// Source cpupool.
        poolid: u32,
        /// CPU number.
        cpu: u32,
    },
    /// Move a domain into a cpupool.
    CpupoolMoveDomain {
        /// Destination cpupool.
        poolid: u32,
        /// Domain to move.
        domid: u32,
    },
    /// Give a PCI device to a domain or the quarantine (`test`: only ask
    /// whether it could be).
    AssignDevice {
        /// The new owner (DOMID_IO: the quarantine).
        domid: u32,
        /// The device, as libxl encodes its address.
        sbdf: u32,
        /// XEN_DOMCTL_test_assign_device rather than the assignment.
        test: bool,
    },
    /// Take a PCI device back from a domain or the quarantine.
    DeassignDevice {
        /// The owner it is taken from.
        domid: u32,
        /// The device, as libxl encodes its address.
        sbdf: u32,
    },
    /// Press Xen debug keys (`xl debug-keys`); each logs a line to the
    /// console ring.
    DebugKeys(Vec<u8>),
    /// A hypfs node's header (`xl set-parameters` reads it first).
    HypfsEntry(String),
    /// Replace a hypfs node's contents.
    HypfsWrite {
        /// The node, e.g. `/params/loglvl`.
        path: String,
        /// Its new contents in the node's type.
        data: Vec<u8>,
    },
    /// A domain's scheduler parameters (weight, cap, ...).
    DomainSched(u32),
    /// Set a domain's scheduler parameters.
    SetDomainSched {
        /// Target domain.
        domid: u32,
        /// New parameters.
        params: SchedParams,
    },
    /// An RTDS domain's default (period, budget).
    RtdsDomain(u32),
    /// RTDS parameters of some of a domain's vCPUs.
    RtdsVcpus {
        /// Target domain.
        domid: u32,
        /// The vCPUs asked about, in order.
        ids: Vec<u32>,
    },
    /// Set RTDS parameters of a domain's vCPUs.
    SetRtdsVcpus {
        /// Target domain.
        domid: u32,
        /// New parameters, each naming its vCPU.
        vcpus: Vec<RtdsVcpu>,
    },
    /// Set pool 0's scheduler-wide parameters (see [`Request::PoolSched`]).
    SetPoolSched([u32; 3]),
    /// Pool 0's scheduler-wide parameters: credit's (tslice_ms,
    /// ratelimit_us, vcpu_migr_delay_us) or credit2's (ratelimit_us, 0, 0).
    PoolSched,
    /// Create an empty, paused domain (`XEN_DOMCTL_createdomain`); replies with
    /// its domid.
    CreateDomain(CreateSpec),
    /// Build a created domain: give it its memory and vCPUs and load its
    /// simulated guest; replies with its xenstore and console ring frames
    /// and event channels.
    Build {
        /// Domain to build.
        domid: u32,
        /// What the domain builder loads.
        spec: BuildSpec,
    },
    /// Start the device model (QEMU) of an HVM domain.
    SpawnDeviceModel(DmSpec),
    /// Let a paused device model run (QMP `cont`) before an HVM domain is
    /// unpaused; fails when the domain has none.
    ResumeDeviceModel(u32),
    /// Wake the guest from ACPI S3 (QMP `system_wakeup`): whether it was
    /// suspended; fails when the domain has no device model.
    WakeupDeviceModel(u32),
    /// The vCPU indices the device model reports (QMP query-cpus-fast).
    DeviceModelCpus(u32),
    /// Plug vCPUs 0..count into a device model (QMP CPU hotplug); the
    /// simulated guest brings them up as its ACPI handler would.
    PlugDeviceModelCpus(u32, u32),
    /// Stop a domain's device model.
    KillDeviceModel(u32),
    /// A QMP command for a domain's device model (the USB devices it
    /// emulates: `device_add`, `device_del`); QEMU's answer.
    Qmp {
        /// Domain whose device model is asked.
        domid: u32,
        /// QMP command name.
        cmd: String,
        /// Its arguments, as a JSON text.
        args: String,
    },
    /// dom0-side I/O counters of these domains' vifs and disks.
    IoStats(Vec<u32>),
    /// A suspended domain's guest, for a save.
    SaveGuest(u32),
    /// A domain's guest as it is (running or not), for a core dump.
    CoreGuest(u32),
    /// Load a saved guest into a new, empty domain (instead of Build).
    RestoreGuest {
        /// Domain created for the restore.
        domid: u32,
        /// What the domain builder would have loaded.
        spec: BuildSpec,
        /// The guest as the save carried it.
        saved: Box<SavedGuest>,
    },
    /// Cancel a domain's suspend: it runs on where it stopped.
    Resume(u32),
    /// Stop the simulated host (tests, `XL_SIM_DIR` cleanup).
    Quit,
}

/// Why the host refused a request: the errno Xen would answer with, or
/// the host's own words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An errno, as a hypercall fails.
    Errno(Errno),
    /// Anything else, in words.
    Message(String),
}

impl From<Errno> for Refusal {
    fn from(e: Errno) -> Self {
        Refusal::Errno(e)
    }
}

impl From<String> for Refusal {
    fn from(m: String) -> Self {
        Refusal::Message(m)
    }
}

impl From<&str> for Refusal {
    fn from(m: &str) -> Self {
        Refusal::Message(m.to_string())
    }
}

/// A reply line: `ok <value as JSON>`, `errno <number>` or `err <message
/// as a JSON string>`. Values go straight between their types and text (a
/// listing of 10 000 domains is one reply; a JSON tree in between costs
/// more than the rest).
pub fn reply_line(reply: &Result<String, Refusal>) -> String {
    match reply {
        Ok(json) => format!("ok {json}\n"),
        Err(Refusal::Errno(e)) => format!("errno {}\n", e.raw_os_error()),
        Err(Refusal::Message(msg)) => format!(
            "err {}\n",
            serde_json::to_string(msg).unwrap_or_else(|_| "\"?\"".into())
        ),
    }
}

/// Decode a [`reply_line`]: the value, or why the host refused.
pub fn parse_reply<T: serde::de::DeserializeOwned>(line: &str) -> Result<T, Refusal> {
    let line = line.trim_end_matches('\n');
    if let Some(json) = line.strip_prefix("ok ") {
        serde_json::from_str(json).map_err(|e| Refusal::Message(format!("bad reply: {e}")))
    } else if let Some(n) = line.strip_prefix("errno ") {
        match n.parse() {
            Ok(n) => Err(Refusal::Errno(Errno::from_raw_os_error(n))),
            Err(_) => Err("bad reply from the simulated host".into()),
        }
    } else if let Some(msg) = line.strip_prefix("err ") {
        Err(Refusal::Message(
            serde_json::from_str::<String>(msg).unwrap_or_else(|_| msg.to_string()),
        ))
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
        let line = reply_line(&Err(Errno::BUSY.into()));
        assert_eq!(parse_reply::<u32>(&line), Err(Refusal::Errno(Errno::BUSY)));
        assert!(parse_reply::<u32>("garbage").is_err());
    }
}
