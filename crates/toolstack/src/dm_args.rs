//! The device model's (qemu-xen) command line, as libxl_dm.c builds it.

use xl_config::domain::DomainConfig;

use crate::create::{MemoryPlan, VcpuPlan, disk_is_qdisk};
use crate::{DmSpec, GuestKind, HostPaths};

/// The device model invocation (the parts of libxl_dm.c's argv that
/// matter for a plain HVM guest).
/// Which QEMU machine a domain's device model is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DmMachine {
    /// Backends only (qdisk disks, vfb, ...) for a PV or PVH guest.
    Xenpv,
    /// The emulated PC of an HVM guest.
    Xenfv {
        serial: Option<String>,
        boot: Option<String>,
        vcpus: VcpuPlan,
    },
}

/// What the device model is started with, apart from the domid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmPlan {
    pub name: String,
    pub binary: String,
    pub machine: DmMachine,
    pub memory_mb: u64,
    /// Disk images QEMU opens.
    pub disks: Vec<String>,
}

/// libxl's rule: HVM guests always get a device model; PV and PVH guests
/// only when a device needs one (here: a qdisk disk).
pub(crate) fn dm_plan(
    cfg: &DomainConfig,
    paths: &HostPaths,
    kind: GuestKind,
    vcpus: VcpuPlan,
    m: MemoryPlan,
) -> Option<DmPlan> {
    let b = &cfg.b_info;
    let machine = match kind {
        GuestKind::Hvm => {
            let h = b.hvm();
            DmMachine::Xenfv {
                serial: h.and_then(|h| h.serial.clone()),
                boot: h.and_then(|h| h.boot.clone()),
                vcpus,
            }
        }
        _ if cfg.disks.iter().any(disk_is_qdisk) => DmMachine::Xenpv,
        _ => return None,
    };
    Some(DmPlan {
        name: cfg.c_info.name.clone(),
        binary: b
            .device_model
            .clone()
            .unwrap_or_else(|| paths.qemu_xen.display().to_string()),
        machine,
        memory_mb: m.max_kb.saturating_sub(m.video_kb) / 1024,
        disks: cfg
            .disks
            .iter()
            .filter(|d| kind == GuestKind::Hvm || disk_is_qdisk(d))
            .filter_map(|d| d.pdev_path.clone())
            .filter(|p| !p.is_empty())
            .collect(),
    })
}

impl DmPlan {
    /// libxl_dm.c's argv for domain `domid`, as far as the plan's keys go;
    /// QMP sockets live in `run`.
    pub fn spec(&self, domid: u32, run: &std::path::Path) -> DmSpec {
        let run = run.display();
        let mut args: Vec<String> = vec![
            "-xen-domid".to_string(),
            domid.to_string(),
            "-no-shutdown".into(),
            "-chardev".into(),
            format!("socket,id=libxl-cmd,path={run}/qmp-libxl-{domid},server=on,wait=off"),
            "-mon".into(),
            "chardev=libxl-cmd,mode=control".into(),
            "-chardev".into(),
            format!(
                "socket,id=libxenstat-cmd,path={run}/qmp-libxenstat-{domid},server=on,wait=off"
            ),
            "-mon".into(),
            "chardev=libxenstat-cmd,mode=control".into(),
            "-nodefaults".into(),
            "-no-user-config".into(),
        ];
        if self.machine == DmMachine::Xenpv {
            args.push("-xen-attach".into());
        }
        args.extend([
            "-name".into(),
            self.name.clone(),
            "-vnc".into(),
            "none".into(),
            "-display".into(),
            "none".into(),
        ]);
        let mut serial_pty = false;
        match &self.machine {
            DmMachine::Xenpv => {
                args.extend(["-nographic".into(), "-machine".into(), "xenpv".into()]);
            }
            DmMachine::Xenfv {
                serial,
                boot,
                vcpus,
            } => {
                if let Some(s) = serial {
                    args.extend(["-serial".into(), s.clone()]);
                    serial_pty = s == "pty";
                }
                if let Some(boot) = boot {
                    args.extend(["-boot".into(), format!("order={boot}")]);
                }
                args.extend([
                    "-smp".into(),
                    format!("{},maxcpus={}", vcpus.online, vcpus.max),
                    "-machine".into(),
                    "xenfv,suppress-vmdesc=on".into(),
                ]);
            }
        }
        args.extend(["-m".into(), self.memory_mb.to_string()]);
        DmSpec {
            domid,
            name: self.name.clone(),
            binary: self.binary.clone(),
            args,
            disks: self.disks.clone(),
            serial_pty,
        }
    }
}
#[cfg(test)]
mod tests;
