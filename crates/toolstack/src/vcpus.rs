//! Bringing a guest's vCPUs online and offline (`xl vcpu-set`), as libxl
//! does for PV and PVH guests: the guest kernel watches
//! `cpu/<n>/availability` and follows it.

use xenstore::{Xs, XsOps};

use crate::{DomInfo, GuestKind};

#[derive(Debug, thiserror::Error)]
pub enum VcpuError {
    #[error("Requested 0 VCPUs!")]
    Zero,
    #[error("Requested {0} VCPUs, however maxcpus is {1}!")]
    TooMany(u32, u32),
    #[error(
        "changing the vCPUs of an HVM guest needs device-model (QMP) CPU hotplug, which is not implemented yet"
    )]
    Hvm,
    #[error(transparent)]
    Xenstore(#[from] xenstore::Error),
}

impl VcpuError {
    /// libxl's rc as xl prints it.
    pub fn rc(&self) -> i32 {
        -3
    }
}

/// The availability value of each vCPU 0..=max_id when `count` are wanted.
pub fn availability(max_id: u32, count: u32) -> Vec<(u32, &'static str)> {
    (0..=max_id)
        .map(|i| (i, if i < count { "online" } else { "offline" }))
        .collect()
}

/// Ask `info`'s guest to run `count` vCPUs.
pub fn set_online(xs: &Xs, kind: GuestKind, info: &DomInfo, count: u32) -> Result<(), VcpuError> {
    if count == 0 {
        return Err(VcpuError::Zero);
    }
    if count > info.vcpu_max_id.wrapping_add(1) {
        return Err(VcpuError::TooMany(count, info.vcpu_max_id.wrapping_add(1)));
    }
    if kind == GuestKind::Hvm {
        return Err(VcpuError::Hvm);
    }
    let base = format!("/local/domain/{}/cpu", info.domid);
    xs.transaction(|t| -> Result<(), VcpuError> {
        for (i, v) in availability(info.vcpu_max_id, count) {
            t.write(&format!("{base}/{i}/availability"), v)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use xenstore::Daemon;

    #[test]
    fn online_then_offline() {
        let d = Daemon::new();
        let xs = Xs::new(d.connect_as(0).unwrap()).unwrap();
        let info = DomInfo {
            domid: 3,
            vcpu_max_id: 2,
            ..Default::default()
        };
        set_online(&xs, GuestKind::Pv, &info, 2).unwrap();
        let av = |i| {
            xs.read(&format!("/local/domain/3/cpu/{i}/availability"))
                .unwrap()
        };
        assert_eq!(
            (av(0), av(1), av(2)),
            ("online".into(), "online".into(), "offline".into())
        );
        assert!(matches!(
            set_online(&xs, GuestKind::Pv, &info, 0),
            Err(VcpuError::Zero)
        ));
        assert!(matches!(
            set_online(&xs, GuestKind::Pvh, &info, 4),
            Err(VcpuError::TooMany(4, 3))
        ));
        assert!(matches!(
            set_online(&xs, GuestKind::Hvm, &info, 1),
            Err(VcpuError::Hvm)
        ));
        assert_eq!(av(2), "offline");
    }
}
